"""exchange.values: each form of date, sex, relationship and ID number that clerks write."""
from __future__ import annotations

import datetime as dt

import pytest

from exchange.values import parse_date, parse_ethnicity, parse_id, parse_relation, parse_sex

TODAY = dt.date(2026, 11, 1)


@pytest.mark.parametrize("written", [
    "1985-03-02", "1985/3/2", "1985.03.02", "19850302", "1985年3月2日", "1985年03月02日", "1985-3-2",
    " 1985-03-02 ", "1985-03-02 00:00:00", "１９８５年３月２日", 19850302, 19850302.0,
    dt.datetime(1985, 3, 2), dt.datetime(1985, 3, 2, 14, 30), dt.date(1985, 3, 2),
])
def test_date_forms(written):
    assert parse_date(written) == (dt.date(1985, 3, 2), None)


@pytest.mark.parametrize("written, reason", [
    ("1985-02-30", "date.impossible"), ("19851302", "date.impossible"), ("1985年2月29日", "date.impossible"),
    ("1985-03", "date.incomplete"), ("1985年3月", "date.incomplete"), ("198503", "date.incomplete"),
    ("03/02/1985", "date.format"), ("1985-03/02", "date.format"), ("不详", "date.format"), (31109.0, "date.format"),
])
def test_bad_dates_are_problems(written, reason):
    value, problem = parse_date(written)
    assert value is None and problem[0] == reason and problem[1] and problem[2]


@pytest.mark.parametrize("written, code", [
    ("1", "1"), ("2", "2"), (1, "1"), (2.0, "2"), ("男", "1"), ("女", "2"), ("男性", "1"), ("M", "1"),
    ("f", "2"), (" F ", "2"), ("Male", "1"),
])
def test_sex(written, code):
    assert parse_sex(written) == (code, None)


@pytest.mark.parametrize("written", ["3", "未知", "x"])
def test_unknown_sex(written):
    assert parse_sex(written)[0] is None and parse_sex(written)[1][0] == "sex.unknown"


@pytest.mark.parametrize("written, code", [
    ("02", "02"), ("2", "02"), (2, "02"), ("１０", "10"), ("户主", "02"), ("本人", "01"), ("妻", "12"),
    ("夫", "11"), ("配偶", "10"), ("子", "20"), ("之子", "20"), ("户主之子", "20"), ("长子", "22"),
    ("次女", "33"), ("之女", "30"), ("孙子", "41"), ("孙女", "42"), ("儿媳", "38"), ("女婿", "28"),
    ("父亲", "51"), ("母亲", "52"), ("外孙女", "44"), ("养子", "27"), ("继女", "37"), ("兄", "71"),
    ("非亲属", "99"), ("其他", "80"),
])
def test_relationship_to_gbt_4761(written, code):
    assert parse_relation(written) == (code, None)


@pytest.mark.parametrize("written", ["00", "朋友的狗", "3", "100"])
def test_unknown_relationship(written):
    value, problem = parse_relation(written)
    assert value is None and problem[0] == "relation.unknown"


def test_ethnicity():
    assert parse_ethnicity("汉族") == ("01", None)
    assert parse_ethnicity("汉") == ("01", None)
    assert parse_ethnicity(1) == ("01", None)
    assert parse_ethnicity("瑶族")[0] is not None
    assert parse_ethnicity("火星族")[1][0] == "ethnicity.unknown"


@pytest.mark.parametrize("written", [
    "431128198906256336", " 431128198906256336 ", "４３１１２８１９８９０６２５６３３６",
    "'431128198906256336", '="431128198906256336"',
])
def test_id_number_normalised(written):
    assert parse_id(written, TODAY) == ("431128198906256336", None)


def test_lower_case_x_becomes_upper_case():
    value, problem = parse_id("43102119540628218x", TODAY)
    assert problem is None and value == "43102119540628218X"


@pytest.mark.parametrize("written, reason", [
    (431128198906256336, "id.number_in_excel"), (4.31128198906256e17, "id.number_in_excel"),
    ("4.31128E+17", "id.number_in_excel"), ("4.31128198906256e+17", "id.number_in_excel"),
    ("431128198906256337", "id.checksum"), ("43112819890625633", "id.length"),
    ("431128890625633", "id.length"), ("4311281989062563361", "id.length"), ("43112819890625633Y", "id.format"), 
    ("431128202712310014", "id.date"), ("431128198502300011", "id.date"),
])
def test_wrong_id_numbers_are_the_forms_errors(written, reason):
    value, problem = parse_id(written, TODAY)
    assert value is None and problem[0] == reason and problem[1] and problem[2]
