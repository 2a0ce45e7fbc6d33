"""Logging in and out: throttling, argon2id, server-side sessions, audit.

The cookie carries a random session token; the database keeps its SHA-256 in
`user_session`. Logging out, deactivating a user or an idle timeout ends the row, and a
copied cookie stops working at once, which a signed cookie alone cannot do.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from flask_babel import gettext as _
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import joinedload

from app.domain import audit
from app.domain.errors import DomainError
from app.domain.passwords import check_password, hash_password
from app.extensions import db, reads_first
from app.models import LoginFailure, RoleAssignment, User, UserSession, utcnow


class LoginRefused(DomainError):
    status = 401


class LoginThrottled(DomainError):
    status = 429


def normalise_username(username: str) -> str:
    return (username or "").strip().lower()


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _recent_failures(column, value: str, since: dt.datetime) -> int:
    return db.session.scalar(
        select(func.count()).select_from(LoginFailure).where(column == value, LoginFailure.at >= since)
    ) or 0


def _throttled(config, username: str, address: str, since: dt.datetime) -> bool:
    return (_recent_failures(LoginFailure.username, username, since) >= config["LOGIN_FAILURES_PER_ACCOUNT"]
            or _recent_failures(LoginFailure.address, address, since) >= config["LOGIN_FAILURES_PER_ADDRESS"])


def login(config, username: str, password: str, address: str, user_agent: str = "") -> User:
    """Check the credentials and open a session; the returned user carries its session token.

    Raises LoginThrottled or LoginRefused; the caller commits in every case, so that
    failures are counted and audited.
    """
    username = normalise_username(username)[:64]
    now = utcnow()
    since = now - dt.timedelta(seconds=config["LOGIN_WINDOW_SECONDS"])
    # SQLite: the reads and the argon2 check (a tenth of a second or more) come before the one
    # write lock, which a login held for every wrong password: twelve of them at once delayed a
    # collector's save by seconds (issue 15, item 11).
    with reads_first():
        throttled = _throttled(config, username, address, since)
        user = None if throttled else db.session.scalar(select(User).where(User.username == username))
    if not throttled:
        if user is None:
            # Spend the same time as for a real account, so timing does not reveal usernames.
            check_password(config, _dummy_hash(config), password)
            ok, new_hash = False, None
        else:
            ok, new_hash = check_password(config, user.password_hash, password)
        # Counted again under the write lock: attempts checked side by side all passed the count
        # above, and only this one lets no more than the limit through.
        throttled = _throttled(config, username, address, since)
    if throttled:
        audit.record("auth.login_throttled", details={"username": username, "address": address})
        raise LoginThrottled(_("Too many failed logins. Please wait a minute and try again."))

    if not ok or not user.active:
        db.session.add(LoginFailure(at=now, username=username, address=address))
        audit.record("auth.login_failed", actor=user, object_type="user",
                     object_id=user.id if user else None,
                     details={"username": username, "address": address,
                              "reason": "inactive" if ok else "bad_credentials"})
        raise LoginRefused(_("Wrong username or password."))

    if new_hash:
        user.password_hash = new_hash
    token = secrets.token_urlsafe(32)
    db.session.add(UserSession(token_hash=_token_hash(token), user_id=user.id, created_at=now,
                               last_seen_at=now, address=address, user_agent=user_agent[:255]))
    audit.record("auth.login", actor=user, object_type="user", object_id=user.id,
                 details={"address": address, "rehashed": bool(new_hash)})
    user.session_token = token
    return user


_DUMMY: dict[tuple, str] = {}


def _dummy_hash(config) -> str:
    key = (config["ARGON2_TIME_COST"], config["ARGON2_MEMORY_COST"], config["ARGON2_PARALLELISM"])
    if key not in _DUMMY:
        _DUMMY[key] = hash_password(config, secrets.token_hex(8))
    return _DUMMY[key]


# Built once, as every request runs it: building it cost more than sending it (bench/instructions.py).
_SESSION_WITH_USER = (
    select(UserSession).where(UserSession.token_hash == bindparam("token_hash"))
    .options(joinedload(UserSession.user).joinedload(User.roles).joinedload(RoleAssignment.unit)))


def load_session_user(config, token: str) -> tuple[User | None, int | None]:
    """The user of a live session, or None (ended, idle too long, user deactivated), and the
    id of the session when its last_seen_at is due a refresh (touch_session), else None."""
    # The user's roles and their units come with it: every page reads them (header, scope).
    # One statement: a joined load of the roles repeats the session row once per role.
    row = db.session.scalars(_SESSION_WITH_USER, {"token_hash": _token_hash(token)}).unique().first()
    now = utcnow()
    if row is None or row.ended_at is not None or not row.user.active:
        return None, None
    if now - row.last_seen_at > dt.timedelta(minutes=config["SESSION_IDLE_MINUTES"]):
        return None, None
    user = row.user
    user.session_token = token
    # Refresh last_seen at most once a minute: one write per minute, not per request.
    return user, row.id if now - row.last_seen_at > dt.timedelta(minutes=1) else None


def touch_session(session_id: int) -> None:
    """Note that a session was used now (sent, not committed)."""
    db.session.execute(update(UserSession).where(UserSession.id == session_id).values(last_seen_at=utcnow()))


def logout(user: User) -> None:
    if user.session_token:
        db.session.execute(
            update(UserSession).where(UserSession.token_hash == _token_hash(user.session_token))
            .values(ended_at=utcnow())
        )
    audit.record("auth.logout", actor=user, object_type="user", object_id=user.id)


def end_all_sessions(user: User) -> int:
    result = db.session.execute(
        update(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )
    return result.rowcount or 0
