"""The phone app's sync (issue 6): what a collector's phone downloads, and its submissions.

Downloads (`assignments`): the households of the user's units that changed since a cursor.
The cursor is the id of the last audit entry seen. Every save and every workflow step writes
an audit entry in its own transaction, and entries are appended under one lock held to
commit (app.domain.audit), so their ids become visible in order: a change committed after a
download always has a higher id than that download's cursor, however late its transaction
began. (A timestamp or a version id would miss a transaction that began before another and
committed after it.)

Submissions (`submit_from_phone`): one transaction saves the version and submits it with the
collector's signature. The first answer is kept as a receipt keyed by the phone's
submission_id; the receipt row is written first, so a concurrent twin waits on it and then
reads the same answer. An edit made on an older version than the server's is kept as a
HouseholdConflict for the village leader (`resolve`): never dropped, never applied silently.
"""
from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from app.domain import audit, registration, scope, signatures, workflow
from app.domain.errors import Conflict, Forbidden, Invalid, NotFound
from app.extensions import db
from app.models import (CONFLICT_TRANSITIONS, AdminUnit, AuditEntry, ConflictResolution, ConflictState, Household,
                        HouseholdConflict, HouseholdState, HouseholdVersion, SyncReceipt, User,
                        WorkflowAction, WorkflowEvent, utcnow)
from collection_forms import load_code_lists, load_form

CURSOR_PREFIX = "a"
_CURSOR_DIGITS = re.compile(r"[0-9]{1,19}")


# ------------------------------------------------------------------ refusals with their own codes


class InvalidSubmission(Invalid):
    """The form has errors (field checks, household rules): nothing was stored."""

    def __init__(self, message: str, issues: list[dict[str, Any]]):
        super().__init__(message)
        self.issues = issues


class SubmissionReused(Conflict):
    """The submission_id was used before for another body."""


class HouseholdElsewhere(Conflict):
    """The household exists, but not in the unit the submission names."""


class BaseAhead(Conflict):
    """base_version is newer than the server's current version."""


class BadCursor(Invalid):
    pass


# ------------------------------------------------------------------ downloads


@dataclass
class Assignments:
    cursor: str
    units: list[AdminUnit]
    households: list[Household]
    return_reasons: dict[uuid.UUID, WorkflowEvent]  # the latest return of each returned household
    removed: list[uuid.UUID]


def form_version() -> str:
    return str(load_form().version)


@lru_cache(maxsize=1)
def code_tables_version() -> str:
    """A hash of every code list's content: it changes when any code or label changes."""
    lists = load_code_lists()
    canonical = [[name, [[i.code, i.zh, i.en, i.parent] for i in lists[name].codes.values()]]
                 for name in sorted(lists)]
    return hashlib.sha256(json.dumps(canonical, ensure_ascii=False).encode()).hexdigest()[:16]


def parse_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    # ASCII digits only (str.isdigit() also takes "²", which int() refuses), and a number an
    # audit entry id can be (BIGINT; SQLite refuses a larger one with OverflowError).
    digits = cursor[len(CURSOR_PREFIX):]
    if not cursor.startswith(CURSOR_PREFIX) or not _CURSOR_DIGITS.fullmatch(digits) \
            or int(digits) > 2**63 - 1:
        raise BadCursor(_("The sync cursor is not one this server gave; download everything again."),
                        field="cursor")
    return int(digits)


def assignments(actor: User, cursor: str | None) -> Assignments:
    """The households of the actor's units changed since `cursor` (all of them without one),
    and the households the actor worked on that have left the actor's scope since."""
    since = parse_cursor(cursor)
    # Read the high-water mark first: whatever commits later gets a higher id and comes next time.
    top = db.session.scalar(select(func.max(AuditEntry.id))) or 0
    in_scope = scope.scope_filter(actor, Household.unit_path, "household.view")
    query = (select(Household).where(in_scope)
             .options(selectinload(Household.current_version), selectinload(Household.village)))
    removed: list[uuid.UUID] = []
    if since:
        changed = {registration._uuid(oid) for oid in db.session.scalars(
            select(AuditEntry.object_id).distinct()
            .where(AuditEntry.id > since, AuditEntry.id <= top, AuditEntry.object_type == "household"))}
        changed.discard(None)
        query = query.where(Household.id.in_(changed))
    households = list(db.session.scalars(query.order_by(Household.unit_path, Household.card_no)))
    if since:
        gone = changed - {h.id for h in households}
        if gone:
            # Only households the actor saved or submitted: others' ids are not theirs to learn.
            removed = sorted(set(db.session.scalars(
                select(HouseholdVersion.household_id).where(HouseholdVersion.household_id.in_(gone),
                                                            HouseholdVersion.created_by_id == actor.id))), key=str)
    return Assignments(cursor=f"{CURSOR_PREFIX}{max(top, since)}", units=registration.edit_units(actor),
                       households=households, return_reasons=_latest_returns(households), removed=removed)


def _latest_returns(households: list[Household]) -> dict[uuid.UUID, WorkflowEvent]:
    ids = [h.id for h in households if h.state == HouseholdState.returned.value]
    if not ids:
        return {}
    latest = (select(func.max(WorkflowEvent.id)).where(WorkflowEvent.household_id.in_(ids),
                                                       WorkflowEvent.action == WorkflowAction.return_.value)
              .group_by(WorkflowEvent.household_id))
    return {e.household_id: e for e in db.session.scalars(select(WorkflowEvent).where(WorkflowEvent.id.in_(latest)))}


# ------------------------------------------------------------------ submissions


@dataclass
class Outcome:
    status: int              # 201 created, 202 conflict (the HTTP status of the first answer)
    answer: dict[str, Any]   # the JSON answer, the same for every retry
    replayed: bool           # False: this call stored it


def body_hash(*, household_id: uuid.UUID, unit_id: int | None, base_version: int, data: Any, strokes: Any) -> str:
    body = {"household_id": str(household_id), "unit_id": unit_id, "base_version": base_version,
            "data": data, "signature": strokes}
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def submit_from_phone(actor: User, *, submission_id: uuid.UUID, household_id: uuid.UUID, unit_id: int | None,
                      base_version: int, data: dict[str, Any], strokes: Any) -> Outcome:
    """Save and submit the phone's form, or keep it as a conflict; flushed, not committed.

    Refusals (nothing stored; the caller rolls back): InvalidSubmission and Invalid
    (field "signature") 422, SubmissionReused / HouseholdElsewhere / BaseAhead 409, NotFound
    404 for a household or unit outside the actor's scope.
    """
    # The costly work first, before any statement (on SQLite, before the one write lock):
    # the strokes read and drawn, the form checked. A form that cannot be stored is refused here.
    drawn = signatures.parse_strokes(strokes)
    checked = registration.check_form(data, submission_id)
    digest = body_hash(household_id=household_id, unit_id=unit_id, base_version=base_version,
                       data=data, strokes=strokes)
    earlier = _receipt(submission_id, actor, digest)
    if earlier:
        return earlier
    receipt = SyncReceipt(submission_id=submission_id, body_hash=digest, status=0, answer={},
                          user_id=actor.id, created_at=utcnow())
    try:
        with db.session.begin_nested():
            db.session.add(receipt)
            db.session.flush()
    except IntegrityError:
        # A twin stored it first (PostgreSQL waited here for its commit): its answer is ours.
        earlier = _receipt(submission_id, actor, digest)
        if earlier:
            return earlier
        raise
    household = db.session.get(Household, household_id)
    if household is None:
        status, answer = _create(actor, submission_id, household_id, unit_id, base_version, data, drawn,
                                 checked)
    else:
        status, answer = _edit(actor, submission_id, household, unit_id, base_version, data, drawn, checked)
    receipt.status, receipt.answer = status, answer
    db.session.flush()
    return Outcome(status, answer, replayed=False)


def _receipt(submission_id: uuid.UUID, actor: User, digest: str) -> Outcome | None:
    receipt = db.session.scalar(select(SyncReceipt).where(SyncReceipt.submission_id == submission_id)
                                .execution_options(populate_existing=True))
    if receipt is None:
        return None
    if receipt.body_hash != digest or receipt.user_id != actor.id:
        raise SubmissionReused(_("This submission number was already used for different data."),
                               field="submission_id")
    return Outcome(receipt.status, receipt.answer, replayed=True)


def _create(actor: User, submission_id: uuid.UUID, household_id: uuid.UUID, unit_id: int | None,
            base_version: int, data: dict[str, Any], drawn: signatures.Strokes,
            checked: registration.CheckedForm) -> tuple[int, dict[str, Any]]:
    if base_version != 0:
        raise NotFound(_("No such household."))
    if unit_id is None:
        raise Invalid(_("Choose the village or group of the new household."), field="unit_id")
    try:
        result = registration.new_household(actor, unit_id=unit_id, data=data, submission_id=submission_id,
                                             household_id=household_id, checked=checked)
    except IntegrityError:
        # Another submission made a household with this id at the same moment.
        raise HouseholdElsewhere(_("This household number is already used by another household."),
                                 field="household_id") from None
    _refuse_errors(result.issues)
    return 201, _submitted(actor, result.household, result.version, drawn)


def _edit(actor: User, submission_id: uuid.UUID, household: Household, unit_id: int | None, base_version: int,
          data: dict[str, Any], drawn: signatures.Strokes,
          checked: registration.CheckedForm) -> tuple[int, dict[str, Any]]:
    if not scope.can_at(actor, "household.edit", household.unit_path):
        raise NotFound(_("No such household."))
    if unit_id is not None and unit_id not in (household.village_id, household.group_id):
        raise HouseholdElsewhere(_("This household belongs to %(village)s, not to the unit sent.",
                                   village=household.village.name), field="unit_id")
    # Serialise with other saves of this household (PostgreSQL; SQLite holds the write lock).
    db.session.execute(select(Household.id).where(Household.id == household.id).with_for_update())
    db.session.refresh(household)
    if base_version > household.current_number:
        raise BaseAhead(_("The household has no version %(n)d on the server.", n=base_version),
                        field="base_version")
    if base_version < household.current_number:
        return 202, _keep_conflict(actor, submission_id, household, base_version, data, drawn, checked)
    result = registration.save_household(actor, household.id, data=data, base_number=base_version,
                                         submission_id=submission_id, checked=checked)
    _refuse_errors(result.issues)
    return 201, _submitted(actor, household, result.version, drawn)


def _refuse_errors(issues: list[dict[str, Any]]) -> None:
    errors = [i for i in issues if i.get("level") == "error"]
    if errors:
        raise InvalidSubmission(ngettext("The form has %(num)d error; nothing was saved.",
                                         "The form has %(num)d errors; nothing was saved.", len(errors)), errors)


def _submitted(actor: User, household: Household, version: HouseholdVersion,
               drawn: signatures.Strokes) -> dict[str, Any]:
    event = workflow.submit(actor, household.id, version_number=version.number, strokes=drawn)
    return {"status": "created", "household_id": str(household.id), "version": version.number,
            "state": event.to_state, "card_no": household.card_no}


def _keep_conflict(actor: User, submission_id: uuid.UUID, household: Household, base_version: int,
                   data: dict[str, Any], drawn: signatures.Strokes,
                   checked: registration.CheckedForm) -> dict[str, Any]:
    clean, issues = registration._checked(actor, data, submission_id, None, household_id=household.id,
                                          checked=checked)
    _refuse_errors(issues)
    conflict = HouseholdConflict(
        household_id=household.id, submission_id=submission_id, base_number=base_version,
        server_number=household.current_number, data=clean, strokes=drawn,
        strokes_svg=signatures.render_svg(drawn), submitted_by_id=actor.id, created_at=utcnow(),
        state=ConflictState.open.value)
    db.session.add(conflict)
    db.session.flush()
    audit.record("household.sync_conflict", actor=actor, object_type="household", object_id=household.id,
                 details={"card_no": household.card_no, "village": household.village.code,
                          "conflict_id": conflict.id, "base": base_version, "server": household.current_number,
                          "submission_id": str(submission_id)})
    return {"status": "conflict", "household_id": str(household.id), "conflict_id": conflict.id,
            "server_version": household.current_number}


# ------------------------------------------------------------------ the leader's resolution


def open_conflicts(actor: User) -> list[HouseholdConflict]:
    """Open conflicts in the villages where the actor may resolve them, oldest first."""
    return list(db.session.scalars(
        select(HouseholdConflict).join(Household, HouseholdConflict.household_id == Household.id)
        .where(HouseholdConflict.state == ConflictState.open.value,
               scope.scope_filter(actor, Household.unit_path, "household.resolve"))
        .options(selectinload(HouseholdConflict.household).selectinload(Household.village),
                 selectinload(HouseholdConflict.submitted_by))
        .order_by(HouseholdConflict.created_at, HouseholdConflict.id)))


def count_open(actor: User) -> int:
    return db.session.scalar(
        select(func.count()).select_from(HouseholdConflict)
        .join(Household, HouseholdConflict.household_id == Household.id)
        .where(HouseholdConflict.state == ConflictState.open.value,
               scope.scope_filter(actor, Household.unit_path, "household.resolve"))) or 0


def get_conflict(actor: User, conflict_id: int) -> HouseholdConflict:
    conflict = db.session.get(HouseholdConflict, conflict_id)
    if conflict is None or not scope.can_at(actor, "household.view", conflict.household.unit_path):
        raise NotFound(_("No such conflict."))
    return conflict


def resolve(actor: User, conflict_id: int, how: str | ConflictResolution,
            picks: set[str] | None = None) -> HouseholdConflict:
    """Close an open conflict (flushed, not committed).

    keep_mine: the phone's data becomes a new version on top of the current one, by the leader;
    keep_theirs: the server's version stays, nothing new; merged: the current version with the
    phone's values where the leader picked them (`picks`, see `merge`), made after the conflict
    is locked and checked like any save. A new version is a draft: the collector submits it
    again with a signature, as after any change.
    """
    try:
        how = ConflictResolution(how)
    except ValueError:
        raise Invalid(_("Choose how to resolve the conflict."), field="how") from None
    conflict = get_conflict(actor, conflict_id)
    if not scope.can_at(actor, "household.resolve", conflict.household.unit_path):
        raise Forbidden(_("Conflicts are resolved by the village leader."))
    db.session.execute(select(HouseholdConflict.id).where(HouseholdConflict.id == conflict.id).with_for_update())
    db.session.refresh(conflict)
    if ConflictState.resolved not in CONFLICT_TRANSITIONS[ConflictState(conflict.state)]:
        who = conflict.resolved_by.name if conflict.resolved_by else ""
        raise Conflict(_("This conflict was already resolved by %(name)s.", name=who))
    household = conflict.household
    version = None
    if how != ConflictResolution.keep_theirs:
        if how == ConflictResolution.keep_mine:
            chosen = conflict.data
        else:
            current = household.current_version
            chosen = merge(current.data if current else {}, conflict.data, picks or set())
        result = registration.save_household(actor, household.id, data=chosen,
                                             base_number=household.current_number, permission="household.resolve")
        _refuse_errors(result.issues)
        version = result.version
    conflict.state = ConflictState.resolved.value
    conflict.resolution = how.value
    conflict.resolved_by_id = actor.id
    conflict.resolved_at = utcnow()
    conflict.result_version_id = version.id if version else None
    db.session.flush()
    audit.record("household.conflict_resolve", actor=actor, object_type="household", object_id=household.id,
                 details={"card_no": household.card_no, "village": household.village.code,
                          "conflict_id": conflict.id, "resolution": how.value,
                          "version": version.number if version else None})
    return conflict


def merge(theirs: dict[str, Any], mine: dict[str, Any], picks: set[str]) -> dict[str, Any]:
    """The server's form with the phone's value wherever the leader picked it. Picks name
    "household.<field>", "members.<person_id>.<field>", or "members.<person_id>" for a member
    only the phone has (added). Members only the server has stay: a person is never deleted."""
    merged = json.loads(json.dumps(theirs))
    household, mine_household = merged.setdefault("household", {}), mine.get("household") or {}
    for key in picks:
        if key.startswith("household."):
            name = key.split(".", 1)[1]
            if name in mine_household:
                household[name] = mine_household[name]
            else:
                household.pop(name, None)
    members = merged.setdefault("members", [])
    by_id = {str(m.get("person_id")): m for m in members}
    for m in mine.get("members") or []:
        pid = str(m.get("person_id"))
        if pid in by_id:
            for name in set(m) | set(by_id[pid]):
                if f"members.{pid}.{name}" in picks:
                    if name in m:
                        by_id[pid][name] = m[name]
                    else:
                        by_id[pid].pop(name, None)
        elif f"members.{pid}" in picks:
            members.append(json.loads(json.dumps(m)))
    return merged
