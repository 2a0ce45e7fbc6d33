"""The rule library of the registry (质量核查, issue 17): pure Python, no Flask, nothing from
`app`, no database (tests/test_layout.py). The database side (stored findings, runs, the
scorecard, acceptance) and the pages build on these functions.

Rules as data
    rules(scope=None) -> list[Rule]      every rule: .id, .level ("error"/"warning"), .scope
                                         ("person", "household", "across_households",
                                         "married_woman"), .title / .why ({"zh", "en"}),
                                         .check (the Check producing it), .at_save,
                                         .checklist (the seed's 篇12 item), .relation (1-10)
    rule(id) -> Rule                     KeyError if unknown
    rule_rows(scope=None) -> list[dict]  rows with the keys RULE_COLUMNS (id, level, scope,
                                         title_zh, title_en, why_zh, why_en) for CSV/Excel

Within one household (data as stored: {"household": {...}, "members": [...]})
    save_checks(data, today) -> (clean, [Issue])   what every save runs: the form's field
                                         checks (collection_forms.check) + the household rules
                                         (quality.household); one code path for the app's save,
                                         pre-fill and a registry run
    check_household(data, today, at_save_only=False) -> (clean, [Issue])   all household-level
                                         rules: the save-time ones, the check list
                                         (quality.persons) and the married women's relations
    household_findings(household_key, data, today) -> Iterator[Finding]    the same, placed
    check_household_rules(data) -> [Issue]   the household logic rules alone (quality.household)

Married women aged 15-49 and the seed's 逻辑关系误差率 (quality.married_women)
    married_women(data, today) -> Iterator[(index, member)]    the denominator's women
    logic_relations(data, today) -> [WomanRelations]   per woman: .index, .person_id, .failed
                                         (Issues, at most one per relation), .failed_rules,
                                         .logic_errors
    LOGIC_RELATIONS                      the ten rule ids, in order (see that module's docstring
                                         for the ten and why)
    logic_error_rate(errors, women) -> float | None    errors ÷ (women × 10), 0-1

Main-item completeness (quality.completeness)
    main_item_completeness(data, today) -> Completeness(required, filled, missing, .rate)
                                         main items = fields with `main_item: true` in the form,
                                         counted where their conditions hold for the person

Across households (quality.across): person rows in (keys ROW_KEYS; person_rows(key, data)
makes them from form data), Findings out; each linear in the rows
    id_in_two_households(rows), dead_active_elsewhere(rows), spouse_not_mutual(rows),
    check_across(rows)

Spot checks (quality.sampling)
    sample_rate(population) -> Fraction  5 % / 10 % / 15 % by the village's persons
    sample_size(population, married_women) -> int      rounded up
    spot_check_sample(candidates, population=, seed=, key=) -> list   reproducible

Findings
    Issue (collection_forms) is what a rule within a household returns and what a save
    stores; Finding (quality.findings) is an Issue with its place (household, member index,
    field, person_id) for stored findings and the rules across households:
    Finding.from_issue(issue, household, members), finding.as_issue(), finding.as_dict().
"""
from quality.across import (
    ROW_KEYS, check_across, dead_active_elsewhere, id_in_two_households, person_rows, spouse_not_mutual,
)
from quality.completeness import Completeness, main_item_completeness
from quality.findings import Finding, Level, Scope
from quality.household import check_household_rules, legal_marriage_age
from quality.married_women import (
    LOGIC_RELATIONS, RELATIONS_PER_WOMAN, WomanRelations, check_married_women, logic_error_rate, logic_relations,
    married_women,
)
from quality.registry import RULE_COLUMNS, Check, Rule, rule, rule_rows, rules
from quality.run import check_household, household_findings, save_checks
from quality.sampling import sample_rate, sample_size, spot_check_sample

__all__ = [
    "ROW_KEYS", "check_across", "dead_active_elsewhere", "id_in_two_households", "person_rows", "spouse_not_mutual",
    "Completeness", "main_item_completeness",
    "Finding", "Level", "Scope",
    "check_household_rules", "legal_marriage_age",
    "LOGIC_RELATIONS", "RELATIONS_PER_WOMAN", "WomanRelations", "check_married_women", "logic_error_rate",
    "logic_relations", "married_women",
    "RULE_COLUMNS", "Check", "Rule", "rule", "rule_rows", "rules",
    "check_household", "household_findings", "save_checks",
    "sample_rate", "sample_size", "spot_check_sample",
]
