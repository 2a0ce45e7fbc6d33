"""The access log's writer: entries buffered in the process, appended in HMAC-chained batches.

A page that shows personal data adds one entry to an in-process buffer and returns; it never
writes to the database itself, so on SQLite it takes no write lock and on PostgreSQL it
never waits for the change audit's chain lock. A background thread (one per process, started
at the first entry, again after a fork) appends what is buffered every ACCESS_LOG_FLUSH_SECONDS
in one transaction: one `access_batch` row, whose hash is an HMAC over the batch's entries
and the previous batch's hash, and its `access_entry` rows. The buffer is flushed at exit
too (atexit); `flush()` does it on demand (tests, commands). With ACCESS_LOG_FLUSH_SECONDS=0
no thread runs and only flush() writes (the test suite, where each test has its own database).

Anonymous scans of card URLs are counted per day, address and outcome in the same flush
(scan_count), not written one row each; `Throttle` limits them per address.

What is lost: entries of a process killed outright (SIGKILL, power) since the last flush,
that is at most the flush interval's worth. A flush that fails keeps its entries for the next.
"""
from __future__ import annotations

import atexit
import collections
import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app
from sqlalchemy import func, insert, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.models import AccessBatch, AccessEntry, ScanCount, utcnow

log = logging.getLogger(__name__)

GENESIS_HASH = "0" * 64
_CHAIN_LOCK_KEY = 0x0ACC_E55  # PostgreSQL advisory lock naming "the access log's batch chain"
EXTENSION = "access_log"


def _canonical(value: Any) -> Any:
    """What the database gives back: JSON types only (details), whole seconds (times)."""
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


def _iso(at: dt.datetime) -> str:
    return at.astimezone(dt.timezone.utc).replace(microsecond=0).isoformat()


_FIELDS = ("at", "actor_id", "endpoint", "object_type", "object_id", "unit_path", "details", "address",
           "request_id")


def batch_hash(secret: str, key_id: str, prev_hash: str, at: dt.datetime, entries: list[dict[str, Any]]) -> str:
    """HMAC-SHA256 over the batch (its time, key id, the previous hash) and its entries in order."""
    rows = [[_iso(e["at"]) if k == "at" else e[k] for k in _FIELDS] for e in entries]
    payload = json.dumps([prev_hash, _iso(at), key_id, rows], sort_keys=True, ensure_ascii=False,
                         separators=(",", ":"))
    return hmac.new(secret.encode(), payload.encode("utf-8"), hashlib.sha256).hexdigest()


class Throttle:
    """At most `limit` events per key in a sliding window of `seconds`, counted in this process
    (a server of N worker processes lets through at most N times as many)."""

    def __init__(self, limit: int, seconds: float):
        self.limit, self.seconds = limit, seconds
        self._seen: dict[str, collections.deque] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        with self._lock:
            if len(self._seen) > 10_000:  # forget quiet keys, so that many addresses cannot grow it forever
                self._seen = {k: q for k, q in self._seen.items() if q and q[-1] > now - self.seconds}
            times = self._seen.setdefault(key, collections.deque())
            while times and times[0] <= now - self.seconds:
                times.popleft()
            if len(times) >= self.limit:
                return False
            times.append(now)
            return True


class AccessLog:
    """The buffer and flusher of one app (app.extensions["access_log"])."""

    def __init__(self, app: Flask):
        self.app = app
        self.interval = float(app.config.get("ACCESS_LOG_FLUSH_SECONDS", 2))
        self._pending: list[dict[str, Any]] = []
        self._scans: collections.Counter = collections.Counter()
        self._lock = threading.Lock()  # guards the buffer: held for an append, never for I/O
        self._flush_lock = threading.Lock()  # one flush at a time in this process
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self.card_scans = Throttle(int(app.config.get("CARD_SCANS_PER_MINUTE", 30)), 60)

    # ---------------------------------------------------------------- adding

    def add(self, *, actor_id: int | None, endpoint: str, object_type: str, object_id: Any = None,
            unit_path: str | None = None, details: dict[str, Any] | None = None, address: str | None = None,
            request_id: str | None = None) -> None:
        entry = {"at": utcnow().replace(microsecond=0), "actor_id": actor_id, "endpoint": endpoint[:64],
                 "object_type": object_type[:32], "object_id": None if object_id is None else str(object_id)[:64],
                 "unit_path": unit_path, "details": _canonical(details or {}),
                 "address": (address or None) and address[:64], "request_id": request_id}
        with self._lock:
            self._pending.append(entry)
        self._ensure_thread()

    def count_scan(self, day: dt.date, address: str, outcome: str) -> None:
        with self._lock:
            self._scans[(day, address[:64], outcome[:16])] += 1
        self._ensure_thread()

    def pending(self, actor_id: int | None = None, object_type: str | None = None) -> int:
        """Entries buffered and not yet written, of one actor and type (rate limits add them in)."""
        with self._lock:
            return sum(1 for e in self._pending if (actor_id is None or e["actor_id"] == actor_id)
                       and (object_type is None or e["object_type"] == object_type))

    # ---------------------------------------------------------------- the flusher thread

    def _ensure_thread(self) -> None:
        if self.interval <= 0:
            return
        pid = os.getpid()
        if self._thread is not None and self._pid == pid and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is not None and self._pid == pid and self._thread.is_alive():
                return
            if self._pid is not None and self._pid != pid:  # a forked worker: the parent's buffer is the parent's
                self._pending.clear()
                self._scans.clear()
                self._flush_lock = threading.Lock()
            self._pid = pid
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="access-log-flusher", daemon=True)
            self._thread.start()
            atexit.register(self.stop)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - kept for the next round; a dead thread would lose all
                log.exception("access log: flush failed, entries kept for the next one")

    def stop(self) -> None:
        """Stop the thread and write what is buffered (at exit, and in tests)."""
        atexit.unregister(self.stop)
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=30)
        self._thread = None
        try:
            self.flush()
        except Exception:  # noqa: BLE001 - at exit there is nobody left to tell but the log
            log.exception("access log: final flush failed; %d entries lost", len(self._pending))

    # ---------------------------------------------------------------- writing

    def flush(self) -> int:
        """Append what is buffered as one batch (and add the scan counts); the number of entries."""
        with self._flush_lock:
            with self._lock:
                entries, self._pending = self._pending, []
                scans, self._scans = self._scans, collections.Counter()
            if not entries and not scans:
                return 0
            try:
                with self.app.app_context():
                    _write(self.app, entries, scans)
            except Exception:
                with self._lock:  # back in front, in order, for the next flush
                    self._pending[:0] = entries
                    self._scans.update(scans)
                raise
            return len(entries)


def _write(app: Flask, entries: list[dict[str, Any]], scans: collections.Counter) -> None:
    from app.extensions import db

    # Its own connection and transaction, off any request: on SQLite it takes the write lock
    # here, in the flusher (app._sqlite_begin), on PostgreSQL the batch chain's own lock.
    with db.engine.begin() as conn:
        if entries:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CHAIN_LOCK_KEY})
            prev = conn.execute(select(AccessBatch.hash).order_by(AccessBatch.id.desc()).limit(1)).scalar()
            prev = prev or GENESIS_HASH
            key_id, secret = next(iter(app.config["ACCESS_LOG_KEYS"].items()))
            at = utcnow().replace(microsecond=0)
            batch_id = conn.execute(insert(AccessBatch).returning(AccessBatch.id), dict(
                at=at, entries=len(entries), key_id=key_id, prev_hash=prev,
                hash=batch_hash(secret, key_id, prev, at, entries))).scalar_one()
            conn.execute(insert(AccessEntry), [{**e, "batch_id": batch_id} for e in entries])
        if scans:
            upsert = (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(ScanCount)
            upsert = upsert.on_conflict_do_update(
                index_elements=["day", "address", "outcome"],
                set_={"count": ScanCount.count + upsert.excluded.count})
            conn.execute(upsert, [{"day": d, "address": a, "outcome": o, "count": n}
                                  for (d, a, o), n in scans.items()])


def init_app(app: Flask) -> AccessLog:
    access = AccessLog(app)
    app.extensions[EXTENSION] = access
    return access


def current() -> AccessLog:
    return current_app.extensions[EXTENSION]


# ---------------------------------------------------------------- verifying


@dataclass
class LogReport:
    batches: int
    entries: int
    broken_batch: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_batch is None and self.reason is None


def head() -> tuple[int, str] | None:
    """The last batch's position and hash, to keep elsewhere (`flask access head`)."""
    from app.extensions import db

    row = db.session.execute(select(AccessBatch.id, AccessBatch.hash).order_by(AccessBatch.id.desc()).limit(1)).first()
    return (row.id, row.hash) if row else None


def verify(keys: dict[str, str], anchor: tuple[int, str] | None = None) -> LogReport:
    """Walk the batches in order: each links to the one before, holds as many entries as it
    says, and its HMAC matches; no entry lies outside a batch. `anchor` (position, hash), kept
    elsewhere, must still be in the chain: a truncated or rewritten tail is found."""
    from app.extensions import db

    expected_prev, batches, checked = GENESIS_HASH, 0, 0
    anchor_seen = anchor is None
    rows = db.session.execute(select(AccessBatch).order_by(AccessBatch.id).execution_options(yield_per=500))
    for batch in rows.scalars().all():
        if batch.prev_hash != expected_prev:
            return LogReport(batches, checked, batch.id, "prev_hash does not match the batch before it")
        secret = keys.get(batch.key_id)
        if secret is None:
            return LogReport(batches, checked, batch.id, f"key {batch.key_id!r} is not configured")
        entries = [{k: getattr(e, k) for k in _FIELDS} for e in db.session.scalars(
            select(AccessEntry).where(AccessEntry.batch_id == batch.id).order_by(AccessEntry.id))]
        if len(entries) != batch.entries:
            return LogReport(batches, checked, batch.id,
                             f"holds {len(entries)} entries where it says {batch.entries}")
        if not hmac.compare_digest(batch_hash(secret, batch.key_id, batch.prev_hash, batch.at, entries), batch.hash):
            return LogReport(batches, checked, batch.id, "content does not match its hash")
        if anchor is not None and batch.id == anchor[0]:
            if batch.hash != anchor[1]:
                return LogReport(batches, checked, batch.id, "the anchored head's hash differs")
            anchor_seen = True
        expected_prev = batch.hash
        batches += 1
        checked += len(entries)
    total = db.session.scalar(select(func.count()).select_from(AccessEntry)) or 0
    if total != checked:
        return LogReport(batches, checked, None, f"{total - checked} entries lie outside the chained batches")
    if not anchor_seen:
        return LogReport(batches, checked, None, f"the anchored batch {anchor[0]} is missing (truncated)")
    return LogReport(batches, checked)


# ---------------------------------------------------------------- from a request


def record(object_type: str, *, actor_id: int | None, object_id: Any = None, unit_path: str | None = None,
           details: dict[str, Any] | None = None) -> None:
    """Buffer one entry; the request's endpoint, address and id are filled in when there is one."""
    from flask import g, has_request_context, request

    endpoint, address, request_id = "cli", None, None
    if has_request_context():
        endpoint = request.endpoint or request.path
        address = (request.remote_addr or "unknown")
        request_id = g.get("request_id")
    current().add(actor_id=actor_id, endpoint=endpoint, object_type=object_type, object_id=object_id,
                  unit_path=unit_path, details=details, address=address, request_id=request_id)


def recent(actor_id: int, object_type: str, since: dt.datetime) -> int:
    """Entries of one actor and type since a time: those written plus those still buffered here."""
    from app.extensions import db

    written = db.session.scalar(select(func.count()).select_from(AccessEntry).where(
        AccessEntry.actor_id == actor_id, AccessEntry.object_type == object_type, AccessEntry.at >= since)) or 0
    return written + current().pending(actor_id, object_type)


def under_limit(actor_id: int, object_type: str, window: dt.timedelta, limit: int) -> bool:
    """May a user at a screen or the API do one more of these within the window? Commands and
    jobs (an operator's own run, e.g. `flask demo`) are not limited; they are still logged."""
    from flask import has_request_context

    if not has_request_context():
        return True
    return recent(actor_id, object_type, utcnow() - window) < limit
