"""From raw input to typed household data, driven by the form definition.

- `convert(field, raw)`: one value, as typed on a phone or sent in JSON, to its stored form
  (see definitions/household.yaml: strings, ISO dates, ints), or ConversionError(rule).
- marshmallow schemas built from the definition: `section_schema(form, key)` types one
  household record or one member; `household_schema(form, today)` loads a whole
  {"household": ..., "members": [...]} and also drops irrelevant fields. Type errors come
  back per field with the rule id as the message ("field.date", "field.integer", ...).
- `settle_relevance`: which fields apply, in the order that makes the answer final.
Everything else a value must satisfy (required, code lists, ranges, ID numbers) is in validate.py.
"""
from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Mapping
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, pre_load

from collection_forms.conditions import ISO_DATE, derived, evaluate
from collection_forms.id_number import normalise_id_number
from collection_forms.loader import HOUSEHOLD, MEMBERS, Field, FormDefinition


_INTEGER = re.compile(r"[+-]?[0-9]+", re.ASCII)


class ConversionError(ValueError):
    def __init__(self, rule: str):
        super().__init__(rule)
        self.rule = rule


def is_empty(raw: Any) -> bool:
    """Empty input means absent: None, "" and whitespace are never stored."""
    return raw is None or (isinstance(raw, str) and not raw.strip())


def convert(field: Field, raw: Any) -> Any:
    """The stored form of a non-empty raw value, or ConversionError(rule)."""
    t = field.type
    if t == "date":
        if isinstance(raw, date) and not isinstance(raw, datetime):
            return raw.isoformat()
        if isinstance(raw, str) and ISO_DATE.fullmatch(raw.strip()):
            try:
                return date.fromisoformat(raw.strip()).isoformat()
            except ValueError:
                pass
        raise ConversionError("field.date")
    if t == "integer":
        if isinstance(raw, bool):
            raise ConversionError("field.integer")
        if isinstance(raw, int):
            return raw
        if isinstance(raw, float) and raw.is_integer():
            return int(raw)
        if isinstance(raw, str):
            text = unicodedata.normalize("NFKC", raw).strip()
            if _INTEGER.fullmatch(text):
                return int(text)
        raise ConversionError("field.integer")
    # text, code, phone, id_number, member_ref: strings (a number from JSON is taken as its digits)
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if not isinstance(raw, str):
        raise ConversionError("field.type")
    if t == "id_number":
        return normalise_id_number(raw)
    if t == "phone":
        return unicodedata.normalize("NFKC", raw).strip()
    return raw.strip()


def convert_person_id(raw: Any) -> str:
    try:
        return str(uuid.UUID(raw.strip()))
    except (AttributeError, ValueError):
        raise ConversionError("member.person_id") from None


def settle_relevance(values: dict[str, Any], form: FormDefinition, key: str, today: date) -> set[str]:
    """Drop the values of fields that are not relevant and fill defaults of empty relevant ones,
    in place. Returns the names of the fields that are not relevant. Fields are visited in the
    definition's relevance order, so each condition reads final values."""
    fields_ = form.fields_of(key)
    not_relevant: set[str] = set()
    computed: dict[str, Any] = {}

    def predicate(name: str) -> bool:
        # Computed once: in relevance order the inputs of a derived predicate are final
        # before the first field that reads it.
        if not computed:
            computed.update(derived(values, today))
        return bool(computed[name])

    for name in form.relevance_order[key]:
        f = fields_[name]
        if f.relevant is not None and not evaluate(f.relevant, values, predicate):
            values.pop(name, None)
            not_relevant.add(name)
        elif name not in values and f.default is not None:
            values[name] = f.default
    return not_relevant


# ---------------------------------------------------------------- marshmallow

class FormValue(fields.Field):
    """A marshmallow field for one form field: conversion by `convert`, errors as rule ids."""

    def __init__(self, form_field: Field, **kwargs: Any):
        super().__init__(**kwargs)
        self.form_field = form_field

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> Any:
        try:
            return convert(self.form_field, value)
        except ConversionError as e:
            raise ValidationError(e.rule) from None


class PersonId(fields.Field):
    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> str:
        try:
            return convert_person_id(value)
        except ConversionError as e:
            raise ValidationError(e.rule) from None


class _RecordSchema(Schema):
    """One household record or one member: unknown keys are errors, empty values are absent."""

    error_messages = {"unknown": "field.unknown", "type": "form.shape"}

    class Meta:
        unknown = RAISE

    @pre_load
    def _drop_empty(self, data: Any, **kwargs: Any) -> Any:
        if not isinstance(data, Mapping):
            return data  # marshmallow reports form.shape
        return {k: v for k, v in data.items() if not is_empty(v)}


@lru_cache(maxsize=None)
def _section_schema_class(form: FormDefinition, key: str) -> type[Schema]:
    declared: dict[str, fields.Field] = {f.name: FormValue(f) for f in form.fields_of(key).values()}
    if key == MEMBERS:
        declared["person_id"] = PersonId()
    return _RecordSchema.from_dict(declared, name=f"{form.name.title()}{key.title()}Schema")


@lru_cache(maxsize=None)
def section_schema(form: FormDefinition, key: str) -> Schema:
    """A schema for data["household"] (key "household") or one member (key "members").
    load() returns typed values; on ValidationError, .messages maps each bad field to
    [rule id] and .valid_data holds the rest. Shared instance: marshmallow schemas keep no
    state between loads."""
    if key not in (HOUSEHOLD, MEMBERS):
        raise KeyError(key)
    return _section_schema_class(form, key)()


def household_schema(form: FormDefinition, today: date) -> Schema:
    """A schema instance for a whole household: types every value, drops empty values and
    the fields that are not relevant on `today`. Errors are nested like the data:
    {"members": {2: {"birth_date": ["field.date"]}}}. The app's JSON API can use it as is;
    validate.check() calls `convert` directly, so that a bad value is reported and kept."""
    household_cls = _section_schema_class(form, HOUSEHOLD)
    member_cls = _section_schema_class(form, MEMBERS)

    class HouseholdSchema(Schema):
        error_messages = {"unknown": "field.unknown", "type": "form.shape"}
        household = fields.Nested(household_cls, load_default=dict, error_messages={"type": "form.shape"})
        members = fields.List(fields.Nested(member_cls, error_messages={"type": "form.shape"}),
                              load_default=list, error_messages={"invalid": "form.shape"})

        class Meta:
            unknown = RAISE

        @pre_load
        def _drop_empty(self, data: Any, **kwargs: Any) -> Any:
            if not isinstance(data, Mapping):
                return data
            return {k: v for k, v in data.items() if v is not None}

        @post_load
        def _relevance(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
            settle_relevance(data["household"], form, HOUSEHOLD, today)
            for member in data["members"]:
                settle_relevance(member, form, MEMBERS, today)
            return data

    return HouseholdSchema()

