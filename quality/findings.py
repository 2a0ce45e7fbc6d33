"""Finding: what a rule found, with where it was found in the registry.

Within one household the rules speak `collection_forms.Issue` (rule, level, path, message):
the save path stores exactly those with a draft, so Issue stays the household-level type and
every household rule of this package returns Issues. A registry-wide run and the rules across
households need more: which household (its id or key) and which person. `Finding` is that
Issue plus its place, made by `Finding.from_issue` (which reads the member index and the
field out of the path) or directly by the rules across households. `as_issue()` goes back.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from collection_forms import Issue

Level = Literal["error", "warning"]
Scope = Literal["person", "household", "across_households", "married_woman"]
Text = dict[str, str]  # {"zh": ..., "en": ...}

_MEMBER_PATH = re.compile(r"members\[(\d+)\](?:\.(\w+))?")


@dataclass(frozen=True)
class Finding:
    rule: str            # a rule id of quality.rules(), e.g. "mw.children_count"
    level: Level
    household: str | None  # the household's id or key as the caller gave it (None: not known)
    member: int | None   # index of the member in the household's members list (None: the household)
    field: str | None    # the field name ("id_number"), or None for the record as a whole
    message: Text        # {"zh": ..., "en": ...}, naming the person and the field
    person_id: str | None = None  # the member's person_id when known: stable across versions

    @property
    def path(self) -> str:
        """The path an Issue would carry: members[2].id_number, household.phone, members."""
        if self.member is not None:
            return f"members[{self.member}]" + (f".{self.field}" if self.field else "")
        if self.field:
            return self.field if self.field == "members" else f"household.{self.field}"
        return ""

    @classmethod
    def from_issue(cls, issue: Issue, household: str | None = None,
                   members: Sequence[Mapping[str, Any]] | None = None) -> Finding:
        """An Issue of one household as a Finding; `members` (the household's list) gives the
        person_id of the member the path names."""
        member: int | None = None
        field: str | None = None
        if m := _MEMBER_PATH.fullmatch(issue.path):
            member, field = int(m.group(1)), m.group(2)
        elif issue.path.startswith("household."):
            field = issue.path[len("household."):]
        elif issue.path:
            field = issue.path
        person_id = None
        if member is not None and members is not None and member < len(members):
            pid = members[member].get("person_id") if isinstance(members[member], Mapping) else None
            person_id = str(pid) if pid is not None else None
        return cls(issue.rule, issue.level, household, member, field, dict(issue.message), person_id)

    def as_issue(self) -> Issue:
        return Issue(self.rule, self.level, self.path, dict(self.message))

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "level": self.level, "household": self.household, "member": self.member,
                "field": self.field, "path": self.path, "message": dict(self.message),
                "person_id": self.person_id}
