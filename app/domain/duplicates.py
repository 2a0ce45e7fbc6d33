"""Duplicate persons in the registry (重复人口, issue 17): a run of the pure matcher
(matching.find_duplicates) over the person register, its candidates stored as
DuplicateCandidate rows, and the reviewer's decisions on them.

A run (`run_duplicates`, `flask quality duplicates`, or the registry-wide quality run):
1. reads the person register of the actor's area (or one unit of it) in a read-only
   transaction (reads_first), row by row as plain tuples, never as ORM objects (400k
   persons), with the pairs remembered as "not the same";
2. matches them outside any transaction (pure Python);
3. stores what it found: a new pair is inserted (a concurrent run inserting it too is
   ignored by the unique pair), a pair seen again gets its new score, reasons and run, a
   pair no longer found while open is marked gone (only when both of its records lie in the
   area read: a pair across the area's edge was not looked at), and a decided pair is never
   touched. Every write is conditional on the state read, so a decision taken while the run
   matched stays as it was taken.

Decisions (`decide_not_same`, `decide_same`) are taken by the township's verifiers and clerks
of the area (permission duplicate.decide); leaders and county staff see the candidates
(duplicate.view). "The same person" cancels the record not kept (status duplicate, reason
重复) by a new version of its household, the same save a collector's edit is: checked, a new
draft that goes up the approval chain again. A decision is one conditional UPDATE of the
candidate while it is open, so a double tap or two reviewers at once decide it once and cancel
one record once; the second is told who decided and when.

The domain flushes and never commits: the CLI, the job or the view commits.
"""
from __future__ import annotations

import copy
import datetime as dt
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import String, and_, bindparam, func, or_, select, type_coerce, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.domain import audit, registration, scope
from app.domain.errors import Conflict, Forbidden, Invalid, NotFound
from app.domain.tree import in_subtree
from app.extensions import db, reads_first
from app.models import (AdminUnit, DuplicateCandidate, DuplicateState, Household, Person, QualityRun, RunState,
                        User, utcnow)
from matching import ACTIVE, CANCELLED, Candidate, PersonRecord, find_duplicates, pair_key, rule_title

VIEW = "duplicate.view"
DECIDE = "duplicate.decide"
CANCEL_STATUS = "duplicate"     # person_status code 重复
CANCEL_REASON = "重复"
MAX_NOTE = 500
READ_BATCH = 5000

_OPEN, _GONE = DuplicateState.open.value, DuplicateState.gone.value
_SAME, _NOT_SAME = DuplicateState.same.value, DuplicateState.not_same.value

# What the matcher reads of a person: plain columns, read as tuples. The ids and the birth
# date are read as the database gives them (type_coerce to String skips the conversion to
# UUID and date objects: SQLite's hex text and ISO date text, PostgreSQL's driver values):
# at 400k persons those conversions cost more than the matcher. Keys of one run are all of
# one kind; the candidates' keys are made UUIDs again (`_as_uuid`).
_RAW = String()
_RECORD_COLUMNS = (type_coerce(Person.id, _RAW), type_coerce(Person.household_id, _RAW), Person.name,
                   Person.name_norm, Person.name_pinyin, Person.sex, type_coerce(Person.birth_date, _RAW),
                   Person.id_number, Person.village_id)


@dataclass
class DuplicatesResult:
    run_id: int
    records: int = 0       # active persons compared
    found: int = 0         # candidates the matcher proposed (not_same pairs left out)
    new: int = 0
    seen_again: int = 0
    gone: int = 0
    open: int = 0          # open candidates of the area after the run
    kept_decided: int = 0  # found again but already decided "same": left as they are
    capped_blocks: list[dict[str, Any]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


# ------------------------------------------------------------------ the run


def _area(actor: User, unit: AdminUnit | None, column):
    condition = scope.scope_filter(actor, column, "household.view")
    return condition if unit is None else and_(condition, in_subtree(column, unit.path))


def record_of(person: Person) -> PersonRecord:
    """A register row (an ORM Person) as the matcher's record."""
    return PersonRecord(
        key=person.id, household_key=person.household_id, name=person.name or "", name_norm=person.name_norm or "",
        pinyin=person.name_pinyin or "", sex=person.sex or "",
        birth_date=person.birth_date.isoformat() if person.birth_date else "", id_number=person.id_number or "",
        status=ACTIVE if person.status == ACTIVE else CANCELLED, unit=str(person.village_id))


def _iso(value: Any) -> str:
    if not value:
        return ""
    return value if isinstance(value, str) else value.isoformat()


def _as_uuid(key: Any) -> uuid.UUID:
    return key if isinstance(key, uuid.UUID) else uuid.UUID(str(key))


def read_records(actor: User, unit: AdminUnit | None = None) -> Iterator[PersonRecord]:
    """The active persons of the area's current versions, streamed (yield_per) as matcher
    records keyed by the raw person id (see _RECORD_COLUMNS). Cancelled persons are left out
    here already: the matcher would drop them anyway."""
    query = (select(*_RECORD_COLUMNS).where(_area(actor, unit, Person.unit_path), Person.status == ACTIVE)
             .execution_options(yield_per=READ_BATCH))
    record = PersonRecord
    for pid, hid, name, norm, pinyin, sex, birth, number, village in db.session.execute(query):
        yield record(pid, hid, name or "", norm or "", pinyin or "", sex or "", _iso(birth), number or "",
                     ACTIVE, str(village))


def _not_same_pairs() -> set[frozenset]:
    """The pairs decided "not the same", keyed as read_records keys the persons (raw ids)."""
    rows = db.session.execute(select(type_coerce(DuplicateCandidate.left_person_id, _RAW),
                                     type_coerce(DuplicateCandidate.right_person_id, _RAW))
                              .where(DuplicateCandidate.state == _NOT_SAME))
    return {pair_key(a, b) for a, b in rows}


def ordered(a: uuid.UUID, b: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    """The pair as the table keeps it: left < right as text (one row a pair)."""
    return (a, b) if str(a) < str(b) else (b, a)


def reasons_of(c: Candidate) -> list[dict[str, Any]]:
    return [{"rule": r.rule, "score": r.score, "message": dict(r.message)} for r in c.reasons]


def run_duplicates(actor: User, *, unit_id: int | None = None, run: QualityRun | None = None,
                   block_cap: int | None = None, min_score: float | None = None) -> DuplicatesResult:
    """Find the duplicate candidates of the actor's area (or of the unit `unit_id` in it) and
    store them. `run`: the quality run this is part of (the registry-wide run); without one a
    QualityRun is made for it and marked done. Flushes; the caller commits."""
    clock = time.perf_counter()
    seconds: dict[str, float] = {}
    with reads_first():  # SQLite: the reads do not hold the one write lock
        unit = scope.require_unit(actor, unit_id) if unit_id is not None else None
        records = list(read_records(actor, unit))
        not_same = _not_same_pairs()
        existing = {(r.left_person_id, r.right_person_id): (r.id, r.state) for r in db.session.execute(
            select(DuplicateCandidate.id, DuplicateCandidate.left_person_id, DuplicateCandidate.right_person_id,
                   DuplicateCandidate.state)
            .where(or_(_area(actor, unit, DuplicateCandidate.unit_path),
                       _area(actor, unit, DuplicateCandidate.other_unit_path))))}
    seconds["read"] = time.perf_counter() - clock
    clock = time.perf_counter()
    options: dict[str, Any] = {}
    if block_cap is not None:
        options["block_cap"] = block_cap
    if min_score is not None:
        options["min_score"] = min_score
    report = find_duplicates(records, not_same=not_same, **options)
    seconds["match"] = time.perf_counter() - clock
    clock = time.perf_counter()
    del records

    own_run = run is None
    if run is None:
        run = QualityRun(unit_id=unit.id if unit else None, unit_path=unit.path if unit else "",
                         state=RunState.running.value, asked_by_id=actor.id, started_at=utcnow())
        db.session.add(run)
    db.session.flush()
    result = DuplicatesResult(run_id=run.id, records=report.records, found=len(report.candidates),
                              capped_blocks=[{"rule": b.rule, "key": b.key, "size": b.size}
                                             for b in report.capped_blocks])
    places = _places({_as_uuid(p) for c in report.candidates for p in (c.left, c.right)})
    now = utcnow()
    seen: set[int] = set()
    inserts: list[dict[str, Any]] = []
    again: list[dict[str, Any]] = []
    for c in report.candidates:
        left, right = ordered(_as_uuid(c.left), _as_uuid(c.right))
        lp, rp = places[left], places[right]
        # Where each side is now (a household may have moved since the pair was first found).
        where = {"left_household_id": lp[0], "right_household_id": rp[0], "village_id": lp[1], "unit_path": lp[2],
                 "other_unit_path": rp[2]}
        known = existing.get((left, right))
        if known is not None:
            seen.add(known[0])
            if known[1] in (_OPEN, _GONE):
                again.append({"_id": known[0], "_score": c.score, "_reasons": reasons_of(c),
                              **{f"_{k}": v for k, v in where.items()}})
            else:
                result.kept_decided += 1
            continue
        inserts.append({"left_person_id": left, "right_person_id": right, **where, "score": c.score,
                        "reasons": reasons_of(c), "state": _OPEN, "found_run_id": run.id, "found_at": now,
                        "last_run_id": run.id})
    table = DuplicateCandidate.__table__
    if again:
        # One statement for all pairs seen again, conditional on their state: a decision taken
        # while the run matched is kept. Counted by the run's mark on the rows it changed (an
        # executemany's rowcount is not told on PostgreSQL).
        statement = (update(table).where(table.c.id == bindparam("_id"),
                                          or_(table.c.state == _OPEN, table.c.state == _GONE))
                     .values(score=bindparam("_score"), reasons=bindparam("_reasons"), last_run_id=run.id,
                             state=_OPEN, **{k: bindparam(f"_{k}") for k in _PLACE_COLUMNS}))
        ids = [row["_id"] for row in again]
        for start in range(0, len(again), 1000):
            db.session.connection().execute(statement, again[start:start + 1000])
            result.seen_again += db.session.scalar(
                select(func.count()).select_from(table)
                .where(table.c.id.in_(ids[start:start + 1000]), table.c.last_run_id == run.id)) or 0
    if inserts:
        dialect_insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
        statement = dialect_insert(table).on_conflict_do_nothing(
            index_elements=[table.c.left_person_id, table.c.right_person_id]).returning(table.c.id)
        for start in range(0, len(inserts), 1000):
            # The ids inserted (a pair a concurrent run inserted first is not among them): an
            # executemany's rowcount is not told on PostgreSQL.
            result.new += len(db.session.connection().execute(statement, inserts[start:start + 1000]).all())
    # Open pairs not found again, both of whose records were read: gone.
    vanished = [cid for key, (cid, state) in existing.items() if state == _OPEN and cid not in seen]
    if vanished:
        inside = and_(_area(actor, unit, DuplicateCandidate.unit_path),
                      _area(actor, unit, DuplicateCandidate.other_unit_path))
        for start in range(0, len(vanished), 1000):
            result.gone += db.session.execute(
                update(DuplicateCandidate)
                .where(DuplicateCandidate.id.in_(vanished[start:start + 1000]),
                       DuplicateCandidate.state == _OPEN, inside)
                .values(state=_GONE, last_run_id=run.id)
                .execution_options(synchronize_session=False)).rowcount
    result.open = db.session.scalar(
        select(func.count()).select_from(DuplicateCandidate)
        .where(DuplicateCandidate.state == _OPEN, or_(_area(actor, unit, DuplicateCandidate.unit_path),
                                                       _area(actor, unit, DuplicateCandidate.other_unit_path)))) or 0
    run.duplicates_found = result.open
    if own_run:
        run.state = RunState.done.value
        run.finished_at = utcnow()
    seconds["store"] = time.perf_counter() - clock
    result.seconds = seconds
    audit.record("quality.duplicates", actor=actor, object_type="quality_run", object_id=run.id, details={
        "unit": unit.code if unit else None, "records": result.records, "found": result.found, "new": result.new,
        "seen_again": result.seen_again, "gone": result.gone, "open": result.open,
        "capped_blocks": len(result.capped_blocks)})
    return result


_PLACE_COLUMNS = ("left_household_id", "right_household_id", "village_id", "unit_path", "other_unit_path")


def _places(person_ids: set[uuid.UUID]) -> dict[uuid.UUID, tuple[uuid.UUID, int, str]]:
    """(household, village, unit path) of the candidates' persons, read by id in chunks."""
    out: dict[uuid.UUID, tuple[uuid.UUID, int, str]] = {}
    ids = list(person_ids)
    for start in range(0, len(ids), 500):
        for row in db.session.execute(select(Person.id, Person.household_id, Person.village_id, Person.unit_path)
                                      .where(Person.id.in_(ids[start:start + 500]))):
            out[row.id] = (row.household_id, row.village_id, row.unit_path)
    return out


# ------------------------------------------------------------------ reading candidates


def visible(actor: User):
    """SQL: candidates one of whose records lies in the actor's area for duplicate.view."""
    return or_(scope.scope_filter(actor, DuplicateCandidate.unit_path, VIEW),
               scope.scope_filter(actor, DuplicateCandidate.other_unit_path, VIEW))


def may_view(actor: User) -> bool:
    return bool(scope.scope_paths(actor, VIEW))


def may_decide(actor: User, candidate: DuplicateCandidate) -> bool:
    return scope.can_at(actor, DECIDE, candidate.unit_path) or scope.can_at(actor, DECIDE, candidate.other_unit_path)


@dataclass
class CandidateRow:
    candidate: DuplicateCandidate
    left_name: str
    right_name: str
    left_village: str
    right_village: str
    reasons: list[dict[str, Any]] = field(default_factory=list)


def shown_reasons(candidate: DuplicateCandidate, both_visible: bool) -> list[dict[str, Any]]:
    """The reasons as a reader may see them: the stored words name both records (names, the
    differing characters), so a reader who may not view one of them gets each rule's generic
    words (matching.rule_title) with its score, and the full words only when both are in view."""
    out = []
    for reason in candidate.reasons or []:
        rule = str(reason.get("rule", ""))
        message = reason.get("message") if both_visible else None
        out.append({"rule": rule, "score": float(reason.get("score") or 0.0),
                    "message": dict(message) if isinstance(message, dict) else dict(rule_title(rule))})
    return out


def open_candidates(actor: User, *, page: int = 1, per_page: int = 50,
                    state: str = _OPEN) -> tuple[list[CandidateRow], int]:
    """The candidates of the actor's area in `state`, best score first, with both names and
    villages (one query), and how many there are."""
    if state not in {s.value for s in DuplicateState}:
        raise Invalid(_("Unknown state."), field="state")
    where = and_(DuplicateCandidate.state == state, visible(actor))
    total = db.session.scalar(select(func.count()).select_from(DuplicateCandidate).where(where)) or 0
    left, right = Person.__table__.alias("l"), Person.__table__.alias("r")
    lv, rv = AdminUnit.__table__.alias("lv"), AdminUnit.__table__.alias("rv")
    rows = db.session.execute(
        select(DuplicateCandidate, left.c.name, right.c.name, lv.c.name, rv.c.name)
        .outerjoin(left, left.c.id == DuplicateCandidate.left_person_id)
        .outerjoin(right, right.c.id == DuplicateCandidate.right_person_id)
        .outerjoin(lv, lv.c.id == left.c.village_id).outerjoin(rv, rv.c.id == right.c.village_id)
        .where(where).order_by(DuplicateCandidate.score.desc(), DuplicateCandidate.id)
        .offset((max(page, 1) - 1) * per_page).limit(per_page)).all()
    out = []
    for c, ln, rn, lvn, rvn in rows:
        # A record outside the actor's area is not named (scope: its existence is all they learn).
        lsee = scope.can_at(actor, "household.view", c.unit_path)
        rsee = scope.can_at(actor, "household.view", c.other_unit_path)
        out.append(CandidateRow(c, ln if lsee else "", rn if rsee else "", lvn if lsee else "",
                                rvn if rsee else "", shown_reasons(c, lsee and rsee)))
    return out, total


@dataclass
class Side:
    """One record of a candidate and its household, as the review page shows them."""
    person_id: uuid.UUID
    visible: bool
    person: Person | None = None
    household: Household | None = None
    members: list[Person] = field(default_factory=list)
    can_cancel: bool = False


@dataclass
class Review:
    candidate: DuplicateCandidate
    left: Side
    right: Side
    evidence: list[dict[str, str]]
    may_decide: bool
    reasons: list[dict[str, Any]] = field(default_factory=list)  # shown_reasons: what this reader may see


def get_candidate(actor: User, candidate_id: int) -> DuplicateCandidate:
    candidate = db.session.get(DuplicateCandidate, candidate_id)
    if candidate is None or not (scope.can_at(actor, VIEW, candidate.unit_path)
                                 or scope.can_at(actor, VIEW, candidate.other_unit_path)):
        raise NotFound(_("No such duplicate candidate."))
    return candidate


def review(actor: User, candidate_id: int) -> Review:
    """The two records side by side, their households, and the evidence as the matcher reads
    them now (the stored reasons are those of the last run). Reasons and evidence name the
    records: in full only when the actor may view both, else the rules' generic words and no
    evidence."""
    candidate = get_candidate(actor, candidate_id)
    sides = []
    for pid, path in ((candidate.left_person_id, candidate.unit_path),
                      (candidate.right_person_id, candidate.other_unit_path)):
        person = db.session.get(Person, pid)
        if person is None or not scope.can_at(actor, "household.view", person.unit_path):
            sides.append(Side(pid, False))
            continue
        household = person.household
        sides.append(Side(pid, True, person, household, list(household.persons),
                          can_cancel=candidate.state == _OPEN and person.status == ACTIVE
                          and scope.can_at(actor, DECIDE, household.unit_path)))
    evidence: list[dict[str, str]] = []
    both = sides[0].visible and sides[1].visible
    if both and sides[0].person is not None and sides[1].person is not None:
        rows = [record_of(s.person) for s in sides]
        report = find_duplicates(rows, include_cancelled=True, min_score=0.0)
        if report.candidates:
            evidence = [dict(e) for e in report.candidates[0].evidence]
    return Review(candidate, sides[0], sides[1], evidence,
                  may_decide=candidate.state == _OPEN and may_decide(actor, candidate),
                  reasons=shown_reasons(candidate, both))


# ------------------------------------------------------------------ decisions


def _note(note: str | None) -> str | None:
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise Invalid(_("The note is longer than %(n)d characters.", n=MAX_NOTE), field="note")
    return note or None


def _claim(actor: User, candidate: DuplicateCandidate, state: str, **values: Any) -> None:
    """Decide the candidate if it is still open: one conditional UPDATE, so that of two
    decisions (a double tap, two reviewers) only the first takes effect."""
    now = utcnow()
    done = db.session.execute(
        update(DuplicateCandidate)
        .where(DuplicateCandidate.id == candidate.id, DuplicateCandidate.state == _OPEN)
        .values(state=state, decided_by_id=actor.id, decided_at=now, **values)
        .execution_options(synchronize_session=False))
    if done.rowcount != 1:
        db.session.refresh(candidate)
        raise already_decided(candidate)
    db.session.refresh(candidate)


def already_decided(candidate: DuplicateCandidate) -> Conflict:
    if candidate.state == _GONE:
        return Conflict(_("This candidate is no longer found: one of the records changed. Nothing was changed."))
    if candidate.state == _OPEN:
        return Conflict(_("This candidate was changed meanwhile. Open it again."))
    who = candidate.decided_by.name if candidate.decided_by else "?"
    at = candidate.decided_at.astimezone(registration.local_zone()).strftime("%Y-%m-%d %H:%M") \
        if candidate.decided_at else ""
    if candidate.state == _SAME:
        return Conflict(_("Already decided as the same person by %(name)s at %(at)s; nothing was changed.",
                          name=who, at=at))
    return Conflict(_("Already decided as not the same person by %(name)s at %(at)s; nothing was changed.",
                      name=who, at=at))


def _require_decider(actor: User, candidate: DuplicateCandidate) -> None:
    if not may_decide(actor, candidate):
        raise Forbidden(_("Duplicate candidates are decided by the township's verifiers and clerks of the area."))


def decide_not_same(actor: User, candidate_id: int, *, note: str | None = None) -> DuplicateCandidate:
    """"Not the same person": remembered, never proposed again. Audited with the note."""
    candidate = get_candidate(actor, candidate_id)
    _require_decider(actor, candidate)
    if candidate.state != _OPEN:
        raise already_decided(candidate)
    text = _note(note)
    _claim(actor, candidate, _NOT_SAME, note=text)
    audit.record("duplicate.not_same", actor=actor, object_type="duplicate_candidate", object_id=candidate.id,
                 details={"left_person_id": str(candidate.left_person_id),
                          "right_person_id": str(candidate.right_person_id), "score": candidate.score,
                          "note": text})
    return candidate


def decide_same(actor: User, candidate_id: int, *, keep_person_id: uuid.UUID, base_number: int,
                note: str | None = None, today: dt.date | None = None) -> registration.SaveResult:
    """"The same person": the record not kept is cancelled (status 重复) by a new version of
    its household, made as any edit is (checked, a new draft that goes up the chain again).
    `base_number`: the version of that household the reviewer saw; a newer one is a Conflict.
    The candidate is claimed first, so a second decision cancels nothing."""
    candidate = get_candidate(actor, candidate_id)
    if candidate.state != _OPEN:
        raise already_decided(candidate)  # a double tap: answered before anything else is read
    pair = (candidate.left_person_id, candidate.right_person_id)
    if keep_person_id not in pair:
        raise Invalid(_("Choose which of the two records to keep."), field="keep")
    cancel_id = pair[1] if keep_person_id == pair[0] else pair[0]
    person = db.session.get(Person, cancel_id)
    if person is None or not scope.can_at(actor, "household.view", person.unit_path):
        raise NotFound(_("No such person."))
    if not scope.can_at(actor, DECIDE, person.unit_path):
        raise Forbidden(_("Only a verifier or clerk of %(village)s cancels this record.",
                          village=person.household.village.name))
    text = _note(note)
    household = person.household
    current = household.current_version
    data = copy.deepcopy(current.data) if current else {"household": {}, "members": []}
    member = next((m for m in data.get("members", []) if str(m.get("person_id")) == str(cancel_id)), None)
    if member is None or (member.get("status") or ACTIVE) != ACTIVE:
        raise Invalid(_("%(name)s is cancelled from this household already.", name=person.name or "?"),
                      field="keep")
    on = today or registration.today()
    _claim(actor, candidate, _SAME, note=text, kept_person_id=keep_person_id, cancel_household_id=household.id)
    member.update(status=CANCEL_STATUS, cancellation_reason=CANCEL_REASON, cancelled_on=on.isoformat())
    saved = registration.save_household(actor, household.id, data=data, base_number=base_number, today=on,
                                        permission=DECIDE)
    candidate.cancel_version_number = saved.version.number
    db.session.flush()
    audit.record("duplicate.same", actor=actor, object_type="duplicate_candidate", object_id=candidate.id, details={
        "kept_person_id": str(keep_person_id), "cancelled_person_id": str(cancel_id),
        "household_id": str(household.id), "card_no": household.card_no, "version": saved.version.number,
        "score": candidate.score, "note": text})
    return saved
