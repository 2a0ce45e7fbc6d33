"""life events: a version's date of occurrence and event details; known version kinds

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 22:53:21.971818

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

KINDS = ("create", "edit", "birth", "death", "move_out", "move_in", "marriage", "divorce", "split",
         "merge", "transfer", "head_change")


def upgrade():
    with op.batch_alter_table('household_version', schema=None) as batch_op:
        batch_op.add_column(sa.Column('occurred_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('event', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True))
        batch_op.create_index(batch_op.f('ix_household_version_occurred_on'), ['occurred_on'], unique=False)
        batch_op.create_check_constraint('kind_known', "kind IN (" + ",".join(f"'{k}'" for k in KINDS) + ")")


def downgrade():
    with op.batch_alter_table('household_version', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_household_version_kind_known'), type_='check')
        batch_op.drop_index(batch_op.f('ix_household_version_occurred_on'))
        batch_op.drop_column('event')
        batch_op.drop_column('occurred_on')
