"""Rows of a table to records: each mapped value checked and normalised; a wrong value is
kept as written (in `raw`), its normalised value is None and the row carries a RowProblem.
A row is refused only when it cannot be used at all (no name)."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

from collection_forms.characters import clean_text, code_points, refused_characters
from exchange.errors import MappingError, RowProblem, msg
from exchange.mapping import FIELDS, LABELS, check_source, required_fields
from exchange.tables import Table, cell_text
from exchange.values import parse_date, parse_ethnicity, parse_id, parse_relation, parse_sex

DATE_FIELDS = ("birth_date", "death_date")
ID_FIELDS = ("id_number", "mother_id_number")


@dataclass
class Record:
    line: int
    values: dict[str, object] = field(default_factory=dict)  # field -> normalised value or None
    raw: dict[str, str] = field(default_factory=dict)        # field -> as written
    extras: dict[str, str] = field(default_factory=dict)     # unmapped column -> as written
    problems: list[RowProblem] = field(default_factory=list)
    refused: bool = False


def read_records(table: Table, fields: dict[str, str], source: str, *,
                 today: date | None = None) -> Iterator[Record]:
    """One Record per non-empty data row, streaming. `fields` {field: column} (a Proposal's
    `.fields`); `today` is the reference for ID numbers' birth dates (default: today)."""
    check_source(source)
    for name, column in fields.items():
        if name not in FIELDS:
            raise MappingError("field.unknown", f"未知的项目：{name}", f"unknown field {name!r}")
        if column not in table.columns:
            raise MappingError("column.unknown", f"文件中没有“{column}”这一列",
                               f"the file has no column {column!r}")
    today = today or date.today()
    mapped = list(fields.items())
    extra_columns = [c for c in table.columns if c not in set(fields.values())]
    required = [f for f in required_fields(source) if f != "name"]
    for row in table.rows():
        yield _record(row.line, row.values, mapped, extra_columns, required, today)


def _record(line: int, cells: dict[str, object], mapped: list[tuple[str, str]],
            extra_columns: list[str], required: list[str], today: date) -> Record:
    record = Record(line)
    problems = record.problems
    values, raw = record.values, record.raw
    for name, column in mapped:
        cell = cells.get(column)
        text = cell_text(cell)
        raw[name] = text
        if not text:
            values[name] = None
            continue
        problem = None
        if name in DATE_FIELDS:
            value, problem = parse_date(cell)
        elif name in ID_FIELDS:
            value, problem = parse_id(cell, today)
        elif name == "sex":
            value, problem = parse_sex(cell)
        elif name == "relation":
            value, problem = parse_relation(cell)
        elif name == "ethnicity":
            value, problem = parse_ethnicity(cell)
        else:
            value = text
            if not text.isprintable():  # the common case skips the per-character check
                bad = refused_characters(text)
                value, _flagged = clean_text(text)
                value = value.strip()
                if bad:
                    points = code_points(bad)
                    problem = ("text.refused_characters",
                               f"含有不可见或控制字符（{points}），已删除", f"held invisible or control characters ({points}), removed")
        values[name] = value
        if problem is not None:
            reason, zh, en = problem
            label = LABELS[name]
            message = (msg(f"{label['zh']}{zh}", f"the {label['en']} {en}") if name in ID_FIELDS
                       else msg(f"{label['zh']}：{zh}", f"{label['en']}: {en}"))
            problems.append(RowProblem(line, column, name, text, reason, message))
    _cross_check(record, dict(mapped))
    columns = dict(mapped)
    if not values.get("name"):
        column = columns.get("name")
        record.refused = True
        problems.append(RowProblem(line, column, "name", raw.get("name", ""), "name.missing",
                                   msg("没有姓名，整行未导入", "no name: the row was not imported"), refused=True))
    for name in required:
        if name in columns and not raw.get(name):
            problems.append(RowProblem(line, columns[name], name, "", f"{name}.missing",
                                       msg(f"{LABELS[name]['zh']}：未填写", f"{LABELS[name]['en']}: missing")))
    for column in extra_columns:
        text = cell_text(cells.get(column))
        if text:
            record.extras[column] = text
    return record


def _cross_check(record: Record, columns: dict[str, str]) -> None:
    """An ID number that disagrees with the row's birth date or sex: both are kept, the
    number is flagged (which of the two is wrong is for a person to find out)."""
    number = record.values.get("id_number")
    if not number:
        return
    assert isinstance(number, str)  # noqa: S101 - parse_id returns text
    birth, sex = record.values.get("birth_date"), record.values.get("sex")
    checks = []
    if isinstance(birth, date) and (birth.year, birth.month, birth.day) != (
            int(number[6:10]), int(number[10:12]), int(number[12:14])):
        checks.append(("id.birth_date_mismatch", "与出生日期不一致", "does not match the date of birth"))
    if sex in ("1", "2") and ("1" if int(number[16]) % 2 else "2") != sex:
        checks.append(("id.sex_mismatch", "与性别不一致", "does not match the sex"))
    for reason, zh, en in checks:
        record.problems.append(RowProblem(record.line, columns["id_number"], "id_number", record.raw["id_number"],
                                          reason, msg(f"公民身份号码{zh}", f"the ID number {en}")))


def row_hash(record: Record) -> str:
    """SHA-256 (hex) of the row's mapped values as written: canonical JSON of the non-empty
    ones, so that a column mapped or added empty does not make an old row new."""
    data = {k: v for k, v in record.raw.items() if v}
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
