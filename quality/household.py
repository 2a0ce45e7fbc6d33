"""Household logic rules (逻辑关系): checks across the members of one household.

Moved here from app/domain/household_rules.py (issue 17) so that a save and a registry-wide
run call the same code: quality.save_checks runs them at every save, quality.check_household
in a run. Pure functions over normalised household data (collection_forms.normalise),
returning Issues like the field checks do, so both lists are shown, stored and counted the
same way. Only active members count: a cancelled person stays in the data but is no longer
"in" the household for these rules.

Rule ids (registered in quality.registry with their why):
    household.no_head  household.several_heads  household.child_age  household.parent_age
    household.marriage_age (warning)  household.duplicate_id
    birth.mother_too_young  birth.mother_young (warning)  birth.mother_old (warning)
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from collection_forms import Issue, member_path, member_who
from collection_forms.issues import Level
from collection_forms.birth_rules import mother_age_issues
from collection_forms.conditions import age_on, as_date

HEAD = "02"
SPOUSE = frozenset({"10", "11", "12"})
# Children of the head by birth (GB/T 4761 20-26, 29, 30-36, 39); adopted and step
# children (27, 37) and children-in-law (28, 38) have no minimum age gap.
CHILD = frozenset({"20", "21", "22", "23", "24", "25", "26", "29",
                   "30", "31", "32", "33", "34", "35", "36", "39"})
# The head's own parents (50 父母, 51 父亲, 52 母亲); in-laws and step-parents are not.
PARENT = frozenset({"50", "51", "52"})
MIN_GENERATION_GAP = 15  # years between a parent and a child, as the registration rules ask

# Legal marriage age (Marriage Law 1950: men 20, women 18; since 1981-01-01: 22 and 20).
MARRIAGE_LAW_1981 = date(1981, 1, 1)


def legal_marriage_age(sex: str | None, on: date) -> int:
    if on < MARRIAGE_LAW_1981:
        return 20 if sex == "1" else 18
    return 22 if sex == "1" else 20


def is_active(member: Mapping[str, Any]) -> bool:
    """An active member (not cancelled: dead, moved out, duplicate, other)."""
    return member.get("status", "active") == "active"


def member_issue(rule: str, level: Level, index: int, member: Mapping[str, Any], field: str | None,
           zh: str, en: str) -> Issue:
    """An Issue about member `index`: its message starts with who (第3位成员（张伟）)."""
    who = member_who(index, member)
    return Issue(rule, level, member_path(index, field), {"zh": who["zh"] + zh, "en": f"{who['en']}: {en}"})


def check_household_rules(data: Mapping[str, Any]) -> list[Issue]:
    members = [m for m in data.get("members") or [] if isinstance(m, Mapping)]
    active = [(i, m) for i, m in enumerate(members) if is_active(m)]
    issues: list[Issue] = []
    issues += _one_head(active)
    heads = [(i, m) for i, m in active if m.get("relationship") == HEAD]
    if len(heads) == 1:
        issues += _generation_gaps(heads[0], active)
    issues += _marriage_age(active, members)
    issues += _id_once(active)
    issues += _mother_age(active)
    return issues


def _mother_age(active) -> list[Issue]:
    """A married woman's age at the birth of her youngest child (the one link between a
    mother and a child on the form): the birth rules of collection_forms.birth_rules."""
    issues: list[Issue] = []
    for i, m in active:
        youngest = as_date(m.get("youngest_birth_date"))
        if youngest is not None:
            issues += mother_age_issues(as_date(m.get("birth_date")), youngest, who=member_who(i, m),
                                        path=member_path(i, "youngest_birth_date"))
    return issues


def _one_head(active: list[tuple[int, Mapping[str, Any]]]) -> list[Issue]:
    if not active:
        return []
    heads = [(i, m) for i, m in active if m.get("relationship") == HEAD]
    if not heads:
        return [Issue("household.no_head", "error", "members",
                      {"zh": "本户没有户主：请把一位成员的“与户主关系”填为“户主”",
                       "en": "Household: no member is the head; set one member's relationship to 'Head of household'"})]
    return [member_issue("household.several_heads", "error", i, m, "relationship",
                   "也被填为户主，一户只能有一位户主",
                   "is also marked as the head; a household has exactly one head")
            for i, m in heads[1:]]


def _generation_gaps(head: tuple[int, Mapping[str, Any]], active) -> list[Issue]:
    _, head_member = head
    head_birth = as_date(head_member.get("birth_date"))
    if head_birth is None:
        return []
    issues = []
    for i, m in active:
        birth = as_date(m.get("birth_date"))
        rel = m.get("relationship")
        if birth is None:
            continue
        if rel in CHILD and age_on(head_birth, birth) < MIN_GENERATION_GAP:
            issues.append(member_issue(
                "household.child_age", "error", i, m, "birth_date",
                f"是户主的子女，但比户主年轻不到 {MIN_GENERATION_GAP} 岁，请核对出生日期或与户主关系",
                f"is the head's child but less than {MIN_GENERATION_GAP} years younger than the head; "
                "check the birth date or the relationship"))
        if rel in PARENT and age_on(birth, head_birth) < MIN_GENERATION_GAP:
            issues.append(member_issue(
                "household.parent_age", "error", i, m, "birth_date",
                f"是户主的父母，但比户主年长不到 {MIN_GENERATION_GAP} 岁，请核对出生日期或与户主关系",
                f"is the head's parent but less than {MIN_GENERATION_GAP} years older than the head; "
                "check the birth date or the relationship"))
    return issues


def _marriage_age(active, members) -> list[Issue]:
    """Both spouses of legal age on the marriage date (recorded for married women 15-49)."""
    by_id = {m.get("person_id"): m for m in members}
    issues = []
    for i, m in active:
        married_on = as_date(m.get("marriage_date"))
        if married_on is None:
            continue
        people = [(i, m, "marriage_date")]
        spouse = by_id.get(m.get("spouse_member"))
        if spouse is not None:
            people.append((members.index(spouse), spouse, "birth_date"))
        for j, person, field in people:
            birth = as_date(person.get("birth_date"))
            if birth is None:
                continue
            minimum = legal_marriage_age(person.get("sex"), married_on)
            if age_on(birth, married_on) < minimum:
                issues.append(member_issue(
                    "household.marriage_age", "warning", j, person, field,
                    f"在结婚日期 {married_on.isoformat()} 未满法定婚龄 {minimum} 岁，请核对结婚日期或出生日期",
                    f"was under the legal marriage age of {minimum} on the marriage date "
                    f"{married_on.isoformat()}; check the marriage date or the birth date"))
    return issues


def _id_once(active) -> list[Issue]:
    seen: dict[str, int] = {}
    issues = []
    for i, m in active:
        number = m.get("id_number")
        if not isinstance(number, str) or len(number) != 18:
            continue
        if number in seen:
            first = seen[number] + 1
            issues.append(member_issue(
                "household.duplicate_id", "error", i, m, "id_number",
                f"的身份证号码与第{first}位成员相同，一个号码在户内只能出现一次",
                f"has the same ID number as member {first}; a number appears once in a household"))
        else:
            seen[number] = i
    return issues
