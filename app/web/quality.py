"""Quality checks (质量核查, issue 17): the rule list (and its table as CSV or Excel), a
registry-wide run from a page (a job on the task queue, with its progress), the work list of
each village (every open finding, filters by rule, collector and group, Excel), the
collector's own findings on the phone, and explanations (说明): written by the collector or
the village leader, accepted or refused by the township's verifier."""
from __future__ import annotations

import csv
import datetime as dt
import io

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

import quality
from app.domain import prefill, quality_runs, scope
from app.domain.errors import Conflict, Forbidden, Invalid
from app.extensions import db
from app.models import AdminUnit, UnitLevel
from app.routing import db_int
from app.web import label_language, shows_personal_data, viewed

bp = Blueprint("quality", __name__, url_prefix="/quality")

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
RUN_STATE_LABELS = {"queued": _l("Waiting to start…"), "running": _l("Checking…"), "done": _l("Done"),
                    "failed": _l("Stopped")}
LEVEL_LABELS = {"error": _l("Error"), "warning": _l("Warning")}
SCOPE_LABELS = {"person": _l("Person"), "household": _l("Household"), "across_households": _l("Across households"),
                "married_woman": _l("Married woman 15-49")}
EXPLANATION_LABELS = {"proposed": _l("Explained, waiting for the township"), "accepted": _l("Explanation accepted"),
                      "refused": _l("Explanation refused")}


def _text(parts: dict[str, str] | None) -> str:
    parts = parts or {}
    return parts.get(label_language()) or parts.get("zh") or ""


def _rule_title(rule_id: str) -> str:
    try:
        return _text(quality.rule(rule_id).title)
    except KeyError:
        return rule_id


@bp.app_context_processor
def quality_labels():
    return {"rule_title": _rule_title, "quality_text": _text,
            "level_label": lambda v: str(LEVEL_LABELS.get(v, v)),
            "scope_label": lambda v: str(SCOPE_LABELS.get(v, v)),
            "explanation_label": lambda v: str(EXPLANATION_LABELS.get(v or "", "")),
            "run_state_label": lambda v: str(RUN_STATE_LABELS.get(v, v)),
            "can_run_quality": lambda: current_user.is_authenticated
            and bool(scope.scope_paths(current_user, "quality.run"))}


# ------------------------------------------------------------------ the rules


@bp.route("/rules")
def rules():
    return render_template("quality/rules.html", rules=quality.rules(), language=label_language())


def _rule_table() -> tuple[list[str], list[list[str]]]:
    rows = quality.rule_rows()
    columns = list(quality.RULE_COLUMNS)
    return columns, [[str(r.get(c) or "") for c in columns] for r in rows]


@bp.route("/rules.csv")
def rules_csv():
    columns, rows = _rule_table()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerows(rows)
    data = ("\ufeff" + out.getvalue()).encode("utf-8")  # the BOM: Excel opens it as UTF-8
    return send_file(io.BytesIO(data), mimetype="text/csv", as_attachment=True, download_name="quality-rules.csv")


@bp.route("/rules.xlsx")
def rules_xlsx():
    columns, rows = _rule_table()
    return _xlsx(_("Rules"), columns, rows, "quality-rules.xlsx")


def _xlsx(title: str, columns: list[str], rows: list[list[object]], name: str):
    from openpyxl import Workbook

    from exchange.cells import text_row

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title[:31])
    ws.append(columns)
    for row in rows:
        ws.append(text_row(ws, row))  # names, messages, explanations: text, never formulas
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    return send_file(out, mimetype=XLSX, as_attachment=True, download_name=name)


# ------------------------------------------------------------------ overview and runs


@bp.route("/")
def index():
    me = current_user
    return render_template("quality/index.html", villages=quality_runs.villages_overview(me),
                           units=quality_runs.runnable_units(me), runs=quality_runs.runs_for(me, 10),
                           may_run=bool(scope.scope_paths(me, "quality.run")),
                           may_decide=bool(scope.scope_paths(me, "quality.decide")),
                           is_collector=bool(scope.scope_paths(me, "household.edit")))


@bp.route("/runs", methods=["POST"])
def ask_run():
    """A run on the task queue: recorded as queued and committed first (the worker must see
    it), then enqueued; one at a time per unit."""
    me = current_user
    unit_id = request.form.get("unit_id", type=db_int)
    try:
        r = quality_runs.ask(me, unit_id, stale_after=dt.timedelta(
            seconds=current_app.config.get("QUALITY_RUN_STALE_AFTER", 600)))
    except (Invalid, Conflict, Forbidden) as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("quality.index"))
    if r is None:
        db.session.rollback()
        flash(_("A run of the checks of this unit is already under way; it was not started again."), "error")
        return redirect(url_for("quality.index"))
    run_id, actor_id = r.id, me.id
    db.session.commit()
    from app.jobs import run_quality

    run_quality(run_id, actor_id)
    return redirect(url_for("quality.run", run_id=run_id))


@bp.route("/runs/<int:run_id>")
def run(run_id: int):
    r = quality_runs.get_run(current_user, run_id)
    busy = r.state in ("queued", "running")
    return render_template("quality/run.html", r=r, busy=busy)


@bp.route("/runs/<int:run_id>/status")
def run_status(run_id: int):
    r = quality_runs.get_run(current_user, run_id)
    return jsonify(state=r.state, state_label=str(RUN_STATE_LABELS.get(r.state, r.state)),
                   done=r.households_done or 0, total="…" if r.households_total is None else r.households_total,
                   open=r.findings_open if r.findings_open is not None else "…",
                   new=r.findings_new if r.findings_new is not None else "…",
                   resolved=r.findings_resolved if r.findings_resolved is not None else "…",
                   busy=r.state in ("queued", "running"))


# ------------------------------------------------------------------ work lists


def _filters(village: AdminUnit) -> quality_runs.ListFilters:
    rule = request.args.get("rule", "")[:64] or None
    level = request.args.get("level", "")
    return quality_runs.ListFilters(rule=rule, level=level if level in LEVEL_LABELS else None,
                                    collector_id=request.args.get("collector", type=db_int) or None,
                                    group_id=request.args.get("group", type=db_int) or None)


WORK_LIMIT = 500


@bp.route("/villages/<int:unit_id>")
@shows_personal_data("quality_findings", "unit_id")
def village(unit_id: int):
    me = current_user
    unit = scope.require_unit(me, unit_id)
    if unit.level != UnitLevel.village.value:
        raise Invalid(_("Work lists are per village."), field="unit_id")
    filters = _filters(unit)
    rows = quality_runs.open_findings(me, unit.id, filters, limit=WORK_LIMIT + 1)
    viewed(unit_path=unit.path, count=min(len(rows), WORK_LIMIT), rule=filters.rule, level=filters.level,
           collector=filters.collector_id, group=filters.group_id)
    groups = quality_runs.groups_of(unit)
    return render_template("quality/village.html", unit=unit, rows=rows[:WORK_LIMIT], more=len(rows) > WORK_LIMIT,
                           filters=filters, rules=quality_runs.rules_found(unit.id),
                           collectors=prefill.collectors_of(unit), groups=groups,
                           errors=quality_runs.error_count(unit.id),
                           may_explain=scope.can_at(me, "quality.explain", unit.path))


WORK_COLUMNS = ("card_no", "group", "member", "person", "rule", "rule_title", "level", "message", "path",
                "first_seen", "explanation_state", "explanation")


@bp.route("/villages/<int:unit_id>.xlsx")
@shows_personal_data("quality_findings", "unit_id")
def village_xlsx(unit_id: int):
    me = current_user
    unit = scope.require_unit(me, unit_id)
    filters = _filters(unit)
    found = quality_runs.open_findings(me, unit.id, filters)
    rows = []
    for f, h, name in found:
        member = (f.member_index + 1) if f.member_index is not None else ""
        rows.append([h.card_no, h.group.name if h.group else "", member, name or "", f.rule, _rule_title(f.rule),
                     str(LEVEL_LABELS.get(f.level, f.level)), _text(f.message), f.path,
                     f.first_seen_at.strftime("%Y-%m-%d %H:%M"),
                     str(EXPLANATION_LABELS.get(f.explanation_state or "", "")), f.explanation or ""])
    viewed(unit_path=unit.path, count=len(rows), rule=filters.rule, collector=filters.collector_id,
           group=filters.group_id)
    header = [_("Card no."), _("Group"), _("Member"), _("Person"), _("Rule"), _("Rule title"), _("Level"),
              _("Message"), _("Field"), _("First seen"), _("Explanation state"), _("Explanation")]
    return _xlsx(unit.name, header, rows, f"quality-{unit.code}.xlsx")


@bp.route("/mine")
@shows_personal_data("quality_findings")
def mine():
    """The collector's own households' findings, on the phone."""
    rows = quality_runs.collector_findings(current_user)
    viewed(count=len(rows))
    return render_template("quality/mine.html", rows=rows)


# ------------------------------------------------------------------ one finding and its explanation


@bp.route("/findings/<int:finding_id>")
@shows_personal_data("quality_finding", "finding_id")
def finding(finding_id: int):
    me = current_user
    f = quality_runs.get_finding(me, finding_id)
    viewed(unit_path=f.unit_path)
    return _finding_page(f)


def _finding_page(f, status: int = 200):
    me = current_user
    from app.models import Household

    h = db.session.get(Household, f.household_id)
    return render_template("quality/finding.html", f=f, h=h,
                           may_explain=scope.can_at(me, "quality.explain", f.unit_path)
                           and f.resolved_at is None and f.explanation_state != "accepted",
                           may_decide=scope.can_at(me, "quality.decide", f.unit_path)
                           and f.explanation_state == "proposed" and f.explained_by_id != me.id), status


@bp.route("/findings/<int:finding_id>/explain", methods=["POST"])
def explain(finding_id: int):
    try:
        f = quality_runs.explain(current_user, finding_id, request.form.get("explanation", ""))
    except (Invalid, Conflict) as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("quality.finding", finding_id=finding_id))
    db.session.commit()
    flash(_("The explanation was saved; the township accepts or refuses it."), "success")
    return redirect(url_for("quality.finding", finding_id=f.id))


@bp.route("/findings/<int:finding_id>/decide", methods=["POST"])
def decide(finding_id: int):
    quality_runs.get_finding(current_user, finding_id, "quality.decide")  # the scope first: 404/403
    decision = request.form.get("decision", "")
    if decision not in ("accept", "refuse"):
        flash(_("Choose accept or refuse."), "error")
        return redirect(url_for("quality.finding", finding_id=finding_id))
    try:
        quality_runs.decide(current_user, finding_id, accept=decision == "accept",
                            reason=request.form.get("reason", ""))
    except (Invalid, Conflict) as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("quality.finding", finding_id=finding_id))
    db.session.commit()
    flash(_("The explanation was accepted.") if decision == "accept" else _("The explanation was refused."),
          "success")
    return redirect(url_for("quality.finding", finding_id=finding_id))


@bp.route("/explanations")
@shows_personal_data("quality_findings")
def explanations():
    """The township's queue: explanations waiting for a decision."""
    if not scope.scope_paths(current_user, "quality.decide"):
        raise Forbidden(_("Explanations are accepted or refused by the township's verifiers."))
    rows = quality_runs.waiting_explanations(current_user)
    viewed(count=len(rows))
    return render_template("quality/explanations.html", rows=rows)
