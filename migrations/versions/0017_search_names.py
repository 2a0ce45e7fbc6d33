"""search names by their beginning: person.given_norm (the normalised name without the
surname), and byte-order collation on PostgreSQL for the searched name columns

Revision ID: 0017_search_names
Revises: 0016_prefill
Create Date: 2026-12-07 23:50:00.000000

A county-wide search by name read every household (a LIKE '%name%' per household: 0.8 s at
400k persons, bench/registry.py). Searches are now ranges over indexes of person; on
PostgreSQL a range over text follows the column's collation, so the searched columns take
the byte order ("C") that PathString already uses. given_norm is filled from name_norm in
batches, with app.domain.names.given_name.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0017_search_names'
down_revision = '0016_prefill'
branch_labels = None
depends_on = None

BATCH = 5000
SEARCHED = {'name_norm': 60, 'name_pinyin': 120, 'name_initials': 30}


def _searched(length: int):
    return sa.String(length=length).with_variant(sa.String(length=length, collation='C'), 'postgresql')


def upgrade():
    from app.domain.names import given_name

    postgres = op.get_bind().dialect.name == 'postgresql'
    for table in ('person', 'verified_person'):
        op.add_column(table, sa.Column('given_norm', _searched(60), nullable=True))
        if postgres:
            for column, length in SEARCHED.items():
                op.alter_column(table, column, type_=_searched(length), existing_nullable=False)
    conn = op.get_bind()
    for table, key in (('person', 'id'), ('verified_person', 'person_id')):
        t = sa.table(table, sa.column(key), sa.column('name_norm'), sa.column('given_norm'),
                     *([sa.column('household_id')] if table == 'verified_person' else []))
        keys = [t.c[key]] + ([t.c.household_id] if table == 'verified_person' else [])
        last = None
        while True:
            query = sa.select(*keys, t.c.name_norm).order_by(*keys).limit(BATCH)
            if last is not None:
                query = query.where(sa.tuple_(*keys) > sa.tuple_(*last))
            rows = conn.execute(query).all()
            if not rows:
                break
            update = sa.update(t).values(given_norm=sa.bindparam('g'))
            for i, k in enumerate(keys):
                update = update.where(k == sa.bindparam(f'k{i}'))
            conn.execute(update, [{'g': given_name(r[-1] or ''), **{f'k{i}': r[i] for i in range(len(keys))}}
                                  for r in rows])
            last = tuple(rows[-1][:len(keys)])
    for table in ('person', 'verified_person'):
        with op.batch_alter_table(table) as batch:
            batch.alter_column('given_norm', existing_type=_searched(60), nullable=False)
    op.create_index('ix_person_given_norm', 'person', ['given_norm'])


def downgrade():
    op.drop_index('ix_person_given_norm', table_name='person')
    postgres = op.get_bind().dialect.name == 'postgresql'
    for table in ('person', 'verified_person'):
        with op.batch_alter_table(table) as batch:
            batch.drop_column('given_norm')
        if postgres:
            for column, length in SEARCHED.items():
                op.alter_column(table, column, type_=sa.String(length=length), existing_nullable=False)
