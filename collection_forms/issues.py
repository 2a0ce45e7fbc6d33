"""Issues: what a check found, as data (rule id, level, where, a message in Chinese and English).

Field checks (validate.py) and the household logic rules (quality/) both speak in Issues,
so that the same list is shown next to the fields, stored with a draft and counted in reports.
Messages name who (the household, or member n with the name) and the field's label:
    第3位成员（张三）的身份证号码校验位错误
    Member 3 (张三): ID number has a wrong check digit; check the number
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Level = Literal["error", "warning"]
Text = dict[str, str]  # {"zh": ..., "en": ...}

HOUSEHOLD_WHO: Text = {"zh": "本户", "en": "Household"}


@dataclass(frozen=True)
class Issue:
    rule: str  # e.g. "field.required", "id.checksum"; stable, used in tests and statistics
    level: Level  # an error blocks "complete"; a warning is shown and saved
    path: str  # "household.phone", "members[2].id_number" (index in the submitted list), "members"
    message: Text

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "level": self.level, "path": self.path, "message": dict(self.message)}


def member_who(index: int, member: Mapping[str, Any] | None = None) -> Text:
    """Member at list position `index` (0-based) as people count them: 第3位成员（张三） / Member 3 (张三)."""
    n = index + 1
    name = member.get("name") if isinstance(member, Mapping) else None
    if isinstance(name, str) and name.strip():
        return {"zh": f"第{n}位成员（{name.strip()}）", "en": f"Member {n} ({name.strip()})"}
    return {"zh": f"第{n}位成员", "en": f"Member {n}"}


def field_message(who: Text, label: Text | None, problem: Text) -> Text:
    """who + label + problem: "第1位成员（张三）的姓名未填写" / "Member 1 (张三): Name is required".
    `problem` is a fragment that follows the label (zh with no subject, en starting with a verb)."""
    if label is None:
        return {"zh": f"{who['zh']}{problem['zh']}", "en": f"{who['en']}: {problem['en']}"}
    return {"zh": f"{who['zh']}的{label['zh']}{problem['zh']}", "en": f"{who['en']}: {label['en']} {problem['en']}"}


def member_path(index: int, field: str | None = None) -> str:
    return f"members[{index}]" + (f".{field}" if field else "")


def household_path(field: str) -> str:
    return f"household.{field}"


def has_errors(issues: Iterable[Issue]) -> bool:
    return any(i.level == "error" for i in issues)
