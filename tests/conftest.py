"""Fixtures: every database test runs on SQLite and on PostgreSQL.

- SQLite: the schema is migrated once into a template file, copied for each test.
- PostgreSQL: a throw-away database per test session on the local server
  (DOORSTEP_TEST_PG, default postgresql://root@127.0.0.1:5432/test is used to create it),
  emptied before each test. Unreachable: skipped, except when CI=true, where it fails.
CSRF protection stays on in tests: clients fetch the token from a rendered form.
pytest's summary says which databases the tests ran on (pytest_terminal_summary).
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid

import psycopg
import pytest
from flask import has_app_context
from flask.testing import FlaskClient
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine

from app import create_app
from app.config import DEFAULT_MAX_REQUEST_BYTES, request_limits
from app.extensions import db

# Print jobs run at once, in the test's thread, instead of waiting for a queue consumer
# (tests/test_jobs.py runs a real consumer). The queue's storage goes to a scratch folder.
os.environ.setdefault("DOORSTEP_INSTANCE", tempfile.mkdtemp(prefix="doorstep-instance-"))
from app.jobs import huey  # noqa: E402

huey.immediate = True

PG_ADMIN_URL = os.environ.get("DOORSTEP_TEST_PG", "postgresql://root@127.0.0.1:5432/test")
FAST_ARGON2 = {"ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 8, "ARGON2_PARALLELISM": 1}


def base_config(database_uri: str, **extra) -> dict:
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_uri,
        "SECRET_KEY": "test-" + uuid.uuid4().hex,
        "BASE_URL": "http://testserver",
        "CARD_KEYS": {"1": "test-card-key-one-" + "1" * 32},
        "AUDIT_KEYS": {"1": "test-audit-key-one-" + "1" * 32},
        "AUDIT_ALGORITHM": "hmac-sha256",
        "BOOK_SIZE": 100,
        "PRINT_PATH": tempfile.mkdtemp(prefix="doorstep-prints-"),
        "PRINT_KEEP_DAYS": 7,
        "PRINT_JOB_STALE_AFTER": 600,
        "PRINT_JOB_MAX_ATTEMPTS": 3,
        "REDIS_URL": "",
        "BABEL_DEFAULT_LOCALE": "zh_CN",
        "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
        "SESSION_IDLE_MINUTES": 720,
        "LOGIN_WINDOW_SECONDS": 60,
        "LOGIN_FAILURES_PER_ACCOUNT": 5,
        "LOGIN_FAILURES_PER_ADDRESS": 20,
        "PROXY_COUNT": 0,
        "WTF_CSRF_TIME_LIMIT": None,
        **request_limits(DEFAULT_MAX_REQUEST_BYTES),
        # No flusher thread: each test's database is its own; tests flush the access log themselves.
        "ACCESS_LOG_FLUSH_SECONDS": 0,
        **FAST_ARGON2,
        **extra,
    }


def pytest_sessionstart(session):
    """Compile the translation catalogs, so that running pytest directly shows Chinese."""
    from pathlib import Path

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in Path(__file__).resolve().parent.parent.glob("app/translations/*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            with po.open("rb") as f:
                catalog = read_po(f)
            with mo.open("wb") as f:
                write_mo(f, catalog)


# ---------------------------------------------------------------- which databases the tests ran on

# Every engine connection of the session (the app's, migrations', the browser tests' live
# server in its thread) is noted, so that the summary names the databases really used.
_USED: dict[str, str] = {}  # dialect -> how the summary names it
_PG_SKIPPED: list[str] = []  # why PostgreSQL was not used, when it was not


@event.listens_for(Engine, "engine_connect")
def _note_database(conn: Connection) -> None:
    name = conn.dialect.name
    if name in _USED:
        return
    if name == "postgresql":
        version = ".".join(str(n) for n in (conn.dialect.server_version_info or ())[:2])
        url = conn.engine.url
        _USED[name] = " ".join(filter(None, ["PostgreSQL", version, f"at {url.host}:{url.port or 5432}"]))
    else:
        _USED[name] = {"sqlite": "SQLite"}.get(name, name)


def databases_line() -> str:
    """`databases: SQLite, PostgreSQL 15.14 at 127.0.0.1:5432`, or why PostgreSQL was skipped."""
    used = [_USED[name] for name in sorted(_USED, key=lambda n: n != "sqlite")]
    line = "databases: " + (", ".join(used) if used else "none (no test here used one)")
    if "postgresql" not in _USED and _PG_SKIPPED:
        line += f"; PostgreSQL: skipped ({_PG_SKIPPED[0]})"
    return line


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    # Printed before pytest's own closing line ("N passed in ..."), which stays last.
    terminalreporter.write_line(databases_line())


# ---------------------------------------------------------------- PostgreSQL server

def _pg_reachable() -> str | None:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except Exception as e:  # noqa: BLE001 - any failure means "not reachable"
        return str(e)


def _pg_where() -> str:
    info = conninfo_to_dict(PG_ADMIN_URL)
    return f"{info.get('host', 'localhost')}:{info.get('port', 5432)}"


@pytest.fixture(scope="session")
def pg_admin():
    """Create and drop databases on the local PostgreSQL server."""
    problem = _pg_reachable()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL at {PG_ADMIN_URL} is not reachable under CI: {problem}")
        _PG_SKIPPED.append(f"not reachable at {_pg_where()}: {problem.strip().splitlines()[0].strip()}")
        pytest.skip(f"PostgreSQL not reachable ({problem})")
    created: list[str] = []

    def create(prefix: str = "doorstep_test") -> str:
        name = f"{prefix}_{os.getpid()}_{len(created)}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        base = PG_ADMIN_URL.rsplit("/", 1)[0]
        return f"{base}/{name}".replace("postgresql://", "postgresql+psycopg://", 1)

    yield create
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        for name in created:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrate_to_head(uri: str) -> None:
    from flask_migrate import upgrade

    app = create_app(base_config(uri))
    with app.app_context():
        upgrade()
        db.engine.dispose()


# ---------------------------------------------------------------- per-backend database

@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(request, tmp_path_factory):
    """(name, factory) where factory() gives an empty, migrated database URI for one test."""
    if request.param == "sqlite":
        template = tmp_path_factory.mktemp("sqlite") / "template.sqlite"
        migrate_to_head(f"sqlite:///{template}")
        counter = iter(range(10**9))

        def fresh() -> str:
            path = template.parent / f"test-{next(counter)}.sqlite"
            shutil.copyfile(template, path)
            return f"sqlite:///{path}"

        return "sqlite", fresh

    pg_admin = request.getfixturevalue("pg_admin")
    uri = pg_admin()
    migrate_to_head(uri)

    def fresh() -> str:
        return uri

    return "postgresql", fresh


def empty_postgres(app) -> None:
    with app.app_context():
        tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
        with db.engine.begin() as conn:
            # replica role: the audit log's append-only triggers stand aside for test clean-up.
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def app(backend):
    name, fresh = backend
    application = create_app(base_config(fresh()))
    if name == "postgresql":
        empty_postgres(application)
    with application.app_context():
        yield application
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def db_name(backend) -> str:
    return backend[0]


# ---------------------------------------------------------------- HTTP clients

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


class Client(FlaskClient):
    """A test client that logs in through the real form and sends the CSRF token.

    Each request runs in a fresh app context, as on a real server: its own `g` and its own
    database session. The test's session commits before (so the request sees the test's
    data and SQLite's write lock is free) and forgets its cache after (so the test sees the
    request's changes).
    """

    def open(self, *args, **kwargs):
        if has_app_context():
            db.session.commit()
        with self.application.app_context():
            response = super().open(*args, **kwargs)
        if has_app_context():
            db.session.expire_all()
        return response

    def csrf_token(self) -> str:
        page = self.get("/login", follow_redirects=True).get_data(as_text=True)
        match = CSRF_RE.search(page)
        assert match, "no CSRF token on the page"
        return match.group(1)

    def post_form(self, url: str, data: dict | None = None, **kwargs):
        data = dict(data or {})
        data.setdefault("csrf_token", self.csrf_token())
        return self.post(url, data=data, **kwargs)

    def login(self, username: str, password: str = "correct horse battery"):
        resp = self.post_form("/login", {"username": username, "password": password})
        assert resp.status_code == 302, f"login of {username} failed: {resp.status_code}"
        return resp

    def logout(self):
        return self.post_form("/logout")


@pytest.fixture
def client(app) -> Client:
    app.test_client_class = Client
    return app.test_client()


@pytest.fixture
def new_client(app):
    """Another browser: a client with its own cookies."""
    def make() -> Client:
        app.test_client_class = Client
        return app.test_client()
    return make


# ---------------------------------------------------------------- data

PASSWORD = "correct horse battery"


@pytest.fixture
def units(app):
    """A small tree: one county with two townships; township T1 has villages A and B
    (A with two groups), township T2 has village C."""
    from app.domain.units import get_or_create_unit as add
    from app.models import UnitLevel as L

    p = add("110000000000", "北京市", L.province, None)
    c = add("110100000000", "市辖区", L.city, p)
    county = add("110101000000", "东城区", L.county, c)
    t1 = add("110101001000", "东华门街道", L.township, county)
    t2 = add("110101002000", "景山街道", L.township, county)
    a = add("110101001001", "多福巷社区", L.village, t1)
    b = add("110101001002", "银闸社区", L.village, t1)
    cc = add("110101002001", "隆福寺社区", L.village, t2)
    a1 = add("110101001001001", "第一组", L.group, a)
    a2 = add("110101001001002", "第二组", L.group, a)
    db.session.commit()
    return {"province": p, "city": c, "county": county, "T1": t1, "T2": t2,
            "A": a, "B": b, "C": cc, "A1": a1, "A2": a2}


@pytest.fixture
def make_user(app):
    """make_user(role, unit, username=None) -> User, created through the domain and committed."""
    from app.domain.users import create_user
    from app.models import Role

    counter = iter(range(10**6))

    def make(role: str, unit, username: str | None = None, password: str = PASSWORD, **kw):
        user = create_user(None, username=username or f"{role}{next(counter)}", name=kw.pop("name", "测试用户"),
                           password=password, role=Role(role), unit=unit, **kw)
        db.session.commit()
        return user

    return make
