"""The approval chain's screens (issue 4): the village leader's and the verifier's queues, the
review page (household, diff against the last verified version, warnings, who and when, the
buttons the transition table allows), bulk verify with one signature, and the counts of
waiting work in the header.

Views parse the form, call one function of app.domain.workflow, commit and redirect (PRG).
A refusal about what was sent (no signature, no reason, a household changed meanwhile) shows
the page again with the message, the reasons ticked and the text typed; a household outside
the user's area is NotFound (404) through the app's error handler.
"""
from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from app.domain import id_numbers, registration, scope, workflow
from app.domain.errors import DomainError, Invalid, NotFound
from app.domain.history import diff
from app.extensions import db
from app.models import Household, HouseholdVersion, Role, User, WorkflowAction
from app.routing import db_int
from app.web import label_language, shows_personal_data, viewed
from app.web.household_views import household_helpers, timeline, timeline_helpers
from collection_forms import load_form

bp = Blueprint("review", __name__, url_prefix="/review")

# The household page's helpers (labels of codes, states, addresses) serve these pages too.
bp.context_processor(household_helpers)


def _me() -> User:
    return current_user._get_current_object()


@bp.app_context_processor
def _waiting_counts() -> dict[str, Any]:
    """Households waiting for each of the user's roles, for the header. Asked on every page
    (one small count per role held), never cached: a count that lags is worse than none."""
    if not current_user.is_authenticated:
        return {"waiting_counts": {}}
    return {"waiting_counts": workflow.waiting_counts(_me())}


# ------------------------------------------------------------------ queues

def _queue_page(role: Role, *, message: str | None = None, pad_error: str | None = None, status: int = 200,
                chosen: set[str] | None = None):
    """The queue under the filters sent (GET, or the bulk verify form's hidden copies of them)."""
    me = _me()
    village_id = request.values.get("village_id", type=db_int)
    collector_id = request.values.get("collector_id", type=db_int)
    card_text = request.values.get("card_no", "").strip()
    try:
        card_no = workflow.parse_card_no(card_text)
    except Invalid as e:  # shown, and the queue without that filter
        card_no, message, status = None, message or e.message, e.status if status == 200 else status
    finder = workflow.leader_queue if role == Role.village_leader else workflow.verifier_queue
    queue = finder(me, village_id, page=request.args.get("page", 1, type=db_int), collector_id=collector_id,
                   card_no=card_no)
    # The filters as GET parameters, for the pager and the village links (None ones left out).
    filters = {k: v for k, v in (("village_id", village_id), ("collector_id", collector_id),
                                 ("card_no", card_no)) if v is not None}
    viewed(count=queue.total, page=queue.page, queue=role.value, **filters)
    return render_template("review/queue.html", queue=queue, role=role.value, village_id=village_id,
                           collector_id=collector_id, card_no=card_no, card_text=card_text, filters=filters,
                           others={k: v for k, v in filters.items() if k != "village_id"},
                           message=message, pad_error=pad_error, chosen=chosen or set(),
                           endpoint="review.leader" if role == Role.village_leader else "review.verifier"), status


@bp.route("/leader")
@shows_personal_data("household_list")
def leader():
    """Submitted households in the leader's villages, oldest first, with counts per village."""
    return _queue_page(Role.village_leader)


@bp.route("/verifier")
@shows_personal_data("household_list")
def verifier():
    """Confirmed households in the verifier's township, filterable by village."""
    return _queue_page(Role.verifier)


# ------------------------------------------------------------------ one household

def _render_review(me: User, household_id: uuid.UUID, *, message: str | None = None, status: int = 200,
                   pad_error: str | None = None, sent: dict[str, Any] | None = None,
                   revealed: dict[str, str] | None = None):
    h = registration.get_household(me, household_id)
    viewed(unit_path=h.unit_path)
    version = h.current_version
    verified = (db.session.get(HouseholdVersion, h.last_verified_version_id)
                if h.last_verified_version_id else None)
    lang = label_language()
    changes = diff(verified.data if verified else None, version.data if version else {}, load_form(), lang)
    versions = registration.history(me, household_id)
    events = workflow.history(me, household_id)
    submitted = next((e for e in reversed(events) if e.action == WorkflowAction.submit.value
                      and version is not None and e.version_id == version.id), None)
    return render_template(
        "review/household.html", h=h, version=version, verified=verified, diff=changes,
        issues=version.issues if version else [], submitted=submitted,
        actions=[a.value for a in workflow.available_actions(me, h)],
        reasons=workflow.RETURN_REASONS, sent=sent or {"reason_codes": [], "reason_text": ""},
        message=message, pad_error=pad_error, timeline=timeline(versions, events),
        can_reveal=scope.can_at(me, id_numbers.REVEAL_PERMISSION, h.unit_path), revealed=revealed or {},
        **timeline_helpers()), status


@bp.route("/households/<uuid:household_id>")
@shows_personal_data("household", "household_id")
def household(household_id: uuid.UUID):
    return _render_review(_me(), household_id)


@bp.route("/households/<uuid:household_id>/reveal", methods=["POST"])
@shows_personal_data("household", "household_id")
def reveal(household_id: uuid.UUID):
    """One member's full ID number, shown on the review page and recorded in the audit log."""
    me = _me()
    try:
        person_id = uuid.UUID(request.form.get("person_id", ""))
    except ValueError:
        raise NotFound(_("No such member in this household.")) from None
    person = id_numbers.reveal(me, household_id, person_id)
    number = person.id_number or ""
    db.session.commit()
    page, status = _render_review(me, household_id, revealed={str(person_id): number})
    response = make_response(page, status)
    response.headers["Cache-Control"] = "no-store"  # a full ID number is not kept by the browser
    return response


def _done_message(action: str, card: str) -> str:
    # The msgids written out, so that the catalogue extraction finds them.
    return {
        WorkflowAction.submit.value: _("Card %(card)s signed and submitted to the village leader.", card=card),
        WorkflowAction.confirm.value: _("Card %(card)s confirmed with your signature.", card=card),
        WorkflowAction.verify.value: _("Card %(card)s verified with your signature.", card=card),
        WorkflowAction.return_.value: _("Card %(card)s returned to the collector.", card=card),
    }[action]


@bp.route("/households/<uuid:household_id>/act", methods=["POST"])
@shows_personal_data("household", "household_id")  # a refusal shows the page again
def act(household_id: uuid.UUID):
    """Confirm, verify (with the drawn signature) or return (with reasons) the current version."""
    me = _me()
    action = request.form.get("action", "")
    sent = {"reason_codes": request.form.getlist("reason_codes"),
            "reason_text": request.form.get("reason_text", "")}
    try:
        done = workflow.act(me, household_id, action,
                            version_number=request.form.get("version_number", -1, type=int),
                            strokes=request.form.get("strokes"), reason_codes=sent["reason_codes"],
                            reason_text=sent["reason_text"])
    except NotFound:
        raise  # outside the user's area: the page does not exist for them
    except DomainError as e:
        db.session.rollback()
        return _render_review(me, household_id, message=e.message, status=e.status, sent=sent,
                              pad_error=e.message if e.field == "signature" else None)
    # A repeat of what this user already did (a double tap) is a success too, said as such.
    event = done.event
    message = done.message or _done_message(event.action, event.household.card_no)
    db.session.commit()
    flash(message)
    if event.role == Role.village_leader.value:
        return redirect(url_for(".leader"))
    if event.role == Role.verifier.value:
        return redirect(url_for(".verifier"))
    return redirect(url_for("collect.household", household_id=household_id))


# ------------------------------------------------------------------ many at once

def _items(values: list[str]) -> list[tuple[uuid.UUID, int]]:
    """The ticked households as (id, version number): "uuid:number" each."""
    items = []
    for value in values:
        hid, _sep, number = value.partition(":")
        try:
            items.append((uuid.UUID(hid), int(number)))
        except ValueError:
            raise Invalid(_("Households: the selection could not be read; open the queue again."),
                          field="items") from None
    if not items:
        raise Invalid(_("Households: tick at least one household to verify."), field="items")
    return items


@bp.route("/verify", methods=["POST"])
@shows_personal_data("household_list")
def verify_many():
    """Verify the ticked households with one signature. The answer is shown at once (not a
    redirect): a list of a hundred results does not fit into a session cookie's flash."""
    me = _me()
    ticked = request.form.getlist("items")
    try:
        results = workflow.verify_many(me, _items(ticked), request.form.get("strokes"))
    except DomainError as e:
        db.session.rollback()
        return _queue_page(Role.verifier, message=e.message, status=e.status, chosen=set(ticked),
                           pad_error=e.message if e.field == "signature" else None)
    db.session.commit()
    shown = []
    for r in results:
        h = r.event.household if r.event is not None else _visible(me, r.household_id)
        shown.append({"result": r, "household": h})
    verified = sum(1 for r in results if r.ok)
    viewed(count=len(results), verified=verified)
    # Back to the same filtered list the households were ticked on.
    back = {k: request.form[k] for k in ("village_id", "collector_id", "card_no") if request.form.get(k)}
    return render_template("review/verified.html", shown=shown, verified=verified, total=len(results),
                           back=back,
                           summary=ngettext("%(num)d household verified, of %(total)d ticked.",
                                            "%(num)d households verified, of %(total)d ticked.",
                                            verified, total=len(results)))


def _visible(me: User, household_id: uuid.UUID) -> Household | None:
    """A refused item's household, to name it, when the user may see it."""
    try:
        return registration.get_household(me, household_id)
    except NotFound:
        return None
