"""list_record_link: the household a list row was pre-filled into, in narrow rows of its own
instead of list_record.household_id (the list's rows are never rewritten)

Revision ID: 0026_list_record_link
Revises: 0025_person_indexes
Create Date: 2026-12-08 02:10:00.000000
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0026_list_record_link'
down_revision = '0025_person_indexes'
branch_labels = None
depends_on = None

_BIGINT = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table('list_record_link',
    sa.Column('record_id', _BIGINT, nullable=False),
    sa.Column('household_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['household_id'], ['household.id'], name=op.f('fk_list_record_link_household_id_household')),
    sa.ForeignKeyConstraint(['record_id'], ['list_record.id'], name=op.f('fk_list_record_link_record_id_list_record')),
    sa.PrimaryKeyConstraint('record_id', name=op.f('pk_list_record_link'))
    )
    op.execute("INSERT INTO list_record_link (record_id, household_id) "
               "SELECT id, household_id FROM list_record WHERE household_id IS NOT NULL")
    with op.batch_alter_table('list_record', schema=None) as batch_op:
        batch_op.drop_constraint('fk_list_record_household_id_household', type_='foreignkey')
        batch_op.drop_column('household_id')


def downgrade():
    with op.batch_alter_table('list_record', schema=None) as batch_op:
        batch_op.add_column(sa.Column('household_id', sa.Uuid(), nullable=True))
        batch_op.create_foreign_key('fk_list_record_household_id_household', 'household', ['household_id'], ['id'])
    op.execute("UPDATE list_record SET household_id = (SELECT household_id FROM list_record_link "
               "WHERE list_record_link.record_id = list_record.id)")
    op.drop_table('list_record_link')
