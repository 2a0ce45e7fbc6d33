"""The registry-wide run of the rule library (质量核查, issue 17) and its stored findings.

`run(actor, run_id, commit=...)` runs every household-level rule of `quality/` (the save-time
checks, the seed's check list, the ten relations of a married woman) and main-item
completeness over the current version of every household of the run's unit, one village at
a time, then the rules across households (`quality.check_across`) over the person register.
Each village is read without the write lock (reads_first), checked without the database,
and written in one short transaction: findings not yet open are opened, open ones seen again
get the run (last_run_id, last_seen_at), open ones no longer found are resolved
(resolved_at, resolved_run_id); a HouseholdQuality row per household; the run's progress.
`commit` is called after each village (the CLI and the job commit there).

A save re-checks its own household at once (`recheck_saved`, called by
app.domain.registration for every new version, life events included): the household's
within-household findings and its HouseholdQuality row in the save's own transaction. The
rules across households wait for the next run.

A finding is named across runs and saves by its fingerprint: rule|household|path|other (the
other household(s) for a rule across households, else empty). Explanations (说明): the
collector or the village leader writes one; the township's verifier accepts or refuses it
(with a reason); an accepted one takes the finding out of the error count, and the finding is
kept. Audited.

The domain flushes and never commits.
"""
from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Any, NamedTuple

from flask_babel import gettext as _
from sqlalchemy import and_, bindparam, delete, distinct, func, or_, select, update

from app.domain import audit, scope
from app.domain.errors import Conflict, Forbidden, Invalid, NotFound
from app.domain.tree import in_any_subtree, in_subtree, is_within
from app.extensions import db, reads_first
from app.models import AdminUnit, Household, HouseholdVersion, Person, UnitLevel, User, utcnow
from app.models.quality import (ExplanationState, HouseholdQuality, QualityFinding, QualityRun, RunState)
import quality
from quality.registry import FIELD_CHECKS, household_checks, run_household_check
from collection_forms import FormDefinition, Issue, load_form

ACROSS = "across_households"
MAX_EXPLANATION = 2000
_F = QualityFinding.__table__
_HQ = HouseholdQuality.__table__
_CHUNK = 500


def fingerprint(rule: str, household_id: Any, path: str, other: str = "") -> str:
    return f"{rule}|{household_id}|{path}|{other}"[:240]


def _is_field_check(rule_id: str) -> bool:
    try:
        return quality.rule(rule_id).check is FIELD_CHECKS
    except KeyError:
        return False


def _scope_of(rule_id: str, member: int | None) -> str:
    try:
        return quality.rule(rule_id).scope
    except KeyError:
        return "person" if member is not None else "household"


# ------------------------------------------------------------------ one household


@dataclass
class HouseholdResult:
    """What the rules found in one household's current version, and its scorecard counts."""
    household_id: uuid.UUID
    findings: list[quality.Finding]
    persons: int
    required: int
    filled: int
    married_women: int


def check_one(household_id: uuid.UUID, data: Mapping[str, Any], today: dt.date,
              form: FormDefinition | None = None) -> HouseholdResult:
    """Every household-level rule and the completeness counts of one household's data."""
    form = form or load_form()
    findings = list(quality.household_findings(str(household_id), data, today, form=form))
    return _result(household_id, data, findings, today, form)


def _result(household_id: uuid.UUID, data: Mapping[str, Any], findings: list[quality.Finding], today: dt.date,
            form: FormDefinition) -> HouseholdResult:
    completeness = quality.main_item_completeness(data, today, form)
    women = sum(1 for _ in quality.married_women(data, today))
    persons = sum(1 for m in data.get("members") or [] if isinstance(m, Mapping)
                  and (m.get("status") or "active") == "active")
    return HouseholdResult(household_id, findings, persons, completeness.required, completeness.filled, women)


def _finding_row(f: quality.Finding, household_id: uuid.UUID, village_id: int, unit_path: str, now: dt.datetime,
                 run_id: int | None, other: str = "", details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"fingerprint": fingerprint(f.rule, household_id, f.path, other), "rule": f.rule, "level": f.level,
            "scope": _scope_of(f.rule, f.member), "household_id": household_id,
            "person_id": _uuid(f.person_id), "member_index": f.member, "path": f.path[:100],
            "village_id": village_id, "unit_path": unit_path, "message": dict(f.message), "details": details,
            "first_run_id": run_id, "last_run_id": run_id, "first_seen_at": now, "last_seen_at": now}


def _uuid(value: Any) -> uuid.UUID | None:
    if value is None or isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _quality_row(r: HouseholdResult, village_id: int, unit_path: str, version_number: int, now: dt.datetime,
                 run_id: int | None) -> dict[str, Any]:
    return {"household_id": r.household_id, "village_id": village_id, "unit_path": unit_path,
            "version_number": version_number, "persons": r.persons, "main_items_required": r.required,
            "main_items_filled": r.filled, "married_women": r.married_women, "checked_at": now, "run_id": run_id}


@dataclass
class Sync:
    opened: int = 0
    seen: int = 0
    resolved: int = 0


def _sync(open_rows: Iterable[Any], found: dict[str, dict[str, Any]], now: dt.datetime, run_id: int | None) -> Sync:
    """Bring stored open findings in line with what was found: open the new, mark the seen,
    resolve the gone. `open_rows`: (id, fingerprint, message) of the open findings in question."""
    result = Sync()
    seen_ids: list[int] = []
    gone_ids: list[int] = []
    changed: list[dict[str, Any]] = []
    new = dict(found)
    for row_id, fp, message in open_rows:
        row = new.pop(fp, None)
        if row is None:
            gone_ids.append(row_id)
        else:
            seen_ids.append(row_id)
            if row["message"] != message:
                changed.append({"b_id": row_id, "b_message": row["message"]})
    conn = db.session.connection()
    for ids in _chunks(seen_ids):
        conn.execute(update(_F).where(_F.c.id.in_(ids)).values(last_run_id=run_id, last_seen_at=now))
    if changed:
        conn.execute(update(_F).where(_F.c.id == bindparam("b_id")).values(message=bindparam("b_message")), changed)
    for ids in _chunks(gone_ids):
        conn.execute(update(_F).where(_F.c.id.in_(ids)).values(resolved_at=now, resolved_run_id=run_id))
    if new:
        conn.execute(_F.insert(), list(new.values()))
    result.opened, result.seen, result.resolved = len(new), len(seen_ids), len(gone_ids)
    return result


def _chunks(items: list[Any], size: int = _CHUNK) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _write_quality(rows: list[dict[str, Any]]) -> None:
    conn = db.session.connection()
    for ids in _chunks([r["household_id"] for r in rows]):
        conn.execute(delete(_HQ).where(_HQ.c.household_id.in_(ids)))
    if rows:
        conn.execute(_HQ.insert(), rows)


def recheck_saved(household: Household, number: int, clean: Mapping[str, Any], issues: list[dict[str, Any]],
                  today: dt.date, form: FormDefinition | None = None) -> None:
    """At a save (a new version `number` of `household`, flushed): its within-household findings
    and its HouseholdQuality row, in the save's transaction. Of what the save's checks found
    (`issues`) only the form's field checks are taken (the costly part, already done); the
    household rules, the check list and the married women's relations run here on the saved
    data, so that a save finds exactly what a run finds (a life event's own rules and the
    lookups in other households are the save's, not findings)."""
    form = form or load_form()
    members = clean.get("members") or []
    findings: list[quality.Finding] = []
    for i in issues:
        if _is_field_check(i["rule"]):
            findings.append(quality.Finding.from_issue(Issue(i["rule"], i["level"], i["path"], i["message"]),
                                                       str(household.id), members))
    for check in household_checks():
        findings += [quality.Finding.from_issue(i, str(household.id), members)
                     for i in run_household_check(check, clean, today)]
    result = _result(household.id, clean, findings, today, form)
    village_id = household.village.id if household.village is not None else household.village_id
    now = utcnow()
    found: dict[str, dict[str, Any]] = {}
    for f in findings:
        row = _finding_row(f, household.id, village_id, household.unit_path, now, None)
        found.setdefault(row["fingerprint"], row)
    conn = db.session.connection()
    if number > 1:
        stored = conn.execute(select(_F.c.id, _F.c.fingerprint, _F.c.message, _F.c.scope, _F.c.unit_path)
                              .where(_F.c.household_id == household.id, _F.c.resolved_at.is_(None))).all()
        if any(r.unit_path != household.unit_path for r in stored):  # moved: its findings follow it
            conn.execute(update(_F).where(_F.c.household_id == household.id, _F.c.resolved_at.is_(None))
                         .values(unit_path=household.unit_path, village_id=village_id))
        _sync([(r.id, r.fingerprint, r.message) for r in stored if r.scope != ACROSS], found, now, None)
        conn.execute(delete(_HQ).where(_HQ.c.household_id == household.id))
    else:
        _sync([], found, now, None)
    conn.execute(_HQ.insert(), [_quality_row(result, village_id, household.unit_path, number, now, None)])


# ------------------------------------------------------------------ runs


def _run_units(actor: User | None, unit: AdminUnit | None) -> list[AdminUnit]:
    """The villages a run covers: under `unit` (else the whole tree) and within the actor's
    scope for quality.run (no actor: the command line without --as, everything)."""
    q = select(AdminUnit).where(AdminUnit.level == UnitLevel.village.value)
    if unit is not None:
        q = q.where(in_subtree(AdminUnit.path, unit.path))
    if actor is not None:
        q = q.where(scope.scope_filter(actor, AdminUnit.path, "quality.run"))
    return list(db.session.scalars(q.order_by(AdminUnit.path)))


def _unit_for(actor: User | None, unit_id: int | None) -> AdminUnit | None:
    if actor is not None and not scope.scope_paths(actor, "quality.run"):
        raise Forbidden(_("The checks of the registry are run by the township's and county's staff."))
    if unit_id is None:
        return None
    if actor is None:
        unit = db.session.get(AdminUnit, unit_id)
        if unit is None:
            raise NotFound(str(_("No such administrative unit.")))
        return unit
    unit = scope.require_unit(actor, unit_id, "unit.view")
    if not scope.can(actor, "quality.run", unit) and not any(is_within(p, unit.path)
                                                             for p in scope.scope_paths(actor, "quality.run")):
        raise Forbidden(_("You may not run the checks in %(unit)s.", unit=unit.name))
    return unit


def start(actor: User | None, unit_id: int | None) -> QualityRun:
    """A queued run of the unit (None: the actor's whole area), flushed; the caller commits
    and runs it (`run`) or enqueues app.jobs.run_quality."""
    unit = _unit_for(actor, unit_id)
    r = QualityRun(unit_id=unit.id if unit else None, unit_path=unit.path if unit else "",
                   state=RunState.queued.value, asked_by_id=actor.id if actor else None, asked_at=utcnow(),
                   progress_at=utcnow())
    db.session.add(r)
    db.session.flush()
    audit.record("quality.run_asked", actor=actor, object_type="quality_run", object_id=r.id,
                 details={"unit": unit.code if unit else None})
    return r


def ask(actor: User, unit_id: int | None, *, stale_after: dt.timedelta) -> QualityRun | None:
    """A queued run for a page, or None while another run of the same unit is queued or
    running (and not silent for `stale_after`): a double tap starts one job."""
    unit = _unit_for(actor, unit_id)
    busy = db.session.scalar(select(QualityRun.id).where(
        QualityRun.unit_path == (unit.path if unit else ""),
        QualityRun.state.in_([RunState.queued.value, RunState.running.value]),
        QualityRun.progress_at >= utcnow() - stale_after).limit(1))
    if busy is not None:
        return None
    return start(actor, unit_id)


@dataclass
class RunResult:
    run_id: int
    households: int = 0
    opened: int = 0
    seen: int = 0
    resolved: int = 0
    open: int = 0
    villages: int = 0
    skipped: int = 0  # households saved while the run checked them: the save re-checked them
    by_rule: dict[str, int] = field(default_factory=dict)


def run(actor: User | None, run_id: int, *, commit: Callable[[], None] | None = None,
        on_progress: Callable[[int, int], None] | None = None, today: dt.date | None = None,
        workers: int = 0) -> RunResult:
    """Run the queued run `run_id` (see the module docstring). `workers` > 1: the households
    are checked in that many processes while this one reads and writes (the checks are most
    of the work: a county's 130k households take a minute of one core)."""
    from app.domain.registration import today as local_today

    r = db.session.get(QualityRun, run_id)
    if r is None:
        raise NotFound(_("No such run of the checks."))
    today = today or local_today()
    unit = r.unit
    unit_code = unit.code if unit else None
    villages = [(v.id, v.path) for v in _run_units(actor, unit)]
    village_ids = [v for v, _path in villages]
    result = RunResult(r.id, villages=len(villages))
    with reads_first():
        total = 0
        for ids in _chunks(village_ids):
            total += db.session.scalar(select(func.count()).select_from(Household)
                                       .where(Household.village_id.in_(ids),
                                              Household.current_version_id.is_not(None))) or 0
    now = utcnow()
    db.session.execute(update(QualityRun).where(QualityRun.id == r.id).values(
        state=RunState.running.value, started_at=now, progress_at=now, households_total=total, households_done=0,
        error=None).execution_options(synchronize_session=False))
    if commit:
        commit()
    done = 0
    pool = _pool(workers)
    ahead = workers if pool is not None else 0  # villages being checked while one is written
    in_flight: deque[tuple[int, list[_Read], Any]] = deque()
    try:
        for village in [*village_ids, None]:
            if village is not None:
                with reads_first():
                    rows = db.session.execute(
                        select(Household.id, Household.unit_path, Household.current_number, HouseholdVersion.data)
                        .join(HouseholdVersion, HouseholdVersion.id == Household.current_version_id)
                        .where(Household.village_id == village)).all()
                job = (today, [(row.id, row.data) for row in rows])
                read = [_Read(row.id, row.unit_path, row.current_number) for row in rows]
                in_flight.append((village, read, pool.submit(_check_rows, job) if pool else _Ready(_check_rows(job))))
                if len(in_flight) <= ahead:
                    continue
            while in_flight and (village is None or len(in_flight) > ahead):
                village_id, read, future = in_flight.popleft()
                _write_village(r.id, village_id, list(zip(read, future.result())), result)
                done += len(read)
                db.session.execute(update(QualityRun).where(QualityRun.id == r.id).values(
                    households_done=done, progress_at=utcnow()).execution_options(synchronize_session=False))
                if commit:
                    commit()
                if on_progress:
                    on_progress(done, total)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    result.households = done
    _across(r.id, village_ids, result)
    result.open = _count_open(village_ids)
    db.session.execute(update(QualityRun).where(QualityRun.id == r.id).values(
        state=RunState.done.value, finished_at=utcnow(), progress_at=utcnow(), findings_open=result.open,
        findings_new=result.opened, findings_resolved=result.resolved).execution_options(synchronize_session=False))
    audit.record("quality.run", actor=actor, object_type="quality_run", object_id=r.id,
                 details={"unit": unit_code, "villages": len(villages), "households": done,
                          "open": result.open, "new": result.opened, "resolved": result.resolved})
    db.session.expire(r)
    if commit:
        commit()
    return result


class _Read(NamedTuple):
    """A household as the run read it: what its write compares against."""
    id: uuid.UUID
    unit_path: str
    current_number: int


class _Ready:
    """A result computed in this process, answering like a future."""

    def __init__(self, value: Any):
        self.value = value

    def result(self) -> Any:
        return self.value


def _pool(workers: int) -> ProcessPoolExecutor | None:
    if workers <= 1:
        return None
    # spawn, not fork: a forked child would hold (and on exit close) this process's database
    # connections. The workers import the form and the checks only; they never open the database.
    return ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"))


def _check_rows(job: tuple[dt.date, list[tuple[uuid.UUID, Any]]]) -> list[HouseholdResult]:
    """The checks of one village's households (in a worker process, or here): no database."""
    today, rows = job
    form = load_form()
    return [check_one(hid, data, today, form) for hid, data in rows]


def _write_village(run_id: int, village_id: int, checked: list[tuple[Any, HouseholdResult]],
                   result: RunResult) -> None:
    """One village's findings and counts, in one short write transaction. A household saved
    since it was read is left as its save left it (the save re-checked it)."""
    conn = db.session.connection()
    lock = select(Household.id, Household.current_number).where(Household.village_id == village_id)
    if conn.dialect.name == "postgresql":
        lock = lock.with_for_update()  # a save of one of them waits for this short transaction
    now_numbers = {hid: n for hid, n in conn.execute(lock)}
    now = utcnow()
    found: dict[str, dict[str, Any]] = {}
    quality_rows: list[dict[str, Any]] = []
    skipped: set[uuid.UUID] = set()
    for row, res in checked:
        if now_numbers.get(row.id) != row.current_number:
            skipped.add(row.id)
            continue
        quality_rows.append(_quality_row(res, village_id, row.unit_path, row.current_number, now, run_id))
        for f in res.findings:
            fr = _finding_row(f, row.id, village_id, row.unit_path, now, run_id)
            found.setdefault(fr["fingerprint"], fr)
    open_rows = conn.execute(select(_F.c.id, _F.c.fingerprint, _F.c.message, _F.c.household_id)
                             .where(_F.c.village_id == village_id, _F.c.resolved_at.is_(None),
                                    _F.c.scope != ACROSS)).all()
    s = _sync([(o.id, o.fingerprint, o.message) for o in open_rows if o.household_id not in skipped],
              found, now, run_id)
    _write_quality(quality_rows)
    result.opened += s.opened
    result.seen += s.seen
    result.resolved += s.resolved
    result.skipped += len(skipped)


def _across(run_id: int, village_ids: list[int], result: RunResult) -> None:
    """The rules across households over the person register: the rows that can take part (an
    ID number held in two households, a spouse named by ID number and the person so named),
    findings kept for the households of the run's villages."""
    if not village_ids:
        return
    P = Person.__table__
    with reads_first():
        shared = (select(P.c.id_number).where(P.c.id_number.is_not(None)).group_by(P.c.id_number)
                  .having(func.count(distinct(P.c.household_id)) > 1))
        named = select(P.c.spouse_id_number).where(P.c.spouse_id_number.is_not(None))
        rows = db.session.execute(
            select(P.c.household_id, P.c.position, P.c.id, P.c.name, P.c.sex, P.c.id_number, P.c.marital_status,
                   P.c.status, P.c.cancelled_on, P.c.spouse_person_id, P.c.spouse_id_number, P.c.village_id,
                   P.c.card_no, P.c.unit_path)
            .where(or_(P.c.id_number.in_(shared), P.c.spouse_id_number.is_not(None), P.c.id_number.in_(named)))).all()
        unit_names = dict(db.session.execute(
            select(AdminUnit.id, AdminUnit.name).where(AdminUnit.id.in_({r.village_id for r in rows}))).all()) \
            if rows else {}
    # Households are named by village and card number in the messages (a clerk knows those).
    name_count: dict[str, int] = defaultdict(int)
    for name in unit_names.values():
        name_count[name] += 1
    label_of: dict[uuid.UUID, str] = {}
    household_of: dict[str, Any] = {}
    for r in rows:
        if r.household_id not in label_of:
            name = unit_names.get(r.village_id, "")
            label = f"{name}{'（' + str(r.village_id) + '）' if name_count[name] > 1 else ''}{r.card_no}号"
            label_of[r.household_id] = label
            household_of[label] = r
    person_rows = [{"household_id": label_of[r.household_id], "position": r.position, "person_id": r.id,
                    "name": r.name, "sex": r.sex, "id_number": r.id_number, "marital_status": r.marital_status,
                    "status": r.status, "cancelled_on": r.cancelled_on, "spouse_person_id": r.spouse_person_id,
                    "spouse_id_number": r.spouse_id_number} for r in rows]
    by_number: dict[str, set[str]] = defaultdict(set)
    for p in person_rows:
        if p["id_number"]:
            by_number[p["id_number"]].add(p["household_id"])
    position_row = {(p["household_id"], p["position"]): p for p in person_rows}
    ours = set(village_ids)
    now = utcnow()
    found: dict[str, dict[str, Any]] = {}
    for f in quality.check_across(person_rows):
        home = household_of.get(f.household or "")
        if home is None or home.village_id not in ours:
            continue
        me = position_row.get((f.household, f.member), {})
        if f.rule == "across.spouse_not_mutual":
            others = sorted(by_number.get(me.get("spouse_id_number") or "", set()) - {f.household})
        else:
            others = sorted(by_number.get(me.get("id_number") or "", set()) - {f.household})
        other_ids = [str(household_of[o].household_id) for o in others if o in household_of]
        fr = _finding_row(f, home.household_id, home.village_id, home.unit_path, now, run_id,
                          other=",".join(sorted(other_ids))[:120],
                          details={"other_households": other_ids, "other_labels": others})
        found.setdefault(fr["fingerprint"], fr)
    conn = db.session.connection()
    stored: list[Any] = []
    for ids in _chunks(village_ids):
        stored += conn.execute(select(_F.c.id, _F.c.fingerprint, _F.c.message)
                               .where(_F.c.village_id.in_(ids), _F.c.resolved_at.is_(None),
                                      _F.c.scope == ACROSS)).all()
    s = _sync([(o.id, o.fingerprint, o.message) for o in stored], found, now, run_id)
    result.opened += s.opened
    result.seen += s.seen
    result.resolved += s.resolved


def _count_open(village_ids: list[int]) -> int:
    n = 0
    for ids in _chunks(village_ids):
        n += db.session.scalar(select(func.count()).select_from(_F)
                               .where(_F.c.village_id.in_(ids), _F.c.resolved_at.is_(None))) or 0
    return n


def fail(run_id: int, reason: str) -> None:
    db.session.execute(update(QualityRun).where(QualityRun.id == run_id).values(
        state=RunState.failed.value, error=reason[:2000], finished_at=utcnow(), progress_at=utcnow())
        .execution_options(synchronize_session=False))


def runs_for(actor: User, limit: int = 20) -> list[QualityRun]:
    """The latest runs in the actor's area (their unit's path within it, or their own)."""
    paths = scope.scope_paths(actor, "unit.view")
    cond = or_(QualityRun.asked_by_id == actor.id,
               and_(QualityRun.unit_path != "", in_any_subtree(QualityRun.unit_path, paths)))
    return list(db.session.scalars(select(QualityRun).where(cond).order_by(QualityRun.id.desc()).limit(limit)))


def get_run(actor: User, run_id: int) -> QualityRun:
    r = db.session.get(QualityRun, run_id)
    if r is None or not (r.asked_by_id == actor.id or (r.unit_path and scope.can_at(actor, "unit.view", r.unit_path))):
        raise NotFound(_("No such run of the checks."))
    return r


# ------------------------------------------------------------------ work lists


@dataclass
class ListFilters:
    rule: str | None = None
    collector_id: int | None = None
    group_id: int | None = None
    level: str | None = None


def open_findings(actor: User, village_id: int, filters: ListFilters | None = None, *,
                  limit: int | None = None) -> list[tuple[QualityFinding, Household, str | None]]:
    """The open findings of a village, with their households and the person's name (None for a
    household's finding), ordered by card number and path."""
    village = scope.require_unit(actor, village_id, "unit.view")
    filters = filters or ListFilters()
    q = (select(QualityFinding, Household, Person.name).join(Household, Household.id == QualityFinding.household_id)
         .outerjoin(Person, Person.id == QualityFinding.person_id)
         .where(QualityFinding.village_id == village.id, QualityFinding.resolved_at.is_(None),
                scope.scope_filter(actor, QualityFinding.unit_path, "household.view")))
    if filters.rule:
        q = q.where(QualityFinding.rule == filters.rule)
    if filters.level:
        q = q.where(QualityFinding.level == filters.level)
    if filters.collector_id:
        q = q.where(or_(Household.assigned_to_id == filters.collector_id,
                        and_(Household.assigned_to_id.is_(None), Household.created_by_id == filters.collector_id)))
    if filters.group_id:
        q = q.where(Household.group_id == filters.group_id)
    q = q.order_by(Household.card_no, QualityFinding.member_index, QualityFinding.path, QualityFinding.rule)
    if limit:
        q = q.limit(limit)
    return [(f, h, name) for f, h, name in db.session.execute(q).all()]


def collector_findings(collector: User, limit: int = 200) -> list[tuple[QualityFinding, Household, str | None]]:
    """The open findings of the collector's own households (assigned to them, or made by them
    and assigned to no one), for their phone."""
    mine = or_(Household.assigned_to_id == collector.id,
               and_(Household.assigned_to_id.is_(None), Household.created_by_id == collector.id))
    q = (select(QualityFinding, Household, Person.name).join(Household, Household.id == QualityFinding.household_id)
         .outerjoin(Person, Person.id == QualityFinding.person_id)
         .where(QualityFinding.resolved_at.is_(None), mine,
                scope.scope_filter(collector, QualityFinding.unit_path, "household.view"))
         .order_by(QualityFinding.level, Household.card_no, QualityFinding.member_index, QualityFinding.path)
         .limit(limit))
    return [(f, h, name) for f, h, name in db.session.execute(q).all()]


def household_findings(actor: User, household: Household) -> list[QualityFinding]:
    """Open findings of one household the actor sees already (the household page)."""
    return list(db.session.scalars(select(QualityFinding).where(
        QualityFinding.household_id == household.id, QualityFinding.resolved_at.is_(None))
        .order_by(QualityFinding.member_index, QualityFinding.path)))


# ------------------------------------------------------------------ explanations


def get_finding(actor: User, finding_id: int, permission: str = "household.view") -> QualityFinding:
    """The finding if the actor sees its household (NotFound otherwise) and holds `permission`
    there (Forbidden otherwise)."""
    f = db.session.get(QualityFinding, finding_id)
    if f is None or not scope.can_at(actor, "household.view", f.unit_path):
        raise NotFound(_("No such finding."))
    if not scope.can_at(actor, permission, f.unit_path):
        raise Forbidden(_("You may not do this with this finding."))
    return f


def explain(actor: User, finding_id: int, text: str) -> QualityFinding:
    """The collector's or village leader's explanation (说明) of an open finding; it waits for
    the township. Writing again replaces a proposed or refused one (not an accepted one)."""
    f = get_finding(actor, finding_id, "quality.explain")
    text = (text or "").strip()
    if not text:
        raise Invalid(_("Write the explanation."), field="explanation")
    if len(text) > MAX_EXPLANATION:
        raise Invalid(_("The explanation is too long (at most %(n)d characters).", n=MAX_EXPLANATION),
                      field="explanation")
    if f.resolved_at is not None:
        raise Conflict(_("This finding is resolved already: nothing to explain."))
    if f.explanation_state == ExplanationState.accepted.value:
        raise Conflict(_("The township has accepted the explanation of this finding already."))
    f.explanation, f.explanation_state = text, ExplanationState.proposed.value
    f.explained_by_id, f.explained_at = actor.id, utcnow()
    f.explanation_decided_by_id = f.explanation_decided_at = f.explanation_reason = None
    db.session.flush()
    audit.record("quality.explain", actor=actor, object_type="quality_finding", object_id=f.id,
                 details={"rule": f.rule, "household_id": str(f.household_id), "explanation": text})
    return f


def decide(actor: User, finding_id: int, *, accept: bool, reason: str | None = None) -> QualityFinding:
    """The township verifier accepts or refuses (with a reason) a proposed explanation."""
    f = get_finding(actor, finding_id, "quality.decide")
    if f.explanation_state != ExplanationState.proposed.value:
        raise Conflict(_("There is no explanation waiting for a decision."))
    if f.explained_by_id == actor.id:
        raise Forbidden(_("One person does not write and accept the same explanation."))
    reason = (reason or "").strip()
    if not accept and not reason:
        raise Invalid(_("Say why the explanation is refused."), field="reason")
    if len(reason) > MAX_EXPLANATION:
        raise Invalid(_("The reason is too long (at most %(n)d characters).", n=MAX_EXPLANATION), field="reason")
    f.explanation_state = (ExplanationState.accepted if accept else ExplanationState.refused).value
    f.explanation_decided_by_id, f.explanation_decided_at = actor.id, utcnow()
    f.explanation_reason = reason or None
    db.session.flush()
    audit.record("quality.explanation_" + ("accepted" if accept else "refused"), actor=actor,
                 object_type="quality_finding", object_id=f.id,
                 details={"rule": f.rule, "household_id": str(f.household_id), "reason": reason or None})
    return f


def waiting_explanations(actor: User, limit: int = 200) -> list[tuple[QualityFinding, Household]]:
    """Proposed explanations in the verifier's area, oldest first."""
    q = (select(QualityFinding, Household).join(Household, Household.id == QualityFinding.household_id)
         .where(QualityFinding.explanation_state == ExplanationState.proposed.value,
                QualityFinding.resolved_at.is_(None),
                scope.scope_filter(actor, QualityFinding.unit_path, "quality.decide"))
         .order_by(QualityFinding.explained_at).limit(limit))
    return [(f, h) for f, h in db.session.execute(q).all()]


def error_count(village_id: int) -> int:
    """Open errors of a village that count (an accepted explanation takes one out)."""
    return db.session.scalar(select(func.count()).select_from(_F).where(
        _F.c.village_id == village_id, _F.c.resolved_at.is_(None), _F.c.level == "error",
        or_(_F.c.explanation_state.is_(None), _F.c.explanation_state != ExplanationState.accepted.value))) or 0


# ------------------------------------------------------------------ for the pages


def villages_overview(actor: User) -> list[tuple[AdminUnit, int, int, int]]:
    """(village, open errors that count, open warnings, explanations waiting) of the villages
    the actor sees, by path."""
    villages = list(db.session.scalars(scope.units_for(actor).where(AdminUnit.level == UnitLevel.village.value)
                                       .order_by(AdminUnit.path)))
    if not villages:
        return []
    counts: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    counted = or_(_F.c.explanation_state.is_(None), _F.c.explanation_state != ExplanationState.accepted.value)
    for ids in _chunks([v.id for v in villages]):
        q = (select(_F.c.village_id, _F.c.level, _F.c.explanation_state, func.count())
             .where(_F.c.village_id.in_(ids), _F.c.resolved_at.is_(None), counted)
             .group_by(_F.c.village_id, _F.c.level, _F.c.explanation_state))
        for village_id, level, state, n in db.session.execute(q):
            c = counts[village_id]
            c[0 if level == "error" else 1] += n
            if state == ExplanationState.proposed.value:
                c[2] += n
    return [(v, *counts[v.id]) for v in villages]


def runnable_units(actor: User) -> list[AdminUnit]:
    """The counties and townships (and villages) where the actor may start a run."""
    q = scope.units_for(actor, "quality.run").where(AdminUnit.level.in_(
        [UnitLevel.county.value, UnitLevel.township.value, UnitLevel.village.value]))
    return list(db.session.scalars(q.order_by(AdminUnit.path).limit(500)))


def rules_found(village_id: int) -> list[str]:
    """The rules with open findings in a village (the work list's filter)."""
    return list(db.session.scalars(select(_F.c.rule).where(
        _F.c.village_id == village_id, _F.c.resolved_at.is_(None)).distinct().order_by(_F.c.rule)))


def groups_of(village: AdminUnit) -> list[AdminUnit]:
    return list(db.session.scalars(select(AdminUnit).where(AdminUnit.parent_id == village.id,
                                                           AdminUnit.level == UnitLevel.group.value)
                                   .order_by(AdminUnit.code)))


def beyond_save(household: Household, issues: list[dict[str, Any]]) -> list[QualityFinding]:
    """The household's open findings that its page's list of the save's issues does not show
    already (the check list, the married women's relations, the rules across households)."""
    shown = {(i.get("rule"), i.get("path")) for i in issues}
    return [f for f in db.session.scalars(select(QualityFinding).where(
        QualityFinding.household_id == household.id, QualityFinding.resolved_at.is_(None))
        .order_by(QualityFinding.member_index, QualityFinding.path)) if (f.rule, f.path) not in shown]
