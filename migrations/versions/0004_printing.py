"""book slots (fixed at first printing) and print jobs (the task queue's work)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 21:53:40.685953

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('book_slot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Uuid(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('book_no', sa.Integer(), nullable=False),
    sa.Column('slot_no', sa.Integer(), nullable=False),
    sa.Column('assigned_at', sa.DateTime(), nullable=False),
    sa.Column('printed_state', sa.String(length=40), nullable=True),
    sa.Column('printed_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint('position > 0 AND book_no > 0 AND slot_no > 0', name=op.f('ck_book_slot_slot_positive')),
    sa.ForeignKeyConstraint(['household_id'], ['household.id'], name=op.f('fk_book_slot_household_id_household')),
    sa.ForeignKeyConstraint(['village_id'], ['admin_unit.id'], name=op.f('fk_book_slot_village_id_admin_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_book_slot')),
    sa.UniqueConstraint('household_id', name=op.f('uq_book_slot_household_id')),
    sa.UniqueConstraint('village_id', 'book_no', 'slot_no', name=op.f('uq_book_slot_village_id_book_no_slot_no')),
    sa.UniqueConstraint('village_id', 'position', name=op.f('uq_book_slot_village_id_position'))
    )
    op.create_table('print_job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('book_no', sa.Integer(), nullable=True),
    sa.Column('household_id', sa.Uuid(), nullable=True),
    sa.Column('page_size', sa.String(length=2), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('done_steps', sa.Integer(), nullable=False),
    sa.Column('total_steps', sa.Integer(), nullable=False),
    sa.Column('files', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=True),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint("kind IN ('book','village','changed','card')", name=op.f('ck_print_job_kind_known')),
    sa.CheckConstraint("page_size IN ('A4','A5')", name=op.f('ck_print_job_page_size_known')),
    sa.CheckConstraint("state IN ('queued','running','done','failed')", name=op.f('ck_print_job_state_known')),
    sa.ForeignKeyConstraint(['household_id'], ['household.id'], name=op.f('fk_print_job_household_id_household')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['user_account.id'], name=op.f('fk_print_job_requested_by_id_user_account')),
    sa.ForeignKeyConstraint(['village_id'], ['admin_unit.id'], name=op.f('fk_print_job_village_id_admin_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_print_job'))
    )
    with op.batch_alter_table('print_job', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_print_job_village_id'), ['village_id'], unique=False)



def downgrade():
    with op.batch_alter_table('print_job', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_print_job_village_id'))

    op.drop_table('print_job')
    op.drop_table('book_slot')
