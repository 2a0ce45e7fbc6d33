"""access log: entries appended in HMAC-chained batches, and anonymous scans counted per day

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 20:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

_BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_PATH = sa.String(length=400).with_variant(sa.String(length=400, collation="C"), "postgresql")
_JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")
# The same guard as audit_entry's (0001): no UPDATE or DELETE (or TRUNCATE) in the database.
APPEND_ONLY = ("access_batch", "access_entry")


def upgrade():
    op.create_table('access_batch',
    sa.Column('id', _BIGINT, nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('entries', sa.Integer(), nullable=False),
    sa.Column('key_id', sa.String(length=16), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_batch')),
    sa.UniqueConstraint('hash', name=op.f('uq_access_batch_hash'))
    )
    op.create_table('access_entry',
    sa.Column('id', _BIGINT, nullable=False),
    sa.Column('batch_id', _BIGINT, nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('endpoint', sa.String(length=64), nullable=False),
    sa.Column('object_type', sa.String(length=32), nullable=False),
    sa.Column('object_id', sa.String(length=64), nullable=True),
    sa.Column('unit_path', _PATH, nullable=True),
    sa.Column('details', _JSON, nullable=False),
    sa.Column('address', sa.String(length=64), nullable=True),
    sa.Column('request_id', sa.String(length=32), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_entry'))
    )
    with op.batch_alter_table('access_entry', schema=None) as batch_op:
        batch_op.create_index('ix_access_entry_actor_at', ['actor_id', 'at'], unique=False)
        batch_op.create_index('ix_access_entry_at', ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_entry_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index('ix_access_entry_object', ['object_type', 'object_id'], unique=False)
    op.create_table('scan_count',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'address', 'outcome', name=op.f('pk_scan_count'))
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION access_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
            END $$""")
    for table in APPEND_ONLY:
        if op.get_bind().dialect.name == "postgresql":
            op.execute(f"""CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table}
                           FOR EACH ROW EXECUTE FUNCTION access_log_refuse_change()""")
            op.execute(f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
                           FOR EACH STATEMENT EXECUTE FUNCTION access_log_refuse_change()""")
        else:
            for event in ("UPDATE", "DELETE"):
                op.execute(f"""CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table}
                               BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END""")


def downgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in APPEND_ONLY:
        if postgres:
            op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
            op.execute(f"DROP TRIGGER {table}_no_update_delete ON {table}")
        else:
            op.execute(f"DROP TRIGGER {table}_no_update")
            op.execute(f"DROP TRIGGER {table}_no_delete")
    if postgres:
        op.execute("DROP FUNCTION access_log_refuse_change()")
    op.drop_table('scan_count')
    with op.batch_alter_table('access_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_access_entry_object')
        batch_op.drop_index(batch_op.f('ix_access_entry_batch_id'))
        batch_op.drop_index('ix_access_entry_at')
        batch_op.drop_index('ix_access_entry_actor_at')
    op.drop_table('access_entry')
    op.drop_table('access_batch')
