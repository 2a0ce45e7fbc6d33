"""Rules across households, over person rows."""
from __future__ import annotations

import pytest

from quality import Finding, check_across, dead_active_elsewhere, id_in_two_households, person_rows, spouse_not_mutual
from tests.support.households import id_number, young_family

A = id_number("1980-01-01", "1", seq=1)
B = id_number("1982-02-02", "2", seq=2)
C = id_number("1984-03-03", "1", seq=3)


def row(household, position, number, *, name="某人", sex="1", status="active", marital="20", spouse=None):
    return {"household_id": household, "position": position, "person_id": f"{household}-{position}", "name": name,
            "sex": sex, "id_number": number, "status": status, "marital_status": marital,
            "spouse_id_number": spouse}


def found(rule_fn, rows):
    return sorted((f.rule, f.household, f.member, f.field) for f in rule_fn(iter(rows)))


@pytest.mark.parametrize("rows, expected", [
    ([row("h1", 0, A), row("h2", 3, A)],
     [("across.id_in_two_households", "h1", 0, "id_number"), ("across.id_in_two_households", "h2", 3, "id_number")]),
    ([row("h1", 0, A), row("h2", 0, B)], []),
    ([row("h1", 0, A), row("h1", 1, A)], []),                       # within a household: household.duplicate_id
    ([row("h1", 0, A), row("h2", 0, A, status="moved_out")], []),   # moved: only one active
    ([row("h1", 0, None), row("h2", 0, None)], []),                 # no numbers: nothing to compare
])
def test_one_id_number_active_in_two_households(rows, expected):
    assert found(id_in_two_households, rows) == expected


@pytest.mark.parametrize("rows, expected", [
    ([row("h1", 0, A, status="deceased"), row("h2", 1, A)],
     [("across.dead_active_elsewhere", "h1", 0, "status"), ("across.dead_active_elsewhere", "h2", 1, "status")]),
    ([row("h1", 0, A, status="moved_out"), row("h2", 1, A)], []),   # a recorded move between households
    ([row("h1", 0, A, status="duplicate"), row("h2", 1, A)], []),   # a duplicate resolved
    ([row("h1", 0, A, status="deceased"), row("h2", 1, B)], []),
    ([row("h1", 0, A, status="deceased"), row("h2", 1, A, status="deceased")], []),
])
def test_dead_in_one_household_and_active_in_another(rows, expected):
    assert found(dead_active_elsewhere, rows) == expected


@pytest.mark.parametrize("rows, expected", [
    ([row("h1", 1, B, sex="2", spouse=A), row("h2", 0, A)], []),                    # mutual
    ([row("h1", 1, B, sex="2", spouse=C), row("h2", 0, A)], []),                    # spouse not registered here
    ([row("h1", 1, B, sex="2", spouse=A), row("h2", 0, A, marital="10")], ["h1"]),   # he is never married
    ([row("h1", 1, B, sex="2", spouse=A), row("h2", 0, A, sex="2")], ["h1"]),        # same sex
    ([row("h1", 1, B, sex="2", spouse=A), row("h2", 0, A),
      row("h3", 1, id_number("1990-01-01", "2", seq=5), sex="2", spouse=A)], ["h1", "h3"]),  # two wives
    ([row("h1", 1, B, sex="2", spouse=C), row("h2", 0, C, sex="2", spouse=A)], ["h1"]),  # she names another
    ([row("h1", 1, B, sex="2", spouse=A), row("h2", 0, A, status="deceased")], []),  # no active spouse row
])
def test_a_spouse_link_that_is_not_mutual(rows, expected):
    got = list(spouse_not_mutual(iter(rows)))
    assert sorted(f.household for f in got) == expected
    assert all(f.rule == "across.spouse_not_mutual" and f.field == "spouse_id_number" for f in got)


def test_findings_name_the_person_and_the_other_household():
    rows = [row("h1", 0, A, name="张三"), row("h2", 3, A, name="张三")]
    f = next(id_in_two_households(rows))
    assert isinstance(f, Finding) and f.person_id == "h1-0" and f.path == "members[0].id_number"
    assert "第1位成员（张三）" in f.message["zh"] and "h2" in f.message["zh"] and "h2" in f.message["en"]


def test_rows_from_form_data_and_all_rules_at_once():
    one, two = young_family(seq=1), young_family(seq=1)  # the same ID numbers
    rows = list(person_rows("one", one)) + list(person_rows("two", two))
    assert rows[1]["spouse_person_id"] == one["members"][0]["person_id"] and rows[1]["position"] == 1
    findings = list(check_across(iter(rows)))
    assert {f.rule for f in findings} == {"across.id_in_two_households"}
    assert len(findings) == 8


def test_a_large_registry_in_one_pass():
    """Grouping, not pairs: 60,000 rows with one planted duplicate give exactly its two findings."""
    def rows():
        for n in range(60_000):
            yield row(f"h{n}", 0, f"N{n:08d}")
        yield row("planted", 0, "PLANTED")
        yield row("planted2", 0, "PLANTED")
    assert [f.household for f in id_in_two_households(rows())] == ["planted", "planted2"]
