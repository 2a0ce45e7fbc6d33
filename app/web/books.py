"""The clerk's screens: villages, their books, print jobs and their files (DESIGN.md §7)."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from app.domain import books, print_jobs, scope
from app.domain.errors import Invalid
from app.extensions import db
from app.jobs import run_print_job
from app.models import AdminUnit, Household, PrintJob, PrintJobKind, PrintJobState, UnitLevel
from app.routing import db_int
from app.web import shows_personal_data, writes_on_get

bp = Blueprint("books", __name__, url_prefix="/print")


@bp.context_processor
def labels():
    def job_label(job: PrintJob) -> str:
        kind = PrintJobKind(job.kind)
        if kind == PrintJobKind.village:
            return _("Every book of %(village)s", village=job.village.name)
        if kind == PrintJobKind.book:
            return _("Book %(n)s of %(village)s", n=job.book_no, village=job.village.name)
        if kind == PrintJobKind.changed:
            return _("Changed cards of book %(n)s", n=job.book_no)
        return _("Card %(card_no)s", card_no=books.card_no_in(job.village, job.household) if job.household else "")

    states = {PrintJobState.queued: _("Waiting"), PrintJobState.running: _("Printing"),
              PrintJobState.done: _("Done"), PrintJobState.failed: _("Failed")}
    return {"job_label": job_label, "job_state_label": lambda s: states[PrintJobState(s)]}


@bp.route("/")
def index():
    villages = list(db.session.scalars(
        scope.units_for(current_user, "card.print").where(AdminUnit.level == UnitLevel.village.value)
        .order_by(AdminUnit.path)))
    counts = dict(db.session.execute(
        select(Household.village_id, func.count()).where(Household.village_id.in_([v.id for v in villages]),
                                                         Household.collected_at.is_not(None))
        .group_by(Household.village_id)).all())
    rows = [{"village": v, "households": counts.get(v.id, 0), "books": books.books_of(v),
             "unslotted": books.unslotted_count(v)} for v in villages]
    return render_template("books/index.html", rows=rows)


@bp.route("/villages/<int:unit_id>")
@shows_personal_data("village_books", "unit_id")  # moved-out households by head name
def village(unit_id: int):
    unit = books.require_village(current_user, unit_id)
    return render_template("books/village.html", village=unit, books=books.books_of(unit),
                           unslotted=books.unslotted_count(unit), moved_out=books.moved_out_slots(unit),
                           jobs=print_jobs.recent_jobs(unit), book_size=current_app.config["BOOK_SIZE"])


@bp.route("/villages/<int:unit_id>/jobs", methods=["POST"])
def new_job(unit_id: int):
    unit = books.require_village(current_user, unit_id)
    form = request.form
    kind = form.get("kind", "")
    if kind not in {k.value for k in PrintJobKind}:
        kind = PrintJobKind.village.value
    try:
        job = print_jobs.request_job(current_user, unit, PrintJobKind(kind),
                                     book_no=request.args.get("book_no", type=db_int),
                                     card_no=(form.get("card_no") or "").strip(),
                                     page_size=form.get("page_size", "A4"))
    except Invalid as error:
        db.session.rollback()  # nothing changes, not even slots
        flash(error.message, "error")
        return redirect(url_for("books.village", unit_id=unit.id))
    job_id = job.id  # read before the commit: reading after it would open a transaction
    db.session.commit()
    run_print_job(job_id)  # after the commit: the queue's worker must see the job
    return redirect(url_for("books.job", job_id=job_id))


@bp.route("/jobs/<int:job_id>")
def job(job_id: int):
    item = print_jobs.get_job(current_user, job_id)
    running = item.state in (PrintJobState.queued.value, PrintJobState.running.value)
    return render_template("books/job.html", job=item, running=running)


@bp.route("/jobs/<int:job_id>/files/<int:index>")
@shows_personal_data("print_file", "job_id")
@writes_on_get  # each download of personal data is audited
def download(job_id: int, index: int):
    path, name = print_jobs.job_file(current_user, job_id, index)
    db.session.commit()
    return send_file(path, mimetype="application/pdf", as_attachment=True, download_name=name)
