"""Completeness of the main items (主要数据项完整率 = main items filled ÷ main items required).

The main items are the fields marked `main_item: true` in the form definition
(collection_forms/definitions/household.yaml; FormDefinition.main_items()). An item is
required of a person only where it applies to them: its `relevant` condition holds for that
member (the married-woman items only for married women aged 15-49, the migration items only
for migrants, the cancellation items only for cancelled persons), evaluated as the form does
(collection_forms.conditions.evaluate with the derived predicates on `today`). Every member of
the roster counts, cancelled ones too: their cancellation reason and date are main items.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from collection_forms import FormDefinition, load_form
from collection_forms.conditions import derived, evaluate
from collection_forms.loader import HOUSEHOLD, MEMBERS, Field


@dataclass(frozen=True)
class Completeness:
    required: int
    filled: int
    # (member index or None for the household record, field name) of each required item not filled
    missing: tuple[tuple[int | None, str], ...]

    @property
    def rate(self) -> float | None:
        return self.filled / self.required if self.required else None

    def __add__(self, other: Completeness) -> Completeness:
        return Completeness(self.required + other.required, self.filled + other.filled,
                            self.missing + other.missing)


def _applies(f: Field, values: Mapping[str, Any], today: date) -> bool:
    if f.relevant is None:
        return True
    computed: dict[str, Any] = {}

    def predicate(name: str) -> bool:
        if not computed:
            computed.update(derived(values, today))
        return bool(computed[name])

    return evaluate(f.relevant, values, predicate)


def _filled(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def main_item_completeness(household_data: Mapping[str, Any], today: date,
                           form: FormDefinition | None = None) -> Completeness:
    """Main items required and filled in one household (its household record and every member)."""
    form = form or load_form()
    main = form.main_items()
    household = household_data.get("household") or {}
    required = filled = 0
    missing: list[tuple[int | None, str]] = []
    records: list[tuple[int | None, Mapping[str, Any]]] = [(None, household)] if isinstance(household, Mapping) else []
    records += [(i, m) for i, m in enumerate(household_data.get("members") or []) if isinstance(m, Mapping)]
    for index, values in records:
        key = HOUSEHOLD if index is None else MEMBERS
        for data_key, f in main:
            if data_key != key or not _applies(f, values, today):
                continue
            required += 1
            if _filled(values.get(f.name)):
                filled += 1
            else:
                missing.append((index, f.name))
    return Completeness(required, filled, tuple(missing))
