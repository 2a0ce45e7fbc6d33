"""History (issue 7): what changed between versions, in the words of the form definition; a
household's history, a person's history across households, and a village's changes of a month.

Versions are append-only, so every history here is computed from them: a version's diff is
against the version before it, its workflow state is the last workflow event on it (the
current version's is Household.state). Nothing is stored twice.
"""
from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import and_, or_, select, true
from sqlalchemy.orm import selectinload

from app.domain import registration, scope
from app.domain.errors import Forbidden, NotFound
from app.domain.tree import in_any_subtree, is_within
from app.domain.units import unit_by_code
from app.extensions import db
from app.models import (EVENT_KINDS, AdminUnit, Household, HouseholdState, HouseholdVersion, Person, Role,
                        UnitLevel, User, VersionKind, WorkflowEvent)
from collection_forms import FormDefinition, load_form
from collection_forms.loader import HOUSEHOLD, MEMBERS

# Events whose named persons change household: a member they add came from elsewhere, a
# member they cancel went elsewhere (a death or a duplicate is a cancellation, not a move).
MOVE_KINDS = frozenset({VersionKind.move_out, VersionKind.move_in, VersionKind.marriage, VersionKind.divorce,
                        VersionKind.split, VersionKind.merge})
# Who sees a village's monthly change list (the basis of the 信息变更报告单).
MONTH_ROLES = frozenset({Role.village_leader, Role.verifier})
ACTIVE = ("", "active")
# The household field that names its 村民小组 by code; a history shows the group's name.
GROUP_FIELD = "group_code"


# ------------------------------------------------------------------ the diff

@dataclass
class Change:
    label: str
    old: str
    new: str


@dataclass
class MemberDiff:
    name: str
    kind: str  # "added", "changed", "cancelled", "moved", "removed"
    changes: list[Change] = field(default_factory=list)
    person_id: str = ""
    direction: str = ""  # of a move: "in" (joined from elsewhere) or "out"


@dataclass
class Diff:
    first: bool  # no earlier version: a first registration
    household: list[Change]
    members: list[MemberDiff]

    @property
    def empty(self) -> bool:
        return not self.first and not self.household and not self.members


def unit_name(code: Any) -> str:
    """A unit's name for its stored code (a 村民小组 of the form, a village of an event): the
    code itself when no such unit is known, "" for none."""
    unit = unit_by_code(str(code)) if code else None
    return unit.name if unit is not None else ("" if code is None else str(code))


def _text(record: Mapping[str, Any] | None, name: str) -> str:
    """A stored value as text ("" when absent), as the form shows it."""
    if not isinstance(record, Mapping):
        return ""
    value = record.get(name)
    return "" if value is None else str(value)


def diff(old: dict[str, Any] | None, new: dict[str, Any], form: FormDefinition, lang: str, *,
         moved: Collection[str] | None = None) -> Diff:
    """What changed from `old` to `new`, in words of the form definition: household fields
    old → new; members added, changed (which fields), cancelled (their status left "active"),
    removed. Members are matched by person_id. With `moved` (the person ids a move event
    names, possibly none), moves are told apart: a member cancelled as moved_out or named
    there is "moved" out, a new member named there "moved" in.
    Without it (the review page's comparison over several versions), a move is a cancellation."""
    if old is None:
        return Diff(True, [], [])

    def shown(section: str, name: str, record: dict[str, Any] | None) -> str:
        value = _text(record, name)
        if value and section == HOUSEHOLD and name == GROUP_FIELD:
            return unit_name(value)
        f = form.fields_of(section).get(name)
        if value and f is not None and f.code_list is not None:
            return f.code_list.label(value, lang)
        return value

    def changes(section: str, a: dict[str, Any] | None, b: dict[str, Any] | None) -> list[Change]:
        out = []
        for name, f in form.fields_of(section).items():
            # Stored values are compared, shown ones told: two villages' groups may share a name.
            if _text(a, name) != _text(b, name):
                out.append(Change(f.label.get(lang, name), shown(section, name, a), shown(section, name, b)))
        return out

    household = changes(HOUSEHOLD, old.get(HOUSEHOLD) or {}, new.get(HOUSEHOLD) or {})
    old_members = {_text(m, "person_id"): m for m in old.get(MEMBERS) or []}
    members = []
    seen = set()
    for m in new.get(MEMBERS) or []:
        pid = _text(m, "person_id")
        seen.add(pid)
        name = _text(m, "name")
        before = old_members.get(pid)
        if before is None:
            came = moved is not None and pid in moved
            members.append(MemberDiff(name, "moved" if came else "added", person_id=pid,
                                      direction="in" if came else ""))
            continue
        changed = changes(MEMBERS, before, m)
        if not changed:
            continue
        cancelled = _text(before, "status") in ACTIVE and _text(m, "status") not in ACTIVE
        if cancelled and moved is not None and (_text(m, "status") == "moved_out" or pid in moved):
            members.append(MemberDiff(name, "moved", changed, pid, "out"))
        else:
            members.append(MemberDiff(name, "cancelled" if cancelled else "changed", changed, pid))
    for pid, m in old_members.items():
        if pid not in seen:
            members.append(MemberDiff(_text(m, "name"), "removed", person_id=pid))
    return Diff(False, household, members)


def version_diff(previous: HouseholdVersion | None, version: HouseholdVersion, form: FormDefinition,
                 lang: str) -> Diff:
    """A version against the one before it. The first version lists its members as added,
    or as moved in when it was made by a split (its event maps them to their old records)."""
    event = version.event if isinstance(version.event, dict) else {}
    if previous is None:
        came = event.get("from_person_ids") if isinstance(event.get("from_person_ids"), Mapping) else {}
        return Diff(True, [], [MemberDiff(_text(m, "name"), "moved", person_id=_text(m, "person_id"),
                                          direction="in") if _text(m, "person_id") in came else
                               MemberDiff(_text(m, "name"), "added", person_id=_text(m, "person_id"))
                               for m in version.data.get(MEMBERS) or []])
    moved = {str(p) for p in event.get("person_ids") or []} if version.kind in MOVE_KINDS else set()
    return diff(previous.data, version.data, form, lang, moved=moved)


# ------------------------------------------------------------------ a household's history

@dataclass
class HistoryEntry:
    version: HouseholdVersion
    kind: str
    occurred_on: dt.date | None
    recorded_by: User
    recorded_at: dt.datetime
    state: str  # the workflow state this version reached
    diff: Diff
    # Where the household or its members came from and went to, for the events that join two
    # households or two villages (split, merge, moves, transfer): set by household_history.
    came_from: Place | None = None
    went_to: Place | None = None

    @property
    def is_event(self) -> bool:
        return self.kind in EVENT_KINDS

    @property
    def split_from(self) -> Place | None:
        """The household this one was split from, when this is its first version."""
        return self.came_from if self.diff.first and self.kind == VersionKind.split.value else None


@dataclass
class Place:
    """A household as a history names it: village, group and card number. `household` is
    set only when the viewer may open that household (the card number is on the card itself,
    DESIGN.md §6, so it is named either way)."""
    village: str
    group: str
    card_no: str
    household: Household | None = None


def _place_of(actor: User, household: Household, at: dt.datetime) -> Place:
    """The household as it was at `at`: a transfer recorded later changed its village and card,
    and its event keeps the ones before."""
    visible = scope.can_at(actor, "household.view", household.unit_path)
    moved = db.session.scalar(
        select(HouseholdVersion).where(HouseholdVersion.household_id == household.id,
                                       HouseholdVersion.kind == VersionKind.transfer.value,
                                       HouseholdVersion.created_at > at)
        .order_by(HouseholdVersion.number).limit(1))
    if moved is None:
        return Place(household.village.name, household.group.name if household.group else "",
                     household.card_no, household if visible else None)
    before = db.session.scalar(select(HouseholdVersion.data).where(
        HouseholdVersion.household_id == household.id, HouseholdVersion.number == moved.number - 1))
    return Place(unit_name((moved.event or {}).get("from_village")),
                 unit_name(_text((before or {}).get(HOUSEHOLD), GROUP_FIELD)),
                 _text(moved.event, "from_card_no"), household if visible else None)


def _places(actor: User, household: Household, entries: list[HistoryEntry]) -> None:
    """Fill in came_from / went_to from each version's event. A transfer names the villages and
    card numbers before and after (its event keeps the old ones; the new card is the one the
    next transfer left, else today's); a two-sided event names the other household, whose
    side of the event tells the direction: it maps the members it made (from_*) or left (to_*)."""
    card_after: dict[int, str] = {}  # transfer version id → the card number it gave
    card = household.card_no
    for e in reversed(entries):
        if e.kind == VersionKind.transfer.value:
            card_after[e.version.id] = card
            card = _text(e.version.event, "from_card_no") or card
    previous: HistoryEntry | None = None
    for e in entries:
        event = e.version.event if isinstance(e.version.event, dict) else {}
        if e.kind == VersionKind.transfer.value:
            before = previous.version.data.get(HOUSEHOLD) if previous is not None else None
            after = e.version.data.get(HOUSEHOLD)
            e.came_from = Place(unit_name(event.get("from_village")), unit_name(_text(before, GROUP_FIELD)),
                                _text(event, "from_card_no"))
            e.went_to = Place(unit_name(event.get("to_village")), unit_name(_text(after, GROUP_FIELD)),
                              card_after[e.version.id])
        else:
            other_id = _uuid(event.get("split_from") or event.get("other_household_id"))
            other = db.session.get(Household, other_id) if other_id is not None else None
            if other is not None:
                if event.get("split_from") or "from_person_ids" in event or "from_person_id" in event:
                    e.came_from = _place_of(actor, other, e.recorded_at)
                elif "to_person_ids" in event or "to_person_id" in event:
                    e.went_to = _place_of(actor, other, e.recorded_at)
        previous = e


def _states(household: Household, versions: list[HouseholdVersion]) -> dict[int, str]:
    """Each version's workflow state: the current one's is the household's; an older one's is
    where its last workflow event left it (draft when none was made on it)."""
    last: dict[int, str] = {}
    for version_id, to_state in db.session.execute(
            select(WorkflowEvent.version_id, WorkflowEvent.to_state)
            .where(WorkflowEvent.household_id == household.id).order_by(WorkflowEvent.id)):
        last[version_id] = to_state
    states = {v.id: last.get(v.id, HouseholdState.draft.value) for v in versions}
    if household.current_version_id in states:
        states[household.current_version_id] = household.state
    return states


def _entries(household: Household, form: FormDefinition, lang: str) -> list[HistoryEntry]:
    """All versions of a household, oldest first, each with its diff and state."""
    versions = list(db.session.scalars(
        select(HouseholdVersion).where(HouseholdVersion.household_id == household.id)
        .options(selectinload(HouseholdVersion.created_by)).order_by(HouseholdVersion.number)))
    states = _states(household, versions)
    entries, previous = [], None
    for v in versions:
        entries.append(HistoryEntry(v, v.kind, v.occurred_on, v.created_by, v.created_at, states[v.id],
                                    version_diff(previous, v, form, lang)))
        previous = v
    return entries


def household_history(actor: User, household_id: uuid.UUID, kind: str | None = None, *,
                      lang: str = "zh") -> list[HistoryEntry]:
    """The household's versions newest first, optionally of one kind (a VersionKind value).
    NotFound outside the actor's area."""
    household = registration.get_household(actor, household_id)
    entries = _entries(household, load_form(), lang)
    _places(actor, household, entries)
    if kind:
        entries = [e for e in entries if e.kind == kind]
    return entries[::-1]


# ------------------------------------------------------------------ a person's history

@dataclass
class PersonEntry:
    """One step of a person's life in one household. An entry of a household outside the
    actor's area has `visible` False and carries nothing else."""
    visible: bool
    household: Household | None = None
    kind: str = ""
    occurred_on: dt.date | None = None
    recorded_at: dt.datetime | None = None
    member: MemberDiff | None = None
    state: str = ""


@dataclass
class PersonHistory:
    name: str
    id_number: str
    entries: list[PersonEntry]


def _links(event: Mapping[str, Any], ids: set[str]) -> set[str]:
    """The person ids an event links to any of `ids`: a move's member left behind (from) and
    the one made (to); a split's or merge's map of old to new member records (the new
    household's side of a split names no person_ids, only that map)."""
    out: set[str] = set()
    if {str(p) for p in event.get("person_ids") or []} & ids:
        out |= {v for v in (_text(event, "from_person_id"), _text(event, "to_person_id")) if v}
    for key in ("to_person_ids", "from_person_ids"):
        mapping = event.get(key)
        for a, b in (mapping.items() if isinstance(mapping, Mapping) else ()):
            if str(a) in ids or str(b) in ids:
                out |= {str(a), str(b)}
    return out


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


def _order(steps: list[tuple[uuid.UUID, HistoryEntry, MemberDiff]]) -> list[tuple]:
    """Sort keys for a person's steps, oldest first. By the time each was recorded, not the date
    it happened: versions of one household are recorded in their order, and a registration has
    no date of its own, so an event registered late (a split that happened before the household
    was first recorded) must not jump ahead of the registration it changes. The two sides of one
    event are recorded together; its arrival is kept after its departure (a move-in is written
    before the move-out it makes)."""
    keys = []
    for hid, e, m in steps:
        at = e.recorded_at
        if m.direction == "in":
            event = e.version.event if isinstance(e.version.event, dict) else {}
            other = _uuid(event.get("split_from") or event.get("other_household_id"))
            sides = [o.recorded_at for ohid, o, om in steps if ohid == other and om.direction == "out"]
            if sides:
                at = max(at, min(sides, key=lambda t: abs(t - e.recorded_at)))
        keys.append((at, m.direction == "in", e.recorded_at, e.version.number))
    return keys


def person_history(actor: User, person_id: uuid.UUID | None = None, id_number: str | None = None, *,
                   lang: str = "zh") -> PersonHistory:
    """The person's steps across households, oldest first in the order recorded (_order says
    why not by the date of occurrence): where they were registered, born,
    married into, moved to, cancelled. One person may carry several person_ids (a move makes a
    new member in the new household); they are joined by ID number and by the links a move
    records in its event (`from_person_id`, `to_person_id`, a split's or merge's maps,
    `other_household_id`, `split_from`). NotFound
    unless the actor sees at least one of the households; the others are shown only as
    "outside your area", without dates or details."""
    ids = {str(person_id)} if person_id else set()
    numbers = {id_number.strip().upper()} if id_number and id_number.strip() else set()
    if not ids and not numbers:
        raise NotFound(_("No such person."))
    households: dict[uuid.UUID, Household] = {}
    # Grow the set of ids, numbers and households until nothing new turns up (moves chain).
    for _round in range(10):
        size = (len(ids), len(numbers), len(households))
        conditions = [Person.id.in_([u for u in map(_uuid, ids) if u is not None])] if ids else []
        if numbers:
            conditions.append(Person.id_number.in_(numbers))
        for p in db.session.scalars(select(Person).where(or_(*conditions))):
            households.setdefault(p.household_id, p.household)
            ids.add(str(p.id))
        for h in list(households.values()):
            for v in h.versions:
                event = v.event if isinstance(v.event, dict) else {}
                for m in v.data.get(MEMBERS) or []:
                    if _text(m, "person_id") in ids or _text(m, "id_number").upper() in numbers:
                        ids.add(_text(m, "person_id"))
                        if _text(m, "id_number"):
                            numbers.add(_text(m, "id_number").upper())
                linked = _links(event, ids)
                if linked:
                    ids |= linked
                    other = _uuid(event.get("other_household_id") or event.get("split_from"))
                    if other is not None and other not in households:
                        found = db.session.get(Household, other)
                        if found is not None:
                            households[other] = found
        ids.discard("")
        if (len(ids), len(numbers), len(households)) == size:
            break
    visible = {hid for hid, h in households.items() if scope.can_at(actor, "household.view", h.unit_path)}
    if not visible:
        raise NotFound(_("No such person."))

    form = load_form()
    mine: list[tuple[uuid.UUID, HistoryEntry, MemberDiff]] = []
    name, number = "", ""
    for hid, h in households.items():
        for e in _entries(h, form, lang):
            mine += [(hid, e, m) for m in e.diff.members if m.person_id in ids]
            record = next((m for m in e.version.data.get(MEMBERS) or []
                           if _text(m, "person_id") in ids), None)
            if record is not None and hid in visible and e.version.number == h.current_number:
                name, number = name or _text(record, "name"), number or _text(record, "id_number")
    steps: list[PersonEntry] = []
    hidden: set[uuid.UUID] = set()
    for _key, (hid, e, m) in sorted(zip(_order(mine), mine), key=lambda s: s[0]):
        if hid in visible:
            steps.append(PersonEntry(True, households[hid], e.kind, e.occurred_on, e.recorded_at, m, e.state))
        elif hid not in hidden:  # a household outside the area: once, where the person first was there
            hidden.add(hid)
            steps.append(PersonEntry(False))
    return PersonHistory(name, number, steps)


# ------------------------------------------------------------------ a village's month

@dataclass
class MonthChange:
    version: HouseholdVersion
    household: Household
    kind: str
    occurred_on: dt.date | None
    recorded_at: dt.datetime
    recorded_by: User
    state: str
    late: bool  # recorded in the month, happened before it (补登)
    persons: list[MemberDiff]


@dataclass
class Month:
    village: AdminUnit
    year: int
    month: int
    first: dt.date
    last: dt.date
    changes: list[MonthChange]
    own_units_only: bool = False  # a collector's list: the households of their own units

    @property
    def previous(self) -> tuple[int, int]:
        return (self.year - 1, 12) if self.month == 1 else (self.year, self.month - 1)

    @property
    def next(self) -> tuple[int, int]:
        return (self.year + 1, 1) if self.month == 12 else (self.year, self.month + 1)


def _collector_paths(actor: User, village: AdminUnit) -> list[str]:
    """Where in the village the actor collects: the village itself, or their groups of it."""
    out = []
    for a in scope.assignments(actor, {Role.collector}):
        if is_within(village.path, a.unit.path):
            out.append(village.path)
        elif is_within(a.unit.path, village.path):
            out.append(a.unit.path)
    return out


def month_villages(actor: User) -> list[AdminUnit]:
    """The villages whose monthly change list the actor may open, in tree order: all of them
    under a leader's or verifier's unit; a collector's own village (of their group)."""
    paths = [a.unit.path for a in scope.assignments(actor, MONTH_ROLES)]
    collected = [a.unit.path if a.unit.level != UnitLevel.group.value else a.unit.parent.path
                 for a in scope.assignments(actor, {Role.collector})]
    return list(db.session.scalars(select(AdminUnit).where(
        AdminUnit.level == UnitLevel.village.value,
        or_(in_any_subtree(AdminUnit.path, paths), AdminUnit.path.in_(collected)))
        .order_by(AdminUnit.path)))


def month_changes(actor: User, village_id: int, year: int, month: int, *, lang: str = "zh") -> Month:
    """The village's life events of a month, by date of occurrence (occurred_on in the month),
    and the events recorded in the month (local time) that happened earlier, marked late.
    The village leaders and verifiers of the village see all of it; a collector (谁采集、谁负责)
    the changes of the households of their own units there, the village or their groups, as
    the scope lets them see those households anyway. Anyone else: NotFound outside their area,
    else Forbidden."""
    village = db.session.get(AdminUnit, village_id)
    own = _collector_paths(actor, village) if village is not None else []
    if village is None or not (own or scope.can(actor, "unit.view", village)) \
            or village.level != UnitLevel.village.value:
        raise NotFound(_("No such village."))
    whole = any(is_within(village.path, a.unit.path) for a in scope.assignments(actor, MONTH_ROLES))
    if not whole and not own:
        raise Forbidden(_("Only the village leader, the township verifier and the village's collectors "
                          "see the changes of a month."))
    first = dt.date(year, month, 1)
    following = dt.date(year + 1, 1, 1) if month == 12 else dt.date(year, month + 1, 1)
    zone = registration.local_zone()
    start = dt.datetime.combine(first, dt.time(), zone).astimezone(dt.timezone.utc)
    end = dt.datetime.combine(following, dt.time(), zone).astimezone(dt.timezone.utc)
    in_month = and_(HouseholdVersion.occurred_on >= first, HouseholdVersion.occurred_on < following)
    recorded = and_(HouseholdVersion.created_at >= start, HouseholdVersion.created_at < end,
                    or_(HouseholdVersion.occurred_on < first, HouseholdVersion.occurred_on.is_(None)))
    versions = list(db.session.scalars(
        select(HouseholdVersion).join(Household, HouseholdVersion.household_id == Household.id)
        .where(Household.village_id == village.id,
               HouseholdVersion.kind.in_([k.value for k in EVENT_KINDS]), or_(in_month, recorded),
               true() if whole else in_any_subtree(Household.unit_path, own))
        .options(selectinload(HouseholdVersion.household), selectinload(HouseholdVersion.created_by))))
    form = load_form()
    changes = []
    by_household: dict[uuid.UUID, dict[int, HistoryEntry]] = {}
    for v in versions:
        if v.household_id not in by_household:
            by_household[v.household_id] = {e.version.id: e for e in _entries(v.household, form, lang)}
        entry = by_household[v.household_id][v.id]
        late = v.occurred_on is not None and v.occurred_on < first
        changes.append(MonthChange(v, v.household, v.kind, v.occurred_on, v.created_at, v.created_by,
                                   entry.state,
                                   late, entry.diff.members))
    changes.sort(key=lambda c: (c.late, c.occurred_on or dt.date.max, c.recorded_at))
    last = following - dt.timedelta(days=1)
    return Month(village, year, month, first, last, changes, not whole)
