"""The approval chain (DESIGN.md §5): collector → village leader → township verifier.

One table, TRANSITIONS, says which action takes a household from which state to which, and
which role does it. The same table decides the buttons a user sees (`available_actions`) and
guards every change (`transition`): anything not in it is refused and changes nothing.

A transition acts on the household's current version, which the caller names by the number
it saw; a signing action signs that version's content hash. Each writes one WorkflowEvent
and one audit entry in the caller's transaction (flushed, not committed). Two reviewers
acting at once are serialised by a row lock on the household (PostgreSQL; on SQLite, BEGIN
IMMEDIATE already serialises writers); the second re-reads the state after the lock and is
told who was first.

A save of the household (app.domain.registration) makes a new draft version; the earlier
signatures stay in the history but do not count for it (app.domain.signatures).
"""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import aliased, selectinload

from app.domain import audit, registration, scope, signatures
from app.domain.errors import Conflict, DomainError, Forbidden, Invalid
# The labels live in app.domain.labels; imported here for the callers that ask workflow for them.
from app.domain.labels import action_label, state_label  # noqa: F401
from app.domain.tree import is_within
from app.extensions import db
from app.models import (AdminUnit, Household, HouseholdState, HouseholdVersion, Role, Signature, User,
                        WorkflowAction, WorkflowEvent, utcnow)
from collection_forms.characters import code_points, refused_characters

S, A = HouseholdState, WorkflowAction


@dataclass(frozen=True)
class Step:
    to: HouseholdState
    role: Role


# (state, action) -> (next state, the role that may do it). Nothing else is allowed.
TRANSITIONS: dict[tuple[HouseholdState, WorkflowAction], Step] = {
    (S.draft, A.submit): Step(S.submitted, Role.collector),
    (S.returned, A.submit): Step(S.submitted, Role.collector),
    (S.submitted, A.confirm): Step(S.confirmed, Role.village_leader),
    (S.submitted, A.return_): Step(S.returned, Role.village_leader),
    (S.confirmed, A.verify): Step(S.verified, Role.verifier),
    (S.confirmed, A.return_): Step(S.returned, Role.verifier),
}

# What each role waits for, and the scope permission that finds it.
WAITING: dict[Role, tuple[HouseholdState, str]] = {
    Role.collector: (S.returned, "household.submit"),
    Role.village_leader: (S.submitted, "household.confirm"),
    Role.verifier: (S.confirmed, "household.verify"),
}

RETURN_REASONS = {
    "missing_member": _l("A member is missing"),
    "wrong_id_number": _l("Wrong ID number"),
    "wrong_relationship": _l("Wrong relationship to the head"),
    "address_unclear": _l("Address unclear"),
    "signature_missing": _l("Signature missing"),
    "other": _l("Other"),
}
MAX_REASON_TEXT = 500

# The answer to a second reviewer (or a double tap): what happened first, by whom and when.
ALREADY = {
    A.submit: _l("Already submitted by %(name)s at %(at)s."),
    A.confirm: _l("Already confirmed by %(name)s at %(at)s."),
    A.verify: _l("Already verified by %(name)s at %(at)s."),
    A.return_: _l("Already returned by %(name)s at %(at)s."),
}
# The answer to the same person repeating what already took effect (a double tap, a reload that
# posts again): a success that wrote nothing new.
REPEATED = {
    A.submit: _l("Card %(card)s was already signed and submitted by you at %(at)s; it is with the village "
                 "leader."),
    A.confirm: _l("Card %(card)s was already confirmed by you at %(at)s."),
    A.verify: _l("Card %(card)s was already verified by you at %(at)s."),
    A.return_: _l("Card %(card)s was already returned by you at %(at)s."),
}
CANNOT = {
    A.submit: _l("This household is now “%(state)s”: it cannot be submitted."),
    A.confirm: _l("This household is now “%(state)s”: it cannot be confirmed."),
    A.verify: _l("This household is now “%(state)s”: it cannot be verified."),
    A.return_: _l("This household is now “%(state)s”: it cannot be returned."),
}


def reason_label(code: str) -> str:
    return str(RETURN_REASONS.get(code, code))


def roles_for(action: WorkflowAction) -> frozenset[Role]:
    """Every role that may do `action` in some state."""
    return frozenset(step.role for (_state, a), step in TRANSITIONS.items() if a == action)


# ------------------------------------------------------------------ asking


def available_actions(user: User, household: Household) -> list[WorkflowAction]:
    """The actions `user` may do on the household as it is now: the buttons to show."""
    return [a for a in WorkflowAction if _refusal(user, household, a) is None]


def _refusal(user: User, household: Household, action: WorkflowAction) -> DomainError | None:
    """Why `user` may not do `action` on the household's current version, or None."""
    if not any(_holds(user, role, household) for role in roles_for(action)):
        return Forbidden(_("“%(action)s” is done by the %(roles)s for %(village)s; you do not hold "
                           "that role there.", action=action_label(action), village=household.village.name,
                           roles=" / ".join(scope.role_label(r) for r in sorted(roles_for(action)))))
    step = TRANSITIONS.get((S(household.state), action))
    if step is None:
        return _wrong_state(user, household, action)
    if not _holds(user, step.role, household):
        return Forbidden(_("When a household is “%(state)s”, “%(action)s” is done by the %(role)s for "
                           "%(village)s; you do not hold that role there.",
                           state=state_label(household.state),
                           action=action_label(action), role=scope.role_label(step.role),
                           village=household.village.name))
    version = household.current_version
    other = _signed_other_level(user, version, step.role)
    if other is not None:
        # 一机两员: one person never signs two levels of the same version; nor reviews (returns)
        # at a level above one they signed.
        return Forbidden(_("You already signed version %(n)d of this household as %(role)s; one person "
                           "never acts at two levels of the same version.",
                           n=version.number, role=scope.role_label(other.role)))
    if action == A.submit and household.collected_at is None:
        # A police pre-fill is signed only after a collector has checked it at the door (issue 16).
        return Conflict(_("This household was pre-filled from the police register and is not verified at the "
                          "door yet: tap “Checked, nothing changed” or correct the form first."))
    if action == A.submit and not version.complete:
        errors = sum(1 for i in version.issues if i.get("level") == "error")
        return Conflict(_("Version %(n)d still has %(errors)d errors; correct them before submitting.",
                          n=version.number, errors=errors))
    return None


def _holds(user: User, role: Role, household: Household) -> bool:
    """Does the user hold `role` for a unit containing the household (its village, township...)?"""
    return any(is_within(household.unit_path, a.unit.path) for a in scope.assignments(user, {role}))


def _signed_other_level(user: User, version: HouseholdVersion, role: Role) -> Signature | None:
    return db.session.scalar(select(Signature).where(
        Signature.version_id == version.id, Signature.signer_id == user.id, Signature.role != role.value)
        .limit(1))


def _wrong_state(user: User, household: Household, action: WorkflowAction) -> Conflict:
    cannot = str(CANNOT[action]) % {"state": state_label(household.state)}
    last = _latest_event(household)
    # The latest event explains the state only if no save came after it (a save makes a draft).
    if last is None or last.version_id != household.current_version_id or last.to_state != household.state:
        return Conflict(cannot)
    name = _("you") if last.actor_id == user.id else last.actor.name
    already = str(ALREADY[A(last.action)]) % {"name": name, "at": _when(last.at)}
    return Conflict(already if last.action == action.value else f"{already} {cannot}")


def open_return(household: Household) -> WorkflowEvent | None:
    """The return the household still answers, until it is submitted again: its latest event,
    when that is a return (a save after the return makes a draft but answers nothing yet)."""
    last = _latest_event(household)
    return last if last is not None and last.action == A.return_.value else None


def _latest_event(household: Household) -> WorkflowEvent | None:
    return db.session.scalar(select(WorkflowEvent).where(WorkflowEvent.household_id == household.id)
                             .order_by(WorkflowEvent.id.desc()).limit(1))


# ------------------------------------------------------------------ acting


@dataclass
class Done:
    """What an action did: its event, or (repeated) the same user's earlier event for the same
    action on the same version, which still stands; then nothing new was written."""
    event: WorkflowEvent
    repeated: bool = False

    @property
    def message(self) -> str | None:
        """For a repeat, the words that say it is done (a success, not an error)."""
        if not self.repeated:
            return None
        return str(REPEATED[A(self.event.action)]) % {"card": self.event.household.card_no,
                                                      "at": _when(self.event.at)}


def transition(user: User, household_id: uuid.UUID, action: str | WorkflowAction, *, version_number: int,
               strokes: str | list[Any] | None = None, reason_codes: Iterable[str] | None = None,
               reason_text: str | None = None) -> WorkflowEvent:
    """`act`, answering the event only (the earlier one for a repeat)."""
    return act(user, household_id, action, version_number=version_number, strokes=strokes,
               reason_codes=reason_codes, reason_text=reason_text).event


def act(user: User, household_id: uuid.UUID, action: str | WorkflowAction, *, version_number: int,
        strokes: str | list[Any] | None = None, reason_codes: Iterable[str] | None = None,
        reason_text: str | None = None) -> Done:
    """Do `action` on the household's current version, which must be `version_number`.

    Signing actions take the drawn `strokes` (see app.domain.signatures); a return takes
    `reason_codes` (from RETURN_REASONS) and `reason_text` (required with "other").
    Refusals: NotFound outside the user's scope, Forbidden for the wrong role or a second
    level signed by one person, Conflict for the wrong state or a changed household, Invalid
    for a missing signature or reason. A refusal changes nothing.
    """
    action = _action(action)
    # The strokes are read and drawn first, before any statement (on SQLite, before the one
    # write lock): a large signature must not hold up other collectors' saves (issue 15).
    drawn = signatures.parse_strokes(strokes) if action != A.return_ else None
    household = registration.get_household(user, household_id)
    _refuse_without_role(user, household, action)
    reasons = _reasons(reason_codes, reason_text) if action == A.return_ else None
    return _apply(user, household, action, version_number, drawn, reasons)


def submit(user: User, household_id: uuid.UUID, *, version_number: int, strokes) -> WorkflowEvent:
    return transition(user, household_id, A.submit, version_number=version_number, strokes=strokes)


def confirm(user: User, household_id: uuid.UUID, *, version_number: int, strokes) -> WorkflowEvent:
    return transition(user, household_id, A.confirm, version_number=version_number, strokes=strokes)


def verify(user: User, household_id: uuid.UUID, *, version_number: int, strokes) -> WorkflowEvent:
    return transition(user, household_id, A.verify, version_number=version_number, strokes=strokes)


def return_household(user: User, household_id: uuid.UUID, *, version_number: int,
                     reason_codes: Iterable[str], reason_text: str | None = None) -> WorkflowEvent:
    return transition(user, household_id, A.return_, version_number=version_number,
                      reason_codes=reason_codes, reason_text=reason_text)


@dataclass
class BatchResult:
    household_id: uuid.UUID
    version_number: int
    event: WorkflowEvent | None  # None: refused
    message: str | None = None  # the refusal, for the user
    status: int | None = None   # its HTTP status (403, 404, 409)
    repeated: bool = False      # verified by this verifier before (a double tap): nothing new written

    @property
    def ok(self) -> bool:
        return self.event is not None


def verify_many(verifier: User, items: Iterable[tuple[uuid.UUID, int]],
                strokes: str | list[Any] | None) -> list[BatchResult]:
    """Verify many households with one drawn signature; each version still gets its own
    Signature row, event and audit entry. A refused item is reported and does not stop the
    others (each item runs in its own savepoint). A signature that is not one refuses all."""
    drawn = signatures.parse_strokes(strokes)
    results = []
    for household_id, version_number in items:
        try:
            with db.session.begin_nested():
                household = registration.get_household(verifier, household_id)
                _refuse_without_role(verifier, household, A.verify)
                done = _apply(verifier, household, A.verify, version_number, drawn, None)
            results.append(BatchResult(household_id, version_number, done.event, repeated=done.repeated))
        except DomainError as e:
            results.append(BatchResult(household_id, version_number, None, e.message, e.status))
    return results


def _action(action: str | WorkflowAction) -> WorkflowAction:
    try:
        return A(action)
    except ValueError:
        raise Invalid(_("Unknown action: %(action)s.", action=str(action)), field="action") from None


def _refuse_without_role(user: User, household: Household, action: WorkflowAction) -> None:
    """Refuse early (before any lock) someone who could never do `action` on this household."""
    if not any(_holds(user, role, household) for role in roles_for(action)):
        raise _refusal(user, household, action)


def _reasons(codes: Iterable[str] | None, text: str | None) -> tuple[list[str], str | None]:
    chosen = {codes} if isinstance(codes, str) else set(codes or [])
    unknown = chosen - RETURN_REASONS.keys()
    if unknown:
        raise Invalid(_("Unknown return reason: %(codes)s.", codes=", ".join(sorted(unknown))),
                      field="reason_codes")
    if not chosen:
        raise Invalid(_("Reasons: choose at least one reason for returning the household."),
                      field="reason_codes")
    text = (text or "").strip() or None
    if "other" in chosen and not text:
        raise Invalid(_("Explanation: say what is wrong when you choose “Other”."), field="reason_text")
    if text and len(text) > MAX_REASON_TEXT:
        raise Invalid(_("Explanation: at most %(n)d characters.", n=MAX_REASON_TEXT), field="reason_text")
    if text and (bad := refused_characters(text, multiline=True)):
        # The collector reads this on the form: no override may turn what it says around.
        raise Invalid(_("Explanation: contains control or invisible characters that are not allowed "
                        "(%(chars)s); delete them and type it again.", chars=code_points(bad)),
                      field="reason_text")
    return [c for c in RETURN_REASONS if c in chosen], text


def _apply(user: User, household: Household, action: WorkflowAction, version_number: int,
           drawn: signatures.Strokes | None, reasons: tuple[list[str], str | None] | None) -> Done:
    _lock(household)
    if version_number != household.current_number:
        current = household.current_version
        raise Conflict(_("The household changed since you opened it: it is now version %(n)d, saved by "
                         "%(name)s at %(at)s. Open it again.",
                         n=current.number, name=current.created_by.name, at=_when(current.created_at)))
    earlier = _repeat_of(user, household, action)
    if earlier is not None:
        return Done(earlier, repeated=True)
    refusal = _refusal(user, household, action)
    if refusal is not None:
        raise refusal
    step = TRANSITIONS[(S(household.state), action)]
    version = household.current_version
    signature = signatures.sign(version, user, step.role, drawn) if drawn is not None else None
    codes, text = reasons or ([], None)
    event = WorkflowEvent(household_id=household.id, version_id=version.id, action=action.value,
                          from_state=household.state, to_state=step.to.value, actor_id=user.id,
                          role=step.role.value, reason_codes=codes, reason_text=text,
                          signature_id=signature.id if signature else None, at=utcnow())
    db.session.add(event)
    household.state = step.to.value
    if action == A.verify:
        household.last_verified_version_id = version.id
    db.session.flush()
    audit.record(f"household.{action.value}", actor=user, object_type="household", object_id=household.id,
                 details={"card_no": household.card_no, "village": household.village.code,
                          "version": version.number, "content_hash": version.content_hash,
                          "from": event.from_state, "to": event.to_state, "role": event.role,
                          "event_id": event.id, "signature_id": event.signature_id,
                          "reason_codes": codes, "reason_text": text})
    return Done(event)


def _repeat_of(user: User, household: Household, action: WorkflowAction) -> WorkflowEvent | None:
    """The user's own event for `action` on the current version, if it is the latest event and
    the household is still where it put it: then a second request for it has nothing left to do.
    Another user's event, or any later move (a save, a further step), is not a repeat."""
    last = _latest_event(household)
    if (last is not None and last.actor_id == user.id and last.action == action.value
            and last.version_id == household.current_version_id and last.to_state == household.state):
        return last
    return None


def _lock(household: Household) -> None:
    """Take the household's row lock and re-read it: whoever waited sees the winner's change."""
    db.session.execute(select(Household.id).where(Household.id == household.id).with_for_update())
    db.session.refresh(household)


def _when(at: dt.datetime) -> str:
    zone = ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE", "Asia/Shanghai"))
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M")


# ------------------------------------------------------------------ reading


def history(user: User, household_id: uuid.UUID) -> list[WorkflowEvent]:
    """The household's events, oldest first, with actors and signatures: the timeline."""
    household = registration.get_household(user, household_id)
    return list(db.session.scalars(
        select(WorkflowEvent).where(WorkflowEvent.household_id == household.id)
        .options(selectinload(WorkflowEvent.actor), selectinload(WorkflowEvent.signature),
                 selectinload(WorkflowEvent.version))
        .order_by(WorkflowEvent.id)))


@dataclass
class QueueItem:
    household: Household
    event: WorkflowEvent  # the event that put it in the queue: its submit, confirm or return

    @property
    def waiting_since(self) -> dt.datetime:
        return self.event.at


@dataclass
class Queue:
    items: list[QueueItem]
    total: int                              # waiting under the chosen filters (or all)
    villages: list[tuple[AdminUnit, int]]   # waiting per village in the user's scope
    page: int
    pages: int
    # waiting per collector (who signed the current version) under the chosen village, for the filter
    collectors: list[tuple[User, int]] = field(default_factory=list)


@dataclass(frozen=True)
class QueueFilter:
    """What a reviewer narrows a queue to; None is "all"."""
    village_id: int | None = None
    collector_id: int | None = None  # the collector who signed the household's current version
    card_no: str | None = None       # four digits (app.domain.cards numbers within a village)

    @property
    def empty(self) -> bool:
        return self.village_id is None and self.collector_id is None and self.card_no is None


def parse_card_no(text: str | None) -> str | None:
    """A card number typed in a filter: "244" or "0244" -> "0244"; blank -> None. Anything
    else is refused naming the field (card numbers are four digits within a village)."""
    text = (text or "").strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit() and len(text) <= 4):
        raise Invalid(_("Card number: enter the card's number, up to 4 digits (e.g. 0244)."), field="card_no")
    return text.zfill(4)


def leader_queue(user: User, village_id: int | None = None, *, page: int = 1, per_page: int = 50,
                 collector_id: int | None = None, card_no: str | None = None) -> Queue:
    """Submitted households in the leader's villages, oldest submission first."""
    return _queue(user, Role.village_leader, QueueFilter(village_id, collector_id, card_no), page, per_page)


def verifier_queue(user: User, village_id: int | None = None, *, page: int = 1, per_page: int = 50,
                   collector_id: int | None = None, card_no: str | None = None) -> Queue:
    """Confirmed households in the verifier's township, oldest confirmation first; narrowed by
    village, by the collector who signed, and by card number."""
    return _queue(user, Role.verifier, QueueFilter(village_id, collector_id, card_no), page, per_page)


def returned_for_collector(user: User) -> list[QueueItem]:
    """Returned households in the collector's units with their latest return (the reasons)."""
    return _queue(user, Role.collector, QueueFilter(), 1, None).items


def waiting_counts(user: User) -> dict[str, int]:
    """Households waiting for each of the user's roles in the chain (returned for a collector,
    submitted for a village leader, confirmed for a verifier)."""
    counts = {}
    for role, (state, permission) in WAITING.items():
        if scope.assignments(user, {role}):
            counts[role.value] = db.session.scalar(
                select(func.count()).select_from(Household)
                .where(Household.state == state.value,
                       scope.scope_filter(user, Household.unit_path, permission)))
    return counts


def _queue(user: User, role: Role, chosen: QueueFilter, page: int, per_page: int | None) -> Queue:
    state, permission = WAITING[role]
    where = [Household.state == state.value, scope.scope_filter(user, Household.unit_path, permission)]
    per_village = db.session.execute(
        select(Household.village_id, func.count()).where(*where).group_by(Household.village_id)).all()
    units = {u.id: u for u in db.session.scalars(
        select(AdminUnit).where(AdminUnit.id.in_([v for v, _n in per_village])))}
    villages = sorted(((units[v], n) for v, n in per_village), key=lambda vn: vn[0].path)
    if chosen.village_id is not None:
        village = scope.require_unit(user, chosen.village_id, permission)
        where.append(Household.village_id == village.id)
    collectors: list[tuple[User, int]] = []
    if role != Role.collector:
        # The collector is the one who signed the version waiting here (谁采集、谁负责).
        signed = ((Signature.version_id == Household.current_version_id)
                  & (Signature.role == Role.collector.value))
        per_collector = db.session.execute(
            select(Signature.signer_id, func.count(func.distinct(Household.id)))
            .select_from(Household).join(Signature, signed).where(*where).group_by(Signature.signer_id)).all()
        people = {u.id: u for u in db.session.scalars(
            select(User).where(User.id.in_([c for c, _n in per_collector])))}
        collectors = sorted(((people[c], n) for c, n in per_collector), key=lambda un: (un[0].name, un[0].id))
        if chosen.collector_id is not None:
            where.append(select(Signature.id).where(signed, Signature.signer_id == chosen.collector_id)
                         .correlate(Household).exists())
    if chosen.card_no is not None:
        where.append(Household.card_no == chosen.card_no)
    total = db.session.scalar(select(func.count()).select_from(Household).where(*where)) or 0
    # The event that put each household into this state: its latest event into the state.
    later = aliased(WorkflowEvent)
    latest = (select(func.max(later.id))
              .where(later.household_id == Household.id, later.to_state == state.value)
              .correlate(Household).scalar_subquery())
    query = (select(Household, WorkflowEvent).join(WorkflowEvent, WorkflowEvent.id == latest).where(*where)
             .options(selectinload(Household.village), selectinload(Household.current_version),
                      selectinload(WorkflowEvent.actor))
             .order_by(WorkflowEvent.at, WorkflowEvent.id))
    pages = 1
    if per_page:
        pages = max(1, -(-total // per_page))
        page = min(max(1, page), pages)
        query = query.offset((page - 1) * per_page).limit(per_page)
    items = [QueueItem(h, e) for h, e in db.session.execute(query)]
    return Queue(items, total, villages, page, pages, collectors)
