"""Importing lists (issue 16, DESIGN.md §10): a department's list (police, births, deaths,
others) or a township's own register, read by `exchange` and kept row by row.

How it works, and why:
- The file is read by `exchange` (pure): a file that cannot be read changes nothing.
- The mapping: a mapping saved for the source under that name comes first, the proposal
  from the header fills the rest, the user's overrides (--map) last. A required field that
  is missing or claimed by two columns stops the import, naming them.
- The same file (SHA-256 of its bytes) of the same source counts once: importing it again
  answers the list it made. The database guards it (a partial unique index).
- Each row is placed in its village (code or name), which must lie within the importing
  user's area: a row outside it is refused. A department row without a usable village is
  kept at the importing unit, flagged; a police or register row without one is refused (it
  cannot be placed in a household). Wrong values are kept as written and flagged per field.
  A row already in an active list of the same source and month (same content hash or the
  source's own record id) is counted as a duplicate and not added.
- Rows are written a chunk at a time with the driver's executemany (SQLite) or COPY
  (PostgreSQL); one ORM object per row would take minutes for the police's 400k rows. In
  batch mode (a `commit` callback: the CLI, the job) each chunk is committed on its own; the
  file is read, and each chunk's rows made ready, outside any transaction (the few reads
  before a chunk run deferred), so SQLite's one write lock is held only for a chunk's insert
  (1,000 rows) and a collector's save waits at most that long. The file's own earlier rows
  are found through a fixed-size Bloom filter, so memory stays flat and a first list of the
  month makes no look-up per chunk. A batch that fails half-way marks its list
  failed; its rows count for nothing, and importing the file again cleans and reloads it.
  Without a callback the whole import is one transaction, flushed, committed by the caller.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import exchange
from flask_babel import force_locale, get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from app.domain import audit
from app.domain.errors import Conflict, Forbidden, Invalid, NotFound
from app.domain.names import normalise_name
from app.domain.scope import PERMISSIONS, assignments
from app.domain.tree import in_any_subtree, is_within, minimal_roots
from app.extensions import db, reads_only
from app.models import (ACTIVE_STATES, AdminUnit, ImportedList, ListMapping, ListProblem, ListRecord, ListRecordLink, ListState,
                        UnitLevel, User, utcnow)

PERMISSION = "list.import"
# Rows a chunk: its transaction holds SQLite's one write lock (1,000 rows: ~0.15 s at a load of
# 5 on 2 cores; 2,000: ~0.3 s; 500: ~0.1 s but a quarter slower in all). PostgreSQL blocks no
# one and takes bigger chunks.
CHUNK_ROWS = {"sqlite": 1000, "postgresql": 2000}
# A 'loading' list whose loader gave no sign of life for this long was left by a process
# that died: importing the same file again cleans it.
STALE_AFTER = dt.timedelta(minutes=10)
SAMPLE_PROBLEMS = 100  # problems kept in the result for the CLI's report (all are in the database)
MONTH_RE = re.compile(r"\d{4}-(0[1-9]|1[0-2])")

# Sources whose rows become households (prefill): a row must be placed in a village.
HOUSEHOLD_SOURCES = ("police", "register")

_RECORD_COLUMNS = ("name", "sex", "birth_date", "id_number", "household_no", "card_no", "relation", "address",
                   "death_date", "mother_name", "mother_id_number", "hospital")
# Text columns and their length in the table: a longer value is flagged, kept in `raw`.
_LENGTHS: dict[str, int] = {c.name: c.type.length for c in ListRecord.__table__.columns
                            if c.name in (*_RECORD_COLUMNS, "record_id") and getattr(c.type, "length", None)}

# Our own problems (placing a row); exchange's come with their messages. Rendered in both
# languages once per import: the list of problems is read in either.
_PROBLEMS = {
    "village.missing": _l("no village: the row is kept at the importing unit"),
    "village.unknown": _l("no village with this code or name in your area: the row is kept at the importing unit"),
    "village.ambiguous": _l("several villages of your area have this name; write the village's code: "
                            "the row is kept at the importing unit"),
    "village.not_village": _l("this code is not a village or community: the row is kept at the importing unit"),
    "village.outside": _l("this village lies outside your area: the row was not imported"),
    "village.required_missing": _l("no village: a household cannot be placed, the row was not imported"),
    "village.required_unknown": _l("no village with this code or name in your area: the row was not imported"),
    "village.required_ambiguous": _l("several villages of your area have this name; write the village's code: "
                                     "the row was not imported"),
    "village.required_not_village": _l("this code is not a village or community: the row was not imported"),
    "text.too_long": _l("too long for this item: kept as written, not used"),
}


class ListUnreadable(Invalid):
    """The file cannot be read (exchange.UnreadableFile); nothing was changed."""

    def __init__(self, error: exchange.UnreadableFile):
        self.reason = error.reason
        self.messages = error.message
        super().__init__(_pick(error.message))


class MappingIncomplete(Invalid):
    """A required field has no column, or two columns claim one field."""

    def __init__(self, proposal: exchange.Proposal, messages: dict[str, str]):
        self.proposal = proposal
        self.messages = messages
        super().__init__(_pick(messages), field="mapping")


@dataclass
class ImportResult:
    list_id: int | None  # None for a dry run
    existing: bool       # the same file was imported already: nothing added
    read: int = 0
    loaded: int = 0
    flagged: int = 0
    refused: int = 0
    duplicate: int = 0
    proposal: exchange.Proposal | None = None
    dry_run: bool = False
    problems: list[exchange.RowProblem] = field(default_factory=list)  # the first SAMPLE_PROBLEMS


def _pick(messages: dict[str, str]) -> str:
    """The message in the current language."""
    try:
        language = get_locale().language
    except Exception:  # noqa: BLE001 - no app or request context: Chinese, the default
        language = "zh"
    return messages.get("en" if language == "en" else "zh") or messages.get("zh", "")


def _both(text) -> dict[str, str]:
    """A lazy string in Chinese and English."""
    with force_locale("zh_CN"):
        zh = str(text)
    with force_locale("en"):
        en = str(text)
    return {"zh": zh, "en": en}


# ------------------------------------------------------------------ area and villages

@dataclass
class _Area:
    roots: list[str] | None  # None: the whole tree (a command-line import without a user)
    unit_id: int | None
    unit_path: str

    def holds(self, path: str) -> bool:
        return self.roots is None or any(is_within(path, r) for r in self.roots)


def _area(actor: User | None) -> _Area:
    if actor is None:
        return _Area(None, None, "")
    held = assignments(actor, PERMISSIONS[PERMISSION])
    if not held:
        raise Forbidden(str(_l("You may not import lists.")))
    top = min(held, key=lambda a: (len(a.unit.path), a.unit.path)).unit
    return _Area(minimal_roots([a.unit.path for a in held]), top.id, top.path)


_VILLAGE_SUFFIXES = ("居民委员会", "村民委员会", "委员会", "居委会", "村委会", "社区居委会")


@lru_cache(maxsize=4096)
def village_key(name: str) -> str:
    """A village's name as clerks write it: "双碧社区居委会", "双碧社区" and "双碧" are one."""
    key = re.sub(r"\s+", "", unicodedata.normalize("NFKC", name))
    for suffix in _VILLAGE_SUFFIXES:
        if key.endswith(suffix) and len(key) > len(suffix):
            key = key[: -len(suffix)]
            break
    for suffix in ("社区", "村"):
        if key.endswith(suffix) and len(key) > len(suffix) + 1:
            key = key[: -len(suffix)]
            break
    return key


class _Villages:
    """The villages of the area, by code and by name; other codes looked up as they come."""

    def __init__(self, area: _Area):
        self.area = area
        query = select(AdminUnit.id, AdminUnit.code, AdminUnit.name, AdminUnit.path).where(
            AdminUnit.level == UnitLevel.village.value)
        if area.roots is not None:
            query = query.where(in_any_subtree(AdminUnit.path, area.roots))
        self.by_code: dict[str, tuple[int, str]] = {}
        by_name: dict[str, list[tuple[int, str]]] = {}
        for uid, code, name, path in db.session.execute(query):
            self.by_code[code] = (uid, path)
            by_name.setdefault(village_key(name), []).append((uid, path))
        self.by_name = by_name
        # code -> problem reason for codes not among the area's villages (None: unknown).
        self.other: dict[str, str] = {}

    def prefetch(self, codes: Iterable[str]) -> None:
        """Look up, in one query, the codes of a chunk that are not the area's villages."""
        wanted = {c for c in codes if c not in self.by_code and c not in self.other}
        if not wanted:
            return
        found = db.session.execute(select(AdminUnit.code, AdminUnit.level, AdminUnit.path)
                                   .where(AdminUnit.code.in_(wanted)))
        for code, level, path in found:
            if not self.area.holds(path):
                self.other[code] = "village.outside"
            elif level != UnitLevel.village.value:
                self.other[code] = "village.not_village"
        for code in wanted:
            self.other.setdefault(code, "village.unknown")

    @staticmethod
    def code_of(text: str) -> str | None:
        """The 12-digit village code a value names: a village code, or a group's 15-digit code."""
        if text.isdigit() and len(text) in (12, 15):
            return text[:12]
        return None

    def place(self, text: str) -> tuple[tuple[int, str] | None, str | None]:
        """(village id, path) or a problem reason."""
        if not text:
            return None, "village.missing"
        code = self.code_of(text)
        if code is not None:
            found = self.by_code.get(code)
            if found is not None:
                return found, None
            return None, self.other.get(code, "village.unknown")
        if text.isdigit():
            return None, "village.unknown"
        candidates = self.by_name.get(village_key(text), [])
        if len(candidates) == 1:
            return candidates[0], None
        return None, "village.ambiguous" if candidates else "village.unknown"


# ------------------------------------------------------------------ names

# ------------------------------------------------------------------ mappings

def get_mapping(source: str, name: str | None = None) -> ListMapping | None:
    return db.session.scalar(select(ListMapping).where(ListMapping.source == source,
                                                       ListMapping.name == (name or source)))


def save_mapping(actor: User | None, source: str, name: str | None, fields: dict[str, str]) -> ListMapping:
    """Keep `fields` ({field: column}) for the source under `name` (default: the source)."""
    mapping = get_mapping(source, name)
    if mapping is None:
        mapping = ListMapping(source=source, name=name or source)
        db.session.add(mapping)
    mapping.fields = dict(fields)
    mapping.updated_by_id = actor.id if actor is not None else None
    mapping.updated_at = utcnow()
    db.session.flush()
    return mapping


def propose(table: exchange.Table, source: str, *, mapping_name: str | None = None,
            overrides: dict[str, str] | None = None) -> exchange.Proposal:
    """The mapping for this file: the saved mapping of that name first (its columns present in
    the file), the proposal from the header for the rest, then the overrides {column: field}."""
    try:
        proposal = exchange.propose_mapping(table.columns, source)
        saved = get_mapping(source, mapping_name)
        if saved is not None:
            proposal = proposal.with_overrides({column: f for f, column in saved.fields.items()
                                                if column in table.columns})
        if overrides:
            proposal = proposal.with_overrides(overrides)
    except exchange.MappingError as e:
        raise Invalid(_pick(e.message), field="mapping") from e
    return proposal


def _require_complete(proposal: exchange.Proposal) -> None:
    if proposal.complete:
        return
    labels = exchange.LABELS
    zh_parts, en_parts = [], []
    for f in proposal.missing:
        zh_parts.append(f"{labels[f]['zh']}（{f}）：文件中没有找到对应的列")
        en_parts.append(f"{labels[f]['en']} ({f}): no column of the file holds it")
    for f, columns in proposal.ambiguous.items():
        zh_parts.append(f"{labels[f]['zh']}（{f}）：" + "、".join(f"“{c}”" for c in columns) + "都可能是，请选定一列")
        en_parts.append(f"{labels[f]['en']} ({f}): columns " + ", ".join(repr(c) for c in columns)
                        + " could each be it; choose one")
    messages = {
        "zh": "无法确定列的对应关系，未导入任何内容。" + "；".join(zh_parts)
              + "。请用 --map 列名=项目 指定（例如 --map 身份证号=id_number）。",
        "en": "The columns could not all be placed; nothing was imported. " + "; ".join(en_parts)
              + ". Give them with --map COLUMN=FIELD (e.g. --map 身份证号=id_number).",
    }
    raise MappingIncomplete(proposal, messages)


# ------------------------------------------------------------------ import

def open_file(path: str | Path, *, sheet: str | None = None) -> exchange.Table:
    try:
        return exchange.open_table(path, sheet=sheet)
    except exchange.UnreadableFile as e:
        raise ListUnreadable(e) from e


@dataclass
class Preview:
    table: exchange.Table
    proposal: exchange.Proposal
    records: list[exchange.Record]  # the first rows, read with the proposal (when complete)


def preview(path: str | Path, *, source: str, mapping_name: str | None = None,
            overrides: dict[str, str] | None = None, sheet: str | None = None, rows: int = 10) -> Preview:
    """What the clerk confirms before importing: the columns, the proposed mapping (saved
    mapping, header, overrides) and the first rows as they would be read. Writes nothing."""
    _check_arguments(source, None)
    table = open_file(path, sheet=sheet)
    proposal = propose(table, source, mapping_name=mapping_name, overrides=overrides)
    records: list[exchange.Record] = []
    if proposal.complete:
        for record in exchange.read_records(table, proposal.fields, source):
            records.append(record)
            if len(records) >= rows:
                break
    return Preview(table, proposal, records)


def _check_arguments(source: str, month: str | None) -> None:
    if source not in exchange.SOURCES:
        raise Invalid(str(_l("Unknown source %(source)s (one of %(known)s).", source=source,
                             known=", ".join(exchange.SOURCES))), field="source")
    if month is not None and not MONTH_RE.fullmatch(month):
        raise Invalid(str(_l("The month must be written YYYY-MM, e.g. 2026-11.")), field="month")


def _result_of(lst: ImportedList, proposal: exchange.Proposal | None, *, existing: bool) -> ImportResult:
    return ImportResult(lst.id, existing, lst.rows_read, lst.rows_loaded, lst.rows_flagged, lst.rows_refused,
                        lst.rows_duplicate, proposal)


def _active_same_file(source: str, sha256: str) -> ImportedList | None:
    return db.session.scalar(select(ImportedList).where(
        ImportedList.source == source, ImportedList.file_sha256 == sha256,
        ImportedList.state.in_(ACTIVE_STATES)))


def prepare_import(actor: User | None, path: str | Path, *, source: str, month: str | None = None,
                   mapping_name: str | None = None, overrides: dict[str, str] | None = None,
                   file_name: str | None = None, sheet: str | None = None) -> ImportResult:
    """For a background import: check the file and its mapping now, and record its list as
    'loading' (a page shows its id and progress at once); the job then runs import_list with
    this list_id. The same file imported already: its list, `existing`."""
    _check_arguments(source, month)
    area = _area(actor)
    table = open_file(path, sheet=sheet)
    proposal = propose(table, source, mapping_name=mapping_name, overrides=overrides)
    _require_complete(proposal)
    found = _active_same_file(source, table.sha256)
    if found is not None and found.state == ListState.loaded.value:
        return _result_of(found, proposal, existing=True)
    if found is not None:
        raise Conflict(str(_l("This file is being imported right now (list %(id)s).", id=found.id)))
    lst = _new_list(actor, area, table, source, month, proposal, file_name or Path(path).name)
    return ImportResult(lst.id, False, proposal=proposal)


def _new_list(actor: User | None, area: _Area, table: exchange.Table, source: str, month: str | None,
              proposal: exchange.Proposal, file_name: str) -> ImportedList:
    lst = ImportedList(source=source, month=month, file_name=file_name[:255], file_sha256=table.sha256,
                       sheet=table.sheet, encoding=table.encoding, mapping=dict(proposal.fields),
                       unit_id=area.unit_id, unit_path=area.unit_path, state=ListState.loading.value,
                       created_by_id=actor.id if actor is not None else None, progress_at=utcnow())
    db.session.add(lst)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as e:  # another import of the same file got in first
        raise Conflict(str(_l("This file is being imported right now."))) from e
    return lst


def import_list(actor: User | None, path: str | Path, *, source: str, month: str | None = None,
                mapping_name: str | None = None, overrides: dict[str, str] | None = None,
                dry_run: bool = False, on_progress: Callable[[int], None] | None = None,
                commit: Callable[[], None] | None = None, list_id: int | None = None,
                file_name: str | None = None, sheet: str | None = None, today: dt.date | None = None,
                chunk_rows: int | None = None, stale_after: dt.timedelta = STALE_AFTER) -> ImportResult:
    """Import the list in `path` (see the module's notes). `commit`: run as a batch, each
    chunk committed by it, the caller's open transaction first (the list is marked failed if
    it stops half-way; the caller commits the last part: state, mapping, audit); without it,
    everything is flushed in the caller's transaction. `list_id`: a list recorded by
    prepare_import. `on_progress(rows_read)` after each chunk. Raises ListUnreadable,
    MappingIncomplete, Invalid, Forbidden, Conflict; nothing is changed then."""
    _check_arguments(source, month)
    if commit is not None:
        # A batch: end the caller's transaction (on SQLite it may hold the write lock) before
        # the file is scanned; only the chunks' writes take it again.
        actor_id = actor.id if actor is not None else None
        commit()
        actor = db.session.get(User, actor_id) if actor_id is not None else None
        table = open_file(path, sheet=sheet)
    else:
        table = open_file(path, sheet=sheet)
    area = _area(actor)
    actor_id = actor.id if actor is not None else None
    proposal = propose(table, source, mapping_name=mapping_name, overrides=overrides)
    _require_complete(proposal)
    file_name = (file_name or Path(path).name)[:255]

    found = _active_same_file(source, table.sha256)
    if found is not None and found.id != list_id:
        if found.state == ListState.loaded.value:
            return _result_of(found, proposal, existing=True)
        fresh = found.progress_at is not None and utcnow() - found.progress_at < stale_after
        if fresh or dry_run:
            raise Conflict(str(_l("This file is being imported right now (list %(id)s).", id=found.id)))
        found.state = ListState.failed.value  # its loader died: cleaned below
        found.error = found.error or "stale"
        db.session.flush()

    if dry_run:
        loader = _Loader(table, proposal, source, month, area, None, today, dry_run=True)
        return loader.run(on_progress=on_progress, commit=None, chunk_rows=chunk_rows or 2000)

    if list_id is not None:
        lst = db.session.get(ImportedList, list_id)
        if lst is None or lst.state != ListState.loading.value or lst.file_sha256 != table.sha256:
            raise Conflict(str(_l("This import was not prepared or has already run.")))
    else:
        lst = _reuse_failed(source, table.sha256, commit)
        if lst is None:
            lst = _new_list(actor, area, table, source, month, proposal, file_name)
        else:
            _restart(lst, actor_id, area, table, month, proposal, file_name)
    list_id = lst.id
    if commit is not None:
        commit()
    chunk_rows = chunk_rows or CHUNK_ROWS.get(db.engine.dialect.name, 1000)
    loader = _Loader(table, proposal, source, month, area, list_id, today, dry_run=False)
    try:
        result = loader.run(on_progress=on_progress, commit=commit, chunk_rows=chunk_rows)
        _finish(actor_id, list_id, result, proposal, file_name, table.sha256, source, month, mapping_name)
    except BaseException as e:  # an interrupted command too: its rows must not count
        if commit is None:
            raise
        _mark_failed(list_id, e, commit)
        raise
    return result


def _reuse_failed(source: str, sha256: str, commit: Callable[[], None] | None) -> ImportedList | None:
    """The failed imports of this file, cleaned of their rows; the newest is loaded again."""
    failed = db.session.scalars(select(ImportedList).where(
        ImportedList.source == source, ImportedList.file_sha256 == sha256,
        ImportedList.state == ListState.failed.value).order_by(ImportedList.id.desc())).all()
    for lst in failed:
        _delete_rows(lst.id, commit)
    return failed[0] if failed else None


def _delete_rows(list_id: int, commit: Callable[[], None] | None, chunk: int = 5000) -> None:
    """Delete a failed list's rows, a chunk per transaction in batch mode."""
    for model in (ListRecord, ListProblem):
        while True:
            ids = select(model.id).where(model.list_id == list_id).limit(chunk).scalar_subquery()
            deleted = db.session.execute(delete(model).where(model.id.in_(ids)),
                                         execution_options={"synchronize_session": False}).rowcount
            if commit is not None:
                commit()
            if not deleted or deleted < chunk:
                break


def _restart(lst: ImportedList, actor_id: int | None, area: _Area, table: exchange.Table, month: str | None,
             proposal: exchange.Proposal, file_name: str) -> None:
    lst.month, lst.file_name, lst.sheet, lst.encoding = month, file_name, table.sheet, table.encoding
    lst.mapping = dict(proposal.fields)
    lst.unit_id, lst.unit_path, lst.created_by_id = area.unit_id, area.unit_path, actor_id
    lst.state, lst.error, lst.progress_at, lst.finished_at = ListState.loading.value, None, utcnow(), None
    lst.rows_read = lst.rows_loaded = lst.rows_flagged = lst.rows_refused = lst.rows_duplicate = 0
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as e:
        raise Conflict(str(_l("This file is being imported right now."))) from e


def _mark_failed(list_id: int, error: BaseException, commit: Callable[[], None]) -> None:
    db.session.rollback()
    text = (getattr(error, "message", None) or str(error) or type(error).__name__)[:2000]
    db.session.execute(update(ImportedList).where(ImportedList.id == list_id,
                                                  ImportedList.state == ListState.loading.value)
                       .values(state=ListState.failed.value, error=text, finished_at=utcnow()))
    commit()


def _finish(actor_id: int | None, list_id: int, result: ImportResult, proposal: exchange.Proposal,
            file_name: str, sha256: str, source: str, month: str | None, mapping_name: str | None) -> None:
    db.session.execute(update(ImportedList).where(ImportedList.id == list_id).values(
        state=ListState.loaded.value, finished_at=utcnow(), progress_at=utcnow(), rows_read=result.read,
        rows_loaded=result.loaded, rows_flagged=result.flagged, rows_refused=result.refused,
        rows_duplicate=result.duplicate))
    actor = db.session.get(User, actor_id) if actor_id is not None else None
    save_mapping(actor, source, mapping_name, proposal.fields)
    audit.record("lists.import", actor=actor_id, object_type="imported_list", object_id=list_id, details={
        "file_name": file_name, "sha256": sha256, "source": source, "month": month,
        "mapping_name": mapping_name or source, "mapping": dict(proposal.fields),
        "read": result.read, "loaded": result.loaded, "flagged": result.flagged,
        "refused": result.refused, "duplicate": result.duplicate,
    })
    lst = db.session.get(ImportedList, list_id)
    if lst is not None:
        db.session.refresh(lst)


# The order of a row's tuple; record_id and row_hash are looked at for duplicates.
_COLUMNS = ("list_id", "line", "record_id", "row_hash", "village_id", "unit_path", *_RECORD_COLUMNS,
            "name_norm", "raw", "extras", "flags")
_RECORD_ID, _ROW_HASH, _FLAGS = _COLUMNS.index("record_id"), _COLUMNS.index("row_hash"), _COLUMNS.index("flags")
_COPY_SQL = f"COPY list_record ({', '.join(_COLUMNS)}) FROM STDIN"
# Column names from the constant above, values bound: nothing from the file in the text.
_INSERT_SQL = f"INSERT INTO list_record ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"  # noqa: S608


def _insert_records(rows: list[tuple]) -> None:
    """One chunk of rows (tuples in _COLUMNS order, JSON and dates already as text) in the
    session's transaction: COPY on PostgreSQL (half the time of an executemany there), the
    driver's executemany on SQLite, where the write lock is held only for this."""
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        with connection.connection.driver_connection.cursor() as cursor, cursor.copy(_COPY_SQL) as copy:
            for row in rows:
                copy.write_row(row)
    else:
        connection.exec_driver_sql(_INSERT_SQL, rows)


class _Loader:
    """Reads the records a chunk at a time (outside any transaction), then places, checks
    for duplicates and writes the chunk in one short transaction."""

    def __init__(self, table: exchange.Table, proposal: exchange.Proposal, source: str, month: str | None,
                 area: _Area, list_id: int | None, today: dt.date | None, *, dry_run: bool):
        self.table, self.proposal, self.source, self.month = table, proposal, source, month
        self.area, self.list_id, self.today, self.dry_run = area, list_id, today, dry_run
        self.needs_village = source in HOUSEHOLD_SOURCES
        self.village_column = proposal.fields.get("village")
        self.result = ImportResult(list_id, False, proposal=proposal, dry_run=dry_run)
        self.messages = {reason: _both(text) for reason, text in _PROBLEMS.items()}
        self.seen: set[str] = set()  # dry run: the file's own rows (nothing is written to find them)
        self.villages: _Villages | None = None
        self.active_ids: set[int] | None = None  # the other active lists of the source and month
        self.filter = _RowFilter()

    def run(self, *, on_progress, commit, chunk_rows: int) -> ImportResult:
        chunk: list[exchange.Record] = []
        for record in exchange.read_records(self.table, self.proposal.fields, self.source, today=self.today):
            chunk.append(record)
            if len(chunk) >= chunk_rows:
                self._write(chunk, commit)
                chunk = []
                if on_progress is not None:
                    on_progress(self.result.read)
        if chunk:
            self._write(chunk, commit)
        if on_progress is not None:
            on_progress(self.result.read)
        return self.result

    # -------------------------------------------------------------- one chunk

    def _problem(self, record: exchange.Record, field_: str | None, reason: str, *, refused: bool,
                 base: str | None = None) -> exchange.RowProblem:
        column = self.proposal.fields.get(field_) if field_ else None
        return exchange.RowProblem(record.line, column, field_, record.raw.get(field_, "") if field_ else "",
                                   reason, self.messages[base or reason], refused)

    def _write(self, chunk: list[exchange.Record], commit: Callable[[], None] | None) -> None:
        with self._reading(commit):
            if self.villages is None:
                self.villages = _Villages(self.area)
            villages = self.villages
            if self.village_column is not None:
                villages.prefetch(c for r in chunk if (c := villages.code_of(r.raw.get("village", ""))))
            if self.active_ids is None:
                # The other lists the rows may repeat: few, read once.
                same_month = (ImportedList.month == self.month if self.month is not None
                              else ImportedList.month.is_(None))
                self.active_ids = set(db.session.scalars(select(ImportedList.id).where(
                    ImportedList.source == self.source, ImportedList.state.in_(ACTIVE_STATES), same_month)))
                self.active_ids.discard(self.list_id)
        dumps = json.dumps
        result = self.result
        rows: list[tuple] = []
        problems: list[exchange.RowProblem] = []
        for record in chunk:
            result.read += 1
            if record.refused:
                result.refused += 1
                # Every problem of a refused row says so (the row is not there to check).
                problems.extend(p if p.refused else dataclasses.replace(p, refused=True) for p in record.problems)
                continue
            row_problems = [p for p in record.problems if not p.refused]
            placed, reason = villages.place(record.raw.get("village", ""))
            if reason == "village.outside":
                result.refused += 1
                problems.append(self._problem(record, "village", reason, refused=True))
                continue
            if reason is not None and self.needs_village:
                result.refused += 1
                required = reason.replace("village.", "village.required_")
                problems.append(self._problem(record, "village", reason, refused=True, base=required))
                continue
            if reason is not None:
                row_problems.append(self._problem(record, "village" if self.village_column else None, reason,
                                                  refused=False))
            values = record.values
            row: dict[str, Any] = {}
            for name in _RECORD_COLUMNS:
                value = values.get(name)
                limit = _LENGTHS.get(name)
                if limit is not None and isinstance(value, str) and len(value) > limit:
                    row_problems.append(self._problem(record, name, "text.too_long", refused=False))
                    value = None
                row[name] = value
            record_id = values.get("record_id")
            if isinstance(record_id, str) and len(record_id) > _LENGTHS["record_id"]:
                row_problems.append(self._problem(record, "record_id", "text.too_long", refused=False))
                record_id = None
            if not row["name"]:  # too long to keep: the row has no usable name
                result.refused += 1
                problems.extend(p if p.field != "name" else dataclasses.replace(p, refused=True)
                                for p in row_problems)
                continue
            row["record_id"] = record_id or None
            row["row_hash"] = exchange.row_hash(record)
            row["name_norm"] = normalise_name(row["name"])
            row["village_id"], row["unit_path"] = placed if placed is not None else (None, self.area.unit_path)
            row["line"] = record.line
            row["raw"] = dumps(record.raw, ensure_ascii=False)
            row["extras"] = dumps(record.extras, ensure_ascii=False)
            row["flags"] = dumps([{"field": p.field, "column": p.column, "reason": p.reason, "message": p.message}
                                  for p in row_problems], ensure_ascii=False)
            row["list_id"] = self.list_id
            for name in ("birth_date", "death_date"):
                if row[name] is not None:
                    row[name] = row[name].isoformat()
            # Made ready here, before the chunk's transaction: the write lock covers the insert only.
            rows.append(tuple(row[c] for c in _COLUMNS))
            problems.extend(row_problems)
        rows = self._drop_duplicates(rows)
        result.loaded += len(rows)
        result.flagged += sum(1 for r in rows if r[_FLAGS] != "[]")
        room = SAMPLE_PROBLEMS - len(result.problems)
        if room > 0:
            result.problems.extend(problems[:room])
        if not self.dry_run:
            if rows:
                _insert_records(rows)
            if problems:
                db.session.execute(insert(ListProblem.__table__), [
                    {"list_id": self.list_id, "line": p.line, "column": p.column, "field": p.field,
                     "value": p.value, "reason": p.reason, "message_zh": p.message.get("zh", p.reason),
                     "message_en": p.message.get("en", p.reason), "refused": p.refused} for p in problems])
            db.session.execute(update(ImportedList).where(ImportedList.id == self.list_id).values(
                rows_read=result.read, rows_loaded=result.loaded, rows_flagged=result.flagged,
                rows_refused=result.refused, rows_duplicate=result.duplicate, progress_at=utcnow()))
        if commit is not None:
            commit()

    @contextmanager
    def _reading(self, commit: Callable[[], None] | None) -> Iterator[None]:
        """Reads before a chunk's writes. In a batch on SQLite they run in a deferred
        transaction ended at once, so the write lock is not held while the chunk is made."""
        if commit is None:
            yield
            return
        with reads_only():
            yield
        commit()  # nothing written: ends the read

    def _drop_duplicates(self, rows: list[tuple]) -> list[tuple]:
        """Rows already in an active list of the same source and month (this one's earlier
        chunks included), or twice in this chunk, are counted and left out."""
        if not rows:
            return rows
        assert self.active_ids is not None  # noqa: S101 - read before the chunk (_write)
        # Rows are looked up by their hash and id alone, each by its own covering index, and
        # kept if in one of the lists (a join lets SQLite walk a whole list's rows for every
        # chunk instead).
        if self.active_ids:
            asked = rows  # every row may be in another list
        else:
            # Only this file's own rows so far: the filter says which rows may be among them
            # (about 1 in 100 wrongly); only those are looked up.
            asked = [r for r in rows if self.filter.maybe(r[_ROW_HASH], r[_RECORD_ID])]
        present_hashes: set[str] = set()
        present_ids: set[str] = set()
        # A dry run wrote nothing: only the other lists are in the database.
        searched = self.active_ids if self.dry_run else self.active_ids | {self.list_id}
        if asked and searched:
            hashes = list({r[_ROW_HASH] for r in asked})
            ids = list({r[_RECORD_ID] for r in asked if r[_RECORD_ID]})
            present_hashes = {h for h, lid in db.session.execute(
                select(ListRecord.row_hash, ListRecord.list_id).where(ListRecord.row_hash.in_(hashes)))
                if lid in searched}
            if ids:
                present_ids = {i for i, lid in db.session.execute(
                    select(ListRecord.record_id, ListRecord.list_id).where(ListRecord.record_id.in_(ids)))
                    if lid in searched}
        # A dry run writes nothing to find its own rows in: it keeps them all in memory.
        seen = self.seen if self.dry_run else set()
        kept = []
        for r in rows:
            h, rid = r[_ROW_HASH], r[_RECORD_ID]
            if h in present_hashes or h in seen or (rid and (rid in present_ids or ("id:" + rid) in seen)):
                self.result.duplicate += 1
                continue
            seen.add(h)
            if rid:
                seen.add("id:" + rid)
            self.filter.add(h, rid)
            kept.append(r)
        return kept


class _RowFilter:
    """A Bloom filter of the rows written so far (their hash and record id): a fixed 1 MB
    whatever the file's size. "No" is certain; "maybe" is checked in the database."""

    BITS = 1 << 23
    PROBES = 6

    def __init__(self):
        self.bits = bytearray(self.BITS // 8)

    def _positions(self, key: str) -> Iterator[int]:
        digest = hashlib.blake2b(key.encode("utf-8"), digest_size=self.PROBES * 4).digest()
        mask = self.BITS - 1
        for i in range(0, self.PROBES * 4, 4):
            yield int.from_bytes(digest[i:i + 4], "little") & mask

    def _has(self, key: str) -> bool:
        bits = self.bits
        return all(bits[p >> 3] & (1 << (p & 7)) for p in self._positions(key))

    def maybe(self, row_hash: str, record_id: str | None) -> bool:
        return self._has(row_hash) or (record_id is not None and self._has("id:" + record_id))

    def add(self, row_hash: str, record_id: str | None) -> None:
        bits = self.bits
        for key in (row_hash, "id:" + record_id) if record_id else (row_hash,):
            for p in self._positions(key):
                bits[p >> 3] |= 1 << (p & 7)


# ------------------------------------------------------------------ after the import

def get_list(actor: User | None, list_id: int) -> ImportedList:
    """The list if the actor may import lists where it was imported (NotFound otherwise)."""
    lst = db.session.get(ImportedList, list_id)
    if lst is None or (actor is not None and not _area(actor).holds(lst.unit_path)):
        raise NotFound(str(_l("No such list.")))
    return lst


def withdraw(actor: User | None, list_id: int) -> ImportedList:
    """Take back a mistaken import while no household was made from it: its rows are kept,
    excluded everywhere. Withdrawing a withdrawn list again changes nothing."""
    lst = get_list(actor, list_id)
    if lst.state == ListState.withdrawn.value:
        return lst
    if lst.state != ListState.loaded.value:
        raise Conflict(str(_l("Only a loaded list can be withdrawn.")))
    made = db.session.scalar(select(exists().where(ListRecordLink.record_id == ListRecord.id,
                                                   ListRecord.list_id == lst.id)))
    if made:
        raise Conflict(str(_l("Households were made from this list: it can no longer be withdrawn.")))
    lst.state = ListState.withdrawn.value
    lst.withdrawn_at = utcnow()
    lst.withdrawn_by_id = actor.id if actor is not None else None
    db.session.flush()
    audit.record("lists.withdraw", actor=actor, object_type="imported_list", object_id=lst.id,
                 details={"file_name": lst.file_name, "sha256": lst.file_sha256, "source": lst.source,
                          "month": lst.month, "rows": lst.rows_loaded})
    return lst


def problems_of(list_id: int, *, limit: int | None = None) -> Iterator[exchange.RowProblem]:
    """The list's problems in line order, as exchange.RowProblem (for write_problems_xlsx)."""
    query = (select(ListProblem).where(ListProblem.list_id == list_id)
             .order_by(ListProblem.line, ListProblem.id).execution_options(yield_per=2000))
    if limit is not None:
        query = query.limit(limit)
    for p in db.session.scalars(query):
        yield exchange.RowProblem(p.line, p.column, p.field, p.value or "", p.reason,
                                  {"zh": p.message_zh, "en": p.message_en}, p.refused)


def count_problems(list_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(ListProblem).where(ListProblem.list_id == list_id))


def active_lists(actor: User | None, source: str | None = None) -> list[ImportedList]:
    """The lists of the actor's area, newest first."""
    query = select(ImportedList).order_by(ImportedList.id.desc())
    area = _area(actor)
    if area.roots is not None:
        query = query.where(in_any_subtree(ImportedList.unit_path, area.roots))
    if source is not None:
        query = query.where(ImportedList.source == source)
    return list(db.session.scalars(query))
