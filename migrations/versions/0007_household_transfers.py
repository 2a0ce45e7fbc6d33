"""household transfers to another village: asked by a collector, decided by the receiving leader

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 23:02:05.167416

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('household_transfer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Uuid(), nullable=False),
    sa.Column('from_village_id', sa.Integer(), nullable=False),
    sa.Column('to_unit_id', sa.Integer(), nullable=False),
    sa.Column('to_path', sa.String(length=400).with_variant(sa.String(length=400, collation='C'), 'postgresql'), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('occurred_on', sa.Date(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('requested_at', sa.DateTime(), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('refusal_reason', sa.Text(), nullable=True),
    sa.Column('version_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("state IN ('pending','accepted','refused')", name=op.f('ck_household_transfer_state_known')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['user_account.id'], name=op.f('fk_household_transfer_decided_by_id_user_account')),
    sa.ForeignKeyConstraint(['from_village_id'], ['admin_unit.id'], name=op.f('fk_household_transfer_from_village_id_admin_unit')),
    sa.ForeignKeyConstraint(['household_id'], ['household.id'], name=op.f('fk_household_transfer_household_id_household')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['user_account.id'], name=op.f('fk_household_transfer_requested_by_id_user_account')),
    sa.ForeignKeyConstraint(['to_unit_id'], ['admin_unit.id'], name=op.f('fk_household_transfer_to_unit_id_admin_unit')),
    sa.ForeignKeyConstraint(['version_id'], ['household_version.id'], name=op.f('fk_household_transfer_version_id_household_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_household_transfer'))
    )
    with op.batch_alter_table('household_transfer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_household_transfer_household_id'), ['household_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_household_transfer_to_path'), ['to_path'], unique=False)
        batch_op.create_index('uq_household_transfer_pending', ['household_id'], unique=True, sqlite_where=sa.text("state = 'pending'"), postgresql_where=sa.text("state = 'pending'"))



def downgrade():
    with op.batch_alter_table('household_transfer', schema=None) as batch_op:
        batch_op.drop_index('uq_household_transfer_pending', sqlite_where=sa.text("state = 'pending'"), postgresql_where=sa.text("state = 'pending'"))
        batch_op.drop_index(batch_op.f('ix_household_transfer_to_path'))
        batch_op.drop_index(batch_op.f('ix_household_transfer_household_id'))

    op.drop_table('household_transfer')
