"""Doorstep: door-to-door population registration."""
from __future__ import annotations

import fcntl
import hashlib
import hmac
import os
import sqlite3
import time
from functools import lru_cache
from pathlib import Path

from babel import Locale
from flask import (Flask, current_app, has_app_context, has_request_context, jsonify, redirect, render_template, request, session,
                   url_for)
from flask_babel import format_date, format_datetime, get_locale
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from app import config as config_module
from app.domain.errors import DomainError
from app.extensions import babel, csrf, db, login_manager, migrate, reads_first, request_only_reads
from app.routing import DatabaseIntConverter

LOCALES = ("zh_CN", "en")


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    if isinstance(dbapi_connection, sqlite3.Connection):
        # Let SQLAlchemy emit BEGIN itself (below), instead of pysqlite's implicit one.
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA synchronous=NORMAL")
        # 64 MB of page cache a connection (SQLite's default is 2 MB): a county's registry is
        # some 1 GB, and a batch writing a village's persons touches thousands of index pages;
        # with 2 MB they were read again from the OS for each statement (bench/registry.py).
        cur.execute("PRAGMA cache_size=-65536")
        # No checkpoint inside a COMMIT: it would run while the writer still holds its turn
        # (the flock below), and every other writer would wait for it. _sqlite_commit
        # checkpoints after letting the next writer in.
        cur.execute("PRAGMA wal_autocheckpoint=0")
        cur.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn):
    # SQLite: a transaction that will write takes the write lock at BEGIN (IMMEDIATE). A
    # deferred transaction that reads and then writes fails with "database is locked" when
    # another writer got in between; with IMMEDIATE it waits its turn (busy_timeout) and
    # nothing accepted is lost. Pages that only read (GET, HEAD) begin deferred, so readers
    # never queue for the one write lock (docs/PERFORMANCE.md: seconds-long waits otherwise).
    if conn.dialect.name != "sqlite":
        return
    if request_only_reads():
        conn.exec_driver_sql("BEGIN")
        return
    _wait_writer_turn(conn)
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _wait_writer_turn(conn) -> None:
    """Writers of one SQLite file first queue on a lock file (flock): the kernel wakes the
    next one the moment the previous commits. SQLite's own busy handler polls instead, with
    sleeps growing to 100 ms, so a waiting writer mostly sleeps while the lock is free."""
    database = conn.engine.url.database
    if not database or database == ":memory:" or "writer_fd" in conn.info:
        return
    fd = os.open(f"{database}-writer", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    conn.info["writer_fd"] = fd


@event.listens_for(Engine, "commit")
def _sqlite_commit(conn):
    if "writer_fd" in conn.info:
        # Commit here, then let the next writer in: released before the commit, it would find
        # SQLite's lock still taken and sleep in the busy handler (the driver's commit that
        # follows has nothing left to do).
        conn.exec_driver_sql("COMMIT")
        _writer_done(conn.info)
        _checkpoint(conn.connection.dbapi_connection)


# A web process checkpoints after this many of its commits (a few saves' pages each time); a
# batch (command, job), whose chunks are most of the pages written, at most once a second (a
# checkpoint after each of a county import's 1,600 chunks doubled its time: an fsync each).
WEB_CHECKPOINT_EVERY = 50
BATCH_CHECKPOINT_SECONDS = 1.0
_web_commits = 0
_last_batch_checkpoint = 0.0


def _checkpoint(dbapi_connection) -> None:
    """Copy the WAL's committed pages into the database file (PASSIVE: waits for no one, and
    holds no writer's turn), so that the WAL stays small for readers."""
    global _web_commits, _last_batch_checkpoint
    if has_request_context():
        _web_commits += 1
        if _web_commits % WEB_CHECKPOINT_EVERY:
            return
    else:
        now = time.monotonic()
        if now - _last_batch_checkpoint < BATCH_CHECKPOINT_SECONDS:
            return
        _last_batch_checkpoint = now
    dbapi_connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


@event.listens_for(Engine, "rollback")
def _sqlite_rollback(conn):
    _writer_done(conn.info)


@event.listens_for(Pool, "checkin")
def _sqlite_checkin(_dbapi_connection, record):
    _writer_done(record.info)  # never keep the turn past the connection's use


def _writer_done(info: dict) -> None:
    fd = info.pop("writer_fd", None)
    if fd is not None:
        os.close(fd)  # closing the file releases its flock


def select_locale() -> Locale:
    if not has_request_context():  # command line: the default language
        return _parsed_locale(current_app.config.get("BABEL_DEFAULT_LOCALE", "zh_CN"))
    if current_user and current_user.is_authenticated:
        return _parsed_locale(current_user.locale)
    return _parsed_locale(session.get("locale") if session.get("locale") in LOCALES else "zh_CN")


@lru_cache(maxsize=None)
def _parsed_locale(identifier: str) -> Locale:
    """Babel parses "zh_CN" by comparing it with each of its ~1,000 locale names (it has no
    file of that name), which Flask-Babel did on every request that translated: about a
    tenth of a household save's time (bench/submit.py --profile). Parsed once per process."""
    return Locale.parse(identifier)


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=False)
    app.config.update(config_module.from_environment() if not (config or {}).get("TESTING") else {})
    if config:
        app.config.update(config)
    _access_log_defaults(app)
    if app.config.get("PROXY_COUNT"):
        n = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)

    # Before any route is added: every <int:...> is bounded by the database's integers (app/routing.py).
    app.url_map.converters["int"] = DatabaseIntConverter
    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).resolve().parent.parent / "migrations"),
                     render_as_batch=True, compare_type=True)
    from app.web import init_access_logging, init_upload_limits
    init_upload_limits(app)  # before the CSRF check, which reads the body
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    _init_login(app)
    _init_settings(app)
    init_access_logging(app)
    _register_blueprints(app)
    _register_errors(app)
    _register_template_helpers(app)
    _register_security_headers(app)

    from app.cli import register_cli
    register_cli(app)
    return app


def _init_settings(app: Flask) -> None:
    """The domain reads its settings from one object (app.domain.settings), never from
    current_app: each app context (a request, a CLI command, a queued job) puts this app's."""
    from flask import appcontext_popped, appcontext_pushed

    from app.domain import settings

    app.extensions["doorstep.settings"] = settings.Settings(app.config)

    def pushed(sender: Flask, **_extra) -> None:
        settings.put(sender.extensions["doorstep.settings"])

    def popped(sender: Flask, **_extra) -> None:
        # The context still current after the pop (an outer one), if any, is put back.
        outer = current_app._get_current_object() if has_app_context() else None  # type: ignore[attr-defined]
        settings.put(outer.extensions.get("doorstep.settings") if outer is not None else None)

    appcontext_pushed.connect(pushed, app, weak=False)
    appcontext_popped.connect(popped, app, weak=False)


def _access_log_defaults(app: Flask) -> None:
    """Settings of the access log for a config given whole (tests, scripts); from_environment()
    sets them all in production."""
    if not app.config.get("ACCESS_LOG_KEYS") and app.config.get("AUDIT_KEYS"):
        app.config["ACCESS_LOG_KEYS"] = app.config["AUDIT_KEYS"]  # one key source for both logs
    if not app.config.get("ACCESS_LOG_KEYS"):
        # No audit keys either (a bare config): a key derived from SECRET_KEY, which is kept
        # outside the database as well.
        derived = hmac.new(str(app.config.get("SECRET_KEY", "")).encode(), b"access-log", hashlib.sha256)
        app.config["ACCESS_LOG_KEYS"] = {"1": derived.hexdigest()}
    app.config.setdefault("ACCESS_LOG_FLUSH_SECONDS", 2)
    app.config.setdefault("CARD_SCANS_PER_MINUTE", 30)
    app.config.setdefault("ID_LOOKUPS_PER_HOUR", 120)


def _init_login(app: Flask) -> None:
    from app.domain import auth

    login_manager.init_app(app)
    login_manager.session_protection = None  # sessions are server-side rows; see domain.auth
    login_manager.login_view = "auth.login"

    @login_manager.user_loader
    def load_user(token: str):
        # SQLite: not under the write lock of a request that will write (reads_first).
        with reads_first():
            user, stale = auth.load_session_user(app.config, token)
        if stale is not None:
            # End the read first: the UPDATE then opens its own short transaction and waits
            # for the write lock, where a read transaction of a GET on SQLite could not take it.
            db.session.commit()
            auth.touch_session(stale)
            db.session.commit()
        return user

    @app.before_request
    def require_login():
        # Secure by default: every endpoint needs a login unless marked @public.
        if request.endpoint is None:
            return None
        view = app.view_functions.get(request.endpoint)
        if request.endpoint == "static" or getattr(view, "is_public", False):
            return None
        if not current_user.is_authenticated:
            if request.path.startswith("/api/"):
                return jsonify(code="E1001", message=_("Please log in.")), 401  # app/api/errors.py
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return None


def _register_blueprints(app: Flask) -> None:
    from app.api import init_api
    from app.web import (admin, auth, books, cards, collect, conflicts, devices, events, history, home, lists,
                         offline, prefill, quality, review, scorecard, security, spot_checks, units)
    from app.web import duplicates

    for bp in (auth.bp, home.bp, units.bp, admin.bp, collect.bp, review.bp, cards.bp, books.bp,
               conflicts.bp, devices.bp, offline.bp, history.bp, events.bp, security.bp, lists.bp, prefill.bp,
               spot_checks.bp, duplicates.bp, scorecard.bp, quality.bp):
        app.register_blueprint(bp)
    init_api(app)


def _register_errors(app: Flask) -> None:
    from app.api import PREFIX as API_PREFIX
    from app.api import http_answer

    def wants_json() -> bool:
        return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"

    def error_page(status: int, message: str):
        if wants_json():
            return jsonify(code=f"http.{status}", message=message), status
        return render_template("error.html", status=status, message=message), status

    @app.errorhandler(DomainError)
    def domain_error(e: DomainError):
        db.session.rollback()
        return error_page(e.status, e.message)

    @app.errorhandler(CSRFError)
    def csrf_error(e: CSRFError):
        msg = _("The form has expired or was not sent from this site. Please reload the page and try again.")
        return error_page(400, msg)

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        if request.path.startswith(f"{API_PREFIX}/"):  # no route matched: still the API's catalogue
            return http_answer(e)
        messages = {
            403: _("You do not have permission to see this page."),
            404: _("This page does not exist, or you may not see it."),
            405: _("This action is not allowed here."),
            413: _("What was sent is too large for the server, and nothing was saved. A text or "
                   "signature may be far longer than any form needs: shorten it and send again."),
            429: _("Too many requests. Please wait a minute and try again."),
        }
        return error_page(e.code or 500, messages.get(e.code, e.description or e.name))


def _register_template_helpers(app: Flask) -> None:
    from app.domain import scope

    # Dates as 2026-11-23 in every language, times in the display time zone.
    app.jinja_env.filters["date"] = lambda d: format_date(d, "yyyy-MM-dd") if d else ""
    app.jinja_env.filters["datetime"] = lambda d: format_datetime(d, "yyyy-MM-dd HH:mm") if d else ""
    app.jinja_env.globals["role_label"] = scope.role_label
    app.jinja_env.globals["LOCALES"] = LOCALES
    app.jinja_env.globals["get_locale"] = get_locale


# Scripts and styles only from our own files: the templates carry no inline script (the
# <script type="application/json"> blocks are data, which a CSP does not run or block) and no
# style attribute or <style> element, so neither needs 'unsafe-inline'. Setting a style from
# a script (el.style.width) is CSSOM, which style-src does not govern.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "connect-src 'self'",
    "worker-src 'self'",
    "manifest-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
# Answers without personal data that a browser may keep (each sets its own Cache-Control): the
# static files and the phone app's shell. Everything else, pages, API answers, PDFs and
# redirects alike, is "no-store": phones and PCs are shared. The service worker still keeps its
# copies of the collector's pages: the Cache API ignores Cache-Control (static/pwa/sw.js), and
# logging out clears them (static/pwa/offline.js).
CACHEABLE_ENDPOINTS = frozenset({"static", "offline.service_worker", "offline.manifest", "api.form"})


def _register_security_headers(app: Flask) -> None:
    @app.after_request
    def security_headers(response):
        headers = response.headers
        headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        headers["X-Frame-Options"] = "DENY"  # frame-ancestors for browsers without CSP 2
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "same-origin"  # card URLs carry their tag; never sent to other sites
        if request.is_secure:
            headers["Strict-Transport-Security"] = "max-age=31536000"
        if request.endpoint not in CACHEABLE_ENDPOINTS or "Cache-Control" not in headers:
            headers["Cache-Control"] = "no-store"
            headers.pop("Expires", None)
        return response
