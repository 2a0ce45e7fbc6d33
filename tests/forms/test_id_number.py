"""Resident ID numbers (GB 11643-1999): every row of the shared test vectors, and both sides of
each boundary of our policy."""
from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

import pytest

from collection_forms import IdNumberError, parse_id_number
from collection_forms import id_number as id_module

TODAY = date(2025, 11, 23)
VECTORS = Path(__file__).with_name("id_number_test_vectors.csv")

# Each `reason` of the vector file -> what OUR policy expects:
#   "ok" valid, no warning; "warning" valid with an id.region warning; else the error code.
# The file's `valid` column is its author's judgement; we differ where noted.
FAKER = "Faker zh_CN ssn(), passes stdnum.cn.ric.validate"
LOWER_X = ("lower-case x as check character (GB 11643 uses capital X; stdnum normalises to X and accepts)")
EXPECTED = {
    FAKER: "ok",
    "example from GB 11643-1999 text (Beijing Chaoyang, 1949-12-31, female)": "ok",
    # Differs: a birth date before 1900 is refused by our policy, even in the standard's example.
    "example from GB 11643-1999 text (Guangdong Chaoyang county, 1880-01-01, male); checksum and date correct, "
    "stdnum rejects it because its region table does not list 440524 as valid in 1880": "id.date",
    "example from python-stdnum docstring": "ok",
    # Differs: a county created after the birth year is normal (the number carries the code in
    # force when it was issued), so it is accepted without a warning.
    "plausible: 120115 (Baodi district) created 2001, person born 1980 whose number was first assigned after "
    "2001; stdnum rejects (birth-year heuristic)": "ok",
    "bad check digit": "id.checksum",
    "bad check digit (X replaced by 0)": "id.checksum",
    "bad check digit (X where a digit is expected)": "id.checksum",
    "impossible date: 29 Feb in non-leap year 1999": "id.date",
    "impossible date: 30 February": "id.date",
    "impossible date: month 13": "id.date",
    "impossible date: month 00 day 00": "id.date",
    "impossible date: 31 April": "id.date",
    "impossible date: day 32": "id.date",
    "wrong length: 17 characters (check digit missing)": "id.length",
    "wrong length: 19 characters": "id.length",
    "wrong length: 15-digit first-generation number (GB 11643-1989 format; legal historically but not an 18-digit "
    "GB 11643-1999 number)": "id.length",
    "wrong length: empty": "id.length",
    "wrong length: contains spaces (stdnum does not strip inner spaces)": "id.length",
    # Differs (policy 1): a lower-case x is accepted and stored as X.
    LOWER_X: "ok",
    "non-digit character in body (X at position 11)": "id.format",
    "letter O instead of digit 0 in body": "id.format",
    # Differs (policy 2): an unknown region is only a warning.
    "bad region: 000000": "warning",
    "bad region: province 99 does not exist": "warning",
    "bad region: province 10 does not exist": "warning",
    # Differs (policy 3): where stdnum 2.2 raises KeyError, we warn.
    "bad region: unknown prefecture 1199": "warning",
    "bad region: unknown county 110199 in Beijing": "warning",
    "bad region: 71 (Taiwan) has no county codes in stdnum data": "warning",
    "region 620201 (Jiayuguan city proper): python-stdnum 2.2 raises KeyError instead of a validation error": "warning",
    # Differs (policy 2): a county abolished before the birth year is only a warning.
    "bad region for birth year: 110103 (Chongwen district) abolished 2010; stdnum rejects": "warning",
    "future birth date 2099-01-01 (stdnum does not check; should be rejected by application)": "id.date",
    "implausible birth year 1800 (stdnum only checks the date exists and region)": "id.date",
}


def rows() -> list[dict[str, str]]:
    with VECTORS.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def outcome(number: str) -> str:
    try:
        info = parse_id_number(number, TODAY)
    except IdNumberError as e:
        return e.code
    return "warning" if info.region_warning else "ok"


def test_the_vector_file_is_complete():
    all_rows = rows()
    assert len(all_rows) == 84
    assert sum(r["valid"] == "true" for r in all_rows) == 48


@pytest.mark.parametrize("row", rows(), ids=lambda r: r["id_number"] or "empty")
def test_vector(row):
    assert outcome(row["id_number"]) == EXPECTED[row["reason"]]


def test_where_our_policy_differs_from_the_files_judgement():
    differs = [(r["id_number"], r["valid"]) for r in rows()
               if (EXPECTED[r["reason"]] in ("ok", "warning")) != (r["valid"] == "true")]
    assert sorted(differs) == sorted([
        ("440524188001010014", "true"),  # before 1900
        ("43112820020126036x", "false"), ("23020820040702142x", "false"), ("54242319740821026x", "false"),
        ("00000019900101123X", "false"), ("990000199001011239", "false"), ("100101199001011235", "false"),
        ("119901199001011239", "false"), ("110199199001011232", "false"), ("710101199001011239", "false"),
        ("620201199001011232", "false"), ("110103201501014568", "false"),
    ])


def test_a_valid_number_gives_birth_date_sex_and_region():
    info = parse_id_number("11010519491231002X", TODAY)
    assert (info.number, info.birth_date, info.sex, info.region_code, info.region_warning) == (
        "11010519491231002X", date(1949, 12, 31), "2", "110105", None)
    assert parse_id_number("360426199101010071", TODAY).sex == "1"


def test_lower_case_x_whitespace_and_full_width_are_normalised():
    assert parse_id_number("43112820020126036x", TODAY).number == "43112820020126036X"
    assert parse_id_number(" \t11010519491231002X \n", TODAY).number == "11010519491231002X"
    assert parse_id_number("１１０１０５１９４９１２３１００２ｘ", TODAY).number == "11010519491231002X"


def test_inner_spaces_are_not_removed():
    with pytest.raises(IdNumberError) as caught:
        parse_id_number("110105 19491231 002X", TODAY)
    assert caught.value.code == "id.length"


def test_an_old_fifteen_digit_number_is_named_as_such():
    with pytest.raises(IdNumberError) as caught:
        parse_id_number("110105491231002", TODAY)
    assert "15位" in caught.value.message_zh and "15-digit" in caught.value.message_en


def test_errors_carry_code_and_both_messages():
    with pytest.raises(IdNumberError) as caught:
        parse_id_number("211303199401191313", TODAY)
    e = caught.value
    assert (e.code, e.message_zh, e.message_en) == (
        "id.checksum", "校验位错误，请核对号码", "has a wrong check digit; check the number")


def test_region_warnings_say_why():
    unknown = parse_id_number("110199199001011232", TODAY).region_warning
    assert unknown.code == "id.region" and "110199" in unknown.message_zh and "110199" in unknown.message_en
    abolished = parse_id_number("110103201501014568", TODAY).region_warning
    assert "2015" in abolished.message_zh and "崇文区" in abolished.message_zh and "abolished" in abolished.message_en
    assert parse_id_number("120115198001014564", TODAY).region_warning is None  # created 2001, issued later


def test_a_failing_region_lookup_is_only_a_warning(monkeypatch):
    def broken(name):
        raise KeyError("county")

    monkeypatch.setattr(id_module.numdb, "get", broken)
    id_module._region_warning.cache_clear()
    try:
        info = parse_id_number("11010519491231002X", TODAY)
    finally:
        id_module._region_warning.cache_clear()
    assert info.region_warning is not None and info.birth_date == date(1949, 12, 31)


# ---------------------------------------------------------------- boundaries, with numbers we make

WEIGHTS = [2 ** (17 - i) % 11 for i in range(17)]


def make_id(birth: date | str, seq: str = "123", region: str = "110105") -> str:
    """An ID number with a correct ISO 7064 MOD 11-2 check character, computed here
    independently of python-stdnum."""
    body = region + (birth.strftime("%Y%m%d") if isinstance(birth, date) else birth) + seq
    check = (12 - sum(int(c) * w for c, w in zip(body, WEIGHTS)) % 11) % 11
    return body + ("X" if check == 10 else str(check))


def test_make_id_agrees_with_the_standards_example():
    assert make_id("19491231", "002") == "11010519491231002X"


@pytest.mark.parametrize("birth, expected", [
    (date(1900, 1, 1), "ok"),
    (date(1899, 12, 31), "id.date"),
    (TODAY, "ok"),
    (TODAY + timedelta(days=1), "id.date"),
])
def test_birth_date_boundaries(birth, expected):
    assert outcome(make_id(birth)) == expected


def test_future_is_relative_to_the_today_argument():
    number = make_id(date(2030, 1, 1))
    assert parse_id_number(number, date(2030, 1, 1)).birth_date == date(2030, 1, 1)
    with pytest.raises(IdNumberError):
        parse_id_number(number, date(2029, 12, 31))


@pytest.mark.parametrize("seq, sex", [("001", "1"), ("002", "2"), ("019", "1"), ("990", "2")])
def test_sex_is_the_parity_of_the_seventeenth_digit(seq, sex):
    assert parse_id_number(make_id(date(1990, 1, 1), seq), TODAY).sex == sex


def test_a_real_29_february_is_a_date():
    assert parse_id_number(make_id("20000229"), TODAY).birth_date == date(2000, 2, 29)
    assert outcome(make_id("19000229")) == "id.date"  # 1900 was not a leap year
