"""Duplicate persons (重复人口, issue 17): the open candidates of the user's area, one candidate
side by side (the two persons' main items, their households' members, the reasons and the
evidence), and the decisions "the same person" (which record is kept; the other is cancelled
as 重复 by a new version of its household) and "not the same" (remembered). Views parse, call
app.domain.duplicates, commit and redirect (PRG)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.domain import duplicates
from app.domain.errors import DomainError, Invalid, NotFound
from app.extensions import db
from app.models import DuplicateState, User
from app.routing import db_int
from app.web import label_language, shows_personal_data, viewed
from app.web.forms_data import display_value
from app.web.household_views import household_helpers
from collection_forms import load_form
from collection_forms.loader import MEMBERS

bp = Blueprint("duplicates", __name__, url_prefix="/quality/duplicates")
bp.context_processor(household_helpers)

PER_PAGE = 50
STATES = [s.value for s in DuplicateState]
# The items compared side by side besides the main items: who the person is in the household.
EXTRA_ITEMS = ("relationship",)
STATE_LABELS = {
    DuplicateState.open.value: _l("Not yet decided"),
    DuplicateState.same.value: _l("The same person"),
    DuplicateState.not_same.value: _l("Not the same person"),
    DuplicateState.gone.value: _l("No longer found"),
}


@bp.context_processor
def _labels() -> dict:
    return {"duplicate_state_label": lambda s: str(STATE_LABELS.get(s, s))}


@bp.app_context_processor
def _nav() -> dict:
    """For the menu: a callable, so the scope is asked only where the link is drawn."""
    def can_review_duplicates() -> bool:
        return current_user.is_authenticated and duplicates.may_view(_me())
    return {"can_review_duplicates": can_review_duplicates}


def _me() -> User:
    return current_user._get_current_object()


@dataclass
class ItemRow:
    label: str
    left: str
    right: str
    differs: bool


def _member_data(side: duplicates.Side) -> dict:
    if side.household is None or side.household.current_version is None:
        return {}
    members = side.household.current_version.data.get(MEMBERS) or []
    return next((m for m in members if str(m.get("person_id")) == str(side.person_id)), {})


def item_rows(left: duplicates.Side, right: duplicates.Side) -> list[ItemRow]:
    """The main items of the form's members section (and the relationship), both sides."""
    form, lang = load_form(), label_language()
    fields = form.fields_of(MEMBERS)
    a, b = _member_data(left), _member_data(right)

    def shown(record: dict, name: str) -> str:
        value = display_value(record, name)
        f = fields.get(name)
        return f.code_list.label(value, lang) if value and f is not None and f.code_list is not None else value

    names = [n for n, f in fields.items() if f.main_item or n in EXTRA_ITEMS]
    rows = []
    for name in names:
        x, y = shown(a, name), shown(b, name)
        if not x and not y:
            continue
        rows.append(ItemRow(fields[name].label.get(lang, name), x, y, x != y))
    return rows


@bp.route("/")
@shows_personal_data("duplicate_list")
def index():
    me = _me()
    if not duplicates.may_view(me):
        flash(_("Duplicate persons are reviewed by the township's verifiers and clerks."), "error")
        return redirect(url_for("home.index"))
    state = request.args.get("state", DuplicateState.open.value)
    if state not in STATES:
        state = DuplicateState.open.value
    page = request.args.get("page", 1, type=db_int) or 1
    rows, total = duplicates.open_candidates(me, page=page, per_page=PER_PAGE, state=state)
    pages = max(1, -(-total // PER_PAGE))
    viewed(count=total, page=page, state=state)
    return render_template("duplicates/index.html", rows=rows, total=total, page=page, pages=pages, state=state,
                           states=STATES)


def _render(candidate_id: int, message: str | None = None, status: int = 200):
    r = duplicates.review(_me(), candidate_id)
    viewed(object_id=r.candidate.id, unit_path=r.candidate.unit_path)
    return render_template("duplicates/candidate.html", r=r, c=r.candidate, rows=item_rows(r.left, r.right),
                           message=message), status


@bp.route("/<int:candidate_id>")
@shows_personal_data("duplicate_candidate", "candidate_id")
def candidate(candidate_id: int):
    return _render(candidate_id)


@bp.route("/<int:candidate_id>/decide", methods=["POST"])
def decide(candidate_id: int):
    """decision=same with keep=<person id> and base=<version number of the household of the
    record cancelled>, or decision=not_same; a note either way."""
    me = _me()
    decision = request.form.get("decision", "")
    note = request.form.get("note", "")
    try:
        if decision == "not_same":
            duplicates.decide_not_same(me, candidate_id, note=note)
            done = _("Decided: not the same person. The pair will not be proposed again.")
        elif decision == "same":
            keep = _uuid(request.form.get("keep", ""))
            base = _int(request.form.get("base", ""), "base")
            saved = duplicates.decide_same(me, candidate_id, keep_person_id=keep, base_number=base, note=note)
            done = _("Decided: the same person. The other record was cancelled as a duplicate in card %(card)s "
                     "(version %(n)d, a draft that goes through the approval chain again).",
                     card=saved.household.card_no, n=saved.version.number)
        else:
            raise Invalid(_("Choose a decision."), field="decision")
    except NotFound:
        raise
    except DomainError as e:
        db.session.rollback()
        return _render(candidate_id, e.message, e.status)
    db.session.commit()
    flash(done, "success")
    return redirect(url_for("duplicates.candidate", candidate_id=candidate_id))


def _uuid(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise Invalid(_("Choose which of the two records to keep."), field="keep") from None


def _int(text: str, field: str) -> int:
    text = text.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 9):
        raise Invalid(_("The page is out of date: open the candidate again."), field=field)
    return int(text)
