"""Spot check pages (issue 17) over real HTTP on both databases: the township verifier draws a
village's spot check from the form (the default seed is the date and the village code), the
check list page shows the sample and the accuracy with its formula, the check list as PDF and
Excel read back, the checker enters per main item on the phone page (the household's own
collector is refused, bad input names the item and changes nothing), and every page showing
persons is in the access log."""
from __future__ import annotations

import io
import re
from html import unescape

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import func, select

from app.domain import registration as reg
from app.domain import spot_checks as sc
from app.extensions import db
from app.models import Household, SpotCheck, SpotCheckItem
from tests.support.households import young_family
from tests.test_access_log import entries


ROUND = "2026"


def text(resp) -> str:
    return unescape(resp.get_data(as_text=True))


@pytest.fixture
def world(app, units, make_user, new_client):
    """Village A with 12 young families (48 persons, 12 married women: 15 % -> 2 sampled),
    collected by 张采集; another collector of A, the township's and another township's
    verifiers, the county administrator, each logged in."""
    users = {"collector": make_user("collector", units["A"], username="zhang", name="张采集"),
             "checker": make_user("collector", units["A"], username="li", name="李核查"),
             "verifier": make_user("verifier", units["T1"], username="verifier", name="王审核"),
             "verifier_t2": make_user("verifier", units["T2"], username="verifier2"),
             "county": make_user("county_admin", units["county"], username="county")}
    app.config["ACCEPTANCE_ROUND"] = ROUND
    for seq in range(1, 13):
        reg.new_household(users["collector"], unit_id=units["A"].id, data=young_family("张", seq=seq),
                          today=reg.today())
    db.session.commit()
    clients = {}
    for role, user in users.items():
        clients[role] = new_client()
        clients[role].login(user.username)
    return {"users": users, "clients": clients, "A": units["A"], "T1": units["T1"]}


def drawn(world, seed: str = "seed-1") -> SpotCheck:
    resp = world["clients"]["verifier"].post_form(f"/spot-checks/draw/{world['A'].id}",
                                                  {"seed": seed, "round": "2026", "kind": "village"})
    assert resp.status_code == 302, text(resp)
    check = db.session.scalars(select(SpotCheck).order_by(SpotCheck.id.desc())).first()
    assert resp.headers["Location"].endswith(f"/spot-checks/{check.id}")
    return check


def test_the_draw_form_proposes_the_date_and_village_code_and_draws(app, world):
    c = world["clients"]["verifier"]
    assert 'data-testid="nav-spot-checks"' in text(c.get("/"))
    assert world["A"].name in text(c.get("/spot-checks/draw"))
    page = text(c.get(f"/spot-checks/draw/{world['A'].id}"))
    seed = f"{reg.today():%Y%m%d}-{world['A'].code}"
    assert f'value="{seed}"' in page and "抽查" in page and "种子" in page
    assert re.search(r'name="round" value="2026"[^>]*readonly', page)  # the acceptance round
    check = drawn(world, seed)
    assert (check.seed, check.population, check.married_women, check.sample_size) == (seed, 48, 12, 2)
    page = text(c.get(f"/spot-checks/{check.id}"))
    assert "李秀英" in page and "第2位成员" in page and seed in page
    assert "主要数据项准确率 = 核对正确项数 ÷ 核对项数" in page and "尚未录入" in page
    listing = text(c.get(f"/spot-checks/?unit_id={world['T1'].id}"))
    assert f'data-testid="spot-check-{check.id}"' in listing and "已录入0/2" in listing


@pytest.mark.parametrize("form, field_word", [
    ({"seed": "", "round": "2026"}, "种子"),
    ({"seed": "x" * 41, "round": "2026"}, "种子"),
    ({"seed": "s", "round": ""}, "轮次"),
    ({"seed": "s", "round": "2026", "kind": "other"}, "类型"),
    ({"seed": "s", "round": "2025"}, "当前验收轮次 2026"),   # not the acceptance round
])
def test_bad_draw_input_is_refused_naming_the_field_and_changes_nothing(app, world, form, field_word):
    resp = world["clients"]["verifier"].post_form(f"/spot-checks/draw/{world['A'].id}", form)
    assert resp.status_code == 422
    assert field_word in text(resp) and 'role="alert"' in text(resp)
    assert db.session.scalar(select(func.count()).select_from(SpotCheck)) == 0


def test_who_may_draw(app, world):
    url = f"/spot-checks/draw/{world['A'].id}"
    assert world["clients"]["collector"].get(url).status_code == 403
    assert world["clients"]["collector"].post_form(url, {"seed": "s", "round": "2026"}).status_code == 403
    assert world["clients"]["verifier_t2"].get(url).status_code == 404
    assert world["clients"]["county"].get(url).status_code == 200
    assert db.session.scalar(select(func.count()).select_from(SpotCheck)) == 0
    check = drawn(world)
    assert world["clients"]["verifier_t2"].get(f"/spot-checks/{check.id}").status_code == 404
    assert world["clients"]["verifier"].get("/spot-checks/999999").status_code == 404


def entry_form(check: SpotCheckItem, wrong: dict[str, str] | None = None) -> dict[str, str]:
    wrong = wrong or {}
    form = {}
    for c in sc.items_to_check(check, reg.today()):
        form[f"ok:{c.path}"] = "0" if c.path in wrong else "1"
        form[f"found:{c.path}"] = wrong.get(c.path, "")
    return form


def test_the_collector_of_the_household_is_refused_and_another_checker_enters(app, world):
    check = drawn(world)
    item = check.items[0]
    url = f"/spot-checks/{check.id}/items/1"
    page = text(world["clients"]["collector"].get(url))
    assert 'data-testid="refusal"' in page and "自己采集" in page and 'data-testid="entry-form"' not in page
    resp = world["clients"]["collector"].post_form(url, entry_form(item))
    assert resp.status_code == 403 and "自己采集" in text(resp)
    assert db.session.get(SpotCheckItem, item.id).checked_at is None

    c = world["clients"]["checker"]
    page = text(c.get(url))
    assert 'data-testid="entry-form"' in page and "身份证号码" in page and "登记值" in page
    form = entry_form(item, {"members[1].boys": "2"})
    resp = c.post_form(url, form)
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/spot-checks/{check.id}/items/2")
    item = db.session.get(SpotCheckItem, item.id)
    n = item.items_checked
    assert n == 13 and item.items_wrong == 1 and item.results["members[1].boys"] == {"ok": False, "found": "2"}
    page = text(world["clients"]["verifier"].get(f"/spot-checks/{check.id}"))
    assert f"= {n - 1} ÷ {n} = {(n - 1) / n * 100:.1f} %" in page
    # The entry page shows what was entered; a correction overwrites it.
    page = text(c.get(url))
    assert re.search(r'name="ok:members\[1\]\.boys" value="0" checked', page)
    resp = c.post_form(url, entry_form(item))
    assert resp.status_code == 302
    assert sc.accuracy_by_village([world["A"].id], ROUND)[world["A"].id] == (n, n)


@pytest.mark.parametrize("drop, fill, word", [
    ("ok:members[1].name", {}, "姓名"),
    (None, {"ok:members[1].sex": "0"}, "性别"),
    (None, {"ok:members[1].sex": "0", "found:members[1].sex": "x" * 101}, "性别"),
])
def test_bad_entries_name_the_item_and_change_nothing(app, world, drop, fill, word):
    check = drawn(world)
    item = check.items[0]
    form = entry_form(item)
    if drop:
        form.pop(drop)
    form.update(fill)
    resp = world["clients"]["checker"].post_form(f"/spot-checks/{check.id}/items/1", form)
    assert resp.status_code == 422
    page = text(resp)
    assert "第2位成员（李秀英）" in page and word in page and 'class="check-item invalid"' in page
    assert db.session.get(SpotCheckItem, item.id).checked_at is None


def test_the_check_list_as_pdf_and_excel(app, world):
    check = drawn(world)
    c = world["clients"]["verifier"]
    resp = c.get(f"/spot-checks/{check.id}/check-list.pdf")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(resp.data))
    pdf_text = "\n".join(page.extract_text() for page in reader.pages)
    households = [db.session.get(Household, i.household_id) for i in check.items]
    assert "抽查核对表" in pdf_text and check.seed in pdf_text and "多福巷社区" in pdf_text
    for h in households:
        assert h.card_no in pdf_text
    assert "李秀英" in pdf_text and "身份证号码" in pdf_text and "王审核" in pdf_text  # the imprint
    # Only the CJK font is embedded (a missing font would print boxes, yet extract as text).
    fonts = {str(f.get_object()["/BaseFont"]) for page in reader.pages
             for f in page["/Resources"]["/Font"].get_object().values()}
    assert fonts and all("Noto-Sans-CJK-SC" in f for f in fonts), fonts

    resp = c.get(f"/spot-checks/{check.id}/check-list.xlsx")
    assert resp.status_code == 200
    sheet = load_workbook(io.BytesIO(resp.data)).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    header = rows.index(["序号", "户卡编号", "地址", "被抽查人", "项目", "登记值", "对", "错", "核实值"])
    body = rows[header + 1:]
    per_person = len(sc.items_to_check(check.items[0], reg.today()))
    assert len(body) == 2 * per_person
    assert {r[1] for r in body} == {h.card_no for h in households}
    id_row = next(r for r in body if r[4] == "身份证号码")
    assert id_row[3] == "第2位成员（李秀英）" and len(id_row[5]) == 18
    assert any(r[4] == "婚姻状况" and r[5].startswith("初婚有配偶") for r in body) or \
        any(r[4] == "婚姻状况" and "（20）" in r[5] for r in body)


def test_the_check_list_page_pdf_and_excel_are_logged(app, world):
    check = drawn(world)
    c = world["clients"]["verifier"]
    for url, endpoint in ((f"/spot-checks/{check.id}", "spot_checks.show"),
                          (f"/spot-checks/{check.id}/check-list.pdf", "spot_checks.pdf"),
                          (f"/spot-checks/{check.id}/check-list.xlsx", "spot_checks.xlsx")):
        before = len(entries(endpoint=endpoint))
        assert c.get(url).status_code == 200
        got = entries(endpoint=endpoint)
        assert len(got) == before + 1
        assert got[-1].object_id == str(check.id) and got[-1].actor_id == world["users"]["verifier"].id
        assert got[-1].unit_path == world["A"].path


def test_the_entry_page_is_logged(app, world):
    check = drawn(world)
    assert world["clients"]["checker"].get(f"/spot-checks/{check.id}/items/2").status_code == 200
    got = entries(endpoint="spot_checks.item")
    assert len(got) == 1 and got[0].object_id == str(check.items[1].id)
    assert got[0].actor_id == world["users"]["checker"].id


def test_the_county_adds_a_sample_point_and_a_township_verifier_cannot(app, world):
    url = f"/spot-checks/draw/{world['A'].id}"
    assert 'value="point"' not in text(world["clients"]["verifier"].get(url))
    resp = world["clients"]["verifier"].post_form(url, {"seed": "pt", "round": "2026", "kind": "point"})
    assert resp.status_code == 403
    assert db.session.scalar(select(func.count()).select_from(SpotCheck)) == 0
    assert 'value="point"' in text(world["clients"]["county"].get(url))
    resp = world["clients"]["county"].post_form(url, {"seed": "pt", "round": "2026", "kind": "point"})
    assert resp.status_code == 302
    point = db.session.scalars(select(SpotCheck)).one()
    assert (point.kind, point.sample_size) == ("point", 12)  # a village of 12 households: all of them
    page = text(world["clients"]["county"].get(f"/spot-checks/{point.id}"))
    assert "县级抽样点（30户）" in page and "全户" in page
    page = text(world["clients"]["checker"].get(f"/spot-checks/{point.id}/items/1"))
    assert "第1位成员" in page and "第4位成员" in page  # every member's main items


def test_the_draw_form_proposes_the_acceptance_round_the_scorecard_counts(app, world):
    app.config["ACCEPTANCE_ROUND"] = "2026春"
    c = world["clients"]["verifier"]
    page = text(c.get(f"/spot-checks/draw/{world['A'].id}"))
    assert 'name="round" value="2026春"' in page
    resp = c.post_form(f"/spot-checks/draw/{world['A'].id}", {"seed": "s", "round": "2026春", "kind": "village"})
    assert resp.status_code == 302
    check = db.session.scalars(select(SpotCheck)).one()
    assert check.round == "2026春"


def test_a_second_village_draw_shows_the_first_and_draws_nothing(app, world):
    first = drawn(world, "seed-1")
    c = world["clients"]["verifier"]
    for seed in ("seed-1", "seed-2"):  # a double submit; a redraw with another seed
        resp = c.post_form(f"/spot-checks/draw/{world['A'].id}", {"seed": seed, "round": ROUND, "kind": "village"})
        assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/spot-checks/{first.id}")
        page = text(c.get(resp.headers["Location"]))
        assert "已经抽取过" in page and "seed-1" in page
    assert db.session.scalar(select(func.count()).select_from(SpotCheck)) == 1


def enter_all(world, check: SpotCheck, found: dict[str, str] | None = None) -> None:
    for item in check.items:
        resp = world["clients"]["checker"].post_form(f"/spot-checks/{check.id}/items/{item.position}",
                                                     entry_form(item, found))
        assert resp.status_code == 302, text(resp)


def test_the_pages_show_the_accuracy_of_the_acceptance_round(app, world):
    check = drawn(world)
    enter_all(world, check)
    n = sum(db.session.get(SpotCheckItem, i.id).items_checked for i in check.items)
    c = world["clients"]["verifier"]
    page = text(c.get(f"/spot-checks/{check.id}"))
    assert "本村（2026 轮次）" in page and f"= {n} ÷ {n} = 100.0 %" in page
    listing = text(c.get(f"/spot-checks/?unit_id={world['T1'].id}"))
    assert f"= {n} ÷ {n} = 100.0 %" in listing
    # Another acceptance round: the entries of round 2026 are not its accuracy.
    app.config["ACCEPTANCE_ROUND"] = "2027"
    page = text(c.get(f"/spot-checks/{check.id}"))
    assert "本村（2027 轮次）" in page and "尚未录入" in page
    assert f"= {n} ÷ {n}" in page  # this spot check's own figure is still shown


def test_a_character_no_font_has_is_named_on_the_page_not_a_500(app, world):
    check = drawn(world)
    household = db.session.get(Household, check.items[0].household_id)
    household.door_no = "5\ue000号"  # a private-use character: no installed font has it
    db.session.commit()
    resp = world["clients"]["verifier"].get(f"/spot-checks/{check.id}/check-list.pdf")
    assert resp.status_code == 422 and resp.mimetype == "text/html"
    page = text(resp)
    assert 'role="alert"' in page and "抽查核对表无法打印" in page
    assert "U+E000" in page and household.card_no in page


XLSX_FORMULAS = ["=HYPERLINK(\"http://x\",\"点击\")", "+1+1", "-2+3", "@SUM(1,2)", "=1+1"]


def test_the_excel_check_list_holds_typed_values_as_text_never_formulas(app, world):
    check = drawn(world)
    household = db.session.get(Household, check.items[0].household_id)
    household.group_id, household.building, household.unit_no, household.room = None, None, None, None
    household.door_no = "=cmd|' /C calc'!A0"
    db.session.commit()
    found = {"members[1].boys": XLSX_FORMULAS[0], "members[1].girls": XLSX_FORMULAS[1],
             "members[1].name": XLSX_FORMULAS[2], "members[1].sex": XLSX_FORMULAS[3],
             "members[1].id_number": XLSX_FORMULAS[4]}
    enter_all(world, check, found)
    resp = world["clients"]["verifier"].get(f"/spot-checks/{check.id}/check-list.xlsx")
    assert resp.status_code == 200
    sheet = load_workbook(io.BytesIO(resp.data)).active
    cells = {cell.value: cell for row in sheet.iter_rows() for cell in row if isinstance(cell.value, str)}
    for value in [*XLSX_FORMULAS, "=cmd|' /C calc'!A0"]:
        assert value in cells, value
        assert cells[value].data_type == "s", value  # text, as typed; not a formula
    assert not any(cell.data_type == "f" for row in sheet.iter_rows() for cell in row)
