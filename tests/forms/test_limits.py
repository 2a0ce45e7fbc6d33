"""Size limits from the form definition (issue 15, items 6 and 7): every value has a length
limit, and the member roster a size that depends on the household type. Both are refusals
(REFUSING_RULES), not a draft's errors."""
from __future__ import annotations

import copy
import datetime as dt

import pytest

from collection_forms import FormDefinitionError, load_form, load_form_file
from collection_forms.loader import DEFAULT_MAX_REPEAT, DEFAULT_TEXT_MAX_LENGTH
from collection_forms.validate import REFUSING_RULES, check
from tests.forms.test_loader import BASE, write

TODAY = dt.date(2026, 11, 23)


def refused(data) -> list[tuple[str, str]]:
    return [(i.rule, i.path) for i in check(data, load_form(), TODAY)[1] if i.rule in REFUSING_RULES]


def roster(n: int, household_type: str | None) -> dict:
    household = {"household_type": household_type} if household_type else {}
    members = [{"name": f"成员{i}", "sex": "1", "birth_date": "1990-01-01", "relationship": "02" if i == 0 else "99",
                "management": "resident"} for i in range(n)]
    return {"household": household, "members": members}


def test_every_field_has_a_limit_and_the_browser_gets_it():
    form = load_form()
    as_json = {f["name"]: f for s in form.as_json()["sections"] for f in s["fields"]}
    for key in ("household", "members"):
        for f in form.fields_of(key).values():
            assert f.limit >= 1, f.name
            assert as_json[f.name]["limit"] == f.limit
            if f.type == "text":
                assert f.max_length is not None and as_json[f.name]["max_length"] == f.max_length
    assert form.field("household", "notes").limit == 500 and form.field("household", "notes").multiline
    assert form.field("members", "name").limit == 30
    members = next(s for s in form.as_json()["sections"] if s["repeat"])
    assert members["max_repeat"] == 60
    assert members["max_repeat_if"] == [{"when": {"field": "household_type", "equals": "collective"}, "max": 500}]


def test_a_text_field_without_max_length_gets_the_default(tmp_path):
    d = copy.deepcopy(BASE)
    d["sections"][1]["fields"].append({"name": "nickname", "type": "text", "label": {"zh": "别名", "en": "Alias"}})
    form = load_form_file(write(tmp_path, d))
    assert form.field("members", "nickname").max_length == DEFAULT_TEXT_MAX_LENGTH
    assert form.max_members({}) == DEFAULT_MAX_REPEAT


@pytest.mark.parametrize("field, limit", [("notes", 500), ("door_no", 30), ("building", 20)])
def test_a_household_text_over_its_limit_is_refused(field, limit):
    assert refused(roster(1, "family") | {"household": {"household_type": "family", field: "备" * limit}}) == []
    data = {"household": {"household_type": "family", field: "备" * (limit + 1)}, "members": roster(1, None)["members"]}
    assert refused(data) == [("field.length", f"household.{field}")]
    issue = next(i for i in check(data, load_form(), TODAY)[1] if i.rule == "field.length")
    label = load_form().field("household", field).label["zh"]
    assert issue.message["zh"] == f"本户的{label}超过{limit}个字（现为{limit + 1}个字）"


def test_a_huge_value_is_refused_without_being_kept_or_converted():
    data = roster(1, "family")
    data["household"]["notes"] = "备" * 5_000_000
    data["members"][0]["boys"] = "9" * 5000  # int() of more than 4,300 digits raises ValueError
    data["members"][0]["birth_date"] = "1" * 100
    data["members"][0]["id_number"] = "1" * 41
    clean, issues = check(data, load_form(), TODAY)
    assert {(i.rule, i.path) for i in issues if i.rule in REFUSING_RULES} == {
        ("field.length", "household.notes"), ("field.length", "members[0].birth_date"),
        ("field.length", "members[0].id_number"), ("field.length", "members[0].boys")}
    # (boys does not apply to a man, but a value that long is refused before relevance is decided)
    assert "notes" not in clean["household"] and "birth_date" not in clean["members"][0]


def test_an_integer_of_thousands_of_digits_is_a_length_refusal_not_a_crash():
    data = roster(1, "family")
    data["members"][0].update(sex="2", marital_status="20", birth_date="1990-01-01", boys="9" * 5000)
    assert ("field.length", "members[0].boys") in refused(data)


@pytest.mark.parametrize("household_type, limit", [("family", 60), ("nominal", 60), (None, 60),
                                                   ("collective", 500)])
def test_the_member_limit_at_its_boundary(household_type, limit):
    assert refused(roster(limit, household_type)) == []
    over = roster(limit + 1, household_type)
    assert refused(over) == [("members.count", "members")]
    issue = next(i for i in check(over, load_form(), TODAY)[1] if i.rule == "members.count")
    assert issue.message["zh"] == f"本户的家庭成员有{limit + 1}位，超过了上限{limit}位"


def test_a_roster_far_over_the_limit_is_not_checked_member_by_member():
    clean, issues = check(roster(20_000, "family"), load_form(), TODAY)
    assert [i.rule for i in issues] == ["members.count"] and len(clean["members"]) == 60


def _repeat_if_unknown_field(d):
    d["sections"][1]["max_repeat_if"] = [{"when": {"field": "kind", "equals": "x"}, "max": 9}]


def _repeat_if_member_field(d):
    d["sections"][1]["max_repeat_if"] = [{"when": {"field": "sex", "equals": "1"}, "max": 9}]


def _repeat_if_bad_code(d):
    d["sections"][1]["max_repeat_if"] = [{"when": {"field": "household_type", "equals": "dorm"}, "max": 9}]


def _repeat_if_shape(d):
    d["sections"][1]["max_repeat_if"] = [{"if": {"field": "household_type", "equals": "collective"}}]


def _max_repeat_zero(d):
    d["sections"][1]["max_repeat"] = 0


def _max_repeat_on_household(d):
    d["sections"][0]["max_repeat"] = 5


def _multiline_on_a_date(d):
    next(f for f in d["sections"][1]["fields"] if f["name"] == "birth_date")["multiline"] = True


@pytest.mark.parametrize("mutate, problem", [
    (_repeat_if_unknown_field, "max_repeat_if: condition names unknown field 'kind'"),
    (_repeat_if_member_field, "max_repeat_if: condition names unknown field 'sex'"),
    (_repeat_if_bad_code, "value 'dorm' is not an allowed code"),
    (_repeat_if_shape, "each rule is {when: <condition>, max: <n>}"),
    (_max_repeat_zero, "'max_repeat' must be a whole number from 1"),
    (_max_repeat_on_household, "'max_repeat' applies to the repeating section only"),
    (_multiline_on_a_date, "'multiline' does not apply to a field of type date"),
])
def test_a_broken_limit_in_the_definition_is_named(tmp_path, mutate, problem):
    d = copy.deepcopy(BASE)
    mutate(d)
    with pytest.raises(FormDefinitionError, match=".*") as caught:
        load_form_file(write(tmp_path, d))
    assert problem in str(caught.value)
