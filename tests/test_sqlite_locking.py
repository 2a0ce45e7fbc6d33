"""SQLite has one write lock. Pages that only read must not wait for it; writes still take it
at BEGIN and wait their turn (app._sqlite_begin)."""
from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import time

import pytest
from sqlalchemy import event, func, select, update

from app.extensions import db
from app.models import AdminUnit, UserSession, utcnow


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


def test_a_save_takes_the_write_lock_after_its_login_check_and_its_checks(sqlite_path, client, units,
                                                                          make_user):
    """The login check of a POST, and then the save's checks (ID numbers held elsewhere, the
    group), read in deferred transactions of their own; the write lock is taken at the first
    write, so it is not held while the form is parsed and checked."""
    from sqlalchemy import event

    from tests.support.households import family
    from tests.test_collect import fields, open_form

    make_user("collector", units["A"], username="zhang")
    client.login("zhang")
    url = f"/collect/households/new?unit_id={units['A'].id}"
    _page, tokens = open_form(client, url)
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args):
        statements.append(" ".join(statement.split())[:40])

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        resp = client.post_form(url, {**fields(family()), **tokens})
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert resp.status_code == 302
    # (post_form first GETs a page for the CSRF token: its reads come before.)
    assert statements.count("BEGIN IMMEDIATE") == 1
    lock = statements.index("BEGIN IMMEDIATE")
    login = max(i for i, s in enumerate(statements[:lock]) if s.startswith("SELECT user_session."))
    checks = next(i for i, s in enumerate(statements[:lock]) if s.startswith("SELECT person."))
    # The per-user limit of ID number lookups counts them first (the access log), in the same read.
    before_checks = [s for s in statements[:checks] if "FROM access_e" not in s]
    assert statements[login - 1] == "BEGIN" and before_checks[-1] == "BEGIN" and login < checks
    after = statements[lock + 1:]
    assert not any("user_session" in s or s.startswith("SELECT person.") for s in after)
    assert any(s.startswith("INSERT INTO household ") for s in after)


def test_writers_take_turns_on_the_writer_lock_file_and_leave_it_free(sqlite_path, client, units, make_user):
    """A writing request first waits for the writer lock file (woken at once when it is free,
    where SQLite's busy handler sleeps), and gives it back at its commit or rollback."""
    import fcntl
    import os

    make_user("collector", units["A"], username="zhang")
    client.login("zhang")
    db.session.commit()
    db.session.remove()  # the test's own session keeps no writer turn either
    fd = os.open(f"{sqlite_path}-writer", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another writer's turn
    release = threading.Timer(0.5, lambda: os.close(fd))
    release.start()
    try:
        started = time.monotonic()
        assert client.post_form("/language", {"locale": "en"}).status_code == 302
        assert time.monotonic() - started >= 0.4  # it waited for the turn
    finally:
        release.join()
    # Committed: the turn is free again, for a commit and for a refusal (rolled back) alike.
    assert client.post_form("/language", {"locale": "xx"}).status_code in (302, 400)
    probe = os.open(f"{sqlite_path}-writer", os.O_RDWR)
    try:
        fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises BlockingIOError if still held
    finally:
        os.close(probe)


def test_a_book_being_rendered_does_not_hold_the_write_lock(sqlite_path, app, client, units, make_user,
                                                            monkeypatch):
    """A print job renders in a read transaction: a collector's save meanwhile goes through at
    once, and the card it changed counts as changed since the book was printed."""
    import printing
    from app import runs
    from app.domain import books, print_jobs, registration
    from app.models import PrintJob, PrintJobKind
    from tests.support.households import TODAY, family
    from tests.test_collect import fields, open_form

    collector = make_user("collector", units["A"], username="zhang")
    clerk = make_user("clerk", units["T1"], username="clerk")
    h = registration.new_household(collector, unit_id=units["A"].id, data=family(), today=TODAY).household
    job = print_jobs.request_job(clerk, units["A"], PrintJobKind.book, book_no=1)
    job_id, household_id = job.id, h.id
    db.session.commit()  # and no transaction of the test's own stays open below (it would write)
    rendering, go_on = threading.Event(), threading.Event()
    real = printing.render_book

    def slow(*args, **kwargs):  # a render that takes as long as the test says
        rendering.set()
        go_on.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(printing, "render_book", slow)
    client.login("zhang")  # before the job starts: a login writes too
    url = f"/collect/households/new?unit_id={units['A'].id}"
    _page, tokens = open_form(client, url)
    worker = threading.Thread(target=lambda: _run_in_app(app, runs.run_print_job, job_id))
    worker.start()
    try:
        assert rendering.wait(30)
        answers = []
        saved = threading.Thread(target=lambda: answers.append(
            client.post_form(url, {**fields(family(seq=2)), **tokens})))
        started = time.monotonic()
        saved.start()
        saved.join(10)
        # With the job holding the write lock, the save would wait until the render is done.
        assert not saved.is_alive() and time.monotonic() - started < 5
        assert [a.status_code for a in answers] == [302]
        data = registration.get_household(collector, household_id).current_version.data
        data["household"]["door_no"] = "99号"
        registration.save_household(collector, household_id, data=data, base_number=1, today=TODAY)
        db.session.commit()  # changed while its page is being rendered
    finally:
        go_on.set()
        worker.join(60)
    db.session.expire_all()
    assert db.session.get(PrintJob, job_id).state == "done"
    assert [s.household_id for s in books.changed_slots(units["A"], 1)] == [household_id]


def _run_in_app(app, fn, *args):
    with app.app_context():
        fn(*args)


def _write_lock_is_free(path: str) -> bool:
    probe = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.rollback()
        return True
    except sqlite3.OperationalError:  # "database is locked": another connection holds it
        return False
    finally:
        probe.close()


@pytest.mark.parametrize("password", ["wrong password", "correct horse battery"])
def test_login_checks_the_password_before_taking_the_write_lock(sqlite_path, client, units, make_user,
                                                                 monkeypatch, password):
    """argon2 takes a tenth of a second or more: under the write lock, twelve wrong passwords at
    once held every collector's save for seconds (issue 15, item 11). The check runs with the
    lock free; the failure or the session is then written under it."""
    from app.domain import auth

    make_user("collector", units["A"], username="zhang")
    token = client.csrf_token()
    db.session.commit()
    db.session.remove()
    statements: list[str] = []
    checks: list[tuple[int, bool]] = []
    real = auth.check_password

    def seen(_conn, _cursor, statement, *_args):
        statements.append(" ".join(statement.split())[:80])

    def check(*args):
        checks.append((len(statements), _write_lock_is_free(sqlite_path)))
        return real(*args)

    monkeypatch.setattr(auth, "check_password", check)
    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        resp = client.post("/login", data={"username": "zhang", "password": password, "csrf_token": token})
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert resp.status_code == (401 if password.startswith("wrong") else 302)
    [(at, free)] = checks
    assert free, "the write lock was held during the password check"
    assert "BEGIN IMMEDIATE" not in statements[:at] and "BEGIN IMMEDIATE" in statements[at:]
    # The count of recent failures is read again under the lock (below), and the answer written there.
    after = statements[statements.index("BEGIN IMMEDIATE", at) + 1:]
    assert "FROM login_failure" in after[0]


def test_parallel_wrong_passwords_still_stop_at_the_limit(sqlite_path, app, client, new_client, units,
                                                          make_user):
    """Checked outside the lock, side by side: the failures are counted again under it, so eight
    wrong passwords at once record five failures (the limit) and the rest are throttled."""
    from app.models import LoginFailure

    make_user("collector", units["A"], username="zhang")
    clients = [new_client() for _ in range(8)]
    tokens = [c.csrf_token() for c in clients]
    db.session.commit()
    db.session.remove()
    answers: list[int] = []
    start = threading.Barrier(len(clients))

    def attempt(c, token):
        start.wait()
        answers.append(c.post("/login", data={"username": "zhang", "password": "wrong password",
                                              "csrf_token": token}).status_code)

    threads = [threading.Thread(target=attempt, args=pair) for pair in zip(clients, tokens)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(answers) == [401] * 5 + [429] * 3
    assert db.session.scalar(select(func.count()).select_from(LoginFailure)) == 5
    assert client.post_form("/login", {"username": "zhang", "password": "correct horse battery"}).status_code == 429


def test_a_batch_commit_checkpoints_after_giving_up_its_turn(sqlite_path, units, monkeypatch):
    """No checkpoint inside a COMMIT (it would run while the writer still holds its turn, and
    every other writer would wait for it): the batch copies the WAL into the database file
    itself, after its turn is given up."""
    import app as app_module

    conn = db.session.connection()
    assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
    turns_held: list[bool] = []
    checkpoint = app_module._checkpoint
    monkeypatch.setattr(app_module, "_last_batch_checkpoint", 0.0)
    monkeypatch.setattr(app_module, "_checkpoint",
                        lambda c: (turns_held.append("writer_fd" in conn.info), checkpoint(c)))
    db.session.execute(update(AdminUnit).values(name=AdminUnit.name + ""))  # a write: takes the turn
    assert "writer_fd" in conn.info
    db.session.commit()
    assert turns_held == [False]
    reader = sqlite3.connect(sqlite_path)
    try:  # everything committed is in the database file: nothing left to copy
        busy, log, copied = reader.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        assert busy == 0 and log == copied and log > 0
    finally:
        reader.close()
