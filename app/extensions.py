"""Flask extensions, created unbound and initialised in create_app()."""
from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app, g, has_app_context, has_request_context, request
from flask_babel import Babel
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from app.models.base import Base


def _json_text(value) -> str:
    # Chinese as UTF-8, not as \uXXXX escapes: a version's data and a list row's raw values
    # are mostly Chinese, and escaped they take twice the bytes to write, read and keep.
    return json.dumps(value, ensure_ascii=False)


db = SQLAlchemy(model_class=Base, engine_options={"json_serializer": _json_text})
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()


@contextmanager
def reads_only() -> Iterator[None]:
    """Transactions begun inside only read: on SQLite they begin deferred, without the one
    write lock (app._sqlite_begin). End such a transaction before writing: a deferred one
    that writes after another writer committed fails."""
    before = g.get("sqlite_reads_only", False)
    g.sqlite_reads_only = True
    try:
        yield
    finally:
        g.sqlite_reads_only = before


def request_only_reads() -> bool:
    """Will this transaction only read? Inside reads_only(), and in GET and HEAD requests: a
    GET view that writes says so with @writes_on_get (app.web). On SQLite such transactions
    begin deferred, without the write lock (app._sqlite_begin)."""
    if has_app_context() and g.get("sqlite_reads_only"):
        return True
    if not has_request_context() or request.method not in ("GET", "HEAD"):
        return False
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    writes = getattr(view, "writes_on_get", False)
    return not (writes() if callable(writes) else writes)  # a predicate: writes for some requests only


@contextmanager
def reads_first() -> Iterator[None]:
    """SQLite: the reads inside run in a deferred transaction that is ended (its rows kept,
    not expired) when they are done, so that a request that then writes takes the one write
    lock at its first write, not while it reads and checks: saves queue for that lock one at
    a time (docs/PERFORMANCE.md). Where the write lock is held already, or none will be
    taken, or on PostgreSQL, the reads simply run in the current transaction."""
    session = db.session()
    if db.engine.dialect.name != "sqlite" or request_only_reads() or _holds_write_lock(session):
        yield
        return
    with reads_only():
        yield
    if session.in_transaction() and not _holds_write_lock(session):
        _end_read(session)


def _end_read(session) -> None:
    """End a transaction that only read, keeping its rows (not expired). This is the one
    commit the domain's calls can reach, and it commits no work: without the write lock
    nothing was written, and a pending change (added, changed or deleted but not flushed)
    is a programming error here, not something to commit on the caller's behalf."""
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("reads_first() would commit unflushed changes; write after the reads")
    session.expire_on_commit = False
    try:
        session.commit()  # ends the read; nothing was written
    finally:
        session.expire_on_commit = True


def _holds_write_lock(session) -> bool:
    # The writer's turn is kept in the connection's info while it holds the lock
    # (app._wait_writer_turn).
    return session.in_transaction() and "writer_fd" in session.connection().info
