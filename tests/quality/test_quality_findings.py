"""Findings: an Issue with its place in the registry."""
from __future__ import annotations

import pytest

from collection_forms import Issue
from quality import Finding, household_findings
from tests.support.households import TODAY, young_family

MSG = {"zh": "甲", "en": "a"}


@pytest.mark.parametrize("path, member, field", [
    ("members[2].id_number", 2, "id_number"),
    ("members[0]", 0, None),
    ("household.phone", None, "phone"),
    ("members", None, "members"),
    ("", None, None),
])
def test_a_finding_reads_its_place_from_the_path_and_gives_it_back(path, member, field):
    issue = Issue("x.rule", "warning", path, MSG)
    members = [{"person_id": f"p{n}"} for n in range(3)]
    f = Finding.from_issue(issue, "h1", members)
    assert (f.member, f.field, f.household) == (member, field, "h1")
    assert f.person_id == (f"p{member}" if member is not None else None)
    assert f.as_issue() == issue
    assert f.as_dict()["path"] == path


def test_household_findings_place_every_rule_of_a_registry_run():
    data = young_family()
    data["members"][1].pop("marriage_date")
    data["members"][0].pop("id_number")
    found = list(household_findings("341023100001-0007", data, TODAY))
    assert sorted((f.rule, f.member, f.field) for f in found) == [
        ("mw.marriage_date", 1, "marriage_date"), ("person.id_missing", 0, "id_number")]
    assert {f.household for f in found} == {"341023100001-0007"}
    assert {f.person_id for f in found} == {data["members"][0]["person_id"], data["members"][1]["person_id"]}
