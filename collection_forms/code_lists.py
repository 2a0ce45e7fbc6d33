"""Code lists (代码表) read from code_tables/*.csv: national standards plus a few lists of our own."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from collection_forms.errors import FormDefinitionError

CODE_TABLES = Path(__file__).resolve().parent / "code_tables"


@dataclass(frozen=True)
class CodeItem:
    code: str
    zh: str
    en: str
    parent: str | None = None

    def label(self, locale: str) -> str:
        return self.zh if locale.lower().startswith("zh") else self.en


@dataclass(frozen=True)
class CodeList:
    name: str
    codes: dict[str, CodeItem]  # in file order

    def __contains__(self, code: object) -> bool:
        return code in self.codes

    def label(self, code: str, locale: str) -> str:
        """The name of `code` in `locale` ("zh", "zh_CN" → Chinese, anything else English).
        An unknown code (legacy data) is shown as itself rather than hidden."""
        item = self.codes.get(code)
        return item.label(locale) if item else code


def read_code_list(path: Path) -> CodeList:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        missing = {"code", "name_zh", "name_en"} - set(reader.fieldnames or ())
        if missing:
            raise FormDefinitionError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        codes: dict[str, CodeItem] = {}
        for line, row in enumerate(reader, start=2):
            code = (row["code"] or "").strip()
            zh, en = (row["name_zh"] or "").strip(), (row["name_en"] or "").strip()
            if not code or not zh or not en:
                raise FormDefinitionError(f"{path}: line {line}: code, name_zh and name_en are all required")
            if code in codes:
                raise FormDefinitionError(f"{path}: line {line}: duplicate code {code!r}")
            codes[code] = CodeItem(code, zh, en, (row.get("parent_code") or "").strip() or None)
    for item in codes.values():
        if item.parent is not None and item.parent not in codes:
            raise FormDefinitionError(f"{path}: code {item.code!r} has unknown parent_code {item.parent!r}")
    return CodeList(path.stem, codes)


@lru_cache(maxsize=None)
def _load(folder: Path) -> dict[str, CodeList]:
    return {p.stem: read_code_list(p) for p in sorted(folder.glob("*.csv"))}


def load_code_lists(folder: Path = CODE_TABLES) -> dict[str, CodeList]:
    """All code lists by name, read once per process. The lists are shared: do not modify them."""
    return dict(_load(Path(folder)))
