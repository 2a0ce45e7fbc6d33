"""Conditions (`relevant`, conditional `required`) and the derived predicates they may name.

A condition is plain JSON-able data so that the browser can evaluate the same thing
(issue 6 ports `evaluate` to JavaScript; keep the two in step):

    {field: NAME, equals: V}      the field's value is V
    {field: NAME, in: [V, ...]}   the field's value is one of these
    {field: NAME, not_in: [...]}  the field is FILLED and its value is none of these
    {field: NAME, filled: true}   the field has a value (false: it has none)
    {derived: NAME}               a derived predicate holds (see DERIVED)
    {all: [c, ...]}  {any: [c, ...]}  {not: c}

An empty field equals nothing and is in no list; `not_in` is also false for it, so that a
follow-up question stays hidden until the question it follows has been answered.
A field that is not relevant counts as empty.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

Condition = Mapping[str, Any]

# married_woman_15_49 (已婚育龄妇女): sex 2 (female), marital status 20 or a sub-code of it
# (21 初婚, 22 再婚, 23 复婚), aged 15 to 49 completed years on the reference date.
MARRIED = frozenset({"20", "21", "22", "23"})
# The member fields each derived predicate reads: relevance is computed after them.
DERIVED: dict[str, tuple[str, ...]] = {
    "married_woman_15_49": ("sex", "marital_status", "birth_date"),
}

ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)  # fromisoformat alone also takes 20200101, 2020-W01-1
OPERATORS = ("equals", "in", "not_in", "filled")
COMBINATORS = ("all", "any", "not")


def age_on(birth: date, today: date) -> int:
    """Completed years on `today` (someone born on 29 February turns a year older on 1 March)."""
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def as_date(value: object) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value) if ISO_DATE.fullmatch(value) else None
        except ValueError:
            return None
    return None


def derived(member: Mapping[str, Any], today: date) -> dict[str, Any]:
    """What is computed from a member, never typed in: `age` (None without a valid birth
    date) and the predicates of DERIVED."""
    birth = as_date(member.get("birth_date"))
    age = age_on(birth, today) if birth else None
    married_woman = (
        member.get("sex") == "2" and member.get("marital_status") in MARRIED
        and age is not None and 15 <= age <= 49
    )
    return {"age": age, "married_woman_15_49": married_woman}


def evaluate(cond: Condition, values: Mapping[str, Any], predicate: Callable[[str], bool]) -> bool:
    """Evaluate `cond` against one section's `values`; `predicate(name)` answers {derived: name}."""
    if "all" in cond:
        return all(evaluate(c, values, predicate) for c in cond["all"])
    if "any" in cond:
        return any(evaluate(c, values, predicate) for c in cond["any"])
    if "not" in cond:
        return not evaluate(cond["not"], values, predicate)
    if "derived" in cond:
        return predicate(cond["derived"])
    value = values.get(cond["field"])
    if "filled" in cond:
        return (value is not None) == bool(cond["filled"])
    if value is None:
        return False
    if "equals" in cond:
        return value == cond["equals"]
    if "in" in cond:
        return value in cond["in"]
    return value not in cond["not_in"]


def shape_problem(cond: object) -> str | None:
    """Why `cond` is not a well-formed condition, or None."""
    if not isinstance(cond, Mapping):
        return f"a condition must be a mapping, not {cond!r}"
    keys = set(cond)
    for key in COMBINATORS:
        if key in keys:
            if keys != {key}:
                return f"'{key}' must stand alone in its condition, found {sorted(keys)}"
            inner = cond[key]
            if key == "not":
                return shape_problem(inner)
            if not isinstance(inner, list) or not inner:
                return f"'{key}' needs a non-empty list of conditions"
            for c in inner:
                if problem := shape_problem(c):
                    return problem
            return None
    if "derived" in keys:
        return None if keys == {"derived"} and isinstance(cond["derived"], str) else \
            f"'derived' takes one predicate name and nothing else: {dict(cond)}"
    ops = keys & set(OPERATORS)
    if "field" not in keys or len(ops) != 1 or keys - {"field"} - ops:
        return f"a field condition is {{field: NAME, <one of {', '.join(OPERATORS)}>: ...}}, got {dict(cond)}"
    op = ops.pop()
    if op in ("in", "not_in") and not isinstance(cond[op], list):
        return f"'{op}' needs a list of values"
    if op == "filled" and not isinstance(cond[op], bool):
        return "'filled' takes true or false"
    return None


def walk(cond: Condition):
    """Every leaf of a well-formed condition."""
    for key in ("all", "any"):
        if key in cond:
            for c in cond[key]:
                yield from walk(c)
            return
    if "not" in cond:
        yield from walk(cond["not"])
        return
    yield cond
