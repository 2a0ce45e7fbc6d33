"""Test set-up that writes history as it would have been (a version backdated, an event's date
set after the save): history tables are append-only in the database (migration 0011), so the
guard is lifted for the current transaction only, and is back before it commits."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text

from app.extensions import db


@contextmanager
def history_writable() -> Iterator[None]:
    """Within: UPDATE of household_version, signature and workflow_event rows is allowed; the
    changes made inside are flushed before the guard returns."""
    if db.session.get_bind().dialect.name == "postgresql":
        # Triggers stand aside until the transaction ends (the caller commits).
        db.session.execute(text("SET LOCAL session_replication_role = replica"))
        yield
        db.session.flush()
        return
    # SQLite: DDL is transactional; the triggers are dropped and made again in this transaction.
    triggers = db.session.execute(text(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
        "AND tbl_name IN ('household_version', 'signature', 'workflow_event')")).all()
    for name, _sql in triggers:
        db.session.execute(text(f'DROP TRIGGER "{name}"'))
    yield
    db.session.flush()
    for _name, sql in triggers:
        db.session.execute(text(sql))
