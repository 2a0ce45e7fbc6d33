"""print job attempts and heartbeat: a job left running by a crashed consumer is retried

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 20:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('print_job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attempts', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('heartbeat_at', sa.DateTime(), nullable=True))
    # A job running at the upgrade was claimed once, and was last seen when it started.
    op.execute("UPDATE print_job SET attempts = 1, heartbeat_at = started_at WHERE started_at IS NOT NULL")


def downgrade():
    with op.batch_alter_table('print_job', schema=None) as batch_op:
        batch_op.drop_column('heartbeat_at')
        batch_op.drop_column('attempts')
