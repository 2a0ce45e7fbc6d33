"""Spot checks (抽查): how many married women aged 15-49 a village's sample holds, and which.

The seed samples married women aged 15-49 (with their households) per village at a rate set
by the village's population (persons registered): 2,000 or more 5 %; 1,000 to 1,999 10 %;
under 1,000 15 %; the sample size is rounded up. (The county's extra sample points of 30
households, seed 篇1, are not here.)

A sample is reproducible: the candidates are first sorted by a stable key (a person id, a
(household key, position) pair), so the order they arrive in does not matter, then drawn with
random.Random seeded by `seed` (the same seed, the same sample, on every machine: a str or
int seed is hashed the same way by every CPython 3).
"""
from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from fractions import Fraction
from typing import Any, TypeVar

T = TypeVar("T")

# (least population, rate): the first row the population reaches gives the rate.
SAMPLE_RATES: tuple[tuple[int, Fraction], ...] = (
    (2000, Fraction(5, 100)),
    (1000, Fraction(10, 100)),
    (0, Fraction(15, 100)),
)


def sample_rate(population: int) -> Fraction:
    """The share of the married women 15-49 sampled in a village of `population` persons."""
    if population < 0:
        raise ValueError("population cannot be negative")
    return next(rate for least, rate in SAMPLE_RATES if population >= least)


def sample_size(population: int, married_women: int) -> int:
    """Married women to sample: rate × married women, rounded up (exact, no floating point)."""
    if married_women < 0:
        raise ValueError("married_women cannot be negative")
    rate = sample_rate(population)
    return -(-married_women * rate.numerator // rate.denominator)


def spot_check_sample(candidates: Iterable[T], *, population: int, seed: str | int,
                      key: Callable[[T], Any] = lambda c: c) -> list[T]:
    """The village's sample from its married women aged 15-49 (`candidates`, any order; `key`
    gives each a stable, sortable, unique key). Returned in key order."""
    ordered = sorted(candidates, key=key)
    n = sample_size(population, len(ordered))
    # Not for security: a seeded draw that anyone can repeat is the point (S311).
    drawn = random.Random(seed).sample(range(len(ordered)), n)  # noqa: S311
    return [ordered[i] for i in sorted(drawn)]
