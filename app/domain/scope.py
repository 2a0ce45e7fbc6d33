"""Who may see and act on which units: the one place that decides.

A role holds for its unit and everything below it. Every query for units, users,
households and persons filters through `scope_filter`; every single-object access goes
through `require_unit` (or the like for later objects), which answers NotFound for an
object outside the user's scope so that its existence is not revealed.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.sql import ColumnElement

from app.domain.errors import Forbidden, NotFound
from app.domain.tree import in_any_subtree, is_within
from app.extensions import db
from app.models import AdminUnit, Role, RoleAssignment, User

# What each role may do, as data. Later features add their permissions here.
PERMISSIONS: dict[str, frozenset[Role]] = {
    "unit.view": frozenset(Role),
    "user.manage": frozenset({Role.sysadmin, Role.county_admin}),
    "audit.view": frozenset({Role.sysadmin, Role.county_admin}),
    "household.view": frozenset(Role),
    # 谁采集、谁录入、谁负责: only collectors write household data.
    "household.edit": frozenset({Role.collector}),
    # The approval chain (app.domain.workflow.TRANSITIONS says which role in which state).
    "household.submit": frozenset({Role.collector}),
    "household.confirm": frozenset({Role.village_leader}),
    "household.verify": frozenset({Role.verifier}),
    "household.return": frozenset({Role.village_leader, Role.verifier}),
    # A phone's edit made on an older version is kept as a conflict; the village leader decides.
    "household.resolve": frozenset({Role.village_leader}),
    # Cards and books are printed by the township's clerks (DESIGN.md §1).
    "card.print": frozenset({Role.clerk, Role.county_admin}),
    # Pre-filled households from a police list or an old register (issue 16, app.domain.prefill):
    # made by the clerks and county staff who import lists; given out to collectors by the
    # village leader.
    "list.prefill": frozenset({Role.clerk, Role.county_admin, Role.sysadmin}),
    "household.assign": frozenset({Role.village_leader}),
    # Lists from the police, hospitals and civil affairs, and old registers, are taken in by
    # the township's and county's clerks (DESIGN.md §1, §10) and the administrators.
    "list.import": frozenset({Role.clerk, Role.county_admin, Role.sysadmin}),
    # Spot checks (抽查, issue 17, app.domain.spot_checks): the township verifier or the county
    # administrator of the area draws a village's sample; the county adds sample points of 30
    # households; checkers (never the household's own collector, checked per household) enter
    # what they found; the village leader sees the results of the village.
    "spotcheck.draw": frozenset({Role.verifier, Role.county_admin}),
    "spotcheck.point": frozenset({Role.county_admin}),
    "spotcheck.check": frozenset({Role.verifier, Role.county_admin, Role.collector}),
    "spotcheck.view": frozenset({Role.verifier, Role.county_admin, Role.collector, Role.village_leader}),
    # Duplicate persons (issue 17, app.domain.duplicates): decided by the township's verifiers
    # and clerks of the area; leaders and county staff see the candidates.
    "duplicate.view": frozenset({Role.village_leader, Role.verifier, Role.clerk, Role.county_admin, Role.viewer}),
    "duplicate.decide": frozenset({Role.verifier, Role.clerk}),
    # The village scorecard and acceptance (issue 17, app.domain.scorecard): everyone sees the
    # figures of their area; the county sets its thresholds; the township (or county) enters the
    # households expected; the village leader applies for acceptance, the township decides.
    "quality.view": frozenset(Role),
    "quality.thresholds": frozenset({Role.county_admin}),
    "quality.expected": frozenset({Role.verifier, Role.clerk, Role.county_admin}),
    "acceptance.apply": frozenset({Role.village_leader}),
    "acceptance.decide": frozenset({Role.verifier}),
    # The registry-wide run of the quality rules (issue 17, app.domain.quality_runs): the
    # township's and county's staff who look at quality (DESIGN.md §1), and the administrators.
    "quality.run": frozenset({Role.clerk, Role.verifier, Role.county_admin, Role.sysadmin}),
    # An explanation (说明) of a finding: written by who collects and the village leader,
    # accepted or refused by the township's verifier.
    "quality.explain": frozenset({Role.collector, Role.village_leader}),
    "quality.decide": frozenset({Role.verifier}),
}

ROLE_LABELS = {
    Role.collector: _l("Collector"),
    Role.village_leader: _l("Village leader"),
    Role.verifier: _l("Township verifier"),
    Role.clerk: _l("Clerk"),
    Role.county_admin: _l("County administrator"),
    Role.viewer: _l("Viewer"),
    Role.sysadmin: _l("System administrator"),
}


def role_label(role: str | Role) -> str:
    return str(ROLE_LABELS[Role(role)])


def assignments(user: User, roles: set[Role] | frozenset[Role] | None = None) -> list[RoleAssignment]:
    return [a for a in user.roles if roles is None or Role(a.role) in roles]


def scope_paths(user: User, permission: str = "unit.view") -> list[str]:
    """Paths of the units under which `user` holds `permission`."""
    allowed = PERMISSIONS[permission]
    return [a.unit.path for a in assignments(user, allowed)]


def scope_filter(user: User, path_column, permission: str = "unit.view") -> ColumnElement[bool]:
    """SQL condition: rows whose unit path lies within the user's scope for `permission`."""
    return in_any_subtree(path_column, scope_paths(user, permission))


def can(user: User, permission: str, unit: AdminUnit) -> bool:
    return can_at(user, permission, unit.path)


def can_at(user: User, permission: str, path: str) -> bool:
    """Does `user` hold `permission` at the unit with this path (households and persons
    carry their unit's path)?"""
    return any(is_within(path, p) for p in scope_paths(user, permission))



def units_for(user: User, permission: str = "unit.view"):
    return select(AdminUnit).where(scope_filter(user, AdminUnit.path, permission))


def require_unit(user: User, unit_id: int, permission: str = "unit.view") -> AdminUnit:
    """The unit if the user may see it; NotFound if it is missing or outside the scope,
    Forbidden if the user sees it but lacks `permission` there."""
    unit = db.session.get(AdminUnit, unit_id)
    if unit is None or not can(user, "unit.view", unit):
        raise NotFound(str(_l("No such administrative unit.")))
    if not can(user, permission, unit):
        raise Forbidden(str(_l("You may not do this in %(unit)s.", unit=unit.name)))
    return unit


def top_units(user: User) -> list[AdminUnit]:
    """The highest units of the user's scope (their assignment units, nested ones dropped)."""
    units = {a.unit.id: a.unit for a in user.roles}
    tops = [u for u in units.values()
            if not any(o.id != u.id and is_within(u.path, o.path) for o in units.values())]
    return sorted(tops, key=lambda u: u.path)
