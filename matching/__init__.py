"""Record matching (DESIGN.md §3): duplicate persons in the registry (issue 17) and, later,
the comparison with department lists (issue 18). Pure Python: no Flask, no database, nothing
from `app`; the registry jobs in app/domain read persons into PersonRecords and store what
comes back.

- records.py     PersonRecord (what is compared), person_record() from raw values
- names.py       normalise_name(), name_keys() (pinyin), given_name(): as the person register
- id_numbers.py  GB 11643 numbers: check character, one-step variants, 15 -> 18 upgrade
- duplicates.py  find_duplicates() -> DuplicateReport of Candidates (score, reasons zh/en),
                 exclude_decided() and pair_key() for remembered "not the same" decisions
"""
from matching.duplicates import (
    DEFAULT_BLOCK_CAP, DEFAULT_MIN_SCORE, HOMOPHONE_NAME_BIRTH, ID_ONE_STEP, ID_UPGRADE_15, RULES, SAME_ID,
    RULE_TITLES, SAME_NAME_BIRTH, SAME_NAME_HOUSEHOLD, Candidate, CappedBlock, DuplicateReport, Reason,
    exclude_decided, find_duplicates, pair_key, rule_title,
)
from matching.id_numbers import OneStep, check_ok, normalise_id, one_step, upgrade_15
from matching.names import name_keys, normalise_name
from matching.records import ACTIVE, CANCELLED, PersonRecord, person_record

__all__ = [
    "DEFAULT_BLOCK_CAP", "DEFAULT_MIN_SCORE", "RULES",
    "SAME_ID", "ID_ONE_STEP", "ID_UPGRADE_15", "SAME_NAME_BIRTH", "HOMOPHONE_NAME_BIRTH", "SAME_NAME_HOUSEHOLD",
    "Candidate", "CappedBlock", "DuplicateReport", "Reason", "exclude_decided", "find_duplicates", "pair_key",
    "RULE_TITLES", "rule_title",
    "OneStep", "check_ok", "normalise_id", "one_step", "upgrade_15",
    "name_keys", "normalise_name",
    "ACTIVE", "CANCELLED", "PersonRecord", "person_record",
]
