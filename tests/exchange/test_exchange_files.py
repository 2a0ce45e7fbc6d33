"""exchange.open_table: the files clerks have (encodings, gzip, messy workbooks) are read, and a
file that cannot be read raises UnreadableFile with a reason and a zh/en message."""
from __future__ import annotations

import datetime as dt
import gzip
import os

import openpyxl
import pytest

import exchange
from exchange import UnreadableFile, open_table, propose_mapping, read_records

HEADER = "姓名,性别,出生日期,公民身份号码,住址\n"
ROWS = ("陈新强,男,1989-06-25,431128198906256336,新田县龙泉街道双碧社区\n"
        "宋可晴,女,1997/4/2,431128199704020389,新田县龙泉街道双碧社区\n")


def _write(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _records(path, source="police", **kw):
    table = open_table(path, **kw)
    proposal = propose_mapping(table.columns, source)
    return table, list(read_records(table, proposal.fields, source))


@pytest.mark.parametrize("encoding, expected", [
    ("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("gbk", "gb18030"), ("gb18030", "gb18030"),
])
def test_csv_in_each_encoding_reads_the_same(tmp_path, encoding, expected):
    path = _write(tmp_path, "list.csv", (HEADER + ROWS).encode(encoding))
    table, records = _records(path)
    assert table.encoding == expected
    assert table.columns == ["姓名", "性别", "出生日期", "公民身份号码", "住址"]  # no BOM in the first name
    assert [r.values["name"] for r in records] == ["陈新强", "宋可晴"]
    assert records[1].values["address"] == "新田县龙泉街道双碧社区"
    assert [r.line for r in records] == [2, 3]
    assert not any(r.problems for r in records)


def test_gb18030_character_outside_gbk(tmp_path):
    name = "李㐀"  # U+3400, CJK extension A: in GB18030, not in GBK
    with pytest.raises(UnicodeEncodeError):
        name.encode("gbk")
    path = _write(tmp_path, "list.csv", (HEADER + f"{name},女,1990-01-01,,\n").encode("gb18030"))
    table, records = _records(path)
    assert table.encoding == "gb18030"
    assert records[0].values["name"] == name


def test_gzip_csv_streams_with_the_file_hash(tmp_path):
    rows = "".join(f"人{i},1,1980-01-01,,地址{i}\n" for i in range(2000))
    data = gzip.compress((HEADER + rows).encode("utf-8"))
    path = _write(tmp_path, "police.csv.gz", data)
    table, records = _records(path)
    assert len(records) == 2000
    assert records[-1].line == 2001 and records[-1].values["address"] == "地址1999"
    import hashlib
    assert table.sha256 == hashlib.sha256(data).hexdigest()


def test_title_rows_in_csv_and_tab_delimiter(tmp_path):
    text = "新田县户籍人口\n\n姓名\t性别\t出生日期\n张三\t1\t19850302\n"
    table, records = _records(_write(tmp_path, "list.txt", text.encode("utf-8")))
    assert table.header_line == 3 and table.delimiter == "\t"
    assert records[0].line == 4 and records[0].values["birth_date"] == dt.date(1985, 3, 2)


def test_quoted_line_break_keeps_the_line_numbers_of_the_file(tmp_path):
    text = HEADER + '张三,1,1985-03-02,,"一组\n二号"\n李四,2,1985-03-0x,,\n'
    _table, records = _records(_write(tmp_path, "list.csv", text.encode("utf-8")))
    assert [r.line for r in records] == [2, 4]
    assert records[1].problems[0].line == 4 and records[1].problems[0].reason == "date.format"


def test_empty_rows_are_skipped_not_reported(tmp_path):
    text = HEADER + "张三,1,,,\n,,,,\n\n李四,2,,,\n"
    _table, records = _records(_write(tmp_path, "list.csv", text.encode("utf-8")))
    assert [(r.line, r.values["name"]) for r in records] == [(2, "张三"), (5, "李四")]


def _messy_workbook(path):
    wb = openpyxl.Workbook()
    notes = wb.active
    notes.title = "填表说明"
    notes.append(["填表说明"])
    notes.append(["1. 身份证号请设置为文本格式；2. 出生日期写成1985-03-02"])
    ws = wb.create_sheet("户籍人口")
    ws.append(["新田县龙泉街道户籍人口名单"])
    ws.merge_cells("A1:G1")
    ws.append(["填报单位：双碧社区", None, None, "2026年11月"])
    ws.merge_cells("A2:C2")
    ws.append(["户号", "姓名 *", "与户主关系", "性别", "出生日期", "公民身份号码（必填）", "备注"])
    ws.append([103185981, "陈新强", "户主", "男", dt.datetime(1989, 6, 25), "431128198906256336", None])
    ws.append([103185981, "宋可晴", "妻", "女", "1997年4月2日", 431128199704020389, "外县嫁入"])
    ws.append([103185981, "陈小明", "之子", 1, 20150608, 4.31128201506080e17, None])
    ws.append([None] * 7)
    ws.append([103185982, "李四", "02", "2", dt.datetime(1950, 1, 1), "4.31128E+17", None])
    wb.save(path)


def test_messy_workbook(tmp_path):
    path = tmp_path / "户籍.xlsx"
    _messy_workbook(path)
    table, records = _records(path)
    assert table.sheet == "户籍人口" and table.header_line == 3 and table.encoding is None
    assert table.columns[1] == "姓名 *"
    assert [r.line for r in records] == [4, 5, 6, 8]
    first = records[0]
    assert first.values == {"name": "陈新强", "sex": "1", "birth_date": dt.date(1989, 6, 25),
                            "id_number": "431128198906256336", "household_no": "103185981",
                            "relation": "02"}
    assert first.problems == []
    numbers = [(p.line, p.column, p.field, p.reason) for r in records for p in r.problems]
    assert numbers == [(5, "公民身份号码（必填）", "id_number", "id.number_in_excel"),
                       (6, "公民身份号码（必填）", "id_number", "id.number_in_excel"),
                       (8, "公民身份号码（必填）", "id_number", "id.number_in_excel")]
    second = records[1]
    assert second.values["id_number"] is None and second.raw["id_number"] == "4.311281997040204e+17"
    assert second.values["birth_date"] == dt.date(1997, 4, 2) and second.extras == {"备注": "外县嫁入"}
    assert records[2].values["birth_date"] == dt.date(2015, 6, 8) and records[2].values["relation"] == "20"
    assert records[3].raw["id_number"] == "4.31128E+17"


def test_a_named_sheet(tmp_path):
    path = tmp_path / "户籍.xlsx"
    _messy_workbook(path)
    with pytest.raises(UnreadableFile) as e:
        open_table(path, sheet="填表说明")
    assert e.value.reason == "no_header"
    with pytest.raises(UnreadableFile) as e:
        open_table(path, sheet="没有")
    assert e.value.reason == "no_sheet"
    assert open_table(path, sheet="户籍人口").header_line == 3


def test_sheet_naming_most_known_columns_wins(tmp_path):
    wb = openpyxl.Workbook()
    wb.active.title = "汇总"
    wb.active.append(["村", "户数", "人数"])
    ws = wb.create_sheet("名单")
    ws.append(["村", "姓名", "性别", "出生日期"])
    ws.append(["龙华村", "张三", "男", "1985-03-02"])
    wb.save(tmp_path / "b.xlsx")
    table = open_table(tmp_path / "b.xlsx")
    assert table.sheet == "名单" and table.columns == ["村", "姓名", "性别", "出生日期"]


def _unreadable(path) -> UnreadableFile:
    with pytest.raises(UnreadableFile) as e:
        open_table(path)
    assert e.value.message["zh"] and e.value.message["en"]
    return e.value


def test_unreadable_files(tmp_path):
    rng = __import__("random").Random(16)
    junk = bytes(rng.randrange(256) for _ in range(5000))
    assert _unreadable(_write(tmp_path, "junk.csv", junk)).reason in ("not_a_table", "encoding")
    assert _unreadable(_write(tmp_path, "junk.xlsx", b"PK\x03\x04" + junk)).reason == "not_a_table"
    assert _unreadable(_write(tmp_path, "empty.csv", b"")).reason == "empty"
    assert _unreadable(_write(tmp_path, "bom.csv", b"\xef\xbb\xbf\r\n\r\n")).reason == "empty"
    assert _unreadable(_write(tmp_path, "old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + junk)).reason == "xls"
    assert _unreadable(_write(tmp_path, "cut.csv.gz", gzip.compress((HEADER + ROWS).encode())[:-12])).reason == "gzip"
    assert _unreadable(_write(tmp_path, "nohead.csv", "a,b\n1,2\n".encode())).reason == "no_header"
    assert _unreadable(tmp_path / "missing.csv").reason == "io"


def test_text_in_no_known_encoding_names_the_line(tmp_path):
    # Valid GB18030 everywhere except one byte that no encoding accepts, on line 3.
    data = (HEADER + "张三,1,,,\n").encode("gbk") + b"\xff\xff,1,,,\n"
    error = _unreadable(_write(tmp_path, "bad.csv", data))
    assert error.reason == "encoding" and "第3行" in error.message["zh"]


def test_workbook_without_header(tmp_path):
    wb = openpyxl.Workbook()
    wb.active.append([1, 2, 3])
    wb.active.append(["甲", "乙", "丙"])
    wb.save(tmp_path / "n.xlsx")
    assert _unreadable(tmp_path / "n.xlsx").reason == "no_header"
    empty = openpyxl.Workbook()
    empty.save(tmp_path / "e.xlsx")
    assert _unreadable(tmp_path / "e.xlsx").reason == "no_header"


def test_unreadable_file_yields_nothing(tmp_path):
    # The bad byte is at the end: nothing may be read before the whole file was checked.
    data = (HEADER + ROWS * 500).encode("utf-8") + b"\xff\n"
    path = _write(tmp_path, "late.csv", data)
    read = []
    with pytest.raises(UnreadableFile):
        read.extend(_records(path)[1])
    assert read == []


def test_the_linkage_files_read_as_they_are():
    path = "/work/shared/linkage/small/births.csv.gz"
    if not os.path.exists(path):
        pytest.skip("no linkage data set on this machine")
    table = open_table(path)
    proposal = propose_mapping(table.columns, "births")
    assert proposal.complete and proposal.extras == []
    first = next(read_records(table, proposal.fields, "births"))
    assert first.line == 2 and first.values["record_id"].startswith("CS")
    assert exchange.row_hash(first) == exchange.row_hash(next(read_records(table, proposal.fields, "births")))


def test_excel_unicode_text_utf16_tab_separated(tmp_path):
    # Excel's "Unicode text (*.txt)": UTF-16 with BOM, tab-separated.
    text = "姓名\t性别\t出生日期\r\n张三\t男\t1985/3/2\r\n"
    table, records = _records(_write(tmp_path, "list.txt", text.encode("utf-16")))
    assert table.encoding == "utf-16" and table.delimiter == "\t"
    assert records[0].values["name"] == "张三" and records[0].values["birth_date"] == dt.date(1985, 3, 2)
