"""pre-filled households (issue 16): origin, collected_at, source list and key, assignee; notices

A household's origin and the moment it counts as collected, the list and key it was
pre-filled from, the collector it is given to; notices of a newer register's differences.

Revision ID: 0016_prefill
Revises: 0015_lists
Create Date: 2026-12-07 23:00:00.000000

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0016_prefill'
down_revision = '0015_lists'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade():
    if op.get_bind().dialect.name == 'sqlite':
        # Plain ADD COLUMN, not batch mode: rebuilding household would drop a table that every
        # version and person refers to while foreign keys are enforced. SQLite takes a named
        # REFERENCES and a CHECK on an added column (default NULL).
        for sql in (
            "ALTER TABLE household ADD COLUMN origin VARCHAR(10) DEFAULT 'collected' NOT NULL "
            "CONSTRAINT ck_household_origin CHECK (origin IN ('collected','police','register'))",
            # Without ck_household_collected on SQLite: SQLite checks an added column's CHECK
            # against the rows already there (all NULL until the UPDATE below), and cannot add
            # a table CHECK later without rebuilding the table. PostgreSQL has it.
            "ALTER TABLE household ADD COLUMN collected_at DATETIME",
            "ALTER TABLE household ADD COLUMN source_list_id INTEGER "
            "CONSTRAINT fk_household_source_list_id_imported_list REFERENCES imported_list (id)",
            "ALTER TABLE household ADD COLUMN source_key VARCHAR(40)",
            "ALTER TABLE household ADD COLUMN assigned_to_id INTEGER "
            "CONSTRAINT fk_household_assigned_to_id_user_account REFERENCES user_account (id)",
        ):
            op.execute(sql)
    else:
        op.add_column('household', sa.Column('origin', sa.String(length=10), server_default='collected',
                                             nullable=False))
        op.add_column('household', sa.Column('collected_at', sa.DateTime(), nullable=True))
        op.add_column('household', sa.Column('source_list_id', sa.Integer(), nullable=True))
        op.add_column('household', sa.Column('source_key', sa.String(length=40), nullable=True))
        op.add_column('household', sa.Column('assigned_to_id', sa.Integer(), nullable=True))
        op.create_foreign_key(op.f('fk_household_source_list_id_imported_list'), 'household', 'imported_list',
                              ['source_list_id'], ['id'])
        op.create_foreign_key(op.f('fk_household_assigned_to_id_user_account'), 'household', 'user_account',
                              ['assigned_to_id'], ['id'])
        op.create_check_constraint(op.f('ck_household_origin'), 'household',
                                   "origin IN ('collected','police','register')")
    # Every household so far was collected at the door, when it was made.
    op.execute("UPDATE household SET collected_at = created_at")
    if op.get_bind().dialect.name != 'sqlite':
        op.create_check_constraint(op.f('ck_household_collected'), 'household',
                                   "collected_at IS NOT NULL OR origin = 'police'")
    op.create_index(op.f('ix_household_assigned_to_id'), 'household', ['assigned_to_id'], unique=False)
    op.create_index('ix_household_village_id_source_key', 'household', ['village_id', 'source_key'], unique=False)

    op.create_table('household_notice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('list_id', sa.Integer(), nullable=True),
    sa.Column('differences', JSON, nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('resolved_at', sa.DateTime(), nullable=True),
    sa.Column('resolved_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("kind IN ('register_differs')", name=op.f('ck_household_notice_kind_known')),
    sa.CheckConstraint('(resolved_at IS NULL) = (resolved_by_id IS NULL)',
                       name=op.f('ck_household_notice_resolved_by_someone')),
    sa.ForeignKeyConstraint(['household_id'], ['household.id'], name=op.f('fk_household_notice_household_id_household')),
    sa.ForeignKeyConstraint(['list_id'], ['imported_list.id'], name=op.f('fk_household_notice_list_id_imported_list')),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['user_account.id'],
                            name=op.f('fk_household_notice_resolved_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_household_notice'))
    )
    op.create_index(op.f('ix_household_notice_household_id'), 'household_notice', ['household_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_household_notice_household_id'), table_name='household_notice')
    op.drop_table('household_notice')
    op.drop_index('ix_household_village_id_source_key', table_name='household')
    op.drop_index(op.f('ix_household_assigned_to_id'), table_name='household')
    if op.get_bind().dialect.name == 'sqlite':
        # The columns' own CHECK and REFERENCES go with them; no table rebuild, which the
        # foreign keys to household would refuse.
        for column in ('assigned_to_id', 'source_key', 'source_list_id', 'collected_at', 'origin'):
            op.execute(f"ALTER TABLE household DROP COLUMN {column}")
    else:
        op.drop_constraint(op.f('ck_household_collected'), 'household', type_='check')
        op.drop_constraint(op.f('ck_household_origin'), 'household', type_='check')
        op.drop_constraint(op.f('fk_household_assigned_to_id_user_account'), 'household', type_='foreignkey')
        op.drop_constraint(op.f('fk_household_source_list_id_imported_list'), 'household', type_='foreignkey')
        for column in ('assigned_to_id', 'source_key', 'source_list_id', 'collected_at', 'origin'):
            op.drop_column('household', column)
