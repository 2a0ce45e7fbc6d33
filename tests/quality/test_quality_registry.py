"""The rule registry: every rule readable, every rule a check produces registered, one save path."""
from __future__ import annotations

import re

import pytest

import collection_forms.validate
import quality
from collection_forms import check, load_form
from quality import (
    LOGIC_RELATIONS, RULE_COLUMNS, check_across, check_household, person_rows, rule, rule_rows, rules, save_checks,
)
from quality.household import check_household_rules
from tests.support.households import TODAY, family, id_number, young_family


def test_every_rule_is_readable():
    ids = [r.id for r in rules()]
    assert len(ids) == len(set(ids))
    for r in rules():
        assert r.level in ("error", "warning"), r.id
        assert r.scope in ("person", "household", "across_households", "married_woman"), r.id
        for text in (r.title, r.why):
            assert set(text) == {"zh", "en"} and all(v.strip() for v in text.values()), r.id
        assert rule(r.id) is r
    with pytest.raises(KeyError):
        rule("no.such.rule")


def test_rows_for_an_export():
    rows = rule_rows()
    assert RULE_COLUMNS == ("id", "level", "scope", "title_zh", "title_en", "why_zh", "why_en")
    assert [tuple(r) for r in rows] == [RULE_COLUMNS] * len(rules())
    assert rows[[r["id"] for r in rows].index("mw.children_count")]["scope"] == "married_woman"
    assert {r["id"] for r in rule_rows("across_households")} == {
        "across.id_in_two_households", "across.dead_active_elsewhere", "across.spouse_not_mutual"}


def test_the_ten_relations_are_registered_in_order():
    married = rules("married_woman")
    assert [r.id for r in married] == list(LOGIC_RELATIONS)
    assert [r.relation for r in married] == list(range(1, 11))
    assert all(r.why["zh"].startswith(f"逻辑关系{n}/10") for n, r in enumerate(married, 1))


def test_the_field_rules_the_form_documents_are_registered():
    doc = collection_forms.validate.__doc__ or ""
    listed = set(re.findall(r"\b(?:field|form|member|members|id)\.[a-z_]+\b", doc.split("The household")[0]))
    assert listed and listed <= {r.id for r in rules()}


def test_the_seeds_check_list_is_covered():
    covered = {r.checklist for r in rules()}
    assert {"unmarried_of_age", "id_missing", "id_wrong", "spouse_missing", "duplicate", "logic"} <= covered


def _broken_households():
    """Households that set off many rules, to see each produced id is registered with its level."""
    out = []
    d = family()
    d["members"][0]["relationship"] = "10"
    out.append(d)
    d = family()
    d["members"][2].update(relationship="02", birth_date="1960-01-01", id_number="110101196001010000")
    d["members"][3]["id_number"] = d["members"][1]["id_number"]
    d["members"][1].update(marriage_date="1980-01-01", boys=1, girls=0, youngest_birth_date="1985-01-01",
                           youngest_sex="1")
    out.append(d)
    d = young_family()
    d["members"][1].update(boys=0, marriage_date="2027-01-01", id_number=id_number("1988-05-03", "1", seq=5))
    d["members"][0].update(id_number=None, sex="2")
    d["members"].append({"person_id": "00000000-0000-4000-8000-000000000001", "name": "X" * 40, "relationship": "99", "sex": "3", "birth_date": "1990-13-01",
                         "management": "resident", "phone": "1"})
    out.append(d)
    d = young_family()
    d["members"][1].update(relationship="12", marital_status="10", birth_date="1996-01-01",
                           id_number=id_number("1996-01-01", "2", seq=6))
    d["members"][2]["status"] = "deceased"
    out.append(d)
    return out


def test_every_produced_rule_is_registered_with_its_level():
    seen = set()
    for data in _broken_households():
        _clean, issues = check_household(data, TODAY)
        for i in issues:
            assert rule(i.rule).level == i.level, i
            seen.add(i.rule)
    rows = [r for n, data in enumerate(_broken_households()) for r in person_rows(f"h{n}", data)]
    rows += list(person_rows("other", young_family()))  # the same ID numbers as household 2
    for f in check_across(rows):
        assert rule(f.rule).level == f.level
        seen.add(f.rule)
    # the broken households really set off rules of every kind
    assert {"household.no_head", "household.duplicate_id", "id.checksum", "person.id_missing",
            "mw.children_count", "across.id_in_two_households", "person.unmarried_of_age"} <= seen


def test_a_save_runs_exactly_the_save_time_rules():
    """The save path (app.domain.registration.check_form, prefill) calls save_checks: the field
    checks and the household rules, as before issue 17; the registry-only rules are not in it."""
    for data in _broken_households():
        clean, issues = save_checks(data, TODAY)
        expected_clean, field_issues = check(data, load_form(), TODAY)
        assert clean == expected_clean
        assert issues == field_issues + check_household_rules(clean)
        assert all(rule(i.rule).at_save for i in issues)
        _clean, everything = check_household(data, TODAY)
        assert everything[:len(issues)] == issues


def test_save_time_flags():
    assert rule("household.no_head").at_save and rule("id.checksum").at_save
    assert not rule("mw.marriage_date").at_save and not rule("person.id_missing").at_save
    assert not rule("across.id_in_two_households").at_save


def test_the_registration_save_path_uses_the_library():
    from app.domain import prefill, registration
    assert registration.save_checks is quality.save_checks
    assert prefill.save_checks is quality.save_checks
