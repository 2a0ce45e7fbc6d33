"""The security officer's search of both logs: the change audit and the access log.

Who: a holder of "audit.view" (a county administrator, or a system administrator), within the
units of that role: the county's security officer is its county administrator (DESIGN.md §1:
county staff manage the county's users), and a system administrator holds the role at the top
of the deployment. What an officer sees: the entries of users who hold a role in the area
(who did or saw what), access entries about the area (a household's or a list's unit), and,
when a household or person of the area is asked for, every entry about it whoever wrote it.
Entries of nobody (anonymous) are for an officer of the whole tree (a role at province level).
"""
from __future__ import annotations

import datetime as dt
import math
import uuid
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import and_, false, func, or_, select

from app.domain import scope
from app.domain.errors import Forbidden, Invalid
from app.domain.tree import in_any_subtree
from app.models import AccessEntry, AdminUnit, AuditEntry, Household, Person, RoleAssignment, UnitLevel, User

PER_PAGE = 30
LOGS = ("access", "change")


@dataclass
class LogQuery:
    log: str = "access"
    username: str = ""
    household_id: uuid.UUID | None = None
    person_id: uuid.UUID | None = None
    since: dt.datetime | None = None  # UTC, inclusive
    until: dt.datetime | None = None  # UTC, exclusive


@dataclass
class LogPage:
    rows: list[dict[str, Any]]
    total: int
    page: int
    pages: int
    users: dict[int, User] = field(default_factory=dict)


def parse_query(args: dict[str, str], zone) -> LogQuery:
    """The page's filters; a value that cannot be read is Invalid naming its field."""
    q = LogQuery(log=args.get("log") if args.get("log") in LOGS else "access",
                 username=(args.get("user") or "").strip().lower()[:64])
    for name, attr, label in (("household", "household_id", _("Household")), ("person", "person_id", _("Person"))):
        value = (args.get(name) or "").strip()
        if value:
            try:
                setattr(q, attr, uuid.UUID(value))
            except ValueError:
                raise Invalid(_("%(field)s: give the number shown in the household's or person's address "
                                "(a UUID such as 0f8c…).", field=label), field=name) from None
    for name, attr, label, shift in (("since", "since", _("From"), 0), ("until", "until", _("To"), 1)):
        value = (args.get(name) or "").strip()
        if value:
            try:
                day = dt.date.fromisoformat(value)
            except ValueError:
                raise Invalid(_("%(field)s: give a date as 2026-12-07.", field=label), field=name) from None
            start = dt.datetime.combine(day + dt.timedelta(days=shift), dt.time(), zone)
            setattr(q, attr, start.astimezone(dt.timezone.utc))
    return q


def _area_users(paths: list[str]):
    return (select(RoleAssignment.user_id).join(AdminUnit, RoleAssignment.unit_id == AdminUnit.id)
            .where(in_any_subtree(AdminUnit.path, paths)))


def _whole_tree(officer: User) -> bool:
    return any(a.unit.level == UnitLevel.province.value for a in scope.assignments(officer)
               if a.role in {r.value for r in scope.PERMISSIONS["audit.view"]})


def require_officer(officer: User) -> list[str]:
    """The paths of the officer's area; Forbidden for anyone else."""
    paths = scope.scope_paths(officer, "audit.view")
    if not paths:
        raise Forbidden(_("Only security officers (county or system administrators) search the logs."))
    return paths


def search(officer: User, q: LogQuery, page: int = 1, session=None) -> LogPage:
    from app.extensions import db

    paths = require_officer(officer)
    Model = AccessEntry if q.log == "access" else AuditEntry
    seen = [Model.actor_id.in_(_area_users(paths))]
    if _whole_tree(officer):
        seen.append(Model.actor_id.is_(None))
    if Model is AccessEntry:
        seen.append(in_any_subtree(AccessEntry.unit_path, paths))
    where = []
    objects: list[str] = []
    if q.household_id is not None:
        h = db.session.get(Household, q.household_id)
        if h is None or not scope.can_at(officer, "audit.view", h.unit_path):
            objects = []
            where.append(false())
        else:
            objects = [str(h.id)]
    if q.person_id is not None:
        p = db.session.get(Person, q.person_id)
        h = db.session.get(Household, p.household_id) if p is not None else None
        if h is None or not scope.can_at(officer, "audit.view", h.unit_path):
            where.append(false())
        else:
            objects = [str(p.id), str(h.id)] if not objects or str(h.id) in objects else [str(p.id)]
    if objects:
        # An object of the officer's area: every entry about it, whoever wrote it.
        where.append(Model.object_id.in_(objects))
    else:
        where.append(or_(*seen))
    if q.username:
        user_id = db.session.scalar(select(User.id).where(User.username == q.username))
        where.append(Model.actor_id == user_id if user_id is not None else false())
    if q.since is not None:
        where.append(Model.at >= q.since)
    if q.until is not None:
        where.append(Model.at < q.until)
    condition = and_(*where)
    total = db.session.scalar(select(func.count()).select_from(Model).where(condition)) or 0
    pages = max(1, math.ceil(total / PER_PAGE))
    page = min(max(1, page), pages)
    found = list(db.session.scalars(select(Model).where(condition).order_by(Model.id.desc())
                                    .offset((page - 1) * PER_PAGE).limit(PER_PAGE)))
    ids = {e.actor_id for e in found if e.actor_id is not None}
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))} if ids else {}
    rows = [{"at": e.at, "actor": users.get(e.actor_id), "actor_id": e.actor_id,
             "what": e.endpoint if Model is AccessEntry else e.action,
             "object_type": e.object_type, "object_id": e.object_id, "details": e.details or {},
             "address": getattr(e, "address", None) or (e.details or {}).get("address")}
            for e in found]
    return LogPage(rows, total, page, pages, users)
