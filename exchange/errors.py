"""What can go wrong reading a list: the whole file (UnreadableFile) or one value of a row
(RowProblem). Messages are {"zh": ..., "en": ...} dicts: this package has no Flask."""
from __future__ import annotations

from dataclasses import dataclass, field


def msg(zh: str, en: str) -> dict[str, str]:
    return {"zh": zh, "en": en}


class UnreadableFile(Exception):
    """The file as a whole cannot be read; nothing was read from it.
    `reason` is a stable key ("encoding", "empty", "no_header", "not_a_table", "gzip",
    "xls", "no_sheet", "io"), `message` {"zh", "en"} says what is wrong and what to do."""

    def __init__(self, reason: str, zh: str, en: str):
        super().__init__(f"{reason}: {en}")
        self.reason = reason
        self.message = msg(zh, en)


class MappingError(ValueError):
    """A bad column mapping (an unknown field or column, a malformed COL=FIELD option)."""

    def __init__(self, reason: str, zh: str, en: str):
        super().__init__(en)
        self.reason = reason
        self.message = msg(zh, en)


@dataclass(frozen=True)
class RowProblem:
    """One problem of one row, as a clerk can find it: the line in the file (as Excel or a
    text editor numbers it), the column as written in the header, the field it maps to, the
    value as written. `refused` when the row could not be used at all."""
    line: int
    column: str | None
    field: str | None
    value: str
    reason: str
    message: dict[str, str] = field(default_factory=dict)
    refused: bool = False
