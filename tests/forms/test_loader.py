"""The form definition loader and the code lists: the real household form, and broken
definitions that must fail at load naming the file, the section, the field and the problem."""
from __future__ import annotations

import copy
import csv
import json
from pathlib import Path

import pytest
import yaml

from collection_forms import FormDefinitionError, load_code_lists, load_form, load_form_file
from collection_forms.code_lists import CODE_TABLES

SHARED_DATA = Path("/work/shared/data")

MAIN_ITEMS = {
    ("members", n) for n in (
        "name", "sex", "birth_date", "id_number", "marital_status", "hukou_type", "hukou_place",
        "residence_place", "management", "migration_place", "migration_since", "cancellation_reason",
        "cancelled_on", "boys", "girls", "youngest_birth_date", "youngest_sex")
}


# ---------------------------------------------------------------- the real definition

def test_household_form_loads_with_its_sections_and_fields():
    form = load_form()
    assert form.name == "household" and isinstance(form.version, int) and form.version >= 1
    assert [s.name for s in form.sections] == ["household", "members"]
    assert [s.repeat for s in form.sections] == [False, True]
    assert [f.name for f in form.household_fields] == [
        "group_code", "building", "unit", "room", "door_no", "address", "household_type", "hukou_type", "phone", "notes"]
    assert len(form.member_fields) == 25
    assert form.field("members", "relationship").required is True
    assert form.field("household", "household_type").list_name == "household_type"


def test_main_items_are_the_issue_list():
    main = load_form().main_items()
    assert {(key, f.name) for key, f in main} == MAIN_ITEMS
    assert len(main) == 17


def test_load_form_is_cached():
    assert load_form() is load_form("household")


def test_field_lookup_by_section_or_data_key_and_unknown_names():
    form = load_form()
    assert form.field("household", "phone").type == "phone"
    assert form.field("members", "id_number").type == "id_number"
    with pytest.raises(KeyError):
        form.field("members", "phone")
    with pytest.raises(KeyError):
        form.field("nowhere", "name")


def test_every_code_field_names_an_existing_list_and_allowed_codes_exist():
    form = load_form()
    lists = load_code_lists()
    code_fields = [f for s in form.sections for f in s.fields if f.type == "code"]
    assert {f.list_name for f in code_fields} == {
        "household_type", "hukou_type", "sex", "ethnicity", "relationship", "marital_status", "education",
        "management", "person_status"}
    for f in code_fields:
        assert f.codes and set(f.codes) <= set(lists[f.list_name].codes)


def test_married_woman_fields_carry_the_derived_relevance():
    form = load_form()
    for name in ("marriage_date", "spouse_member", "spouse_id_number", "spouse_name", "boys", "girls",
                 "youngest_birth_date", "youngest_sex"):
        f = form.field("members", name)
        assert f.group == "married_woman"
        assert {"derived": "married_woman_15_49"} in [f.relevant, *f.relevant.get("all", [])]


def test_relevance_order_puts_what_a_condition_reads_first():
    order = load_form().relevance_order["members"]
    for later, earlier in [("migration_place", "management"), ("cancelled_on", "status"),
                           ("boys", "birth_date"), ("boys", "marital_status"), ("boys", "sex"),
                           ("youngest_sex", "boys"), ("youngest_sex", "girls"), ("spouse_name", "spouse_member")]:
        assert order.index(earlier) < order.index(later)


def test_as_json_round_trips_and_resolves_code_lists():
    form = load_form()
    out = form.as_json()
    assert json.loads(json.dumps(out, ensure_ascii=False)) == out
    assert out["form"] == "household" and out["version"] == form.version
    members = next(s for s in out["sections"] if s["name"] == "members")
    fields = {f["name"]: f for f in members["fields"]}
    relationship = fields["relationship"]["options"]
    assert len(relationship) == 83 and relationship[0] == {"code": "02", "zh": "户主", "en": "Head of household",
                                                            "parent": None}
    assert "01" not in {o["code"] for o in relationship}
    assert [o["code"] for o in fields["sex"]["options"]] == ["1", "2"]
    assert {"code": "21", "zh": "初婚", "en": "First marriage", "parent": "20"} in fields["marital_status"]["options"]
    assert fields["migration_place"]["relevant"] == {"field": "management", "not_in": ["resident"]}
    assert fields["status"]["default"] == "active"
    assert out["derived"] == {"married_woman_15_49": ["sex", "marital_status", "birth_date"]}


def test_as_json_gives_a_fresh_copy():
    form = load_form()
    form.as_json()["sections"][0]["fields"].clear()
    assert form.as_json()["sections"][0]["fields"]


# ---------------------------------------------------------------- code lists

def test_code_lists_have_the_expected_sizes_and_labels():
    lists = load_code_lists()
    assert {name: len(cl.codes) for name, cl in lists.items()} == {
        "education": 40, "ethnicity": 58, "household_type": 3, "hukou_type": 9, "management": 3,
        "marital_status": 8, "person_status": 5, "relationship": 84, "sex": 4}
    assert lists["sex"].label("1", "zh_CN") == "男性" and lists["sex"].label("1", "en") == "Male"
    assert lists["ethnicity"].label("01", "zh") == "汉族"
    assert lists["marital_status"].codes["22"].parent == "20"
    assert lists["household_type"].label("nominal", "zh") == "空挂户"
    assert lists["sex"].label("7", "zh") == "7"  # legacy value: shown, not hidden


def test_relationship_keeps_only_the_two_digit_codes():
    codes = list(load_code_lists()["relationship"].codes)
    assert all(len(c) == 2 for c in codes)
    assert codes[:5] == ["01", "02", "10", "11", "12"] and codes[-1] == "99"


@pytest.mark.skipif(not SHARED_DATA.exists(), reason="the shared data folder is not on this machine")
@pytest.mark.parametrize("ours, source", [
    ("sex", "code_sex_gb2261_1"), ("marital_status", "code_marital_status_gb2261_2"),
    ("education", "code_education_gb4658"), ("ethnicity", "code_ethnic_group_gb3304"),
    ("hukou_type", "code_hukou_type_ga324"), ("relationship", "code_family_relationship_gb4761"),
])
def test_copied_tables_match_the_shared_sources(ours, source):
    with (SHARED_DATA / f"{source}.csv").open(encoding="utf-8", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("code_type", "2-digit") == "2-digit"]
    assert {r["code"]: (r["name_zh"], r["name_en"]) for r in rows} == {
        c: (i.zh, i.en) for c, i in load_code_lists()[ours].codes.items()}


def test_a_broken_code_table_names_its_file_and_line(tmp_path):
    (tmp_path / "sex.csv").write_text("code,name_zh,name_en\n1,男,Male\n1,男,Male again\n", encoding="utf-8")
    from collection_forms.code_lists import read_code_list
    with pytest.raises(FormDefinitionError, match=r"sex\.csv: line 3: duplicate code '1'"):
        read_code_list(tmp_path / "sex.csv")
    assert CODE_TABLES.joinpath("README.md").exists()


# ---------------------------------------------------------------- broken definitions

BASE = {
    "form": "household",
    "version": 1,
    "title": {"zh": "表", "en": "Form"},
    "sections": [
        {"name": "household", "label": {"zh": "户", "en": "Household"}, "fields": [
            {"name": "household_type", "type": "code", "list": "household_type", "label": {"zh": "户别", "en": "Type"}},
            {"name": "phone", "type": "phone", "label": {"zh": "电话", "en": "Phone"}},
        ]},
        {"name": "members", "repeat": True, "label": {"zh": "成员", "en": "Members"}, "fields": [
            {"name": "name", "type": "text", "max_length": 30, "label": {"zh": "姓名", "en": "Name"}},
            {"name": "sex", "type": "code", "list": "sex", "codes": ["1", "2"], "label": {"zh": "性别", "en": "Sex"}},
            {"name": "marital_status", "type": "code", "list": "marital_status", "label": {"zh": "婚姻", "en": "Marital"}},
            {"name": "birth_date", "type": "date", "label": {"zh": "出生日期", "en": "Birth"}},
            {"name": "boys", "type": "integer", "min": 0, "max": 20, "label": {"zh": "男孩", "en": "Boys"},
             "relevant": {"derived": "married_woman_15_49"}},
        ]},
    ],
}


def write(tmp_path: Path, definition) -> Path:
    path = tmp_path / "household.yaml"
    path.write_text(yaml.safe_dump(definition, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def field_of(d, section: int, name: str) -> dict:
    return next(f for f in d["sections"][section]["fields"] if f["name"] == name)


def test_the_minimal_definition_loads(tmp_path):
    form = load_form_file(write(tmp_path, BASE))
    assert len(form.member_fields) == 5 and form.field("members", "boys").max == 20


def test_main_items_are_read_from_the_definition(tmp_path):
    """`main_item: true` marks a 主要数据项 (the completeness of quality.completeness counts
    them); it is carried to the phone too, and anything but true/false is refused."""
    d = copy.deepcopy(BASE)
    field_of(d, 1, "name")["main_item"] = True
    field_of(d, 1, "boys")["main_item"] = True
    form = load_form_file(write(tmp_path, d))
    assert [(key, f.name) for key, f in form.main_items()] == [("members", "name"), ("members", "boys")]
    assert form.field("members", "sex").main_item is False
    fields = {f["name"]: f for f in form.as_json()["sections"][1]["fields"]}
    assert fields["boys"]["main_item"] is True and fields["sex"]["main_item"] is False
    field_of(d, 1, "boys")["main_item"] = "yes"
    with pytest.raises(FormDefinitionError, match="'main_item' must be true or false"):
        load_form_file(write(tmp_path, d))


def _unknown_list(d):
    field_of(d, 0, "household_type")["list"] = "household_kind"


def _subset_code_not_in_list(d):
    field_of(d, 1, "sex")["codes"] = ["1", "3"]


def _subset_code_unquoted(d):
    field_of(d, 1, "sex")["codes"] = [1, 2]


def _duplicate_field(d):
    d["sections"][1]["fields"].append({"name": "sex", "type": "text", "label": {"zh": "性别", "en": "Sex"}})


def _duplicate_across_household_sections(d):
    d["sections"].insert(1, {"name": "address", "label": {"zh": "地址", "en": "Address"}, "fields": [
        {"name": "phone", "type": "text", "label": {"zh": "电话", "en": "Phone"}}]})


def _unknown_type(d):
    field_of(d, 1, "birth_date")["type"] = "datetime"


def _relevance_unknown_field(d):
    field_of(d, 1, "name")["relevant"] = {"field": "nickname", "filled": True}


def _relevance_other_scope(d):
    field_of(d, 1, "name")["relevant"] = {"field": "phone", "filled": True}


def _required_unknown_field(d):
    field_of(d, 1, "name")["required"] = {"field": "status", "equals": "active"}


def _unknown_derived(d):
    field_of(d, 1, "boys")["relevant"] = {"derived": "married_man"}


def _derived_in_household(d):
    field_of(d, 0, "phone")["relevant"] = {"derived": "married_woman_15_49"}


def _derived_without_inputs(d):
    d["sections"][1]["fields"] = [f for f in d["sections"][1]["fields"] if f["name"] != "marital_status"]


def _missing_zh(d):
    field_of(d, 1, "name")["label"] = {"en": "Name"}


def _missing_en(d):
    field_of(d, 1, "name")["help"] = {"zh": "帮助", "en": ""}


def _two_repeating(d):
    d["sections"].append({"name": "children", "repeat": True, "label": {"zh": "子女", "en": "Children"},
                          "fields": [{"name": "name", "type": "text", "label": {"zh": "姓名", "en": "Name"}}]})


def _no_members(d):
    d["sections"][1]["name"] = "people"


def _cycle(d):
    field_of(d, 1, "name")["relevant"] = {"field": "birth_date", "filled": True}
    field_of(d, 1, "birth_date")["relevant"] = {"field": "name", "filled": True}


def _typo_key(d):
    field_of(d, 1, "name")["requried"] = True


def _condition_value_not_a_code(d):
    field_of(d, 1, "name")["relevant"] = {"field": "sex", "equals": "3"}


def _condition_shape(d):
    field_of(d, 1, "name")["relevant"] = {"field": "sex", "equals": "1", "in": ["1"]}


def _key_for_other_type(d):
    field_of(d, 1, "birth_date")["max_length"] = 10


def _default_not_in_list(d):
    field_of(d, 0, "household_type")["default"] = "big"


def _reserved_name(d):
    d["sections"][1]["fields"].append({"name": "person_id", "type": "text", "label": {"zh": "编号", "en": "ID"}})


def _not_snake_case(d):
    field_of(d, 1, "name")["name"] = "Name"


def _version_not_int(d):
    d["version"] = "1.0"


def _form_name(d):
    d["form"] = "person"


def _unknown_group(d):
    field_of(d, 1, "boys")["group"] = "married_woman"


BROKEN = [
    # (mutation, section, field, problem)
    (_unknown_list, "household", "household_type", "unknown code list 'household_kind'"),
    (_subset_code_not_in_list, "members", "sex", "code '3' in 'codes' is not in code list 'sex'"),
    (_subset_code_unquoted, "members", "sex", "must be a quoted string"),
    (_duplicate_field, "members", "sex", "duplicate field name"),
    (_duplicate_across_household_sections, "address", "phone", "duplicate field name: also in section 'household'"),
    (_unknown_type, "members", "birth_date", "unknown field type 'datetime'"),
    (_relevance_unknown_field, "members", "name", "condition names unknown field 'nickname'"),
    (_relevance_other_scope, "members", "name", "condition names unknown field 'phone'"),
    (_required_unknown_field, "members", "name", "required: condition names unknown field 'status'"),
    (_unknown_derived, "members", "boys", "unknown derived predicate 'married_man'"),
    (_derived_in_household, "household", "phone", "can only be used in the member roster"),
    (_derived_without_inputs, "members", "boys", "needs a field 'marital_status'"),
    (_missing_zh, "members", "name", "label is missing its zh text"),
    (_missing_en, "members", "name", "help is missing its en text"),
    (_two_repeating, None, None, "more than one repeating section"),
    (_no_members, None, None, "one section named 'members'"),
    (_cycle, "members", "name", "relevance cycle: name -> birth_date -> name"),
    (_typo_key, "members", "name", "unknown key(s) ['requried']"),
    (_condition_value_not_a_code, "members", "name", "value '3' is not an allowed code of list 'sex'"),
    (_condition_shape, "members", "name", "a field condition is"),
    (_key_for_other_type, "members", "birth_date", "'max_length' does not apply to a field of type date"),
    (_default_not_in_list, "household", "household_type", "'default' value 'big' is not an allowed code"),
    (_reserved_name, "members", "person_id", "reserved"),
    (_not_snake_case, "members", "Name", "snake_case"),
    (_version_not_int, None, None, "'version' must be a whole number"),
    (_form_name, None, None, "'form' must be 'household'"),
    (_unknown_group, "members", "boys", "unknown group 'married_woman'"),
]


@pytest.mark.parametrize("mutate, section, field, problem", BROKEN, ids=[b[0].__name__[1:] for b in BROKEN])
def test_a_broken_definition_names_file_section_field_and_problem(tmp_path, mutate, section, field, problem):
    definition = copy.deepcopy(BASE)
    mutate(definition)
    path = write(tmp_path, definition)
    with pytest.raises(FormDefinitionError) as caught:
        load_form_file(path)
    message = str(caught.value)
    assert message.startswith(str(path))
    if section:
        assert f"section '{section}'" in message
    if field:
        assert f"field '{field}'" in message
    assert problem in message


def test_a_key_given_twice_in_the_yaml_is_refused(tmp_path):
    path = tmp_path / "household.yaml"
    text = yaml.safe_dump(BASE, allow_unicode=True, sort_keys=False)
    path.write_text(text.replace("  max_length: 30\n", "  max_length: 30\n    max_length: 40\n", 1), encoding="utf-8")
    assert "max_length: 40" in path.read_text(encoding="utf-8")
    with pytest.raises(FormDefinitionError, match=r"household\.yaml: cannot be read: .*duplicate key 'max_length'"):
        load_form_file(path)


def test_a_file_that_is_not_yaml_is_refused(tmp_path):
    path = tmp_path / "household.yaml"
    path.write_text("form: household\nsections: [\n", encoding="utf-8")
    with pytest.raises(FormDefinitionError, match=r"household\.yaml: cannot be read"):
        load_form_file(path)
