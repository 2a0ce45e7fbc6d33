"""an index on list_record (list_id, village_id): the pre-fill reads one village's rows at a time

Revision ID: 0019_list_record_village
Revises: 0018_prefill_progress
Create Date: 2026-12-08 01:30:00.000000
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0019_list_record_village'
down_revision = '0018_prefill_progress'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_list_record_list_id_village_id', 'list_record', ['list_id', 'village_id'])


def downgrade():
    op.drop_index('ix_list_record_list_id_village_id', table_name='list_record')
