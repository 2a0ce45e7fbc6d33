"""card counter per village: the next card number in one statement that also locks the village's row

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 00:05:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('card_counter',
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('last_no', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['village_id'], ['admin_unit.id'], name=op.f('fk_card_counter_village_id_admin_unit')),
    sa.PrimaryKeyConstraint('village_id', name=op.f('pk_card_counter'))
    )
    # Go on from the numbers given so far (card numbers are 4 digits).
    op.execute("INSERT INTO card_counter (village_id, last_no) "
               "SELECT village_id, MAX(CAST(card_no AS INTEGER)) FROM household GROUP BY village_id")


def downgrade():
    op.drop_table('card_counter')
