"""Names as search and matching read them: toneless pinyin and initials, and a normalised form.

`normalise_name` is what matching compares (the person register's `name_norm`, imported
lists' names): the same name typed in traditional characters, in full-width letters, with
spaces or with the middle dot of a minority name (阿依古丽·买买提) normalises to one text.
Pure functions, no database.
"""
from __future__ import annotations

import re
import unicodedata
from functools import cache

import opencc
from pypinyin import Style, lazy_pinyin

# Longest a normalised name may be: NFKC may expand a character (a ligature, ㍿ -> 株式会社),
# so twice the form's 30 characters, cut beyond that.
NAME_NORM_LENGTH = 60

# Whitespace of any kind and the dots that separate the parts of a name: the middle dot
# (U+00B7), the katakana middle dot NFKC makes of the half-width one (U+30FB), the hyphenation
# point (U+2027), the bullet (U+2022), the dot operator (U+22C5) and the full stop some type
# instead (after NFKC, a full-width ．is "."; 。 is the ideographic full stop).
_DROPPED = re.compile(r"[\s\u00b7\u30fb\u2027\u2022\u2219\u22c5.。]+")


@cache
def _t2s() -> opencc.OpenCC:
    """OpenCC's traditional -> simplified converter, built once (it loads its dictionaries)."""
    return opencc.OpenCC("t2s")


def normalise_name(name: str | None) -> str:
    """The name for matching: full-width -> half-width (NFKC), traditional -> simplified
    (OpenCC t2s), Latin letters case-folded, spaces and middle dots removed.
    張 三 -> 张三; ＺＨＡＮＧ　Ｓａｎ -> zhangsan; 阿依古丽·买买提 -> 阿依古丽买买提."""
    if not name:
        return ""
    text = unicodedata.normalize("NFKC", name)
    text = _t2s().convert(text)
    return _DROPPED.sub("", text).casefold()[:NAME_NORM_LENGTH]


# Surnames whose reading differs from pypinyin's default (which reads 曾 as ceng, ...).
SURNAME_READINGS = {"曾": "zeng", "单": "shan", "解": "xie", "区": "ou", "仇": "qiu", "朴": "piao",
                    "查": "zha", "覃": "qin", "盖": "ge", "缪": "miao", "翟": "zhai", "乐": "yue",
                    "尉": "yu", "万俟": "moqi", "召": "shao", "句": "gou", "繁": "po", "员": "yun"}


def name_keys(name: str) -> tuple[str, str]:
    """(full toneless pinyin, initials) for search: 张三 -> ("zhangsan", "zs")."""
    name = (name or "").strip()
    if not name:
        return "", ""
    surname = next((s for s in sorted(SURNAME_READINGS, key=len, reverse=True) if name.startswith(s)), None)
    head = [SURNAME_READINGS[surname]] if surname else []
    rest = name[len(surname):] if surname else name
    syllables = head + lazy_pinyin(rest, style=Style.NORMAL, errors="ignore")
    syllables = [s.lower() for s in syllables if s.isascii() and s.isalpha()]
    return "".join(syllables)[:120], "".join(s[0] for s in syllables)[:30]
