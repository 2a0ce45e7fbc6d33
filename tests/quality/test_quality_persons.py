"""The seed's check list at person level: missing ID numbers, women of marrying age not married."""
from __future__ import annotations

import pytest

from quality.persons import check_persons
from tests.support.households import TODAY, id_number, member, young_family


def _rules(data):
    return [(i.rule, i.path) for i in check_persons(data, TODAY)]


def test_the_young_family_has_no_finding():
    assert _rules(young_family()) == []


@pytest.mark.parametrize("birth, found", [
    ("2010-11-23", True),    # 16 today
    ("2010-11-24", False),   # 15 until tomorrow: may have no number yet
    ("1950-01-01", True),
])
def test_an_id_number_is_missing_from_16(birth, found):
    data = young_family()
    data["members"].append(member("张小", "40", birth, "1", seq=9))
    data["members"][-1].pop("id_number")
    expected = [("person.id_missing", "members[4].id_number")] if found else []
    assert _rules(data) == expected


def test_a_cancelled_person_without_a_number_is_no_finding():
    data = young_family()
    data["members"][0].pop("id_number")
    assert _rules(data) == [("person.id_missing", "members[0].id_number")]
    data["members"][0].update(status="deceased", cancelled_on="2020-01-01")
    assert _rules(data) == []


def _woman(relationship, birth, marital_status, with_children=True):
    data = young_family()
    wife = data["members"][1]
    for key in ("marriage_date", "spouse_member", "boys", "girls", "youngest_birth_date", "youngest_sex"):
        wife.pop(key)
    wife.update(relationship=relationship, birth_date=birth, marital_status=marital_status,
                id_number=id_number(birth, "2", seq=4))
    if relationship == "02":
        data["members"][0]["relationship"] = "10"
    if not with_children:
        del data["members"][2:]
    return data


@pytest.mark.parametrize("relationship, birth, status, children, found", [
    ("12", "1996-01-01", "10", True, True),     # the head's wife, never married
    ("12", "1996-01-01", "90", True, True),     # not stated
    ("12", "1996-01-01", None, True, True),     # not given
    ("12", "1996-01-01", "20", True, False),    # married
    ("12", "1996-01-01", "40", True, False),    # divorced: not this finding
    ("38", "1996-01-01", "10", True, True),     # a daughter-in-law
    ("30", "1996-01-01", "10", True, False),    # a daughter: nothing shows a marriage
    ("02", "1996-01-01", "10", True, True),     # the head, her children at home
    ("02", "1996-01-01", "10", False, False),   # the head, no children
    ("12", "2006-11-24", "10", True, False),    # 19: under the legal age
    ("12", "2006-11-23", "10", True, True),     # 20 today
    ("12", "1976-11-23", "10", True, False),    # 50
])
def test_women_of_marrying_age_not_married(relationship, birth, status, children, found):
    data = _woman(relationship, birth, status, children)
    if status is None:
        data["members"][1].pop("marital_status")
    got = [(r, p) for r, p in _rules(data) if r == "person.unmarried_of_age"]
    assert got == ([("person.unmarried_of_age", "members[1].marital_status")] if found else [])
