"""The clerk's list imports (issue 16): upload a department list or a household register,
check the proposed column mapping on a preview of its first rows, import it on the task queue
with a progress page, then read its problems (HTML or Excel) or withdraw it.

The uploaded file is kept under LIST_UPLOAD_PATH named by its SHA-256; which uploads a user
may preview is kept in their (signed) session, so that nobody previews a file by its hash.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import re
import tempfile
from contextlib import closing
from itertools import islice
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import (Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, send_file,
                   session, url_for)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

import exchange
from app.config import DEFAULT_LIST_UPLOAD_MAX_BYTES, _instance_path
from app.domain import list_pages, prefill, scope
from app.domain import lists as lists_domain
from app.domain.errors import Conflict, DomainError, Forbidden, Invalid
from app.extensions import db, reads_first
from app.models import PREFILL_BUSY
from app.routing import db_int
from app.web import accepts_upload, label_language, shows_personal_data, viewed

bp = Blueprint("lists", __name__, url_prefix="/lists")

SOURCE_LABELS = {
    "police": _l("Police household register"),
    "births": _l("List of births"),
    "deaths": _l("List of deaths"),
    "register": _l("Township household register"),
    "other": _l("Other list"),
}
STATE_LABELS = {"loading": _l("Importing…"), "loaded": _l("Imported"), "failed": _l("Import failed"),
                "withdrawn": _l("Withdrawn")}
PREFILL_STATE_LABELS = {"queued": _l("Waiting to start…"), "running": _l("Pre-filling…"),
                        "done": _l("Pre-fill done"), "failed": _l("Pre-fill stopped")}
PREFILL_KEY_LABELS = {"household_no": _l("Household number (户号)"),
                      "village_card_no": _l("Village + card number (村+户卡编号)")}
PREVIEW_ROWS = 10
PENDING_KEPT = 5  # uploads a session remembers for their preview
SHA256 = re.compile(r"[0-9a-f]{64}")
MONTH = re.compile(r"(\d{4})-(\d{2})")
ZIP_MAGIC = b"PK\x03\x04"  # an .xlsx is a zip file


@bp.record_once
def _defaults(state) -> None:
    # For a config given whole (tests, scripts); from_environment() sets it in production.
    state.app.config.setdefault("LIST_UPLOAD_MAX_BYTES", DEFAULT_LIST_UPLOAD_MAX_BYTES)


@bp.context_processor
def labels():
    return {"source_label": lambda s: str(SOURCE_LABELS.get(s, s)),
            "field_label": _field_label,
            "list_state_label": lambda s: str(STATE_LABELS.get(s, s)),
            "prefill_state_label": lambda s: str(PREFILL_STATE_LABELS.get(s, s)),
            "prefill_key_label": lambda k: str(PREFILL_KEY_LABELS.get(k, k)),
            "sources": exchange.SOURCES}


@bp.app_context_processor
def import_link():
    # The nav and the home page link here for the users who import lists (list.import).
    return {"can_import_lists": lambda: current_user.is_authenticated and list_pages.may_import(current_user)}


@bp.errorhandler(RequestEntityTooLarge)
def too_large(_error):
    # Raised while the CSRF check reads the body: the file was not kept, nothing changed.
    flash(_("The file is larger than %(mb)d MB and was not uploaded. Split the list into several files.",
            mb=_max_bytes() // (1024 * 1024)), "error")
    return redirect(url_for("lists.index"))


def _field_label(field: str) -> str:
    return exchange.LABELS.get(field, {}).get(label_language(), field)


def _me():
    if not list_pages.may_import(current_user):
        raise Forbidden(_("Only clerks and administrators of a township or county import lists."))
    return current_user


def _upload_dir() -> Path:
    path = Path(current_app.config.get("LIST_UPLOAD_PATH") or _instance_path() / "lists")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _max_bytes() -> int:
    return int(current_app.config["LIST_UPLOAD_MAX_BYTES"])


def _message(parts: dict[str, str]) -> str:
    """A {zh, en} message of the exchange package in the page's language."""
    return parts.get(label_language()) or parts.get("zh") or ""


# ------------------------------------------------------------------ the lists of the area, and upload

@bp.route("/")
def index():
    me = _me()
    result = list_pages.lists_in_area(me, page=request.args.get("page", 1, type=db_int))
    return render_template("lists/index.html", result=result, max_mb=_max_bytes() // (1024 * 1024),
                           this_month=dt.datetime.now(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"]))
                           .strftime("%Y-%m"))


@bp.route("/upload", methods=["POST"])
@accepts_upload("LIST_UPLOAD_MAX_BYTES")
def upload():
    with reads_first():  # SQLite: no write lock while the file is received, hashed and read
        me = _me()
    source = request.form.get("source", "")
    month = (request.form.get("month") or "").strip()
    upload = request.files.get("file")
    errors = []
    if source not in exchange.SOURCES:
        errors.append(_("Source: choose where the list comes from."))
    if month and not _valid_month(month):
        errors.append(_("Month: give the list's month as 2026-11."))
    if upload is None or not upload.filename:
        errors.append(_("File: choose a CSV or Excel (.xlsx) file."))
    if errors:
        for e in errors:
            flash(e, "error")
        return redirect(url_for("lists.index"))
    sha256, path = _keep(upload)
    try:
        table = exchange.open_table(path)
    except exchange.UnreadableFile as error:
        _forget_file(path, sha256)
        flash(_("The file %(name)s cannot be read, and nothing was imported: %(reason)s",
                name=_file_name(upload.filename), reason=_message(error.message)), "error")
        return redirect(url_for("lists.index"))
    del table
    with reads_first():
        before = list_pages.imported_before(sha256, source)
        if before is not None:
            return _already_imported(me, before)
    pending = dict(session.get("list_uploads") or {})
    pending.pop(sha256, None)
    pending[sha256] = {"name": _file_name(upload.filename), "source": source, "month": month or None,
                       "suffix": path.suffix}
    session["list_uploads"] = dict(list(pending.items())[-PENDING_KEPT:])
    return redirect(url_for("lists.preview", sha256=sha256))


def _valid_month(value: str) -> bool:
    m = MONTH.fullmatch(value)
    return bool(m) and 1900 <= int(m.group(1)) <= 2100 and 1 <= int(m.group(2)) <= 12


def _file_name(name: str) -> str:
    # Only a label: the browser's name without any folder, and not too long for the table.
    return os.path.basename(name.replace("\\", "/")).strip()[:200] or "list"


def _keep(upload) -> tuple[str, Path]:
    """Write the upload into the upload folder as <sha256>.xlsx or .csv, hashing it on the way."""
    folder = _upload_dir()
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=".upload-")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            head = b""
            while chunk := upload.stream.read(1024 * 1024):
                head = head or chunk[:4]
                digest.update(chunk)
                out.write(chunk)
        path = _stored(digest.hexdigest(), head)
        os.replace(tmp, path)  # the same bytes as any earlier copy of that name
    finally:
        tmp.unlink(missing_ok=True)
    return digest.hexdigest(), path


def _stored(sha256: str, head: bytes) -> Path:
    # openpyxl opens a workbook only under an Excel name; exchange tells the rest by content.
    return _upload_dir() / f"{sha256}{'.xlsx' if head.startswith(ZIP_MAGIC) else '.csv'}"


def _forget_file(path: Path, sha256: str) -> None:
    """An unreadable upload is not kept (unless a list or another upload uses the same bytes)."""
    if sha256 not in (session.get("list_uploads") or {}):
        path.unlink(missing_ok=True)


def _pending(sha256: str) -> tuple[dict, Path]:
    item = (session.get("list_uploads") or {}).get(sha256) if SHA256.fullmatch(sha256) else None
    path = _upload_dir() / f"{sha256}{item.get('suffix', '') if item else ''}"
    if item is None or item.get("suffix") not in (".csv", ".xlsx") or not path.exists():
        abort(404)
    return item, path


# ------------------------------------------------------------------ preview and mapping

@bp.route("/uploads/<sha256>")
@shows_personal_data("list_preview")
def preview(sha256: str):
    _me()
    item, path = _pending(sha256)
    mappings = list_pages.saved_mappings(item["source"])
    chosen = request.args.get("mapping")
    return _render_preview(sha256, item, path, mappings=mappings, mapping_name=chosen)


@bp.route("/uploads/<sha256>", methods=["POST"])
def confirm(sha256: str):
    with reads_first():  # SQLite: the write lock is taken when the list is recorded, not while the file is read
        me = _me()
        item, path = _pending(sha256)
    table = _open(path)
    submitted, errors = _submitted_mapping(table.columns)
    proposal = exchange.propose_mapping(table.columns, item["source"]).with_overrides(submitted)
    errors += _blocking(proposal)
    unresolved = _unresolved(table.columns, item["source"], submitted)
    errors += [_ambiguous(field, columns) for field, columns in unresolved.items()]
    save_as = (request.form.get("save_as") or "").strip()[:64]
    if not errors:
        try:
            # Checks the file and mapping again and records the list as loading; the mapping is
            # saved when the import is done, under `save_as` or else the source's own name.
            result = lists_domain.prepare_import(me, path, source=item["source"], month=item["month"],
                                                 mapping_name=save_as or None, overrides=submitted,
                                                 file_name=item["name"])
        except DomainError as error:
            errors = [error.message]
    if errors:
        db.session.rollback()  # nothing recorded
        return _render_preview(sha256, item, path, mappings=list_pages.saved_mappings(item["source"]),
                               overrides=submitted, errors=errors, save_as=save_as, status=422,
                               doubtful={c for columns in unresolved.values() for c in columns})
    list_id, actor_id = result.list_id, me.id  # read before the commit: after it, reading opens a transaction
    if result.existing:
        db.session.rollback()
        return _already_imported(me, list_id)
    db.session.commit()
    _enqueue(list_id, path, item, save_as or None, submitted, actor_id)  # after the commit: the worker must see the list
    _forget_upload(sha256)
    return redirect(url_for("lists.show", list_id=list_id))


def _already_imported(me, list_id: int):
    """The same file of the same source counts once: its list, when the user may see it."""
    try:
        lists_domain.get_list(me, list_id)
    except DomainError:
        flash(_("This file was imported already in another area; importing it again would add nothing."), "error")
        return redirect(url_for("lists.index"))
    flash(_("This file was imported already (list %(id)d); importing it again would add nothing.", id=list_id),
          "error")
    return redirect(url_for("lists.show", list_id=list_id))


def _forget_upload(sha256: str) -> None:
    pending = dict(session.get("list_uploads") or {})
    pending.pop(sha256, None)
    session["list_uploads"] = pending


def _open(path: Path):
    try:
        return exchange.open_table(path)
    except exchange.UnreadableFile as error:  # it was read at upload: the file changed or went
        raise DomainError(_message(error.message)) from error


def _submitted_mapping(columns: list[str]) -> tuple[dict[str, str], list[str]]:
    """The form's choice for each column (col-0, col-1, …): {column: field or ""}."""
    chosen: dict[str, str] = {}
    errors = []
    for index, column in enumerate(columns):
        field = request.form.get(f"col-{index}", "")
        if field and field not in exchange.FIELDS:
            errors.append(_("Column %(column)s: choose one of the fields in the list.", column=column))
            field = ""
        chosen[column] = field
    # Proposal.with_overrides gives a field to the last column that names it: two columns
    # chosen for one field would quietly drop one, so the clerk is asked instead.
    by_field: dict[str, list[str]] = {}
    for column, field in chosen.items():
        if field:
            by_field.setdefault(field, []).append(column)
    for field, named in by_field.items():
        if len(named) > 1:
            errors.append(_("%(field)s is chosen for several columns (%(columns)s): keep it on one.",
                            field=_field_label(field), columns="、".join(named)))
    return chosen, errors


def _blocking(proposal) -> list[str]:
    """What stops an import: a needed field placed nowhere, a field placed on several columns."""
    errors = []
    for field in proposal.missing:
        errors.append(_("%(field)s is needed for this source: choose the column that holds it.",
                        field=_field_label(field)))
    for field, columns in proposal.ambiguous.items():
        errors.append(_ambiguous(field, columns))
    return errors


def _ambiguous(field: str, columns: list[str]) -> str:
    return _("%(field)s: the columns %(columns)s could each hold it; choose the one that does.",
             field=_field_label(field), columns="、".join(columns))


def _unresolved(columns: list[str], source: str, submitted: dict[str, str]) -> dict[str, list[str]]:
    """Fields that several columns' headers name, for which the clerk chose no column: the
    form shows them unchosen, and a confirm as shown would quietly drop the field."""
    chosen = set(submitted.values())
    return {field: named for field, named in exchange.propose_mapping(columns, source).ambiguous.items()
            if field not in chosen}


def _render_preview(sha256: str, item: dict, path: Path, *, mappings, mapping_name: str | None = None,
                    overrides: dict[str, str] | None = None, errors: list[str] | None = None,
                    save_as: str = "", status: int = 200, doubtful: set[str] | None = None):
    table = _open(path)
    with closing(table.rows()) as reading:  # closes the file at once, not when collected
        rows = list(islice(reading, PREVIEW_ROWS))
    proposal = exchange.propose_mapping(table.columns, item["source"])
    used = None
    if overrides is None:
        # The source's saved mapping, the one asked for or the last one saved, on the columns it names.
        by_name = {m.name: m for m in mappings}
        used = by_name.get(mapping_name) if mapping_name else (mappings[0] if mappings else None)
        if used is not None:
            fields = {column: field for field, column in (used.fields or {}).items() if column in table.columns}
            if fields:
                proposal = proposal.with_overrides(fields)
    else:
        proposal = proposal.with_overrides(overrides)
    field_of = {column: field for field, column in proposal.fields.items()}
    if doubtful is None:
        doubtful = {c for columns in proposal.ambiguous.values() for c in columns}
    if errors is None:
        errors = _blocking(proposal)
    samples_of = {c: [t for t in (_cell(r.values.get(c)) for r in rows) if t][:3] for c in table.columns}
    viewed(rows=len(rows), source=item["source"], file=item["name"])
    return render_template(
        "lists/preview.html", sha256=sha256, item=item, table=table, rows=rows, field_of=field_of,
        doubtful=doubtful, proposal=proposal, errors=errors, mappings=mappings, used=used,
        required=set(exchange.required_fields(item["source"])), fields=exchange.FIELDS, save_as=save_as,
        samples_of=samples_of, cell=_cell), status


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M") if (value.hour, value.minute) != (0, 0) else value.strftime("%Y-%m-%d")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _enqueue(list_id: int, path: Path, item: dict, mapping_name: str | None, overrides: dict[str, str],
             actor_id: int) -> None:
    from app.jobs import run_list_import

    # Every column's choice goes with the job (extras as ""), so that the job reads the file
    # exactly as confirmed here. The file stays: it is the evidence of the list.
    run_list_import(list_id, str(path), source=item["source"], actor_id=actor_id, month=item["month"],
                    mapping_name=mapping_name, overrides=overrides, file_name=item["name"])


# ------------------------------------------------------------------ one list: progress, problems, withdrawal

@bp.route("/<int:list_id>")
def show(list_id: int):
    me = _me()
    item = lists_domain.get_list(me, list_id)
    prefill_busy = item.prefill_state in PREFILL_BUSY
    # The form for a loaded police list or register, for the users who pre-fill (list.prefill).
    can_prefill = (item.state == "loaded" and item.source in prefill.SOURCES
                   and bool(scope.scope_paths(me, "list.prefill")))
    return render_template("lists/show.html", item=item, running=item.state == "loading",
                           prefill_busy=prefill_busy, polling=item.state == "loading" or prefill_busy,
                           can_prefill=can_prefill, keys=prefill.KEYS,
                           default_key=item.prefill_key or ("village_card_no" if item.source == "register"
                                                            else "household_no"),
                           may_assign=bool(scope.scope_paths(me, "household.assign")))


@bp.route("/<int:list_id>/status")
def status(list_id: int):
    item = lists_domain.get_list(_me(), list_id)
    return jsonify(state=item.state, state_label=str(STATE_LABELS.get(item.state, item.state)),
                   read=item.rows_read or 0, loaded=item.rows_loaded or 0, flagged=item.rows_flagged or 0,
                   refused=item.rows_refused or 0, duplicate=item.rows_duplicate or 0,
                   prefill_state=item.prefill_state,
                   prefill_state_label=str(PREFILL_STATE_LABELS.get(item.prefill_state or "", "")),
                   prefill_done=item.prefill_done or 0,
                   prefill_total="…" if item.prefill_total is None else item.prefill_total,
                   busy=item.state == "loading" or item.prefill_state in PREFILL_BUSY)


@bp.route("/<int:list_id>/prefill", methods=["POST"])
def ask_prefill(list_id: int):
    """Households pre-filled from the list, on the task queue: recorded as asked and committed
    first (the worker must see it), then enqueued; one at a time per list."""
    me = _me()
    item = lists_domain.get_list(me, list_id)
    key = request.form.get("key", "")
    try:
        asked = prefill.ask(me, item.id, key=key, stale_after=dt.timedelta(
            seconds=current_app.config.get("LIST_IMPORT_STALE_AFTER", 600)))
    except (Invalid, Conflict) as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("lists.show", list_id=list_id))
    if not asked:
        db.session.rollback()
        flash(_("A pre-fill of this list is already under way; it was not started again."), "error")
        return redirect(url_for("lists.show", list_id=list_id))
    actor_id = me.id  # read before the commit: after it, reading opens a transaction
    db.session.commit()
    from app.jobs import run_prefill

    run_prefill(list_id, key, actor_id)
    return redirect(url_for("lists.show", list_id=list_id))


@bp.route("/<int:list_id>/problems")
@shows_personal_data("list_problems", "list_id")
def problems(list_id: int):
    item = lists_domain.get_list(_me(), list_id)
    result = list_pages.problems_page(item, page=request.args.get("page", 1, type=db_int))
    viewed(unit_path=item.unit_path, count=result.total, page=result.page)
    return render_template("lists/problems.html", item=item, result=result, language=label_language())


@bp.route("/<int:list_id>/records")
@shows_personal_data("list_records", "list_id")
def records(list_id: int):
    item = lists_domain.get_list(_me(), list_id)
    result = list_pages.records_page(item, page=request.args.get("page", 1, type=db_int))
    viewed(unit_path=item.unit_path, count=result.total, page=result.page)
    return render_template("lists/records.html", item=item, result=result)


@bp.route("/<int:list_id>/problems.xlsx")
@shows_personal_data("list_problems", "list_id")
def problems_xlsx(list_id: int):
    item = lists_domain.get_list(_me(), list_id)
    out = io.BytesIO()
    exchange.write_problems_xlsx(lists_domain.problems_of(item.id), out)
    out.seek(0)
    viewed(unit_path=item.unit_path, count=lists_domain.count_problems(item.id))
    return send_file(out, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                     as_attachment=True, download_name=f"list-{item.id}-problems.xlsx")


@bp.route("/<int:list_id>/withdraw")
def withdraw_form(list_id: int):
    item = lists_domain.get_list(_me(), list_id)
    return render_template("lists/withdraw.html", item=item)


@bp.route("/<int:list_id>/withdraw", methods=["POST"])
def withdraw(list_id: int):
    me = _me()
    item = lists_domain.get_list(me, list_id)
    if request.form.get("confirm") != "yes":
        flash(_("Tick the box to confirm that this list is to be withdrawn."), "error")
        return redirect(url_for("lists.withdraw_form", list_id=item.id))
    try:
        lists_domain.withdraw(me, item.id)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("lists.show", list_id=list_id))
    db.session.commit()
    flash(_("The list was withdrawn: its records no longer count anywhere."), "success")
    return redirect(url_for("lists.show", list_id=list_id))


# ------------------------------------------------------------------ blank templates

@bp.route("/template")
def template():
    # Query arguments, not path ones: a template is nobody's object, the same for every area.
    _me()
    source, fmt = request.args.get("source", ""), request.args.get("format", "xlsx")
    if source not in exchange.SOURCES or fmt not in ("xlsx", "csv"):
        abort(404)
    data = exchange.blank_template(source, fmt)
    mimetype = ("text/csv" if fmt == "csv"
                else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    return send_file(io.BytesIO(data), mimetype=mimetype, as_attachment=True,
                     download_name=f"template-{source}.{fmt}")
