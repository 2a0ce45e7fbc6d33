"""matching.id_numbers: the check character, one-step typos and the 15 -> 18 upgrade."""
from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path

import pytest
from stdnum.cn.ric import calc_check_digit

from collection_forms.id_number import IdNumberError, parse_id_number
from matching.id_numbers import (
    check_ok, embedded_birth, embedded_sex, is_id15, is_id18, normalise_id, one_step, one_step_variants,
    upgrade_15,
)

VECTORS = Path(__file__).resolve().parent.parent / "forms" / "id_number_test_vectors.csv"
STANDARD_EXAMPLE = "11010519491231002X"  # GB 11643-1999's own example, check character X


def _valid(body17: str) -> str:
    return body17 + calc_check_digit(body17 + "0")


def _random_valid(rng: random.Random) -> str:
    return _valid("431128" + f"{rng.randint(1930, 2020)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
                  + f"{rng.randint(0, 999):03d}")


@pytest.mark.parametrize("number, ok", [
    (STANDARD_EXAMPLE, True),
    ("440524188001010014", True),  # the standard's other example (stdnum's table refuses its region)
    ("110105194912310021", False),  # the right body with a wrong check character
    ("11010519491231002x", False),  # not normalised: check_ok takes normalised numbers
    ("110105491231002", False),  # 15 digits: no check character
    ("", False),
    ("1101051949123100AX", False),
])
def test_check_character(number, ok):
    assert check_ok(number) is ok


def test_check_agrees_with_the_form_validator_on_its_test_vectors():
    """The matcher and the form (collection_forms.id_number) call the same numbers valid,
    as far as the check character goes (the form also checks the date)."""
    rows = list(csv.DictReader(VECTORS.open(encoding="utf-8")))
    assert len(rows) > 50
    for row in rows:
        number = normalise_id(row["id_number"])
        try:
            parse_id_number(number, today=dt.date(2026, 11, 1))
            form_ok = True
        except IdNumberError as e:  # a date error is not the check's business
            form_ok = e.code not in ("id.checksum", "id.length", "id.format")
        assert check_ok(number) is form_ok, row


def test_every_single_substitution_and_adjacent_swap_breaks_the_check():
    """The property the typo search rests on (MOD 11-2): exhaustively, for 200 numbers."""
    rng = random.Random(17)
    for _ in range(200):
        number = _random_valid(rng)
        variants = list(one_step_variants(number))
        assert variants and not any(check_ok(v) for v, _kind, _pos in variants), number


def test_one_step_variants_are_every_neighbour_once():
    number = STANDARD_EXAMPLE
    variants = [v for v, _k, _p in one_step_variants(number)]
    swaps = sum(number[i] != number[i + 1] for i in range(17))
    assert len(variants) == 17 * 9 + 10 + swaps == len(set(variants))
    assert number not in variants
    assert "11010519491231002" + "7" in variants  # the check character substituted
    assert "11010591491231002X" in variants  # characters 7 and 8 swapped
    assert all(one_step(number, v) is not None for v in variants)


@pytest.mark.parametrize("left, right, expected", [
    ("110105194912310021", STANDARD_EXAMPLE, ("substitution", 17, False, True)),
    ("110105194912310929", "110105194912310029", ("substitution", 15, None, None)),
    ("110105194912301029", "110105194912310029", ("transposition", 13, None, None)),
    ("11010591491231002X", STANDARD_EXAMPLE, ("transposition", 6, False, True)),
    (STANDARD_EXAMPLE, STANDARD_EXAMPLE, None),  # the same number is not a typo
    ("110105194912310921", STANDARD_EXAMPLE, None),  # two substitutions
    ("110105194912301920", STANDARD_EXAMPLE, None),  # a swap over a distance of two
    ("110105491231002", STANDARD_EXAMPLE, None),  # lengths differ
])
def test_one_step(left, right, expected):
    step = one_step(left, right)
    if expected is None:
        assert step is None
        return
    kind, position, left_ok, right_ok = expected
    assert (step.kind, step.position) == (kind, position)
    if left_ok is not None:
        assert (step.left_check_ok, step.right_check_ok) == (left_ok, right_ok)
    assert step.left_check_ok == check_ok(left) and step.right_check_ok == check_ok(right)


@pytest.mark.parametrize("old, new", [
    ("110105491231002", STANDARD_EXAMPLE),
    ("440524800101001", "440524198001010014"[:17] + calc_check_digit("44052419800101001" + "0")),
])
def test_upgrade_15(old, new):
    assert upgrade_15(old) == new and check_ok(new)


@pytest.mark.parametrize("bad", ["11010549123100", "1101054912310021", "11010549123100X", STANDARD_EXAMPLE])
def test_upgrade_15_refuses_anything_but_15_digits(bad):
    with pytest.raises(ValueError):
        upgrade_15(bad)


@pytest.mark.parametrize("typed, normalised", [
    (" 11010519491231002x ", STANDARD_EXAMPLE),
    ("１１０１０５１９４９１２３１００２Ｘ", STANDARD_EXAMPLE),
    ("", ""), (None, ""),
])
def test_normalise_id(typed, normalised):
    assert normalise_id(typed) == normalised


@pytest.mark.parametrize("number, birth, sex, shape", [
    (STANDARD_EXAMPLE, "1949-12-31", "2", "18"),
    ("110105491231003", "1949-12-31", "1", "15"),
    ("12345", "", "", ""),
])
def test_what_a_number_carries(number, birth, sex, shape):
    assert embedded_birth(number) == birth and embedded_sex(number) == sex
    assert (is_id18(number), is_id15(number)) == (shape == "18", shape == "15")
