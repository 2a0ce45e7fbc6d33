"""Spot-check samples: the seed's rates by population, rounded up, reproducible from a seed."""
from __future__ import annotations

import random
from fractions import Fraction

import pytest

from quality import sample_rate, sample_size, spot_check_sample


@pytest.mark.parametrize("population, rate, size_of_101", [
    (0, Fraction(15, 100), 16),
    (999, Fraction(15, 100), 16),     # 15.15 -> 16
    (1000, Fraction(10, 100), 11),    # 10.1 -> 11
    (1999, Fraction(10, 100), 11),
    (2000, Fraction(5, 100), 6),      # 5.05 -> 6
    (2001, Fraction(5, 100), 6),
])
def test_rate_by_population_and_size_rounded_up(population, rate, size_of_101):
    assert sample_rate(population) == rate
    assert sample_size(population, 101) == size_of_101


@pytest.mark.parametrize("population, women, size", [
    (999, 100, 15), (1000, 100, 10), (2000, 100, 5), (2001, 100, 5),   # exact: no rounding
    (999, 1, 1), (2001, 1, 1),                                          # one woman is always checked
    (999, 0, 0),
])
def test_exact_sizes(population, women, size):
    assert sample_size(population, women) == size


def test_negative_numbers_are_refused():
    with pytest.raises(ValueError):
        sample_rate(-1)
    with pytest.raises(ValueError):
        sample_size(10, -1)


WOMEN = [f"person-{n:04d}" for n in range(300)]


def test_the_same_seed_gives_the_same_sample_whatever_the_input_order():
    first = spot_check_sample(WOMEN, population=1500, seed="341023-2026-1")
    shuffled = WOMEN[:]
    random.Random(7).shuffle(shuffled)
    again = spot_check_sample(iter(shuffled), population=1500, seed="341023-2026-1")
    assert first == again
    assert len(first) == 30 and len(set(first)) == 30 and set(first) <= set(WOMEN)
    assert first == sorted(first)
    assert spot_check_sample(WOMEN, population=1500, seed="341023-2026-2") != first


def test_a_key_orders_records():
    women = [{"household": f"h{n % 40}", "position": n // 40} for n in range(120)]
    key = lambda w: (w["household"], w["position"])  # noqa: E731
    sample = spot_check_sample(women, population=2500, seed=42, key=key)
    assert len(sample) == 6
    assert sample == spot_check_sample(list(reversed(women)), population=2500, seed=42, key=key)
