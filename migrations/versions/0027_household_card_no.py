"""an index on household.card_no: a search by card number over a township or county

Revision ID: 0027_household_card_no
Revises: 0026_list_record_link
Create Date: 2026-12-08 02:35:00.000000
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0027_household_card_no'
down_revision = '0026_list_record_link'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_household_card_no', 'household', ['card_no'])


def downgrade():
    op.drop_index('ix_household_card_no', table_name='household')
