"""Creating users and granting roles, within the granting user's own area."""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select

from app.domain import audit, scope
from app.domain.auth import normalise_username
from app.domain.errors import Conflict, Forbidden, Invalid
from app.domain.passwords import MIN_PASSWORD_LENGTH, hash_password
from app.extensions import db
from app.models import AdminUnit, Role, RoleAssignment, UnitLevel, User

# The levels at which each role makes sense: a collector works in a village or a group, a
# verifier for a township, and so on. Checked when a role is granted.
ROLE_LEVELS: dict[Role, frozenset[UnitLevel]] = {
    Role.collector: frozenset({UnitLevel.village, UnitLevel.group}),
    Role.village_leader: frozenset({UnitLevel.village}),
    Role.verifier: frozenset({UnitLevel.township}),
    Role.clerk: frozenset({UnitLevel.township, UnitLevel.village}),
    Role.county_admin: frozenset({UnitLevel.county, UnitLevel.city, UnitLevel.province}),
    Role.viewer: frozenset(UnitLevel),
    Role.sysadmin: frozenset(UnitLevel),
}

# Roles a granting role may hand out (within its own scope).
GRANTABLE: dict[Role, frozenset[Role]] = {
    Role.sysadmin: frozenset(Role),
    Role.county_admin: frozenset(Role) - {Role.sysadmin},
}


def check_password_rules(password: str) -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise Invalid(_("The password must have at least %(n)d characters.", n=MIN_PASSWORD_LENGTH),
                      field="password")


def may_grant(actor: User | None, role: Role, unit: AdminUnit) -> bool:
    """None is the command line (a system operator), who may grant anything."""
    if actor is None:
        return True
    return any(
        role in GRANTABLE.get(Role(a.role), frozenset()) and unit.path.startswith(a.unit.path)
        for a in actor.roles
    )


def create_user(actor: User | None, *, username: str, name: str, password: str,
                role: Role, unit: AdminUnit, phone: str | None = None, locale: str = "zh_CN") -> User:
    """Create a user with a first role; a user without any role would be outside every scope."""
    username = normalise_username(username)
    if not username or len(username) > 64:
        raise Invalid(_("Please enter a username of at most 64 characters."), field="username")
    if not (name or "").strip():
        raise Invalid(_("Please enter the person's name."), field="name")
    check_password_rules(password)
    if db.session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(_("The username %(u)s is already taken.", u=username), field="username")
    user = User(username=username, name=name.strip(), phone=(phone or None),
                password_hash=hash_password(_config(), password), locale=locale, active=True)
    db.session.add(user)
    db.session.flush()
    audit.record("user.create", actor=actor, object_type="user", object_id=user.id,
                 details={"username": username, "name": user.name})
    grant_role(actor, user, role, unit)
    return user


def grant_role(actor: User | None, user: User, role: Role, unit: AdminUnit) -> RoleAssignment:
    role = Role(role)
    if unit.unit_level not in ROLE_LEVELS[role]:
        raise Invalid(_("The role %(role)s cannot be given for a unit of this level.",
                        role=scope.role_label(role)), field="unit")
    if not may_grant(actor, role, unit):
        raise Forbidden(_("You may not give this role for %(unit)s.", unit=unit.name))
    exists = db.session.scalar(select(RoleAssignment).where(
        RoleAssignment.user_id == user.id, RoleAssignment.role == role.value,
        RoleAssignment.unit_id == unit.id))
    if exists is not None:
        return exists
    assignment = RoleAssignment(user=user, role=role.value, unit=unit,
                                granted_by_id=actor.id if actor else None)
    db.session.add(assignment)
    db.session.flush()
    audit.record("user.role_grant", actor=actor, object_type="user", object_id=user.id,
                 details={"role": role.value, "unit": unit.code})
    return assignment


def _config():
    from flask import current_app  # settings only; no request objects in the domain
    return current_app.config
