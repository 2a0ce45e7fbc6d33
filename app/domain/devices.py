"""Device tokens: how an installed phone app syncs without the web session.

A token is shown once, when it is issued; the database keeps only its SHA-256. The owner
and the administrators who manage the owner (user.manage over one of the owner's units) see
the owner's devices and may revoke one: a lost phone stops syncing with its next request.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from app.domain import audit, scope
from app.domain.errors import Invalid, NotFound
from app.domain.tree import in_any_subtree, is_within
from app.extensions import db
from app.models import AdminUnit, DeviceToken, RoleAssignment, User, utcnow

PREFIX = "dst_"  # recognisable in logs and secret scanners
MAX_NAME = 60
TOUCH_EVERY = dt.timedelta(minutes=1)  # last_used_at is written at most this often


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(actor: User, name: str) -> tuple[DeviceToken, str]:
    """A new token for the actor's phone: (the row, the token, which is never shown again)."""
    name = (name or "").strip()
    if not name:
        raise Invalid(_("Name the device, for example “Zhang San's phone”."), field="name")
    if len(name) > MAX_NAME:
        raise Invalid(_("Device name: at most %(n)d characters.", n=MAX_NAME), field="name")
    token = PREFIX + secrets.token_urlsafe(32)
    device = DeviceToken(user_id=actor.id, name=name, token_hash=token_hash(token), created_at=utcnow())
    db.session.add(device)
    db.session.flush()
    audit.record("device.issue", actor=actor, object_type="device", object_id=device.id,
                 details={"name": name, "user": actor.username})
    return device, token


def _may_see(actor: User, owner: User) -> bool:
    if owner.id == actor.id:
        return True
    paths = scope.scope_paths(actor, "user.manage")
    return any(is_within(a.unit.path, p) for a in owner.roles for p in paths)


def list_devices(actor: User) -> list[DeviceToken]:
    """The actor's own devices, then those of the users the actor manages; newest first."""
    paths = scope.scope_paths(actor, "user.manage")
    query = select(DeviceToken).options(selectinload(DeviceToken.user), selectinload(DeviceToken.revoked_by))
    if paths:
        managed = (select(RoleAssignment.user_id).join(AdminUnit, RoleAssignment.unit_id == AdminUnit.id)
                   .where(in_any_subtree(AdminUnit.path, paths)))
        query = query.where((DeviceToken.user_id == actor.id) | DeviceToken.user_id.in_(managed))
    else:
        query = query.where(DeviceToken.user_id == actor.id)
    devices = db.session.scalars(query.order_by(DeviceToken.created_at.desc(), DeviceToken.id.desc())).all()
    return sorted(devices, key=lambda d: d.user_id != actor.id)  # stable: own first


def get_device(actor: User, device_id: int) -> DeviceToken:
    device = db.session.get(DeviceToken, device_id)
    if device is None or not _may_see(actor, device.user):
        raise NotFound(_("No such device."))
    return device


def revoke(actor: User, device_id: int) -> DeviceToken:
    """Revoke at once. Revoking a revoked device changes nothing (a double tap)."""
    device = get_device(actor, device_id)
    if device.revoked_at is not None:
        return device
    device.revoked_at = utcnow()
    device.revoked_by_id = actor.id
    db.session.flush()
    audit.record("device.revoke", actor=actor, object_type="device", object_id=device.id,
                 details={"name": device.name, "user": device.user.username})
    return device


def revoke_all(actor: User | None, owner: User) -> int:
    """Revoke every live token of `owner` (a deactivated user): for good, so that reactivating
    the user later does not bring a lost phone's token back. The number revoked."""
    result = db.session.execute(
        update(DeviceToken).where(DeviceToken.user_id == owner.id, DeviceToken.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_by_id=actor.id if actor is not None else None))
    return result.rowcount or 0


def authenticate(token: str | None) -> User | None:
    """The active user holding this live token, or None (unknown, revoked, user deactivated)."""
    if not token or not token.startswith(PREFIX) or len(token) > 100:
        return None
    row = _first(select(DeviceToken.id, DeviceToken.user_id, DeviceToken.last_used_at)
                 .where(DeviceToken.token_hash == token_hash(token), DeviceToken.revoked_at.is_(None)))
    if row is None:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at >= TOUCH_EVERY:
        _first(update(DeviceToken)
               .where(DeviceToken.id == row.id,
                      DeviceToken.last_used_at.is_(None) | (DeviceToken.last_used_at < now - TOUCH_EVERY))
               .values(last_used_at=now), rows=False)
    user = db.session.get(User, row.user_id)
    return user if user is not None and user.active else None


def _first(stmt, rows: bool = True):
    """Run `stmt` in a short transaction of its own while the request's session has not begun:
    a request that only reads then notes the use without holding SQLite's write lock, and a
    request that writes has not taken it yet. Inside a begun session, in that session."""
    if db.session().in_transaction():
        result = db.session.execute(stmt)
        return result.first() if rows else None
    with db.engine.begin() as conn:
        result = conn.execute(stmt)
        return result.first() if rows else None
