"""Life events (信息变更): births, deaths, moves, marriages and divorces as recorded changes.

Each event is one new version of the household with its kind, its date of occurrence and
what happened (`HouseholdVersion.event`), built from the current version: never a silent
edit. It becomes a draft that goes through the approval chain like any other version.

Two-sided events (a person moving between two households of the system, a spouse moving
in) write one version on each side in the caller's transaction: either both are there
after the commit or neither is. A person is never deleted: who dies or whose hukou moves
stays on the roster, cancelled (注销), and someone who moves in gets a new member record
here, linked to the one they leave (`from_person_id`).

Dates: an event may be recorded after it happened, but it cannot lie in the future, before
the birth of the person it concerns, or after their death.
"""
from __future__ import annotations

import copy
import datetime as dt
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.domain import audit, registration, scope
from app.domain.errors import Conflict, Invalid, NotFound
from app.domain.labels import EVENT_LABELS  # noqa: F401 (the events' names, kept in one place)
from app.domain.tree import in_subtree
from app.domain.units import unit_by_code
from app.domain.users import unit_chain
from app.extensions import db
from app.models import AdminUnit, Household, HouseholdVersion, Person, UnitLevel, User, VersionKind, utcnow
from app.models.events import TRANSFER_TRANSITIONS, HouseholdTransfer, TransferState
from collection_forms import Issue, member_path
from collection_forms.birth_rules import check_birth
from collection_forms.conditions import as_date
from collection_forms.head_change import Proposal, next_child_code, propose
from collection_forms.id_number import IdNumberError, parse_id_number
from quality.household import HEAD

EARLIEST = dt.date(1900, 1, 1)

DEATH_CAUSES = {"illness": _l("Illness"), "accident": _l("Accident"), "old_age": _l("Old age"),
                "other": _l("Other")}
DEATH_SOURCES = {"family": _l("Family"), "hospital": _l("Hospital"), "police": _l("Police station"),
                 "village": _l("Village committee"), "other": _l("Other")}
MOVE_REASONS = {"work": _l("Work"), "study": _l("Study"), "marriage": _l("Marriage"),
                "military": _l("Military service"), "other": _l("Other")}

SONS_CHILD = {"1": "41", "2": "42"}
DAUGHTERS_CHILD = {"1": "43", "2": "44"}
MARRIED, WIDOWED, DIVORCED, NEVER = "20", "30", "40", "10"
FIRST_MARRIAGE, REMARRIED = "21", "22"


@dataclass
class EventResult:
    household: Household
    version: HouseholdVersion
    created: bool  # False: the same submission was replayed
    other: HouseholdVersion | None = None  # the other household's version of a two-sided event
    issues: list[Issue] = field(default_factory=list)  # the event's own warnings, stored with the version


@dataclass
class Change:
    """What an event does to the members, worked out before anything is written."""
    members: list[dict[str, Any]]
    event: dict[str, Any]
    concerned: list[dict[str, Any]] = field(default_factory=list)  # whose life dates bound the event
    issues: list[Issue] = field(default_factory=list)  # warnings of the event's own rules (a birth's)


# ------------------------------------------------------------------ the common path


def record_event(actor: User, household_id: uuid.UUID, kind: VersionKind, *, occurred_on: dt.date,
                 base_number: int, change: Callable[[Household, list[dict[str, Any]]], Change],
                 submission_id: uuid.UUID | None = None, today: dt.date | None = None,
                 other_side: Callable[[Household, HouseholdVersion], HouseholdVersion | None] | None = None
                 ) -> EventResult:
    """Write one event version of the household. `change(household, members)` gets a copy
    of the current members and returns the changed roster and the event's details (it
    raises Invalid to refuse). `other_side` writes the matching version on the other
    household of a two-sided event, after this one, in the same transaction. Idempotent by
    `submission_id`: the same submission again returns the version it made."""
    household = registration.get_household(actor, household_id, "household.edit")
    replay = _replayed(submission_id, household, kind, occurred_on)
    if replay is not None:
        return replay
    on = today or registration.today()
    check_dates(occurred_on, [], on)  # a wrong date first: it is the same for every member
    # Serialise changes of one household (PostgreSQL; SQLite already holds the write lock).
    db.session.execute(select(Household.id).where(Household.id == household.id).with_for_update())
    db.session.refresh(household)
    if base_number != household.current_number:
        raise Conflict(_("Someone saved a newer version (%(n)d) of this household. Open the household "
                         "again and record the event on it.", n=household.current_number))
    current = household.current_version
    data = copy.deepcopy(current.data) if current else {"household": {}, "members": []}
    result = change(household, data.get("members", []))
    check_dates(occurred_on, result.concerned, on)
    data["members"] = result.members
    event = {"kind": kind.value, **result.event}
    # One savepoint for both sides: a refusal of the other side undoes this one too, even
    # for a caller that goes on with the transaction (the demo's year of events).
    try:
        with db.session.begin_nested():
            saved = registration.write_event_version(actor, household, kind, data, base_number=base_number,
                                                     submission_id=submission_id, on=on,
                                                     occurred_on=occurred_on, event=event,
                                                     extra_issues=[i.as_dict() for i in result.issues])
            other = other_side(household, saved.version) if other_side else None
    except IntegrityError:
        # The same submission, sent twice at once, was stored by the other request: its answer.
        replay = _replayed(submission_id, household, kind, occurred_on)
        if replay is None:
            raise
        return replay
    return EventResult(household, saved.version, True, other, result.issues)


def _replayed(submission_id: uuid.UUID | None, household: Household, kind: VersionKind,
              occurred_on: dt.date) -> EventResult | None:
    if submission_id is None:
        return None
    version = db.session.scalar(
        select(HouseholdVersion).where(HouseholdVersion.submission_id == submission_id))
    if version is None:
        return None
    if (version.household_id, version.kind, version.occurred_on) != (household.id, kind.value, occurred_on):
        raise Conflict(_("This submission number was already used for different data."))
    return EventResult(household, version, False)


def check_dates(occurred_on: dt.date, concerned: list[dict[str, Any]], today: dt.date) -> None:
    """Refuse an event dated in the future, before the birth or after the death of a person
    it concerns."""
    if occurred_on > today:
        raise Invalid(_("The date of the event (%(date)s) is in the future.", date=occurred_on.isoformat()),
                      field="occurred_on")
    if occurred_on < EARLIEST:
        raise Invalid(_("The date of the event must not be before 1900."), field="occurred_on")
    for m in concerned:
        born = as_date(m.get("birth_date"))
        if born is not None and occurred_on < born:
            raise Invalid(_("The date of the event (%(date)s) is before %(name)s was born (%(born)s).",
                            date=occurred_on.isoformat(), name=m.get("name") or "?", born=born.isoformat()),
                          field="occurred_on")
        died = as_date(m.get("cancelled_on")) if m.get("status") == "deceased" else None
        if died is not None and occurred_on > died:
            raise Invalid(_("The date of the event (%(date)s) is after the death of %(name)s (%(died)s).",
                            date=occurred_on.isoformat(), name=m.get("name") or "?", died=died.isoformat()),
                          field="occurred_on")


def _member(members: list[dict[str, Any]], person_id: Any, field_name: str = "person_id",
            active: bool = True) -> dict[str, Any]:
    m = next((m for m in members if str(m.get("person_id")) == str(person_id)), None)
    if m is None:
        raise Invalid(_("Choose a member of this household."), field=field_name)
    if active and (m.get("status") or "active") != "active":
        raise Invalid(_("%(name)s is cancelled from this household already.", name=m.get("name") or "?"),
                      field=field_name)
    return m


def _id_number(value: str, field_name: str, today: dt.date | None) -> str | None:
    """A person elsewhere named by ID number: empty, or a valid number (normalised)."""
    if not (value or "").strip():
        return None
    try:
        return parse_id_number(value, today or registration.today()).number
    except IdNumberError as e:
        problem = e.message_zh if get_locale() and get_locale().language == "zh" else e.message_en
        raise Invalid(_("The ID number %(problem)s.", problem=problem), field=field_name) from None


def _active(members: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in members if (m.get("status") or "active") == "active"]


def _new_person_id(submission_id: uuid.UUID | None, role: str) -> str:
    """Derived from the submission, so that a retried submission names the same person."""
    return str(uuid.uuid5(submission_id, role) if submission_id else uuid.uuid4())


# ------------------------------------------------------------------ head change


def head_proposals(members: list[dict[str, Any]], leaving_id: str, new_head_id: str) -> list[Proposal]:
    """The relationships to the new head once `leaving_id` (the head who dies or moves away)
    is cancelled: what the confirmation screen shows, member by member."""
    roster = [dict(m, status="left") if str(m.get("person_id")) == str(leaving_id) else m for m in members]
    index = next((i for i, m in enumerate(roster) if str(m.get("person_id")) == str(new_head_id)), None)
    if index is None or (roster[index].get("status") or "active") != "active":
        raise Invalid(_("Choose the new head among the members who stay."), field="new_head")
    return propose(roster, index)


def _apply_head_change(members: list[dict[str, Any]], leaving: dict[str, Any], new_head: str | None,
                       relationships: dict[str, str] | None) -> dict[str, Any] | None:
    """When the head leaves, the members who stay get a new head and their relationships to
    them: the proposals, with the collector's corrections in `relationships` (person_id →
    code). Returns the event's head-change details, or None if the head did not leave."""
    if leaving.get("relationship") != HEAD:
        return None
    staying = [m for m in _active(members) if m is not leaving]
    if not staying:
        return None  # nobody stays: the household has no head any more
    if not new_head:
        raise Invalid(_("The head leaves the household: choose the new head."), field="new_head")
    proposals = head_proposals(members, str(leaving.get("person_id")), new_head)
    chosen = dict(relationships or {})
    changes = []
    for p in proposals:
        m = members[p.index]
        pid = str(m.get("person_id"))
        code = HEAD if pid == str(new_head) else chosen.get(pid, p.new)
        if code == HEAD and str(m.get("person_id")) != str(new_head):
            raise Invalid(_("Only the new head is the head of the household."), field="relationships")
        if code != m.get("relationship"):
            changes.append({"person_id": m.get("person_id"), "old": m.get("relationship"), "new": code})
            m["relationship"] = code
    return {"new_head": new_head, "relationships": changes}


# ------------------------------------------------------------------ birth


def birth(actor: User, household_id: uuid.UUID, *, occurred_on: dt.date, base_number: int, sex: str,
          name: str = "", birth_place: str = "", mother: str | None = None, father: str | None = None,
          mother_id_number: str = "", father_id_number: str = "", relationship: str | None = None,
          submission_id: uuid.UUID | None = None, today: dt.date | None = None) -> EventResult:
    """A child born into the household. The name may still be pending: the version is then
    an incomplete draft until someone completes the name. Parents are members here
    (`mother`, `father`: person ids) or persons elsewhere by their ID numbers."""
    if sex not in ("1", "2"):
        raise Invalid(_("Choose the child's sex."), field="sex")
    mother_id_number = _id_number(mother_id_number, "mother_id_number", today) or ""
    father_id_number = _id_number(father_id_number, "father_id_number", today) or ""
    # A mother elsewhere: her birth date is in her (valid) ID number.
    mother_born = (parse_id_number(mother_id_number, today or registration.today()).birth_date
                   if mother_id_number else None)

    def change(household: Household, members: list[dict[str, Any]]) -> Change:
        mum = _member(members, mother, "mother") if mother else None
        dad = _member(members, father, "father") if father else None
        if mum is not None and mum.get("sex") != "2":
            raise Invalid(_("The mother must be a woman."), field="mother")
        if dad is not None and dad.get("sex") != "1":
            raise Invalid(_("The father must be a man."), field="father")
        issues = _birth_issues(household, members, mum, mother_id_number, mother_born, occurred_on)
        code = relationship or _child_relationship(sex, [p for p in (mum, dad) if p is not None], members,
                                                   occurred_on)
        if not code:
            raise Invalid(_("Choose the child's relationship to the head."), field="relationship")
        child = {"person_id": _new_person_id(submission_id, "birth"), "sex": sex,
                 "birth_date": occurred_on.isoformat(), "relationship": code, "management": "resident",
                 "status": "active", "marital_status": NEVER}
        if name.strip():
            child["name"] = name.strip()
        parent = mum or dad
        for key in ("hukou_type", "hukou_place", "residence_place", "ethnicity"):
            if parent is not None and parent.get(key):
                child[key] = parent[key]
        if mum is not None:  # the mother's children: counts and the youngest child
            key = "boys" if sex == "1" else "girls"
            mum[key] = int(mum.get(key) or 0) + 1
            mum.setdefault("boys" if key == "girls" else "girls", 0)
            mum["youngest_birth_date"], mum["youngest_sex"] = occurred_on.isoformat(), sex
        event = {"person_ids": [child["person_id"]], "birth_place": birth_place.strip(),
                 "mother": mother, "father": father, "name_pending": not name.strip(),
                 "mother_id_number": mother_id_number.strip() or None,
                 "father_id_number": father_id_number.strip() or None}
        return Change(members + [child], event, [p for p in (mum,) if p is not None], issues)

    return record_event(actor, household_id, VersionKind.birth, occurred_on=occurred_on,
                        base_number=base_number, change=change, submission_id=submission_id, today=today)


def _birth_issues(household: Household, members: list[dict[str, Any]], mum: dict[str, Any] | None,
                  mother_id_number: str, mother_born: dt.date | None, on: dt.date) -> list[Issue]:
    """The birth rules (collection_forms.birth_rules) for the mother: a member here, or a
    woman elsewhere known by her ID number (its birth date). A mother under 14 is refused
    here; the warnings go with the version. Her other births: her youngest child's date on
    the form and the births recorded in this household with her as the mother."""
    if mum is None and not mother_id_number:
        return []
    if mum is not None:
        born = as_date(mum.get("birth_date"))
        index = next(i for i, m in enumerate(members) if m is mum)
        mother_path, field_name = member_path(index, "birth_date"), "mother"
        others = [mum.get("youngest_birth_date")]
    else:
        born = mother_born
        mother_path, field_name = member_path(len(members), "birth_date"), "mother_id_number"
        others = []
    if mum is not None and born is not None and on < born:
        return []  # a birth before the mother's own: check_dates refuses it with its own words
    recorded = db.session.execute(
        select(HouseholdVersion.occurred_on, HouseholdVersion.event)
        .where(HouseholdVersion.household_id == household.id,
               HouseholdVersion.kind == VersionKind.birth.value)).all()
    for occurred, event in recorded:
        event = event or {}
        if (mum is not None and str(event.get("mother") or "") == str(mum.get("person_id"))) or (
                mother_id_number and event.get("mother_id_number") == mother_id_number):
            others.append(occurred)
    issues = check_birth(mum, on, others, mother_birth=born, mother_path=mother_path,
                         date_path=member_path(len(members), "birth_date"))
    refused = next((i for i in issues if i.level == "error"), None)
    if refused is not None:
        raise Invalid(issue_message(refused), field=field_name)
    return issues


def issue_message(issue: Issue) -> str:
    """An Issue's message in the user's language (Chinese unless the locale is another)."""
    locale = get_locale()
    return issue.message["en"] if locale is not None and locale.language != "zh" else issue.message["zh"]


def _child_relationship(sex: str, parents: list[dict[str, Any]], members: list[dict[str, Any]] = (),
                        born: dt.date | None = None) -> str | None:
    """The newborn's relationship to the head, from a parent's: the head's or their spouse's
    child is a son or daughter, by order among the head's children when they have ordered
    codes (长子, 次子…: collection_forms.head_change.next_child_code); a son's child a
    grandchild (孙子/孙女), a daughter's 外孙子/外孙女."""
    for p in parents:
        rel = p.get("relationship") or ""
        if rel == HEAD or rel in ("10", "11", "12"):
            return next_child_code(sex, members, born)
        if rel.startswith("2") and rel != "28" or rel == "38":
            return SONS_CHILD[sex]
        if rel.startswith("3") and rel != "38" or rel == "28":
            return DAUGHTERS_CHILD[sex]
    return None


# ------------------------------------------------------------------ death


def death(actor: User, household_id: uuid.UUID, *, person_id: str, occurred_on: dt.date, base_number: int,
          cause: str, source: str, new_head: str | None = None, relationships: dict[str, str] | None = None,
          submission_id: uuid.UUID | None = None, today: dt.date | None = None) -> EventResult:
    """Cancel a member as deceased (注销: they stay on the roster and in the history). The
    spouse becomes widowed; when the head dies, `new_head` and the relationships to them."""
    if cause not in DEATH_CAUSES:
        raise Invalid(_("Choose the cause of death."), field="cause")
    if source not in DEATH_SOURCES:
        raise Invalid(_("Choose where the information comes from."), field="source")

    def change(household: Household, members: list[dict[str, Any]]) -> Change:
        person = _member(members, person_id)
        concerned = dict(person)
        person.update(status="deceased", cancelled_on=occurred_on.isoformat(), cancellation_reason="死亡")
        for m in _spouses(members, person):
            m["marital_status"] = WIDOWED
        head = _apply_head_change(members, person, new_head, relationships)
        event = {"person_ids": [person_id], "cause": cause, "source": source}
        if head:
            event["head_change"] = head
        return Change(members, event, [concerned])

    return record_event(actor, household_id, VersionKind.death, occurred_on=occurred_on,
                        base_number=base_number, change=change, submission_id=submission_id, today=today)


def _spouses(members: list[dict[str, Any]], person: dict[str, Any]) -> list[dict[str, Any]]:
    """Active members linked to `person` as spouse (the form links a married woman to her
    husband; the head and a 10/11/12 member are each other's spouse)."""
    pid = str(person.get("person_id"))
    linked = [m for m in _active(members) if m is not person
              and (str(m.get("spouse_member")) == pid
                   or str(person.get("spouse_member")) == str(m.get("person_id")))]
    if not linked and person.get("relationship") == HEAD:
        linked = [m for m in _active(members) if m.get("relationship") in ("10", "11", "12")]
    elif not linked and person.get("relationship") in ("10", "11", "12"):
        linked = [m for m in _active(members) if m.get("relationship") == HEAD]
    return linked


# ------------------------------------------------------------------ moves


@dataclass
class Destination:
    """Where someone moves to: a unit of the tree (its code) or a place outside the country's units."""
    unit_code: str = ""
    text: str = ""

    def resolve(self) -> tuple[str | None, str]:
        if self.unit_code:
            unit = unit_by_code(self.unit_code)
            if unit is None:
                raise Invalid(_("No administrative unit has the code %(code)s.", code=self.unit_code),
                              field="destination")
            return unit.code, unit.name
        if not self.text.strip():
            raise Invalid(_("Say where the person moves to: pick a unit or type the place."),
                          field="destination")
        return None, self.text.strip()[:100]


@dataclass(frozen=True)
class UnitChild:
    code: str
    name: str
    level: str
    has_children: bool


def unit_children(code: str | None) -> tuple[AdminUnit | None, list[UnitChild]]:
    """One step down the tree for the destination picker: the unit `code` (None: the top
    of the tree) and the units directly under it, in code order. The whole tree, not the
    actor's scope: people move anywhere, and unit names are not personal data."""
    parent = None
    if code:
        parent = unit_by_code(code)
        if parent is None:
            raise NotFound(_("No administrative unit has the code %(code)s.", code=code))
    rows = db.session.execute(
        select(AdminUnit.id, AdminUnit.code, AdminUnit.name, AdminUnit.level)
        .where(AdminUnit.parent_id == parent.id if parent is not None else AdminUnit.parent_id.is_(None))
        .order_by(AdminUnit.code)).all()
    # Which of them have units under them: the picker offers to go down only into those.
    ids = [r.id for r in rows]
    parents = set(db.session.scalars(select(AdminUnit.parent_id).where(AdminUnit.parent_id.in_(ids))
                                     .distinct())) if ids else set()
    return parent, [UnitChild(r.code, r.name, r.level, r.id in parents) for r in rows]


def unit_trail(code: str) -> list[AdminUnit]:
    """The unit `code` and its ancestors, from the top of the tree down ([] for no such
    unit): how a unit chosen far away is named on the form."""
    unit = unit_by_code(code) if code else None
    return unit_chain(unit) if unit is not None else []


def county_villages(household: Household) -> list[tuple[AdminUnit, list[AdminUnit]]]:
    """The villages of the household's county by township, in tree order: where a move
    or a transfer usually goes (the first choice of the form's picker; farther units are
    picked down the tree, `unit_children`, or typed)."""
    codes = household.village.path.strip("/").split("/")
    county = db.session.scalar(select(AdminUnit).where(AdminUnit.code.in_(codes),
                                                       AdminUnit.level == UnitLevel.county.value))
    root = county.path if county is not None else household.village.parent.path
    villages = db.session.scalars(select(AdminUnit).where(in_subtree(AdminUnit.path, root),
                                                          AdminUnit.level == UnitLevel.village.value)
                                  .order_by(AdminUnit.path)).all()
    out: list[tuple[AdminUnit, list[AdminUnit]]] = []
    for v in villages:
        if out and out[-1][0].id == v.parent_id:
            out[-1][1].append(v)
        else:
            out.append((v.parent, [v]))
    return out


def move_out(actor: User, household_id: uuid.UUID, *, person_id: str, occurred_on: dt.date, base_number: int,
             destination: Destination, reason: str, hukou_moves: bool, new_head: str | None = None,
             relationships: dict[str, str] | None = None, submission_id: uuid.UUID | None = None,
             today: dt.date | None = None) -> EventResult:
    """A member leaves. With the hukou (户口迁出) they are cancelled from the household;
    without it they stay registered here as an out-migrant (户籍外出)."""
    if reason not in MOVE_REASONS:
        raise Invalid(_("Choose the reason for the move."), field="reason")
    code, place = destination.resolve()

    def change(household: Household, members: list[dict[str, Any]]) -> Change:
        person = _member(members, person_id)
        concerned = dict(person)
        event = {"person_ids": [person_id], "destination_code": code, "destination": place,
                 "reason": reason, "hukou_moves": hukou_moves}
        if hukou_moves:
            person.update(status="moved_out", cancelled_on=occurred_on.isoformat(), cancellation_reason="迁出")
            head = _apply_head_change(members, person, new_head, relationships)
            if head:
                event["head_change"] = head
        else:
            person.update(management="out_migrant", migration_place=place,
                          migration_since=occurred_on.isoformat())
        return Change(members, event, [concerned])

    return record_event(actor, household_id, VersionKind.move_out, occurred_on=occurred_on,
                        base_number=base_number, change=change, submission_id=submission_id, today=today)


def find_person(actor: User, id_number: str, *, outside: uuid.UUID | None = None) -> Person:
    """An active person by ID number in a household the actor may change (not `outside`)."""
    number = (id_number or "").strip().upper()
    query = (select(Person).join(Household, Person.household_id == Household.id)
             .where(Person.id_number == number, Person.status == "active",
                    scope.scope_filter(actor, Household.unit_path, "household.edit")))
    if outside is not None:
        query = query.where(Person.household_id != outside)
    person = db.session.scalars(query).first() if number else None
    if person is None:
        raise Invalid(_("No active person with this ID number in a household you may change."),
                      field="id_number")
    return person


def move_in(actor: User, household_id: uuid.UUID, *, occurred_on: dt.date, base_number: int,
            relationship: str, reason: str, id_number: str = "", newcomer: dict[str, Any] | None = None,
            origin: str = "",
            spouse_of: str | None = None, submission_id: uuid.UUID | None = None,
            today: dt.date | None = None, kind: VersionKind = VersionKind.move_in) -> EventResult:
    """A person joins the household: from another household of the system (found by
    `id_number` within the actor's scope; that household gets a matching move-out with the
    hukou, in the same transaction), or from outside (`newcomer`: the member's fields).
    `spouse_of`: a member here whom the newcomer marries (the marriage event)."""
    if reason not in MOVE_REASONS:
        raise Invalid(_("Choose the reason for the move."), field="reason")
    if not relationship or relationship == HEAD:
        raise Invalid(_("Choose the newcomer's relationship to the head."), field="relationship")
    source = find_person(actor, id_number, outside=household_id) if id_number.strip() else None
    if source is None and not (newcomer and str(newcomer.get("name") or "").strip()):
        raise Invalid(_("Give the ID number of a registered person, or the newcomer's details."),
                      field="id_number")
    if source is not None and source.is_head and source.household.member_count > 1:
        raise Invalid(_("%(name)s is the head of another household: record the head change there first.",
                        name=source.name), field="id_number")
    source_household = source.household if source is not None else None
    source_id = source.household_id if source else None
    source_base = source_household.current_number if source_household else None
    source_data = next((dict(m) for m in source_household.current_version.data.get("members", [])
                        if str(m.get("person_id")) == str(source.id)), None) if source else None

    def change(household: Household, members: list[dict[str, Any]]) -> Change:
        base = dict(source_data) if source_data else dict(newcomer or {})
        for key in ("cancellation_reason", "cancelled_on", "spouse_member", "boys", "girls",
                    "youngest_birth_date", "youngest_sex"):
            base.pop(key, None)
        person = {**base, "person_id": _new_person_id(submission_id, "move_in"), "relationship": relationship,
                  "status": "active", "management": "resident"}
        person.pop("migration_place", None)
        person.pop("migration_since", None)
        event: dict[str, Any] = {"person_ids": [person["person_id"]], "reason": reason,
                                 "origin": origin.strip() or None}
        if source is not None:
            event.update(other_household_id=str(source_id), from_person_id=str(source.id))
        concerned = [person]
        if spouse_of:
            spouse = _member(members, spouse_of, "spouse")
            _marry(person, spouse, occurred_on)
            event["spouse_ids"] = [person["person_id"], spouse_of]
            concerned.append(spouse)
        return Change(members + [person], event, concerned)

    def other_side(household: Household, version: HouseholdVersion) -> HouseholdVersion | None:
        if source is None:
            return None
        village = household.village
        moved = move_out(actor, source_id, person_id=str(source.id), occurred_on=occurred_on,
                         base_number=source_base,
                         destination=Destination(unit_code=(household.group or village).code),
                         reason=reason, hukou_moves=True, today=today,
                         submission_id=uuid.uuid5(submission_id, "move_out") if submission_id else None)
        moved.version.event = {**moved.version.event, "other_household_id": str(household.id),
                               "to_person_id": version.event["person_ids"][0]}
        return moved.version

    return record_event(actor, household_id, kind, occurred_on=occurred_on,
                        base_number=base_number, change=change, submission_id=submission_id, today=today,
                        other_side=other_side)


# ------------------------------------------------------------------ marriage and divorce


def _marry(a: dict[str, Any], b: dict[str, Any], on: dt.date) -> None:
    """Spouse links both ways (the form keeps spouse_member where it applies: for a married
    woman aged 15-49), marital status and date."""
    for me, other in ((a, b), (b, a)):
        if (me.get("marital_status") or "")[:1] == "2" and str(me.get("spouse_member") or "") not in (
                "", str(other.get("person_id"))):
            raise Invalid(_("%(name)s is married already.", name=me.get("name") or "?"), field="spouse")
        earlier = me.get("marital_status")
        me["marital_status"] = REMARRIED if earlier in (WIDOWED, DIVORCED) else FIRST_MARRIAGE
        me["spouse_member"] = other.get("person_id")
        me["marriage_date"] = on.isoformat()
        me.pop("spouse_id_number", None)
        me.pop("spouse_name", None)


def marriage(actor: User, household_id: uuid.UUID, *, person_id: str, occurred_on: dt.date, base_number: int,
             spouse_member: str | None = None, spouse_id_number: str = "", spouse_name: str = "",
             spouse_moves_in: bool = False, relationship: str = "", submission_id: uuid.UUID | None = None,
             today: dt.date | None = None) -> EventResult:
    """A member marries: another member here (`spouse_member`); a person of another
    household who moves in (`spouse_moves_in` with their ID number and `relationship`: one
    move-out there, one marriage here); or a spouse who stays elsewhere (ID number, name)."""
    if spouse_moves_in:
        return move_in(actor, household_id, occurred_on=occurred_on, base_number=base_number,
                       relationship=relationship, reason="marriage", id_number=spouse_id_number,
                       spouse_of=person_id, submission_id=submission_id, today=today,
                       kind=VersionKind.marriage)

    outside_id = "" if spouse_member else _id_number(spouse_id_number, "spouse_id_number", today) or ""

    def change(household: Household, members: list[dict[str, Any]]) -> Change:
        person = _member(members, person_id)
        if spouse_member:
            spouse = _member(members, spouse_member, "spouse")
            if spouse is person:
                raise Invalid(_("Choose someone else as the spouse."), field="spouse")
            _marry(person, spouse, occurred_on)
            return Change(members, {"person_ids": [person_id, spouse_member]}, [person, spouse])
        if not spouse_name.strip():
            raise Invalid(_("Give the spouse's name."), field="spouse_name")
        outside = {"person_id": None, "name": spouse_name.strip()}
        _marry(person, outside, occurred_on)
        person.pop("spouse_member", None)
        person.update(spouse_name=spouse_name.strip()[:30])
        if outside_id:
            person["spouse_id_number"] = outside_id
        return Change(members, {"person_ids": [person_id], "spouse_name": spouse_name.strip(),
                                "spouse_id_number": outside_id or None}, [person])

    return record_event(actor, household_id, VersionKind.marriage, occurred_on=occurred_on,
                        base_number=base_number, change=change, submission_id=submission_id, today=today)


def divorce(actor: User, household_id: uuid.UUID, *, person_id: str, occurred_on: dt.date, base_number: int,
            submission_id: uuid.UUID | None = None, today: dt.date | None = None) -> EventResult:
    """A member divorces: both spouses (the one here, if any) become divorced and unlinked."""
    def change(household: Household, members: list[dict[str, Any]]) -> Change:
        person = _member(members, person_id)
        if (person.get("marital_status") or "")[:1] != "2":
            raise Invalid(_("%(name)s is not married.", name=person.get("name") or "?"), field="person_id")
        spouses = _spouses(members, person)
        for m in [person, *spouses]:
            m["marital_status"] = DIVORCED
            for key in ("spouse_member", "spouse_id_number", "spouse_name", "marriage_date"):
                m.pop(key, None)
        ids = [person_id] + [str(m.get("person_id")) for m in spouses]
        return Change(members, {"person_ids": ids}, [person, *spouses])

    return record_event(actor, household_id, VersionKind.divorce, occurred_on=occurred_on,
                        base_number=base_number, change=change, submission_id=submission_id, today=today)


# ------------------------------------------------------------------ split and merge


def _carried(m: dict[str, Any], person_id: str, relationship: str) -> dict[str, Any]:
    """A member as they join another household: a new member record (person ids belong to
    one household), the same person otherwise."""
    out = {k: v for k, v in m.items() if k not in ("cancellation_reason", "cancelled_on")}
    out.update(person_id=person_id, relationship=relationship, status="active")
    return out


def _relink(members: list[dict[str, Any]], ids: dict[str, str]) -> None:
    """Spouse links among members who moved together follow them to their new records."""
    for m in members:
        if str(m.get("spouse_member") or "") in ids:
            m["spouse_member"] = ids[str(m["spouse_member"])]
        elif m.get("spouse_member"):
            m.pop("spouse_member")


def split_head_proposals(members: list[dict[str, Any]], person_ids: list[str],
                         stay_head: str) -> list[Proposal]:
    """When the head is among the members `person_ids` who leave in a split: the relationships
    of those who stay to `stay_head`, their new head (what the collector confirms)."""
    leaving = {str(p) for p in person_ids}
    old_head = next((m for m in members if str(m.get("person_id")) in leaving
                     and m.get("relationship") == HEAD), None)
    if old_head is None:
        return []
    roster = [dict(m, status="moved_out") if str(m.get("person_id")) in leaving else m for m in members]
    with _as_split_fields():
        return head_proposals(roster, str(old_head.get("person_id")), stay_head)


# The head change's fields in a split: the head who stays, not the new household's head.
SPLIT_FIELDS = {"new_head": "stay_head", "relationships": "stay_relationships"}


@contextmanager
def _as_split_fields():
    try:
        yield
    except Invalid as e:
        raise Invalid(e.message, field=SPLIT_FIELDS.get(e.field or "", e.field)) from None


def split(actor: User, household_id: uuid.UUID, *, person_ids: list[str], new_head: str,
          relationships: dict[str, str], occurred_on: dt.date, base_number: int,
          address: dict[str, Any] | None = None, stay_head: str | None = None,
          stay_relationships: dict[str, str] | None = None, submission_id: uuid.UUID | None = None,
          today: dt.date | None = None) -> EventResult:
    """分户: the members `person_ids` leave to form a new household of the same village (a
    new card number), `new_head` its head and `relationships` (old person id → code) the
    others' relations to them. They are cancelled here (reason 分户), with their history;
    if the head leaves, `stay_head` and `stay_relationships` restate those who stay."""
    leaving = [str(p) for p in person_ids]
    if not leaving:
        raise Invalid(_("Choose the members who form the new household."), field="person_ids")
    if str(new_head) not in leaving:
        raise Invalid(_("The head of the new household must be one of the members who leave."),
                      field="new_head")
    ids = {p: _new_person_id(submission_id, f"split-{p}") for p in leaving}
    moved: list[dict[str, Any]] = []

    def change(household: Household, members: list[dict[str, Any]]) -> Change:
        people = [_member(members, p, "person_ids") for p in leaving]
        if len(people) == len(_active(members)):
            raise Invalid(_("Someone must stay: a split leaves members in both households."),
                          field="person_ids")
        concerned = [dict(p) for p in people]
        for p in people:
            pid = str(p["person_id"])
            moved.append(_carried(p, ids[pid], HEAD if pid == str(new_head) else relationships.get(pid, "")))
        missing = [m.get("name") or "?" for m in moved if not m["relationship"]]
        if missing:
            raise Invalid(_("Choose the relationship to the head of the new household for %(names)s.",
                            names="、".join(missing)), field="relationships")
        head_change = None
        for p in people:
            p.update(status="moved_out", cancelled_on=occurred_on.isoformat(), cancellation_reason="分户")
        old_head = next((p for p in people if p.get("relationship") == HEAD), None)
        if old_head is not None:
            with _as_split_fields():
                head_change = _apply_head_change(members, old_head, stay_head, stay_relationships)
        event = {"person_ids": leaving, "to_person_ids": ids}
        if head_change:
            event["head_change"] = head_change
        return Change(members, event, concerned)

    def other_side(household: Household, version: HouseholdVersion) -> HouseholdVersion:
        _relink(moved, ids)
        data = {"household": {**{k: v for k, v in version.data.get("household", {}).items()
                                 if k in ("group_code", "household_type", "hukou_type")},
                              **(address or {})},
                "members": moved}
        created = registration.new_household(
            actor, unit_id=(household.group or household.village).id, data=data, today=today,
            submission_id=uuid.uuid5(submission_id, "split-new") if submission_id else None,
            kind=VersionKind.split, occurred_on=occurred_on,
            event={"kind": VersionKind.split.value, "split_from": str(household.id),
                   "from_person_ids": {v: k for k, v in ids.items()}})
        version.event = {**version.event, "other_household_id": str(created.household.id)}
        return created.version

    return record_event(actor, household_id, VersionKind.split, occurred_on=occurred_on,
                        base_number=base_number, change=change, submission_id=submission_id, today=today,
                        other_side=other_side)


def other_household_by_card(actor: User, household: Household, card: str) -> Household:
    """The household of the same village with this card number, other than `household`, that
    the actor may change: the one a merge brings in."""
    card = (card or "").strip()
    other = None
    if card.isdigit():
        other = db.session.scalar(select(Household).where(Household.village_id == household.village_id,
                                                          Household.card_no == card.zfill(4)))
    if other is None or other.id == household.id or not registration.can_edit(actor, other):
        raise Invalid(_("No other household of this village has the card number %(card)s.", card=card),
                      field="other_card")
    return other


def merge(actor: User, household_id: uuid.UUID, *, other_household_id: uuid.UUID,
          relationships: dict[str, str], occurred_on: dt.date, base_number: int, other_base_number: int,
          submission_id: uuid.UUID | None = None, today: dt.date | None = None) -> EventResult:
    """合户: every active member of the other household joins this one, with `relationships`
    (their person id there → code to this head). The other household keeps its card and
    history, its members cancelled there (reason 合户)."""
    if str(other_household_id) == str(household_id):
        raise Invalid(_("Choose another household to merge."), field="other_household")
    other = registration.get_household(actor, other_household_id, "household.edit")
    db.session.execute(select(Household.id).where(Household.id == other.id).with_for_update())
    db.session.refresh(other)
    if other_base_number != other.current_number:
        raise Conflict(_("Someone saved a newer version (%(n)d) of this household. Open the household "
                         "again and record the event on it.", n=other.current_number))
    joining = _active(other.current_version.data.get("members", []))
    if not joining:
        raise Invalid(_("The other household has no active members."), field="other_household")
    ids = {str(m["person_id"]): _new_person_id(submission_id, f"merge-{m['person_id']}") for m in joining}

    def change(household: Household, members: list[dict[str, Any]]) -> Change:
        came = [_carried(m, ids[str(m["person_id"])], relationships.get(str(m["person_id"]), ""))
                for m in joining]
        if any(not m["relationship"] or m["relationship"] == HEAD for m in came):
            raise Invalid(_("Give each member who joins their relationship to the head."),
                          field="relationships")
        _relink(came, ids)
        event = {"person_ids": list(ids.values()), "other_household_id": str(other.id),
                 "from_person_ids": {v: k for k, v in ids.items()}}
        return Change(members + came, event, [dict(m) for m in joining])

    def other_side(household: Household, version: HouseholdVersion) -> HouseholdVersion:
        def leave(_h: Household, members: list[dict[str, Any]]) -> Change:
            for m in _active(members):
                m.update(status="moved_out", cancelled_on=occurred_on.isoformat(), cancellation_reason="合户")
            return Change(members, {"person_ids": list(ids), "other_household_id": str(household.id),
                                    "to_person_ids": ids})

        return record_event(actor, other.id, VersionKind.merge, occurred_on=occurred_on,
                            base_number=other_base_number, change=leave, today=today,
                            submission_id=uuid.uuid5(submission_id, "merge-other") if submission_id else None
                            ).version

    return record_event(actor, household_id, VersionKind.merge, occurred_on=occurred_on,
                        base_number=base_number, change=change, submission_id=submission_id, today=today,
                        other_side=other_side)


# ------------------------------------------------------------------ transfer to another village


def request_transfer(actor: User, household_id: uuid.UUID, *, to_unit_id: int, occurred_on: dt.date,
                     reason: str = "", today: dt.date | None = None) -> HouseholdTransfer:
    """Ask to move the whole household to another village (or a group of it). Nothing moves
    until the receiving village's leader accepts; the household is 'transfer pending'."""
    household = registration.get_household(actor, household_id, "household.edit")
    check_dates(occurred_on, [], today or registration.today())
    unit = db.session.get(AdminUnit, to_unit_id)
    if unit is None or unit.level not in (UnitLevel.village.value, UnitLevel.group.value):
        raise Invalid(_("Choose the receiving village or group."), field="to_unit")
    village = unit if unit.level == UnitLevel.village.value else unit.parent
    if village.id == household.village_id:
        raise Invalid(_("The household is in this village already."), field="to_unit")
    db.session.execute(select(Household.id).where(Household.id == household.id).with_for_update())
    if pending_transfer(household.id) is not None:
        raise Conflict(_("A transfer of this household is waiting for the receiving village already."))
    transfer = HouseholdTransfer(household_id=household.id, from_village_id=household.village_id,
                                 to_unit_id=unit.id, to_path=unit.path, occurred_on=occurred_on,
                                 reason=reason.strip()[:500] or None, requested_by_id=actor.id,
                                 requested_at=utcnow())
    db.session.add(transfer)
    db.session.flush()
    audit.record("household.transfer_request", actor=actor, object_type="household", object_id=household.id,
                 details={"card_no": household.card_no, "from": household.village.code, "to": unit.code,
                          "occurred_on": occurred_on.isoformat(), "transfer": transfer.id})
    return transfer


def pending_transfer(household_id: uuid.UUID) -> HouseholdTransfer | None:
    return db.session.scalar(select(HouseholdTransfer).where(
        HouseholdTransfer.household_id == household_id,
        HouseholdTransfer.state == TransferState.pending.value))


def transfers_to_decide(actor: User) -> list[HouseholdTransfer]:
    """Pending transfers into the villages where the actor is the leader."""
    return list(db.session.scalars(
        select(HouseholdTransfer)
        .where(HouseholdTransfer.state == TransferState.pending.value,
               scope.scope_filter(actor, HouseholdTransfer.to_path, "household.confirm"))
        .order_by(HouseholdTransfer.requested_at)))


def transfers_to_decide_count(actor: User) -> int:
    """How many transfers wait for the actor's decision: the leader's home page and header."""
    return db.session.scalar(
        select(func.count()).select_from(HouseholdTransfer)
        .where(HouseholdTransfer.state == TransferState.pending.value,
               scope.scope_filter(actor, HouseholdTransfer.to_path, "household.confirm"))) or 0


def decide_transfer(actor: User, transfer_id: int, *, accept: bool, reason: str = "",
                    today: dt.date | None = None) -> HouseholdTransfer:
    """The receiving leader accepts (the household moves: a new card number in the new
    village and a transfer version, a new draft there) or refuses (nothing changes but the
    transfer's state, with the reason)."""
    transfer = db.session.get(HouseholdTransfer, transfer_id)
    if transfer is None or not scope.can_at(actor, "household.confirm", transfer.to_path):
        raise NotFound(_("No such transfer."))
    db.session.execute(select(Household.id).where(Household.id == transfer.household_id).with_for_update())
    db.session.refresh(transfer)
    target = TransferState.accepted if accept else TransferState.refused
    if target not in TRANSFER_TRANSITIONS[TransferState(transfer.state)]:
        raise Conflict(_("This transfer was decided already."))
    if not accept and not reason.strip():
        raise Invalid(_("Give the reason for refusing."), field="reason")
    household = transfer.household
    db.session.refresh(household)
    transfer.state, transfer.decided_by_id, transfer.decided_at = target.value, actor.id, utcnow()
    transfer.refusal_reason = None if accept else reason.strip()[:500]
    details = {"card_no": household.card_no, "transfer": transfer.id, "to": transfer.to_unit.code}
    if accept:
        unit = transfer.to_unit
        village = unit if unit.level == UnitLevel.village.value else unit.parent
        old_village, old_card = household.village, household.card_no
        data = copy.deepcopy(household.current_version.data)
        data.setdefault("household", {}).pop("group_code", None)
        if unit.level == UnitLevel.group.value:
            data["household"]["group_code"] = unit.code
        card_no = registration.next_card_no(village)  # before the household counts as the village's
        household.village, household.group = village, (unit if unit is not village else None)
        household.unit_path, household.card_no = unit.path, card_no
        event = {"kind": VersionKind.transfer.value, "from_village": old_village.code,
                 "from_card_no": old_card, "to_village": village.code, "transfer_id": transfer.id,
                 "person_ids": [m.get("person_id") for m in _active(data.get("members", []))]}
        saved = registration.write_event_version(actor, household, VersionKind.transfer, data,
                                                 base_number=household.current_number, submission_id=None,
                                                 on=today, occurred_on=transfer.occurred_on, event=event)
        transfer.version_id = saved.version.id
        details.update(new_card_no=household.card_no)
    db.session.flush()
    audit.record(f"household.transfer_{target.value}", actor=actor, object_type="household",
                 object_id=household.id, details=details)
    return transfer
