"""keyed audit chain (key id, algorithm), household_version/signature/workflow_event append-only

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 20:10:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

# The history tables: rows are only ever added (DESIGN.md §4, STYLE.md 3). Only one change is
# legitimate: a two-sided life event (app.domain.events: move in from another household, split)
# adds the other household's ids to the `event` of a version written a moment before in the
# same transaction. Any other UPDATE, and every DELETE (and TRUNCATE on PostgreSQL), is refused.
TABLES = ("household_version", "signature", "workflow_event")
# Every column of household_version but `event`, as of this revision. A migration that adds a
# column to household_version must recreate the SQLite trigger with it (a batch migration of
# the table, which copies it, drops its triggers: recreate them too).
VERSION_COLUMNS = ("id", "household_id", "number", "kind", "data", "content_hash", "form_version",
                   "base_number", "submission_id", "issues", "complete", "created_by_id", "created_at",
                   "occurred_on")


def _message(table):
    return f"{table} is append-only"


def upgrade():
    with op.batch_alter_table('audit_entry', schema=None, recreate='never') as batch_op:
        batch_op.add_column(sa.Column('key_id', sa.String(length=4), nullable=True))
        batch_op.add_column(sa.Column('algorithm', sa.String(length=16), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_upgrade()
    else:
        _sqlite_upgrade()


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_downgrade()
    else:
        _sqlite_downgrade()
    with op.batch_alter_table('audit_entry', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('algorithm')
        batch_op.drop_column('key_id')


def _postgresql_upgrade():
    # As audit_chain_head (0010), with the last entry's key id: the first keyed entry after
    # unkeyed ones is preceded by the marker, decided under the lock.
    op.execute("""
        CREATE FUNCTION audit_chain_tail(lock_key bigint) RETURNS TABLE (hash varchar, key_id varchar)
        LANGUAGE plpgsql VOLATILE AS $$
        BEGIN
            PERFORM pg_advisory_xact_lock(lock_key);
            RETURN QUERY SELECT e.hash, e.key_id FROM audit_entry e ORDER BY e.id DESC LIMIT 1;
        END $$""")
    op.execute("""
        CREATE FUNCTION history_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
        END $$""")
    # household_version: the one legitimate UPDATE keeps every other column and every key of
    # the old event with its value (jsonb_each; `@>` would let an array grow).
    op.execute(f"""
        CREATE FUNCTION household_version_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'UPDATE'
               AND (to_jsonb(NEW) - 'event') = (to_jsonb(OLD) - 'event')
               AND jsonb_typeof(OLD.event) = 'object' AND jsonb_typeof(NEW.event) = 'object'
               AND NOT EXISTS (SELECT 1 FROM jsonb_each(OLD.event) AS o
                               WHERE NEW.event -> o.key IS DISTINCT FROM o.value) THEN
                RETURN NEW;
            END IF;
            RAISE EXCEPTION '{_message("household_version")}' USING ERRCODE = 'insufficient_privilege';
        END $$""")  # noqa: S608 (constant names of this file, no input)
    for table in TABLES:
        function = "household_version_refuse_change" if table == "household_version" else "history_refuse_change"
        op.execute(f"""CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table}
                       FOR EACH ROW EXECUTE FUNCTION {function}()""")
        op.execute(f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
                       FOR EACH STATEMENT EXECUTE FUNCTION history_refuse_change()""")


def _postgresql_downgrade():
    for table in TABLES:
        op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
        op.execute(f"DROP TRIGGER {table}_no_update_delete ON {table}")
    op.execute("DROP FUNCTION household_version_refuse_change()")
    op.execute("DROP FUNCTION history_refuse_change()")
    op.execute("DROP FUNCTION audit_chain_tail(bigint)")


def _sqlite_upgrade():
    for table in TABLES:
        op.execute(f"""CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
                       BEGIN SELECT RAISE(ABORT, '{_message(table)}'); END""")
    for table in ("signature", "workflow_event"):
        op.execute(f"""CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
                       BEGIN SELECT RAISE(ABORT, '{_message(table)}'); END""")
    # IS, not =: a NULL must not make the WHEN clause false (and let the update through).
    same = " AND ".join(f"NEW.{c} IS OLD.{c}" for c in VERSION_COLUMNS)
    op.execute(f"""
        CREATE TRIGGER household_version_no_update BEFORE UPDATE ON household_version
        WHEN NOT ({same}
                  AND json_type(OLD.event) IS 'object' AND json_type(NEW.event) IS 'object'
                  AND NOT EXISTS (SELECT 1 FROM json_each(OLD.event) AS o
                                  WHERE json_type(NEW.event, o.fullkey) IS NOT o.type
                                     OR json_extract(NEW.event, o.fullkey) IS NOT json_extract(OLD.event, o.fullkey)))
        BEGIN SELECT RAISE(ABORT, '{_message("household_version")}'); END""")  # noqa: S608 (constant names of this file, no input)


def _sqlite_downgrade():
    for table in TABLES:
        op.execute(f"DROP TRIGGER {table}_no_delete")
        op.execute(f"DROP TRIGGER {table}_no_update")
