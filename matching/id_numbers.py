"""ID numbers as the matcher compares them (GB 11643-1999, check character ISO 7064 MOD 11-2).

Why the check character matters for typos: MOD 11-2 weighs position i (0-based, of 18) by
2^(17-i) mod 11, never 0, and neighbouring weights differ by a factor 2. So changing one
digit changes the weighted sum by d·w ≢ 0 (mod 11), and swapping two different neighbours
by (a-b)·w ≢ 0 (mod 11): every single substitution and every adjacent transposition makes
the check fail. Of two numbers one such step apart, at least one therefore has a wrong
check character, and that one is the likely typo. The matcher uses this to stay linear:
it generates the ~180 one-step variants of the (few) numbers with a wrong check character
and looks them up, instead of comparing all pairs.

The check character comes from python-stdnum (as in collection_forms.id_number), the
normalisation is collection_forms' own, so the app and the matcher agree on what is valid.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from stdnum.cn.ric import calc_check_digit

from collection_forms.id_number import normalise_id_number

_ID18 = re.compile(r"[0-9]{17}[0-9X]", re.ASCII)
_ID15 = re.compile(r"[0-9]{15}", re.ASCII)
_DIGITS = "0123456789"
_CHECKS = "0123456789X"


def normalise_id(value: str | None) -> str:
    """ASCII, upper-case X, no surrounding space; "" for nothing. ASCII input (nearly all of
    it) skips NFKC, which is the slow part over 400k numbers."""
    if not value:
        return ""
    if value.isascii():
        return value.strip().upper()
    return normalise_id_number(value)


def is_id18(number: str) -> bool:
    """18 characters of the right shape (17 digits and a digit or X), check not looked at."""
    return len(number) == 18 and _ID18.fullmatch(number) is not None


def is_id15(number: str) -> bool:
    """A first-generation number: 15 digits (region, 6-digit birth date yymmdd, sequence)."""
    return len(number) == 15 and _ID15.fullmatch(number) is not None


def check_ok(number: str) -> bool:
    """An 18-character number whose check character is right (only the check, not the date)."""
    return is_id18(number) and calc_check_digit(number) == number[17]


def upgrade_15(number: str) -> str:
    """The 18-character number of a 15-digit one: "19" inserted before the 2-digit birth year
    (first-generation numbers were issued to people born in the 1900s) and the check
    character computed. 430421800101001 -> 43042119800101001 + check."""
    if not is_id15(number):
        raise ValueError("not a 15-digit ID number")
    body = number[:6] + "19" + number[6:]
    return body + calc_check_digit(body + "0")


def one_step_variants(number: str) -> Iterator[tuple[str, str, int]]:
    """Every number one substitution or one adjacent transposition away from an 18-character
    `number`: (variant, kind "substitution" | "transposition", position, 0-based; for a
    transposition the first of the two). 17·9 + 10 + at most 17 variants."""
    for i in range(17):
        head, tail = number[:i], number[i + 1:]
        for d in _DIGITS:
            if d != number[i]:
                yield head + d + tail, "substitution", i
    for c in _CHECKS:
        if c != number[17]:
            yield number[:17] + c, "substitution", 17
    for i in range(17):
        a, b = number[i], number[i + 1]
        if a != b:
            yield number[:i] + b + a + number[i + 2:], "transposition", i


@dataclass(frozen=True)
class OneStep:
    """How two 18-character numbers differ by one step: kind, 0-based position (the first
    of a transposed pair), and which of the two has a wrong check character."""
    kind: str  # "substitution" | "transposition"
    position: int
    left_check_ok: bool
    right_check_ok: bool


def one_step(left: str, right: str) -> OneStep | None:
    """The single substitution or adjacent transposition that turns `left` into `right`, or
    None if they are equal or further apart."""
    if len(left) != 18 or len(right) != 18 or left == right:
        return None
    diff = [i for i in range(18) if left[i] != right[i]]
    kind = None
    if len(diff) == 1:
        kind = "substitution"
    elif len(diff) == 2 and diff[1] == diff[0] + 1 and left[diff[0]] == right[diff[1]] \
            and left[diff[1]] == right[diff[0]]:
        kind = "transposition"
    if kind is None:
        return None
    return OneStep(kind, diff[0], check_ok(left), check_ok(right))


def embedded_birth(number: str) -> str:
    """The birth date an 18-character or 15-digit number carries, as ISO text (not checked
    to exist), or "" for anything else."""
    if is_id18(number):
        d = number[6:14]
    elif is_id15(number):
        d = "19" + number[6:12]
    else:
        return ""
    return f"{d[:4]}-{d[4:6]}-{d[6:]}"


def embedded_sex(number: str) -> str:
    """GB/T 2261.1 sex from the sequence's last digit (odd: "1" male, even: "2" female)."""
    if is_id18(number):
        return "1" if int(number[16]) % 2 else "2"
    if is_id15(number):
        return "1" if int(number[14]) % 2 else "2"
    return ""
