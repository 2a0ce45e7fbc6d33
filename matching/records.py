"""The person record the matcher reads: plain values, whatever they came from (the person
register's rows, an imported list's records, a test's generator)."""
from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

from matching.id_numbers import normalise_id
from matching.names import name_keys, normalise_name

ACTIVE = "active"
CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class PersonRecord:
    """One person as registered. `key` and `household_key` are opaque to the matcher (a
    person id, a list record id; a household id, a card key): it only compares them.

    name_norm is matching.names.normalise_name(name) and pinyin its full toneless pinyin
    (name_keys(name)[0]); the register stores both, `person_record()` computes them.
    sex is GB/T 2261.1 ("1", "2", or "" unknown), birth_date ISO text ("" unknown),
    id_number normalised (ASCII, upper-case X; 18 or 15 characters, or ""), status
    "active" or "cancelled" (注销: dead, moved out, duplicate...), unit the village code or
    unit path ("" unknown)."""
    key: Hashable
    household_key: Hashable
    name: str
    name_norm: str
    pinyin: str
    sex: str
    birth_date: str
    id_number: str
    status: str = ACTIVE
    unit: str = ""


def person_record(key: Hashable, household_key: Hashable, name: str, *, sex: str = "", birth_date: str = "",
                  id_number: str = "", status: str = ACTIVE, unit: str = "") -> PersonRecord:
    """A record from raw values as typed: the name normalised and read in pinyin, the ID
    number normalised. For lists that do not carry name_norm and pinyin (department lists,
    tests); the register passes its stored columns to PersonRecord directly."""
    name = (name or "").strip()
    return PersonRecord(key=key, household_key=household_key, name=name, name_norm=normalise_name(name),
                        pinyin=name_keys(name)[0], sex=(sex or "").strip(), birth_date=(birth_date or "").strip(),
                        id_number=normalise_id(id_number), status=status, unit=(unit or "").strip())
