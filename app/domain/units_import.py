"""Bulk import of the unit tree from the NBS division files (统计用区划代码).

The format is the one of ../shared/data (README §1): UTF-8 CSV with the header
`code,name,level,parent_code`; `code` and `parent_code` are 12-digit strings, `level` is
1 province, 2 city, 3 county, 4 township, 5 village; `parent_code` is empty only at level 1.
A file is gzip-compressed when its name ends in .gz or it starts with the gzip magic bytes.

How it works, and why:
- The whole file is read and checked before the database is touched, so a file that cannot
  be read (missing, not UTF-8, broken gzip, wrong header) changes nothing.
- Rows may come in any order. Valid rows are written level by level, parents first, with
  one bulk INSERT per batch that returns the new ids; the codes already in the database are
  loaded once into a dict. One ORM object and one flush per row would take minutes for the
  44,699 rows of a country; this takes seconds (docs/PERFORMANCE.md).
- Idempotent: a code already in the database is `unchanged` when its name, level and parent
  agree, and `renamed` (its name updated) when only the name differs. A different level or
  parent is a row error and nothing is moved: moving a unit rewrites the path of its whole
  subtree and the scope of everyone who works there, which deserves its own deliberate
  operation, not a side effect of a file.
- A bad row (malformed code, level or name, unknown parent, parent row in error, duplicate
  code, different parent or level than the database) is reported with its line number
  (line 1 is the header) and the valid rows still load. Descendants of a rejected row are
  rejected too, naming the parent's line.
- One audit entry `units.import` for the whole import (file name, SHA-256, counts), in the
  caller's transaction; also for an import that changes nothing, since who loaded which
  file and what it found is worth keeping. Flushed, never committed: the caller commits
  once, so a crash leaves no half tree.
- Two imports running at once on the same codes: the second fails on the unique code
  constraint and rolls back; running it again is safe (nothing is checked-then-inserted
  without the database's guard).
"""
from __future__ import annotations

import csv
import gzip
import hashlib
import io
import os
import re
import sys
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from flask_babel import gettext as _
from sqlalchemy import insert, select, update

from app.domain import audit
from app.domain.errors import Invalid
from app.domain.tree import child_path
from app.domain.users import level_label
from app.extensions import db
from app.models import LEVEL_ORDER, AdminUnit, UnitLevel, User

COLUMNS = ("code", "name", "level", "parent_code")
# The NBS file numbers its levels 1-5; groups (村民小组) are made locally, never imported.
NBS_LEVELS = {1: UnitLevel.province, 2: UnitLevel.city, 3: UnitLevel.county,
              4: UnitLevel.township, 5: UnitLevel.village}
LEVEL_NUMBERS = {str(n): n for n in NBS_LEVELS}
# [0-9], not \d: \d also matches full-width and other Unicode digits.
CODE_RE = re.compile(r"[0-9]{12}")
# Digits of a 12-digit code that name the unit at each level (2-2-2-3-3, GB/T 2260 + NBS).
SIGNIFICANT_DIGITS = {1: 2, 2: 4, 3: 6, 4: 9, 5: 12}
NAME_MAX = 100  # AdminUnit.name is String(100)
BATCH_SIZE = 5000
GZIP_MAGIC = b"\x1f\x8b"


class UnreadableFile(Invalid):
    """The file as a whole cannot be read; nothing was imported."""


@dataclass(frozen=True)
class RowError:
    line: int     # line in the file, the header being line 1
    code: str     # the code as written (may be the malformed value)
    field: str    # code, name, level, parent_code or row
    reason: str   # a stable key, e.g. "parent.unknown", for programs and tests
    message: str  # for people, in the current locale


@dataclass
class ImportReport:
    source: str
    under: str | None = None
    rows: int = 0        # data rows read (header not counted)
    created: int = 0
    renamed: int = 0
    unchanged: int = 0
    skipped: int = 0     # rows outside `under`
    created_by_level: dict[str, int] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)

    def audit_details(self, sha256: str | None) -> dict:
        return {"file": self.source, "sha256": sha256, "under": self.under, "rows": self.rows,
                "created": self.created, "renamed": self.renamed, "unchanged": self.unchanged,
                "errors": len(self.errors), "skipped": self.skipped,
                "created_by_level": self.created_by_level}


@dataclass(slots=True)
class _Row:
    line: int
    code: str
    name: str
    depth: int  # 1..5
    parent_code: str


class _Unit(NamedTuple):
    """What the import needs to know about a unit already in the database (or just made)."""
    id: int
    name: str
    depth: int  # 1..6 (group is 6)
    parent_id: int | None
    path: str


Source = str | os.PathLike | Iterable[Mapping[str, object]]


def import_units(source: Source, *, actor: User | int | None = None, under: str | None = None,
                 source_name: str | None = None) -> ImportReport:
    """Import the units of a CSV file (`source` a path: str or Path) or of an iterable of
    dicts with the four columns (line numbers then count as if after a header line).

    `under`: a 12-digit code; only the rows whose code starts with its significant digits
    (2 for a province, 4 for a city, 6 for a county, 9 for a township) are imported, with
    their ancestors from the file. Raises UnreadableFile (nothing imported) when the file
    cannot be read, Invalid when `under` is malformed or selects nothing.
    """
    prefix = None if under is None else significant_prefix(under)
    sha256 = None
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        name = source_name or path.name
        sha256, records = _file_sha256(path), _read_csv(path)
    else:
        name = source_name or "<rows>"
        records = ((i + 2, _fields(rec)) for i, rec in enumerate(source))

    report = ImportReport(source=name, under=under and under.strip())
    parsed: list[_Row | RowError] = []
    for line, fields in records:  # a file read error is raised here, before any write
        report.rows += 1
        parsed.append(_parse(line, fields))
    if prefix is not None:
        parsed, report.skipped = _select_under(parsed, prefix)
        if not parsed:
            raise Invalid(_("under: no row of the file is under %(code)s.", code=under), field="under")

    report.errors.extend(p for p in parsed if isinstance(p, RowError))
    _write([p for p in parsed if isinstance(p, _Row)], parsed, report)
    report.errors.sort(key=lambda e: e.line)
    audit.record("units.import", actor=actor, details=report.audit_details(sha256))
    return report


def significant_prefix(code: str) -> str:
    """The digits that every code in the unit's subtree starts with: 34 for 340000000000."""
    code = (code or "").strip()
    if not CODE_RE.fullmatch(code):
        raise Invalid(_("under: the code must be exactly 12 digits, not %(value)s.", value=repr(code)),
                      field="under")
    for depth in (1, 2, 3, 4):
        n = SIGNIFICANT_DIGITS[depth]
        if code[n:].strip("0") == "":
            return code[:n]
    return code


# ------------------------------------------------------------------ reading

def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as e:
        raise UnreadableFile(_("The file %(file)s cannot be read: %(reason)s",
                               file=str(path), reason=e.strerror or str(e)), field="file") from e
    return digest.hexdigest()


def _read_csv(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(line of the record's first line, fields) per data row; raises UnreadableFile."""
    line = 1
    try:
        with path.open("rb") as raw:
            gzipped = path.suffix.lower() == ".gz" or raw.read(2) == GZIP_MAGIC
            raw.seek(0)
            stream = gzip.GzipFile(fileobj=raw) if gzipped else raw
            # utf-8-sig: a byte-order mark (as Excel writes it) is not part of the first column.
            text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
            reader = csv.reader(text, strict=True)
            header = [h.strip().lower() for h in next(reader, [])]
            missing = [c for c in COLUMNS if c not in header]
            if missing:
                raise UnreadableFile(_("The file %(file)s has no column %(columns)s in its header "
                                       "(expected: code,name,level,parent_code).",
                                       file=path.name, columns=", ".join(missing)), field="file")
            index = [header.index(c) for c in COLUMNS]
            line = reader.line_num + 1
            for values in reader:
                if any(v.strip() for v in values):  # blank lines are not rows
                    fields = {c: (values[i] if i < len(values) else "") for c, i in zip(COLUMNS, index)}
                    if len(values) != len(header):
                        fields["_columns"] = str(len(values))
                    yield line, fields
                line = reader.line_num + 1
    except UnreadableFile:
        raise
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, csv.Error) as e:
        raise UnreadableFile(_("The file %(file)s cannot be read (at line %(line)s): %(reason)s",
                               file=path.name, line=line, reason=str(e)), field="file") from e


def _fields(record: Mapping[str, object]) -> dict[str, str]:
    return {c: "" if record.get(c) is None else str(record.get(c)) for c in COLUMNS}


def _parse(line: int, fields: dict[str, str]) -> _Row | RowError:
    """Check one row on its own (format only; the tree is checked when writing)."""
    code = fields["code"].strip()
    name = fields["name"].strip()
    depth = LEVEL_NUMBERS.get(fields["level"].strip())
    parent_code = fields["parent_code"].strip()
    # One test for the usual, good row (663k of them in the 5-level file); the reason is
    # worked out only for a bad one.
    if (depth and name and len(name) <= NAME_MAX and "_columns" not in fields and CODE_RE.fullmatch(code)
            and (not parent_code if depth == 1 else CODE_RE.fullmatch(parent_code))):
        # Interned: the many children of one parent share a single string (memory).
        return _Row(line, code, name, depth, sys.intern(parent_code))
    return _row_error(line, fields)


def _row_error(line: int, fields: dict[str, str]) -> RowError:
    code = fields["code"].strip()
    name = fields["name"].strip()
    level = fields["level"].strip()
    parent_code = fields["parent_code"].strip()

    def error(column: str, reason: str, message: str) -> RowError:
        return RowError(line, code, column, reason, message)

    if "_columns" in fields:
        return error("row", "row.columns", _(
            "row: %(count)s columns instead of %(expected)s (is a comma in a name not quoted?).",
            count=fields["_columns"], expected=len(COLUMNS)))
    if not CODE_RE.fullmatch(code):
        return error("code", "code.malformed",
                     _("code: must be exactly 12 digits, not %(value)s.", value=repr(code)))
    if level not in LEVEL_NUMBERS:
        return error("level", "level.invalid",
                     _("level: must be 1 (province) to 5 (village), not %(value)s.", value=repr(level)))
    if not name:
        return error("name", "name.missing", _("name: is empty."))
    if len(name) > NAME_MAX:
        return error("name", "name.too_long",
                     _("name: is %(length)s characters long, at most %(max)s are allowed.",
                       length=len(name), max=NAME_MAX))
    if level == "1":
        return error("parent_code", "parent.unexpected",
                     _("parent_code: must be empty for a province (level 1), not %(value)s.",
                       value=repr(parent_code)))
    if not parent_code:
        return error("parent_code", "parent.missing", _("parent_code: is empty; only a province has none."))
    return error("parent_code", "parent.malformed",
                 _("parent_code: must be exactly 12 digits, not %(value)s.", value=repr(parent_code)))


def _select_under(parsed: list[_Row | RowError], prefix: str) -> tuple[list[_Row | RowError], int]:
    """The rows whose code starts with `prefix`, plus their ancestors in the file."""
    selected = [p for p in parsed if p.code.startswith(prefix)]
    chosen = {id(p) for p in selected}
    by_code: dict[str, _Row | RowError] = {}
    for p in parsed:
        by_code.setdefault(p.code, p)
    for p in list(selected):
        parent = by_code.get(p.parent_code) if isinstance(p, _Row) else None
        while parent is not None and id(parent) not in chosen:
            chosen.add(id(parent))
            selected.append(parent)
            parent = by_code.get(parent.parent_code) if isinstance(parent, _Row) else None
    selected.sort(key=lambda p: p.line)
    return selected, len(parsed) - len(selected)


# ------------------------------------------------------------------ writing

def _load_units() -> dict[str, _Unit]:
    rows = db.session.execute(select(AdminUnit.code, AdminUnit.id, AdminUnit.name, AdminUnit.level,
                                     AdminUnit.parent_id, AdminUnit.path))
    depth = {level.value: n for n, level in enumerate(LEVEL_ORDER, start=1)}
    return {code: _Unit(id_, name, depth[level], parent_id, path)
            for code, id_, name, level, parent_id, path in rows}


def _write(rows: list[_Row], parsed: list[_Row | RowError], report: ImportReport) -> None:
    """Resolve parents and write the valid rows, level by level; errors go to the report."""
    known = _load_units()
    # Every code of the file (first occurrence) and its line: to tell "parent in error" and
    # "parent at a lower level in the file" from "unknown parent".
    in_file: dict[str, _Row | RowError] = {}
    for p in parsed:
        in_file.setdefault(p.code, p)
    rejected: dict[str, int] = {p.code: p.line for p in parsed if isinstance(p, RowError)}

    def reject(row: _Row, column: str, reason: str, message: str) -> None:
        report.errors.append(RowError(row.line, row.code, column, reason, message))
        rejected.setdefault(row.code, row.line)

    by_depth: dict[int, list[_Row]] = {n: [] for n in NBS_LEVELS}
    for row in rows:
        first = in_file[row.code]
        if first is not row:
            reject(row, "code", "code.duplicate",
                   _("code: %(code)s is already on line %(other)s.", code=row.code, other=first.line))
            continue
        by_depth[row.depth].append(row)

    for depth, level in NBS_LEVELS.items():
        new: list[dict] = []
        renames: list[dict] = []
        for row in by_depth[depth]:
            parent = None
            if depth > 1:
                parent = known.get(row.parent_code)
                problem = _parent_problem(row, parent, in_file.get(row.parent_code), rejected)
                if problem:
                    reject(row, "parent_code", *problem)
                    continue
            parent_id = parent.id if parent else None
            current = known.get(row.code)
            if current is None:
                new.append({"code": row.code, "name": row.name, "level": level.value, "parent_id": parent_id,
                            "path": child_path(parent.path if parent else None, row.code)})
            elif current.depth != depth:
                reject(row, "level", "level.changed", _(
                    "level: %(code)s has the level \"%(current)s\" in the database, not \"%(level)s\"; "
                    "it was left unchanged.", code=row.code,
                    current=level_label(LEVEL_ORDER[current.depth - 1]), level=level_label(level)))
            elif current.parent_id != parent_id:
                reject(row, "parent_code", "parent.changed", _(
                    "parent_code: %(code)s is under another parent in the database; moving a unit is "
                    "not done by an import, it was left unchanged.", code=row.code))
            elif current.name != row.name:
                renames.append({"id": current.id, "name": row.name})
                known[row.code] = current._replace(name=row.name)
            else:
                report.unchanged += 1
        for start in range(0, len(new), BATCH_SIZE):
            batch = new[start:start + BATCH_SIZE]
            returned = db.session.execute(insert(AdminUnit).returning(AdminUnit.id, AdminUnit.code), batch)
            ids = dict((code, id_) for id_, code in returned)
            for values in batch:
                known[values["code"]] = _Unit(ids[values["code"]], values["name"], depth,
                                              values["parent_id"], values["path"])
        if renames:
            db.session.execute(update(AdminUnit), renames)
        report.created += len(new)
        report.renamed += len(renames)
        if new:
            report.created_by_level[level.value] = len(new)

    # The bulk INSERT bypasses the identity map: units loaded earlier in this session would
    # not show their new children.
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, AdminUnit):
            db.session.expire(obj)


def _parent_problem(row: _Row, parent: _Unit | None, in_file: _Row | RowError | None,
                    rejected: dict[str, int]) -> tuple[str, str] | None:
    """(reason, message) when the row's parent cannot take it, else None."""
    if parent is not None:
        if parent.depth >= row.depth:
            return "parent.level", _(
                "parent_code: %(parent)s has the level \"%(parent_level)s\"; a unit of level \"%(level)s\" "
                "cannot be under it.",
                parent=row.parent_code, parent_level=level_label(LEVEL_ORDER[parent.depth - 1]),
                level=level_label(NBS_LEVELS[row.depth]))
        return None
    if isinstance(in_file, _Row) and in_file.depth >= row.depth:
        return "parent.level", _(
            "parent_code: %(parent)s (line %(line)s) has the level \"%(parent_level)s\"; a unit of level "
            "\"%(level)s\" cannot be under it.",
            parent=row.parent_code, line=in_file.line, parent_level=level_label(NBS_LEVELS[in_file.depth]),
            level=level_label(NBS_LEVELS[row.depth]))
    if row.parent_code in rejected:
        return "parent.rejected", _(
            "parent_code: the parent %(parent)s (line %(line)s) was not imported; see its error.",
            parent=row.parent_code, line=rejected[row.parent_code])
    return "parent.unknown", _(
        "parent_code: %(parent)s is neither in the file nor in the database.", parent=row.parent_code)
