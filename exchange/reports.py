"""Files for people: the list of problems (Excel) and blank templates per source."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import BinaryIO

from exchange.cells import text_row
from exchange.errors import MappingError, RowProblem
from exchange.mapping import LABELS, SOURCE_FIELDS, check_source, required_fields

PROBLEM_HEADERS = ("行号", "列", "项目", "内容", "原因", "处理")
TEXT_FIELDS = ("id_number", "mother_id_number", "household_no", "card_no", "record_id", "village", "phone")


def write_problems_xlsx(problems: Iterable[RowProblem], stream: BinaryIO) -> None:
    """One row per problem, in Chinese: line, column, field, value as written, reason, and
    whether the row was refused or imported with the value flagged."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("问题清单")
    ws.append(list(PROBLEM_HEADERS))
    for p in problems:
        label = LABELS[p.field]["zh"] if p.field in LABELS else (p.field or "")
        # The value as written in the imported file: text, never a formula.
        ws.append(text_row(ws, [p.line, p.column or "", label, p.value, p.message.get("zh", p.reason),
                                "整行未导入" if p.refused else "已导入，需核对"]))
    wb.save(stream)


def template_headers(source: str) -> list[str]:
    """The Chinese column names of a source's template; required ones marked with *."""
    check_source(source)
    required = required_fields(source)
    return [("*" if f in required else "") + LABELS[f]["zh"] for f in SOURCE_FIELDS[source]]


def blank_template(source: str, fmt: str) -> bytes:
    """An empty list to fill in: "xlsx" (number-like columns formatted as text, so that Excel
    keeps ID numbers whole) or "csv" (UTF-8 with BOM, so that Excel opens it as UTF-8)."""
    headers = template_headers(source)
    if fmt == "csv":
        out = io.StringIO()
        csv.writer(out, lineterminator="\r\n").writerow(headers)
        return ("\ufeff" + out.getvalue()).encode("utf-8")
    if fmt != "xlsx":
        raise MappingError("format.unknown", f"未知的模板格式：{fmt}（可选：xlsx、csv）",
                           f"unknown template format {fmt!r} (xlsx or csv)")
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = "名单"
    ws.append(headers)
    for i, name in enumerate(SOURCE_FIELDS[source], start=1):
        letter = get_column_letter(i)
        ws.cell(1, i).font = Font(bold=True)
        ws.column_dimensions[letter].width = 22 if name in ("id_number", "mother_id_number", "address") else 14
        if name in TEXT_FIELDS:
            for row in range(2, 1002):  # text format, so that Excel does not turn numbers into 4.3E+17
                ws.cell(row, i).number_format = "@"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
