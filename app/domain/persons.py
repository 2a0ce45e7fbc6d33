"""The person register: a version's members as columns (Person, VerifiedPerson).

Person holds every household's current version, VerifiedPerson its last verified one, so
that reports count either the current data or only what was verified. Both are written in
the transaction that writes the version (app.domain.registration) or verifies it
(app.domain.workflow), and the household's place and state follow the household wherever
it changes (`follow_household`).

`member_columns` is pure (no database): the migration that made the register (0014) fills
it with the same function.
"""
from __future__ import annotations

import uuid
from functools import cache
from typing import Any

from sqlalchemy import delete, update

from app.domain.names import given_name, name_keys, normalise_name
from app.extensions import db
from app.models import Household, HouseholdVersion, Person, VerifiedPerson
from collection_forms import load_form
from collection_forms.conditions import as_date
from collection_forms.loader import MEMBERS
from quality.household import HEAD

# Form field -> register column, by kind of value.
CODES = {"sex": "sex", "ethnicity": "ethnicity", "relationship": "relationship_code",
         "marital_status": "marital_status", "education": "education", "hukou_type": "hukou_type",
         "management": "management", "youngest_sex": "youngest_sex"}
TEXTS = {"hukou_place": "hukou_place", "residence_place": "residence_place", "migration_place": "migration_place",
         "cancellation_reason": "cancellation_reason", "spouse_name": "spouse_name"}
DATES = {"birth_date": "birth_date", "migration_since": "migration_since", "cancelled_on": "cancelled_on",
         "marriage_date": "marriage_date", "youngest_birth_date": "youngest_birth_date"}
INTEGERS = {"boys": "boys", "girls": "girls"}
ID_NUMBERS = {"id_number": "id_number", "spouse_id_number": "spouse_id_number"}
# The columns a member's items fill (the household's place and state come from the household).
ITEM_COLUMNS = ("position", "name", "name_norm", "given_norm", "name_pinyin", "name_initials", "id_tail", "is_head", "status",
                "spouse_person_id", *CODES.values(), *TEXTS.values(), *DATES.values(), *INTEGERS.values(),
                *ID_NUMBERS.values())
PLACE_COLUMNS = ("unit_path", "village_id", "card_no")


@cache
def _allowed() -> dict[str, frozenset[str]]:
    fields = load_form().fields_of(MEMBERS)
    return {name: fields[name].allowed for name in [*CODES, "status"] if name in fields}


def member_columns(m: dict[str, Any], *, position: int, is_head: bool) -> dict[str, Any]:
    """One member of a version's data as the register's item columns. Codes outside their
    list, dates that are not dates and the like (kept by a draft with its error) are None."""
    allowed = _allowed()
    name = _text(m.get("name")) or ""
    pinyin, initials = name_keys(name)
    norm = normalise_name(name)
    number = _text(m.get("id_number"))
    status = _text(m.get("status"))
    row: dict[str, Any] = {
        "position": position, "name": name[:30], "name_norm": norm, "given_norm": given_name(norm),
        "name_pinyin": pinyin, "name_initials": initials, "is_head": is_head,
        "id_tail": number[-4:] if number and len(number) >= 4 else None,
        # Status is never empty (the form's default); a wrong one is kept as typed, cut to size,
        # so that it never counts as active.
        "status": status if status in allowed.get("status", ()) else (status or "active")[:12],
        "spouse_person_id": _uuid(m.get("spouse_member")),
    }
    for field, column in CODES.items():
        value = m.get(field)
        row[column] = value if value in allowed.get(field, ()) else None
    for field, column in TEXTS.items():
        text = _text(m.get(field))
        row[column] = text[:100 if column != "spouse_name" else 30] if text else None
    for field, column in DATES.items():
        row[column] = as_date(m.get(field))
    for field, column in INTEGERS.items():
        value = m.get(field)
        row[column] = value if isinstance(value, int) and not isinstance(value, bool) else None
    for field, column in ID_NUMBERS.items():
        text = _text(m.get(field))
        row[column] = text[:18] if text else None
    return row


def head_of(members: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The active member whose relationship is 户主 (the household's head), if any."""
    return next((m for m in members if m.get("status", "active") == "active" and m.get("relationship") == HEAD),
                None)


def member_rows(data: dict[str, Any]) -> list[tuple[uuid.UUID | None, dict[str, Any]]]:
    """(person id, item columns) of every member of a version's data, in roster order."""
    members = data.get("members", [])
    head = head_of(members)
    return [(_uuid(m.get("person_id")), member_columns(m, position=i, is_head=m is head))
            for i, m in enumerate(members)]


def place_of(household: Household) -> dict[str, Any]:
    """The household's place as the register keeps it. The village is read through the
    relationship: a household moved (a transfer) or not yet flushed has no new village_id yet."""
    village_id = household.village.id if household.village is not None else household.village_id
    return {"unit_path": household.unit_path, "village_id": village_id, "card_no": household.card_no}


def follow_household(household: Household) -> None:
    """Bring the household's state and place into its Person rows, and its place into its
    VerifiedPerson rows: called wherever the household's state, unit or card number changes
    without a new version (a workflow step). In-session Person objects are updated too."""
    db.session.execute(update(Person).where(Person.household_id == household.id)
                       .values(**place_of(household), household_state=household.state)
                       .execution_options(synchronize_session="evaluate"))
    follow_verified(household)


def follow_verified(household: Household) -> None:
    """The household's place into its VerifiedPerson rows (a new version moved the household:
    a transfer, a new group), if it has any and the place changed."""
    if household.last_verified_version_id is None:
        return
    place = place_of(household)
    db.session.execute(update(VerifiedPerson)
                       .where(VerifiedPerson.household_id == household.id,
                              (VerifiedPerson.unit_path != place["unit_path"])
                              | (VerifiedPerson.village_id != place["village_id"])
                              | (VerifiedPerson.card_no != place["card_no"]))
                       .values(**place).execution_options(synchronize_session=False))


def replace_verified(household: Household, version: HouseholdVersion) -> None:
    """The household's VerifiedPerson rows become the members of `version` (just verified)."""
    db.session.execute(delete(VerifiedPerson).where(VerifiedPerson.household_id == household.id)
                       .execution_options(synchronize_session="evaluate"))
    place = place_of(household)
    rows = [{"household_id": household.id, "person_id": person_id, "version_id": version.id,
             "version_number": version.number, **items, **place}
            for person_id, items in member_rows(version.data) if person_id is not None]
    if rows:
        db.session.execute(VerifiedPerson.__table__.insert(), rows)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None
