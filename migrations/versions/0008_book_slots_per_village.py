"""book slots per village and household: a household moved to another village keeps its old slot

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 23:58:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    # Batch mode: SQLite changes a table's constraints by copying the table.
    with op.batch_alter_table('book_slot', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_book_slot_household_id'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_book_slot_village_id_household_id'),
                                          ['village_id', 'household_id'])


def downgrade():
    # Fails while a household has slots in two villages (it moved): those slots cannot be
    # made one without losing a bound book's page.
    with op.batch_alter_table('book_slot', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_book_slot_village_id_household_id'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_book_slot_household_id'), ['household_id'])
