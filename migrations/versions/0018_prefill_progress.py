"""a pre-fill asked from a list's page: who, when, the household key, its progress and counts
on imported_list

Revision ID: 0018_prefill_progress
Revises: 0017_search_names
Create Date: 2026-12-08 00:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0018_prefill_progress'
down_revision = '0017_search_names'
branch_labels = None
depends_on = None

STATE_CHECK = "prefill_state IS NULL OR prefill_state IN ('queued','running','done','failed')"
PLAIN = (
    ('prefill_key', sa.String(length=20)),
    ('prefill_asked_at', sa.DateTime()),
    ('prefill_progress_at', sa.DateTime()),
    ('prefill_done', sa.Integer()),
    ('prefill_total', sa.Integer()),
    ('prefill_created', sa.Integer()),
    ('prefill_updated', sa.Integer()),
    ('prefill_noticed', sa.Integer()),
    ('prefill_error', sa.Text()),
)
ALL = ('prefill_state', 'prefill_by_id', *(name for name, _type in PLAIN))


def upgrade():
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite adds a column with its own CHECK and REFERENCES, without rebuilding the table
        # (which the foreign keys to imported_list would refuse).
        op.execute("ALTER TABLE imported_list ADD COLUMN prefill_state VARCHAR(10) "
                   f"CONSTRAINT ck_imported_list_prefill_state_known CHECK ({STATE_CHECK})")
        op.execute("ALTER TABLE imported_list ADD COLUMN prefill_by_id INTEGER "
                   "CONSTRAINT fk_imported_list_prefill_by_id_user_account REFERENCES user_account (id)")
        for name, type_ in PLAIN:
            op.add_column('imported_list', sa.Column(name, type_, nullable=True))
    else:
        op.add_column('imported_list', sa.Column('prefill_state', sa.String(length=10), nullable=True))
        op.add_column('imported_list', sa.Column('prefill_by_id', sa.Integer(), nullable=True))
        for name, type_ in PLAIN:
            op.add_column('imported_list', sa.Column(name, type_, nullable=True))
        op.create_foreign_key(op.f('fk_imported_list_prefill_by_id_user_account'), 'imported_list',
                              'user_account', ['prefill_by_id'], ['id'])
        op.create_check_constraint(op.f('ck_imported_list_prefill_state_known'), 'imported_list', STATE_CHECK)


def downgrade():
    if op.get_bind().dialect.name == 'sqlite':
        for column in reversed(ALL):
            op.execute(f"ALTER TABLE imported_list DROP COLUMN {column}")
    else:
        op.drop_constraint(op.f('ck_imported_list_prefill_state_known'), 'imported_list', type_='check')
        op.drop_constraint(op.f('fk_imported_list_prefill_by_id_user_account'), 'imported_list', type_='foreignkey')
        for column in reversed(ALL):
            op.drop_column('imported_list', column)
