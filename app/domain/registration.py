"""Household registration: saving versions, the person mirror, search.

Every save is a new HouseholdVersion holding the whole normalised form; nothing is
overwritten. Household and Person rows are caches of the current version, for lists,
search and statistics. A draft may be incomplete: the checks' issues are stored with the
version, and `complete` says whether any of them blocks submission.

Retries are safe by construction: a client-made submission_id is unique in the database,
so the same submission sent twice (or twenty times at once) makes one version.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import and_, bindparam, func, or_, select, union
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from app import access_log
from app.domain import audit, persons, quality_runs, scope, settings
from app.domain.errors import Conflict, Forbidden, Invalid, NotFound
# Names live in app.domain.names; name_keys stays importable from here for its callers.
from app.domain.names import SURNAME_READINGS, name_keys, normalise_name  # noqa: F401
from app.domain.tree import in_subtree
from app.domain.units import unit_by_code
from app.extensions import db, reads_first
from app.models import (AdminUnit, CardCounter, Household, HouseholdState, HouseholdVersion, Person, UnitLevel,
                        User, VersionKind, utcnow)
from collection_forms import check, load_form
from collection_forms.validate import REFUSING_RULES
from quality import save_checks

MAX_CARD_NO = 9999


@dataclass
class SaveResult:
    household: Household
    version: HouseholdVersion
    issues: list[dict[str, Any]]
    created: bool  # False: the same submission was replayed; the earlier result is returned


class InvalidForm(Invalid):
    """The form cannot be stored at all, not even as a draft (a value over its length, a
    refused character, too many members): nothing was saved. `issues` name each field."""

    def __init__(self, message: str, issues: list[dict[str, Any]]):
        first = issues[0].get("path") if issues else None
        super().__init__(message, field=first)
        self.issues = issues


@dataclass(frozen=True)
class CheckedForm:
    """A form checked without the database (field checks and household rules), before any
    lock is taken (issue 15): what a save stores, with the issues found so far."""
    clean: dict[str, Any]
    issues: list[dict[str, Any]]


@dataclass
class HouseholdPage:
    items: list[Household]
    total: int
    page: int
    pages: int


def today() -> dt.date:
    """Today where the households are (dates in the form are local dates)."""
    return dt.datetime.now(local_zone()).date()


def content_hash(data: dict[str, Any]) -> str:
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def issue_text(issue: dict[str, Any], locale: str) -> str:
    message = issue.get("message") or {}
    return message.get("zh" if str(locale).startswith("zh") else "en") or message.get("zh", "")


# ------------------------------------------------------------------ access


def get_household(actor: User, household_id: uuid.UUID, permission: str = "household.view") -> Household:
    household = db.session.get(Household, household_id)
    if household is None or not scope.can_at(actor, "household.view", household.unit_path):
        raise NotFound(_("No such household."))
    if not scope.can_at(actor, permission, household.unit_path):
        raise Forbidden(_("You may not change this household."))
    return household


def can_edit(actor: User, household: Household) -> bool:
    return scope.can_at(actor, "household.edit", household.unit_path)


def edit_units(actor: User) -> list[AdminUnit]:
    """Villages and groups where the actor may register households, in tree order."""
    return list(db.session.scalars(
        select(AdminUnit)
        .where(AdminUnit.level.in_([UnitLevel.village.value, UnitLevel.group.value]),
               scope.scope_filter(actor, AdminUnit.path, "household.edit"))
        .order_by(AdminUnit.path)))


# ------------------------------------------------------------------ saving


def check_form(data: Any, submission_id: uuid.UUID | None = None, on: dt.date | None = None) -> CheckedForm:
    """The field checks and household rules of a form, without the database: called first
    by every save, so that the work a large form costs is done before the first statement
    (on SQLite, before the one write lock). InvalidForm when the form cannot be stored."""
    # The save-time rules of the rule library (quality.save_checks): the same code a
    # registry-wide run calls, so a save and a run agree.
    clean, found = save_checks(_with_person_ids(data, submission_id), on or today())
    refused = [i.as_dict() for i in found if i.rule in REFUSING_RULES]
    if refused:
        locale = str(get_locale() or "zh_CN")
        problems = "；".join(issue_text(i, locale) for i in refused[:3])
        more = len(refused) - 3
        raise InvalidForm(_("Nothing was saved: %(problems)s", problems=problems)
                          + (" " + _("(and %(n)d more)", n=more) if more > 0 else ""), refused)
    return CheckedForm(clean, [i.as_dict() for i in found])


def new_household(actor: User, *, unit_id: int, data: dict[str, Any],
                  submission_id: uuid.UUID | None = None, today: dt.date | None = None,
                  household_id: uuid.UUID | None = None, kind: VersionKind = VersionKind.create,
                  occurred_on: dt.date | None = None, event: dict[str, Any] | None = None,
                  checked: CheckedForm | None = None) -> SaveResult:
    """A new household in a village or group. `household_id`: the id the phone app made for
    it offline (the sync API), so that its later edits name the same household. `kind`,
    `occurred_on`, `event`: a household born of a life event (a split, app.domain.events).
    `checked`: the form as check_form(data, submission_id, today) answered it already."""
    checked = checked or check_form(data, submission_id, today)
    unit = db.session.get(AdminUnit, unit_id)
    if unit is None or unit.level not in (UnitLevel.village.value, UnitLevel.group.value) \
            or not scope.can_at(actor, "household.edit", unit.path):
        raise NotFound(_("You may not register households in this unit."))
    village = unit if unit.level == UnitLevel.village.value else unit.parent
    group = unit if unit.level == UnitLevel.group.value else None

    def write() -> SaveResult:
        with reads_first():  # SQLite: checked before the write lock is taken
            clean, issues = _checked(actor, data, submission_id, today, household_id=None, checked=checked)
            _refuse_bad_person_ids(issues)
            chosen = _group_for(actor, village, group, clean)
        with db.session.begin_nested():
            household = Household(id=household_id or uuid.uuid4(), village=village, group=chosen,
                                  unit_path=(chosen or village).path, card_no=next_card_no(village),
                                  current_number=0, created_by_id=actor.id)
            db.session.add(household)
            version = _add_version(actor, household, kind, clean, issues, None, submission_id,
                                   occurred_on=occurred_on, event=event, on=today)
        return SaveResult(household, version, issues, True)

    return _once(submission_id, None, data, write)


def save_household(actor: User, household_id: uuid.UUID, *, data: dict[str, Any], base_number: int,
                   submission_id: uuid.UUID | None = None, today: dt.date | None = None,
                   kind: VersionKind = VersionKind.edit, permission: str = "household.edit",
                   checked: CheckedForm | None = None) -> SaveResult:
    """A new version of the household. `permission`: what the actor must hold there; a
    village leader resolving a sync conflict saves with "household.resolve" (app.domain.sync).
    `checked`: the form as check_form(data, submission_id, today) answered it already."""
    checked = checked or check_form(data, submission_id, today)  # before any lock
    household = get_household(actor, household_id, permission)

    def write() -> SaveResult:
        # Serialise edits of one household (PostgreSQL; SQLite already holds the write lock).
        db.session.execute(select(Household.id).where(Household.id == household.id).with_for_update())
        db.session.refresh(household)
        if base_number != household.current_number:
            current = household.current_version
            raise Conflict(_("%(name)s saved a newer version (%(n)d) of this household at %(at)s. "
                             "Open the household again to see it; what you typed is still here.",
                             name=current.created_by.name, n=current.number,
                             at=current.created_at.astimezone(local_zone()).strftime("%Y-%m-%d %H:%M")))
        clean, issues = _checked(actor, data, submission_id, today, household_id=household.id,
                                 checked=checked)
        _refuse_bad_person_ids(issues)
        _refuse_removed_members(household, clean)
        group = _group_for(actor, household.village, household.group, clean, permission)
        with db.session.begin_nested():
            household.group = group
            household.unit_path = (group or household.village).path
            version = _add_version(actor, household, kind, clean, issues, base_number, submission_id, on=today)
        return SaveResult(household, version, issues, True)

    return _once(submission_id, household, data, write)


def _once(submission_id: uuid.UUID | None, household: Household | None, data: dict[str, Any],
          write) -> SaveResult:
    """Run `write` unless this submission was already stored. The first try does not look:
    a submission sent again is refused by the write itself (its person ids are taken, its
    base number is old, or the unique submission_id stops the insert), and only then is the
    earlier answer looked up, so a new save costs no lookup. A concurrent twin that just won
    is answered the same way: the database's unique submission_id decides."""
    try:
        return write()
    except (IntegrityError, Invalid, Conflict):
        replay = _replayed(submission_id, household, data)
        if replay:
            return replay
        raise


def _replayed(submission_id: uuid.UUID | None, household: Household | None,
              data: dict[str, Any]) -> SaveResult | None:
    """The earlier answer to the same submission, or Conflict if the id is reused for other data."""
    if submission_id is None:
        return None
    version = db.session.scalar(select(HouseholdVersion).where(HouseholdVersion.submission_id == submission_id))
    if version is None:
        return None
    if household is not None and version.household_id != household.id \
            or not _same_content(version, _with_person_ids(data, submission_id)):
        raise Conflict(_("This submission number was already used for different data."))
    return SaveResult(version.household, version, version.issues, False)


def _same_content(version: HouseholdVersion, data: dict[str, Any]) -> bool:
    """Does `data` normalise to what the version stored (checked as on the day it was saved)?"""
    clean, _issues = check(data, load_form(), _local_date(version.created_at))
    return content_hash(clean) == version.content_hash


def _local_date(at: dt.datetime) -> dt.date:
    return at.astimezone(local_zone()).date()


def local_zone() -> ZoneInfo:
    """Where the households are: local dates and times are read in this zone."""
    return settings.current().timezone


def _with_person_ids(data: dict[str, Any], submission_id: uuid.UUID | None) -> dict[str, Any]:
    """Give new members a person_id derived from the submission, so that a replay of the
    same submission normalises to the same content (a random id would differ each time)."""
    if not isinstance(data, dict):
        return data
    members = data.get("members")
    if not isinstance(members, list):
        return data
    seed = submission_id or uuid.uuid4()
    filled = []
    for i, m in enumerate(members):
        if isinstance(m, dict) and not m.get("person_id"):
            m = {**m, "person_id": str(uuid.uuid5(seed, f"member-{i}"))}
        filled.append(m)
    return {**data, "members": filled}


def _checked(actor: User, data: dict[str, Any], submission_id, on: dt.date | None,
             household_id: uuid.UUID | None, checked: CheckedForm | None = None,
             ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    checked = checked or check_form(data, submission_id, on)
    return checked.clean, checked.issues + _elsewhere(actor, checked.clean, household_id)


def _refuse_bad_person_ids(issues: list[dict[str, Any]]) -> None:
    """A member's person_id is the key of their Person row: one that is not a UUID, or that two
    members carry, cannot be stored even in a draft (it failed as NOT NULL or a duplicate key).
    Only a form or a phone that changed the hidden id sends one, so it is refused, not kept.
    Saves only: a life event's members are the server's, and a replayed birth meets its own
    child's id here on the way to its earlier answer (app.domain.events)."""
    bad = next((i for i in issues if i["rule"] == "member.person_id" and i["level"] == "error"), None)
    if bad is not None:
        problem = issue_text(bad, str(get_locale() or "zh_CN"))
        raise Invalid(_("%(problem)s. The form was changed outside this site: open the household again.",
                        problem=problem), field=bad["path"])


def _refuse_removed_members(household: Household, clean: dict[str, Any]) -> None:
    kept = {str(m.get("person_id")) for m in clean.get("members", [])}
    missing = [p.name for p in household.persons if str(p.id) not in kept]
    if missing:
        raise Invalid(_("A person is never deleted: %(names)s cannot be left out of the household. "
                        "Cancel them with their status instead.", names="、".join(missing)), field="members")


def _group_for(actor: User, village: AdminUnit, group: AdminUnit | None, clean: dict[str, Any],
               permission: str = "household.edit") -> AdminUnit | None:
    """The 村民小组 named in the form (household.group_code), which must lie in the village."""
    code = (clean.get("household") or {}).get("group_code")
    if not code:
        return group
    # Mostly the group the household is in already: no need to look it up.
    chosen = group if group is not None and group.code == str(code) else \
        unit_by_code(str(code))
    if chosen is None or chosen.parent_id != village.id or chosen.level != UnitLevel.group.value:
        raise Invalid(_("The group %(code)s is not a group of %(village)s.", code=code, village=village.name),
                      field="household.group_code")
    if not scope.can_at(actor, permission, chosen.path):
        raise Invalid(_("You may not register households in %(group)s.", group=chosen.name),
                      field="household.group_code")
    return chosen


# Statements built once, here and below: building one costs more than sending it
# (bench/instructions.py).
def _count_up(dialect_insert):
    counter = CardCounter.__table__
    return (dialect_insert(counter).values(village_id=bindparam("village_id"), last_no=1)
            .on_conflict_do_update(index_elements=[counter.c.village_id], set_={"last_no": counter.c.last_no + 1})
            .returning(counter.c.last_no))


_COUNT_UP = {"postgresql": _count_up(pg_insert), "sqlite": _count_up(sqlite_insert)}


def next_card_no(village: AdminUnit) -> str:
    """The village's next card number; numbers are never reused, since households are never
    deleted. One statement counts the village's counter up and holds its row until the
    commit, so concurrent creations in one village wait for each other there (PostgreSQL;
    SQLite's writer holds the database lock anyway). The unique constraint on (village,
    card_no) stays the last guard."""
    number = db.session.execute(_COUNT_UP[db.session.get_bind().dialect.name],
                                {"village_id": village.id}).scalar_one()
    if number > MAX_CARD_NO:
        raise Invalid(_("The village %(village)s has used all card numbers.", village=village.name))
    return f"{number:04d}"


def write_event_version(actor: User, household: Household, kind: VersionKind, data: dict[str, Any], *,
                        base_number: int, submission_id: uuid.UUID | None, on: dt.date | None,
                        occurred_on: dt.date, event: dict[str, Any],
                        extra_issues: list[dict[str, Any]] | None = None) -> SaveResult:
    """A life event's version (app.domain.events), in the caller's transaction: the caller
    has locked the household, checked its base number and built `data` from the current
    version. The same checks as a save apply; removing a member is refused here too.
    `extra_issues`: what the event's own rules found (a birth's), stored with the others
    unless a save's check found the same rule for the same member already."""
    clean, issues = _checked(actor, data, submission_id, on, household_id=household.id)
    found = {(i["rule"], i["path"].split(".")[0]) for i in issues}
    issues += [i for i in extra_issues or [] if (i["rule"], i["path"].split(".")[0]) not in found]
    _refuse_removed_members(household, clean)
    with db.session.begin_nested():
        version = _add_version(actor, household, kind, clean, issues, base_number, submission_id,
                               occurred_on=occurred_on, event=event, on=on)
    return SaveResult(household, version, issues, True)


def _add_version(actor: User, household: Household, kind: VersionKind, clean: dict[str, Any],
                 issues: list[dict[str, Any]], base_number: int | None, submission_id, *,
                 occurred_on: dt.date | None = None, event: dict[str, Any] | None = None,
                 on: dt.date | None = None) -> HouseholdVersion:
    """The household's next version, with the Household and Person caches brought in line.
    A new household (`household` not yet flushed) is inserted with it."""
    number = household.current_number + 1
    complete = not any(i["level"] == "error" for i in issues)
    version = HouseholdVersion(
        household=household, number=number, kind=kind.value, data=clean, content_hash=content_hash(clean),
        form_version=load_form().version, base_number=base_number, submission_id=submission_id,
        issues=issues, complete=complete, created_by_id=actor.id, created_at=utcnow(),
        occurred_on=occurred_on, event=event)
    cached, rows = _cached_rows(household, clean)
    cached.update(current_number=number, complete=complete, updated_at=version.created_at,
                  state=HouseholdState.draft.value)  # any change is a new draft (approval issue)
    if household.collected_at is None:
        # A new household, or a police pre-fill saved by a collector: from now on it counts as
        # collected (issue 16; app.domain.prefill).
        cached["collected_at"] = version.created_at
    if number == 1:
        # One flush inserts the household and its version, then points the household at
        # the version (post_update); its persons follow in one multi-row INSERT, without the
        # ORM's bookkeeping for five objects (flushes were the largest piece of a save).
        household.current_version = version
        _set(household, cached)
        db.session.flush()
        if rows:
            db.session.connection().execute(_INSERT_PERSONS, rows)
    else:
        # The version first: the household's one UPDATE then names it.
        db.session.add(version)
        db.session.flush()
        _set(household, {**cached, "current_version_id": version.id})
        _update_persons(household, rows)
        persons.follow_verified(household)  # a transfer or a new group moves its verified persons too
    # The household's own findings and scorecard counts at once (the rules across households
    # wait for the next run of the checks).
    quality_runs.recheck_saved(household, number, clean, issues, on or today())
    action = "create" if number == 1 else "event" if event is not None else "edit"
    # The content hash goes into the keyed chain: data and hash rewritten together in the
    # database still differ from it (app.domain.signatures.check_content).
    details = {"card_no": household.card_no, "village": household.village.code, "version": number,
               "content_hash": version.content_hash, "kind": kind.value, "complete": complete,
               "errors": sum(1 for i in issues if i["level"] == "error"),
               "warnings": sum(1 for i in issues if i["level"] == "warning")}
    if event is not None:
        details["occurred_on"] = occurred_on.isoformat() if occurred_on else None
    audit.record(f"household.{action}", actor=actor, object_type="household", object_id=household.id,
                 details=details)
    return version


_INSERT_PERSONS = Person.__table__.insert()


def _cached_rows(household: Household, data: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The Household columns and Person rows that mirror a version's data (the person
    register, app.domain.persons): ({column: value}, [person row]). A new version is a
    draft: its persons say so."""
    h = data.get("household", {})
    members = data.get("members", [])
    active = [m for m in members if m.get("status", "active") == "active"]
    head = persons.head_of(members)
    cached = {"building": _s(h.get("building")), "unit_no": _s(h.get("unit")), "room": _s(h.get("room")),
              "door_no": _s(h.get("door_no")), "household_type": _s(h.get("household_type")),
              "head_name": _s(head.get("name")) if head else None, "member_count": len(active)}
    place = {**persons.place_of(household), "household_id": household.id,
             "household_state": HouseholdState.draft.value}
    rows = [{"id": person_id, **items, **place} for person_id, items in persons.member_rows(data)]
    return cached, rows


def _set(obj: Any, values: dict[str, Any]) -> None:
    for key, value in values.items():
        setattr(obj, key, value)


def _update_persons(household: Household, rows: list[dict[str, Any]]) -> None:
    existing = {p.id: p for p in db.session.scalars(select(Person).where(Person.household_id == household.id))}
    for row in rows:
        person = existing.get(row["id"])
        if person is None:
            person = Person(id=row["id"])
            db.session.add(person)
        _set(person, row)
    db.session.flush()


def _s(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


_HELD_ELSEWHERE = (
    select(Person.id, Person.id_number, Person.status, Household.unit_path, Household.card_no, AdminUnit.name)
    .join(Household, Person.household_id == Household.id)
    .join(AdminUnit, Household.village_id == AdminUnit.id)
    .where(or_(Person.id.in_(bindparam("ids", expanding=True)),
               and_(Person.id_number.in_(bindparam("numbers", expanding=True)), Person.status == "active"))))
_HELD_BY_OTHERS = _HELD_ELSEWHERE.where(Person.household_id != bindparam("household_id"))


def _elsewhere(actor: User, clean: dict[str, Any], household_id: uuid.UUID | None) -> list[dict]:
    """The form's members as other households hold them, in one query. A person_id of
    another household is refused: a save cannot take a person over (moves between
    households are their own events). An ID number held by an active person of another
    household is a warning, saying where only as far as the actor's scope allows."""
    ids = {i for i in (_uuid(m.get("person_id")) for m in clean.get("members", [])) if i is not None}
    numbers: dict[str, int] = {}
    for i, m in enumerate(clean.get("members", [])):
        n = m.get("id_number")
        if isinstance(n, str) and len(n) == 18 and m.get("status", "active") == "active":
            numbers.setdefault(n, i)
    if not ids and not numbers:
        return []
    limited = bool(numbers) and not _may_look_up(actor)
    looked_up = {} if limited else numbers
    rows = db.session.execute(_HELD_ELSEWHERE if household_id is None else _HELD_BY_OTHERS,
                              {"ids": list(ids), "numbers": list(looked_up), "household_id": household_id}).all()
    if numbers:
        # Whether a number is registered anywhere is itself personal data: each lookup is
        # logged, with the numbers masked and what was found (issue 15 item 13).
        found = [row for row in rows if row.status == "active" and row.id_number in looked_up]
        access_log.record("id_lookup", actor_id=actor.id, object_id=household_id, details={
            "numbers": sorted(_masked(n) for n in numbers), "found": len(found),
            "where": sorted(f"{row.name} {row.card_no}" for row in found), "limited": limited})
    if any(row.id in ids for row in rows):
        raise Invalid(_("A member of this form belongs to another household; a person moves "
                        "between households only through a move."), field="members")
    issues = []
    for _id, number, status, path, card_no, village in rows:
        if status != "active" or number not in numbers:
            continue
        i = numbers[number]
        who = clean["members"][i].get("name") or ""
        if scope.can_at(actor, "household.view", path):
            where_zh, where_en = f"{village}第{card_no}号户卡", f"{village}, card {card_no}"
        else:
            where_zh, where_en = "其他地方", "elsewhere"
        issues.append({"rule": "id.registered_elsewhere", "level": "warning",
                       "path": f"members[{i}].id_number",
                       "message": {"zh": f"第{i + 1}位成员（{who}）的身份证号码已登记在{where_zh}",
                                   "en": f"Member {i + 1} ({who}): the ID number is registered {where_en}"
                                   if where_en == "elsewhere" else
                                   f"Member {i + 1} ({who}): the ID number is registered in {where_en}"}})
    if limited:
        limit = settings.current().id_lookups_per_hour
        issues.append({"rule": "id.lookup_limited", "level": "warning", "path": "members",
                       "message": {"zh": f"身份证号码未与其他户核对：您在一小时内已核对超过{limit}次。"
                                         "请稍后再次保存本户，届时将重新核对。",
                                   "en": f"The ID numbers were not checked against other households: you made "
                                         f"more than {limit} checks within an hour. Save this household again "
                                         "later to have them checked."}})
    return issues


def _may_look_up(actor: User) -> bool:
    """Under the per-user limit of "registered elsewhere" lookups in the last hour? The limit
    keeps the warning useful to a collector while making it a slow oracle for anyone probing."""
    return access_log.under_limit(actor.id, "id_lookup", dt.timedelta(hours=1),
                                  settings.current().id_lookups_per_hour)


def _masked(number: str) -> str:
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


# ------------------------------------------------------------------ reading


def history(actor: User, household_id: uuid.UUID) -> list[HouseholdVersion]:
    household = get_household(actor, household_id)
    return list(db.session.scalars(select(HouseholdVersion).where(HouseholdVersion.household_id == household.id)
                                   .order_by(HouseholdVersion.number.desc())))


def search_households(actor: User, *, q: str = "", unit_id: int | None = None, state: str | None = None,
                      page: int = 1, per_page: int = 30) -> HouseholdPage:
    query = select(Household).where(scope.scope_filter(actor, Household.unit_path, "household.view"))
    # The same area on the persons' side, so PostgreSQL does not scan the county's persons for
    # a village's collector. Written as an expression (path || '') that no index answers: the
    # indexes of the names, pinyin and ID digits find few persons, where SQLite (no statistics)
    # would otherwise walk every person of a county-wide area by its unit_path index.
    area = Person.unit_path.concat("")
    persons_in = [scope.scope_filter(actor, area, "household.view")]
    if unit_id:
        unit = scope.require_unit(actor, unit_id)
        query = query.where(in_subtree(Household.unit_path, unit.path))
        persons_in.append(in_subtree(area, unit.path))
    if state:
        query = query.where(Household.state == state)
    q = (q or "").strip()
    if q:
        query = query.where(_matches(q, persons_in))
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    items = list(db.session.scalars(
        query.order_by(Household.unit_path, Household.card_no).offset((page - 1) * per_page).limit(per_page)))
    return HouseholdPage(items, total, page, pages)


def _matches(q: str, persons_in: list | tuple = ()):
    """Card number, last 4 ID digits, pinyin (initials or full), or a name: the beginning of
    the whole name or of the given name (张建国 is found by 张建, 建国 and zjg). Each is a
    range over an index of person, and the households come from the persons found (one IN),
    so a county-wide search reads the matching persons, not every household."""
    compact = q.replace(" ", "")
    households = []  # subqueries of household ids, joined by UNION: one IN that an index answers
    person = []
    if compact.isdigit() and len(compact) <= 4:
        households.append(select(Household.id).where(Household.card_no == compact.zfill(4)))
    if len(compact) == 4 and compact[:3].isdigit() and (compact[3].isdigit() or compact[3] in "xX"):
        person.append(Person.id_tail == compact.upper())
    if compact.isascii() and compact.isalpha():
        key = compact.lower()
        person += [_starts_with(Person.name_initials, key), _starts_with(Person.name_pinyin, key)]
    if not compact.isascii():
        key = normalise_name(q)
        if key:
            person += [_starts_with(Person.name_norm, key), _starts_with(Person.given_norm, key)]
    if person:
        households.append(select(Person.household_id).where(or_(*person), *persons_in))
    if not households:
        return Household.id.is_(None)
    # Not "card_no = ? OR id IN (...)": PostgreSQL answers such an OR by reading every
    # household of the area (a county: 130k) and testing each.
    return Household.id.in_(households[0] if len(households) == 1 else union(*households))


def _starts_with(column, prefix: str):
    """column starts with prefix, as a range an index answers on both databases (byte order:
    SearchString): [prefix, prefix with its last character's successor)."""
    following = ord(prefix[-1]) + 1
    if 0xD800 <= following <= 0xDFFF:  # no surrogates in text: the next character is U+E000
        following = 0xE000
    return and_(column >= prefix, column < prefix[:-1] + chr(min(following, 0x10FFFF)))
