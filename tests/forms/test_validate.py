"""Field checks and normalisation of a household against the real household form: each rule
both ways, relevance (the married-woman fields and their age boundaries), and messages that
name the member and the field in both languages."""
from __future__ import annotations

import json
import uuid
from datetime import date

import pytest
from marshmallow import ValidationError

from collection_forms import (
    Issue, check, derived, has_errors, household_schema, load_form, normalise, validate_household,
)

TODAY = date(2025, 6, 15)
WEIGHTS = [2 ** (17 - i) % 11 for i in range(17)]


@pytest.fixture(scope="module")
def form():
    return load_form()


def make_id(birth: str, seq: str = "123", region: str = "110105") -> str:
    body = region + birth.replace("-", "") + seq
    check_char = (12 - sum(int(c) * w for c, w in zip(body, WEIGHTS)) % 11) % 11
    return body + ("X" if check_char == 10 else str(check_char))


def member(**values) -> dict:
    base = {"person_id": str(uuid.uuid4()), "name": "张三", "sex": "1", "birth_date": "1980-03-01",
            "relationship": "02", "management": "resident", "status": "active"}
    base.update(values)
    return {k: v for k, v in base.items() if v is not ...}  # `...` removes a base value


def household(*members, **values) -> dict:
    return {"household": {"household_type": "family", **values}, "members": list(members) or [member()]}


def found(data, form) -> set[tuple[str, str]]:
    return {(i.rule, i.path) for i in validate_household(data, form, TODAY)}


def woman(age_on_today: int | None = None, birth_date: str | None = None, marital_status: str = "20", **values):
    if birth_date is None:
        birth_date = f"{TODAY.year - age_on_today}-06-01"
    return member(name="李梅", sex="2", birth_date=birth_date, relationship="10", marital_status=marital_status,
                  **values)


MARRIED_WOMAN_VALUES = {"marriage_date": "2015-05-01", "spouse_name": "王刚", "spouse_id_number": make_id("1985-01-01"),
                        "boys": "1", "girls": "0", "youngest_birth_date": "2018-02-03", "youngest_sex": "1"}
MARRIED_WOMAN_FIELDS = set(MARRIED_WOMAN_VALUES)


# ---------------------------------------------------------------- a valid household

def test_a_valid_household_has_no_issues_and_is_stored_typed(form):
    head = member(id_number=make_id("1980-03-01", "011"), ethnicity="01", education="71", hukou_type="2",
                  marital_status="20", hukou_place="安徽省黟县", residence_place="安徽省黟县")
    wife = woman(30, **MARRIED_WOMAN_VALUES, spouse_member=head["person_id"])
    data = household(head, wife, door_no=" 12 ", phone="0559-1234567", notes="")
    clean, issues = check(data, form, TODAY)
    assert issues == []
    assert clean["household"] == {"door_no": "12", "household_type": "family", "phone": "0559-1234567"}
    stored_wife = clean["members"][1]
    assert stored_wife["person_id"] == wife["person_id"]
    assert (stored_wife["boys"], stored_wife["girls"]) == (1, 0)
    assert "spouse_name" not in stored_wife  # the spouse is a member: the outside-spouse fields do not apply
    assert list(stored_wife)[0] == "person_id"
    assert json.loads(json.dumps(clean)) == clean


def test_normalise_is_idempotent(form):
    data = household(member(id_number=make_id("1980-03-01", "011").lower(), management="out_migrant",
                            migration_place="上海", migration_since="2020-01-01", extra="x"),
                     woman(30, **MARRIED_WOMAN_VALUES), woman(60, status="deceased", cancelled_on="2024-01-01"))
    once = normalise(data, form, TODAY)
    assert normalise(once, form, TODAY) == once


def test_person_ids_are_kept_made_when_missing_and_checked(form):
    kept = member()
    clean = normalise(household(kept, member(person_id=...)), form, TODAY)
    assert clean["members"][0]["person_id"] == kept["person_id"]
    assert uuid.UUID(clean["members"][1]["person_id"])
    assert found(household(member(person_id="not-a-uuid")), form) == {("member.person_id", "members[0].person_id")}
    same = member()
    assert found(household(same, dict(same, name="李四", relationship="20", birth_date="2010-01-01")), form) == {
        ("member.person_id", "members[1].person_id")}


# ---------------------------------------------------------------- each field rule, both ways

def test_required(form):
    assert found(household(member()), form) == set()
    assert found(household(member(name=...)), form) == {("field.required", "members[0].name")}
    assert found(household(member(name="   ")), form) == {("field.required", "members[0].name")}
    data = household(member())
    del data["household"]["household_type"]
    assert found(data, form) == {("field.required", "household.household_type")}


def test_status_defaults_to_active(form):
    assert normalise(household(member(status=...)), form, TODAY)["members"][0]["status"] == "active"


def test_required_only_while_relevant(form):
    # migration_place is required for an out-migrant, and dropped (no error) for a resident.
    assert found(household(member(management="out_migrant")), form) == {("field.required", "members[0].migration_place")}
    assert found(household(member(management="out_migrant", migration_place="浙江省杭州市")), form) == set()
    data = household(member(management="resident", migration_place="浙江省杭州市", migration_since="2020-01-01"))
    assert found(data, form) == set()
    assert "migration_place" not in normalise(data, form, TODAY)["members"][0]
    # cancelled_on is required once a person is cancelled.
    assert found(household(member(status="deceased")), form) == {("field.required", "members[0].cancelled_on")}
    assert found(household(member(status="deceased", cancelled_on="2025-01-02")), form) == set()
    assert "cancelled_on" not in normalise(household(member(cancelled_on="2025-01-02")), form, TODAY)["members"][0]


@pytest.mark.parametrize("field, good, bad", [
    ("sex", "2", "3"),  # 0/9 exist in GB/T 2261.1 but the register uses only 1 and 2
    ("relationship", "20", "01"),  # 01 本人 is excluded by the field's subset
    ("ethnicity", "01", "57"),
    ("marital_status", "23", "24"),
    ("education", "61", "05"),
    ("hukou_type", "2", "9"),
    ("management", "in_migrant", "visitor"),
])
def test_code_in_list(form, field, good, bad):
    extra = {"migration_place": "江西"} if field == "management" else {}
    if field == "sex":
        extra["relationship"] = "10"  # the default head is a man; a sex change is not this test's business
    assert found(household(member(**{field: good}, **extra)), form) == set()
    assert found(household(member(**{field: bad}, **extra)), form) == {("field.code", f"members[0].{field}")}


def test_code_on_the_household(form):
    assert found(household(household_type="nominal"), form) == set()
    assert found(household(household_type="big"), form) == {("field.code", "household.household_type")}


@pytest.mark.parametrize("value, rule", [
    ("1990-01-31", None), (date(1990, 1, 31), None), ("1990-13-01", "field.date"), ("19900131", "field.date"),
    ("1990-1-31", "field.date"), ("2020-W01-1", "field.date"), ("31/01/1990", "field.date"),
    (19900131, "field.date"),
])
def test_date_format(form, value, rule):
    expected = {(rule, "members[0].birth_date")} if rule else set()
    assert found(household(member(birth_date=value)), form) == expected


def test_a_bad_value_is_reported_and_kept_as_typed(form):
    clean, issues = check(household(member(birth_date=" 1990-13-01 ", boys="x")), form, TODAY)
    assert clean["members"][0]["birth_date"] == "1990-13-01"
    assert [i.rule for i in issues] == ["field.date"]


@pytest.mark.parametrize("value, ok", [
    ("1900-01-01", True), ("1899-12-31", False), (TODAY.isoformat(), True), ("2025-06-16", False),
])
def test_date_range(form, value, ok):
    assert found(household(member(birth_date=value, relationship="20")), form) == (
        set() if ok else {("field.date_range", "members[0].birth_date")})


def test_date_range_applies_to_every_date_field(form):
    data = household(member(status="moved_out", cancelled_on="2025-07-01"))
    assert found(data, form) == {("field.date_range", "members[0].cancelled_on")}


@pytest.mark.parametrize("field, limit", [("name", 30), ("hukou_place", 100)])
def test_text_length(form, field, limit):
    assert found(household(member(**{field: "张" * limit})), form) == set()
    assert found(household(member(**{field: "张" * (limit + 1)})), form) == {("field.length", f"members[0].{field}")}


def test_text_length_on_the_household(form):
    assert found(household(notes="备" * 500), form) == set()
    assert found(household(notes="备" * 501), form) == {("field.length", "household.notes")}


@pytest.mark.parametrize("phone, ok", [
    ("13812345678", True), ("138 1234 5678", True), ("138-1234-5678", True), ("19912345678", True),
    ("0559-1234567", True), ("05591234567", True), ("010-12345678", True), ("0559 123 4567", True),
    ("１３８１２３４５６７８", True),
    ("12812345678", False), ("1381234567", False), ("138123456789", False), ("0559-123", False),
    ("559-1234567", False), ("phone", False),
])
def test_phone(form, phone, ok):
    assert found(household(phone=phone), form) == (set() if ok else {("field.phone", "household.phone")})


@pytest.mark.parametrize("value, stored, rule", [
    ("2", 2, None), (2, 2, None), (0, 0, None), (20, 20, None), ("+3", 3, None), (4.0, 4, None),
    (21, 21, "field.range"), (-1, -1, "field.range"), ("two", "two", "field.integer"),
    ("2.5", "2.5", "field.integer"), (2.5, None, "field.integer"), (True, None, "field.integer"),
])
def test_integer(form, value, stored, rule):
    data = household(woman(30, boys=value))
    clean, issues = check(data, form, TODAY)
    assert {(i.rule, i.path) for i in issues} == ({(rule, "members[0].boys")} if rule else set())
    assert clean["members"][0].get("boys") == stored


def test_member_ref_must_name_another_member(form):
    husband = member()
    assert found(household(husband, woman(30, spouse_member=husband["person_id"])), form) == set()
    wife = woman(30)
    wife["spouse_member"] = wife["person_id"]
    assert found(household(husband, wife), form) == {("field.member_ref", "members[1].spouse_member")}
    assert found(household(husband, woman(30, spouse_member=str(uuid.uuid4()))), form) == {
        ("field.member_ref", "members[1].spouse_member")}


def test_unknown_fields_are_reported_and_dropped(form):
    data = household(member(nickname="三儿"), colour="red")
    data["version"] = 3
    clean, issues = check(data, form, TODAY)
    assert {(i.rule, i.path) for i in issues} == {
        ("field.unknown", "members[0].nickname"), ("field.unknown", "household.colour"), ("field.unknown", "version")}
    assert "nickname" not in clean["members"][0] and "colour" not in clean["household"]


def test_a_wrong_kind_of_value(form):
    assert found(household(member(name=["张", "三"])), form) == {("field.type", "members[0].name")}


@pytest.mark.parametrize("data, path", [
    ("household", ""), ({"household": [], "members": []}, "household"), ({"members": {}}, "members"),
    ({"members": ["张三"]}, "members[0]"),
])
def test_shape(form, data, path):
    clean, issues = check(data, form, TODAY)
    assert ("form.shape", path) in {(i.rule, i.path) for i in issues}
    assert set(clean) == {"household", "members"}


# ---------------------------------------------------------------- ID numbers in the household

def test_id_number_checks_in_a_household(form):
    good = make_id("1980-03-01", "011")
    assert found(household(member(id_number=good)), form) == set()
    wrong_check = good[:-1] + ("0" if good[-1] != "0" else "1")
    assert found(household(member(id_number=wrong_check)), form) == {("id.checksum", "members[0].id_number")}
    assert found(household(member(id_number=good[:-1])), form) == {("id.length", "members[0].id_number")}
    assert found(household(member(id_number="34102319800O01011X")), form) == {("id.format", "members[0].id_number")}


def test_id_number_is_stored_upper_case(form):
    number = next(make_id("1980-03-01", f"{n:02d}1") for n in range(100) if make_id("1980-03-01", f"{n:02d}1")[-1] == "X")
    clean, issues = check(household(member(id_number=f" {number.lower()} ")), form, TODAY)
    assert issues == [] and clean["members"][0]["id_number"] == number


def test_unknown_region_is_a_warning_and_saved(form):
    number = make_id("1980-03-01", "011", region="110199")
    clean, issues = check(household(member(id_number=number)), form, TODAY)
    assert [(i.rule, i.level) for i in issues] == [("id.region", "warning")]
    assert not has_errors(issues) and clean["members"][0]["id_number"] == number


def test_id_number_must_match_birth_date(form):
    number = make_id("1980-03-01", "011")
    assert found(household(member(id_number=number, birth_date="1980-03-01")), form) == set()
    assert found(household(member(id_number=number, birth_date="1980-03-02")), form) == {
        ("id.birth_date_mismatch", "members[0].id_number")}


def test_id_number_must_match_sex(form):
    man, woman_no = make_id("1980-03-01", "011"), make_id("1980-03-01", "022")
    assert found(household(member(id_number=man, sex="1")), form) == set()
    assert found(household(member(id_number=woman_no, sex="1")), form) == {("id.sex_mismatch", "members[0].id_number")}
    assert found(household(member(id_number=woman_no, sex="2", relationship="10")), form) == set()


def test_no_consistency_check_against_an_invalid_or_missing_birth_date(form):
    number = make_id("1980-03-01", "011")
    assert found(household(member(id_number=number, birth_date="1980-02-30")), form) == {
        ("field.date", "members[0].birth_date")}


def test_the_spouse_id_number_is_checked_but_not_against_the_womans_own_data(form):
    spouse = make_id("1985-01-01", "011")
    assert found(household(woman(30, spouse_id_number=spouse)), form) == set()
    assert found(household(woman(30, spouse_id_number=spouse[:-1] + "Y")), form) == {
        ("id.format", "members[0].spouse_id_number")}


# ---------------------------------------------------------------- relevance: married women aged 15-49

def married_fields(data, form) -> set[str]:
    return set(normalise(data, form, TODAY)["members"][0]) & MARRIED_WOMAN_FIELDS


def test_married_woman_fields_kept_for_a_married_woman_of_30(form):
    data = household(woman(30, **MARRIED_WOMAN_VALUES))
    assert married_fields(data, form) == MARRIED_WOMAN_FIELDS
    assert found(data, form) == set()


@pytest.mark.parametrize("who", [
    pytest.param(dict(age_on_today=50), id="woman of 50"),
    pytest.param(dict(age_on_today=30, marital_status="10"), id="unmarried woman"),
    pytest.param(dict(age_on_today=30, marital_status="30"), id="widow"),
    pytest.param(dict(age_on_today=30, marital_status="40"), id="divorced woman"),
    pytest.param(dict(age_on_today=30, marital_status=None), id="marital status not given"),
    pytest.param(dict(age_on_today=30, sex="1"), id="man"),
])
def test_married_woman_fields_dropped_for_others(form, who):
    values = {k: v for k, v in who.items() if k != "sex"}
    data = household(woman(**values, **MARRIED_WOMAN_VALUES))
    if "sex" in who:
        data["members"][0]["sex"] = who["sex"]
    assert married_fields(data, form) == set()
    assert found(data, form) == set()  # irrelevant values are dropped, not errors


@pytest.mark.parametrize("marital_status", ["20", "21", "22", "23"])
def test_every_married_code_counts(form, marital_status):
    assert married_fields(household(woman(30, marital_status=marital_status, **MARRIED_WOMAN_VALUES)), form) \
        == MARRIED_WOMAN_FIELDS


@pytest.mark.parametrize("birth_date, age, applies", [
    ("2010-06-15", 15, True),   # fifteenth birthday today
    ("2010-06-16", 14, False),  # fifteenth birthday tomorrow
    ("1975-06-16", 49, True),   # fiftieth birthday tomorrow
    ("1975-06-15", 50, False),  # fiftieth birthday today
])
def test_age_boundaries(form, birth_date, age, applies):
    w = woman(birth_date=birth_date, boys="0", girls="0")
    assert derived(w, TODAY) == {"age": age, "married_woman_15_49": applies}
    assert married_fields(household(w), form) == ({"boys", "girls"} if applies else set())


def test_derived_without_a_birth_date():
    assert derived({"sex": "2", "marital_status": "20"}, TODAY) == {"age": None, "married_woman_15_49": False}
    assert derived({"sex": "2", "marital_status": "20", "birth_date": date(1990, 1, 1)}, TODAY)["age"] == 35


def test_youngest_child_fields_only_with_children(form):
    none_born = {**MARRIED_WOMAN_VALUES, "boys": "0", "girls": "0"}
    assert married_fields(household(woman(30, **none_born)), form) == MARRIED_WOMAN_FIELDS - {
        "youngest_birth_date", "youngest_sex"}
    one_girl = {**none_born, "girls": "1"}
    assert married_fields(household(woman(30, **one_girl)), form) == MARRIED_WOMAN_FIELDS


def test_outside_spouse_fields_only_without_a_member_spouse(form):
    husband = member()
    data = household(husband, woman(30, **MARRIED_WOMAN_VALUES, spouse_member=husband["person_id"]))
    stored = normalise(data, form, TODAY)["members"][1]
    assert "spouse_member" in stored and "spouse_name" not in stored and "spouse_id_number" not in stored


# ---------------------------------------------------------------- messages

def test_messages_name_the_member_and_the_field_in_both_languages(form):
    number = make_id("1980-03-01", "011")
    data = household(member(), member(), member(name="张三", id_number=number[:-1] + ("0" if number[-1] != "0" else "1"),
                                                relationship="20", birth_date="2005-01-01"))
    issues = validate_household(data, form, TODAY)
    assert len(issues) == 1
    assert issues[0] == Issue("id.checksum", "error", "members[2].id_number", {
        "zh": "第3位成员（张三）的身份证号码校验位错误，请核对号码",
        "en": "Member 3 (张三): ID number has a wrong check digit; check the number"})


def test_every_member_issue_names_position_name_and_label(form):
    data = household(member(name="王五", sex="3", birth_date="1990-13-01", management="out_migrant",
                            phone_number="x", status="deceased"),
                     member(name=..., relationship="20", id_number="123"))
    issues = validate_household(data, form, TODAY)
    assert len(issues) == 7
    for issue in issues:
        index = int(issue.path[len("members["):issue.path.index("]")])
        assert f"第{index + 1}位成员" in issue.message["zh"] and f"Member {index + 1}" in issue.message["en"]
        field = issue.path.split(".")[1]
        if index == 0:
            assert "（王五）" in issue.message["zh"] and "(王五)" in issue.message["en"]
        if field != "phone_number":
            label = form.field("members", field).label
            assert label["zh"] in issue.message["zh"] and label["en"] in issue.message["en"]


def test_household_issues_name_the_household_and_the_field(form):
    [issue] = validate_household(household(phone="123"), form, TODAY)
    assert issue.message["zh"].startswith("本户的联系电话") and issue.message["en"].startswith("Household: Phone number")
    assert issue.as_dict() == {"rule": "field.phone", "level": "error", "path": "household.phone",
                               "message": issue.message}


# ---------------------------------------------------------------- the marshmallow schema

def test_household_schema_types_and_drops_like_normalise(form):
    head = member(id_number=make_id("1980-03-01", "011").lower())
    wife = woman(30, **MARRIED_WOMAN_VALUES)
    data = household(head, wife, woman(50, boys="2"), door_no=" 3 ", notes="")
    loaded = household_schema(form, TODAY).load(data)
    assert loaded == normalise(data, form, TODAY)
    assert loaded["members"][1]["boys"] == 1 and "boys" not in loaded["members"][2]


def test_household_schema_reports_rule_ids_per_field(form):
    data = household(member(), member(birth_date="1990-13-01", boys="x", colour="red"), phone=12.5)
    with pytest.raises(ValidationError) as caught:
        household_schema(form, TODAY).load(data)
    assert caught.value.messages == {
        "household": {"phone": ["field.type"]},
        "members": {1: {"birth_date": ["field.date"], "boys": ["field.integer"], "colour": ["field.unknown"]}},
    }
