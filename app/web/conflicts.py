"""The village leader's sync conflicts (issue 6): a phone's edit made on an older version.

The list of open conflicts in the leader's villages; one conflict side by side, the server's
version ("theirs") and the phone's ("mine"), field by field with the form's labels; and the
three resolutions: keep the phone's, keep the server's, or merge by choosing per differing
field which side wins. Views call app.domain.sync, commit and redirect (PRG).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.domain import scope, sync
from app.domain.errors import DomainError, NotFound
from app.extensions import db
from app.models import HouseholdConflict, User
from app.web import label_language, shows_personal_data, viewed
from app.web.household_views import household_helpers
from app.web.forms_data import display_value
from collection_forms import FormDefinition, load_form
from collection_forms.loader import HOUSEHOLD, MEMBERS

bp = Blueprint("conflicts", __name__, url_prefix="/conflicts")
bp.context_processor(household_helpers)


def _me() -> User:
    return current_user._get_current_object()


@bp.app_context_processor
def _conflict_count() -> dict[str, Any]:
    """For the leader's queue page: a callable, so the count is asked only where it is shown."""
    def open_conflicts() -> int:
        if not current_user.is_authenticated or not scope.scope_paths(_me(), "household.resolve"):
            return 0
        return sync.count_open(_me())
    return {"open_conflict_count": open_conflicts}


@dataclass
class Row:
    key: str     # the pick's name: "household.door_no", "members.<person_id>.name"
    label: str
    theirs: str
    mine: str


@dataclass
class MemberRows:
    name: str
    kind: str  # "both": fields differ; "mine_only": added on the phone; "theirs_only": added on the server
    key: str = ""
    rows: list[Row] = field(default_factory=list)


def compare(theirs: dict[str, Any], mine: dict[str, Any], form: FormDefinition, lang: str
            ) -> tuple[list[Row], list[MemberRows]]:
    """The fields where the two sides differ, in the words of the form definition."""
    def shown(section: str, name: str, record: dict[str, Any] | None) -> str:
        value = display_value(record, name)
        f = form.fields_of(section).get(name)
        return f.code_list.label(value, lang) if value and f is not None and f.code_list is not None else value

    def rows(section: str, prefix: str, a: dict[str, Any], b: dict[str, Any]) -> list[Row]:
        out = []
        for name, f in form.fields_of(section).items():
            if display_value(a, name) != display_value(b, name):
                out.append(Row(f"{prefix}.{name}", f.label.get(lang, name), shown(section, name, a),
                               shown(section, name, b)))
        return out

    household = rows(HOUSEHOLD, "household", theirs.get(HOUSEHOLD) or {}, mine.get(HOUSEHOLD) or {})
    theirs_members = {display_value(m, "person_id"): m for m in theirs.get(MEMBERS) or []}
    mine_members = {display_value(m, "person_id"): m for m in mine.get(MEMBERS) or []}
    members = []
    for pid, m in mine_members.items():
        other = theirs_members.get(pid)
        if other is None:
            members.append(MemberRows(display_value(m, "name"), "mine_only", f"members.{pid}"))
        else:
            changed = rows(MEMBERS, f"members.{pid}", other, m)
            if changed:
                members.append(MemberRows(display_value(other, "name"), "both", rows=changed))
    members += [MemberRows(display_value(m, "name"), "theirs_only")
                for pid, m in theirs_members.items() if pid not in mine_members]
    return household, members


@bp.route("")
@shows_personal_data("conflict_list")
def index():
    """Open conflicts in the leader's villages, oldest first."""
    conflicts = sync.open_conflicts(_me())
    viewed(count=len(conflicts))
    return render_template("conflicts/index.html", conflicts=conflicts)


def _render(conflict: HouseholdConflict, message: str | None = None, status: int = 200):
    h = conflict.household
    viewed(object_id=h.id, unit_path=h.unit_path, conflict_id=conflict.id)
    theirs = h.current_version.data if h.current_version else {}
    household_rows, member_rows = compare(theirs, conflict.data, load_form(), label_language())
    may_resolve = conflict.state == "open" and scope.can_at(_me(), "household.resolve", h.unit_path)
    return render_template("conflicts/conflict.html", c=conflict, h=h, household_rows=household_rows,
                           member_rows=member_rows, may_resolve=may_resolve, message=message), status


@bp.route("/<int:conflict_id>")
@shows_personal_data("household")  # the household the conflict is about (viewed() names it)
def conflict(conflict_id: int):
    return _render(sync.get_conflict(_me(), conflict_id))


@bp.route("/<int:conflict_id>/resolve", methods=["POST"])
def resolve(conflict_id: int):
    """keep_mine, keep_theirs, or merged with the picks (the fields where the phone wins)."""
    me = _me()
    how = request.form.get("how", "")
    picks = {k[len("pick:"):] for k, v in request.form.items() if k.startswith("pick:") and v == "mine"}
    try:
        done = sync.resolve(me, conflict_id, how, picks)
    except NotFound:
        raise
    except DomainError as e:
        db.session.rollback()
        return _render(sync.get_conflict(me, conflict_id), e.message, e.status)
    db.session.commit()
    flash(_("Conflict of card %(card)s resolved.", card=done.household.card_no), "success")
    return redirect(url_for("conflicts.index"))
