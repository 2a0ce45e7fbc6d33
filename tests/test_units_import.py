"""`flask units import`: the NBS division tree from CSV, idempotent, bad rows reported by line."""
from __future__ import annotations

import csv
import gzip
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.domain.errors import Invalid
from app.domain.tree import in_subtree
from app.domain.units_import import UnreadableFile, import_units, significant_prefix
from app.extensions import db
from app.models import AdminUnit, AuditEntry

L4_2023 = Path("/work/shared/data/admin_divisions_l1-l4_2023.csv")
HEADER = "code,name,level,parent_code"

# One chain from a province to two villages, and a second county (a small real tree).
TREE = [
    "340000000000,安徽省,1,",
    "341000000000,黄山市,2,340000000000",
    "341023000000,黟县,3,341000000000",
    "341023202000,宏潭乡,4,341023000000",
    "341023202200,宏潭村委会,5,341023202000",
    "341023202201,黄姑村委会,5,341023202000",
    "341024000000,祁门县,3,341000000000",
]


def write_csv(tmp_path: Path, lines: list[str], name: str = "units.csv", header: str = HEADER) -> Path:
    path = tmp_path / name
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


def tree() -> dict[str, tuple[str, str, str | None, str]]:
    """code -> (name, level, parent code, path), the whole admin_unit table."""
    units = db.session.scalars(select(AdminUnit)).all()
    return {u.code: (u.name, u.level, u.parent.code if u.parent else None, u.path) for u in units}


def unit_count() -> int:
    return db.session.scalar(select(func.count()).select_from(AdminUnit))


def import_audits() -> list[AuditEntry]:
    return db.session.scalars(select(AuditEntry).where(AuditEntry.action == "units.import")
                              .order_by(AuditEntry.id)).all()


def errors_of(report) -> list[tuple[int, str]]:
    return [(e.line, e.reason) for e in report.errors]


def run_cli(app, *args: str):
    return app.test_cli_runner().invoke(args=["units", "import", *map(str, args)])


# ------------------------------------------------------------------ building the tree

def test_rows_become_units_with_parents_levels_and_paths(app, tmp_path):
    report = import_units(write_csv(tmp_path, TREE))
    db.session.commit()

    assert (report.created, report.renamed, report.unchanged, report.errors) == (7, 0, 0, [])
    assert report.created_by_level == {"province": 1, "city": 1, "county": 2, "township": 1, "village": 2}
    units = tree()
    assert units["340000000000"] == ("安徽省", "province", None, "340000000000/")
    assert units["341023202000"] == (
        "宏潭乡", "township", "341023000000", "340000000000/341000000000/341023000000/341023202000/")
    assert units["341023202201"][1:3] == ("village", "341023202000")
    for code, (_name, _level, parent, path) in units.items():
        assert path == (units[parent][3] if parent else "") + code + "/"


def test_subtree_queries_return_exactly_the_descendants(app, tmp_path):
    import_units(write_csv(tmp_path, TREE))
    db.session.commit()

    def under(code: str) -> set[str]:
        path = db.session.scalar(select(AdminUnit.path).where(AdminUnit.code == code))
        return set(db.session.scalars(select(AdminUnit.code).where(in_subtree(AdminUnit.path, path))))

    assert under("341023000000") == {"341023000000", "341023202000", "341023202200", "341023202201"}
    assert under("341023202000") == {"341023202000", "341023202200", "341023202201"}
    assert under("341024000000") == {"341024000000"}
    assert under("340000000000") == {line.split(",")[0] for line in TREE}


def test_a_child_before_its_parent_in_the_file_still_loads(app, tmp_path):
    report = import_units(write_csv(tmp_path, list(reversed(TREE))))

    assert report.errors == [] and report.created == len(TREE)
    assert tree()["341023202200"][2:] == (
        "341023202000", "340000000000/341000000000/341023000000/341023202000/341023202200/")


@pytest.mark.parametrize("name", ["units.csv.gz", "units.csv"])
def test_gzip_files_are_read_by_name_or_by_magic_bytes(app, tmp_path, name):
    path = tmp_path / name
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("\n".join([HEADER, *TREE]) + "\n")

    report = import_units(path)

    assert report.errors == [] and report.created == len(TREE)


def test_a_byte_order_mark_crlf_line_ends_and_extra_columns_are_fine(app, tmp_path):
    path = tmp_path / "excel.csv"
    lines = ["code,name,level,parent_code,note", *(row + ",x" for row in TREE[:2])]
    path.write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8"))

    report = import_units(path)

    assert report.errors == [] and report.created == 2


def test_rows_from_python_use_line_numbers_as_if_after_a_header(app):
    rows = [dict(zip(HEADER.split(","), line.split(","))) for line in TREE[:3]]
    rows.append({"code": "341099000000", "name": "无名县", "level": 3, "parent_code": "349900000000"})

    report = import_units(rows)

    assert report.created == 3
    assert errors_of(report) == [(5, "parent.unknown")]
    assert report.source == "<rows>"


# ------------------------------------------------------------------ bad rows

BAD_FILE = [
    "340000000000,安徽省,1,",                       # line 2
    "341000000000,黄山市,2,340000000000",           # 3
    "34102300000,黟县,3,341000000000",              # 4: 11 digits
    "34102300000A,黟县,3,341000000000",             # 5: a letter
    "341024000000,祁门县,6,341000000000",           # 6: no level 6
    "341025000000,,3,341000000000",                 # 7: no name
    "341026000000,休宁县,3,",                       # 8: no parent
    "350000000000,福建省,1,340000000000",           # 9: a province with a parent
    "341027000000,某县,3,349900000000",             # 10: unknown parent
    "341024100000,某镇,4,341024000000",             # 11: its parent (line 6) was rejected
    "341028000000,歙县,3,34100000000",              # 12: malformed parent code
    "341000000000,黄山市,2,340000000000",           # 13: the same code again
    "341029000000,黟县,county,341000000000",        # 14: a level that is not a number
    "341030000000," + "长" * 101 + ",3,341000000000",  # 15: name too long
    "341031000000,某县,3,341000000000,extra",       # 16: one column too many
    "341032000000,黟县,3,341000000000",             # 17: good
    "341032100000,某乡,4,341032100001",             # 18: parent is a township (line 19)
    "341032100001,某镇,4,341032000000",             # 19: good
    "341033000000,某县,3,341032100001",             # 20: a county under a township
]


def test_every_bad_row_is_reported_by_line_and_the_good_rows_load(app, tmp_path):
    report = import_units(write_csv(tmp_path, BAD_FILE))
    db.session.commit()

    assert errors_of(report) == [
        (4, "code.malformed"), (5, "code.malformed"), (6, "level.invalid"), (7, "name.missing"),
        (8, "parent.missing"), (9, "parent.unexpected"), (10, "parent.unknown"), (11, "parent.rejected"),
        (12, "parent.malformed"), (13, "code.duplicate"), (14, "level.invalid"), (15, "name.too_long"),
        (16, "row.columns"), (18, "parent.level"), (20, "parent.level"),
    ]
    assert set(tree()) == {"340000000000", "341000000000", "341032000000", "341032100001"}
    assert report.created == 4 and report.rows == len(BAD_FILE)
    by_line = {e.line: e for e in report.errors}
    assert by_line[4].field == "code" and "34102300000" in by_line[4].message
    assert by_line[11].field == "parent_code" and "341024000000" in by_line[11].message
    assert by_line[13].code == "341000000000"


def test_a_quoted_name_with_a_comma_and_a_line_break_keeps_later_line_numbers_right(app, tmp_path):
    lines = [TREE[0], '341000000000,"黄山市,\n第二行",2,340000000000', "341023000000,黟县,9,341000000000"]

    report = import_units(write_csv(tmp_path, lines))

    assert errors_of(report) == [(5, "level.invalid")]  # the name spans lines 3 and 4


def test_a_parent_in_the_database_is_found(app, tmp_path):
    import_units(write_csv(tmp_path, TREE[:1], "province.csv"))
    db.session.commit()

    report = import_units(write_csv(tmp_path, TREE[1:3], "more.csv"))

    assert report.errors == [] and report.created == 2
    assert tree()["341023000000"][3] == "340000000000/341000000000/341023000000/"


@pytest.mark.parametrize("content", [
    b"",                                               # empty
    b"id,title,depth\n1,x,1\n",                        # wrong header
    "code,name,level,parent_code\n340000000000,安徽省,1,\n".encode("gbk"),  # not UTF-8
    b"\x1f\x8b\x08\x00broken",                         # broken gzip
])
def test_a_file_that_cannot_be_read_imports_nothing(app, tmp_path, content):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)

    with pytest.raises(UnreadableFile):
        import_units(path)
    assert unit_count() == 0 and import_audits() == []


def test_a_missing_file_is_unreadable(app, tmp_path):
    with pytest.raises(UnreadableFile, match="nothere.csv"):
        import_units(tmp_path / "nothere.csv")


# ------------------------------------------------------------------ importing again

def test_importing_again_changes_nothing(app, tmp_path):
    path = write_csv(tmp_path, TREE)
    import_units(path)
    db.session.commit()
    before = tree()

    report = import_units(path)
    db.session.commit()

    assert (report.created, report.renamed, report.unchanged, report.errors) == (0, 0, len(TREE), [])
    assert tree() == before and unit_count() == len(TREE)


def test_a_new_name_is_a_rename_and_a_new_parent_or_level_is_an_error(app, tmp_path, units):
    import_units(write_csv(tmp_path, TREE))
    db.session.commit()
    county = db.session.scalar(select(AdminUnit).where(AdminUnit.code == "341023000000"))
    township = db.session.scalar(select(AdminUnit).where(AdminUnit.code == "341023202000"))
    # Loaded into the session before the import:
    assert county.name == "黟县" and len(township.children) == 2
    changed = [
        *TREE[:2],
        "341023000000,黟县（新）,3,341000000000",        # line 4: renamed
        "341023202000,宏潭乡,4,341024000000",            # 5: moved to another county
        "341024000000,祁门县,4,341000000000",            # 6: now a township
        "341023202200,宏潭村委会,5,341023202000",        # 7: unchanged
        "341023202299,新村委会,5,341023202000",          # 8: new
        "110101000000,东城区,3,110100000000",            # 9: unchanged, from the units fixture
    ]

    report = import_units(write_csv(tmp_path, changed, "changed.csv"))

    # The session's copies are up to date, even before the commit.
    assert county.name == "黟县（新）" and len(township.children) == 3
    db.session.commit()
    assert (report.created, report.renamed, report.unchanged) == (1, 1, 4)
    assert errors_of(report) == [(5, "parent.changed"), (6, "level.changed")]
    units_now = tree()
    assert units_now["341023202000"][2] == "341023000000"  # not moved
    assert units_now["341024000000"][1] == "county"
    assert units_now["341023202299"][3] == "340000000000/341000000000/341023000000/341023202000/341023202299/"


def test_one_audit_entry_per_import_with_the_counts(app, tmp_path):
    path = write_csv(tmp_path, BAD_FILE, "bad rows.csv")
    import_units(path)
    import_units(path)

    first, second = import_audits()
    assert first.details["file"] == "bad rows.csv" and len(first.details["sha256"]) == 64
    assert (first.details["created"], first.details["renamed"], first.details["errors"]) == (4, 0, 15)
    assert (second.details["created"], second.details["unchanged"], second.details["errors"]) == (0, 4, 15)


# ------------------------------------------------------------------ a subtree only

TWO_PROVINCES = [
    *TREE,
    "350000000000,福建省,1,",
    "350100000000,福州市,2,350000000000",
    "35010200000X,鼓楼区,3,350100000000",  # malformed, outside the subtree
]


def test_under_imports_one_subtree_with_its_ancestors(app, tmp_path):
    lines = [*TWO_PROVINCES, "34102320300X,坏乡,4,341023000000"]  # malformed, inside (line 12)

    report = import_units(write_csv(tmp_path, lines), under="341023000000")

    assert set(tree()) == {"340000000000", "341000000000", "341023000000", "341023202000",
                           "341023202200", "341023202201"}
    assert errors_of(report) == [(12, "code.malformed")]
    assert report.skipped == 4 and report.created == 6


def test_under_a_province_takes_only_its_codes(app, tmp_path):
    report = import_units(write_csv(tmp_path, TWO_PROVINCES), under="350000000000")

    assert set(tree()) == {"350000000000", "350100000000"}
    assert errors_of(report) == [(11, "code.malformed")]


@pytest.mark.parametrize("code", ["3410230000", "34102300000A", "360000000000"])
def test_under_a_malformed_or_absent_code_is_refused(app, tmp_path, code):
    with pytest.raises(Invalid):
        import_units(write_csv(tmp_path, TREE), under=code)
    assert unit_count() == 0


def test_significant_prefix_follows_the_code_structure():
    assert significant_prefix("340000000000") == "34"
    assert significant_prefix("341000000000") == "3410"
    assert significant_prefix("110100000000") == "1101"
    assert significant_prefix("341023000000") == "341023"
    assert significant_prefix("341023202000") == "341023202"
    assert significant_prefix("341023202200") == "341023202200"


# ------------------------------------------------------------------ the command

def test_cli_prints_the_summary_and_the_bad_lines(app, tmp_path):
    result = run_cli(app, write_csv(tmp_path, BAD_FILE))

    assert result.exit_code == 3, result.output
    assert "created   4" in result.output and "errors    15" in result.output
    assert "line 4: 34102300000:" in result.output
    assert "line 20: 341033000000:" in result.output
    assert unit_count() == 4  # committed
    assert len(import_audits()) == 1


def test_cli_shows_the_first_twenty_errors_unless_verbose(app, tmp_path):
    lines = [TREE[0], *(f"3410{n:02d}000000,某市,2,349900000000" for n in range(30))]
    path = write_csv(tmp_path, lines)

    short = run_cli(app, "--dry-run", path)
    full = run_cli(app, "--verbose", "--dry-run", path)

    assert short.output.count("\n  line ") == 20 and "and 10 more" in short.output
    assert full.output.count("\n  line ") == 30 and "line 32: 341029000000:" in full.output


def test_cli_writes_every_error_to_the_errors_file(app, tmp_path):
    out = tmp_path / "errors.csv"

    result = run_cli(app, "--errors-file", out, write_csv(tmp_path, BAD_FILE))

    assert result.exit_code == 3
    with out.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [(int(r["line"]), r["reason"]) for r in rows][:3] == [
        (4, "code.malformed"), (5, "code.malformed"), (6, "level.invalid")]
    assert len(rows) == 15


def test_cli_exits_zero_when_clean_and_dry_run_saves_nothing(app, tmp_path):
    path = write_csv(tmp_path, TREE)

    dry = run_cli(app, "--dry-run", path)
    assert dry.exit_code == 0 and "dry run" in dry.output and "created   7" in dry.output
    assert unit_count() == 0 and import_audits() == []

    real = run_cli(app, path)
    again = run_cli(app, path)
    assert real.exit_code == 0 and again.exit_code == 0
    assert "created   0" in again.output and "unchanged 7" in again.output
    assert unit_count() == 7


def test_cli_exits_one_when_the_file_cannot_be_read(app, tmp_path):
    result = run_cli(app, tmp_path / "nothere.csv")

    assert result.exit_code == 1 and "nothere.csv" in result.output


def test_cli_under(app, tmp_path):
    result = run_cli(app, "--under", "350000000000", write_csv(tmp_path, TWO_PROVINCES))

    assert result.exit_code == 3 and "skipped   7" in result.output and "line 11:" in result.output
    assert unit_count() == 2


# ------------------------------------------------------------------ the real country

@pytest.mark.skipif(not L4_2023.exists(), reason="shared reference data not present")
def test_the_whole_country_to_townships(app):
    started = time.perf_counter()
    report = import_units(L4_2023)
    db.session.commit()
    seconds = time.perf_counter() - started

    assert report.errors == []
    assert report.created_by_level == {"province": 31, "city": 342, "county": 2975, "township": 41351}
    counts = dict(db.session.execute(select(AdminUnit.level, func.count()).group_by(AdminUnit.level)).all())
    assert counts == {"province": 31, "city": 342, "county": 2975, "township": 41351}
    # 东莞 (4419) has no counties: its townships hang from the city (README §1).
    dongguan = db.session.scalar(select(AdminUnit).where(AdminUnit.code == "441900003000"))
    assert dongguan.parent.code == "441900000000"
    assert dongguan.path == "440000000000/441900000000/441900003000/"
    anhui = db.session.scalar(select(AdminUnit.path).where(AdminUnit.code == "340000000000"))
    in_anhui = db.session.scalar(select(func.count()).where(in_subtree(AdminUnit.path, anhui)))
    assert in_anhui == sum(1 for line in L4_2023.open(encoding="utf-8") if line.startswith("34"))
    assert seconds < 30, f"{seconds:.1f} s"
