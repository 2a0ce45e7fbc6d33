"""exchange.read_records, row_hash, write_problems_xlsx and blank_template."""
from __future__ import annotations

import csv
import datetime as dt
import io

import openpyxl
import pytest

from exchange import (
    RowProblem,
    SOURCES, MappingError, blank_template, open_table, propose_mapping, read_records, row_hash,
    template_headers, write_problems_xlsx,
)

TODAY = dt.date(2026, 11, 1)


def _read(tmp_path, text: str, source="police"):
    path = tmp_path / "list.csv"
    path.write_text(text, encoding="utf-8")
    table = open_table(path)
    proposal = propose_mapping(table.columns, source)
    return list(read_records(table, proposal.fields, source, today=TODAY))


BAD = """新田县户籍人口名单
姓名,性别,出生日期,身份证号,与户主关系,户号,备注
陈新强,男,1989-06-25,431128198906256336,户主,103185981,
宋可晴,女,1997-02-30,431128199704020389,老婆,103185981,
,1,1990-01-01,,之子,103185981,无名
王\u202e五,X,1990-01-01,431128199001010011,之女,103185982,
赵六,2,1990-01-02,431128198906256336,之女,103185982,
"""


def test_bad_rows_are_reported_with_their_line_column_and_reason(tmp_path):
    records = _read(tmp_path, BAD)
    assert [r.line for r in records] == [3, 4, 5, 6, 7]
    problems = [(p.line, p.column, p.field, p.value, p.reason, p.refused) for r in records for p in r.problems]
    assert problems == [
        (4, "出生日期", "birth_date", "1997-02-30", "date.impossible", False),
        (4, "与户主关系", "relation", "老婆", "relation.unknown", False),
        (5, "姓名", "name", "", "name.missing", True),
        (6, "姓名", "name", "王\u202e五", "text.refused_characters", False),
        (6, "性别", "sex", "X", "sex.unknown", False),
        (6, "身份证号", "id_number", "431128199001010011", "id.checksum", False),
        (7, "身份证号", "id_number", "431128198906256336", "id.birth_date_mismatch", False),
        (7, "身份证号", "id_number", "431128198906256336", "id.sex_mismatch", False),
    ]
    for r in records:
        for p in r.problems:
            assert p.message["zh"] and p.message["en"]
    wrong = records[1]
    assert not wrong.refused
    assert wrong.values["birth_date"] is None and wrong.raw["birth_date"] == "1997-02-30"
    assert wrong.values["relation"] is None and wrong.raw["relation"] == "老婆"
    assert wrong.values["id_number"] == "431128199704020389"
    assert records[2].refused and records[2].extras == {"备注": "无名"}
    assert records[3].values["name"] == "王五" and records[3].raw["name"] == "王\u202e五"
    assert "U+202E" in records[3].problems[0].message["zh"]
    assert [r.refused for r in records] == [False, False, True, False, False]


def test_required_date_missing_is_flagged_not_refused(tmp_path):
    records = _read(tmp_path, "姓名,死亡日期\n张三,\n李四,2026-01-05\n", source="deaths")
    assert [(p.line, p.reason, p.refused) for r in records for p in r.problems] == [(2, "death_date.missing", False)]
    assert records[1].values["death_date"] == dt.date(2026, 1, 5)


def test_mapping_must_name_columns_of_the_table(tmp_path):
    path = tmp_path / "list.csv"
    path.write_text("姓名\n张三\n", encoding="utf-8")
    table = open_table(path)
    with pytest.raises(MappingError):
        list(read_records(table, {"name": "名字"}, "other"))
    with pytest.raises(MappingError):
        list(read_records(table, {"nickname": "姓名"}, "other"))


def test_row_hash_is_stable_and_tells_rows_apart(tmp_path):
    text = "姓名,性别,出生日期,备注\n张三,1,1985-03-02,a\n张三,1,1985-03-03,a\n张三,1,1985-03-02,b\n"
    first = _read(tmp_path, text, "other")
    again = _read(tmp_path, text, "other")
    hashes = [row_hash(r) for r in first]
    assert hashes == [row_hash(r) for r in again]
    assert len(hashes[0]) == 64 and int(hashes[0], 16) >= 0
    assert hashes[0] != hashes[1]
    assert hashes[0] == hashes[2]  # the same mapped values; an unmapped note is not the row
    # The same person written the same way in another file (another column order, CSV vs XLSX).
    path = tmp_path / "other.xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(["出生日期", "姓名", "性别"])
    wb.active.append([dt.datetime(1985, 3, 2), "张三", 1])
    wb.save(path)
    table = open_table(path)
    record = next(read_records(table, propose_mapping(table.columns, "other").fields, "other"))
    assert row_hash(record) == hashes[0]


def test_problems_workbook_reads_back(tmp_path):
    problems = [p for r in _read(tmp_path, BAD) for p in r.problems]
    out = io.BytesIO()
    write_problems_xlsx(problems, out)
    rows = list(openpyxl.load_workbook(io.BytesIO(out.getvalue())).active.iter_rows(values_only=True))
    assert rows[0][:5] == ("行号", "列", "项目", "内容", "原因")
    assert len(rows) == 1 + len(problems)
    assert rows[1][:4] == (4, "出生日期", "出生日期", "1997-02-30")
    assert "不存在" in rows[1][4]
    refused = [row for row in rows if row[0] == 5]
    assert refused[0][2] == "姓名" and refused[0][5] == "整行未导入"


@pytest.mark.parametrize("source", SOURCES)
def test_blank_templates_read_back_as_a_complete_mapping(tmp_path, source):
    headers = template_headers(source)
    xlsx = blank_template(source, "xlsx")
    ws = openpyxl.load_workbook(io.BytesIO(xlsx)).active
    assert [c.value for c in ws[1]] == headers
    (tmp_path / "t.xlsx").write_bytes(xlsx)
    table = open_table(tmp_path / "t.xlsx")
    assert table.columns == headers
    assert propose_mapping(table.columns, source).complete
    assert propose_mapping(table.columns, source).extras == []

    data = blank_template(source, "csv")
    assert data.startswith(b"\xef\xbb\xbf")
    assert next(csv.reader(io.StringIO(data.decode("utf-8-sig")))) == headers
    (tmp_path / "t.csv").write_bytes(data)
    assert open_table(tmp_path / "t.csv").columns == headers


def test_template_keeps_id_numbers_as_text():
    ws = openpyxl.load_workbook(io.BytesIO(blank_template("police", "xlsx"))).active
    column = template_headers("police").index("公民身份号码") + 1
    assert ws.cell(2, column).number_format == "@"
    with pytest.raises(MappingError):
        blank_template("police", "ods")


def test_card_numbers_that_excel_stored_as_numbers_get_their_leading_zeros_back(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["姓名", "村代码", "户卡编号", "与户主关系"])
    ws.append(["陈新强", "431128001001", 1, "户主"])
    ws.append(["宋可晴", "431128001001", "0012", "妻"])
    path = tmp_path / "cards.xlsx"
    wb.save(path)
    table = open_table(path)
    proposal = propose_mapping(table.columns, "register")
    records = list(read_records(table, proposal.fields, "register", today=TODAY))
    assert [r.values["card_no"] for r in records] == ["0001", "0012"]
    assert records[0].raw["card_no"] == "1"  # as written, for the evidence


@pytest.mark.parametrize("value", ["=1+1", "=HYPERLINK(\"http://x\",\"y\")", "+1+2", "-3+4", "@SUM(1,2)"])
def test_problems_workbook_holds_a_value_that_looks_like_a_formula_as_text(value):
    """A value as written in an imported file is text in the problems list, never a formula
    (openpyxl would store a string starting with "=" as one)."""
    out = io.BytesIO()
    write_problems_xlsx([RowProblem(line=3, column="姓名", field="name", value=value, reason="bad",
                                    message={"zh": "有误"})], out)
    cell = openpyxl.load_workbook(io.BytesIO(out.getvalue())).active.cell(row=2, column=4)
    assert (cell.value, cell.data_type) == (value, "s")
