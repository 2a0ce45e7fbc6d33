"""Which column holds which field: proposed from the header, corrected by the user.

Headers are compared after NFKC (full-width brackets and letters to ASCII), without spaces,
required marks (*), a trailing colon, and case; when that is not a known name, again without
a parenthesised note ("出生日期（yyyy-mm-dd）", "姓名(必填)"). "村（居）委会" is a name of its own.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from exchange.errors import MappingError

FIELDS: tuple[str, ...] = (
    "record_id", "name", "sex", "birth_date", "id_number", "village", "card_no", "household_no",
    "relation", "address", "death_date", "mother_name", "mother_id_number", "hospital",
    "ethnicity", "phone",
)
SOURCES: tuple[str, ...] = ("police", "births", "deaths", "register", "other")

LABELS: dict[str, dict[str, str]] = {
    "record_id": {"zh": "编号", "en": "record id"},
    "name": {"zh": "姓名", "en": "name"},
    "sex": {"zh": "性别", "en": "sex"},
    "birth_date": {"zh": "出生日期", "en": "date of birth"},
    "id_number": {"zh": "公民身份号码", "en": "ID number"},
    "village": {"zh": "村（居）委会", "en": "village"},
    "card_no": {"zh": "户卡编号", "en": "card number"},
    "household_no": {"zh": "户号", "en": "household number"},
    "relation": {"zh": "与户主关系", "en": "relationship to the head"},
    "address": {"zh": "住址", "en": "address"},
    "death_date": {"zh": "死亡日期", "en": "date of death"},
    "mother_name": {"zh": "母亲姓名", "en": "mother's name"},
    "mother_id_number": {"zh": "母亲身份证号码", "en": "mother's ID number"},
    "hospital": {"zh": "出生医院", "en": "hospital"},
    "ethnicity": {"zh": "民族", "en": "ethnicity"},
    "phone": {"zh": "联系电话", "en": "phone"},
}

# Names as clerks write them; the English ones are those of ../shared/linkage's files.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "record_id": ("record_id", "recordid", "编号", "记录号", "记录编号"),
    "name": ("name", "姓名", "名字", "人员姓名"),
    "sex": ("sex", "gender", "性别"),
    "birth_date": ("birth_date", "birthdate", "date_of_birth", "dob", "出生日期", "出生年月",
                   "出生年月日", "生日"),
    "id_number": ("id_number", "idnumber", "id_no", "公民身份号码", "身份证号", "身份证号码",
                  "证件号码", "身份证", "身份号码", "公民身份证号码", "公民身份证号"),
    "village": ("village", "village_code", "villagecode", "村", "社区", "村(居)委会", "村(居)",
                "村居委会", "村委会", "居委会", "村代码", "村(社区)", "村名", "行政村", "所在村",
                "村/社区", "村社区", "村(居)委会代码"),
    "card_no": ("card_no", "cardno", "户卡编号", "卡号", "户卡号"),
    "household_no": ("household_no", "householdno", "户号", "户编号"),
    "relation": ("relation", "relationship", "与户主关系", "与户主的关系", "关系"),
    "address": ("address", "住址", "地址", "现住址", "家庭住址", "户籍地址", "居住地址", "详细地址"),
    "death_date": ("death_date", "deathdate", "date_of_death", "死亡日期", "死亡时间"),
    "mother_name": ("mother_name", "mothername", "母亲姓名"),
    "mother_id_number": ("mother_id_number", "motheridnumber", "母亲身份证号", "母亲身份证号码",
                         "母亲公民身份号码", "母亲证件号码"),
    "hospital": ("hospital", "医院", "出生医院", "助产机构", "接生机构", "出生地点"),
    "ethnicity": ("ethnicity", "nation", "民族"),
    "phone": ("phone", "telephone", "mobile", "联系电话", "电话", "手机", "手机号", "手机号码",
              "联系方式"),
}

# What each source's blank template holds, in order (the required ones first).
SOURCE_FIELDS: dict[str, tuple[str, ...]] = {
    "police": ("name", "household_no", "relation", "sex", "birth_date", "id_number", "ethnicity",
               "village", "address", "record_id"),
    "births": ("name", "birth_date", "sex", "id_number", "mother_name", "mother_id_number",
               "hospital", "village", "address", "record_id"),
    "deaths": ("name", "death_date", "sex", "birth_date", "id_number", "village", "address",
               "record_id"),
    "register": ("name", "village", "card_no", "relation", "sex", "birth_date", "id_number",
                 "ethnicity", "address", "phone"),
    "other": ("name", "sex", "birth_date", "id_number", "village", "address", "phone", "record_id"),
}

_NOTE = re.compile(r"\([^()]*\)$")


def header_key(column: str) -> str:
    text = unicodedata.normalize("NFKC", str(column))
    text = re.sub(r"[\s*＊:：]+", "", text).lower()
    return text.replace("（", "(").replace("）", ")")


_BY_KEY: dict[str, str] = {header_key(s): f for f, names in SYNONYMS.items() for s in names}


def known_field(column: str) -> str | None:
    """The field a header names, or None."""
    key = header_key(column)
    if not key:
        return None
    found = _BY_KEY.get(key)
    if found is None and key.endswith(")"):
        found = _BY_KEY.get(_NOTE.sub("", key))
    return found


def required_fields(source: str) -> tuple[str, ...]:
    check_source(source)
    return {"deaths": ("name", "death_date"), "births": ("name", "birth_date")}.get(source, ("name",))


def check_source(source: str) -> None:
    if source not in SOURCES:
        raise MappingError("source.unknown", f"未知的名单来源：{source}（可选：{'、'.join(SOURCES)}）",
                           f"unknown source {source!r} (one of {', '.join(SOURCES)})")


@dataclass(frozen=True)
class Proposal:
    source: str
    columns: tuple[str, ...]
    fields: dict[str, str] = field(default_factory=dict)            # field -> column
    ambiguous: dict[str, list[str]] = field(default_factory=dict)   # field -> columns
    missing: list[str] = field(default_factory=list)                # required, not found
    extras: list[str] = field(default_factory=list)                 # columns kept as extras

    @property
    def complete(self) -> bool:
        return not self.missing and not self.ambiguous

    def with_overrides(self, overrides: dict[str, str]) -> Proposal:
        """{column: field} puts the column on that field (and takes the field from any other
        column); {column: ""} leaves the column unmapped (kept as an extra)."""
        fields = dict(self.fields)
        ambiguous = {f: list(cols) for f, cols in self.ambiguous.items()}
        for column, target in overrides.items():
            if column not in self.columns:
                raise MappingError("column.unknown", f"文件中没有“{column}”这一列",
                                   f"the file has no column {column!r}")
            if target and target not in FIELDS:
                raise MappingError("field.unknown", f"未知的项目：{target}（可选：{'、'.join(FIELDS)}）",
                                   f"unknown field {target!r} (one of {', '.join(FIELDS)})")
            fields = {f: c for f, c in fields.items() if c != column}
            for cols in ambiguous.values():
                if column in cols:
                    cols.remove(column)
            if target:
                fields[target] = column
                ambiguous.pop(target, None)
        return _finish(self.source, self.columns, fields,
                       {f: cols for f, cols in ambiguous.items() if len(cols) > 1 and f not in fields})


def _finish(source: str, columns: tuple[str, ...], fields: dict[str, str],
            ambiguous: dict[str, list[str]]) -> Proposal:
    placed = set(fields.values())
    order = {f: i for i, f in enumerate(FIELDS)}
    fields = dict(sorted(fields.items(), key=lambda item: order[item[0]]))
    missing = [f for f in required_fields(source) if f not in fields and f not in ambiguous]
    return Proposal(source, columns, fields, ambiguous, missing, [c for c in columns if c not in placed])


def propose_mapping(columns: list[str] | tuple[str, ...], source: str) -> Proposal:
    """A field for every column whose header is a known name; two columns naming one field
    are reported as ambiguous (neither is used until the user chooses)."""
    check_source(source)
    found: dict[str, list[str]] = {}
    for column in columns:
        name = known_field(column)
        if name is not None:
            found.setdefault(name, []).append(column)
    fields = {f: cols[0] for f, cols in found.items() if len(cols) == 1}
    ambiguous = {f: cols for f, cols in found.items() if len(cols) > 1}
    return _finish(source, tuple(columns), fields, ambiguous)


def parse_map_option(option: str) -> tuple[str, str]:
    """"COLUMN=FIELD" (a command-line --map) -> (column, field); "COLUMN=" unmaps the column."""
    column, sep, target = option.rpartition("=")
    column, target = column.strip(), target.strip()
    if not sep or not column:
        raise MappingError("map.format", f"映射“{option}”应写成 列名=项目，例如 身份证号=id_number",
                           f"the mapping {option!r} must be COLUMN=FIELD, e.g. 身份证号=id_number")
    if target and target not in FIELDS:
        raise MappingError("field.unknown", f"映射“{option}”中的项目{target}未知（可选：{'、'.join(FIELDS)}）",
                           f"unknown field {target!r} in {option!r} (one of {', '.join(FIELDS)})")
    return column, target
