"""The browser's copies of the server's refusals (issue 15, items 6-8), in real Chromium on a
phone: collect.js's ports of the character rule, the value limits and the member limit run on
the same cases as the Python they port, and the form shows a refused character as it is typed.
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from collection_forms import load_form
from collection_forms.characters import refused_characters
from collection_forms.validate import value_problem
from tests.browser.conftest import PHONE_WIDTH, log_in, page_width
from tests.forms.test_characters import TABLE

pytestmark = pytest.mark.browser


def units16(text: str) -> list[int]:
    """UTF-16 code units: a lone surrogate cannot travel as a string, its unit can."""
    raw = text.encode("utf-16-le", "surrogatepass")
    return [int.from_bytes(raw[i:i + 2], "little") for i in range(0, len(raw), 2)]


@pytest.fixture
def form_page(live_server, phone: Page) -> Page:
    log_in(phone, live_server.url, "zhang")
    phone.goto(f"{live_server.url}/collect/households/new")
    return phone


def test_javascript_character_rule_agrees_with_python(form_page: Page):
    cases = [(units16(text), multiline) for text, multiline, _found in TABLE]
    cases += [(units16(text), not multiline) for text, multiline, _found in TABLE]
    got = form_page.evaluate("""(cases) => cases.map(([units, multiline]) =>
        DoorstepCollect.badCharacters(String.fromCharCode(...units), multiline).map(c => c.codePointAt(0)))""",
                             cases)
    texts = [(text, multiline) for text, multiline, _f in TABLE] + [(text, not m) for text, m, _f in TABLE]
    want = [[ord(c) for c in refused_characters(text, multiline=multiline)] for text, multiline in texts]
    mismatches = [(t, w, g) for t, w, g in zip(texts, want, got) if w != g]
    assert not mismatches, mismatches[:3]
    assert any(want) and not all(want)


def test_javascript_value_limits_agree_with_python(form_page: Page):
    form = load_form()
    name, notes, door = (form.field("members", "name"), form.field("household", "notes"),
                         form.field("household", "door_no"))
    boys = form.field("members", "boys")
    cases = [(name, "张" * 30), (name, "张" * 31), (name, "𠮷" * 30), (name, "𠮷" * 31), (name, " 张三\n"),
             (name, "\ufeff张三"), (name, "张\u202e三"), (name, "买买提·艾力"), (name, "张\n三"),
             (notes, "备" * 500), (notes, "备" * 501), (notes, "第一行\r\n第二行"), (notes, "备注\x00"),
             (door, "幸福路 8 号"), (door, "8\u200d号"), (door, "\u3000" * 40 + "8号"),
             (boys, "9" * 12), (boys, "9" * 13)]
    got = form_page.evaluate("""([defs, cases]) => cases.map(([i, units]) =>
        DoorstepCollect.valueProblem(defs[i], String.fromCharCode(...units)))""",
                             [[f.as_json() for f, _v in cases], [[i, units16(v)] for i, (_f, v) in enumerate(cases)]])
    for (f, value), js in zip(cases, got):
        py = value_problem(f, value)
        if py is None:
            assert js is None, (f.name, value, js)
        else:
            assert js is not None and js["rule"] == py[0], (f.name, value, js, py)
            if py[0] == "field.chars":
                assert js["chars"] in py[1]["zh"], (js, py)
            else:
                assert f"现为{js['n']}个字" in py[1]["zh"] and f"超过{js['limit']}个字" in py[1]["zh"]


def test_javascript_member_limit_agrees_with_python(form_page: Page):
    form = load_form()
    households = [{}, {"household_type": "family"}, {"household_type": "collective"},
                  {"household_type": "nominal"}, {"household_type": "x"}]
    got = form_page.evaluate("""(hs) => {
        const def = JSON.parse(document.getElementById('form-definition').textContent);
        return hs.map(h => DoorstepCollect.maxMembers(def, h));
    }""", households)
    assert got == [form.max_members(h) for h in households] == [60, 60, 500, 60, 60]


def test_a_refused_character_shows_next_to_the_field_as_it_is_typed(form_page: Page):
    phone = form_page
    phone.click("[data-next]")
    phone.fill("#members-0-name", "张\u200d三")
    check = phone.get_by_test_id("check-members-0-name")
    expect(check).to_be_visible()
    expect(check).to_have_text("姓名含有不允许的控制字符或不可见字符（U+200D），请删除后重新填写")
    assert page_width(phone) <= PHONE_WIDTH
    phone.fill("#members-0-name", "买买提·艾力")
    expect(check).to_be_hidden()
    # The browser keeps a name to its limit as it is typed (maxlength from the definition).
    phone.fill("#members-0-name", "张" * 40)
    assert phone.input_value("#members-0-name") == "张" * 30
    expect(phone.locator("#household-notes")).to_have_attribute("maxlength", re.compile("^500$"))


def test_the_phone_check_before_sign_and_submit_refuses_what_the_server_refuses(form_page: Page):
    """static/pwa/checks.js, run on a household the server would refuse three ways."""
    import datetime as dt

    from collection_forms.validate import REFUSING_RULES, check
    from app.web.forms_data import field_key

    members = [{"name": f"住户{i}", "sex": "1", "birth_date": "1990-01-01", "relationship": "02" if i == 0 else "99",
                "management": "resident", "status": "active"} for i in range(61)]
    members[3]["name"] = "李\u202e四"
    data = {"household": {"household_type": "family", "notes": "备" * 501}, "members": members}
    got = form_page.evaluate("""async (data) => {
        const { problems } = await import('/static/pwa/checks.js');
        const def = JSON.parse(document.getElementById('form-definition').textContent);
        const CT = JSON.parse(document.getElementById('collect-i18n').textContent);
        const T = {required: '{label} required', bad_code: '{label} code', bad_date: '{label} date',
                   future_date: '{label} future', early_date: '{label} early'};
        return problems(def, data, data.members.map((m, i) => i), T, CT, 'zh');
    }""", data)
    py = [i for i in check(data, load_form(), dt.date.today())[1] if i.rule in REFUSING_RULES]
    assert {i.rule for i in py} == {"members.count", "field.length", "field.chars"}
    keys = {p["key"]: p["message"] for p in got}
    assert keys["household-notes"] == "备注超过500个字（现为501个字）"
    assert keys["members-3-name"] == "姓名含有不允许的控制字符或不可见字符（U+202E），请删除后重新填写"
    assert keys["household-household_type"] == "家庭成员有61位，超过了上限60位"
    assert {field_key(i.path) for i in py if i.rule != "members.count"} <= set(keys)
