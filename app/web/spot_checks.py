"""Spot checks (抽查, issue 17): a township's list, the draw form, the check list (page, PDF,
Excel) with the village's accuracy and its formula, and the checker's entry page on the phone.

Views stay thin: parse, call app.domain.spot_checks, commit, render. What is recorded about a
person (the check list, the entry pages, the files) is in the access log."""
from __future__ import annotations

import datetime as dt
import io
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

import printing
from printing.check_list import render_check_list
from app.domain import registration, scope, settings
from app.domain import spot_checks as sc
from app.domain.errors import DomainError
from app.extensions import db
from app.models import SpotCheck, User
from app.routing import db_int
from app.web import label_language, shows_personal_data, viewed
from collection_forms.characters import code_points
from exchange.cells import text_row

bp = Blueprint("spot_checks", __name__, url_prefix="/spot-checks")

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _me() -> User:
    return current_user._get_current_object()


def _may_draw(me: User) -> bool:
    return bool(scope.scope_paths(me, "spotcheck.draw") or scope.scope_paths(me, "spotcheck.point"))


@bp.app_context_processor
def spot_check_link():
    # The nav links here for the users who draw spot checks (township and county); checkers
    # and village leaders open the spot check they are given.
    return {"can_see_spot_checks": lambda: current_user.is_authenticated and _may_draw(current_user)}


def accuracy_text(checked: int, right: int) -> str:
    """主要数据项准确率 with its formula: right ÷ checked × 100 %."""
    if not checked:
        return _("Accuracy of main items = items right ÷ items checked: nothing entered yet")
    return _("Accuracy of main items = items right ÷ items checked × 100 %% = %(right)d ÷ %(checked)d = %(rate)s",
             right=right, checked=checked, rate=f"{right / checked * 100:.1f} %")


@bp.route("/")
def index():
    """The spot checks of a unit (the user's own area by default), newest first."""
    me = _me()
    tops = scope.top_units(me)
    unit_id = request.args.get("unit_id", type=db_int)
    if unit_id is not None:
        unit = scope.require_unit(me, unit_id)
    elif tops:
        unit = tops[0]
    else:
        abort(404)
    checks = sc.spot_checks_of(me, unit)
    # The village's accuracy is the acceptance round's: the figure the scorecard and acceptance use.
    round_ = settings.current().acceptance_round
    accuracy = sc.accuracy_by_village({c.village_id for c in checks}, round_)
    return render_template("spot_checks/index.html", unit=unit, checks=checks, accuracy=accuracy, round=round_,
                           progress=sc.progress, accuracy_text=accuracy_text, may_draw=_may_draw(me), tops=tops)


@bp.route("/draw")
def villages():
    me = _me()
    return render_template("spot_checks/villages.html", villages=sc.villages_to_draw(me))


@bp.route("/draw/<int:unit_id>", methods=["GET", "POST"])
def draw(unit_id: int):
    me = _me()
    village = scope.require_unit(me, unit_id)
    today = registration.today()
    may_point = scope.can(me, "spotcheck.point", village)
    values = {"seed": sc.default_seed(village, today), "round": settings.current().acceptance_round,
              "kind": "village"}
    message, field, status = None, None, 200
    if request.method == "POST":
        values = {k: request.form.get(k, "") for k in ("seed", "round", "kind")}
        try:
            check = sc.draw(me, village.id, seed=values["seed"], round_=values["round"], today=today,
                            kind=values["kind"] or "village")
        except sc.AlreadyDrawn as error:
            # A double submit or a redraw: the one sample of the round, said so.
            db.session.rollback()
            flash(error.message, "warning")
            return redirect(url_for("spot_checks.show", spot_check_id=error.spot_check.id))
        except DomainError as error:
            db.session.rollback()
            message, field, status = error.message, error.field, error.status
        else:
            db.session.commit()
            flash(_("Spot check drawn: %(n)d to check.", n=check.sample_size), "success")
            return redirect(url_for("spot_checks.show", spot_check_id=check.id))
    elif not (scope.can(me, "spotcheck.draw", village) or may_point):
        abort(403)
    return render_template("spot_checks/draw.html", village=village, values=values, message=message,
                           field=field, may_point=may_point,
                           may_village=scope.can(me, "spotcheck.draw", village)), status


def _check(spot_check_id: int) -> SpotCheck:
    return sc.get_spot_check(_me(), spot_check_id)


@bp.route("/<int:spot_check_id>")
@shows_personal_data("spot_check", "spot_check_id")
def show(spot_check_id: int):
    check = _check(spot_check_id)
    viewed(unit_path=check.village.path, count=len(check.items))
    return _show_page(check)


def _show_page(check: SpotCheck, message: str | None = None, status: int = 200):
    round_ = settings.current().acceptance_round
    checked, right = sc.accuracy_by_village([check.village_id], round_)[check.village_id]
    own_checked = sum(i.items_checked or 0 for i in check.items)
    own_right = sum((i.items_checked or 0) - (i.items_wrong or 0) for i in check.items)
    return render_template("spot_checks/show.html", check=check, persons=sc.listed(check, registration.today(),
                                                                                   label_language()),
                           facts=sc.facts(check, registration.local_zone()), progress=sc.progress(check),
                           village_accuracy=accuracy_text(checked, right), round=round_,
                           own_accuracy=accuracy_text(own_checked, own_right), message=message), status


@bp.route("/<int:spot_check_id>/check-list.pdf")
@shows_personal_data("spot_check", "spot_check_id")
def pdf(spot_check_id: int):
    check = _check(spot_check_id)
    viewed(unit_path=check.village.path, count=len(check.items), format="pdf")
    me = _me()
    imprint = printing.Imprint(me.name, dt.datetime.now(registration.local_zone()))
    try:
        data = render_check_list(sc.check_list_document(check, registration.today(), registration.local_zone()),
                                 imprint=imprint)
    except printing.MissingGlyphs as error:
        # Never boxes on paper, never a 500: say which characters and households to correct.
        return _show_page(check, _(
            "The check list cannot be printed: no font has the characters %(chars)s (%(points)s), used in "
            "household(s) %(cards)s. Correct them in the household, then print again.",
            chars="、".join(error.chars), points=code_points(list(error.chars)),
            cards="、".join(error.card_nos) or "?"), 422)
    except printing.PrintingError as error:
        return _show_page(check, _("The check list cannot be printed: %(reason)s", reason=str(error)), 503)
    return send_file(io.BytesIO(data), mimetype="application/pdf", as_attachment=True,
                     download_name=f"spot-check-{check.id}-{check.village.code}.pdf")


@bp.route("/<int:spot_check_id>/check-list.xlsx")
@shows_personal_data("spot_check", "spot_check_id")
def xlsx(spot_check_id: int):
    check = _check(spot_check_id)
    viewed(unit_path=check.village.path, count=len(check.items), format="xlsx")
    out = io.BytesIO()
    check_list_workbook(check, sc.listed(check, registration.today(), "zh")).save(out)
    out.seek(0)
    return send_file(out, mimetype=XLSX, as_attachment=True,
                     download_name=f"spot-check-{check.id}-{check.village.code}.xlsx")


XLSX_COLUMNS = ("序号", "户卡编号", "地址", "被抽查人", "项目", "登记值", "对", "错", "核实值")


def check_list_workbook(check: SpotCheck, persons: list[sc.ListedPerson]) -> Workbook:
    """The check list as a sheet: one row per item to verify, with what was entered so far."""
    book = Workbook()
    sheet = book.active
    sheet.title = "抽查核对表"
    sheet.append(text_row(sheet, [f"抽查核对表 {check.village.name} {check.village.code}"]))
    sheet["A1"].font = Font(bold=True, size=14)
    for label, value in sc.facts(check, registration.local_zone()):
        sheet.append(text_row(sheet, [label, value]))
    sheet.append([])
    sheet.append(list(XLSX_COLUMNS))
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    for p in persons:
        results = p.item.results or {}
        for e in p.items:
            found = results.get(e.checked.path)
            ok = "" if found is None else ("√" if found.get("ok") else "")
            wrong = "" if found is None else ("" if found.get("ok") else "√")
            # Names, addresses and what the checker typed are text, never formulas (text_row).
            sheet.append(text_row(sheet, [p.item.position, p.household.card_no, p.address, p.who, e.label,
                                          e.recorded, ok, wrong, (found or {}).get("found", "")]))
    for letter, width in zip("ABCDEFGHI", (6, 10, 24, 22, 18, 24, 5, 5, 24), strict=True):
        sheet.column_dimensions[letter].width = width
    for row in sheet.iter_rows(min_row=1):
        for cell in row:
            cell.alignment = Alignment(vertical="top", wrap_text=True)
    return book


@bp.route("/<int:spot_check_id>/items/<int:position>", methods=["GET", "POST"])
@shows_personal_data("spot_check_item")
def item(spot_check_id: int, position: int):
    me = _me()
    lang = label_language()
    check = _check(spot_check_id)
    found = sc.get_item(me, check.id, position)
    viewed(object_id=found.id, unit_path=check.village.path)
    today = registration.today()
    person = next(p for p in sc.listed(check, today, lang) if p.item.id == found.id)
    message, field, status = None, None, 200
    typed: dict[str, dict[str, Any]] = {}
    if request.method == "POST":
        typed = {e.checked.path: {"ok": request.form.get(f"ok:{e.checked.path}"),
                                  "found": request.form.get(f"found:{e.checked.path}", "")} for e in person.items}
        try:
            sc.enter(me, check.id, position, typed, today=today, lang=lang)
        except DomainError as error:
            db.session.rollback()
            message, field, status = error.message, error.field, error.status
        else:
            db.session.commit()
            flash(_("Saved: %(wrong)d of %(n)d items wrong.", wrong=found.items_wrong, n=found.items_checked),
                  "success")
            following = position + 1 if position < len(check.items) else None
            if following:
                return redirect(url_for("spot_checks.item", spot_check_id=check.id, position=following))
            return redirect(url_for("spot_checks.show", spot_check_id=check.id))
    elif found.results:
        typed = {path: {"ok": "1" if r.get("ok") else "0", "found": r.get("found", "")}
                 for path, r in found.results.items()}
    return render_template("spot_checks/item.html", check=check, person=person, found=found, typed=typed,
                           message=message, field=field, refusal=sc.may_check(me, found), lang=lang,
                           total=len(check.items)), status
