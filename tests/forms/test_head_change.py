"""Relationship changes proposed when the head of a household changes, for a few family
shapes (GB/T 4761 codes; see collection_forms.head_change)."""
from __future__ import annotations

import uuid

import pytest

from collection_forms.head_change import next_child_code, propose


def person(relationship: str, sex: str, birth: str, status: str = "active", **extra) -> dict:
    return {"person_id": str(uuid.uuid4()), "relationship": relationship, "sex": sex, "birth_date": birth,
            "status": status, **extra}


def proposals(members: list[dict], new_head: int) -> dict[int, tuple[str, bool, str]]:
    return {p.index: (p.new, p.certain, p.reason) for p in propose(members, new_head)}


def test_the_wife_becomes_head_when_the_head_dies():
    members = [
        person("02", "1", "1960-01-01", status="deceased"),  # 户主 (deceased)
        person("12", "2", "1962-02-02"),                      # 妻 → the new head
        person("22", "1", "1985-03-03"),                      # 长子 stays 长子
        person("38", "2", "1986-04-04"),                      # 儿媳 stays
        person("41", "1", "2010-05-05"),                      # 孙子 stays
        person("51", "1", "1935-06-06"),                      # 父亲 → 公公
        person("52", "2", "1937-07-07"),                      # 母亲 → 婆婆
        person("99", "1", "1990-08-08"),                      # 非亲属 stays
    ]
    got = proposals(members, 1)
    assert 0 not in got, "a deceased member's relationship is history, not rewritten"
    assert got[1] == ("02", True, "")
    assert {i: got[i][0] for i in (2, 3, 4, 5, 6, 7)} == {2: "22", 3: "38", 4: "41", 5: "53", 6: "54", 7: "99"}
    assert all(certain for _, certain, _ in got.values())


def test_a_husband_becoming_head_gets_his_wifes_parents_as_parents_in_law():
    members = [person("02", "2", "1965-01-01", status="moved_out"), person("11", "1", "1963-01-01"),
               person("51", "1", "1940-01-01"), person("52", "2", "1941-01-01")]
    got = proposals(members, 1)
    assert (got[2][0], got[3][0]) == ("55", "56")  # 岳父, 岳母


def test_the_only_son_becomes_head_after_his_father_dies():
    son = person("22", "1", "1980-03-03")
    members = [
        person("02", "1", "1950-01-01", status="deceased"),
        person("12", "2", "1952-02-02"),                                   # 妻 → 母亲
        son,                                                               # → 户主
        person("38", "2", "1982-04-04", spouse_member=son["person_id"]),  # his wife → 妻
        person("41", "1", "2008-05-05"),                                   # 孙子 → 子 (only son: his)
        person("42", "2", "2011-06-06"),                                   # 孙女 → 女
        person("30", "2", "1984-07-07"),                                   # 女 (younger) → 妹妹
        person("32", "2", "1978-08-08"),                                   # 长女 (elder) → 姐姐
        person("52", "2", "1928-09-09"),                                   # old head's mother → 祖母
        person("71", "1", "1947-10-10"),                                   # old head's elder brother → 伯父
        person("73", "1", "1955-11-11"),                                   # his younger brother → 叔父
        person("75", "2", "1949-12-12"),                                   # his sister → 姑母
    ]
    got = proposals(members, 2)
    assert {i: got[i][0] for i in got} == {1: "52", 2: "02", 3: "12", 4: "20", 5: "30", 6: "77", 7: "75",
                                           8: "62", 9: "81", 10: "83", 11: "90"}
    assert all(certain for _, certain, _ in got.values())


def test_with_two_sons_the_grandchildren_need_the_collectors_eye():
    elder, younger = person("22", "1", "1975-01-01"), person("23", "1", "1978-01-01")
    members = [
        person("02", "1", "1950-01-01", status="deceased"), elder, younger,
        person("38", "2", "1979-01-01", spouse_member=younger["person_id"]),  # younger brother's wife → 弟媳
        person("41", "1", "2005-01-01"),                                       # whose son? child or nephew
    ]
    got = proposals(members, 1)
    assert got[2][:2] == ("73", True)       # 弟
    assert got[3][:2] == ("74", True)       # 弟媳
    assert got[4] == ("20", False, "child_or_nephew")


def test_a_daughter_becomes_head_with_her_husband_and_children():
    husband = person("28", "1", "1979-01-01")                                 # 女婿 → 夫
    daughter = person("31", "2", "1981-01-01", spouse_member=husband["person_id"])
    members = [
        person("02", "2", "1955-01-01", status="deceased"),   # the old head was the mother
        daughter, husband,
        person("43", "1", "2006-01-01"),                       # 外孙子 → 子 (only daughter)
        person("41", "2", "2009-01-01"),                       # a son's child, sex female here → 侄女
        person("51", "1", "1930-01-01"),                       # old head's father → 外祖父 (through the mother)
        person("55", "1", "1932-01-01"),                       # old head's father-in-law → 祖父
    ]
    got = proposals(members, 1)
    assert {i: got[i][0] for i in got} == {1: "02", 2: "11", 3: "20", 4: "94", 5: "63", 6: "61"}


def test_unknowns_are_flagged_not_guessed_silently():
    members = [person("02", "1", "1950-01-01", status="deceased"), person("20", "1", "1980-01-01"),
               person("20", "1", "1980-01-01"),            # a twin: birth order unknown
               person("38", "2", "1981-01-01"),            # a daughter-in-law without a spouse link
               person("80", "2", "1960-01-01")]            # 其他
    got = proposals(members, 1)
    assert got[2] == ("70", False, "birth_order_unknown")
    assert got[3] == ("12", False, "whose_spouse")  # the head's wife or his twin's: asked, not assumed
    assert got[4] == ("97", False, "relation_unknown")
    # A new head who is neither spouse nor child: every relative is left to the collector.
    got = proposals([person("02", "1", "1950-01-01", status="deceased"), person("71", "1", "1948-01-01"),
                     person("20", "1", "1980-01-01")], 1)
    assert got[2] == ("97", False, "new_head_not_spouse_or_child")


def test_the_new_heads_wife_without_a_spouse_link_is_his_wife():
    """Issue 14: after the head's death, the wife of the son who became head (儿媳 of the old
    head, aged over 49, so the form keeps no spouse link for her) was proposed as 其他亲属."""
    son = person("22", "1", "1970-03-03", marital_status="21")
    members = [
        person("02", "1", "1945-01-01", status="deceased", marital_status="21"),
        person("12", "2", "1947-02-02", marital_status="21"),      # 妻 → 母亲
        son,                                                         # → 户主
        person("38", "2", "1971-04-04", marital_status="21"),      # 儿媳, no link → 妻
        person("41", "1", "1995-05-05"),                             # 孙子 → 子
        person("42", "2", "1998-06-06"),                             # 孙女 → 女
        person("23", "1", "1980-07-07", marital_status="10"),      # an unmarried younger son → 弟
    ]
    got = proposals(members, 2)
    assert got[3] == ("12", True, "")
    assert {i: got[i][0] for i in got} == {1: "52", 2: "02", 3: "12", 4: "20", 5: "30", 6: "73"}


def test_a_son_in_law_without_a_link_is_the_new_heads_husband():
    members = [person("02", "1", "1948-01-01", status="deceased"),
               person("31", "2", "1972-01-01", marital_status="20"),   # 独生女 → 户主
               person("28", "1", "1970-01-01", marital_status="20")]   # 女婿 → 夫
    assert proposals(members, 1)[2] == ("11", True, "")


def test_an_unlinked_daughter_in_law_with_two_married_sons_is_asked_about():
    elder = person("22", "1", "1970-01-01", marital_status="20")
    younger = person("23", "1", "1973-01-01", marital_status="20")
    members = [person("02", "1", "1945-01-01", status="deceased"), elder, younger,
               person("38", "2", "1971-01-01", marital_status="20")]
    assert proposals(members, 1)[3] == ("12", False, "whose_spouse")   # his wife, or his brother's?
    # The younger son becomes head and is unmarried: she is the elder brother's wife, 嫂.
    younger["marital_status"] = "10"
    assert proposals(members, 2)[3] == ("72", True, "")


def sons_and_daughters(*codes: str) -> list[dict]:
    return [person("02", "1", "1960-01-01"), person("12", "2", "1962-01-01")] + [
        person(code, "1" if code[0] == "2" else "2", f"{1985 + i}-01-01") for i, code in enumerate(codes)]


@pytest.mark.parametrize("siblings, sex, expected", [
    (("22", "23", "24"), "1", "25"),        # after 长子 次子 三子: 四子
    (("22", "23", "24"), "2", "32"),        # no daughter yet: 长女
    (("22", "32"), "2", "33"),              # 次女
    (("21",), "1", "23"),                   # after an only son (独生子): 次子
    (("32", "33", "34", "35", "36"), "2", "39"),  # a sixth daughter has no order code: 其他女儿
    (("20", "30"), "1", "20"),              # the siblings are plain 子/女: so is the newborn
    ((), "2", "30"),                        # a first child
    (("22", "27"), "1", "23"),              # an adopted son (27) takes no place in the order
])
def test_a_newborn_takes_the_next_order_among_the_heads_children(siblings, sex, expected):
    assert next_child_code(sex, sons_and_daughters(*siblings), "2026-10-01") == expected


def test_a_son_who_died_keeps_his_place_and_a_later_sibling_does_not_count():
    members = sons_and_daughters("22", "23")
    members[2]["status"] = "deceased"
    assert next_child_code("1", members, "2026-10-01") == "24"                 # 三子
    assert next_child_code("1", members, "1985-06-01") == "23"                 # born between them: 次子
