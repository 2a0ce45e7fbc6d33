"""Logging in and out: argon2id, throttling, server-side sessions, audit, redirects."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, update

from app.extensions import db
from app.models import AuditEntry, LoginFailure, User, UserSession, utcnow
from tests.conftest import PASSWORD


def _actions() -> list[str]:
    return list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def test_login_opens_a_session_and_is_audited(client, units, make_user):
    user = make_user("collector", units["A"], username="zhang")
    resp = client.login("zhang")
    assert resp.headers["Location"] == "/"
    assert client.get("/").status_code == 200
    assert _actions()[-1] == "auth.login"
    assert db.session.scalar(select(func.count()).select_from(UserSession)
                             .where(UserSession.user_id == user.id)) == 1


def test_username_is_case_insensitive(client, units, make_user):
    make_user("collector", units["A"], username="zhang")
    client.login("  ZHANG ")


def test_wrong_password_and_unknown_user_get_the_same_answer(client, units, make_user):
    make_user("collector", units["A"], username="zhang")
    bad = client.post_form("/login", {"username": "zhang", "password": "wrong password"})
    unknown = client.post_form("/login", {"username": "nobody", "password": "wrong password"})
    assert bad.status_code == unknown.status_code == 401
    error = 'data-testid="login-error"'
    assert error in bad.get_data(as_text=True) and error in unknown.get_data(as_text=True)
    assert _actions()[-2:] == ["auth.login_failed", "auth.login_failed"]
    assert client.get("/").status_code == 302  # still not logged in


def test_inactive_user_cannot_log_in(client, units, make_user):
    user = make_user("collector", units["A"], username="zhang")
    user.active = False
    db.session.commit()
    resp = client.post_form("/login", {"username": "zhang", "password": PASSWORD})
    assert resp.status_code == 401


def test_five_failures_a_minute_throttle_the_account_only(client, new_client, units, make_user):
    make_user("collector", units["A"], username="zhang")
    make_user("collector", units["A"], username="li")
    for _ in range(5):
        assert client.post_form("/login", {"username": "zhang", "password": "nope nope"}).status_code == 401
    # Now even the right password is refused for a while, with a clear message.
    resp = client.post_form("/login", {"username": "zhang", "password": PASSWORD})
    assert resp.status_code == 429
    assert 'data-testid="login-error"' in resp.get_data(as_text=True)
    assert _actions()[-1] == "auth.login_throttled"
    # Another account from the same address is unaffected.
    new_client().login("li")
    # After the window has passed, the account works again.
    db.session.execute(update(LoginFailure).values(at=utcnow() - dt.timedelta(minutes=2)))
    db.session.commit()
    client.login("zhang")


def test_many_failures_from_one_address_throttle_that_address(app, client, new_client, units, make_user):
    make_user("collector", units["A"], username="zhang")
    limit = app.config["LOGIN_FAILURES_PER_ADDRESS"]
    for i in range(limit):
        client.post_form("/login", {"username": f"guess{i}", "password": "nope nope"})
    assert client.post_form("/login", {"username": "zhang", "password": PASSWORD}).status_code == 429
    other = new_client()
    other.environ_base["REMOTE_ADDR"] = "10.9.8.7"
    other.login("zhang")


def test_password_is_rehashed_when_parameters_change(app, client, units, make_user):
    user = make_user("collector", units["A"], username="zhang")
    old_hash = user.password_hash
    assert old_hash.startswith("$argon2id$") and "t=1" in old_hash
    app.config["ARGON2_TIME_COST"] = 2
    client.login("zhang")
    db.session.expire_all()
    new_hash = db.session.get(User, user.id).password_hash
    assert new_hash != old_hash and "t=2" in new_hash
    client.logout()
    client.login("zhang")  # the new hash verifies


def test_login_starts_a_fresh_session(client, units, make_user):
    make_user("collector", units["A"], username="zhang")
    client.get("/login")
    with client.session_transaction() as s:
        s["planted"] = "by someone else"
        before = dict(s)
    client.login("zhang")
    with client.session_transaction() as s:
        assert "planted" not in s
        assert s.get("_user_id") and s.get("_user_id") != before.get("_user_id")
        first_token = s["_user_id"]
    client.logout()
    client.login("zhang")
    with client.session_transaction() as s:
        assert s["_user_id"] != first_token


def test_logout_ends_the_session_even_for_a_copied_cookie(client, new_client, units, make_user):
    make_user("collector", units["A"], username="zhang")
    client.login("zhang")
    stolen = client.get_cookie("session").value
    thief = new_client()
    thief.set_cookie("session", stolen)
    assert thief.get("/").status_code == 200
    client.logout()
    assert client.get("/").status_code == 302
    assert thief.get("/").status_code == 302
    assert _actions()[-1] == "auth.logout"


def test_idle_session_expires(app, client, units, make_user):
    make_user("collector", units["A"], username="zhang")
    client.login("zhang")
    db.session.execute(update(UserSession).values(
        last_seen_at=utcnow() - dt.timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] + 1)))
    db.session.commit()
    assert client.get("/").status_code == 302


def test_next_parameter_cannot_leave_the_site(client, units, make_user):
    make_user("collector", units["A"], username="zhang")
    for target, expected in [("/units/", "/units/"), ("//evil.example/x", "/"),
                             ("https://evil.example/", "/")]:
        resp = client.post_form("/login", {"username": "zhang", "password": PASSWORD, "next": target})
        assert resp.headers["Location"] == expected
        client.logout()


def test_language_is_remembered_per_user(client, units, make_user):
    user = make_user("collector", units["A"], username="zhang")
    client.login("zhang")
    assert 'lang="zh-CN"' in client.get("/").get_data(as_text=True)
    client.post_form("/language", {"locale": "en", "next": "/"})
    assert 'lang="en"' in client.get("/").get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, user.id).locale == "en"
