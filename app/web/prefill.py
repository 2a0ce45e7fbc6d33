"""Pre-filled households (issue 16): the village leader gives them to collectors.

The leader picks several pre-filled households of a village (checkboxes) and one collector;
the collector finds them on their home page under "pre-filled, to verify". The household page
itself (app/web/collect.py) has the one-tap "核对无误" and the notices of a newer register.
"""
from __future__ import annotations

import uuid

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.domain import prefill, scope
from app.domain.errors import Invalid
from app.extensions import db
from app.models import User
from app.routing import db_int
from app.web import shows_personal_data, viewed
from app.web.household_views import household_helpers

bp = Blueprint("prefill", __name__, url_prefix="/review/prefilled")
bp.context_processor(household_helpers)

PER_PAGE = 100


def _me() -> User:
    return current_user._get_current_object()


@bp.route("/")
def index():
    """The leader's villages with their pre-filled drafts, and how many are not given out yet."""
    me = _me()
    if not scope.scope_paths(me, "household.assign"):
        flash(_("Only village leaders give pre-filled households to collectors."), "error")
        return redirect(url_for("home.index"))
    return render_template("prefill/index.html", rows=prefill.villages_to_assign(me))


@bp.route("/<int:unit_id>", methods=["GET", "POST"])
@shows_personal_data("household_list")
def village(unit_id: int):
    me = _me()
    unassigned = request.values.get("unassigned") == "1"
    page = request.args.get("page", 1, type=db_int) or 1
    message, status, chosen = None, 200, set()
    if request.method == "POST":
        chosen = set(request.form.getlist("household_id"))
        try:
            ids = [_uuid(v) for v in chosen]
            collector_text = request.form.get("collector_id", "")
            collector_id = None if collector_text == "none" else _int(collector_text)
            n = prefill.assign(me, unit_id, ids, collector_id)
        except Invalid as e:
            db.session.rollback()
            message, status = e.message, e.status
        else:
            db.session.commit()
            flash(_("%(n)d households given to the collector.", n=n) if collector_id is not None
                  else _("%(n)d households taken back.", n=n))
            return redirect(url_for(".village", unit_id=unit_id, unassigned="1" if unassigned else None))
    unit, items, total = prefill.prefilled_of_village(me, unit_id, unassigned_only=unassigned, page=page,
                                                      per_page=PER_PAGE)
    viewed(count=total, page=page, unit_path=unit.path, unassigned=unassigned or None)
    collectors = prefill.collectors_of(unit)
    names = {u.id: u.name for u in collectors}
    pages = max(1, -(-total // PER_PAGE))
    return render_template("prefill/village.html", village=unit, items=items, total=total, page=page, pages=pages,
                           collectors=collectors, names=names, unassigned=unassigned, message=message,
                           chosen=chosen), status


def _uuid(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise Invalid(_("Choose households from the list."), field="household_id") from None


def _int(text: str) -> int:
    text = text.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 9):
        raise Invalid(_("Choose a collector of this village."), field="collector_id")
    return int(text)
