"""lists: department lists and registers imported row by row, their problems, saved mappings

Revision ID: 0015_lists
Revises: 0013 (0013_print_job_attempts; re-pointed at merge)
Create Date: 2026-12-07 22:30:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0015_lists'
down_revision = '0013'
branch_labels = None
depends_on = None

_BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_PATH = sa.String(length=400).with_variant(sa.String(length=400, collation="C"), "postgresql")
_JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")
_ACTIVE = sa.text("state IN ('loading','loaded')")


def upgrade():
    op.create_table('imported_list',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=True),
    sa.Column('file_name', sa.String(length=255), nullable=False),
    sa.Column('file_sha256', sa.String(length=64), nullable=False),
    sa.Column('sheet', sa.String(length=100), nullable=True),
    sa.Column('encoding', sa.String(length=20), nullable=True),
    sa.Column('mapping', _JSON, nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('unit_path', _PATH, nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('rows_read', sa.Integer(), nullable=False),
    sa.Column('rows_loaded', sa.Integer(), nullable=False),
    sa.Column('rows_flagged', sa.Integer(), nullable=False),
    sa.Column('rows_refused', sa.Integer(), nullable=False),
    sa.Column('rows_duplicate', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('progress_at', sa.DateTime(), nullable=True),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('withdrawn_at', sa.DateTime(), nullable=True),
    sa.Column('withdrawn_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("(state = 'withdrawn') = (withdrawn_at IS NOT NULL)", name=op.f('ck_imported_list_withdrawn_when')),
    sa.CheckConstraint("source IN ('police','births','deaths','register','other')", name=op.f('ck_imported_list_source_known')),
    sa.CheckConstraint("state IN ('loading','loaded','failed','withdrawn')", name=op.f('ck_imported_list_state_known')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_imported_list_created_by_id_user_account')),
    sa.ForeignKeyConstraint(['unit_id'], ['admin_unit.id'], name=op.f('fk_imported_list_unit_id_admin_unit')),
    sa.ForeignKeyConstraint(['withdrawn_by_id'], ['user_account.id'], name=op.f('fk_imported_list_withdrawn_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_imported_list'))
    )
    with op.batch_alter_table('imported_list', schema=None) as batch_op:
        batch_op.create_index('ix_imported_list_source_month', ['source', 'month'], unique=False)
        batch_op.create_index(batch_op.f('ix_imported_list_unit_path'), ['unit_path'], unique=False)
        batch_op.create_index('uq_imported_list_active_file', ['source', 'file_sha256'], unique=True, sqlite_where=_ACTIVE, postgresql_where=_ACTIVE)

    op.create_table('list_mapping',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('fields', _JSON, nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("source IN ('police','births','deaths','register','other')", name=op.f('ck_list_mapping_source_known')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['user_account.id'], name=op.f('fk_list_mapping_updated_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_list_mapping')),
    sa.UniqueConstraint('source', 'name', name=op.f('uq_list_mapping_source_name'))
    )
    op.create_table('list_problem',
    sa.Column('id', _BIGINT, nullable=False),
    sa.Column('list_id', sa.Integer(), nullable=False),
    sa.Column('line', sa.Integer(), nullable=False),
    sa.Column('column', sa.String(length=200), nullable=True),
    sa.Column('field', sa.String(length=32), nullable=True),
    sa.Column('value', sa.Text(), nullable=True),
    sa.Column('reason', sa.String(length=40), nullable=False),
    sa.Column('message_zh', sa.Text(), nullable=False),
    sa.Column('message_en', sa.Text(), nullable=False),
    sa.Column('refused', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['list_id'], ['imported_list.id'], name=op.f('fk_list_problem_list_id_imported_list')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_list_problem'))
    )
    with op.batch_alter_table('list_problem', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_list_problem_list_id'), ['list_id'], unique=False)

    op.create_table('list_record',
    sa.Column('id', _BIGINT, nullable=False),
    sa.Column('list_id', sa.Integer(), nullable=False),
    sa.Column('line', sa.Integer(), nullable=False),
    sa.Column('record_id', sa.String(length=64), nullable=True),
    sa.Column('row_hash', sa.String(length=64), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=True),
    sa.Column('unit_path', _PATH, nullable=False),
    sa.Column('name', sa.String(length=100), nullable=True),
    sa.Column('name_norm', sa.String(length=100), nullable=True),
    sa.Column('sex', sa.String(length=1), nullable=True),
    sa.Column('birth_date', sa.Date(), nullable=True),
    sa.Column('id_number', sa.String(length=18), nullable=True),
    sa.Column('household_no', sa.String(length=64), nullable=True),
    sa.Column('card_no', sa.String(length=16), nullable=True),
    sa.Column('relation', sa.String(length=2), nullable=True),
    sa.Column('address', sa.String(length=400), nullable=True),
    sa.Column('death_date', sa.Date(), nullable=True),
    sa.Column('mother_name', sa.String(length=100), nullable=True),
    sa.Column('mother_id_number', sa.String(length=18), nullable=True),
    sa.Column('hospital', sa.String(length=200), nullable=True),
    sa.Column('raw', _JSON, nullable=False),
    sa.Column('extras', _JSON, nullable=False),
    sa.Column('flags', _JSON, nullable=False),
    sa.Column('household_id', sa.Uuid(), nullable=True),
    sa.ForeignKeyConstraint(['household_id'], ['household.id'], name=op.f('fk_list_record_household_id_household')),
    sa.ForeignKeyConstraint(['list_id'], ['imported_list.id'], name=op.f('fk_list_record_list_id_imported_list')),
    sa.ForeignKeyConstraint(['village_id'], ['admin_unit.id'], name=op.f('fk_list_record_village_id_admin_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_list_record')),
    sa.UniqueConstraint('list_id', 'line', name=op.f('uq_list_record_list_id_line'))
    )
    with op.batch_alter_table('list_record', schema=None) as batch_op:
        batch_op.create_index('ix_list_record_id_number', ['id_number'], unique=False)
        batch_op.create_index('ix_list_record_name_norm', ['name_norm'], unique=False)
        batch_op.create_index('ix_list_record_record_id', ['record_id', 'list_id'], unique=False)
        batch_op.create_index('ix_list_record_row_hash', ['row_hash', 'list_id'], unique=False)
        batch_op.create_index('ix_list_record_unit_path', ['unit_path'], unique=False)



def downgrade():
    with op.batch_alter_table('list_record', schema=None) as batch_op:
        batch_op.drop_index('ix_list_record_unit_path')
        batch_op.drop_index('ix_list_record_row_hash')
        batch_op.drop_index('ix_list_record_record_id')
        batch_op.drop_index('ix_list_record_name_norm')
        batch_op.drop_index('ix_list_record_id_number')

    op.drop_table('list_record')
    with op.batch_alter_table('list_problem', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_list_problem_list_id'))

    op.drop_table('list_problem')
    op.drop_table('list_mapping')
    with op.batch_alter_table('imported_list', schema=None) as batch_op:
        batch_op.drop_index('uq_imported_list_active_file', sqlite_where=_ACTIVE, postgresql_where=_ACTIVE)
        batch_op.drop_index(batch_op.f('ix_imported_list_unit_path'))
        batch_op.drop_index('ix_imported_list_source_month')

    op.drop_table('imported_list')
