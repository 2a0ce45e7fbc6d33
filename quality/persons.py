"""The seed's check list (篇12) at the level of one person, where the save-time rules do not
already answer it. The list and where each item is answered:

- women of marrying age not married     person.unmarried_of_age (here, a warning)
- missing ID numbers                    person.id_missing (here)
- wrong ID numbers                      the field rules id.length, id.format, id.checksum,
                                        id.date, id.birth_date_mismatch, id.sex_mismatch
                                        (collection_forms.validate, run at every save)
- missing spouse information            mw.spouse_given (a married woman's relation 9)
- duplicate persons                     household.duplicate_id (within a household),
                                        across.id_in_two_households (quality.across)
- logic errors                          the household rules (quality.household) and the ten
                                        relations of a married woman (quality.married_women)

Decisions:
- person.id_missing: an active person aged 16 or more without an ID number is an error (a
  resident ID card is compulsory from 16, Resident Identity Card Law art. 2); a younger child
  may not have one yet (the form's help says so) and is no finding. Completeness still counts
  the number as a main item for everyone (quality.completeness), as the form marks it.
- person.unmarried_of_age: "of marrying age and not married" alone is most young women of a
  village, which is not a work list. A warning is given only where the household itself shows
  a marriage: an active woman of legal marriage age (20) to 49 whose marital status is never
  married (10) or not stated (90, or empty) while her relationship to the head is one by
  marriage (the head's wife, a daughter-in-law, a brother's wife, ...), or she is the head
  and her children by birth live in the household. She would be missing from the married
  women the rates count.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from collection_forms import Issue
from collection_forms.conditions import MARRIED, age_on, as_date
from quality.household import CHILD, HEAD, SPOUSE, is_active, legal_marriage_age, member_issue

ID_CARD_AGE = 16
# Relationships to the head that exist only through a marriage of the member: spouse of the
# head (10-12), son's or grandson's wife (38, 45), brothers' wives (72, 74), uncles' wives (82,
# 84, 86). The mothers-in-law (54, 56) are older than 49 nearly always and are left out.
BY_MARRIAGE = SPOUSE | frozenset({"38", "45", "72", "74", "82", "84", "86"})
NOT_MARRIED = frozenset({"10", "90"})


def check_persons(household_data: Mapping[str, Any], today: date) -> list[Issue]:
    members = [m for m in household_data.get("members") or [] if isinstance(m, Mapping)]
    active = [(i, m) for i, m in enumerate(members) if is_active(m)]
    has_children = any(m.get("relationship") in CHILD for _, m in active)
    issues: list[Issue] = []
    for i, m in active:
        birth = as_date(m.get("birth_date"))
        age = age_on(birth, today) if birth else None
        if m.get("id_number") is None and age is not None and age >= ID_CARD_AGE:
            issues.append(member_issue(
                "person.id_missing", "error", i, m, "id_number",
                f"已满{ID_CARD_AGE}岁，但没有填写身份证号码",
                f"is {ID_CARD_AGE} or older but has no ID number"))
        if _unmarried_of_age(m, age, today, has_children):
            issues.append(member_issue(
                "person.unmarried_of_age", "warning", i, m, "marital_status",
                "已达法定婚龄，与户主关系或本户子女表明已婚，但婚姻状况为未婚或未填写，请核对",
                "is of marrying age and the household shows a marriage (her relationship to the head, "
                "or her children), but her marital status is never married or not given; check it"))
    return issues


def _unmarried_of_age(m: Mapping[str, Any], age: int | None, today: date, has_children: bool) -> bool:
    if m.get("sex") != "2" or age is None or age > 49:
        return False
    if age < legal_marriage_age("2", today):
        return False
    status = m.get("marital_status")
    if status in MARRIED or (status is not None and status not in NOT_MARRIED):
        return False  # married, widowed or divorced: not this finding
    rel = m.get("relationship")
    return rel in BY_MARRIAGE or (rel == HEAD and has_children)
