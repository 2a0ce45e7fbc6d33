"""Household logic rules, both sides of each boundary."""
from __future__ import annotations

import pytest

from quality.household import check_household_rules, legal_marriage_age
from tests.support.households import family, member


def rules(data) -> list[str]:
    return [i.rule for i in check_household_rules(data)]


def test_a_coherent_family_passes():
    assert rules(family()) == []


def test_no_head_and_several_heads():
    data = family()
    data["members"][0]["relationship"] = "10"
    assert rules(data) == ["household.no_head"]
    data = family()
    data["members"][2]["relationship"] = "02"
    issues = check_household_rules(data)
    assert [i.rule for i in issues] == ["household.several_heads"]
    assert issues[0].path == "members[2].relationship"
    assert "第3位成员（张伟）" in issues[0].message["zh"] and "Member 3 (张伟)" in issues[0].message["en"]


def test_a_cancelled_head_does_not_count():
    data = family()
    data["members"][0]["status"] = "deceased"
    assert "household.no_head" in rules(data)


@pytest.mark.parametrize("birth, ok", [("1985-03-01", True), ("1985-02-28", False)])
def test_child_at_least_15_years_younger_than_the_head(birth, ok):
    data = family()  # head born 1970-03-01
    data["members"][2]["birth_date"] = birth
    assert ("household.child_age" not in rules(data)) is ok


def test_adopted_children_and_children_in_law_have_no_age_gap():
    data = family()
    data["members"][2].update(relationship="27", birth_date="1990-01-01")
    data["members"][3].update(relationship="38", birth_date="1990-01-01")
    assert rules(data) == []


@pytest.mark.parametrize("birth, ok", [("1955-03-01", True), ("1955-03-02", False)])
def test_parent_at_least_15_years_older_than_the_head(birth, ok):
    data = family()
    data["members"].append(member("张老汉", "51", birth, "1", seq=9))
    assert ("household.parent_age" not in rules(data)) is ok


@pytest.mark.parametrize("on, sex, age", [
    ("1980-12-31", "2", 18), ("1980-12-31", "1", 20), ("1981-01-01", "2", 20), ("1981-01-01", "1", 22),
])
def test_legal_marriage_age_follows_the_marriage_law(on, sex, age):
    import datetime as dt
    assert legal_marriage_age(sex, dt.date.fromisoformat(on)) == age


@pytest.mark.parametrize("married_on, ok", [("1992-05-02", True), ("1992-05-01", False)])
def test_wife_of_legal_age_on_the_marriage_date(married_on, ok):
    data = family()
    wife = data["members"][1]  # born 1972-05-02: 20 on 1992-05-02
    wife.update(marriage_date=married_on, spouse_member=data["members"][0]["person_id"])
    found = check_household_rules(data)
    assert ("household.marriage_age" not in [i.rule for i in found]) is ok
    if not ok:
        assert found[0].level == "warning" and found[0].path == "members[1].marriage_date"


def test_husband_of_legal_age_is_checked_through_the_spouse_link():
    data = family()
    data["members"][0]["birth_date"] = "1972-01-01"  # 22 on 1994-01-01
    wife = data["members"][1]
    wife.update(marriage_date="1993-12-31", spouse_member=data["members"][0]["person_id"])
    found = [i for i in check_household_rules(data) if i.rule == "household.marriage_age"]
    assert [i.path for i in found] == ["members[0].birth_date"]


def test_an_id_number_appears_once_among_active_members():
    data = family()
    data["members"][3]["id_number"] = data["members"][2]["id_number"]
    issues = check_household_rules(data)
    assert [(i.rule, i.path) for i in issues] == [("household.duplicate_id", "members[3].id_number")]
    assert "第2位" not in issues[0].message["zh"] and "第3位成员" in issues[0].message["zh"]
    data["members"][3]["status"] = "duplicate"
    assert rules(data) == []


@pytest.mark.parametrize("youngest, expected", [
    ("1986-05-01", ["birth.mother_too_young"]),   # 李秀英 (born 1972-05-02) was 13 years 364 days
    ("1986-05-02", ["birth.mother_young"]),       # 14
    ("1988-05-02", []),                           # 16
])
def test_a_married_womans_age_at_her_youngest_childs_birth(youngest, expected):
    """The form's one link between a mother and a child: the birth rules apply at every save."""
    data = family()
    data["members"][1].update(boys=1, girls=0, youngest_birth_date=youngest, youngest_sex="1")
    issues = [i for i in check_household_rules(data) if i.rule.startswith("birth.")]
    assert [i.rule for i in issues] == expected
    for i in issues:
        assert i.path == "members[1].youngest_birth_date" and "第2位成员（李秀英）" in i.message["zh"]
    levels = ["error" if r == "birth.mother_too_young" else "warning" for r in expected]
    assert [i.level for i in issues] == levels
