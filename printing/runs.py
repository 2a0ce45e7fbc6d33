"""Card numbers as runs: '0001–0096, 0120, 0133–0136'.

A book's cards are the households in print order (group, building, door), not a range of card
numbers, so "first to last" names cards that are in other books. The runs name exactly the
cards of the book, so that a clerk finds a card's book from its number (issue 14).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

DASH = "–"  # en dash: a range of numbers


@dataclass(frozen=True)
class Run:
    first: str
    last: str  # == first for a single number

    def __str__(self) -> str:
        return self.first if self.first == self.last else f"{self.first}{DASH}{self.last}"


def _key(number: str) -> tuple:
    # Numbers by value; anything not all digits (legacy data) after them, as text.
    return (0, int(number), len(number), number) if number.isdigit() else (1, 0, 0, number)


def _follows(previous: str, number: str) -> bool:
    return (previous.isdigit() and number.isdigit() and len(previous) == len(number)
            and int(number) == int(previous) + 1)


def number_runs(numbers: Iterable[str]) -> tuple[Run, ...]:
    """The numbers, sorted and without duplicates, as runs of consecutive numbers of the same
    width ('0099' then '0100' is one run). Pure: no order or uniqueness asked of the input."""
    runs: list[Run] = []
    for number in sorted(set(numbers), key=_key):
        if runs and _follows(runs[-1].last, number):
            runs[-1] = Run(runs[-1].first, number)
        else:
            runs.append(Run(number, number))
    return tuple(runs)


def format_runs(numbers: Iterable[str], separator: str = ", ") -> str:
    """'0001–0096, 0120, 0133–0136'; '' for no numbers."""
    return separator.join(str(run) for run in number_runs(numbers))
