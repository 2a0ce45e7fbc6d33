"""Plausibility rules of a birth: the mother's age at the birth and the spacing of her births.

Pure functions that return Issues (rule id, level, path, message in Chinese and English
naming the mother), so that the birth event (app.domain.events), the household save
(quality.household, through a married woman's youngest child) and later the rule
library of the quality work speak the same rules with the same ids:

    birth.mother_too_young   error    under 14 completed years (周岁) at the birth: refused
    birth.mother_young       warning  14 or 15 at the birth
    birth.mother_old         warning  over 55 (56 and more) at the birth
    birth.spacing            warning  another birth of the same mother less than 180 days
                                      before or after, twins (the same or the next day) excepted

The limits are those the field walk of issue 14 asked for: a mother of 8 or a second child
25 days after the first were saved without a word.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from collection_forms.conditions import age_on, as_date
from collection_forms.issues import Issue, Text

MOTHER_MIN_AGE = 14       # younger: refused
MOTHER_WARN_BELOW = 16    # 14 and 15: a warning
MOTHER_WARN_ABOVE = 55    # 56 and older: a warning
MIN_SPACING_DAYS = 180    # two births of one mother closer than this: a warning...
TWINS_WITHIN_DAYS = 1     # ...unless born the same or the next day (twins)


def mother_who(mother: Mapping[str, Any] | None) -> Text:
    """The mother as the messages name her: 母亲李秀英 / Mother 李秀英 (or just "the mother")."""
    name = str((mother or {}).get("name") or "").strip()
    return {"zh": f"母亲{name}", "en": f"Mother {name}"} if name else {"zh": "母亲", "en": "The mother"}


def mother_age_issues(mother_birth: date | None, child_birth: date, *, who: Text,
                      path: str = "mother") -> list[Issue]:
    """The mother's age in completed years on the day of the birth: under 14 an error, 14-15
    and over 55 a warning. Nothing when her birth date is unknown."""
    if mother_birth is None:
        return []
    age = age_on(mother_birth, child_birth)
    born, on = mother_birth.isoformat(), child_birth.isoformat()
    if child_birth < mother_birth:
        return [Issue("birth.mother_too_young", "error", path, {
            "zh": f"{who['zh']}（{born}出生）在孩子出生时（{on}）尚未出生：请核对母亲和出生日期",
            "en": f"{who['en']} (born {born}) was not yet born on the day of the birth ({on}): check the "
                  "mother and the dates"})]
    if age < MOTHER_MIN_AGE:
        return [Issue("birth.mother_too_young", "error", path, {
            "zh": f"{who['zh']}（{born}出生）在孩子出生时（{on}）只有{age}岁，"
                  f"不满{MOTHER_MIN_AGE}岁，不能登记为母亲：请核对母亲和出生日期",
            "en": f"{who['en']} (born {born}) was only {age} on the day of the birth ({on}), "
                  f"under {MOTHER_MIN_AGE}; she cannot be recorded as the mother: check the mother "
                  "and the dates"})]
    if age < MOTHER_WARN_BELOW:
        return [Issue("birth.mother_young", "warning", path, {
            "zh": f"{who['zh']}（{born}出生）在孩子出生时（{on}）只有{age}岁，请核对母亲和出生日期",
            "en": f"{who['en']} (born {born}) was only {age} on the day of the birth ({on}); "
                  "check the mother and the dates"})]
    if age > MOTHER_WARN_ABOVE:
        return [Issue("birth.mother_old", "warning", path, {
            "zh": f"{who['zh']}（{born}出生）在孩子出生时（{on}）已{age}岁，"
                  f"超过{MOTHER_WARN_ABOVE}岁，请核对母亲和出生日期",
            "en": f"{who['en']} (born {born}) was {age} on the day of the birth ({on}), over "
                  f"{MOTHER_WARN_ABOVE}; check the mother and the dates"})]
    return []


def birth_spacing_issues(child_birth: date, other_births: Iterable[date | str | None], *, who: Text,
                         path: str = "occurred_on") -> list[Issue]:
    """A warning when another birth of the same mother lies less than 180 days before or after
    this one; births 0 or 1 day apart are twins and fine. One warning, for the closest birth."""
    gaps = []
    for other in other_births:
        day = as_date(other)
        if day is None:
            continue
        gap = abs((child_birth - day).days)
        if TWINS_WITHIN_DAYS < gap < MIN_SPACING_DAYS:
            gaps.append((gap, day))
    if not gaps:
        return []
    gap, day = min(gaps)
    on = child_birth.isoformat()
    return [Issue("birth.spacing", "warning", path, {
        "zh": f"{who['zh']}的另一个孩子出生于{day.isoformat()}，与这次出生（{on}）只相隔{gap}天，"
              f"不足{MIN_SPACING_DAYS}天：请核对出生日期和母亲",
        "en": f"{who['en']} had another child on {day.isoformat()}, only {gap} days from this birth "
              f"({on}), less than {MIN_SPACING_DAYS}; check the dates and the mother"})]


def check_birth(mother: Mapping[str, Any] | None, child_birth: date,
                other_births: Iterable[date | str | None] = (), *, mother_birth: date | None = None, mother_path: str = "mother",
                date_path: str = "occurred_on") -> list[Issue]:
    """All birth rules for one birth: the mother (her `birth_date`, or `mother_birth` when
    she is known only by her ID number) and the dates of her other births."""
    who = mother_who(mother)
    born = mother_birth or as_date((mother or {}).get("birth_date"))
    return (mother_age_issues(born, child_birth, who=who, path=mother_path)
            + birth_spacing_issues(child_birth, other_births, who=who, path=date_path))
