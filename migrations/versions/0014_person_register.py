"""person register: every main item as a column of person, the household's card, state and village, a name
normalised for matching; verified_person, the persons of each household's last verified version

Revision ID: 0014_person_register
Revises: 0013
Create Date: 2026-12-07 22:40:00.000000

The new columns are filled from each household's current version (and verified_person from
its last verified version) in batches of households, with app.domain.persons.member_columns,
the function the application writes them with. Only the columns this revision adds are
taken from it, so that a later column of that function does not break this step.
Person has no triggers (the append-only ones guard household_version, signature and
workflow_event, 0011): the batch alter below may recreate it on SQLite.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0014_person_register'
down_revision = '0013'
branch_labels = None
depends_on = None

BATCH = 500  # households per batch of the backfill

PATH = sa.String(length=400).with_variant(sa.String(length=400, collation='C'), 'postgresql')
JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), 'postgresql')


def _item_columns():
    """The item columns (not keys, not the household's place), as this revision makes them."""
    return [
        sa.Column('name_norm', sa.String(length=60), nullable=True),
        sa.Column('ethnicity', sa.String(length=2), nullable=True),
        sa.Column('marital_status', sa.String(length=2), nullable=True),
        sa.Column('education', sa.String(length=2), nullable=True),
        sa.Column('hukou_type', sa.String(length=1), nullable=True),
        sa.Column('hukou_place', sa.String(length=100), nullable=True),
        sa.Column('residence_place', sa.String(length=100), nullable=True),
        sa.Column('management', sa.String(length=12), nullable=True),
        sa.Column('migration_place', sa.String(length=100), nullable=True),
        sa.Column('migration_since', sa.Date(), nullable=True),
        sa.Column('cancellation_reason', sa.String(length=100), nullable=True),
        sa.Column('cancelled_on', sa.Date(), nullable=True),
        sa.Column('marriage_date', sa.Date(), nullable=True),
        sa.Column('spouse_person_id', sa.Uuid(), nullable=True),
        sa.Column('spouse_name', sa.String(length=30), nullable=True),
        sa.Column('spouse_id_number', sa.String(length=18), nullable=True),
        sa.Column('boys', sa.Integer(), nullable=True),
        sa.Column('girls', sa.Integer(), nullable=True),
        sa.Column('youngest_birth_date', sa.Date(), nullable=True),
        sa.Column('youngest_sex', sa.String(length=1), nullable=True),
    ]


NEW_ITEMS = tuple(c.name for c in _item_columns())
# Columns person had before this revision, refilled too (the same function writes them now).
OLD_ITEMS = ('position', 'name', 'name_pinyin', 'name_initials', 'sex', 'birth_date', 'id_number', 'id_tail',
             'relationship_code', 'is_head', 'status')
PLACE = ('unit_path', 'village_id', 'card_no')


def upgrade():
    with op.batch_alter_table('person', schema=None) as batch_op:
        for column in _item_columns():
            batch_op.add_column(column)
        batch_op.add_column(sa.Column('village_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('card_no', sa.String(length=4), nullable=True))
        batch_op.add_column(sa.Column('household_state', sa.String(length=10), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_person_village_id_admin_unit'), 'admin_unit',
                                    ['village_id'], ['id'])

    op.create_table('verified_person',
    sa.Column('household_id', sa.Uuid(), nullable=False),
    sa.Column('person_id', sa.Uuid(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('version_number', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=30), nullable=False),
    sa.Column('name_pinyin', sa.String(length=120), nullable=False),
    sa.Column('name_initials', sa.String(length=30), nullable=False),
    sa.Column('sex', sa.String(length=1), nullable=True),
    sa.Column('birth_date', sa.Date(), nullable=True),
    sa.Column('id_number', sa.String(length=18), nullable=True),
    sa.Column('id_tail', sa.String(length=4), nullable=True),
    sa.Column('relationship_code', sa.String(length=2), nullable=True),
    sa.Column('is_head', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    *[c if c.name != 'name_norm' else sa.Column('name_norm', sa.String(length=60), nullable=False)
      for c in _item_columns()],
    sa.Column('unit_path', PATH, nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('card_no', sa.String(length=4), nullable=False),
    sa.ForeignKeyConstraint(['household_id'], ['household.id'], name=op.f('fk_verified_person_household_id_household')),
    sa.ForeignKeyConstraint(['version_id'], ['household_version.id'], name=op.f('fk_verified_person_version_id_household_version')),
    sa.ForeignKeyConstraint(['village_id'], ['admin_unit.id'], name=op.f('fk_verified_person_village_id_admin_unit')),
    sa.PrimaryKeyConstraint('household_id', 'person_id', name=op.f('pk_verified_person'))
    )

    _backfill(op.get_bind())

    # Filled: now they are required, and indexed for reports and matching.
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.alter_column('name_norm', existing_type=sa.String(length=60), nullable=False)
        batch_op.alter_column('village_id', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('card_no', existing_type=sa.String(length=4), nullable=False)
        batch_op.alter_column('household_state', existing_type=sa.String(length=10), nullable=False)
        batch_op.create_index('ix_person_name_norm_birth_date', ['name_norm', 'birth_date'], unique=False)
        batch_op.create_index('ix_person_birth_date', ['birth_date'], unique=False)
        batch_op.create_index('ix_person_village_id_household_state', ['village_id', 'household_state'],
                              unique=False)
        batch_op.create_index('ix_person_household_state', ['household_state'], unique=False)
    with op.batch_alter_table('verified_person', schema=None) as batch_op:
        batch_op.create_index('ix_verified_person_name_norm_birth_date', ['name_norm', 'birth_date'], unique=False)
        batch_op.create_index('ix_verified_person_id_number', ['id_number'], unique=False)
        batch_op.create_index('ix_verified_person_unit_path', ['unit_path'], unique=False)
        batch_op.create_index('ix_verified_person_village_id', ['village_id'], unique=False)


def downgrade():
    op.drop_table('verified_person')
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_index('ix_person_household_state')
        batch_op.drop_index('ix_person_village_id_household_state')
        batch_op.drop_index('ix_person_birth_date')
        batch_op.drop_index('ix_person_name_norm_birth_date')
        batch_op.drop_constraint(batch_op.f('fk_person_village_id_admin_unit'), type_='foreignkey')
        batch_op.drop_column('household_state')
        batch_op.drop_column('card_no')
        batch_op.drop_column('village_id')
        for name in reversed(NEW_ITEMS):
            batch_op.drop_column(name)


# ------------------------------------------------------------------ the backfill

_household = sa.table('household', sa.column('id', sa.Uuid()), sa.column('village_id', sa.Integer()),
                      sa.column('unit_path', sa.String()), sa.column('card_no', sa.String()),
                      sa.column('state', sa.String()), sa.column('current_version_id', sa.Integer()),
                      sa.column('last_verified_version_id', sa.Integer()))
_version = sa.table('household_version', sa.column('id', sa.Integer()), sa.column('number', sa.Integer()),
                    sa.column('data', JSON))
# Typed, so that dates and UUIDs are bound as each database stores them.
_TYPES = {**{c.name: c.type for c in _item_columns()}, 'position': sa.Integer(), 'name': sa.String(),
          'name_pinyin': sa.String(), 'name_initials': sa.String(), 'sex': sa.String(), 'birth_date': sa.Date(),
          'id_number': sa.String(), 'id_tail': sa.String(), 'relationship_code': sa.String(),
          'is_head': sa.Boolean(), 'status': sa.String(), 'unit_path': sa.String(), 'village_id': sa.Integer(),
          'card_no': sa.String()}
_person = sa.table('person', sa.column('id', sa.Uuid()), sa.column('household_state', sa.String()),
                   *[sa.column(name, _TYPES[name]) for name in OLD_ITEMS + NEW_ITEMS + PLACE])
_verified = sa.table('verified_person', sa.column('household_id', sa.Uuid()), sa.column('person_id', sa.Uuid()),
                     sa.column('version_id', sa.Integer()), sa.column('version_number', sa.Integer()),
                     *[sa.column(name, _TYPES[name]) for name in OLD_ITEMS + NEW_ITEMS + PLACE])


def _backfill(conn):
    """Every person from its household's current version, every verified_person from the
    household's last verified version, BATCH households at a time (in id order)."""
    from app.domain.persons import member_rows  # the application's own mapping (see the docstring)

    items = set(OLD_ITEMS + NEW_ITEMS)
    update_person = _person.update().where(_person.c.id == sa.bindparam('b_id'))  # SET: the rows' keys
    after = None
    while True:
        query = sa.select(_household).order_by(_household.c.id).limit(BATCH)
        if after is not None:
            query = query.where(_household.c.id > after)
        households = conn.execute(query).all()
        if not households:
            return
        after = households[-1].id
        wanted = {h.current_version_id for h in households} | {h.last_verified_version_id for h in households}
        versions = {v.id: v for v in conn.execute(
            sa.select(_version).where(_version.c.id.in_([i for i in wanted if i is not None])))}
        updates, verified = [], []
        for h in households:
            place = {'unit_path': h.unit_path, 'village_id': h.village_id, 'card_no': h.card_no}
            current = versions.get(h.current_version_id)
            for person_id, row in member_rows(current.data if current else {}):
                if person_id is not None:
                    updates.append({'b_id': person_id, **{k: row[k] for k in items}, **place,
                                    'household_state': h.state})
            checked = versions.get(h.last_verified_version_id)
            if checked is not None:
                verified += [{'household_id': h.id, 'person_id': person_id, 'version_id': checked.id,
                              'version_number': checked.number, **{k: row[k] for k in items}, **place}
                             for person_id, row in member_rows(checked.data) if person_id is not None]
        if updates:
            conn.execute(update_person, updates)
        if verified:
            conn.execute(_verified.insert(), verified)
