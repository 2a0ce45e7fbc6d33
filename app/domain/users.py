"""Users and their roles, managed within the managing user's own area.

Who may manage whom: an administrator (permission user.manage) manages a user only when
every role of that user is one the administrator could grant (GRANTABLE, at a unit within
the administrator's scope). A user with no role in the administrator's area does not
exist for them (NotFound); a user with a role elsewhere, or a role above the
administrator's (a county_admin looking at a sysadmin), is refused (Forbidden).

`actor=None` is the command line: a system operator, who may do anything.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from app.domain import audit, devices, scope, settings
from app.domain.auth import end_all_sessions, normalise_username
from app.domain.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from app.domain.passwords import MIN_PASSWORD_LENGTH, hash_password
from app.domain.tree import in_any_subtree, is_within, minimal_roots
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

LEVEL_LABELS = {
    UnitLevel.province: _l("province"),
    UnitLevel.city: _l("city"),
    UnitLevel.county: _l("county"),
    UnitLevel.township: _l("township"),
    UnitLevel.village: _l("village"),
    UnitLevel.group: _l("village group"),
}

# The database's CHECK constraint on user_account.locale.
LOCALES = ("zh_CN", "en")
# Typed on a phone and read aloud: ASCII letters, digits and a few separators.
USERNAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]*")
PHONE_RE = re.compile(r"\+?[0-9][0-9 -]*")
NAME_MAX = 64
PHONE_MAX = 20
PAGE_SIZE = 50
PICKER_LIMIT = 30

MANAGERS = scope.PERMISSIONS["user.manage"]


class FieldErrors(Invalid):
    """Several fields of one form are wrong; `errors` maps each field to its message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(" ".join(errors.values()), field=next(iter(errors)))
        self.errors = errors


def field_errors(e: DomainError) -> dict[str, str]:
    """The field messages of a refusal, or {} when it is not about a form field."""
    if isinstance(e, FieldErrors):
        return e.errors
    return {e.field: e.message} if e.field else {}


def level_label(level: str | UnitLevel) -> str:
    return str(LEVEL_LABELS[UnitLevel(level)])


def levels_text(role: Role) -> str:
    """'village, village group' for a collector: the levels the role may be given at."""
    return ", ".join(level_label(lv) for lv in UnitLevel if lv in ROLE_LEVELS[role])


# ------------------------------------------------------------------ who may do what

def manage_paths(actor: User) -> list[str]:
    return scope.scope_paths(actor, "user.manage")


def require_admin(actor: User) -> list[str]:
    """The actor's user.manage paths; Forbidden for someone who manages no users."""
    paths = manage_paths(actor)
    if not paths:
        raise Forbidden(_("You may not manage users."))
    return paths


def grantable_roles(actor: User | None) -> list[Role]:
    if actor is None:
        return list(Role)
    allowed: set[Role] = set()
    for a in scope.assignments(actor, MANAGERS):
        allowed |= GRANTABLE.get(Role(a.role), frozenset())
    return [r for r in Role if r in allowed]


def may_grant(actor: User | None, role: Role, unit: AdminUnit) -> bool:
    """None is the command line (a system operator), who may grant anything."""
    if actor is None:
        return True
    return any(
        role in GRANTABLE.get(Role(a.role), frozenset()) and unit.path.startswith(a.unit.path)
        for a in actor.roles
    )


def may_manage(actor: User | None, user: User) -> bool:
    """Every role of `user` is one the actor could have granted."""
    return all(may_grant(actor, Role(a.role), a.unit) for a in user.roles)


def get_managed_user(actor: User | None, user_id: int) -> User:
    """The user if the actor may manage them; see the module docstring for the refusals."""
    user = db.session.get(User, user_id)
    if actor is None:
        if user is None:
            raise NotFound(_("No such user."))
        return user
    paths = require_admin(actor)
    if user is None or not any(is_within(a.unit.path, p) for a in user.roles for p in paths):
        raise NotFound(_("No such user."))
    if not may_manage(actor, user):
        raise Forbidden(_("%(name)s has roles outside your area or above your own; "
                          "an administrator above you manages this user.", name=user.name))
    return user


# ------------------------------------------------------------------ parsing form values

def parse_role(value: str | Role | None) -> Role:
    try:
        return Role((value or "").strip() if isinstance(value, str) else value)
    except ValueError:
        if not value:
            raise Invalid(_("Please choose a role."), field="role") from None
        raise Invalid(_("There is no role %(role)s. Roles: %(roles)s.", role=value,
                        roles=", ".join(r.value for r in Role)), field="role") from None


def unit_for_code(actor: User | None, code: str | None) -> AdminUnit:
    """The unit with this code, if it lies within the actor's user.manage scope."""
    code = (code or "").strip()
    if not code:
        raise Invalid(_("Please choose the unit, or type its code."), field="unit")
    unit = db.session.scalar(select(AdminUnit).where(AdminUnit.code == code))
    if actor is None:
        if unit is None:
            raise Invalid(_("There is no unit with the code %(code)s.", code=code), field="unit")
        return unit
    # Outside the area answers as if missing: a code does not reveal what exists elsewhere.
    if unit is None or not any(is_within(unit.path, p) for p in manage_paths(actor)):
        raise Invalid(_("There is no unit with the code %(code)s in your area.", code=code), field="unit")
    return unit


def check_level(role: Role, unit: AdminUnit) -> None:
    if unit.unit_level not in ROLE_LEVELS[role]:
        raise Invalid(_("Unit: the role %(role)s cannot be given for %(unit)s (%(level)s); "
                        "choose a unit of level %(levels)s.", role=scope.role_label(role), unit=unit.name,
                        level=level_label(unit.level), levels=levels_text(role)), field="unit")


def check_password_rules(password: str) -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise Invalid(_("The password must have at least %(n)d characters.", n=MIN_PASSWORD_LENGTH),
                      field="password")


@dataclass
class UserFields:
    username: str
    name: str
    phone: str | None
    locale: str


def check_user_fields(username: str, name: str, phone: str | None, locale: str,
                      errors: dict[str, str]) -> UserFields:
    """Normalised values; adds a message per wrong field to `errors`."""
    username = normalise_username(username)
    name = (name or "").strip()
    phone = (phone or "").strip() or None
    if not username or len(username) > 64 or not USERNAME_RE.fullmatch(username):
        errors["username"] = _("The username must be 1 to 64 letters, digits, dots, hyphens or "
                               "underscores, starting with a letter or digit.")
    elif db.session.scalar(select(User.id).where(User.username == username)) is not None:
        errors["username"] = _("The username %(u)s is already taken.", u=username)
    if not name:
        errors["name"] = _("Please enter the person's name.")
    elif len(name) > NAME_MAX:
        errors["name"] = _("The name can have at most %(n)d characters.", n=NAME_MAX)
    if phone is not None and (len(phone) > PHONE_MAX or not PHONE_RE.fullmatch(phone)):
        errors["phone"] = _("The phone number may contain only digits, spaces, hyphens and a "
                            "leading +, at most %(n)d characters.", n=PHONE_MAX)
    if locale not in LOCALES:
        errors["locale"] = _("Please choose the language: Chinese or English.")
    return UserFields(username, name, phone, locale)


def _collect(errors: dict[str, str], check, *args):
    """Run one check, keeping its field message instead of stopping at the first."""
    try:
        return check(*args)
    except Invalid as e:
        errors.update(field_errors(e))
        return None


# ------------------------------------------------------------------ creating and granting

def create_user(actor: User | None, *, username: str, name: str, password: str,
                role: Role, unit: AdminUnit, phone: str | None = None, locale: str = "zh_CN") -> User:
    """Create a user with a first role; a user without any role would be outside every scope."""
    role = Role(role)
    errors: dict[str, str] = {}
    fields = check_user_fields(username, name, phone, locale, errors)
    _collect(errors, check_password_rules, password)
    _collect(errors, check_level, role, unit)
    if errors:
        raise FieldErrors(errors)
    if not may_grant(actor, role, unit):
        raise Forbidden(_("You may not give the role %(role)s for %(unit)s.",
                          role=scope.role_label(role), unit=unit.name))
    user = User(username=fields.username, name=fields.name, phone=fields.phone, locale=fields.locale,
                password_hash=hash_password(_config(), password), active=True)
    try:
        # The unique index decides between two simultaneous creations of one username.
        with db.session.begin_nested():
            db.session.add(user)
            db.session.flush()
    except IntegrityError:
        raise Conflict(_("The username %(u)s is already taken.", u=fields.username),
                       field="username") from None
    audit.record("user.create", actor=actor, object_type="user", object_id=user.id,
                 details={"username": user.username, "name": user.name, "locale": user.locale})
    grant_role(actor, user, role, unit)
    return user


def add_user(actor: User, *, username: str, name: str, phone: str, locale: str, password: str,
             role: str, unit: str) -> User:
    """The admin screen's "new user": every field checked at once, the unit given by its code
    and looked up within the actor's area."""
    require_admin(actor)
    errors: dict[str, str] = {}
    check_user_fields(username, name, phone, locale, errors)
    _collect(errors, check_password_rules, password)
    role_, unit_ = _role_and_unit(actor, role, unit, errors)
    if errors:
        raise FieldErrors(errors)
    return create_user(actor, username=username, name=name, password=password, role=role_,
                       unit=unit_, phone=phone, locale=locale)


def _role_and_unit(actor: User, role: str, unit: str,
                   errors: dict[str, str]) -> tuple[Role | None, AdminUnit | None]:
    """The role and unit fields of a form, checked together (the level must suit the role);
    problems go into `errors` by field."""
    role_ = _collect(errors, parse_role, role)
    unit_ = _collect(errors, unit_for_code, actor, unit)
    if role_ is not None and unit_ is not None:
        _collect(errors, check_level, role_, unit_)
    return role_, unit_


def grant_role(actor: User | None, user: User, role: Role, unit: AdminUnit) -> RoleAssignment:
    """Give `user` the role for `unit`; granting a role the user already has changes nothing."""
    role = Role(role)
    check_level(role, unit)
    if not may_grant(actor, role, unit):
        raise Forbidden(_("You may not give the role %(role)s for %(unit)s.",
                          role=scope.role_label(role), unit=unit.name))
    exists = _assignment(user, role, unit)
    if exists is not None:
        return exists
    assignment = RoleAssignment(user_id=user.id, role=role.value, unit_id=unit.id,
                                granted_by_id=actor.id if actor else None)
    try:
        # The unique constraint decides between two simultaneous grants of the same role.
        with db.session.begin_nested():
            db.session.add(assignment)
            db.session.flush()
    except IntegrityError:
        return _assignment(user, role, unit)
    db.session.expire(user, ["roles"])  # reloaded with the new role when next read
    audit.record("user.role_grant", actor=actor, object_type="user", object_id=user.id,
                 details={"username": user.username, "role": role.value, "unit": unit.code})
    return assignment


def _assignment(user: User, role: Role, unit: AdminUnit) -> RoleAssignment | None:
    return db.session.scalar(select(RoleAssignment).where(
        RoleAssignment.user_id == user.id, RoleAssignment.role == role.value,
        RoleAssignment.unit_id == unit.id))


def grant_role_by_code(actor: User, user_id: int, role: str, unit: str) -> tuple[RoleAssignment, bool]:
    """The detail screen's "give another role": (the assignment, whether it is new)."""
    user = get_managed_user(actor, user_id)
    errors: dict[str, str] = {}
    role_, unit_ = _role_and_unit(actor, role, unit, errors)
    if errors:
        raise FieldErrors(errors)
    existing = _assignment(user, role_, unit_)
    if existing is not None:
        return existing, False
    return grant_role(actor, user, role_, unit_), True


def revoke_role(actor: User | None, user_id: int, assignment_id: int) -> RoleAssignment:
    """Take one role away; the user keeps at least one role, and an administrator keeps
    their own last user.manage role (so that nobody locks themselves out by mistake)."""
    user = get_managed_user(actor, user_id)
    assignment = next((a for a in user.roles if a.id == assignment_id), None)
    if assignment is None:
        raise NotFound(_("No such role."))
    refusal = revoke_refusal(actor, user, assignment)
    if refusal is not None:
        raise refusal
    details = {"username": user.username, "role": assignment.role, "unit": assignment.unit.code}
    user.roles.remove(assignment)  # delete-orphan: the row goes
    db.session.flush()
    audit.record("user.role_revoke", actor=actor, object_type="user", object_id=user.id, details=details)
    return assignment


def revoke_refusal(actor: User | None, user: User, assignment: RoleAssignment) -> DomainError | None:
    """Why this role of a manageable user may not be taken away, or None (also for the buttons)."""
    if len(user.roles) == 1:
        return Conflict(_("This is the only role of %(name)s. Deactivate the user instead.", name=user.name))
    if actor is not None and actor.id == user.id and Role(assignment.role) in MANAGERS:
        if not any(a is not assignment and Role(a.role) in MANAGERS for a in user.roles):
            return Forbidden(_("You cannot remove your own last administrator role; "
                               "ask another administrator."))
    return None


# ------------------------------------------------------------------ password and status

def reset_password(actor: User | None, user_id: int, password: str) -> int:
    """Set a new password and end the user's sessions; the number of sessions ended."""
    user = get_managed_user(actor, user_id)
    check_password_rules(password)
    user.password_hash = hash_password(_config(), password)
    # Whoever was logged in with the old password (perhaps not the user) is logged out.
    ended = end_all_sessions(user)
    audit.record("user.password_reset", actor=actor, object_type="user", object_id=user.id,
                 details={"username": user.username, "sessions_ended": ended})
    return ended


@dataclass
class StatusChange:
    user: User
    changed: bool  # False: it already was so (a repeated click), nothing written
    sessions_ended: int = 0


def deactivate_user(actor: User | None, user_id: int) -> StatusChange:
    """The user can no longer log in, every open session of theirs ends now, and their device
    tokens are revoked for good (a reactivated user issues new ones)."""
    user = get_managed_user(actor, user_id)
    if actor is not None and actor.id == user.id:
        raise Forbidden(_("You cannot deactivate yourself."))
    if not user.active:
        return StatusChange(user, False)
    user.active = False
    ended = end_all_sessions(user)
    revoked = devices.revoke_all(actor, user)
    audit.record("user.deactivate", actor=actor, object_type="user", object_id=user.id,
                 details={"username": user.username, "sessions_ended": ended, "devices_revoked": revoked})
    return StatusChange(user, True, ended)


def reactivate_user(actor: User | None, user_id: int) -> StatusChange:
    user = get_managed_user(actor, user_id)
    if user.active:
        return StatusChange(user, False)
    user.active = True
    audit.record("user.reactivate", actor=actor, object_type="user", object_id=user.id,
                 details={"username": user.username})
    return StatusChange(user, True)


# ------------------------------------------------------------------ lists

@dataclass
class UserRow:
    user: User
    roles: list[RoleAssignment]  # the roles within the viewer's area
    elsewhere: int  # roles outside it (not shown)


@dataclass
class UserPage:
    rows: list[UserRow]
    total: int
    page: int
    pages: int


def list_users(actor: User, q: str = "", page: int = 1, per_page: int = PAGE_SIZE) -> UserPage:
    """Users with at least one role in the actor's area, searched by name or username."""
    paths = require_admin(actor)
    in_area = (select(RoleAssignment.user_id).join(AdminUnit, RoleAssignment.unit_id == AdminUnit.id)
               .where(in_any_subtree(AdminUnit.path, paths)))
    stmt = select(User).where(User.id.in_(in_area))
    q = (q or "").strip()
    if q:
        stmt = stmt.where(or_(User.username.icontains(q, autoescape=True),
                              User.name.icontains(q, autoescape=True)))
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    pages = max(1, math.ceil(total / per_page))
    page = min(max(page, 1), pages)
    users = db.session.scalars(
        stmt.options(selectinload(User.roles).selectinload(RoleAssignment.unit))
        .order_by(User.username).limit(per_page).offset((page - 1) * per_page)).all()
    rows = []
    for u in users:
        inside = [a for a in u.roles if any(is_within(a.unit.path, p) for p in paths)]
        rows.append(UserRow(u, inside, len(u.roles) - len(inside)))
    return UserPage(rows, total, page, pages)


def users_under(unit: AdminUnit | None) -> list[User]:
    """For the command line: users with a role at or below `unit` (all users for None)."""
    stmt = select(User).options(selectinload(User.roles).selectinload(RoleAssignment.unit))
    if unit is not None:
        stmt = stmt.where(User.id.in_(
            select(RoleAssignment.user_id).join(AdminUnit, RoleAssignment.unit_id == AdminUnit.id)
            .where(in_any_subtree(AdminUnit.path, [unit.path]))))
    return list(db.session.scalars(stmt.order_by(User.username)))


def user_by_username(username: str) -> User:
    user = db.session.scalar(select(User).where(User.username == normalise_username(username)))
    if user is None:
        raise NotFound(_("There is no user %(u)s.", u=normalise_username(username)))
    return user


# ------------------------------------------------------------------ choosing a unit

def unit_chain(unit: AdminUnit) -> list[AdminUnit]:
    """The unit's ancestors from the top, and the unit itself (one query)."""
    codes = unit.path.strip("/").split("/")
    found = {u.code: u for u in db.session.scalars(select(AdminUnit).where(AdminUnit.code.in_(codes)))}
    return [found[c] for c in codes if c in found]


def chain_in_area(actor: User, unit: AdminUnit) -> list[AdminUnit]:
    """The part of the unit's chain that lies within the actor's area (for breadcrumbs)."""
    paths = manage_paths(actor)
    return [u for u in unit_chain(unit) if any(is_within(u.path, p) for p in paths)]


def describe_unit_code(actor: User, code: str | None) -> list[AdminUnit]:
    """The chain of the unit with this code within the actor's area; [] if there is none."""
    try:
        return chain_in_area(actor, unit_for_code(actor, code))
    except Invalid:
        return []


@dataclass
class PickerEntry:
    unit: AdminUnit
    has_children: bool
    suitable: bool  # the chosen role may be given at this unit's level
    parent_name: str | None = None  # shown for search results


@dataclass
class UnitPicker:
    """A drill-down through the actor's area, or search results, to choose a unit by path."""
    role: Role | None
    current: AdminUnit | None  # None: the top of the area, or a search
    crumbs: list[AdminUnit]
    entries: list[PickerEntry] = field(default_factory=list)
    find: str = ""
    truncated: bool = False


def unit_picker(actor: User, role: str | None = None, at: int | None = None, find: str = "") -> UnitPicker:
    paths = require_admin(actor)
    try:
        role_ = parse_role(role) if role else None
    except Invalid:
        role_ = None
    suitable = ROLE_LEVELS[role_] if role_ else frozenset(UnitLevel)
    find = (find or "").strip()[:50]
    current = None
    crumbs: list[AdminUnit] = []
    if find:
        stmt = (select(AdminUnit).options(selectinload(AdminUnit.parent))
                .where(in_any_subtree(AdminUnit.path, paths),
                       or_(AdminUnit.name.contains(find, autoescape=True),
                           AdminUnit.code.startswith(find, autoescape=True)))
                .order_by(AdminUnit.path).limit(PICKER_LIMIT + 1))
        if role_:
            stmt = stmt.where(AdminUnit.level.in_([lv.value for lv in suitable]))
        units = list(db.session.scalars(stmt))
    elif at is None:
        units = list(db.session.scalars(
            select(AdminUnit).where(AdminUnit.path.in_(minimal_roots(paths))).order_by(AdminUnit.path)))
    else:
        current = db.session.get(AdminUnit, at)
        if current is None or not any(is_within(current.path, p) for p in paths):
            raise NotFound(str(_l("No such administrative unit.")))
        crumbs = chain_in_area(actor, current)
        units = list(db.session.scalars(
            select(AdminUnit).where(AdminUnit.parent_id == current.id).order_by(AdminUnit.code)))
    truncated = len(units) > PICKER_LIMIT if find else False
    units = units[:PICKER_LIMIT] if find else units
    with_children = set(db.session.scalars(
        select(AdminUnit.parent_id).where(AdminUnit.parent_id.in_([u.id for u in units])).distinct()))
    entries = [PickerEntry(u, u.id in with_children, u.unit_level in suitable,
                           u.parent.name if find and u.parent else None) for u in units]
    return UnitPicker(role_, current, crumbs, entries, find, truncated)


def _config():
    return settings.current().config
