"""Field checks of a household against its form definition, and the cleaned data to store.

`check(data, form, today)` does both in one pass; `validate_household` and `normalise` are
its two halves. Rules (ids in Issue.rule):
    field.required  field.type  field.date  field.date_range  field.integer  field.range
    field.length  field.chars  field.code  field.phone  field.member_ref  field.unknown  form.shape
    member.person_id  members.count
    id.length  id.format  id.checksum  id.date  id.region (warning)
    id.birth_date_mismatch  id.sex_mismatch
The household logic rules (one head, ages, duplicate ID numbers) live in quality/ and use
the same Issue and message helpers.

Nothing typed is lost: a value that cannot be converted (a date "1990-13-01") is reported and
kept as the stripped text, so that a draft saved with errors still holds what the collector
typed. Only values of fields that are not relevant, empty values and unknown keys are dropped.
Consumers of stored data must therefore expect such text where a household has errors.

Some rules are not a draft's errors but refusals (REFUSING_RULES, issue 15): a value longer
than its field's limit, a value with control or invisible characters (characters.py), more
members than the form allows. Such a value is reported and not kept, and a household with
any of them is not to be stored at all (app.domain.registration refuses it).
"""
from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import date
from typing import Any

from collection_forms.characters import clean_text, code_points, refused_characters
from collection_forms.conditions import derived, evaluate
from collection_forms.id_number import EARLIEST_BIRTH, IdNumberError, IdNumberInfo, parse_id_number
from collection_forms.issues import (
    HOUSEHOLD_WHO, Issue, Text, field_message, household_path, member_path, member_who,
)
from collection_forms.loader import HOUSEHOLD, MEMBERS, Field, FormDefinition
from collection_forms.schema import ConversionError, convert, convert_person_id, is_empty, settle_relevance

__all__ = ["check", "derived", "normalise", "validate_household", "PHONE", "PROBLEMS", "REFUSING_RULES"]

# Rules that refuse the whole save instead of being stored with a draft (see the docstring).
REFUSING_RULES = frozenset({"field.length", "field.chars", "members.count"})
_REPORTED = "reported"  # a value refused in _convert: its issue is made there, with its details

# Mobile 1[3-9] + 9 digits; landline 0 + area code (2-3 more digits) + 7-8 digits. Spaces and
# hyphens anywhere are allowed when typed (138 1234 5678, 0559-1234567).
PHONE = re.compile(r"1[3-9][0-9]{9}|0[1-9][0-9]{1,2}[1-9][0-9]{6,7}", re.ASCII)
_PHONE_SEPARATORS = re.compile(r"[\s-]+")

PERSON_ID_LABEL: Text = {"zh": "人员编号", "en": "Person ID"}

# Problem fragments that follow a field's label (see issues.field_message).
PROBLEMS: dict[str, Text] = {
    "field.required": {"zh": "未填写", "en": "is required"},
    "field.type": {"zh": "格式不正确", "en": "has a value of the wrong kind"},
    "field.date": {"zh": "不是有效日期（格式：年-月-日，如 1990-01-31）",
                   "en": "is not a valid date (YYYY-MM-DD, e.g. 1990-01-31)"},
    "field.integer": {"zh": "应为整数", "en": "must be a whole number"},
    "field.code": {"zh": "不是可选的代码", "en": "is not one of the allowed choices"},
    "field.phone": {"zh": "不是有效的电话号码（11位手机号码，或带区号的固定电话）",
                    "en": "is not a valid phone number (an 11-digit mobile, or a landline with its area code)"},
    "field.member_ref": {"zh": "应为本户的另一位成员", "en": "must be another member of this household"},
    "member.person_id": {"zh": "不是有效的UUID", "en": "is not a valid UUID"},
}
SEX_ZH = {"1": "男性", "2": "女性"}
SEX_EN = {"1": "male", "2": "female"}


def validate_household(data: Any, form: FormDefinition, today: date) -> list[Issue]:
    """Every field issue of `data` ({"household": {...}, "members": [...]}) on `today`."""
    return check(data, form, today)[1]


def normalise(data: Any, form: FormDefinition, today: date) -> dict[str, Any]:
    """The data to store: values typed, empty, irrelevant and unknown keys dropped, ID numbers
    upper-cased, defaults filled, a person_id for every member (a new UUID where missing)."""
    return check(data, form, today)[0]


def check(data: Any, form: FormDefinition, today: date) -> tuple[dict[str, Any], list[Issue]]:
    issues: list[Issue] = []

    def shape(path: str, zh: str, en: str) -> None:
        issues.append(Issue("form.shape", "error", path, {"zh": zh, "en": en}))

    if not isinstance(data, Mapping):
        shape("", "数据应为包含 household 和 members 的对象", "the data must be an object with household and members")
        data = {}
    for key in data:
        if key not in (HOUSEHOLD, MEMBERS):
            issues.append(Issue("field.unknown", "error", str(key), field_message(
                HOUSEHOLD_WHO, None, {"zh": f"的数据含有未知项“{_key(key)}”，已忽略",
                                      "en": f"unknown item {_key(key)!r} ignored"})))
    household_raw = data.get(HOUSEHOLD)
    household_raw = {} if household_raw is None else household_raw
    if not isinstance(household_raw, Mapping):
        shape(HOUSEHOLD, "户信息应为对象", "household must be an object")
        household_raw = {}
    members_raw = data.get(MEMBERS)
    members_raw = [] if members_raw is None else members_raw
    if not isinstance(members_raw, list):
        shape(MEMBERS, "家庭成员应为列表", "members must be a list")
        members_raw = []

    # 1. Types, per record; then the size of the roster, which may depend on the household type.
    household, bad = _convert(household_raw, form, HOUSEHOLD, HOUSEHOLD_WHO, household_path, issues)
    limit = form.max_members(household)
    if len(members_raw) > limit:
        issues.append(too_many_members(form, len(members_raw), limit))
        members_raw = members_raw[:limit]  # refused anyway: no need to check the rest
    members: list[tuple[int, dict[str, Any], dict[str, str]]] = []
    for i, raw in enumerate(members_raw):
        if not isinstance(raw, Mapping):
            shape(member_path(i), f"第{i + 1}位成员的数据应为对象", f"member {i + 1} must be an object")
            continue
        values, member_bad = _convert(raw, form, MEMBERS, member_who(i, _shown(raw, form)),
                                      lambda name, i=i: member_path(i, name), issues)
        members.append((i, values, member_bad))

    # 2. Person ids: kept for life, unique in the household; the server makes missing ones.
    seen: dict[str, int] = {}
    for i, values, member_bad in members:
        pid = values.get("person_id")
        if pid is None:
            values["person_id"] = str(uuid.uuid4())
        elif "person_id" not in member_bad:
            if pid in seen:
                issues.append(Issue("member.person_id", "error", member_path(i, "person_id"), field_message(
                    member_who(i, values), PERSON_ID_LABEL,
                    {"zh": f"与第{seen[pid] + 1}位成员重复", "en": f"is the same as member {seen[pid] + 1}'s"})))
            else:
                seen[pid] = i
    person_ids = seen  # valid person_id -> index of the member carrying it (the first, if repeated)

    # 3. Relevance, then the rules of every relevant field.
    not_relevant = settle_relevance(household, form, HOUSEHOLD, today)
    _check_record(household, bad, not_relevant, form, HOUSEHOLD, HOUSEHOLD_WHO, household_path, today, issues)
    for i, values, member_bad in members:
        not_relevant = settle_relevance(values, form, MEMBERS, today)
        who = member_who(i, values)
        info = _check_record(values, member_bad, not_relevant, form, MEMBERS, who,
                             lambda name, i=i: member_path(i, name), today, issues,
                             others={pid for pid, j in person_ids.items() if j != i})
        _check_id_consistency(values, member_bad, info, form, who, member_path(i, "id_number"), issues)

    clean = {HOUSEHOLD: _in_form_order(household, form, HOUSEHOLD),
             MEMBERS: [_in_form_order(values, form, MEMBERS) for _, values, _ in members]}
    return clean, issues


def _convert(raw: Mapping[str, Any], form: FormDefinition, key: str, who: Text, path, issues: list[Issue],
             ) -> tuple[dict[str, Any], dict[str, str]]:
    """Typed values of one record and {field: rule} of the values that did not convert (kept
    as typed). Unknown keys are reported and dropped. The same `convert` as the marshmallow
    schemas (schema.py), called directly: a schema load costs several times more, on every save."""
    fields_ = form.fields_of(key)
    values: dict[str, Any] = {}
    bad: dict[str, str] = {}
    for name, value in raw.items():
        if is_empty(value):
            continue
        f = fields_.get(name)
        if f is not None and isinstance(value, str) and (problem := value_problem(f, value)):
            # Refused, so not kept: a 5 MB note or a hidden override character is never stored.
            rule, text = problem
            issues.append(Issue(rule, "error", path(name), field_message(who, f.label, text)))
            bad[name] = _REPORTED
            continue
        try:
            if f is not None:
                values[name] = convert(f, value)
            elif key == MEMBERS and name == "person_id":
                values[name] = convert_person_id(value)
            else:
                issues.append(Issue("field.unknown", "error", path(name), field_message(
                    who, None, {"zh": f"的数据含有未知项“{_key(name)}”，已忽略",
                                "en": f"unknown item {_key(name)!r} ignored"})))
        except ConversionError as e:
            if isinstance(value, str):
                values[name] = value.strip()  # keep what was typed
            bad[name] = e.rule
    return values, bad


def _check_record(values: dict[str, Any], bad: dict[str, str], not_relevant: set[str], form: FormDefinition,
                  key: str, who: Text, path, today: date, issues: list[Issue],
                  others: set[str] | None = None) -> IdNumberInfo | None:
    """The rules of each relevant field of one record. Returns the parsed own ID number of a
    member (field `id_number`) when it is valid, for the consistency check."""
    own_id: IdNumberInfo | None = None

    def add(rule: str, f: Field, problem: Text, level: str = "error") -> None:
        issues.append(Issue(rule, level, path(f.name), field_message(who, f.label, problem)))  # type: ignore[arg-type]

    if "person_id" in bad:
        issues.append(Issue("member.person_id", "error", path("person_id"),
                            field_message(who, PERSON_ID_LABEL, PROBLEMS["member.person_id"])))
    for f in form.fields_of(key).values():
        if f.name in not_relevant:
            continue
        value = values.get(f.name)
        if f.name in bad:
            if bad[f.name] != _REPORTED:
                add(bad[f.name], f, PROBLEMS.get(bad[f.name], PROBLEMS["field.type"]))
            continue
        if value is None:
            if f.required is True or (isinstance(f.required, Mapping) and evaluate(
                    f.required, values, lambda name: bool(derived(values, today)[name]))):
                add("field.required", f, PROBLEMS["field.required"])
            continue
        if f.type == "code":
            if value not in f.allowed:
                add("field.code", f, {"zh": f"{PROBLEMS['field.code']['zh']}（{value}）",
                                      "en": f"{PROBLEMS['field.code']['en']} ({value})"})
        elif f.type == "date":
            day = date.fromisoformat(value)
            if day > today:
                add("field.date_range", f, {"zh": f"晚于今天（{value}）", "en": f"is in the future ({value})"})
            elif day < EARLIEST_BIRTH:
                add("field.date_range", f, {"zh": f"早于1900年（{value}）", "en": f"is before 1900 ({value})"})
        elif f.type == "integer":
            if (f.min is not None and value < f.min) or (f.max is not None and value > f.max):
                low, high = f.min if f.min is not None else "", f.max if f.max is not None else ""
                add("field.range", f, {"zh": f"应在{low}到{high}之间（现为{value}）",
                                       "en": f"must be between {low} and {high} ({value})"})
        elif f.type == "phone":
            if not PHONE.fullmatch(_PHONE_SEPARATORS.sub("", value)):
                add("field.phone", f, PROBLEMS["field.phone"])
        elif f.type == "id_number":
            try:
                info = parse_id_number(value, today)
            except IdNumberError as e:
                add(e.code, f, {"zh": e.message_zh, "en": e.message_en})
                continue
            if info.region_warning:
                w = info.region_warning
                add(w.code, f, {"zh": w.message_zh, "en": w.message_en}, level="warning")
            if f.name == "id_number":
                own_id = info
        elif f.type == "member_ref":
            if value not in (others or set()):
                add("field.member_ref", f, PROBLEMS["field.member_ref"])
    return own_id


def too_many_members(form: FormDefinition, n: int, limit: int) -> Issue:
    return Issue("members.count", "error", MEMBERS, field_message(
        HOUSEHOLD_WHO, form.members_section.label,
        {"zh": f"有{n}位，超过了上限{limit}位", "en": f"has {n} entries, more than the limit of {limit}"}))


def value_problem(f: Field, raw: str) -> tuple[str, Text] | None:
    """(rule, problem) when a typed value is refused outright: longer than the field's limit
    (counted stripped, in characters as Python counts them), or holding a refused character.
    The length comes first: a value too long is not read any further."""
    text = raw.strip()
    if len(text) > f.limit:
        return "field.length", {"zh": f"超过{f.limit}个字（现为{len(text)}个字）",
                                "en": f"is longer than {f.limit} characters ({len(text)})"}
    chars = refused_characters(text, multiline=f.multiline)
    if chars:
        return "field.chars", {"zh": f"含有不允许的控制字符或不可见字符（{code_points(chars)}），请删除后重新填写",
                               "en": f"contains control or invisible characters that are not allowed "
                                     f"({code_points(chars)}); delete them and type it again"}
    return None


def _key(key: Any) -> str:
    """An unknown key as a message may repeat it: short, and without refused characters."""
    return clean_text(str(key))[0][:40]


def _shown(raw: Mapping[str, Any], form: FormDefinition) -> Mapping[str, Any]:
    """A member as messages may name it: without a name that is itself refused (a message
    must not carry a right-to-left override, nor repeat 5 MB)."""
    name = raw.get("name")
    f = form.fields_of(MEMBERS).get("name")
    if isinstance(name, str) and f is not None and value_problem(f, name):
        return {}
    return raw


def _check_id_consistency(values: Mapping[str, Any], bad: Mapping[str, str], info: IdNumberInfo | None,
                          form: FormDefinition, who: Text, path: str, issues: list[Issue]) -> None:
    """A member's own ID number agrees with the birth date and sex typed for them (GB 11643:
    digits 7-14 are the birth date, an odd 17th digit is a man)."""
    if info is None or "id_number" not in form.fields_of(MEMBERS):
        return
    label = form.fields_of(MEMBERS)["id_number"].label
    birth = values.get("birth_date")
    if birth is not None and "birth_date" not in bad and birth != info.birth_date.isoformat():
        number_birth = info.birth_date.isoformat()
        issues.append(Issue("id.birth_date_mismatch", "error", path, field_message(who, label, {
            "zh": f"与出生日期不一致（号码中为{number_birth}，出生日期填写为{birth}）",
            "en": f"does not match the date of birth (the number says {number_birth}, the form says {birth})"})))
    sex = values.get("sex")
    if sex in SEX_ZH and "sex" not in bad and sex != info.sex:
        issues.append(Issue("id.sex_mismatch", "error", path, field_message(who, label, {
            "zh": f"与性别不一致（号码中为{SEX_ZH[info.sex]}，性别填写为{SEX_ZH[sex]}）",
            "en": f"does not match the sex (the number says {SEX_EN[info.sex]}, the form says {SEX_EN[sex]})"})))


def _in_form_order(values: Mapping[str, Any], form: FormDefinition, key: str) -> dict[str, Any]:
    """Stored records list their fields in form order (person_id first): stable JSON and hashes."""
    names = (["person_id"] if key == MEMBERS else []) + list(form.fields_of(key))
    return {name: values[name] for name in names if name in values}
