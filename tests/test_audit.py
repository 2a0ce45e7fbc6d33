"""The audit log: chained, verified, append-only in the database itself."""
from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError

from app.domain import audit
from app.extensions import db
from app.models import AuditEntry


def _entries():
    return db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()


def test_entries_chain_onto_each_other(app, units, make_user):
    user = make_user("collector", units["A"])
    audit.record("test.one", actor=user, object_type="thing", object_id=1, details={"名": "张三"})
    audit.record("test.two", details={"n": 2})
    db.session.commit()
    entries = _entries()
    assert entries[0].prev_hash == audit.GENESIS_HASH
    for before, after in zip(entries, entries[1:]):
        assert after.prev_hash == before.hash
    assert [e.action for e in entries][-2:] == ["test.one", "test.two"]
    assert entries[-2].details == {"名": "张三"} and entries[-2].actor_id == user.id
    assert audit.verify_chain().ok and audit.verify_chain().checked == len(entries)


def test_verify_command_reports_intact_chain(app, units, make_user):
    make_user("collector", units["A"])
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "intact" in result.output


def test_entry_is_rolled_back_with_the_change_it_records(app, units):
    before = len(_entries())
    audit.record("test.rolled_back")
    db.session.rollback()
    assert len(_entries()) == before


def _bypass_triggers(db_name: str):
    """Tampering needs to get past the append-only triggers: a superuser on PostgreSQL,
    dropping the trigger on SQLite. This is what an attacker with database access does."""
    if db_name == "postgresql":
        db.session.execute(text("SET LOCAL session_replication_role = replica"))
    else:
        db.session.execute(text("DROP TRIGGER audit_entry_no_update"))
        db.session.execute(text("DROP TRIGGER audit_entry_no_delete"))


def _three_entries():
    for i in range(3):
        audit.record("test.entry", details={"i": i})
    db.session.commit()
    return [e.id for e in _entries()]


def test_tampered_details_are_detected(app, db_name):
    ids = _three_entries()
    _bypass_triggers(db_name)
    db.session.execute(text("UPDATE audit_entry SET action = 'test.forged' WHERE id = :id"), {"id": ids[1]})
    db.session.commit()
    report = audit.verify_chain()
    assert not report.ok and report.broken_id == ids[1] and report.checked == 1
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"BROKEN at entry {ids[1]}" in result.output


def test_deleted_entry_is_detected(app, db_name):
    ids = _three_entries()
    _bypass_triggers(db_name)
    db.session.execute(text("DELETE FROM audit_entry WHERE id = :id"), {"id": ids[1]})
    db.session.commit()
    report = audit.verify_chain()
    assert report.broken_id == ids[2]
    assert "prev_hash" in report.reason


@pytest.mark.parametrize("statement", [
    "UPDATE audit_entry SET action = 'x'",
    "DELETE FROM audit_entry",
])
def test_database_refuses_update_and_delete(app, statement):
    _three_entries()
    with pytest.raises(DatabaseError, match="append-only"):
        db.session.execute(text(statement))
    db.session.rollback()
    assert len(_entries()) == 3 and audit.verify_chain().ok


def test_postgresql_refuses_truncate(app, db_name):
    if db_name != "postgresql":
        pytest.skip("TRUNCATE is PostgreSQL's")
    _three_entries()
    with pytest.raises(DatabaseError, match="append-only"):
        db.session.execute(text("TRUNCATE audit_entry"))
    db.session.rollback()
    assert len(_entries()) == 3


def test_concurrent_appends_keep_one_chain(app, db_name):
    """Writers in parallel threads must not chain onto the same predecessor. Each holds its
    transaction a moment after its entry, so that the others wait for the chain's lock: the
    last hash read after that wait must be the one committed meanwhile."""
    import threading
    import time

    errors: list[BaseException] = []

    def writer(n: int):
        try:
            with app.app_context():
                for i in range(5):
                    audit.record("test.concurrent", details={"w": n, "i": i})
                    time.sleep(0.005)
                    db.session.commit()
                db.session.remove()
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    db.session.expire_all()
    report = audit.verify_chain()
    assert report.ok and report.checked == 20
