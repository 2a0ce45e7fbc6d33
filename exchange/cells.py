"""Text written to Excel stays text (issue 17): openpyxl stores a string that starts with "="
as a formula, so a name, an address or what a checker typed could become one that Excel runs
(formula injection). Strings that start with = + - @ (what Excel or LibreOffice would read as
the start of a formula) go in as cells of type string: the file holds them, unchanged, as text.
No apostrophe is added, so what is read back is what was recorded.

    sheet.append(text_row(sheet, [name, address, ...]))   # a Workbook's or a write-only sheet
    text_cell(sheet["A1"])                                # or fix one cell in place
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@")


def looks_like_formula(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


def text_row(sheet: Any, values: Iterable[Any]) -> list[Any]:
    """`values` for sheet.append, each string that would start a formula made a string cell."""
    from openpyxl.cell.cell import Cell  # imported here: reading a CSV does not need openpyxl

    out: list[Any] = []
    for value in values:
        if looks_like_formula(value):
            cell = Cell(sheet, row=1, column=1, value=value)  # placed where it is appended
            cell.data_type = "s"
            out.append(cell)
        else:
            out.append(value)
    return out


def text_cell(cell: Any) -> Any:
    """Make a cell already holding a value that would start a formula hold it as text."""
    if looks_like_formula(cell.value):
        cell.data_type = "s"
    return cell
