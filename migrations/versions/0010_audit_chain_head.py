"""audit chain head (PostgreSQL): the chain's lock and its last hash in one call

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24 04:10:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite: its one writer needs no lock (app.domain.audit)
    # The SELECT runs after the lock is granted, with a snapshot of its own (a VOLATILE
    # plpgsql function takes one for each statement): it sees the entry that the previous
    # holder of the lock committed. In one statement sent from outside, the snapshot would
    # be taken before the wait.
    op.execute("""
        CREATE FUNCTION audit_chain_head(lock_key bigint) RETURNS varchar
        LANGUAGE plpgsql VOLATILE AS $$
        BEGIN
            PERFORM pg_advisory_xact_lock(lock_key);
            RETURN (SELECT hash FROM audit_entry ORDER BY id DESC LIMIT 1);
        END $$""")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION audit_chain_head(bigint)")
