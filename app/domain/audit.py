"""The audit log: one entry per action, hash-chained, written in the caller's transaction.

Each entry's hash covers the previous entry's hash, so changing, removing or reordering any
row breaks the chain at that row (`flask audit verify`). Appends are serialised: on
PostgreSQL by a transaction-scoped advisory lock, taken by the database function
audit_chain_head() before it reads the last hash (migration 0010), on SQLite by BEGIN
IMMEDIATE (see app/__init__.py), so two writers never chain onto the same predecessor.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, text

from app.extensions import db
from app.models import AuditEntry, User, utcnow

GENESIS_HASH = "0" * 64
_CHAIN_LOCK_KEY = 0x0D00_57E9  # arbitrary constant naming "the audit chain" lock
# Built once: building a statement costs more than sending it (bench/instructions.py).
_LOCKED_HEAD = text("SELECT audit_chain_head(:k)")
_LAST_HASH = select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)
_INSERT = insert(AuditEntry.__table__)


def entry_hash(prev_hash: str, at: dt.datetime, actor_id: int | None, action: str,
               object_type: str | None, object_id: str | None, details: dict[str, Any]) -> str:
    payload = json.dumps(
        [prev_hash, at.astimezone(dt.timezone.utc).isoformat(), actor_id, action,
         object_type, object_id, details],
        sort_keys=True, ensure_ascii=False, separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def record(action: str, *, actor: User | int | None = None, object_type: str | None = None,
           object_id: Any = None, details: dict[str, Any] | None = None) -> None:
    """Append one entry to the chain in the current transaction (sent, not committed)."""
    session = db.session
    session.flush()  # the changes it records first, as their entry follows them
    if session.get_bind().dialect.name == "postgresql":
        # The lock, then the last hash, in one round trip (migration 0010).
        prev = session.execute(_LOCKED_HEAD, {"k": _CHAIN_LOCK_KEY}).scalar()
    else:
        prev = session.execute(_LAST_HASH).scalar()
    prev = prev or GENESIS_HASH
    actor_id = actor.id if isinstance(actor, User) else actor
    # Microseconds are dropped: every database keeps whole seconds the same way.
    at = utcnow().replace(microsecond=0)
    details = json.loads(json.dumps(details or {}, ensure_ascii=False, default=str))
    oid = None if object_id is None else str(object_id)
    # A Core insert, not an ORM object: nothing reads the entry back, and the ORM's
    # bookkeeping for one object costs more than the insert (bench/instructions.py).
    session.connection().execute(_INSERT, dict(
        at=at, actor_id=actor_id, action=action, object_type=object_type, object_id=oid,
        details=details, prev_hash=prev, hash=entry_hash(prev, at, actor_id, action, object_type, oid, details)))


@dataclass
class ChainReport:
    checked: int
    broken_id: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_id is None


def verify_chain() -> ChainReport:
    """Walk the whole chain in order; report the first entry whose link or hash is wrong."""
    expected_prev = GENESIS_HASH
    checked = 0
    rows = db.session.execute(select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=1000))
    for entry in rows.scalars():
        if entry.prev_hash != expected_prev:
            return ChainReport(checked, entry.id, "prev_hash does not match the entry before it")
        actual = entry_hash(entry.prev_hash, entry.at, entry.actor_id, entry.action,
                            entry.object_type, entry.object_id, entry.details)
        if actual != entry.hash:
            return ChainReport(checked, entry.id, "content does not match its hash")
        expected_prev = entry.hash
        checked += 1
    return ChainReport(checked)
