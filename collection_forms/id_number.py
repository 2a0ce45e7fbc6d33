"""Resident ID numbers (公民身份号码, GB 11643-1999): parse and check one number.

Our policy, and where it differs from python-stdnum's `stdnum.cn.ric.validate`
(see ../shared/data/README.md §3):
- errors: not 18 characters; not 17 digits plus a digit or X; a wrong check character
  (ISO 7064 MOD 11-2, computed by stdnum); a birth date that does not exist, lies after
  `today` or before 1900-01-01 (stdnum accepts 1800 and 2099).
- accepted: surrounding whitespace, a lower-case x, and full-width characters typed with a
  Chinese input method (１１０…Ｘ); the number is stored normalised (ASCII, upper case).
- only a warning: a region code (first 6 digits) that stdnum's table does not know, or whose
  county did not exist in the birth year. stdnum rejects these (and for some unknown counties
  raises KeyError); but its table is a heuristic taken from Wikipedia, not part of GB 11643,
  and rejects real numbers, e.g. the standard's own example 440524188001010014 or numbers
  assigned after a county was renamed.
Messages are fragments that follow the field's label: "身份证号码" + "校验位错误".
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from stdnum import numdb
from stdnum.cn.ric import calc_check_digit

EARLIEST_BIRTH = date(1900, 1, 1)
_SHAPE = re.compile(r"[0-9]{17}[0-9X]", re.ASCII)


@dataclass(frozen=True)
class IdNumberWarning:
    code: str
    message_zh: str
    message_en: str


class IdNumberError(ValueError):
    def __init__(self, code: str, message_zh: str, message_en: str):
        super().__init__(f"{code}: {message_en}")
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en


@dataclass(frozen=True)
class IdNumberInfo:
    number: str  # normalised: ASCII, upper-case X
    birth_date: date
    sex: str  # GB/T 2261.1: "1" male (odd 17th digit), "2" female
    region_code: str  # first 6 digits (GB/T 2260 county code at the time of issue)
    region_warning: IdNumberWarning | None = None


def normalise_id_number(value: str) -> str:
    """Surrounding whitespace off, full-width characters to ASCII (NFKC), x to X."""
    return unicodedata.normalize("NFKC", value).strip().upper()


def parse_id_number(value: str, today: date) -> IdNumberInfo:
    """The facts an ID number carries, or IdNumberError(code, message_zh, message_en) with
    code id.length, id.format, id.checksum or id.date. `today` is the reference date for
    "birth date in the future" (the caller's local date, not the server's UTC)."""
    number = normalise_id_number(value)
    if len(number) != 18:
        if len(number) == 15 and number.isdigit():
            raise IdNumberError("id.length", "是15位旧号码，请填写18位号码",
                                "is an old 15-digit number; enter the 18-character number")
        raise IdNumberError("id.length", f"应为18位，现为{len(number)}位",
                            f"must have 18 characters, not {len(number)}")
    if not _SHAPE.fullmatch(number):
        raise IdNumberError("id.format", "只能由17位数字和最后一位数字或X组成",
                            "must be 17 digits followed by a digit or X")
    if calc_check_digit(number) != number[17]:
        raise IdNumberError("id.checksum", "校验位错误，请核对号码", "has a wrong check digit; check the number")
    try:
        birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise IdNumberError("id.date", f"中的出生日期{number[6:14]}不存在",
                            f"contains a birth date that does not exist ({number[6:14]})") from None
    if birth > today:
        raise IdNumberError("id.date", f"中的出生日期{birth.isoformat()}晚于今天",
                            f"contains a birth date in the future ({birth.isoformat()})")
    if birth < EARLIEST_BIRTH:
        raise IdNumberError("id.date", f"中的出生日期{birth.isoformat()}早于1900年",
                            f"contains a birth date before 1900 ({birth.isoformat()})")
    return IdNumberInfo(number=number, birth_date=birth, sex="1" if int(number[16]) % 2 else "2",
                        region_code=number[:6], region_warning=_region_warning(number[:6], birth.year))


@lru_cache(maxsize=4096)
def _region_warning(code: str, birth_year: int) -> IdNumberWarning | None:
    """Look the region up in stdnum's table ourselves: its get_birth_place() raises KeyError
    for a known province with an unknown county (python-stdnum 2.2), and its birth-year
    window is a heuristic. A county created after the birth year is normal (a number
    carries the county code in force when it was issued, often years after the birth);
    only an unknown code, or one abolished before the person was born, is worth a warning."""
    unknown = IdNumberWarning("id.region", f"中的地区码{code}不在行政区划代码表中，请核对",
                              f"has a region code ({code}) that is not in the table of division codes; check it")
    try:
        info = {k: v for _, props in numdb.get("cn/loc").info(code) for k, v in props.items()}
        if "county" not in info:
            return unknown
        names = []
        for county in info["county"].split(","):
            if not county.startswith("["):
                return None
            window, name = county[1:].split("]", 1)
            _start, _, end = window.partition("-")
            if not end or birth_year <= int(end):
                return None
            names.append(f"{name}（{window}）")
    except Exception:  # noqa: BLE001 - a lookup failure must never block a registration
        return unknown
    place = info.get("province", "") + "、".join(names)
    return IdNumberWarning(
        "id.region", f"中的地区码{code}（{place}）在出生年份{birth_year}年之前已撤销，请核对",
        f"has a region code {code} ({place}) that was abolished before the birth year {birth_year}; check it")
