"""The audit log: chained by keyed hashes, verified, anchored, append-only in the database itself."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac

import pytest
from sqlalchemy import insert, select, text, update
from sqlalchemy.exc import DatabaseError

from app.domain import audit
from app.domain.keyed_chain import Anchor, KeyRing
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


def _bypass_triggers(db_name: str, table: str = "audit_entry"):
    """Tampering needs to get past the append-only triggers: a superuser on PostgreSQL,
    dropping the trigger on SQLite. This is what an attacker with database access does."""
    if db_name == "postgresql":
        db.session.execute(text("SET LOCAL session_replication_role = replica"))
    else:
        db.session.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_update"))
        db.session.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_delete"))


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


# ---------------------------------------------------------------- the keyed chain (issue 15, item 3)

# What an attacker with database access but without AUDIT_KEYS can do: guess a key, or fall
# back to the plain SHA-256 of the entries written before the chain was keyed.
FORGER = KeyRing({"1": "the-forger-does-not-have-the-key-" + "x" * 8})


def _fields(e: AuditEntry) -> list:
    return audit.entry_fields(e.at, e.actor_id, e.action, e.object_type, e.object_id, e.details)


def _rehash(entry: AuditEntry, prev: str, how: str) -> dict:
    """New prev_hash/hash/key_id/algorithm for `entry` chained onto `prev`, made the forger's way."""
    if how == "unkeyed":
        return dict(prev_hash=prev, key_id=None, algorithm=None,
                    hash=audit.entry_hash(prev, entry.at, entry.actor_id, entry.action, entry.object_type,
                                          entry.object_id, entry.details))
    ring = FORGER if how == "forger" else audit.key_ring()
    link = ring.sign(audit.CHAIN, prev, _fields(entry))
    return dict(prev_hash=prev, hash=link.hash, key_id=link.key_id, algorithm=link.algorithm)


def _recompute_from(index: int, how: str, until: int | None = None) -> None:
    """Recompute the links of every entry from `index` on (to `until`), as a forger covering a change."""
    db.session.expire_all()
    entries = _entries()
    prev = entries[index - 1].hash if index else audit.GENESIS_HASH
    for e in entries[index:until]:
        values = _rehash(e, prev, how)
        db.session.execute(update(AuditEntry).where(AuditEntry.id == e.id).values(**values))
        prev = values["hash"]
    db.session.commit()


def _verify(app, *args):
    db.session.commit()
    return app.test_cli_runner().invoke(args=["audit", "verify", *args])


def _n_entries(n: int) -> list[int]:
    for i in range(n):
        audit.record("test.entry", details={"i": i})
    db.session.commit()
    return [e.id for e in _entries()]


def test_entries_are_keyed_with_the_signing_key(app):
    ids = _n_entries(2)
    entry = db.session.get(AuditEntry, ids[1])
    assert (entry.key_id, entry.algorithm) == ("1", "hmac-sha256")
    secret = app.config["AUDIT_KEYS"]["1"]
    message = audit.keyed_chain.canonical(["doorstep-chain-v1", "audit_entry", "1", "hmac-sha256",
                                           entry.prev_hash, *_fields(entry)])
    assert entry.hash == hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    assert entry.hash != audit.entry_hash(entry.prev_hash, entry.at, entry.actor_id, entry.action,
                                          entry.object_type, entry.object_id, entry.details)


@pytest.mark.parametrize("how", ["forger", "unkeyed"])
def test_edited_entry_with_later_hashes_recomputed_is_detected(app, db_name, how):
    ids = _n_entries(5)
    _bypass_triggers(db_name)
    db.session.execute(update(AuditEntry).where(AuditEntry.id == ids[1]).values(details={"i": 99}))
    _recompute_from(1, how)
    report = audit.verify_chain()
    assert not report.ok and report.broken_id == ids[1] and report.checked == 1
    result = _verify(app)
    assert result.exit_code == 1 and f"BROKEN at entry {ids[1]}" in result.output


@pytest.mark.parametrize("how", ["forger", "unkeyed"])
def test_appended_forged_entry_is_detected(app, db_name, how):
    ids = _n_entries(3)
    last = db.session.get(AuditEntry, ids[-1])
    at = last.at
    forged = dict(at=at, actor_id=None, action="household.verify", object_type="household", object_id="x",
                  details={"forged": True})
    probe = AuditEntry(**forged)
    db.session.execute(insert(AuditEntry).values(**forged, **_rehash(probe, last.hash, how)))
    db.session.commit()
    report = audit.verify_chain()
    assert not report.ok and report.broken_id > ids[-1] and report.checked == 3
    assert _verify(app).exit_code == 1


def test_truncated_tail_is_detected_against_the_anchored_head(app, db_name):
    _n_entries(25)
    anchor = app.test_cli_runner().invoke(args=["audit", "head"]).output.strip()
    last = audit.head()
    assert anchor == f"{last.position}:{last.hash}" == f"{_entries()[-1].id}:{_entries()[-1].hash}"
    assert _verify(app, "--head", anchor).exit_code == 0
    _bypass_triggers(db_name)
    cut = [e.id for e in _entries()][-20:]
    db.session.execute(text("DELETE FROM audit_entry WHERE id >= :id"), {"id": cut[0]})
    db.session.commit()
    # What remains is a whole chain: only the head kept elsewhere shows what is missing.
    assert audit.verify_chain().ok and audit.verify_chain().checked == 5
    result = _verify(app, "--head", anchor)
    assert result.exit_code == 1
    assert f"entry {last.position} of the anchored head is missing" in result.output and "cut off" in result.output


def test_rewritten_tail_is_detected_against_the_anchored_head(app, db_name):
    """Even by someone who holds the key (an insider), a rewritten tail shows against the anchor."""
    ids = _n_entries(4)
    anchor = audit.head()
    _bypass_triggers(db_name)
    db.session.execute(update(AuditEntry).where(AuditEntry.id == ids[2]).values(details={"i": "rewritten"}))
    _recompute_from(2, "with the key")
    assert audit.verify_chain().ok
    report = audit.verify_chain([anchor])
    assert not report.ok and report.broken_id == ids[-1] and "rewritten" in report.reason
    assert _verify(app, "--head", str(anchor)).exit_code == 1


def test_head_command_and_a_bad_head_argument(app):
    assert app.test_cli_runner().invoke(args=["audit", "head"]).exit_code == 1  # empty log
    _n_entries(1)
    result = app.test_cli_runner().invoke(args=["audit", "verify", "--head", "12:nothex"])
    assert result.exit_code == 2 and "N:HASH" in result.output
    assert Anchor.parse(str(audit.head())) == audit.head()


def test_rotation_keeps_older_entries_verifiable(app, db_name):
    first = _n_entries(2)
    app.config["AUDIT_KEYS"] = {"2": "the-second-audit-key-" + "2" * 32, **app.config["AUDIT_KEYS"]}
    later = [i for i in _n_entries(2) if i not in first]
    assert [db.session.get(AuditEntry, i).key_id for i in first + later] == ["1", "1", "2", "2"]
    report = audit.verify_chain()
    assert report.ok and report.checked == 4 and report.keys_used == ["1", "2"]
    # Without the old key its entries cannot be verified: it is kept, as long as they are.
    app.config["AUDIT_KEYS"] = {"2": app.config["AUDIT_KEYS"]["2"]}
    report = audit.verify_chain()
    assert report.broken_id == first[0] and "not among the chain keys" in report.reason


def test_a_retired_key_cannot_append_after_a_newer_one(app):
    """Someone who has the old key (a leaked backup of the settings) appends with it."""
    old = dict(app.config["AUDIT_KEYS"])
    _n_entries(1)
    app.config["AUDIT_KEYS"] = {"2": "the-second-audit-key-" + "2" * 32, **old}
    _n_entries(1)
    last = _entries()[-1]
    forged = dict(at=last.at, actor_id=None, action="test.forged", object_type=None, object_id=None,
                  details={})
    link = KeyRing(old).sign(audit.CHAIN, last.hash, _fields(AuditEntry(**forged)))
    db.session.execute(insert(AuditEntry).values(**forged, prev_hash=last.hash, hash=link.hash,
                                                 key_id=link.key_id, algorithm=link.algorithm))
    db.session.commit()
    report = audit.verify_chain()
    assert not report.ok and "older than the key" in report.reason


def _legacy_entries(n: int) -> list[int]:
    """Entries as the unkeyed chain wrote them before the upgrade (plain SHA-256, no key id)."""
    prev = audit.GENESIS_HASH
    at = dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.timezone.utc)
    for i in range(n):
        values = dict(at=at, actor_id=None, action="test.legacy", object_type=None, object_id=None,
                      details={"i": i, "名": "张三"})
        h = audit.entry_hash(prev, **{k: v for k, v in values.items()})
        db.session.execute(insert(AuditEntry).values(**values, prev_hash=prev, hash=h))
        prev = h
    db.session.commit()
    return [e.id for e in _entries()]


def test_unkeyed_entries_stay_behind_a_marker_and_both_parts_verify(app, db_name):
    legacy = _legacy_entries(3)
    # Before anything is recorded with a key, the chain cannot be told from a forged one.
    report = audit.verify_chain()
    assert not report.ok and "no keyed part" in report.reason
    audit.record("test.after_upgrade")
    audit.record("test.after_upgrade")
    db.session.commit()
    entries = _entries()
    marker, first = entries[3], entries[4]
    assert [e.key_id for e in entries] == [None, None, None, "1", "1", "1"]
    assert marker.action == audit.MARKER_ACTION and marker.prev_hash == entries[2].hash
    assert marker.details["unkeyed_head"] == entries[2].hash and first.prev_hash == marker.hash
    report = audit.verify_chain()
    assert report.ok and (report.checked, report.unkeyed, report.keyed) == (6, 3, 3)
    result = _verify(app)
    assert result.exit_code == 0 and "3 unkeyed before the marker, 3 keyed" in result.output

    # The unkeyed part is sealed by the marker: rewriting it (and its plain hashes) shows.
    _bypass_triggers(db_name)
    db.session.execute(update(AuditEntry).where(AuditEntry.id == legacy[1]).values(details={"i": 9}))
    _recompute_from(1, "unkeyed", until=3)
    report = audit.verify_chain()
    assert not report.ok and report.broken_id == marker.id and "prev_hash" in report.reason
    _bypass_triggers(db_name)
    _recompute_from(3, "unkeyed")  # and on in the unkeyed way: the keyed entries lose their key
    report = audit.verify_chain()
    assert not report.ok and "no keyed part" in report.reason


def test_removing_the_keyed_part_does_not_pass_for_an_old_chain(app, db_name):
    _legacy_entries(2)
    _n_entries(2)
    _bypass_triggers(db_name)
    db.session.execute(text("DELETE FROM audit_entry WHERE key_id IS NOT NULL"))
    db.session.commit()
    report = audit.verify_chain()
    assert not report.ok and "no keyed part" in report.reason


def test_the_keyed_part_must_start_with_the_marker(app, db_name):
    legacy = _legacy_entries(2)
    _n_entries(2)
    _bypass_triggers(db_name)
    marker = _entries()[2]
    db.session.execute(text("DELETE FROM audit_entry WHERE id = :id"), {"id": marker.id})
    _recompute_from(2, "with the key")  # even with the key, the next entry is not a marker
    report = audit.verify_chain()
    assert report.broken_id > legacy[-1] and "marker" in report.reason


def test_mark_command_starts_the_keyed_part(app):
    _legacy_entries(1)
    result = app.test_cli_runner().invoke(args=["audit", "mark"])
    assert result.exit_code == 0, result.output
    assert [e.action for e in _entries()] == ["test.legacy", audit.MARKER_ACTION, "audit.mark"]
    assert audit.verify_chain().ok


def test_hmac_sm3_chain_and_a_change_of_algorithm(app):
    app.config["AUDIT_ALGORITHM"] = "hmac-sm3"
    ids = _n_entries(2)
    entry = db.session.get(AuditEntry, ids[1])
    assert entry.algorithm == "hmac-sm3"
    message = audit.keyed_chain.canonical(["doorstep-chain-v1", "audit_entry", "1", "hmac-sm3",
                                           entry.prev_hash, *_fields(entry)])
    assert entry.hash == _hmac_sm3_by_hand(app.config["AUDIT_KEYS"]["1"].encode(), message)
    app.config["AUDIT_ALGORITHM"] = "hmac-sha256"
    _n_entries(1)
    report = audit.verify_chain()
    assert report.ok and report.checked == 3
    assert [e.algorithm for e in _entries()] == ["hmac-sm3", "hmac-sm3", "hmac-sha256"]


def _hmac_sm3_by_hand(key: bytes, message: bytes) -> str:
    """RFC 2104 spelled out over SM3 (64-byte blocks), apart from the hmac module."""
    assert hashlib.new("sm3", b"abc").hexdigest() == (  # GB/T 32905-2016, example 1
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0")
    key = key.ljust(64, b"\0") if len(key) <= 64 else hashlib.new("sm3", key).digest().ljust(64, b"\0")
    inner = hashlib.new("sm3", bytes(k ^ 0x36 for k in key) + message).digest()
    return hashlib.new("sm3", bytes(k ^ 0x5C for k in key) + inner).hexdigest()


def test_audit_settings_from_the_environment(tmp_path, monkeypatch):
    from app import config

    monkeypatch.setenv("DOORSTEP_INSTANCE", str(tmp_path))
    monkeypatch.delenv("AUDIT_KEYS", raising=False)
    monkeypatch.delenv("AUDIT_ALGORITHM", raising=False)
    settings = config.from_environment()
    assert settings["AUDIT_KEYS"] == {"1": (tmp_path / "audit_key_1").read_text()}
    assert settings["AUDIT_ALGORITHM"] == "hmac-sha256"
    monkeypatch.setenv("AUDIT_KEYS", "2:" + "b" * 32 + ",1:" + "a" * 32)
    monkeypatch.setenv("AUDIT_ALGORITHM", "hmac-sm3")
    settings = config.from_environment()
    assert list(settings["AUDIT_KEYS"]) == ["2", "1"] and settings["AUDIT_ALGORITHM"] == "hmac-sm3"
    monkeypatch.setenv("AUDIT_ALGORITHM", "md5")
    with pytest.raises(ValueError, match="unknown chain algorithm"):
        config.from_environment()
    monkeypatch.setenv("AUDIT_ALGORITHM", "hmac-sha256")
    monkeypatch.setenv("AUDIT_KEYS", "1:short")
    with pytest.raises(ValueError, match="AUDIT_KEYS"):
        config.from_environment()
