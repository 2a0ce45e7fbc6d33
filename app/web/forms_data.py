"""The household form as HTML fields, and back: pure functions, no request, no database.

Field names on the page (the same with and without JavaScript):
    household-<field>           a field of the household part, e.g. household-door_no
    members-<i>-<field>         a field of member card i, e.g. members-2-id_number
    members-<i>-person_id       the member's stable id (hidden)
An issue's path ("household.phone", "members[2].id_number", see collection_forms.issues)
maps to the same name, so that a server message lands next to the field it is about.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from collection_forms.loader import HOUSEHOLD, MEMBERS, FormDefinition

_MEMBER_KEY = re.compile(r"members-(\d{1,3})-(\w+)", re.ASCII)  # at most 999 cards on a page
_MEMBER_PATH = re.compile(r"members\[(\d+)\](?:\.(\w+))?", re.ASCII)
GENERAL = ""  # the key of issues that belong to no field


def household_name(field: str) -> str:
    return f"{HOUSEHOLD}-{field}"


def member_name(index: int | str, field: str) -> str:
    return f"{MEMBERS}-{index}-{field}"


def parse_form(form: Mapping[str, str], definition: FormDefinition, *,
               known_person_ids: Iterable[str] = (), keep_blank: bool = False) -> dict[str, Any]:
    """The data shape {"household": {...}, "members": [...]} from the posted fields, values
    as typed (the domain converts and checks them). Member cards come in the order of their
    index. A card nobody filled (an "add member" card left empty) is dropped unless
    `keep_blank`, or unless it carries the person_id of a member already saved: a person
    is never dropped silently (the domain refuses that with a message)."""
    household = {name: form.get(household_name(name), "") for name in definition.fields_of(HOUSEHOLD)}
    member_fields = definition.fields_of(MEMBERS)
    cards: dict[int, dict[str, str]] = {}
    for key in form:
        match = _MEMBER_KEY.fullmatch(key)
        if match and (match.group(2) in member_fields or match.group(2) == "person_id"):
            cards.setdefault(int(match.group(1)), {})[match.group(2)] = form.get(key, "")
    known = {str(p) for p in known_person_ids}
    members = []
    for index in sorted(cards):
        card = cards[index]
        if keep_blank or card.get("person_id", "").strip() in known or not _blank(card, definition):
            members.append(card)
    return {HOUSEHOLD: household, MEMBERS: members}


def _blank(card: Mapping[str, str], definition: FormDefinition) -> bool:
    """Nothing typed on the card: every field empty or still at its default (status "active")."""
    for name, f in definition.fields_of(MEMBERS).items():
        value = (card.get(name) or "").strip()
        if value and value != (str(f.default) if f.default is not None else None):
            return False
    return True


def display_value(record: Mapping[str, Any] | None, name: str) -> str:
    """A stored or typed value as the text of an input ("" when absent)."""
    if not isinstance(record, Mapping):
        return ""
    value = record.get(name)
    return "" if value is None else str(value)


def field_key(path: str) -> str:
    """The page name an issue path belongs to: "members[2].id_number" -> "members-2-id_number",
    "members[2]" -> "members-2", "household.phone" -> "household-phone", anything else -> GENERAL."""
    if path.startswith(f"{HOUSEHOLD}."):
        return household_name(path[len(HOUSEHOLD) + 1:])
    match = _MEMBER_PATH.fullmatch(path)
    if match:
        index, field = match.groups()
        return member_name(index, field) if field else f"{MEMBERS}-{index}"
    return GENERAL


def issues_by_field(issues: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """Issues grouped by the page name of their field (GENERAL for the rest), errors first."""
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for issue in sorted(issues, key=lambda i: i.get("level") != "error"):
        grouped.setdefault(field_key(str(issue.get("path") or "")), []).append(issue)
    return grouped


def mask_id_number(number: str | None) -> str:
    """3410**********1234: enough to tell people apart on a list, not the whole number."""
    if not number:
        return ""
    if len(number) <= 8:
        return number[:1] + "*" * (len(number) - 1)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]
