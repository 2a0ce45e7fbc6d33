"""One value of a list, as clerks write it, to its normalised form: each parser returns
(value, problem) where problem is None or (reason, zh, en); a value it cannot read is None."""
from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from functools import lru_cache

from collection_forms.code_lists import load_code_lists
from collection_forms.id_number import IdNumberError, parse_id_number

Problem = tuple[str, str, str] | None

_DATE_SEP = re.compile(r"([0-9]{4})([-/.])([0-9]{1,2})\2([0-9]{1,2})(?:[ T][0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?)?")
_DATE_ZH = re.compile(r"([0-9]{4})年([0-9]{1,2})月([0-9]{1,2})日?")
_DATE_COMPACT = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})")
_YEAR_MONTH = re.compile(r"([0-9]{4})(?:[-/.年]([0-9]{1,2})月?|([0-9]{2}))")
_EXCEL_NUMBER = re.compile(r"[0-9](?:\.[0-9]*)?[eE]\+?[0-9]+")


def parse_date(value: object) -> tuple[date | None, Problem]:
    if isinstance(value, datetime):
        return value.date(), None
    if isinstance(value, date):
        return value, None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = unicodedata.normalize("NFKC", str(value)).strip() if not isinstance(value, str) else value.strip()
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text).replace(" ", "")
    m = _DATE_SEP.fullmatch(text) or _DATE_ZH.fullmatch(text) or _DATE_COMPACT.fullmatch(text)
    if m is None:
        if _YEAR_MONTH.fullmatch(text):
            return None, ("date.incomplete", f"日期“{text}”不完整，应写到日，例如1985-03-02",
                          f"the date {text!r} is incomplete; write the day too, e.g. 1985-03-02")
        return None, ("date.format", f"无法识别日期“{text}”，应写成1985-03-02、1985/3/2、19850302或1985年3月2日",
                      f"cannot read the date {text!r}; write it as 1985-03-02, 1985/3/2, 19850302 or 1985年3月2日")
    year, month, day = (m.group(1), m.group(3), m.group(4)) if m.re is _DATE_SEP else m.groups()
    try:
        return date(int(year), int(month), int(day)), None
    except ValueError:
        return None, ("date.impossible", f"日期“{text}”不存在", f"the date {text!r} does not exist")


_SEX = {"1": "1", "2": "2", "男": "1", "女": "2", "男性": "1", "女性": "2", "m": "1", "f": "2",
        "male": "1", "female": "2"}


def parse_sex(value: object) -> tuple[str | None, Problem]:
    text = _text(value)
    found = _SEX.get(text) or _SEX.get(text.lower())
    if found is None:
        return None, ("sex.unknown", f"无法识别性别“{text}”，应为1/2、男/女或M/F",
                      f"cannot read the sex {text!r}; write 1/2, 男/女 or M/F")
    return found, None


@lru_cache(maxsize=1)
def _relations() -> dict[str, str]:
    table = load_code_lists()["relationship"].codes
    names: dict[str, str] = {}
    for code, item in table.items():
        names[item.zh] = code
        for part in re.split(r"[、或]", item.zh):
            names.setdefault(part, code)
    names.update({
        "本人": "01", "户主": "02", "妻": "12", "妻子": "12", "夫": "11", "丈夫": "11", "配偶": "10",
        "子": "20", "儿子": "20", "女": "30", "女儿": "30", "儿媳": "38", "儿媳妇": "38", "媳妇": "38",
        "女婿": "28", "养子": "27", "继子": "27", "养女": "37", "继女": "37", "孙子": "41",
        "孙女": "42", "外孙": "43", "外孙子": "43", "外孙女": "44", "孙媳": "45", "孙媳妇": "45",
        "孙女婿": "46", "曾孙": "47", "曾孙子": "47", "曾孙女": "48", "父": "51", "父亲": "51",
        "母": "52", "母亲": "52", "祖父": "61", "祖母": "62", "爷爷": "61", "奶奶": "62",
        "外祖父": "63", "外祖母": "64", "兄": "71", "哥哥": "71", "哥": "71", "嫂": "72", "嫂子": "72",
        "弟": "73", "弟弟": "73", "弟媳": "74", "姐": "75", "姐姐": "75", "姐夫": "76", "妹": "77",
        "妹妹": "77", "妹夫": "78", "侄子": "93", "侄女": "94", "外甥": "95", "外甥女": "96",
        "其他": "80", "其他亲属": "97", "非亲属": "99", "保姆": "99",
    })
    for code in table:  # the codes themselves, also without the leading zero Excel drops
        names[code] = code
        names.setdefault(code.lstrip("0"), code)
    return names


def parse_relation(value: object) -> tuple[str | None, Problem]:
    """A GB/T 4761 code ("02", "2") or its words, also as "户主之子", "之女"."""
    text = _text(value)
    names = _relations()
    found = names.get(text)
    if found is not None:
        return found, None
    text = unicodedata.normalize("NFKC", text).replace(" ", "")
    for candidate in (text, _strip_head(text)):
        if candidate in names:
            return names[candidate], None
    return None, ("relation.unknown", f"无法识别与户主关系“{text}”，应为GB/T 4761代码或“户主”“妻”“之子”等",
                  f"cannot read the relationship {text!r}; write a GB/T 4761 code or 户主, 妻, 之子 ...")


def _strip_head(text: str) -> str:
    for prefix in ("户主之", "户主的", "户主", "之", "的"):
        if text.startswith(prefix) and len(text) > len(prefix):
            return text[len(prefix):]
    return text


@lru_cache(maxsize=1)
def _ethnicities() -> dict[str, str]:
    names: dict[str, str] = {}
    for code, item in load_code_lists()["ethnicity"].codes.items():
        names[code] = code
        names[item.zh] = code
        names[item.en.lower()] = code
        if item.zh.endswith("族") and len(item.zh) >= 2:
            names.setdefault(item.zh[:-1], code)
    return names


def parse_ethnicity(value: object) -> tuple[str | None, Problem]:
    text = _text(value)
    key = text.zfill(2) if text.isdigit() else text
    found = _ethnicities().get(key) or _ethnicities().get(key.lower())
    if found is None:
        return None, ("ethnicity.unknown", f"无法识别民族“{text}”，应为GB 3304代码或民族名称",
                      f"cannot read the ethnicity {text!r}; write a GB 3304 code or the name")
    return found, None


def parse_id(value: object, today: date) -> tuple[str | None, Problem]:
    """The same check as the form (collection_forms.id_number); messages are fragments that
    follow the field's label, as the form's are. A number that Excel turned
    into a number (a numeric cell, or "4.10222E+17" typed back as text) has lost digits: it is
    reported, never guessed."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return None, _number_in_excel()
    text = _text(value)
    if text.startswith("'"):  # Excel's "store as text" mark, kept in some exports
        text = text[1:]
    elif text.startswith('="') and text.endswith('"'):
        text = text[2:-1]
    if _EXCEL_NUMBER.fullmatch(text):
        return None, _number_in_excel()
    try:
        info = parse_id_number(text, today)
    except IdNumberError as e:
        return None, (e.code, e.message_zh, e.message_en)
    return info.number, None


def _number_in_excel() -> tuple[str, str, str]:
    return ("id.number_in_excel",
            "被Excel存成了数字，后几位已经丢失，无法还原；请把该列设为“文本”后重新填写号码",
            "was stored by Excel as a number and lost its last digits; set the column to Text "
            "and enter the numbers again")


def _text(value: object) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()
