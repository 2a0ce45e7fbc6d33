"""`flask lists import|withdraw|problems`: lists from the police, hospitals and civil affairs
through the real CLI, on SQLite and PostgreSQL (issue 16, "Importing lists")."""
from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from app.domain import lists
from app.extensions import db
from app.models import AuditEntry, ImportedList, ListMapping, ListProblem, ListRecord, ListRecordLink
from tests.support.households import id_number

POLICE_HEADER = ["编号", "姓名", "性别", "出生日期", "公民身份号码", "村代码", "户号", "与户主关系", "住址"]


def person(i: int, village: str, *, name: str | None = None, record: str | None = None) -> list[str]:
    birth = (dt.date(1950, 1, 1) + dt.timedelta(days=(i * 3) % 25_000)).isoformat()
    sex = "1" if i % 2 else "2"
    return [record or f"GA{i:07d}", name or f"张{i}", sex, birth, id_number(birth, sex, seq=i % 400), village,
            f"1{i // 4:08d}", "02" if i % 4 == 0 else "20", f"{i}号"]


def write_csv(path: Path, header: list[str], rows: list[list[str]], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def run(app, *args: str):
    """The real `flask lists ...` command; the test's transaction ends first, as a command
    started from a shell sees only what was committed."""
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["lists", *map(str, args)])
    db.session.expire_all()
    return result


def run_json(app, *args: str) -> dict:
    result = run(app, "import", *args, "--json")
    assert result.exit_code == 0, result.output + result.stderr
    return json.loads(result.stdout)


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def nothing_saved() -> None:
    assert count(ImportedList) == count(ListRecord) == count(ListProblem) == count(ListMapping) == 0
    assert count(AuditEntry, AuditEntry.action == "lists.import") == 0


@pytest.fixture
def clerk(units, make_user):
    """A clerk of township T1 (villages A and B; village C is in T2, outside)."""
    return make_user("clerk", units["T1"], username="clerk1")


# ------------------------------------------------------------------ CSV: bad rows by line

def test_bad_rows_are_reported_by_line_flagged_rows_kept_as_written(app, units, clerk, tmp_path):
    a, c = units["A"].code, units["C"].code
    rows = [person(1, a), person(2, a), person(3, a), person(4, a), person(5, c), person(6, a)]
    rows[1][4] = rows[1][4][:-1] + ("0" if rows[1][4][-1] != "0" else "1")  # wrong check digit (line 3)
    rows[2][3] = "1985-02-30"                                                # impossible date (line 4)
    rows[3][1] = ""                                                          # no name (line 5)
    # line 6: village C lies outside the clerk's township
    rows[5][5] = "999999999999"                                              # unknown village (line 7)
    path = write_csv(tmp_path / "police.csv", POLICE_HEADER, rows)

    result = run(app, "import", path, "--source", "police", "--month", "2026-11", "--as", "clerk1")

    assert result.exit_code == 0, result.output + result.stderr
    lines = result.stdout.splitlines()
    list_id = int(next(line for line in lines if line.startswith("list_id="))[len("list_id="):])
    lst = db.session.get(ImportedList, list_id)
    assert (lst.state, lst.rows_read, lst.rows_loaded, lst.rows_flagged, lst.rows_refused) == ("loaded", 6, 3, 2, 3)
    assert lst.unit_id == units["T1"].id
    problems = {(p.line, p.field, p.refused) for p in db.session.scalars(select(ListProblem))}
    assert {(3, "id_number", False), (4, "birth_date", False), (5, "name", True), (6, "village", True),
            (7, "village", True)} <= problems
    by_line = {r.line: r for r in db.session.scalars(select(ListRecord))}
    assert sorted(by_line) == [2, 3, 4]
    assert by_line[3].id_number is None and by_line[3].raw["id_number"] == rows[1][4]
    assert by_line[4].birth_date is None and by_line[4].raw["birth_date"] == "1985-02-30"
    assert [f["field"] for f in by_line[4].flags] == ["birth_date"]
    assert by_line[2].village_id == units["A"].id and by_line[2].unit_path == units["A"].path
    assert by_line[2].record_id == "GA0000001" and by_line[2].relation == "20"
    # The report names the lines, with the counts.
    out = result.stdout
    for line in (3, 4, 5, 6, 7):
        assert f"第{line}行" in out
    assert "读取行数: 6" in out and "已导入: 3" in out and "未导入: 3" in out
    audit = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "lists.import")).one()
    assert audit.details["file_name"] == "police.csv" and audit.details["loaded"] == 3
    assert audit.actor_id == clerk.id


def test_problem_list_downloads_as_excel(app, units, clerk, tmp_path):
    rows = [person(1, units["A"].code), person(2, units["A"].code)]
    rows[1][3] = "1985年13月1日"
    path = write_csv(tmp_path / "p.csv", POLICE_HEADER, rows)
    list_id = run_json(app, path, "--source", "police", "--as", "clerk1")["list_id"]

    out = tmp_path / "problems.xlsx"
    result = run(app, "problems", list_id, "--xlsx", out)

    assert result.exit_code == 0, result.output
    sheet = load_workbook(out).active
    data = list(sheet.iter_rows(values_only=True))
    assert data[0][0] == "行号" and data[1][0] == 3 and data[1][3] == "1985年13月1日"


# ------------------------------------------------------------------ XLSX, encodings

def test_xlsx_with_a_title_row_and_gbk_csv_import(app, units, clerk, tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.title = "出生"
    ws.append(["2026年11月 出生名单"])
    ws.merge_cells("A1:F1")
    ws.append(["姓名", "性别", "出生日期", "母亲姓名", "母亲身份证号", "村"])
    mother = id_number("1995-02-03", "2", 7)
    ws.append(["王小宝", "男", dt.datetime(2026, 10, 2), "李芳", mother, units["B"].name])
    ws.append(["王小贝", "女", "2026/10/3", "李芳", mother, "银闸"])  # the name without 社区
    wb.save(tmp_path / "births.xlsx")

    data = run_json(app, tmp_path / "births.xlsx", "--source", "births", "--as", "clerk1")

    assert (data["read"], data["loaded"], data["flagged"], data["refused"]) == (2, 2, 0, 0)
    recs = db.session.scalars(select(ListRecord).order_by(ListRecord.line)).all()
    assert [(r.line, r.name, r.sex, r.birth_date, r.village_id) for r in recs] == [
        (3, "王小宝", "1", dt.date(2026, 10, 2), units["B"].id), (4, "王小贝", "2", dt.date(2026, 10, 3), units["B"].id)]
    assert recs[0].mother_id_number == mother

    gbk = write_csv(tmp_path / "gbk.csv", POLICE_HEADER, [person(9, units["A"].code, name="陳國強")], encoding="gbk")
    data = run_json(app, gbk, "--source", "police", "--as", "clerk1")
    rec = db.session.scalars(select(ListRecord).where(ListRecord.list_id == data["list_id"])).one()
    assert (rec.name, rec.name_norm) == ("陳國強", "陈国强")


# ------------------------------------------------------------------ the same file again

def test_reimport_adds_nothing_and_answers_the_same_list(app, units, clerk, tmp_path):
    path = write_csv(tmp_path / "p.csv", POLICE_HEADER, [person(i, units["A"].code) for i in range(1, 6)])
    first = run(app, "import", path, "--source", "police", "--as", "clerk1")
    second = run(app, "import", path, "--source", "police", "--as", "clerk1")

    assert first.exit_code == second.exit_code == 0
    ids = [line for line in first.stdout.splitlines() + second.stdout.splitlines() if line.startswith("list_id=")]
    assert len(ids) == 2 and ids[0] == ids[1]
    assert count(ImportedList) == 1 and count(ListRecord) == 5
    assert count(AuditEntry, AuditEntry.action == "lists.import") == 1

    # Another file with the same rows (and one new) in the same month: the old rows are duplicates.
    other = write_csv(tmp_path / "p2.csv", POLICE_HEADER, [person(i, units["A"].code) for i in range(1, 7)])
    data = run_json(app, other, "--source", "police", "--as", "clerk1")
    assert (data["loaded"], data["duplicate"]) == (1, 5)
    assert count(ListRecord) == 6


# ------------------------------------------------------------------ mapping

def test_incomplete_mapping_fails_naming_the_column_then_is_saved_and_reused(app, units, clerk, tmp_path):
    header = ["姓名", "性别", "生辰", "村代码"]
    october = write_csv(tmp_path / "oct.csv", header, [["王一", "1", "2026-10-01", units["A"].code]])

    failed = run(app, "import", october, "--source", "births", "--month", "2026-10", "--as", "clerk1")
    assert failed.exit_code != 0
    assert "出生日期" in failed.stderr and "birth_date" in failed.stderr
    nothing_saved()

    data = run_json(app, october, "--source", "births", "--month", "2026-10", "--map", "生辰=birth_date",
                    "--as", "clerk1")
    assert data["loaded"] == 1 and data["mapping"]["birth_date"] == "生辰"
    saved = db.session.scalars(select(ListMapping)).one()
    assert (saved.source, saved.name, saved.fields["birth_date"]) == ("births", "births", "生辰")

    november = write_csv(tmp_path / "nov.csv", header, [["王二", "2", "2026-11-02", units["A"].code]])
    data = run_json(app, november, "--source", "births", "--month", "2026-11", "--as", "clerk1")
    assert data["loaded"] == 1
    assert db.session.scalars(select(ListRecord).where(ListRecord.list_id == data["list_id"])).one().birth_date \
        == dt.date(2026, 11, 2)


def test_a_named_mapping_is_kept_apart(app, units, clerk, tmp_path):
    header = ["名", "生日", "村代码"]
    path = write_csv(tmp_path / "x.csv", header, [["王一", "2026-10-01", units["A"].code]])
    data = run_json(app, path, "--source", "births", "--mapping", "县医院", "--map", "名=name",
                    "--map", "生日=birth_date", "--as", "clerk1")
    assert data["loaded"] == 1
    assert {(m.source, m.name) for m in db.session.scalars(select(ListMapping))} == {("births", "县医院")}


# ------------------------------------------------------------------ changes nothing

def test_dry_run_counts_and_changes_nothing(app, units, clerk, tmp_path):
    rows = [person(i, units["A"].code) for i in range(1, 5)] + [person(5, units["C"].code)]
    path = write_csv(tmp_path / "p.csv", POLICE_HEADER, rows + [rows[0]])

    data = run_json(app, path, "--source", "police", "--dry-run", "--as", "clerk1")

    assert (data["list_id"], data["read"], data["loaded"], data["refused"], data["duplicate"]) == (None, 6, 4, 1, 1)
    nothing_saved()


@pytest.mark.parametrize("content", [b"", b"\x00\x01\x02garbage\xff\xfe" * 50, "只有一行说明文字\n".encode()])
def test_unreadable_file_changes_nothing(app, units, clerk, tmp_path, content):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)

    result = run(app, "import", path, "--source", "police", "--as", "clerk1")

    assert result.exit_code != 0
    assert "错误" in result.stderr and "error" in result.stderr
    nothing_saved()


def test_missing_file_and_bad_month_are_refused(app, units, clerk, tmp_path):
    assert run(app, "import", tmp_path / "none.csv", "--source", "police").exit_code != 0
    path = write_csv(tmp_path / "p.csv", POLICE_HEADER, [person(1, units["A"].code)])
    result = run(app, "import", path, "--source", "police", "--month", "2026-13")
    assert result.exit_code != 0 and "YYYY-MM" in result.stderr
    nothing_saved()


# ------------------------------------------------------------------ the area

def test_rows_outside_the_area_are_refused_and_users_without_the_permission_cannot_import(
        app, units, clerk, make_user, tmp_path):
    path = write_csv(tmp_path / "p.csv", POLICE_HEADER,
                     [person(1, units["A"].code), person(2, units["C"].code), person(3, units["B"].name)])
    data = run_json(app, path, "--source", "police", "--as", "clerk1")
    assert (data["loaded"], data["refused"]) == (2, 1)
    assert [(p["line"], p["reason"]) for p in data["problems"]] == [(3, "village.outside")]

    make_user("collector", units["A"], username="collector1")
    other = write_csv(tmp_path / "q.csv", POLICE_HEADER, [person(7, units["A"].code)])
    result = run(app, "import", other, "--source", "police", "--as", "collector1")
    assert result.exit_code != 0 and "没有导入名单的权限" in result.stderr
    assert count(ImportedList) == 1


def test_department_row_without_village_is_kept_at_the_importing_unit_police_row_refused(
        app, units, clerk, tmp_path):
    deaths = write_csv(tmp_path / "deaths.csv", ["姓名", "死亡日期", "村"],
                       [["赵老", "2026-10-05", ""], ["钱老", "2026-10-06", "不存在村"], ["孙老", "2026-10-07", "多福巷"]])
    data = run_json(app, deaths, "--source", "deaths", "--as", "clerk1")

    assert (data["loaded"], data["flagged"], data["refused"]) == (3, 2, 0)
    recs = {r.name: r for r in db.session.scalars(select(ListRecord))}
    assert recs["赵老"].village_id is None and recs["赵老"].unit_path == units["T1"].path
    assert [f["reason"] for f in recs["赵老"].flags] == ["village.missing"]
    assert [f["reason"] for f in recs["钱老"].flags] == ["village.unknown"]
    assert recs["孙老"].village_id == units["A"].id and recs["孙老"].flags == []

    police = write_csv(tmp_path / "police.csv", POLICE_HEADER, [person(1, ""), person(2, units["A"].code)])
    data = run_json(app, police, "--source", "police", "--as", "clerk1")
    assert (data["loaded"], data["refused"]) == (1, 1)


# ------------------------------------------------------------------ withdraw

def test_withdraw_excludes_the_list_and_is_refused_once_a_household_was_made(app, units, clerk, make_user,
                                                                            tmp_path):
    from app.domain import registration
    from tests.support.households import TODAY, family

    path = write_csv(tmp_path / "p.csv", POLICE_HEADER, [person(i, units["A"].code) for i in range(1, 4)])
    list_id = run_json(app, path, "--source", "police", "--as", "clerk1")["list_id"]

    result = run(app, "withdraw", list_id, "--as", "clerk1")

    assert result.exit_code == 0, result.output + result.stderr
    lst = db.session.get(ImportedList, list_id)
    assert lst.state == "withdrawn" and lst.withdrawn_by_id == clerk.id and count(ListRecord) == 3
    assert count(AuditEntry, AuditEntry.action == "lists.withdraw") == 1
    # Its rows no longer count: the same file loads again, as a new list.
    again = run_json(app, path, "--source", "police", "--as", "clerk1")
    assert again["list_id"] != list_id and again["loaded"] == 3 and again["duplicate"] == 0

    # Once a household is made from a row, the list stays.
    collector = make_user("collector", units["A"])
    household = registration.new_household(collector, unit_id=units["A"].id, data=family(), today=TODAY).household
    record = db.session.scalars(select(ListRecord).where(ListRecord.list_id == again["list_id"])).first()
    db.session.add(ListRecordLink(record_id=record.id, household_id=household.id))
    db.session.commit()
    result = run(app, "withdraw", again["list_id"], "--as", "clerk1")
    assert result.exit_code != 0
    assert db.session.get(ImportedList, again["list_id"]).state == "loaded"


# ------------------------------------------------------------------ stopping half-way

def test_an_import_that_fails_half_way_is_failed_and_a_rerun_cleans_and_reloads_it(app, units, clerk, tmp_path):
    path = write_csv(tmp_path / "p.csv", POLICE_HEADER, [person(i, units["A"].code) for i in range(1, 8)])

    def stop(read: int) -> None:
        raise RuntimeError("the disk is full")

    actor = db.session.get(type(clerk), clerk.id)
    with pytest.raises(RuntimeError):
        lists.import_list(actor, path, source="police", on_progress=stop, commit=db.session.commit, chunk_rows=3)
    lst = db.session.scalars(select(ImportedList)).one()
    assert lst.state == "failed" and "disk" in lst.error
    assert count(ListRecord) == 3  # the first chunk, counting for nothing

    data = run_json(app, path, "--source", "police", "--as", "clerk1")

    assert data["list_id"] == lst.id and (data["loaded"], data["duplicate"]) == (7, 0)
    assert db.session.get(ImportedList, lst.id).state == "loaded"
    assert count(ListRecord) == 7


def test_background_job_loads_a_prepared_list_with_its_progress(app, units, clerk, tmp_path):
    from app.jobs import run_list_import

    path = write_csv(tmp_path / "p.csv", POLICE_HEADER, [person(i, units["A"].code) for i in range(1, 6)])
    prepared = lists.prepare_import(clerk, path, source="police", month="2026-11")
    db.session.commit()
    assert db.session.get(ImportedList, prepared.list_id).state == "loading"
    clerk_id = clerk.id
    db.session.commit()  # the job is another connection (SQLite: one writer at a time)

    run_list_import(prepared.list_id, str(path), source="police", actor_id=clerk_id, month="2026-11")

    db.session.expire_all()
    lst = db.session.get(ImportedList, prepared.list_id)
    assert (lst.state, lst.rows_read, lst.rows_loaded) == ("loaded", 5, 5)


# ------------------------------------------------------------------ a county's list, in small

def test_ten_thousand_rows_through_the_cli(app, units, clerk, tmp_path):
    villages = [units["A"].code, units["B"].code]
    rows = [person(i, villages[i % 2]) for i in range(10_000)]
    path = write_csv(tmp_path / "big.csv", POLICE_HEADER, rows)

    result = run(app, "import", path, "--source", "police", "--month", "2026-11", "--as", "clerk1")

    assert result.exit_code == 0, result.output + result.stderr
    assert "list_id=" in result.stdout and "已导入: 10000" in result.stdout
    assert count(ListRecord) == 10_000 and count(ListProblem) == 0
    assert count(ListRecord, ListRecord.village_id == units["B"].id) == 5_000
    assert "rows read" in result.stderr  # progress, a line per chunk
    again = run_json(app, path, "--source", "police", "--month", "2026-11", "--as", "clerk1")
    assert again["existing"] and count(ListRecord) == 10_000


def test_rows_repeated_in_the_file_count_once_across_chunks(app, units, clerk, tmp_path):
    rows = [person(i, units["A"].code) for i in range(1, 6)]
    renamed = person(2, units["A"].code, name="张二改")  # the same record id, another content
    path = write_csv(tmp_path / "p.csv", POLICE_HEADER, rows + [rows[0], renamed, person(6, units["A"].code)])
    actor = db.session.get(type(clerk), clerk.id)

    result = lists.import_list(actor, path, source="police", commit=db.session.commit, chunk_rows=2)
    db.session.commit()

    assert (result.read, result.loaded, result.duplicate) == (8, 6, 2)
    assert count(ListRecord) == 6


def test_preview_shows_the_mapping_and_first_rows_and_writes_nothing(app, units, clerk, tmp_path):
    path = write_csv(tmp_path / "p.csv", POLICE_HEADER, [person(i, units["A"].code) for i in range(1, 30)])

    shown = lists.preview(path, source="police", rows=5)

    assert shown.proposal.complete and shown.proposal.fields["id_number"] == "公民身份号码"
    assert [r.line for r in shown.records] == [2, 3, 4, 5, 6]
    nothing_saved()


def test_a_loading_list_left_by_a_dead_loader_is_cleaned_a_live_one_refused(app, units, clerk, tmp_path):
    from app.domain.errors import Conflict

    path = write_csv(tmp_path / "p.csv", POLICE_HEADER, [person(i, units["A"].code) for i in range(1, 4)])
    prepared = lists.prepare_import(clerk, path, source="police")
    db.session.commit()
    with pytest.raises(Conflict):
        lists.import_list(clerk, path, source="police")
    db.session.rollback()

    lst = db.session.get(ImportedList, prepared.list_id)
    lst.progress_at = lst.progress_at - dt.timedelta(hours=1)
    db.session.commit()
    result = lists.import_list(clerk, path, source="police", stale_after=dt.timedelta(minutes=10))
    db.session.commit()
    assert (result.list_id, result.loaded) == (prepared.list_id, 3)
    assert db.session.get(ImportedList, prepared.list_id).state == "loaded"
