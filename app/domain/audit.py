"""The audit log: one entry per action, chained by keyed hashes, written in the caller's transaction.

Each entry's hash is an HMAC (app.domain.keyed_chain) over the previous entry's hash and its
own content, with a key kept outside the database (AUDIT_KEYS): whoever can write to the
database but has not the key can neither change, remove, reorder nor add an entry without
`flask audit verify` finding it. Cutting off the tail is found against a head kept elsewhere
(`flask audit head`, `flask audit verify --head N:HASH`).

Entries written before the chain was keyed keep their plain SHA-256 hashes; the first keyed
entry after them is a marker (MARKER_ACTION) that chains onto the last of them, so the
unkeyed part is sealed by the first keyed hash.

Appends are serialised: on PostgreSQL by a transaction-scoped advisory lock, taken by the
database function audit_chain_tail() before it reads the last entry (migrations 0010, 0011),
on SQLite by BEGIN IMMEDIATE (see app/__init__.py), so two writers never chain onto the same
predecessor.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from sqlalchemy import insert, select, text

from app.domain import keyed_chain, settings
from app.domain.keyed_chain import Anchor, ChainReport, KeyRing
from app.extensions import db
from app.models import AuditEntry, User, utcnow

GENESIS_HASH = keyed_chain.GENESIS
CHAIN = "audit_entry"  # the chain's name in its MACs (keyed_chain's domain separation)
MARKER_ACTION = "audit.chain_keyed"
_CHAIN_LOCK_KEY = 0x0D00_57E9  # arbitrary constant naming "the audit chain" lock
# Built once: building a statement costs more than sending it (bench/instructions.py).
_LOCKED_TAIL = text("SELECT hash, key_id FROM audit_chain_tail(:k)")
_TAIL = select(AuditEntry.hash, AuditEntry.key_id).order_by(AuditEntry.id.desc()).limit(1)
_INSERT = insert(AuditEntry.__table__)


def key_ring(config: Any = None) -> KeyRing:
    """The chain keys of the app's settings (AUDIT_KEYS, AUDIT_ALGORITHM). A test or bench
    configuration made without them gets what the environment would give (app.config)."""
    config = settings.current().config if config is None else config
    if not config.get("AUDIT_KEYS"):
        from app import config as app_config

        config["AUDIT_KEYS"] = app_config.audit_keys(app_config._instance_path())
    return KeyRing(config["AUDIT_KEYS"], config.get("AUDIT_ALGORITHM") or keyed_chain.DEFAULT_ALGORITHM)


def entry_fields(at: dt.datetime, actor_id: int | None, action: str, object_type: str | None,
                 object_id: str | None, details: dict[str, Any]) -> list[Any]:
    """What an entry's keyed hash covers besides its links."""
    return [at.astimezone(dt.timezone.utc).isoformat(), actor_id, action, object_type, object_id, details]


def entry_hash(prev_hash: str, at: dt.datetime, actor_id: int | None, action: str,
               object_type: str | None, object_id: str | None, details: dict[str, Any]) -> str:
    payload = json.dumps(
        [prev_hash, at.astimezone(dt.timezone.utc).isoformat(), actor_id, action,
         object_type, object_id, details],
        sort_keys=True, ensure_ascii=False, separators=(",", ":"),
    )
    # The plain hash of the entries written before the chain was keyed: only verified now.
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def record(action: str, *, actor: User | int | None = None, object_type: str | None = None,
           object_id: Any = None, details: dict[str, Any] | None = None) -> None:
    """Append one entry to the chain in the current transaction (sent, not committed)."""
    session = db.session
    session.flush()  # the changes it records first, as their entry follows them
    if session.get_bind().dialect.name == "postgresql":
        # The lock, then the last entry, in one round trip (migrations 0010, 0011).
        tail = session.execute(_LOCKED_TAIL, {"k": _CHAIN_LOCK_KEY}).first()
    else:
        tail = session.execute(_TAIL).first()
    ring = key_ring()
    # Microseconds are dropped: every database keeps whole seconds the same way.
    at = utcnow().replace(microsecond=0)
    prev = GENESIS_HASH if tail is None or tail.hash is None else tail.hash
    if tail is not None and tail.hash is not None and tail.key_id is None:
        # The first keyed entry after the unkeyed ones: the marker, sealing them.
        prev = _append(ring, prev, at, None, MARKER_ACTION, None, None,
                       {"unkeyed_head": prev, "key_id": ring.signing_key_id, "algorithm": ring.algorithm})
    actor_id = actor.id if isinstance(actor, User) else actor
    details = json.loads(json.dumps(details or {}, ensure_ascii=False, default=str))
    oid = None if object_id is None else str(object_id)
    _append(ring, prev, at, actor_id, action, object_type, oid, details)


def _append(ring: KeyRing, prev: str, at: dt.datetime, actor_id: int | None, action: str,
            object_type: str | None, object_id: str | None, details: dict[str, Any]) -> str:
    link = ring.sign(CHAIN, prev, entry_fields(at, actor_id, action, object_type, object_id, details))
    # A Core insert, not an ORM object: nothing reads the entry back, and the ORM's
    # bookkeeping for one object costs more than the insert (bench/instructions.py).
    db.session.connection().execute(_INSERT, dict(
        at=at, actor_id=actor_id, action=action, object_type=object_type, object_id=object_id,
        details=details, prev_hash=prev, hash=link.hash, key_id=link.key_id, algorithm=link.algorithm))
    return link.hash


def _row(entry: AuditEntry) -> keyed_chain.Row:
    return keyed_chain.Row(
        id=entry.id, prev_hash=entry.prev_hash, hash=entry.hash, key_id=entry.key_id,
        algorithm=entry.algorithm, marker=entry.action == MARKER_ACTION,
        fields=entry_fields(entry.at, entry.actor_id, entry.action, entry.object_type, entry.object_id,
                            entry.details))


def _unkeyed_hash(row: keyed_chain.Row) -> str:
    at, actor_id, action, object_type, object_id, details = row.fields
    return entry_hash(row.prev_hash, dt.datetime.fromisoformat(at), actor_id, action, object_type,
                      object_id, details)


def verify_chain(anchors: list[Anchor] | tuple[Anchor, ...] = (), config: Any = None) -> ChainReport:
    """Walk the whole chain in order; report the first entry whose link or hash is wrong, a
    chain without its keyed part, or an anchored head it no longer reaches or no longer has."""
    rows = db.session.execute(select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=1000))
    return keyed_chain.verify((_row(e) for e in rows.scalars()), key_ring(config), CHAIN,
                              unkeyed_hash=_unkeyed_hash, anchors=anchors)


def head() -> Anchor | None:
    """The last entry's id and hash, to be kept outside the database (`flask audit head`)."""
    last = db.session.execute(select(AuditEntry.id, AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)).first()
    return None if last is None else Anchor(last.id, last.hash)
