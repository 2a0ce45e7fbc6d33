"""Form definitions and code tables as data, with their loader and the field checks.
No Flask, nothing from `app` (tests/test_layout.py): the same package serves the web app,
the JSON API, command-line tools and, through `FormDefinition.as_json()`, the phone.

- definitions/household.yaml   the household registration form (全员人口信息登记表)
- code_tables/*.csv            national code tables and our own lists (README there)
- loader.py      load_form(), FormDefinition, Section, Field, FormDefinitionError
- code_lists.py  load_code_lists(), CodeList, CodeItem
- conditions.py  relevance conditions and derived predicates (married_woman_15_49)
- id_number.py   parse_id_number(): GB 11643 resident ID numbers
- schema.py      marshmallow schemas built from a definition; value conversion
- validate.py    validate_household(), normalise(), check()
- issues.py      Issue and the message helpers shared with the household logic rules
"""
from collection_forms.code_lists import CodeItem, CodeList, load_code_lists
from collection_forms.conditions import derived, evaluate
from collection_forms.errors import FormDefinitionError
from collection_forms.id_number import IdNumberError, IdNumberInfo, IdNumberWarning, parse_id_number
from collection_forms.issues import (
    HOUSEHOLD_WHO, Issue, field_message, has_errors, household_path, member_path, member_who,
)
from collection_forms.loader import Field, FormDefinition, Section, load_form, load_form_file
from collection_forms.schema import household_schema, section_schema
from collection_forms.validate import check, normalise, validate_household

__all__ = [
    "CodeItem", "CodeList", "load_code_lists",
    "derived", "evaluate",
    "FormDefinitionError",
    "IdNumberError", "IdNumberInfo", "IdNumberWarning", "parse_id_number",
    "HOUSEHOLD_WHO", "Issue", "field_message", "has_errors", "household_path", "member_path", "member_who",
    "Field", "FormDefinition", "Section", "load_form", "load_form_file",
    "household_schema", "section_schema",
    "check", "normalise", "validate_household",
]
