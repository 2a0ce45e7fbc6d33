"""Main-item completeness: items required only where they apply to the person."""
from __future__ import annotations

from collection_forms import load_form
from quality import main_item_completeness
from tests.support.households import TODAY, member, young_family

PLACES = {"hukou_type": "1", "hukou_place": "安徽省黟县", "residence_place": "安徽省黟县碧阳镇"}
EVERYONE = ["name", "sex", "birth_date", "id_number", "marital_status", "hukou_type", "hukou_place",
            "residence_place", "management"]
MARRIED_WOMAN = ["boys", "girls", "youngest_birth_date", "youngest_sex"]


def _filled(data):
    for m in data["members"]:
        m.update(PLACES)
    return data


def test_the_main_items_are_those_marked_in_the_form():
    marked = {f.name for _key, f in load_form().main_items()}
    assert set(EVERYONE + MARRIED_WOMAN) | {"migration_place", "migration_since", "cancellation_reason",
                                            "cancelled_on"} == marked


def test_a_complete_family_counts_everyone_and_her_items():
    data = _filled(young_family())
    c = main_item_completeness(data, TODAY)
    assert (c.required, c.filled, c.missing, c.rate) == (4 * len(EVERYONE) + len(MARRIED_WOMAN),
                                                        4 * len(EVERYONE) + len(MARRIED_WOMAN), (), 1.0)


def test_the_married_woman_items_only_for_married_women_15_49():
    data = _filled(young_family())
    data["members"][1]["marital_status"] = "40"  # divorced: her items do not apply
    assert main_item_completeness(data, TODAY).required == 4 * len(EVERYONE)
    data = _filled(young_family())
    data["members"][1].update(boys=0, girls=0)  # no children: no youngest child asked
    data["members"][1].pop("youngest_birth_date")
    data["members"][1].pop("youngest_sex")
    assert main_item_completeness(data, TODAY).required == 4 * len(EVERYONE) + 2


def test_missing_items_are_named_and_migration_and_cancellation_apply_by_condition():
    data = _filled(young_family())
    data["members"][1].pop("girls")
    data["members"][2].pop("hukou_place")
    data["members"].append(member("张三", "70", "1990-01-01", "1", seq=5, management="out_migrant",
                                  migration_place="上海", status="moved_out", cancelled_on="2020-01-01", **PLACES))
    c = main_item_completeness(data, TODAY)
    # the migrant's place and date, his cancellation reason and date: 4 more items, 2 of them empty
    assert c.required == 5 * len(EVERYONE) + len(MARRIED_WOMAN) + 4
    assert c.missing == ((1, "girls"), (2, "hukou_place"), (4, "migration_since"), (4, "cancellation_reason"))
    assert c.filled == c.required - 4
    total = c + main_item_completeness(_filled(young_family()), TODAY)
    assert total.required == c.required + 4 * len(EVERYONE) + len(MARRIED_WOMAN)


def test_an_empty_household_has_no_rate():
    assert main_item_completeness({"household": {}, "members": []}, TODAY).rate is None
