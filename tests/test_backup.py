"""Backups (issue 15, "Also"): `flask backup` copies the database while the app writes to it
(SQLite's backup API; pg_dump on PostgreSQL), `flask restore` brings the copy back into a
fresh database, and there `flask audit verify` passes with the head anchored before the
backup, and fails with a head from after it (what a restore from an old backup looks like)."""
from __future__ import annotations

import os
import stat
import threading

import pytest
from sqlalchemy import func, select

from app import create_app
from app.domain import audit, workflow
from app.domain import registration as reg
from app.extensions import db
from app.models import AuditEntry, Household, Signature, WorkflowAction
from tests.conftest import base_config
from tests.support.households import TODAY, family

SIGN = [[[100, 100], [400, 130], [700, 100]], [[250, 60], [260, 200], [240, 330]]]


def _fresh_database(request, db_name: str, tmp_path) -> str:
    if db_name == "postgresql":
        return request.getfixturevalue("pg_admin")("doorstep_restore")  # created empty, not migrated
    return f"sqlite:///{tmp_path / 'restored' / 'doorstep.sqlite'}"


def _cli(application, *args):
    """The command in a context of `application` of its own (flask's runner would use the test's
    context when there is one), as from a shell: its session ends with it."""
    with application.app_context():
        result = application.test_cli_runner().invoke(args=list(args))
        db.session.remove()
    return result


def test_backup_while_writing_then_restore_and_verify_with_the_anchored_head(
        app, db_name, units, make_user, tmp_path, request):
    collector = make_user("collector", units["A"], username="collector_a")
    for seq in (1, 2):
        h = reg.new_household(collector, unit_id=units["A1"].id, data=family(seq=seq), today=TODAY).household
    db.session.commit()
    workflow.transition(collector, h.id, WorkflowAction.submit, version_number=1, strokes=SIGN)
    db.session.commit()
    anchor = _cli(app, "audit", "head").output.strip()

    # The app goes on writing while the backup is made.
    stop, errors, written = threading.Event(), [], []

    def writer():
        try:
            with app.app_context():
                while not stop.is_set():
                    audit.record("test.during_backup")
                    db.session.commit()
                    written.append(1)
                db.session.remove()
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    db.session.commit()  # SQLite: this test's session keeps no write lock
    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 3:
            thread.join(0.01)
        out = tmp_path / "doorstep.backup"
        result = _cli(app, "backup", str(out))
    finally:
        stop.set()
        thread.join()
    assert not errors and result.exit_code == 0, result.output
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600  # the whole register is in it
    backup_head = result.output.rsplit("audit head in the backup: ", 1)[1].strip()
    assert int(backup_head.split(":")[0]) > int(anchor.split(":")[0])
    assert _cli(app, "backup", str(out)).exit_code == 2  # never overwritten
    audit.record("test.after_backup")
    db.session.commit()
    later_head = _cli(app, "audit", "head").output.strip()

    restored = create_app(base_config(_fresh_database(request, db_name, tmp_path)))
    try:
        result = _cli(restored, "restore", str(out))
        assert result.exit_code == 0, result.output
        assert f"audit head: {backup_head}" in result.output
        result = _cli(restored, "audit", "verify", "--head", anchor, "--head", backup_head)
        assert result.exit_code == 0, result.output
        assert "audit chain intact" in result.output and "content hashes intact: 2 versions, 1 signatures" in result.output
        with restored.app_context():
            assert db.session.scalar(select(func.count()).select_from(Household)) == 2
            assert db.session.scalar(select(func.count()).select_from(Signature)) == 1
            assert db.session.scalar(select(func.max(AuditEntry.id))) == int(backup_head.split(":")[0])
        # A restore of an older backup than the head kept: what came after is missing, and says so.
        result = _cli(restored, "audit", "verify", "--head", later_head)
        assert result.exit_code == 1 and "cut off" in result.output
        # A database that holds data is not restored over.
        assert _cli(restored, "restore", str(out)).exit_code == 2
    finally:
        with restored.app_context():
            db.session.remove()
            db.engine.dispose()


def test_a_sqlite_database_in_use_is_replaced_only_when_asked(app, db_name, units, tmp_path):
    if db_name != "sqlite":
        pytest.skip("--replace is for SQLite; PostgreSQL restores into a new database")
    out = tmp_path / "copy.backup"
    audit.record("test.before")
    db.session.commit()
    assert _cli(app, "backup", str(out)).exit_code == 0
    audit.record("test.after")
    db.session.commit()
    db.session.remove()
    assert _cli(app, "restore", str(out)).exit_code == 2
    result = _cli(app, "restore", "--replace", str(out))
    assert result.exit_code == 0, result.output
    assert [e.action for e in db.session.scalars(select(AuditEntry))][-1] == "test.before"
    assert audit.verify_chain().ok
