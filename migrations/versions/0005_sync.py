"""sync: device tokens, submission receipts, household conflicts (the phone app)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 22:20:21.941018

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('device_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_used_at', sa.DateTime(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.Column('revoked_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['revoked_by_id'], ['user_account.id'], name=op.f('fk_device_token_revoked_by_id_user_account')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_device_token_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_device_token')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_device_token_token_hash'))
    )
    with op.batch_alter_table('device_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_device_token_user_id'), ['user_id'], unique=False)

    op.create_table('sync_receipt',
    sa.Column('submission_id', sa.Uuid(), nullable=False),
    sa.Column('body_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('answer', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_sync_receipt_user_id_user_account')),
    sa.PrimaryKeyConstraint('submission_id', name=op.f('pk_sync_receipt'))
    )
    with op.batch_alter_table('sync_receipt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sync_receipt_user_id'), ['user_id'], unique=False)

    op.create_table('household_conflict',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Uuid(), nullable=False),
    sa.Column('submission_id', sa.Uuid(), nullable=False),
    sa.Column('base_number', sa.Integer(), nullable=False),
    sa.Column('server_number', sa.Integer(), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('strokes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('strokes_svg', sa.Text(), nullable=False),
    sa.Column('submitted_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('resolution', sa.String(length=12), nullable=True),
    sa.Column('resolved_by_id', sa.Integer(), nullable=True),
    sa.Column('resolved_at', sa.DateTime(), nullable=True),
    sa.Column('result_version_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("(state = 'open') = (resolution IS NULL)", name=op.f('ck_household_conflict_resolved_has_resolution')),
    sa.CheckConstraint("resolution IS NULL OR resolution IN ('keep_mine','keep_theirs','merged')", name=op.f('ck_household_conflict_resolution_known')),
    sa.CheckConstraint("state IN ('open','resolved')", name=op.f('ck_household_conflict_state_known')),
    sa.ForeignKeyConstraint(['household_id'], ['household.id'], name=op.f('fk_household_conflict_household_id_household')),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['user_account.id'], name=op.f('fk_household_conflict_resolved_by_id_user_account')),
    sa.ForeignKeyConstraint(['result_version_id'], ['household_version.id'], name=op.f('fk_household_conflict_result_version_id_household_version')),
    sa.ForeignKeyConstraint(['submitted_by_id'], ['user_account.id'], name=op.f('fk_household_conflict_submitted_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_household_conflict')),
    sa.UniqueConstraint('submission_id', name=op.f('uq_household_conflict_submission_id'))
    )
    with op.batch_alter_table('household_conflict', schema=None) as batch_op:
        batch_op.create_index('ix_household_conflict_state_household_id', ['state', 'household_id'], unique=False)


def downgrade():
    with op.batch_alter_table('household_conflict', schema=None) as batch_op:
        batch_op.drop_index('ix_household_conflict_state_household_id')

    op.drop_table('household_conflict')
    with op.batch_alter_table('sync_receipt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sync_receipt_user_id'))

    op.drop_table('sync_receipt')
    with op.batch_alter_table('device_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_token_user_id'))

    op.drop_table('device_token')
