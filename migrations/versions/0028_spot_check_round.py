"""one village sample (spot check) a village and round: a partial unique index

Revision ID: 0028_spot_check_round
Revises: 0027_household_card_no
Create Date: 2026-12-08 02:50:00.000000
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0028_spot_check_round'
down_revision = '0027_household_card_no'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('uq_spot_check_village_round', 'spot_check', ['village_id', 'round'], unique=True,
                    sqlite_where=sa.text("kind = 'village'"), postgresql_where=sa.text("kind = 'village'"))


def downgrade():
    op.drop_index('uq_spot_check_village_round', table_name='spot_check')
