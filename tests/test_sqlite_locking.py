"""SQLite has one write lock. Pages that only read must not wait for it; writes still take it
at BEGIN and wait their turn (app._sqlite_begin)."""
from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import time

import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.models import UserSession, utcnow


@pytest.fixture
def sqlite_path(app, db_name) -> str:
    if db_name != "sqlite":
        pytest.skip("PostgreSQL readers never wait for writers")
    return app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")


def _hold_write_lock(path: str) -> sqlite3.Connection:
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    return other


def test_a_page_that_reads_is_served_while_another_request_holds_the_write_lock(
        sqlite_path, client, units, make_user):
    make_user("collector", units["A"], username="zhang")
    client.login("zhang")
    writer = _hold_write_lock(sqlite_path)
    try:
        started = time.monotonic()
        assert client.get("/collect/").status_code == 200
        # With BEGIN IMMEDIATE on every request this waits for busy_timeout (30 s) and fails.
        assert time.monotonic() - started < 5
    finally:
        writer.rollback()
        writer.close()


def test_a_post_waits_for_the_write_lock_and_then_succeeds(sqlite_path, client, units, make_user):
    make_user("collector", units["A"], username="zhang")
    client.login("zhang")
    writer = _hold_write_lock(sqlite_path)
    release = threading.Timer(0.5, lambda: (writer.rollback(), writer.close()))
    release.start()
    try:
        started = time.monotonic()
        resp = client.post_form("/language", {"locale": "en"})
        assert resp.status_code == 302
        assert time.monotonic() - started >= 0.4  # it waited for the other writer
    finally:
        release.join()
    assert client.get("/collect/").status_code == 200
    assert "Households" in client.get("/collect/").get_data(as_text=True)


def test_a_read_page_still_refreshes_the_session(sqlite_path, client, units, make_user):
    # The once-a-minute refresh is the one write inside a GET: it ends the read transaction
    # and writes in its own one.
    make_user("collector", units["A"], username="zhang")
    client.login("zhang")
    two_minutes_ago = utcnow() - dt.timedelta(minutes=2)
    db.session.execute(update(UserSession).values(last_seen_at=two_minutes_ago))
    db.session.commit()
    assert client.get("/collect/").status_code == 200
    seen = db.session.scalar(select(UserSession.last_seen_at))
    assert seen > two_minutes_ago + dt.timedelta(minutes=1)
