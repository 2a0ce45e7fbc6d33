"""The collector's form on a 360 px phone in real Chromium (issue 3's browser test), and the
JavaScript ports in collect.js checked against the Python they port."""
from __future__ import annotations

import csv
import datetime as dt
import itertools
import random
import re
import uuid
from pathlib import Path

import pytest
from flask_babel import force_locale
from flask_babel import gettext as _
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.extensions import db
from app.models import Household, HouseholdVersion, Person
from collection_forms import load_form
from collection_forms.id_number import IdNumberError, parse_id_number
from collection_forms.schema import settle_relevance
from tests.browser.conftest import PHONE_WIDTH, log_in, page_width
from tests.conftest import PASSWORD
from tests.support.households import id_number

pytestmark = pytest.mark.browser

USERNAME = "li_collect"  # a collector of its own, so that a language switch here touches no other test
VECTORS = Path(__file__).resolve().parent.parent / "forms" / "id_number_test_vectors.csv"




def translated(app, locale: str, text: str, **values) -> str:
    with app.test_request_context(), force_locale(locale):
        return _(text, **values)


@pytest.fixture
def collector(live_server):
    """A collector of the live server's village, made once."""
    from app.domain.users import create_user
    from app.models import AdminUnit, Role, User

    with live_server.app.app_context():
        if db.session.scalar(select(User).where(User.username == USERNAME)) is None:
            village = db.session.scalar(select(AdminUnit).where(AdminUnit.code == "110101001001"))
            create_user(None, username=USERNAME, name="李采集", password=PASSWORD, role=Role.collector,
                        unit=village)
            db.session.commit()
    return USERNAME




# The household: head, wife (a married woman aged 15-49, so her extra section shows), two children.
MEMBERS = [
    {"name": "周建国", "birth": "1985-03-01", "sex": "1", "rel": ("户主", "02"), "marital": "20"},
    {"name": "李秀英", "birth": "1988-05-02", "sex": "2", "rel": ("妻", "12"), "marital": "20"},
    {"name": "周伟", "birth": "2012-07-03", "sex": "1", "rel": ("子", "20"), "marital": "10"},
    {"name": "周丽", "birth": "2015-09-04", "sex": "2", "rel": ("女", "30"), "marital": "10"},
]
for n, m in enumerate(MEMBERS):
    m["id"] = id_number(m["birth"], m["sex"], seq=40 + n)
WRONG = MEMBERS[2]["id"][:17] + ("0" if MEMBERS[2]["id"][17] != "0" else "1")  # check digit off


def fill_member(page: Page, i: int, m: dict, number: str) -> None:
    page.fill(f"#members-{i}-name", m["name"])
    page.fill(f"#members-{i}-id_number", number)
    page.locator(f"#members-{i}-id_number").blur()
    if number == m["id"]:
        # A valid number fills the empty date of birth and sex.
        expect(page.locator(f"#members-{i}-birth_date")).to_have_value(m["birth"])
        expect(page.locator(f"#members-{i}-sex")).to_have_value(m["sex"])
    else:
        page.fill(f"#members-{i}-birth_date", m["birth"])
        page.select_option(f"#members-{i}-sex", m["sex"])
    # The relationship list (84 codes) has a filter: typing the name picks the only match.
    page.fill(f"[data-filter-for='members-{i}-relationship']", m["rel"][0])
    expect(page.locator(f"#members-{i}-relationship")).to_have_value(m["rel"][1])
    page.select_option(f"#members-{i}-marital_status", m["marital"])
    page.select_option(f"#members-{i}-management", "resident")


def test_collector_registers_a_household_of_four_on_a_phone(live_server, phone: Page, collector, tmp_path):
    base, app = live_server.url, live_server.app
    shots = Path(tmp_path)
    log_in(phone, base, collector)
    phone.goto(f"{base}/collect/")
    phone.get_by_test_id("new-household").click()
    phone.wait_for_url(re.compile(r".*/collect/households/new\?unit_id=\d+$"))

    # One section at a time: the household part first.
    expect(phone.get_by_test_id("steps")).to_be_visible()
    expect(phone.locator("#household-door_no")).to_be_visible()
    expect(phone.locator("#members-0-name")).to_be_hidden()
    phone.select_option("#household-household_type", "family")
    phone.fill("#household-door_no", "幸福路8号")
    phone.fill("#household-phone", "13812345678")
    assert page_width(phone) <= PHONE_WIDTH
    phone.screenshot(path=str(shots / "form-household.png"), full_page=True)
    phone.click("[data-next]")

    # Member 1 on its own card; then three more cards from the step row.
    expect(phone.locator("#members-0-name")).to_be_visible()
    expect(phone.locator("#household-door_no")).to_be_hidden()
    fill_member(phone, 0, MEMBERS[0], MEMBERS[0]["id"])
    assert page_width(phone) <= PHONE_WIDTH
    for i in (1, 2, 3):
        phone.get_by_test_id("nav-add-member").click()
        expect(phone.locator(f"#members-{i}-name")).to_be_visible()
        fill_member(phone, i, MEMBERS[i], WRONG if i == 2 else MEMBERS[i]["id"])
        if i == 1:
            # Married, female, 38: the married-woman section appears; the spouse is chosen among the cards.
            group = phone.locator("#members-1 [data-group=married_woman]")
            expect(group).to_be_visible()
            phone.select_option("#members-1-spouse_member", label=MEMBERS[0]["name"])
            expect(phone.locator("#members-1-spouse_name")).to_be_hidden()
            phone.fill("#members-1-marriage_date", "2010-10-01")
            phone.fill("#members-1-boys", "1")
            phone.fill("#members-1-girls", "1")
            expect(phone.locator("#members-1-youngest_birth_date")).to_be_visible()
            phone.fill("#members-1-youngest_birth_date", MEMBERS[3]["birth"])
            phone.select_option("#members-1-youngest_sex", "2")
            assert page_width(phone) <= PHONE_WIDTH
            phone.screenshot(path=str(shots / "form-member-2.png"), full_page=True)
            # Not married: the section goes away again (and comes back).
            phone.select_option("#members-1-marital_status", "10")
            expect(group).to_be_hidden()
            phone.select_option("#members-1-marital_status", "20")
            expect(group).to_be_visible()

    # The wrong check digit is flagged next to member 3's ID number, nowhere else; the step
    # row marks member 3's card.
    expect(phone.get_by_test_id("nav-m-2")).to_have_class(re.compile(r"\bbad\b"))
    expect(phone.get_by_test_id("nav-m-1")).not_to_have_class(re.compile(r"\bbad\b"))
    phone.get_by_test_id("nav-m-2").click()
    check = phone.get_by_test_id("check-members-2-id_number")
    label_zh = load_form().field("members", "id_number").label["zh"]
    expected = translated(app, "zh_CN", "%(label)s has a wrong check digit; check the number", label=label_zh)
    expect(check).to_be_visible()
    expect(check).to_have_text(expected)
    expect(phone.get_by_test_id("check-members-1-id_number")).to_be_hidden()
    assert page_width(phone) <= PHONE_WIDTH
    phone.locator("#members-2-id_number").scroll_into_view_if_needed()
    phone.screenshot(path=str(shots / "form-member-3-error.png"))  # what the phone shows

    # A draft may be saved with the error: it is kept and listed.
    phone.get_by_test_id("nav-summary").click()
    expect(phone.get_by_test_id("summary")).to_be_visible()
    phone.screenshot(path=str(shots / "form-summary.png"), full_page=True)
    phone.get_by_test_id("save-bar").click()
    phone.wait_for_url(re.compile(r".*/collect/households/[0-9a-f-]{36}$"))
    expect(phone.get_by_test_id("issues")).to_contain_text("校验位错误")
    expect(phone.get_by_test_id("person")).to_have_count(4)
    assert page_width(phone) <= PHONE_WIDTH
    phone.screenshot(path=str(shots / "household-with-error.png"), full_page=True)

    # Edit: the form opens on the card with the error, the server's message next to the field.
    phone.get_by_test_id("edit").click()
    phone.wait_for_url(re.compile(r".*/edit$"))
    issue = phone.get_by_test_id("issue-members-2-id_number")
    expect(issue).to_be_visible()
    expect(issue).to_contain_text("校验位错误")
    expect(phone.locator("#members-2-name")).to_be_visible()
    phone.screenshot(path=str(shots / "edit-error.png"))
    phone.fill("#members-2-id_number", MEMBERS[2]["id"])
    expect(issue).to_be_hidden()
    expect(phone.get_by_test_id("check-members-2-id_number")).to_be_hidden()
    phone.get_by_test_id("save-bar").click()
    phone.wait_for_url(re.compile(r".*/collect/households/[0-9a-f-]{36}$"))
    expect(phone.get_by_test_id("issues")).to_have_count(0)
    expect(phone.get_by_test_id("history").get_by_test_id("version")).to_have_count(2)
    household_id = phone.url.rsplit("/", 1)[1]
    phone.screenshot(path=str(shots / "household-complete.png"), full_page=True)
    phone.goto(f"{base}/collect/?q=zjg")
    expect(phone.get_by_test_id("households").locator("li")).to_have_count(1)
    expect(phone.get_by_test_id("households")).to_contain_text("周建国")
    assert page_width(phone) <= PHONE_WIDTH
    phone.screenshot(path=str(shots / "search.png"), full_page=True)
    phone.goto(f"{base}/collect/households/{household_id}")

    with app.app_context():
        h = db.session.get(Household, uuid.UUID(household_id))
        assert h is not None and h.complete and h.head_name == "周建国" and h.door_no == "幸福路8号"
        versions = list(db.session.scalars(select(HouseholdVersion).where(
            HouseholdVersion.household_id == h.id).order_by(HouseholdVersion.number)))
        assert [(v.number, v.kind, v.complete) for v in versions] == [(1, "create", False), (2, "edit", True)]
        persons = list(db.session.scalars(
            select(Person).where(Person.household_id == h.id).order_by(Person.position)))
        rows = [(p.name, p.id_number, p.birth_date.isoformat(), p.sex, p.relationship_code) for p in persons]
        assert rows == [(m["name"], m["id"], m["birth"], m["sex"], m["rel"][1]) for m in MEMBERS]
        wife = versions[-1].data["members"][1]
        assert wife["spouse_member"] == str(persons[0].id) and wife["boys"] == 1 and wife["girls"] == 1

    # English: the page and the form's labels, from the same definition.
    phone.get_by_role("button", name="English").click()
    expect(phone.locator("html")).to_have_attribute("lang", "en")
    phone.goto(f"{base}/collect/households/{household_id}/edit")
    expect(phone.locator("label[for='household-door_no']")).to_have_text("Door number")
    phone.get_by_test_id("nav-m-0").click()
    expect(phone.locator("label[for='members-0-id_number']")).to_have_text("ID number")
    relationship = phone.locator("label[for='members-0-relationship']")
    expect(relationship).to_have_text(re.compile("^Relationship to the head"))
    expect(phone.locator("#members-0-relationship option:checked")).to_have_text("Head of household")
    assert page_width(phone) <= PHONE_WIDTH
    phone.screenshot(path=str(shots / "edit-english.png"), full_page=True)
    # English names are longer (education: "Doctoral programme, completed without diploma"):
    # still no sideways scrolling on any step.
    for step in ("s-household", "m-1", "m-2", "m-3", "summary"):
        phone.get_by_test_id(f"nav-{step}").click()
        assert page_width(phone) <= PHONE_WIDTH, step
    phone.goto(f"{base}/collect/households/{household_id}")
    phone.get_by_role("button", name="中文").click()
    expect(phone.locator("html")).to_have_attribute("lang", "zh-CN")
    print(f"screenshots in {shots}")


def test_the_form_works_without_javascript(live_server, browser, collector):
    """No script (an old phone, a script blocked): a plain form that still adds cards and saves."""
    context = browser.new_context(viewport={"width": 360, "height": 740}, java_script_enabled=False,
                                  locale="zh-CN")
    page = context.new_page()
    try:
        log_in(page, live_server.url, collector)
        page.goto(f"{live_server.url}/collect/households/new")
        expect(page.locator("#members-0-name")).to_be_visible()
        expect(page.locator("#household-door_no")).to_be_visible()  # every section on one page
        page.fill("#household-door_no", "无脚本1号")
        page.select_option("#household-household_type", "family")
        page.fill("#members-0-name", "吴大伟")
        page.click("button[data-add-member]")
        expect(page.locator("#members-1-name")).to_be_visible()
        expect(page.locator("#members-0-name")).to_have_value("吴大伟")
        assert page_width(page) <= PHONE_WIDTH
        page.get_by_test_id("save").click()
        page.wait_for_url(re.compile(r".*/collect/households/[0-9a-f-]{36}$"))
        expect(page.get_by_test_id("person")).to_have_count(1)  # the empty second card was left out
    finally:
        context.close()


# ------------------------------------------------------------------ the ports, against the Python

JS_CODES = {"id_length": "id.length", "id_old": "id.length", "id_format": "id.format",
            "id_checksum": "id.checksum", "id_date": "id.date", "id_future": "id.date", "id_early": "id.date"}


def test_javascript_id_number_check_agrees_with_python(live_server, phone: Page, collector):
    today = dt.date(2026, 11, 23)
    with VECTORS.open(encoding="utf-8") as f:
        numbers = [row["id_number"] for row in csv.DictReader(f)]
    numbers += ["11010119900101123x", "１１０１０１１９９００１０１１２３Ｘ", " 110101199001011237 ", "110101900101123",
                "11010119900230123X", "110101203001011234", "110101189912311230", "1101011990010112", "abc"]
    log_in(phone, live_server.url, collector)
    phone.goto(f"{live_server.url}/collect/households/new")
    js = phone.evaluate("([ns, day]) => ns.map(n => DoorstepCollect.parseIdNumber(n, day))",
                        [numbers, today.isoformat()])
    for number, got in zip(numbers, js):
        try:
            info = parse_id_number(number, today)
            want = {"number": info.number, "birth_date": info.birth_date.isoformat(), "sex": info.sex}
            assert got == want, number
        except IdNumberError as e:
            assert JS_CODES.get(got.get("error")) == e.code, (number, got, e.code)
    assert len(numbers) > 20


def test_javascript_relevance_agrees_with_python(live_server, phone: Page, collector):
    form = load_form()
    today = dt.date(2026, 11, 23)
    # Values around every condition of the member roster, and ages either side of 15 and 49.
    choices = {
        "sex": [None, "1", "2"],
        "marital_status": [None, "10", "20", "23", "30"],
        # 15 today / 15 tomorrow, 49 / 50 today / 50 tomorrow, a leap-day birthday, not a date
        "birth_date": [None, "2011-11-23", "2011-11-24", "1977-11-23", "1976-11-23", "1976-11-24",
                       "2008-02-29", "1990-13-01"],
        "management": [None, "resident", "out_migrant"],
        "status": [None, "active", "deceased"],
        "spouse_member": [None, "5d0c6f0e-0000-4000-8000-000000000000"],
        "boys": [None, 0, 2, "x"],
        "girls": [None, 0, 1],
        "migration_place": [None, "广州"],
        "youngest_sex": [None, "1"],
    }
    rng = random.Random(3)
    keys = list(choices)
    cases = [{k: v for k, v in zip(keys, combo) if v is not None}
             for combo in (tuple(rng.choice(choices[k]) for k in keys) for _ in range(400))]
    cases += [{"sex": "2", "marital_status": "21", "birth_date": b, "boys": 1}
              for b in choices["birth_date"][1:]]
    expected = []
    for case in cases:
        values = dict(case)
        hidden = settle_relevance(values, form, "members", today)
        expected.append({"values": values, "hidden": sorted(hidden)})
    log_in(phone, live_server.url, collector)
    phone.goto(f"{live_server.url}/collect/households/new")
    got = phone.evaluate("""([cases, day]) => {
        const def = JSON.parse(document.getElementById('form-definition').textContent);
        const fields = {};
        def.sections.filter(s => s.repeat).forEach(s => s.fields.forEach(f => { fields[f.name] = f; }));
        return cases.map(c => {
            const values = Object.assign({}, c);
            const hidden = DoorstepCollect.settleRelevance(values, fields, def.relevance_order.members, day);
            return {values: values, hidden: Object.keys(hidden).sort()};
        });
    }""", [cases, {"y": today.year, "m": today.month, "d": today.day}])
    mismatches = [(c, e, g) for c, e, g in zip(cases, expected, got) if e != g]
    assert not mismatches, mismatches[:3]
    # Both sides of the age boundaries were met (the married-woman fields shown and hidden).
    assert {"marriage_date" in e["hidden"] for e in expected} == {True, False}
    assert any(itertools.islice((e for e in expected if "youngest_sex" not in e["hidden"]), 1))
