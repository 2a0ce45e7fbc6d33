"""Card numbers as runs (printing.runs): the cover's and the clerk's list of a book's cards."""
from __future__ import annotations

from printing.runs import Run, format_runs, number_runs


def test_no_numbers_no_runs():
    assert number_runs([]) == ()
    assert format_runs([]) == ""


def test_a_single_number():
    assert number_runs(["0120"]) == (Run("0120", "0120"),)
    assert format_runs(["0120"]) == "0120"


def test_a_contiguous_range_is_one_run():
    assert number_runs([f"{n:04d}" for n in range(1, 97)]) == (Run("0001", "0096"),)
    assert format_runs(["0099", "0100", "0101"]) == "0099–0101"  # across a power of ten


def test_gaps_split_the_runs():
    numbers = [f"{n:04d}" for n in [*range(1, 97), 120, 133, 134, 135, 136, 140, 141]]
    assert format_runs(numbers) == "0001–0096, 0120, 0133–0136, 0140–0141"


def test_unsorted_input_and_duplicates():
    assert format_runs(["0136", "0002", "0133", "0001", "0135", "0134", "0003"]) == "0001–0003, 0133–0136"
    assert format_runs(["0005", "0005", "0004", "0004", "0009"]) == "0004–0005, 0009"


def test_numbers_of_other_widths_or_not_numbers_stand_apart():
    # '9' and '0010' are not neighbours on paper; a legacy non-numeric number comes last, alone.
    assert format_runs(["0010", "9", "A12", "0011"]) == "9, 0010–0011, A12"
    assert format_runs(["0001", "0002"], separator="、") == "0001–0002"
    assert format_runs(["0001", "0003"], separator="、") == "0001、0003"
