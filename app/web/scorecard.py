"""The village scorecard and acceptance pages (issue 17, app.domain.scorecard).

- /quality/scorecard/<unit>: a unit's figures with the formula of each, and each child unit's
  (county -> townships -> villages: a drill-down); a village's page has its acceptance: the
  leader's application, the township's decision, the households changed after acceptance.
- /quality/thresholds/<county>: the county administrator sets the county's thresholds.
- /quality/expected/<unit>: households expected per village, entered or from a police register.

Views stay thin: parse, call one domain function, commit, render. Every page shows counts and
rates only (no person), so none is in the access log (tests/test_access_log.py says why).
"""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.domain import scope, settings
from app.domain import scorecard as domain
from app.domain.errors import DomainError, Invalid
from app.extensions import db
from app.models import User
from app.routing import db_int
from app.web import label_language

bp = Blueprint("scorecard", __name__, url_prefix="/quality")

ACCEPTANCE_LABELS = {"applied": _l("Applied, waiting for the township"), "refused": _l("Not accepted"),
                     "accepted": _l("Accepted")}
OVER_LABELS = {"errors": _l("Re-check the households with errors"), "all": _l("Re-check every household")}


def _me() -> User:
    return current_user._get_current_object()


def _round() -> str:
    return settings.current().acceptance_round


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _parts(row: domain.Figures, key: str) -> str:
    """The figure's numerator and denominator, as counted ("38 / 40")."""
    if key == "entry_rate":
        if row.households_expected is None:
            return _("%(n)d collected; households expected not entered", n=row.households_collected)
        text = f"{row.collected_of_expected} / {row.households_expected}"
        if row.collected_of_expected != row.households_collected:  # villages without an expected count
            text += " " + _("(%(n)d collected in all)", n=row.households_collected)
        return text
    pairs = {"completeness_rate": (row.main_items_filled, row.main_items_required),
             "accuracy_rate": (row.items_right, row.items_checked),
             "duplicate_rate": (row.duplicates, row.persons),
             "verified_share": (row.households_verified, row.households_collected)}
    if key == "logic_error_rate":
        return f"{row.logic_errors} / ({row.married_women} × 10)"
    top, bottom = pairs[key]
    return f"{top} / {bottom}"


@bp.context_processor
def helpers():
    lang = label_language()
    return {"pct": _percent, "figure_text": lambda key, part: domain.FIGURES[key][part].get(lang, ""),
            "acceptance_label": lambda s: str(ACCEPTANCE_LABELS.get(s, s)),
            "over_label": lambda s: str(OVER_LABELS.get(s, s)), "lang": lang, "parts": _parts,
            "value_of": lambda row, key: getattr(row, key),
            "tr": lambda text: (text or {}).get(lang, "")}


@bp.app_context_processor
def scorecard_link():
    # The nav links here for every signed-in user with a unit (quality.view is every role).
    return {"can_see_scorecard": lambda: current_user.is_authenticated and bool(scope.top_units(current_user))}


# ---------------------------------------------------------------- the scorecard

@bp.route("/scorecard")
def index():
    tops = scope.top_units(_me())
    if len(tops) == 1:
        return redirect(url_for(".show", unit_id=tops[0].id))
    return render_template("scorecard/index.html", units=tops)


@bp.route("/scorecard/<int:unit_id>")
def show(unit_id: int):
    return _render(unit_id)


def _render(unit_id: int, *, message: str | None = None, field: str | None = None, status: int = 200,
            form: dict | None = None):
    me, round_ = _me(), _round()
    card = domain.scorecard_for(me, unit_id, round_)
    unit = card.unit
    ctx = {"card": card, "unit": unit, "round": round_, "message": message, "field": field, "form": form or {},
           "crumbs": _crumbs(me, unit), "figure_keys": list(domain.FIGURES)}
    if unit.level == "village":
        county = domain.county_of(unit)
        ctx.update(history=domain.history_of(unit, round_), changed=domain.changed_households(unit, round_),
                   thresholds=domain.thresholds_of(county),
                   failing=domain.failures(card.total, domain.thresholds_of(county)),
                   can_apply=scope.can(me, "acceptance.apply", unit),
                   can_decide=scope.can(me, "acceptance.decide", unit))
    else:
        county = domain.county_of(unit) if unit.level in ("county", "township") else None
        ctx.update(county=county, thresholds=domain.thresholds_of(county),
                   can_set_thresholds=county is not None and scope.can(me, "quality.thresholds", county),
                   can_expect=scope.can(me, "quality.expected", unit))
    return render_template("scorecard/show.html", **ctx), status


def _crumbs(me: User, unit):
    """The unit's ancestors the user may see, for the way back up the drill-down."""
    out, parent = [], unit.parent
    while parent is not None and scope.can(me, "quality.view", parent):
        out.append(parent)
        parent = parent.parent
    return list(reversed(out))


@bp.route("/scorecard/<int:unit_id>/apply", methods=["POST"])
def apply(unit_id: int):
    try:
        domain.apply(_me(), unit_id, _round(), request.form.get("application"))
    except Invalid as e:
        db.session.rollback()
        return _render(unit_id, message=e.message, field=e.field, status=e.status, form=request.form)
    except DomainError as e:
        db.session.rollback()
        if e.status == 409:
            return _render(unit_id, message=e.message, status=e.status)
        raise
    db.session.commit()
    flash(_("The application for acceptance was sent to the township."))
    return redirect(url_for(".show", unit_id=unit_id))


@bp.route("/acceptance/<int:acceptance_id>/decide", methods=["POST"])
def decide(acceptance_id: int):
    me = _me()
    choice = request.form.get("decision")
    row = domain.get_acceptance(me, acceptance_id, "acceptance.decide")
    village_id = row.village_id
    try:
        if choice not in ("accept", "refuse"):
            raise Invalid(_("Decision: choose accept or refuse."), field="decision")
        result = domain.decide(me, acceptance_id, accept=choice == "accept", reason=request.form.get("reason"))
    except Invalid as e:
        db.session.rollback()
        return _render(village_id, message=e.message, field=e.field, status=e.status, form=request.form)
    except DomainError as e:
        db.session.rollback()
        if e.status == 409:
            return _render(village_id, message=e.message, status=e.status)
        raise
    db.session.commit()
    if result.failures:
        flash(_("Refused automatically: a threshold is not met."), "error")
    elif result.acceptance.state == "accepted":
        flash(_("The village is accepted for round %(round)s.", round=result.acceptance.round))
    else:
        flash(_("The village is refused."))
    return redirect(url_for(".show", unit_id=village_id))


# ---------------------------------------------------------------- thresholds

@bp.route("/thresholds/<int:unit_id>", methods=["GET", "POST"])
def thresholds(unit_id: int):
    """The thresholds of the county of a unit (the county itself, or a unit below it)."""
    me = _me()
    unit = scope.require_unit(me, unit_id, "quality.thresholds")
    county = domain.county_of(unit)
    if county is None:
        raise Invalid(_("Thresholds are set for a county."), field="unit_id")
    county = scope.require_unit(me, county.id, "quality.thresholds")
    county_id = county.id
    message, field, status, form = None, None, 200, None
    if request.method == "POST":
        form = request.form
        try:
            domain.set_thresholds(me, county_id, request.form)
        except Invalid as e:
            db.session.rollback()
            message, field, status = e.message, e.field, e.status
        else:
            db.session.commit()
            flash(_("The thresholds of %(county)s are saved.", county=county.name))
            return redirect(url_for(".thresholds", unit_id=county_id))
    limits = domain.thresholds_of(county)
    values = form or {k: f"{getattr(limits, k) * 100:g}" for k in ("entry_rate_min", "completeness_min",
                                                                    "accuracy_min", "logic_error_max")}
    over = (form or {}).get("over_threshold") or limits.over_threshold
    return render_template("scorecard/thresholds.html", county=county, limits=limits, values=values, over=over,
                           over_choices=list(OVER_LABELS), message=message, field=field), status


# ---------------------------------------------------------------- expected households

@bp.route("/expected/<int:unit_id>", methods=["GET", "POST"])
def expected(unit_id: int):
    me, round_ = _me(), _round()
    unit = scope.require_unit(me, unit_id, "quality.expected")
    message, field, status, form = None, None, 200, {}
    if request.method == "POST":
        form = request.form
        try:
            if request.form.get("from_list"):
                list_id = request.form.get("list_id", type=db_int)
                if list_id is None:
                    raise Invalid(_("Choose an imported police register."), field="list_id")
                n = domain.expected_from_list(me, unit_id, list_id)
            else:
                values = {}
                for key, text in request.form.items():
                    if key.startswith("expected-"):
                        village = key.removeprefix("expected-")
                        if not (village.isascii() and village.isdigit() and len(village) <= 9):
                            raise Invalid(_("Choose a village."), field="village_id")
                        values[int(village)] = text
                n = domain.set_expected(me, values)
        except Invalid as e:
            db.session.rollback()
            message, field, status = e.message, e.field, e.status
        else:
            db.session.commit()
            flash(_("Households expected saved for %(n)d villages.", n=n))
            return redirect(url_for(".expected", unit_id=unit_id))
    villages = domain.village_figures(unit.path, round_)
    return render_template("scorecard/expected.html", unit=unit, villages=list(villages.values()),
                           lists=domain.police_lists(me, unit), message=message, field=field, form=form), status
