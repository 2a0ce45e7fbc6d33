"""Names as search and matching read them: toneless pinyin and initials, and a normalised form.

`normalise_name` is what matching compares (the person register's `name_norm`, imported
lists' names): the same name typed in traditional characters, in full-width letters, with
spaces or with the middle dot of a minority name (阿依古丽·买买提) normalises to one text.
Pure functions, no database. They live in `matching/` because the matcher builds records
from department lists too (issue 18); app.domain.names re-exports them for the app.
"""
from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache

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


_SURNAMES_LONGEST_FIRST = sorted(SURNAME_READINGS, key=len, reverse=True)


@lru_cache(maxsize=100_000)  # a pre-fill reads 400k names, half of them repeated (app.domain.prefill)
def name_keys(name: str) -> tuple[str, str]:
    """(full toneless pinyin, initials) for search: 张三 -> ("zhangsan", "zs")."""
    name = (name or "").strip()
    if not name:
        return "", ""
    surname = next((s for s in _SURNAMES_LONGEST_FIRST if name.startswith(s)), None)
    if surname:
        syllables = [SURNAME_READINGS[surname], *_syllables(name[len(surname):])]
    elif len(name) > 1 and _is_han(name[0]):
        # The surname alone, then the given name alone: names repeat far more as surname and
        # given name apart than whole (pypinyin's phrases only join within a given name).
        syllables = [*_syllables(name[0]), *_syllables(name[1:])]
    else:
        syllables = list(_syllables(name))
    return "".join(syllables)[:120], "".join(s[0] for s in syllables)[:30]


@lru_cache(maxsize=100_000)
def _syllables(text: str) -> tuple[str, ...]:
    return tuple(s.lower() for s in lazy_pinyin(text, style=Style.NORMAL, errors="ignore")
                 if s.isascii() and s.isalpha())


# Two-character surnames (复姓) in use today; any other name's surname is its first character.
COMPOUND_SURNAMES = frozenset((
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒",
    "令狐", "夏侯", "万俟", "澹台", "端木", "轩辕", "西门", "南宫", "独孤", "呼延", "钟离", "百里",
    "东郭", "公羊", "闻人", "赫连", "申屠", "太史", "濮阳", "淳于", "单于", "公冶", "仲孙", "宗政",
    "司空", "亓官", "司寇", "子车", "左丘", "第五", "梁丘", "拓跋", "谷梁", "乐正", "羊舌", "微生"))


def given_name(name_norm: str) -> str:
    """The normalised name without its surname: 张建国 -> 建国, 欧阳修 -> 修. Names that are
    not Chinese characters (a Latin or a minority name written with a dot) are kept whole."""
    if not name_norm or not _is_han(name_norm[0]):
        return name_norm or ""
    cut = 2 if name_norm[:2] in COMPOUND_SURNAMES and len(name_norm) > 2 else 1
    return name_norm[cut:]


def _is_han(char: str) -> bool:
    return "\u3400" <= char <= "\u9fff" or "\U00020000" <= char <= "\U0003134f"
