"""The ten logic relations of a married woman aged 15-49, the denominator, and the seed's rate."""
from __future__ import annotations

import datetime as dt

import pytest

from quality import LOGIC_RELATIONS, check_household, logic_error_rate, logic_relations, married_women
from tests.support.households import TODAY, id_number, member, young_family

WIFE = 1


def _wife(**changes):
    data = young_family()
    for key, value in changes.items():
        if value is None:
            data["members"][WIFE].pop(key, None)
        else:
            data["members"][WIFE][key] = value
    return data


def _set(index, **changes):
    def change(data):
        data["members"][index].update(changes)
    return change


def _failed(data) -> list[tuple[str, ...]]:
    return [w.failed_rules for w in logic_relations(data, TODAY)]


def test_the_coherent_young_family_fails_nothing_anywhere():
    data = young_family()
    assert _failed(data) == [()]
    assert check_household(data, TODAY)[1] == []


# (rule, how to break it for the wife of young_family, which field the finding names)
BROKEN = [
    ("mw.id_agrees", _wife(id_number=id_number("1988-05-03", "2", seq=5)), "id_number"),
    ("mw.id_agrees", _wife(id_number=id_number("1988-05-02", "1", seq=5)), "id_number"),
    ("mw.marriage_date", _wife(marriage_date=None), "marriage_date"),
    ("mw.marriage_age", _wife(marriage_date="2008-05-01"), "marriage_date"),  # 19: under 20
    ("mw.marriage_not_future", _wife(marriage_date="2026-11-24"), "marriage_date"),
    ("mw.children_count", _wife(boys=0), "boys"),          # her son lives here
    ("mw.children_count", _wife(boys=None), "boys"),       # not filled
    ("mw.youngest_given", _wife(youngest_sex=None), "youngest_sex"),
    ("mw.youngest_given", _wife(youngest_birth_date=None), "youngest_birth_date"),
    ("mw.youngest_present", _wife(youngest_birth_date="2016-01-01"), "youngest_birth_date"),
    ("mw.youngest_present", _wife(youngest_sex="1", boys=2), "youngest_birth_date"),  # the youngest is a girl
    ("mw.spouse_given", _wife(spouse_member=None), "spouse_name"),
    ("mw.spouse_given", _wife(spouse_member=None, spouse_name="王强"), "spouse_id_number"),
    ("mw.spouse_consistent", _wife(spouse_member=None, spouse_name="王芳",
                                   spouse_id_number=id_number("1985-01-01", "2", seq=7)), "spouse_id_number"),
]


@pytest.mark.parametrize("rule, data, field", BROKEN)
def test_each_relation_fails_alone_when_broken(rule, data, field):
    women = logic_relations(data, TODAY)
    assert [w.failed_rules for w in women] == [(rule,)]
    issue = women[0].failed[0]
    assert issue.path == f"members[{WIFE}].{field}"
    assert "第2位成员（李秀英）" in issue.message["zh"] and "Member 2 (李秀英)" in issue.message["en"]


def _broken_by(change):
    data = young_family()
    change(data)
    return data


# Breaks that touch other members of the household.
@pytest.mark.parametrize("rule, change", [
    ("mw.mother_age", _set(2, birth_date="2002-01-01")),        # her son born when she was 13
    ("mw.spouse_consistent", _set(0, marital_status="10")),     # the husband's row says never married
    ("mw.spouse_consistent", _set(0, sex="2")),                 # a woman
    ("mw.spouse_consistent", _set(0, status="deceased", cancelled_on="2020-01-01")),
])
def test_relations_with_other_members(rule, change):
    data = _broken_by(change)
    assert [w.failed_rules for w in logic_relations(data, TODAY) if w.index == WIFE] == [(rule,)]


def test_the_spouse_of_the_heads_wife_is_the_head():
    data = young_family()
    data["members"][WIFE]["spouse_member"] = data["members"][2]["person_id"]  # her son
    failed = logic_relations(data, TODAY)[0].failed
    assert [i.rule for i in failed] == ["mw.spouse_consistent"]
    assert "不是户主" in failed[0].message["zh"]


@pytest.mark.parametrize("data", [
    _wife(boys=2, girls=3),                                      # more born than at home: fine
    _wife(marriage_date="2008-05-02"),                           # exactly 20
    _wife(spouse_member=None, spouse_name="王强", spouse_id_number=id_number("1985-01-01", "1", seq=7)),
    _wife(relationship="38", boys=0, girls=0),  # a daughter-in-law: the head's children are not hers
])
def test_relations_hold(data):
    if data["members"][WIFE].get("relationship") == "38":
        data["members"][WIFE].pop("youngest_birth_date")
        data["members"][WIFE].pop("youngest_sex")
        data["members"][WIFE]["spouse_member"] = data["members"][2]["person_id"]
        data["members"][2].update(birth_date="1986-01-10", marital_status="20",
                                  id_number=id_number("1986-01-10", "1", seq=3))
    assert _failed(data) == [()]


def test_a_relation_fails_once_per_woman_however_many_reasons():
    data = _wife(boys=0, girls=0, youngest_birth_date=None, youngest_sex=None)  # a son and a daughter at home
    assert _failed(data) == [("mw.children_count",)]
    data = young_family()
    data["members"][0].update(sex="2", marital_status="40", status="deceased", cancelled_on="2020-01-01")
    assert _failed(data) == [("mw.spouse_consistent",)]


def test_the_ten_relations_are_ten_and_in_order():
    assert len(LOGIC_RELATIONS) == 10 == len(set(LOGIC_RELATIONS))
    assert LOGIC_RELATIONS[0] == "mw.id_agrees" and LOGIC_RELATIONS[-1] == "mw.spouse_consistent"


@pytest.mark.parametrize("change, counted", [
    ({}, True),
    ({"birth_date": "1977-11-24", "id_number": id_number("1977-11-24", "2", seq=4)}, True),   # 49
    ({"birth_date": "1976-11-23", "id_number": id_number("1976-11-23", "2", seq=4)}, False),  # 50 today
    ({"birth_date": "2011-11-23", "id_number": id_number("2011-11-23", "2", seq=4)}, True),   # 15 today
    ({"marital_status": "10"}, False),
    ({"marital_status": "22"}, True),        # remarried
    ({"marital_status": "40"}, False),       # divorced
    ({"status": "deceased"}, False),         # cancelled: no longer in the household
])
def test_who_the_denominator_counts(change, counted):
    data = young_family()
    data["members"][WIFE].update(change)
    assert [i for i, _ in married_women(data, TODAY)] == ([WIFE] if counted else [])


def test_a_married_woman_is_a_woman():
    data = young_family()
    data["members"].append(member("张强", "20", "2000-01-01", "1", seq=8, marital_status="20"))
    assert [i for i, _ in married_women(data, TODAY)] == [WIFE]


def test_the_seeds_worked_example_160_women_40_errors_is_2_5_percent():
    """A village of 160 married women aged 15-49 with 40 logic errors: 40 ÷ 1600 = 2.5 %."""
    village = []
    for n in range(160):
        data = young_family(seq=n + 1)
        if n < 25:
            data["members"][WIFE].pop("marriage_date")                         # one error
        elif n < 32:
            data["members"][WIFE].update(boys=0, youngest_birth_date="2016-01-01")  # two errors
        elif n < 33:
            data["members"][WIFE].pop("spouse_member")                       # one error
        village.append(data)
    women = [w for data in village for w in logic_relations(data, TODAY)]
    errors = sum(w.logic_errors for w in women)
    assert (len(women), errors) == (160, 40)
    assert logic_error_rate(errors, len(women)) == pytest.approx(0.025)
    assert f"{logic_error_rate(errors, len(women)):.1%}" == "2.5%"


def test_the_rate_is_at_most_one_and_needs_women():
    assert logic_error_rate(1600, 160) == 1.0
    with pytest.raises(ValueError):
        logic_error_rate(1601, 160)
    assert logic_error_rate(0, 0) is None
    assert logic_error_rate(0, 5) == 0.0


def test_today_is_the_reference_date():
    data = _wife(marriage_date="2026-11-24")
    assert _failed(data) == [("mw.marriage_not_future",)]
    assert [w.failed_rules for w in logic_relations(data, dt.date(2026, 11, 24))] == [()]
