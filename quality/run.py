"""Running the rules within one household: the same function at a save and in a registry run.

`save_checks` is what every save calls (app.domain.registration, app.domain.prefill): the
field checks of the form, then the household rules on the cleaned data; exactly the rules
that ran at save before issue 17. `check_household` runs every household-level rule (the
save-time ones plus the check list and the married women's relations) for a registry run,
on stored data or on a form as submitted.
"""
from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping
from datetime import date
from typing import Any

from collection_forms import FormDefinition, Issue, check, load_form
from quality.findings import Finding
from quality.registry import household_checks, run_household_check


def check_household(data: Any, today: date, *, at_save_only: bool = False,
                    form: FormDefinition | None = None) -> tuple[dict[str, Any], list[Issue]]:
    """(clean data, issues): the field checks on `data`, then each household-level check on
    the cleaned data; with at_save_only, only the rules that run at every save."""
    clean, issues = check(data, form or load_form(), today)
    for c in household_checks(at_save_only):
        issues += run_household_check(c, clean, today)
    return clean, issues


def save_checks(data: Any, today: date, form: FormDefinition | None = None) -> tuple[dict[str, Any], list[Issue]]:
    """The checks of a save: field checks and household rules (see the module docstring)."""
    return check_household(data, today, at_save_only=True, form=form)


def household_findings(household: Hashable, data: Mapping[str, Any], today: date, *,
                       form: FormDefinition | None = None) -> Iterator[Finding]:
    """Every finding of one household for a registry run, with its place (household, member
    index, field, person_id)."""
    clean, issues = check_household(data, today, form=form)
    members = clean.get("members") or []
    key = str(household) if household is not None else None
    for issue in issues:
        yield Finding.from_issue(issue, key, members)
