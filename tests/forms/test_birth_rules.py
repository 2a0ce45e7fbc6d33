"""The birth rules (collection_forms.birth_rules) at their boundaries: the mother's age in
completed years on the day of the birth, and the days between two births of one mother."""
from __future__ import annotations

import datetime as dt

import pytest

from collection_forms.birth_rules import birth_spacing_issues, check_birth, mother_age_issues, mother_who

D = dt.date
MOTHER = {"name": "李秀英", "birth_date": "1970-06-15"}
WHO = mother_who(MOTHER)


@pytest.mark.parametrize("child_born, expected", [
    (D(1984, 6, 14), ("birth.mother_too_young", "error")),   # 13 years 364 days: refused
    (D(1984, 6, 15), ("birth.mother_young", "warning")),     # 14 to the day
    (D(1986, 6, 14), ("birth.mother_young", "warning")),     # 15 years 364 days
    (D(1986, 6, 15), None),                                   # 16
    (D(2025, 6, 15), None),                                   # 55
    (D(2026, 6, 14), None),                                   # 55 years 364 days
    (D(2026, 6, 15), ("birth.mother_old", "warning")),       # 56
])
def test_the_mothers_age_at_the_birth(child_born, expected):
    issues = mother_age_issues(D(1970, 6, 15), child_born, who=WHO, path="members[1].birth_date")
    assert [(i.rule, i.level) for i in issues] == ([expected] if expected else [])
    for i in issues:
        assert "李秀英" in i.message["zh"] and "李秀英" in i.message["en"]
        assert i.path == "members[1].birth_date"


def test_an_eight_year_old_is_refused_by_name_in_chinese():
    issues = check_birth({"name": "张小妹", "birth_date": "2018-03-01"}, D(2026, 9, 1))
    assert [(i.rule, i.level) for i in issues] == [("birth.mother_too_young", "error")]
    assert issues[0].message["zh"].startswith("母亲张小妹（2018-03-01出生）在孩子出生时（2026-09-01）只有8岁")
    assert "不满14岁" in issues[0].message["zh"]


@pytest.mark.parametrize("days, warned", [
    (0, False), (1, False),      # twins: the same or the next day
    (2, True), (25, True), (179, True),
    (180, False), (400, False),
    (-1, False), (-179, True), (-180, False),  # a birth recorded late, before the other one
])
def test_the_days_between_two_births_of_one_mother(days, warned):
    earlier = D(2026, 1, 10)
    issues = birth_spacing_issues(earlier + dt.timedelta(days=days), [earlier], who=WHO)
    assert [(i.rule, i.level) for i in issues] == ([("birth.spacing", "warning")] if warned else [])
    if warned:
        assert f"只相隔{abs(days)}天" in issues[0].message["zh"] and "李秀英" in issues[0].message["zh"]


def test_the_closest_other_birth_is_named_and_unknown_dates_are_skipped():
    others = [None, "", "2025-12-01", D(2026, 2, 4), "2020-01-01"]
    issues = birth_spacing_issues(D(2026, 3, 1), others, who=WHO)
    assert len(issues) == 1 and "2026-02-04" in issues[0].message["zh"] and "25天" in issues[0].message["zh"]


def test_a_mother_known_only_by_her_birth_date_and_an_unknown_one():
    issues = check_birth(None, D(2026, 9, 1), mother_birth=D(2013, 1, 1))
    assert issues[0].rule == "birth.mother_too_young" and issues[0].message["zh"].startswith("母亲（")
    assert check_birth({"name": "王芳"}, D(2026, 9, 1)) == []  # no birth date: nothing to say
    later = check_birth({"name": "王芳", "birth_date": "2027-01-01"}, D(2026, 9, 1))
    assert [i.rule for i in later] == ["birth.mother_too_young"] and "尚未出生" in later[0].message["zh"]
