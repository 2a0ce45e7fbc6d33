"""Which characters a typed value may hold: the rule for every text value of the form.

Refused (issue 15, item 8): characters that show nothing or change how the text around them
is shown, so that what a clerk reads is not what is stored:
    Cc  control characters: NUL, U+0001-U+001F, U+007F, U+0080-U+009F
    Cf  format characters: zero width space/joiners (U+200B-U+200D), LRM/RLM (U+200E-F),
        bidi embeddings and overrides (U+202A-U+202E), isolates (U+2066-U+2069), word
        joiner, BOM (U+FEFF), soft hyphen, tag characters (U+E0001-U+E007F), ...
    Cs  lone surrogates (a JSON "\\ud800"): not text at all
    Zl, Zp  U+2028, U+2029 (line and paragraph separators)
A multi-line field (notes) keeps tab, LF and CR; a one-line field refuses them too.

Kept, as real names and addresses need them: every letter and ideograph, rare CJK outside
the BMP (𠮷 U+20BB7) and in the private use area (older police systems put 生僻字 there),
unassigned code points (new CJK extensions that this Python's Unicode tables may predate),
combining marks and variation selectors (glyph variants of a name), ordinary and ideographic
spaces, and every visible separator dot of minority names: U+00B7 · (the standard one),
U+30FB ・, U+2022 •, U+2027 ‧ are accepted as typed (not rewritten).

Pure functions; static/collect.js has a port (`badCharacters`), tested against this one.
"""
from __future__ import annotations

import unicodedata

REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
MULTILINE_KEPT = frozenset("\t\n\r")


def is_refused(char: str, *, multiline: bool = False) -> bool:
    if multiline and char in MULTILINE_KEPT:
        return False
    return unicodedata.category(char) in REFUSED_CATEGORIES


def refused_characters(value: str, *, multiline: bool = False) -> list[str]:
    """The distinct refused characters of `value`, in the order they first occur."""
    found: list[str] = []
    for char in value:
        if char.isprintable():  # the common case; every refused category is unprintable
            continue
        if is_refused(char, multiline=multiline) and char not in found:
            found.append(char)
    return found


def code_points(chars: list[str]) -> str:
    """"U+0000、U+202E": how a message names characters that cannot be shown."""
    return "、".join(f"U+{ord(c):04X}" for c in chars)


def clean_text(value: str, *, multiline: bool = False) -> tuple[str, bool]:
    """(cleaned, flagged) for imported lists: refused characters removed instead of refusing
    the row, and `flagged` True when anything was removed, so that the field is marked for a
    person to look at. In a one-line field a tab, line break or line separator becomes a space
    (it separated words); other refused characters are dropped."""
    out: list[str] = []
    flagged = False
    for char in value:
        if not is_refused(char, multiline=multiline):
            out.append(char)
            continue
        flagged = True
        if char in MULTILINE_KEPT or char in "\u2028\u2029\x0b\x0c\x85":
            out.append(" ")
    return "".join(out), flagged
