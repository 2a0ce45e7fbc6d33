"""History pages (issue 7): a household's versions with readable diffs and a kind filter, a
person's steps across households, and a village's changes of a month for its leader and
verifier (and its collectors, for the households of their units). Read-only: each view parses
the query, calls one function of app.domain.history and renders; anything outside the user's
area is NotFound through the app's error handler.
"""
from __future__ import annotations

import re
import uuid

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user

from app.domain import history, labels, registration
from app.models import User, VersionKind
from app.web import label_language, shows_personal_data, viewed
from app.web.household_views import household_helpers

bp = Blueprint("history", __name__, url_prefix="/history")
bp.context_processor(household_helpers)

_MONTH = re.compile(r"(\d{4})-(\d{1,2})", re.ASCII)


def _me() -> User:
    return current_user._get_current_object()


@bp.app_context_processor
def _change_kind_label() -> dict:
    """The kinds' labels for the household page's summary of recent changes."""
    return {"change_kind_label": labels.kind_label}


def _helpers() -> dict:
    return {"kind_label": labels.kind_label, "wf_state_label": labels.state_label}


@bp.route("/households/<uuid:household_id>")
@shows_personal_data("household", "household_id")
def household(household_id: uuid.UUID):
    """The household's versions newest first; ?kind=birth shows one kind only."""
    me = _me()
    kind = request.args.get("kind", "")
    kind = kind if kind in VersionKind.__members__ else ""
    h = registration.get_household(me, household_id)
    viewed(unit_path=h.unit_path, kind=kind)
    entries = history.household_history(me, household_id, kind or None, lang=label_language())
    month_link = any(v.id == h.village_id for v in history.month_villages(me))
    return render_template("history/household.html", h=h, entries=entries, kind=kind,
                           kinds=list(VersionKind), month_link=month_link, **_helpers())


@bp.route("/persons/<uuid:person_id>")
@shows_personal_data("person", "person_id")
def person(person_id: uuid.UUID):
    """One person's steps across households, oldest first."""
    found = history.person_history(_me(), person_id, lang=label_language())
    viewed(steps=len(found.entries))
    return render_template("history/person.html", person=found, **_helpers())


@bp.route("/changes")
def changes_index():
    """The villages whose monthly changes the user sees; with one village, its list at once."""
    villages = history.month_villages(_me())
    if len(villages) == 1:
        return redirect(url_for(".month", village_id=villages[0].id))
    return render_template("history/villages.html", villages=villages)


@bp.route("/villages/<int:village_id>/changes")
@shows_personal_data("village_changes", "village_id")
def month(village_id: int):
    """The village's life events of a month (?month=2026-11; this month when absent or unreadable)."""
    today = registration.today()
    year, number = today.year, today.month
    match = _MONTH.fullmatch(request.args.get("month", ""))
    if match and 1 <= int(match.group(2)) <= 12 and 2000 <= int(match.group(1)) <= 2100:
        year, number = int(match.group(1)), int(match.group(2))
    result = history.month_changes(_me(), village_id, year, number, lang=label_language())
    viewed(unit_path=result.village.path, month=f"{year}-{number:02d}", count=len(result.changes))
    return render_template("history/month.html", m=result, **_helpers())
