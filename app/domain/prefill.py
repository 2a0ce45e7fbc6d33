"""Pre-filled households from an imported household register (issue 16, "start of collection").

`prefill(actor, list_id, key=...)` groups the records of an imported list of the police
register (户籍资料) or of the township's own register of the previous round into households,
by the police 户号 or by village + card number, and creates one draft household per group in
its village: members head first, the address kept as text and split into group, building and
room where it can be. The first version records where it came from
(`event = {"source", "list_id", "key", "record_ids"}`) and then goes through the normal chain.

- From the police: `origin="police"`, `collected_at=None`: "from the police register, to be
  verified at the door"; such a household does not count as collected until a collector saves
  it (registration._add_version sets collected_at; `checked_unchanged` is the one-tap "核对无误").
- From the township's register: `origin="register"`, counted as collected; its card numbers
  are kept (printed books stay continuous); a number already taken in the village is flagged
  on its rows and the household gets the next free one; the village's counter moves past the
  highest number kept.
- Running a newer register of the same source again: a household already made from it (same
  village and key) that no collector has touched (its current version is still one made from
  a list, and it is a draft) gets a new version from the register; a touched one gets a
  HouseholdNotice of the differences for its collector. Nothing is duplicated.

Speed (130k households, 400k persons): no ORM object per household. Rows are built in Python
(the form's field checks and household rules run for every household, as at a save) and
inserted with Core executemany, one village at a time, committed through `commit`. One audit
entry per village written and one for the run; the versions themselves record the source.
Not done here, unlike a collector's save: the lookup of each ID number in other households
("registered elsewhere"), which is per-household database work and the comparison issue's job.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import bindparam, case, delete, exists, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.domain import audit, bulk, registration, scope
from app.domain.errors import Conflict, Forbidden, Invalid, NotFound
from app.domain.tree import is_within
from app.extensions import db, reads_first
from app.models import (AdminUnit, CardCounter, Household, HouseholdNotice, HouseholdOrigin, HouseholdState,
                        HouseholdVersion, ImportedList, ListRecord, ListRecordLink, Person, PrefillState, Role,
                        RoleAssignment, UnitLevel, User, VersionKind, utcnow)
from collection_forms import load_form
from collection_forms.validate import REFUSING_RULES
from quality import save_checks
from quality.household import HEAD

KEYS = ("household_no", "village_card_no")
SOURCES = {"police": HouseholdOrigin.police, "register": HouseholdOrigin.register}
# What a household register does not say and the form requires: a household with a 户号 is a
# family household (集体户 have their own registers), and a person registered here is taken as
# living here until the collector at the door says otherwise (与户口底册对照).
DEFAULT_HOUSEHOLD = {"household_type": "family"}
DEFAULT_MEMBER = {"management": "resident"}
# The items compared when a newer register meets a household a collector has worked on.
COMPARED = ("name", "sex", "birth_date", "id_number", "relationship")

_H, _V, _P, _R = Household.__table__, HouseholdVersion.__table__, Person.__table__, ListRecord.__table__
_L = ListRecordLink.__table__


@dataclass
class VillageResult:
    code: str
    name: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    noticed: int = 0
    cards: list[str] = field(default_factory=list)  # card numbers of the households created


@dataclass
class PrefillResult:
    list_id: int
    created: int = 0
    updated: int = 0     # untouched households given a new version from a newer register
    unchanged: int = 0   # untouched households the newer register does not change
    noticed: int = 0     # touched households: a notice of the differences for the collector
    flagged: int = 0     # rows flagged here (a card number taken, no household key, refused)
    skipped: int = 0     # records not placed in a village, or of a household that was refused
    newly_flagged: int = 0  # of the flagged rows, those without a flag from the import
    villages: list[VillageResult] = field(default_factory=list)


# ------------------------------------------------------------------ addresses

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
              "九": 9}


def number_of(text: str) -> int | None:
    """"12" or "十二" (up to 九十九) as a number; None otherwise."""
    if text.isdigit():
        return int(text)
    if not text or any(c not in _CN_DIGITS and c != "十" for c in text):
        return None
    if "十" in text:
        tens, _sep, ones = text.partition("十")
        if len(tens) > 1 or len(ones) > 1:
            return None
        return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0)
    return _CN_DIGITS[text] if len(text) == 1 else None


_GROUP_NAME = re.compile(r"^第?([0-9一二三四五六七八九十两〇零]{1,3})(?:村民小组|居民小组|小组|组)$")
_NUM = r"([0-9]{1,4}|[一二三四五六七八九十两]{1,3})"
_TAIL = re.compile(
    rf"(?:第?{_NUM}(?:村民小组|居民小组|小组|组))?"
    rf"(?:([0-9A-Za-z]{{1,6}}(?:号院|栋|幢|号楼|楼)))?"
    rf"(?:([0-9A-Za-z]{{1,4}})单元)?"
    rf"(?:([0-9A-Za-z]{{1,6}})(?:号|室))?$")


def group_number(name: str) -> int | None:
    """The number of a villagers' group from its name: "第三村民小组", "3组", "五组" -> 3, 3, 5."""
    m = _GROUP_NAME.match(name.strip())
    return number_of(m.group(1)) if m else None


@dataclass(frozen=True)
class Address:
    group_no: int | None = None
    building: str | None = None
    unit: str | None = None
    room: str | None = None


def split_address(text: str | None) -> Address:
    """What can be read from the end of a register's address: "…10号院25号" -> building 10号院,
    room 25; "…5组12号" -> group 5, room 12; "…3栋2单元301室" -> building, unit, room. The
    rest (province to village) is the village the household is already in."""
    text = (text or "").strip().replace(" ", "")
    m = _TAIL.search(text)
    if m is None or not m.group(0):
        return Address()
    group, building, unit, room = m.groups()
    return Address(number_of(group) if group else None, building, unit, room)


# ------------------------------------------------------------------ pre-fill


def _list_for(actor: User, list_id: int) -> ImportedList:
    lst = db.session.get(ImportedList, list_id)
    # unit_path "": a list imported from the command line without a user, for the whole tree.
    if lst is None or (lst.unit_path and not scope.can_at(actor, "unit.view", lst.unit_path)):
        raise NotFound(_("No such list."))
    if not scope.scope_paths(actor, "list.prefill"):
        raise Forbidden(_("Pre-filling households from a list is done by the clerks and county "
                          "administrators of its area."))
    if lst.source not in SOURCES:
        raise Invalid(_("Households are pre-filled from a police list or a register, not from a list of %(source)s.",
                        source=lst.source), field="list_id")
    if lst.state != "loaded":
        raise Conflict(_("The list is “%(state)s”: only a loaded list pre-fills households.", state=lst.state))
    return lst


def ask(actor: User, list_id: int, *, key: str, stale_after: dt.timedelta) -> bool:
    """Record on the list that `actor` asked for a pre-fill with `key` (queued, progress reset);
    the caller commits and then enqueues app.jobs.run_prefill. False, and nothing changed, while
    another is queued or running (a double tap starts one job): one conditional UPDATE, so two
    requests at once cannot both pass. A job silent for `stale_after` died: it may be asked again."""
    if key not in KEYS:
        raise Invalid(_("Choose the household key: 户号 or village + card number."), field="key")
    lst = _list_for(actor, list_id)
    now = utcnow()
    free = or_(ImportedList.prefill_state.is_(None),
               ImportedList.prefill_state.not_in([PrefillState.queued.value, PrefillState.running.value]),
               ImportedList.prefill_progress_at < now - stale_after)
    asked = db.session.execute(
        update(ImportedList).where(ImportedList.id == lst.id, free)
        .values(prefill_state=PrefillState.queued.value, prefill_key=key, prefill_by_id=actor.id, prefill_asked_at=now,
                prefill_progress_at=now, prefill_done=0, prefill_total=None, prefill_created=None,
                prefill_updated=None, prefill_noticed=None, prefill_error=None)
        .execution_options(synchronize_session=False)).rowcount
    db.session.expire(lst)
    if asked:
        audit.record("list.prefill_asked", actor=actor, object_type="imported_list", object_id=lst.id,
                     details={"key": key})
    return bool(asked)


def prefill(actor: User, list_id: int, *, key: str = "household_no", commit: Callable[[], None] | None = None,
            on_progress: Callable[[int, int], None] | None = None, today: dt.date | None = None,
            workers: int = 0, pool_from: int = 5_000) -> PrefillResult:
    """Households from the list's records not yet used (no ListRecordLink), one
    village at a time; `commit` is called after each village (the CLI and the job commit
    there; without it everything stays in the caller's transaction). `on_progress(done,
    total)` counts records. Running it again on the same list does nothing more.

    Each village is read without the write lock (reads_first), its forms are built and
    checked without the database, and only then written, in one short transaction: a
    collector's save waits for one village's inserts at most, never for the checks.
    `workers` >= 1: the forms are built and checked in that many other processes (a county:
    the checks are half the work), while this process reads and writes; only for lists of at
    least `pool_from` waiting records (starting a process costs a second)."""
    if key not in KEYS:
        raise Invalid(_("The household key is household_no (户号) or village_card_no (village + card number)."),
                      field="key")
    lst = _list_for(actor, list_id)
    context = _Context(actor, lst, SOURCES[lst.source], key, today or registration.today())
    result = PrefillResult(lst.id)
    waiting = (_R.c.list_id == lst.id) & _unlinked()
    with reads_first():
        total = db.session.scalar(select(func.count()).select_from(_R).where(waiting)) or 0
        # Only the villages of the actor's own area: the rest of the list waits for their clerks.
        villages = list(db.session.scalars(
            select(AdminUnit).where(AdminUnit.id.in_(select(_R.c.village_id).where(waiting).distinct()),
                                    scope.scope_filter(actor, AdminUnit.path, "list.prefill"))
            .order_by(AdminUnit.path)))
        result.skipped = db.session.scalar(select(func.count()).select_from(_R).where(
            waiting, or_(_R.c.village_id.is_(None), _R.c.village_id.not_in([v.id for v in villages])))) or 0
    done = result.skipped
    pool = _pool(workers) if total >= pool_from else None
    ahead = workers if pool is not None else 0  # villages being checked while one is written
    in_flight: deque[tuple[_Plan, Any]] = deque()
    try:
        for village in [*villages, None]:
            if village is not None:
                with reads_first():
                    plan = _read_village(context, village)
                job = _job(context, plan)
                in_flight.append((plan, pool.submit(_compute, job) if pool else _Ready(_compute(job))))
                if len(in_flight) <= ahead:
                    continue  # keep every worker busy before writing the first result
            while in_flight and (village is None or len(in_flight) > ahead):
                plan, future = in_flight.popleft()
                vr = _write_village(context, plan, future.result(), result)
                result.villages.append(vr)
                audit.record("list.prefill_village", actor=actor, object_type="unit", object_id=plan.village.id,
                             details={"list_id": lst.id, "source": lst.source, "key": key,
                                      "records": plan.records, "created": vr.created, "updated": vr.updated,
                                      "unchanged": vr.unchanged, "noticed": vr.noticed,
                                      "cards": [min(vr.cards), max(vr.cards)] if vr.cards else []})
                if commit is not None:
                    commit()
                done += plan.records
                if on_progress is not None:
                    on_progress(done, total)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    for vr in result.villages:
        result.created += vr.created
        result.updated += vr.updated
        result.unchanged += vr.unchanged
        result.noticed += vr.noticed
    if result.newly_flagged:
        db.session.execute(update(ImportedList).where(ImportedList.id == lst.id)
                           .values(rows_flagged=ImportedList.rows_flagged + result.newly_flagged))
    audit.record("list.prefill", actor=actor, object_type="imported_list", object_id=lst.id, details={
        "source": lst.source, "key": key, "created": result.created, "updated": result.updated,
        "unchanged": result.unchanged, "noticed": result.noticed, "flagged": result.flagged,
        "skipped": result.skipped, "villages": len(result.villages)})
    if commit is not None:
        commit()
    return result


class _Ready:
    """A result computed in this process, answering like a future."""

    def __init__(self, value: Any):
        self.value = value

    def result(self) -> Any:
        return self.value


def default_workers() -> int:
    """One process building forms beside the one writing, where there is a second core."""
    return 1 if (os.cpu_count() or 1) > 1 else 0


def _pool(workers: int) -> ProcessPoolExecutor | None:
    if workers < 1:
        return None
    # spawn, not fork: a forked child would hold (and on exit close) this process's database
    # connections. The workers import the form and the checks only; they never open the database.
    return ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"))


@dataclass
class _Context:
    actor: User
    lst: ImportedList
    origin: HouseholdOrigin
    key: str
    today: dt.date


@dataclass(frozen=True)
class _Rec:
    """A list record as the pre-fill needs it (plain, for the worker processes)."""
    id: int
    line: int
    record_id: str | None
    name: str | None
    sex: str | None
    birth_date: dt.date | None
    id_number: str | None
    relation: str | None
    address: str | None
    flags: tuple | list | None


@dataclass
class _Existing:
    id: uuid.UUID
    card_no: str
    unit_path: str
    village_id: int
    group_id: int | None
    state: str
    current_number: int
    data: dict[str, Any]
    event: dict[str, Any] | None

    @property
    def untouched(self) -> bool:
        """No collector has worked on it: a draft whose current version was made from a list."""
        return self.state == HouseholdState.draft.value and isinstance(self.event, dict) \
            and "list_id" in self.event


@dataclass
class _Plan:
    village: AdminUnit
    records: int
    groups: dict[str, list[_Rec]]
    existing: dict[str, _Existing]
    group_units: dict[str, tuple[int, str]]  # code -> (id, path)
    flag_rows: list[dict[str, Any]]
    skipped: int


_RECORD_COLUMNS = (_R.c.id, _R.c.line, _R.c.record_id, _R.c.name, _R.c.sex, _R.c.birth_date, _R.c.id_number,
                   _R.c.relation, _R.c.address, _R.c.flags)


def _unlinked():
    """A list row no household was made from yet (records of a refused household stay so)."""
    return ~exists().where(_L.c.record_id == _R.c.id)


def _card_key(value: str | None) -> str | None:
    """A register's card number as a card number of this system: up to 4 digits, 1 to 9999."""
    text = (value or "").strip()
    if text.isascii() and text.isdigit() and len(text) <= 4 and int(text) > 0:
        return text.zfill(4)
    return None


def _flag(row: _Rec, reason: str, zh: str, en: str, column_field: str | None, context: _Context) -> dict[str, Any]:
    flags = list(row.flags or [])
    mapping = context.lst.mapping or {}
    flags.append({"field": column_field, "column": mapping.get(column_field) if column_field else None,
                  "reason": reason, "message": {"zh": zh, "en": en}})
    return {"r_id": row.id, "flags": flags, "was_clean": not row.flags}


def _read_village(context: _Context, village: AdminUnit) -> _Plan:
    """The village's waiting records grouped by household key, the households already made
    from a register of this source with those keys, and the village's groups."""
    key_column = _R.c.household_no if context.key == "household_no" else _R.c.card_no
    rows = db.session.execute(
        select(key_column.label("key"), *_RECORD_COLUMNS)
        .where(_R.c.list_id == context.lst.id, _R.c.village_id == village.id, _unlinked())
        .order_by(key_column, _R.c.line)).all()
    groups: dict[str, list[_Rec]] = {}
    flag_rows: list[dict[str, Any]] = []
    skipped = 0
    for row in rows:
        rec = _Rec(*row[1:])
        k = ((row.key or "").strip()[:40] or None) if context.key == "household_no" else _card_key(row.key)
        if k is None:
            field_name = "household_no" if context.key == "household_no" else "card_no"
            flag_rows.append(_flag(rec, "prefill_no_key", "没有可用的户号或户卡编号，未生成预填户",
                                   "no usable household number or card number: no household pre-filled",
                                   field_name, context))
            skipped += 1
            continue
        groups.setdefault(k, []).append(rec)
    existing: dict[str, _Existing] = {}
    keys = list(groups)
    for start in range(0, len(keys), 500):
        for row in db.session.execute(
                select(Household.id, Household.source_key, Household.card_no, Household.unit_path,
                       Household.village_id, Household.group_id, Household.state, Household.current_number,
                       HouseholdVersion.data, HouseholdVersion.event)
                .join(HouseholdVersion, HouseholdVersion.id == Household.current_version_id)
                .where(Household.village_id == village.id, Household.origin == context.origin.value,
                       Household.source_key.in_(keys[start:start + 500]))):
            existing[row.source_key] = _Existing(*row[:1], *row[2:])
    group_units = {code: (gid, path) for gid, code, path in db.session.execute(
        select(AdminUnit.id, AdminUnit.code, AdminUnit.path)
        .where(AdminUnit.parent_id == village.id, AdminUnit.level == UnitLevel.group.value))}
    # The group names, for reading "5组" in addresses: a number per group.
    numbers = {code: group_number(name) for code, name in db.session.execute(
        select(AdminUnit.code, AdminUnit.name)
        .where(AdminUnit.parent_id == village.id, AdminUnit.level == UnitLevel.group.value))}
    group_units = {code: (*group_units[code], numbers.get(code)) for code in group_units}
    return _Plan(village, len(rows), groups, existing, group_units, flag_rows, skipped)


def _job(context: _Context, plan: _Plan) -> dict[str, Any]:
    """What the worker needs: plain data only."""
    return {"village_id": plan.village.id, "village_path": plan.village.path, "today": context.today,
            "groups": plan.groups, "group_units": plan.group_units,
            "existing": {k: (e.id, e.data, e.group_id, e.unit_path, e.card_no) for k, e in plan.existing.items()}}


def _compute(job: dict[str, Any]) -> dict[str, Any]:
    """The forms of a village's households, checked as at a save, with their Household and
    Person cache rows; for households already there, the differences. No database: this runs
    in worker processes. Card numbers are given later, when writing."""
    form = load_form()
    group_units = job["group_units"]
    by_number = {n: code for code, (_id, _path, n) in group_units.items() if n is not None}
    out: dict[str, Any] = {"refused": {}, "built": {}}
    for k, members in job["groups"].items():
        previous = job["existing"].get(k)
        data = _form_data(members, by_number, previous[1] if previous else None)
        clean, found = save_checks(data, job["today"], form)
        refused = [i for i in found if i.rule in REFUSING_RULES]
        if refused:
            out["refused"][k] = dict(refused[0].message)
            continue
        issues = [i.as_dict() for i in found]
        code = clean["household"].get("group_code")
        group_id, unit_path = group_units[code][:2] if code in group_units else (None, None)
        if previous is not None:
            household_id, _data, old_group_id, old_path, card_no = previous
            group_id, unit_path = (group_id, unit_path) if group_id is not None else (old_group_id, old_path)
        else:
            household_id, card_no = uuid.uuid4(), None
            unit_path = unit_path or job["village_path"]
        h = Household(id=household_id, village_id=job["village_id"], group_id=group_id, unit_path=unit_path,
                      card_no=card_no, state=HouseholdState.draft.value)
        cached, person_rows = registration._cached_rows(h, clean)
        out["built"][k] = {
            "id": household_id, "clean": clean, "issues": issues, "hash": registration.content_hash(clean),
            "complete": not any(i["level"] == "error" for i in issues), "cached": cached, "persons": person_rows,
            "group_id": group_id, "unit_path": unit_path,
            "differences": differences(previous[1], clean) if previous is not None else None}
    return out


def _write_village(context: _Context, plan: _Plan, computed: dict[str, Any], result: PrefillResult) -> VillageResult:
    """Card numbers, households, versions, persons, notices, links and flags: Core statements,
    one per kind and village."""
    village, lst = plan.village, context.lst
    vr = VillageResult(village.code, village.name)
    now = utcnow()
    flag_rows = list(plan.flag_rows)
    result.skipped += plan.skipped
    built = computed["built"]
    for k, reason in computed["refused"].items():
        for row in plan.groups[k]:
            flag_rows.append(_flag(row, "prefill_refused", f"本户无法预填：{reason.get('zh', '')}",
                                   f"household not pre-filled: {reason.get('en', '')}", None, context))
        result.skipped += len(plan.groups[k])
    new_keys = [k for k in built if k not in plan.existing]
    cards = _card_numbers(context, village, new_keys, plan.groups, flag_rows)
    households, versions, persons, links = [], [], [], []
    for k in new_keys:
        b = built[k]
        card_no = cards[k]
        households.append({
            **b["cached"], "id": b["id"], "village_id": village.id, "group_id": b["group_id"],
            "unit_path": b["unit_path"], "card_no": card_no, "state": HouseholdState.draft.value,
            "complete": b["complete"], "current_number": 1, "current_version_id": None,
            "last_verified_version_id": None, "created_at": now, "created_by_id": context.actor.id,
            "updated_at": now, "origin": context.origin.value,
            "collected_at": None if context.origin == HouseholdOrigin.police else now,
            "source_list_id": lst.id, "source_key": k, "assigned_to_id": None})
        versions.append(_version_row(context, b, 1, VersionKind.create, k, plan.groups[k], now))
        # The card number was given only now: the Person rows that carry it get it here.
        persons.extend({**p, "card_no": card_no} if "card_no" in p else p for p in b["persons"])
        links.extend({"r_id": row.id, "h_id": b["id"]} for row in plan.groups[k])
        vr.cards.append(card_no)
    vr.created = len(households)
    conn = db.session.connection()
    if households:
        bulk.insert_rows(conn, _H, households)
        bulk.insert_rows(conn, _V, versions)
        first = select(_V.c.id).where(_V.c.household_id == _H.c.id, _V.c.number == 1).scalar_subquery()
        conn.execute(update(_H).where(_H.c.village_id == village.id, _H.c.source_list_id == lst.id,
                                      _H.c.current_version_id.is_(None)).values(current_version_id=first))
        bulk.insert_rows(conn, _P, persons)
    _renew(context, plan, built, now, vr, links)
    if links:
        # Narrow rows of their own: the list's rows are never rewritten (app.models.ListRecordLink).
        bulk.insert_rows(conn, _L, [{"record_id": link["r_id"], "household_id": link["h_id"]} for link in links])
    if flag_rows:
        conn.execute(update(_R).where(_R.c.id == bindparam("r_id")).values(flags=bindparam("flags")),
                     [{"r_id": f["r_id"], "flags": f["flags"]} for f in flag_rows])
        result.flagged += len({f["r_id"] for f in flag_rows})
        # ImportedList.rows_flagged counts rows with any flag: only those clean until now are new.
        result.newly_flagged += len({f["r_id"] for f in flag_rows if f["was_clean"]})
    return vr


def _version_row(context: _Context, b: dict[str, Any], number: int, kind: VersionKind, k: str,
                 members: list[_Rec], now: dt.datetime) -> dict[str, Any]:
    return {"household_id": b["id"], "number": number, "kind": kind.value, "data": b["clean"],
            "content_hash": b["hash"], "form_version": load_form().version,
            "base_number": None if number == 1 else number - 1, "submission_id": None, "issues": b["issues"],
            "complete": b["complete"], "created_by_id": context.actor.id, "created_at": now, "occurred_on": None,
            "event": {"source": context.lst.source, "list_id": context.lst.id, "key": k,
                      "record_ids": [row.id for row in members],
                      "source_record_ids": [row.record_id for row in members if row.record_id]}}


def _form_data(members: list[_Rec], group_by_number: dict[int, str],
               previous: dict[str, Any] | None) -> dict[str, Any]:
    """The form of one household from its records, head first (_roster_order); the person ids
    of a previous version kept for the same persons (a newer register)."""
    rows = sorted(members, key=_roster_order)
    relations = [r.relation for r in rows]
    # Some registers write the head as 01 本人: the head when no one is 02 户主.
    self_is_head = HEAD not in relations and relations.count("01") == 1
    old = list((previous or {}).get("members", []))
    out = []
    for r in rows:
        m: dict[str, Any] = {"name": r.name, "sex": r.sex,
                             "birth_date": r.birth_date.isoformat() if r.birth_date else None,
                             "id_number": r.id_number,
                             "relationship": HEAD if self_is_head and r.relation == "01" else r.relation}
        m = {k: v for k, v in m.items() if v not in (None, "")}
        same = _same_person(m, old)
        if same is not None:
            old.remove(same)
            m = {**same, **m}  # what the collector's form has beyond the register stays
        else:
            m = {**DEFAULT_MEMBER, **m, "person_id": str(uuid.uuid4())}
        out.append(m)
    address = next((r.address for r in rows if r.address), None)
    household: dict[str, Any] = dict((previous or {}).get("household") or DEFAULT_HOUSEHOLD)
    if address:
        household["address"] = address.strip()[:100]
        parts = split_address(address)
        group = group_by_number.get(parts.group_no) if parts.group_no is not None else None
        for name, value in (("group_code", group), ("building", parts.building),
                            ("unit", parts.unit), ("room", parts.room)):
            if value:
                household[name] = value[:20] if name != "group_code" else value
    return {"household": household, "members": out}


# GB/T 4761's first digit: spouse 1, children 2-3, grandchildren 4, parents 5, others after.
_KIN_RANK = {"1": 1, "2": 2, "3": 2, "4": 3, "5": 4}


def _roster_order(r: _Rec) -> tuple:
    """Head first, then spouse, children, grandchildren, parents, others; the older first
    within each (a register's own order where it says no more)."""
    relation = r.relation or ""
    rank = 0 if relation in (HEAD, "01") else _KIN_RANK.get(relation[:1], 5)
    return rank, r.birth_date or dt.date.max, r.line


def _same_person(m: dict[str, Any], old: list[dict[str, Any]]) -> dict[str, Any] | None:
    if m.get("id_number"):
        found = next((o for o in old if o.get("id_number") == m["id_number"]), None)
        if found is not None:
            return found
    found = next((o for o in old if o.get("name") == m.get("name")
                  and o.get("birth_date") == m.get("birth_date")), None)
    if found is not None:
        return found
    # The same name once in the household: the same person, whose date or number was corrected.
    named = [o for o in old if o.get("name") == m.get("name")]
    return named[0] if len(named) == 1 else None


# ------------------------------------------------------------------ card numbers


def _counter_statement(dialect: str, *, add: bool):
    """Count the village's counter up by :n (add) or move it to at least :n (not add), returning it."""
    counter = CardCounter.__table__
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(counter).values(village_id=bindparam("village_id"), last_no=bindparam("n"))
    new = counter.c.last_no + stmt.excluded.last_no if add else \
        case((counter.c.last_no > stmt.excluded.last_no, counter.c.last_no), else_=stmt.excluded.last_no)
    return stmt.on_conflict_do_update(index_elements=[counter.c.village_id], set_={"last_no": new}) \
        .returning(counter.c.last_no)


def _card_numbers(context: _Context, village: AdminUnit, keys: list[str], groups: dict[str, list[_Rec]],
                  flag_rows: list[dict[str, Any]]) -> dict[str, str]:
    """Card numbers for the new households: kept from an old register where free, else the
    village's next ones (the counter moved past the highest kept number first)."""
    if not keys:
        return {}
    dialect = db.session.get_bind().dialect.name
    numbers: dict[str, str] = {}
    need = list(keys)
    if context.key == "village_card_no":
        taken = set(db.session.scalars(select(Household.card_no).where(Household.village_id == village.id)))
        need = []
        for k in keys:
            if k in taken:
                need.append(k)
            else:
                numbers[k] = k
                taken.add(k)
        if numbers:
            db.session.execute(_counter_statement(dialect, add=False),
                               {"village_id": village.id, "n": max(int(n) for n in numbers.values())})
    if need:
        last = db.session.execute(_counter_statement(dialect, add=True),
                                  {"village_id": village.id, "n": len(need)}).scalar_one()
        if last > registration.MAX_CARD_NO:
            raise Invalid(_("The village %(village)s has used all card numbers.", village=village.name))
        for i, k in enumerate(need):
            numbers[k] = f"{last - len(need) + 1 + i:04d}"
    if context.key == "village_card_no":
        for k in need:
            for row in groups[k]:
                flag_rows.append(_flag(
                    row, "card_no_taken", f"户卡编号{k}在本村已被使用，本户改用{numbers[k]}",
                    f"card number {k} is already used in the village; the household got {numbers[k]}",
                    "card_no", context))
    return numbers


# ------------------------------------------------------------------ a newer register


def _renew(context: _Context, plan: _Plan, built: dict[str, dict[str, Any]], now: dt.datetime,
           vr: VillageResult, links: list[dict[str, Any]]) -> None:
    """Households already made from a register of this source: a new version where no collector
    has touched them, else a notice of the differences. Whether it was touched is asked again
    here, in the writing transaction: a collector may have saved it since it was read."""
    keys = [k for k in plan.existing if k in built]
    if not keys:
        return
    ids = [plan.existing[k].id for k in keys]
    now_numbers = {}
    for start in range(0, len(ids), 500):
        now_numbers.update(db.session.execute(
            select(Household.id, Household.current_number).where(Household.id.in_(ids[start:start + 500]))).all())
    versions, household_updates, persons, renewed, notices = [], [], [], [], []
    for k in keys:
        old, b = plan.existing[k], built[k]
        links.extend({"r_id": row.id, "h_id": old.id} for row in plan.groups[k])
        changes = b["differences"]
        if not changes:
            vr.unchanged += 1
            continue
        untouched = old.untouched and now_numbers.get(old.id) == old.current_number
        # A person is never deleted: a register that leaves one out is a notice instead.
        if untouched and not any(c.get("change") == "missing" for c in changes):
            number = old.current_number + 1
            versions.append(_version_row(context, b, number, VersionKind.edit, k, plan.groups[k], now))
            cached = {**b["cached"], "group_id": b["group_id"], "unit_path": b["unit_path"],
                      "complete": b["complete"], "updated_at": now}
            # Bound as c_<column>: a bound name may not be the name of a column it sets.
            household_updates.append({**{f"c_{c}": v for c, v in cached.items()}, "h_id": old.id, "n": number,
                                      "list_id": context.lst.id})
            persons.extend(b["persons"])
            renewed.append(old.id)
            vr.updated += 1
        else:
            notices.append({"household_id": old.id, "kind": "register_differs", "list_id": context.lst.id,
                            "differences": changes, "created_at": now, "resolved_at": None,
                            "resolved_by_id": None})
            vr.noticed += 1
    conn = db.session.connection()
    if versions:
        bulk.insert_rows(conn, _V, versions)
        cached_columns = {c[2:]: bindparam(c) for c in household_updates[0] if c.startswith("c_")}
        current = select(_V.c.id).where(_V.c.household_id == _H.c.id, _V.c.number == bindparam("n")) \
            .scalar_subquery()
        conn.execute(update(_H).where(_H.c.id == bindparam("h_id")).values(
            current_number=bindparam("n"), current_version_id=current, source_list_id=bindparam("list_id"),
            **cached_columns), household_updates)
        # The Person rows are the current version's cache; an untouched pre-fill has no other.
        conn.execute(delete(_P).where(_P.c.household_id.in_(renewed)))
        bulk.insert_rows(conn, _P, persons)
    if notices:
        conn.execute(HouseholdNotice.__table__.insert(), notices)


def differences(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """What a register says differently from a household's current version: members matched by
    person id, ID number, name and birth date, or a name only one member has.
    [{"member", "field", "was", "now"}] for a differing item, [{"member", "change": "added" |
    "missing"}] for a person only one side has; member None for the household's address."""
    out: list[dict[str, Any]] = []
    if (old.get("household") or {}).get("address") != (new.get("household") or {}).get("address"):
        out.append({"member": None, "field": "address", "was": (old.get("household") or {}).get("address"),
                    "now": (new.get("household") or {}).get("address")})
    remaining = [m for m in old.get("members", []) if m.get("status", "active") == "active"]
    for m in new.get("members", []):
        same = next((o for o in remaining if o.get("person_id") == m.get("person_id")), None) \
            or _same_person(m, remaining)
        if same is None:
            out.append({"member": m.get("name"), "change": "added"})
            continue
        remaining.remove(same)
        for name in COMPARED:
            if same.get(name) != m.get(name):
                out.append({"member": m.get("name") or same.get("name"), "field": name, "was": same.get(name),
                            "now": m.get(name)})
    out.extend({"member": o.get("name"), "change": "missing"} for o in remaining)
    return out


# ------------------------------------------------------------------ at the door


@dataclass
class Checked:
    household: Household
    repeated: bool  # already counted as collected: nothing new was saved


def checked_unchanged(actor: User, household_id: uuid.UUID, *, base_number: int,
                      submission_id: uuid.UUID | None = None, today: dt.date | None = None) -> Checked:
    """"核对无误": the collector found a pre-filled household as the register has it. The same
    data is saved again as the collector's version, so the household counts as collected. A
    second tap (or a reload) is answered as done and saves nothing."""
    household = registration.get_household(actor, household_id, "household.edit")
    if household.collected_at is not None:
        return Checked(household, True)
    data = household.current_version.data
    result = registration.save_household(actor, household.id, data=data, base_number=base_number,
                                         submission_id=submission_id, today=today)
    return Checked(result.household, not result.created)


# ------------------------------------------------------------------ notices


def open_notices(household: Household) -> list[HouseholdNotice]:
    return list(db.session.scalars(select(HouseholdNotice).where(
        HouseholdNotice.household_id == household.id, HouseholdNotice.resolved_at.is_(None))
        .order_by(HouseholdNotice.id)))


def resolve_notice(actor: User, notice_id: int, *, household_id: uuid.UUID | None = None) -> HouseholdNotice:
    """The collector has seen the differences (and corrected the household where the register
    was right). Resolving twice is answered as done."""
    notice = db.session.get(HouseholdNotice, notice_id)
    if notice is None or (household_id is not None and notice.household_id != household_id):
        raise NotFound(_("No such notice."))
    registration.get_household(actor, notice.household_id, "household.edit")
    if notice.resolved_at is None:
        notice.resolved_at = utcnow()
        notice.resolved_by_id = actor.id
        audit.record("household.notice_resolved", actor=actor, object_type="household",
                     object_id=notice.household_id, details={"notice": notice.id, "list_id": notice.list_id})
    return notice


# ------------------------------------------------------------------ assigning to collectors


# What a leader gives out: households made from a list that are still drafts.
_TO_ASSIGN = (Household.origin != HouseholdOrigin.collected.value, Household.state == HouseholdState.draft.value)


def villages_to_assign(actor: User) -> list[tuple[AdminUnit, int, int]]:
    """The actor's villages with their pre-filled drafts: (village, how many, not given out)."""
    villages = list(db.session.scalars(scope.units_for(actor, "household.assign")
                                       .where(AdminUnit.level == UnitLevel.village.value).order_by(AdminUnit.path)))
    counts = {v: (n, free) for v, n, free in db.session.execute(
        select(Household.village_id, func.count(), func.count().filter(Household.assigned_to_id.is_(None)))
        .where(Household.village_id.in_([v.id for v in villages]), *_TO_ASSIGN)
        .group_by(Household.village_id))}
    return [(v, *counts.get(v.id, (0, 0))) for v in villages]


def prefilled_of_village(actor: User, village_id: int, *, unassigned_only: bool = False,
                         page: int = 1, per_page: int = 100) -> tuple[AdminUnit, list[Household], int]:
    """The pre-filled households of a village still drafts, for its leader to give out."""
    village = scope.require_unit(actor, village_id, "household.assign")
    if village.level != UnitLevel.village.value:
        raise NotFound(_("No such village."))
    where = [Household.village_id == village.id, *_TO_ASSIGN]
    if unassigned_only:
        where.append(Household.assigned_to_id.is_(None))
    total = db.session.scalar(select(func.count()).select_from(Household).where(*where)) or 0
    items = list(db.session.scalars(select(Household).where(*where).order_by(Household.card_no)
                                    .offset((max(page, 1) - 1) * per_page).limit(per_page)))
    return village, items, total


def collectors_of(village: AdminUnit) -> list[User]:
    """Active collectors whose units hold the village or lie within it."""
    rows = db.session.execute(
        select(User, AdminUnit.path).join(RoleAssignment, RoleAssignment.user_id == User.id)
        .join(AdminUnit, AdminUnit.id == RoleAssignment.unit_id)
        .where(RoleAssignment.role == Role.collector.value, User.active.is_(True))).all()
    seen: dict[int, User] = {}
    for user, path in rows:
        if is_within(village.path, path) or is_within(path, village.path):
            seen.setdefault(user.id, user)
    return sorted(seen.values(), key=lambda u: (u.name, u.id))


def assign(actor: User, village_id: int, household_ids: Iterable[uuid.UUID], collector_id: int | None) -> int:
    """Give pre-filled households of the village to a collector (None: take them back).
    Households outside the village or not pre-filled are refused, naming none of them."""
    village = scope.require_unit(actor, village_id, "household.assign")
    ids = list(dict.fromkeys(household_ids))
    if not ids:
        raise Invalid(_("Choose at least one household."), field="household_ids")
    collector = None
    if collector_id is not None:
        collector = next((u for u in collectors_of(village) if u.id == collector_id), None)
        if collector is None:
            raise Invalid(_("Choose a collector of this village."), field="collector_id")
    found = set(db.session.scalars(select(Household.id).where(
        Household.id.in_(ids), Household.village_id == village.id,
        Household.origin != HouseholdOrigin.collected.value)))
    if len(found) != len(ids):
        raise Invalid(_("Some of the chosen households are not pre-filled households of this village."),
                      field="household_ids")
    db.session.execute(update(Household).where(Household.id.in_(ids))
                       .values(assigned_to_id=collector.id if collector else None))
    audit.record("household.assign", actor=actor, object_type="unit", object_id=village.id, details={
        "collector": collector.username if collector else None, "households": len(ids)})
    return len(ids)


def assigned_to_verify(collector: User, limit: int = 200) -> list[Household]:
    """The pre-filled households given to the collector that are still drafts, those to verify
    at the door (police pre-fills not yet saved) first."""
    return list(db.session.scalars(
        select(Household).where(Household.assigned_to_id == collector.id,
                                Household.origin != HouseholdOrigin.collected.value,
                                Household.state == HouseholdState.draft.value)
        .order_by(Household.collected_at.is_not(None), Household.unit_path, Household.card_no).limit(limit)))
