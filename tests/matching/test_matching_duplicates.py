"""matching.find_duplicates: planted duplicates of each kind are found with their reasons,
look-alikes that are two people are not proposed, decisions are remembered, blocks capped."""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import replace

import opencc
import pytest
from stdnum.cn.ric import calc_check_digit

import app.domain.names as app_names
import matching.names
from matching import (
    CANCELLED, HOMOPHONE_NAME_BIRTH, ID_ONE_STEP, ID_UPGRADE_15, SAME_ID, SAME_NAME_BIRTH, SAME_NAME_HOUSEHOLD,
    exclude_decided, find_duplicates, pair_key, person_record,
)
from matching.duplicates import dates_close

SURNAMES = "王李张刘陈杨黄赵周吴徐孙马胡朱郭何罗高林"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚英华玉兰红梅建国志文海波"
DATES = [f"{y}-{m:02d}-{d:02d}" for y, m, d in
         [(1950, 3, 1), (1962, 7, 15), (1971, 1, 9), (1980, 10, 1), (1985, 5, 20), (1990, 12, 31), (2001, 6, 6)]]
S2T = opencc.OpenCC("s2t")


def _valid(body17: str) -> str:
    return body17 + calc_check_digit(body17 + "0")


class County:
    """A small random registry: unique names (and pinyin), seven birth dates so that numbers are
    dense (neighbours one digit apart exist, as in a real county), households of three."""

    def __init__(self, seed: int, persons: int = 300):
        self.rng = random.Random(seed)
        self.records = []
        self.seqs: dict[str, set[int]] = {}
        self.names: set[str] = set()
        self.pinyins: set[str] = set()
        self.used: set[str] = set()  # base persons already given a planted copy
        self.next_key = 0
        for n in range(persons):
            self.person(household=f"H{n // 3}")

    def new_id(self, birth: str, sex: str) -> str:
        used = self.seqs.setdefault(birth, set())
        while True:
            seq = self.rng.randrange(0, 1000)
            if seq % 2 == (1 if sex == "1" else 0) and seq not in used:
                used.add(seq)
                return _valid("431128" + birth.replace("-", "") + f"{seq:03d}")

    def new_name(self) -> str:
        while True:
            name = self.rng.choice(SURNAMES) + "".join(self.rng.sample(GIVEN, 2))
            record = person_record(0, 0, name)
            if name not in self.names and record.pinyin not in self.pinyins:
                self.names.add(name)
                self.pinyins.add(record.pinyin)
                return name

    def person(self, household: str, name: str | None = None, birth: str | None = None, **fields):
        self.next_key += 1
        sex = fields.pop("sex", self.rng.choice("12"))
        birth = birth or self.rng.choice(DATES)
        id_number = fields.pop("id_number") if "id_number" in fields else self.new_id(birth, sex)
        record = person_record(f"P{self.next_key}", household, name or self.new_name(), sex=sex, birth_date=birth,
                               id_number=id_number, unit=fields.pop("unit", "431128001001"), **fields)
        self.records.append(record)
        return record

    def copy(self, base, household: str | None = None, **changes):
        """`base` registered a second time (another household unless told), with changes."""
        self.next_key += 1
        changed = replace(base, key=f"P{self.next_key}", household_key=household or f"X{self.next_key}")
        if "name" in changes:
            name = changes.pop("name")
            changed = replace(changed, **{f: getattr(person_record(0, 0, name), f) for f in ("name", "name_norm", "pinyin")})
        changed = replace(changed, **changes)
        self.records.append(changed)
        return changed

    def pick(self, surname: str = "", traditional: bool = False):
        """A base person not used by another plant (with a name written otherwise in
        traditional characters, if asked)."""
        while True:
            r = self.rng.choice(self.records[:300])
            if r.name.startswith(surname) and r.key not in self.used and (not traditional or S2T.convert(r.name) != r.name):
                self.used.add(r.key)
                return r


def _substitute(number: str, position: int) -> str:
    digit = str((int(number[position]) + 3) % 10)
    return number[:position] + digit + number[position + 1:]


def _swap(number: str) -> tuple[str, int]:
    for i in range(14, 5, -1):  # the sequence and date digits, as clerks mistype them
        if number[i] != number[i + 1]:
            return number[:i] + number[i + 1] + number[i] + number[i + 2:], i
    raise AssertionError(number)


def planted(seed: int):
    """The county and its planted pairs: {pair: (rules the pair must carry, extra checks)}."""
    c = County(seed)
    want = {}

    def plant(base, copy, rules, **checks):
        want[pair_key(base.key, copy.key)] = (set(rules), checks)

    b = c.pick()
    plant(b, c.copy(b), {SAME_ID, SAME_NAME_BIRTH}, score=1.0)
    b = c.pick()
    typo = c.copy(b, id_number=_substitute(b.id_number, 14))
    plant(b, typo, {ID_ONE_STEP, SAME_NAME_BIRTH}, score=0.95, likely_typo=typo.key, text=("第15位",))
    b = c.pick()
    number, i = _swap(b.id_number)
    typo = c.copy(b, id_number=number)
    plant(b, typo, {ID_ONE_STEP, SAME_NAME_BIRTH}, score=0.95, likely_typo=typo.key,
          text=(f"第{i + 1}、{i + 2}位颠倒",))
    b = c.pick()  # the birth date typed from the mistyped number: only the ID rule finds it
    typo = c.copy(b, id_number=_substitute(b.id_number, 13), birth_date=b.birth_date[:-1] + "8")
    plant(b, typo, {ID_ONE_STEP}, score=0.85, likely_typo=typo.key)
    b = c.pick("张")
    plant(b, c.copy(b, name="章" + b.name[1:], id_number=""), {HOMOPHONE_NAME_BIRTH}, text=("张/章", "章/张"))
    b = c.pick(traditional=True)
    plant(b, c.copy(b, name=S2T.convert(b.name), id_number=""), {SAME_NAME_BIRTH})
    b = c.pick()
    plant(b, c.copy(b, id_number=b.id_number[:6] + b.id_number[8:17]), {ID_UPGRADE_15, SAME_NAME_BIRTH}, score=0.95)
    b = c.pick()
    plant(b, c.copy(b, household=b.household_key, id_number=""), {SAME_NAME_BIRTH}, score=0.95, same_household=True)
    b = c.pick()
    b = c.pick()  # entered twice on one card, once with a lunar birth date (30 days behind)
    lunar = (dt.date.fromisoformat(b.birth_date) - dt.timedelta(days=30)).isoformat()
    plant(b, c.copy(b, household=b.household_key, id_number="", birth_date=lunar), {SAME_NAME_HOUSEHOLD},
          same_household=True)

    # look-alikes that are two people, never proposed at the default minimum score:
    b = c.pick()  # a namesake born the same day, with a number of their own
    namesake = c.person("N1", name=b.name, birth=b.birth_date, sex=b.sex)
    b = c.pick()  # someone else whose mistyped number is one step from b's
    stranger = c.person("N2", birth=b.birth_date, sex=b.sex, id_number=_substitute(b.id_number, 15))
    b = c.pick()  # a child given the name of a sibling born years before: not proposed
    c.person(b.household_key, name=b.name, birth="2015-02-03", sex=b.sex, id_number="")
    b = c.pick()  # the same birth date, a name one character apart but not a homophone
    c.person("N3", name=b.name[:-1] + ("伟" if b.name[-1] != "伟" else "芳"), birth=b.birth_date, id_number="")
    c.rng.shuffle(c.records)
    return c.records, want, (pair_key(b.key, namesake.key), namesake, stranger)


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_planted_duplicates_are_found_with_their_reasons_and_nothing_else(seed):
    records, want, _ = planted(seed)
    report = find_duplicates(records)
    found = {c.pair: c for c in report.candidates}
    for pair, (rules, checks) in want.items():
        assert pair in found, (rules, sorted(pair))
        cand = found[pair]
        assert rules <= set(cand.rules), (rules, cand.rules)
        assert all(r.message["zh"] and r.message["en"] for r in cand.reasons)
        if "score" in checks:
            assert cand.score == checks["score"], cand.message()
        if "likely_typo" in checks:
            assert cand.likely_typo == checks["likely_typo"]
            assert "校验位不符" in cand.message()["zh"] and "check digit" in cand.message()["en"]
        if "text" in checks:
            assert any(t in cand.message()["zh"] for t in checks["text"]), cand.message()
        assert cand.same_household is checks.get("same_household", False)
        assert ("同一户" in cand.message()["zh"]) is cand.same_household
    assert set(found) == set(want), [c.message()["en"] for c in report.candidates if c.pair not in want]
    assert len(report.candidates) == len(found)  # each pair once, with all its reasons
    assert report.capped_blocks == []


def test_look_alikes_are_scored_low_and_say_why():
    records, want, (_, namesake, stranger) = planted(7)
    found = {c.pair: c for c in find_duplicates(records, min_score=0).candidates}
    twins = [c for c in found.values() if namesake.key in c.pair and SAME_NAME_BIRTH in c.rules]
    assert len(twins) == 1 and twins[0].score == 0.4
    assert "都有效且不同" in twins[0].message()["zh"]
    [neighbour] = [c for c in found.values() if stranger.key in c.pair and ID_ONE_STEP in c.rules]
    assert neighbour.score == 0.4 and neighbour.likely_typo == stranger.key
    assert "姓名不同" in neighbour.message()["zh"] and "出生日期一致" in neighbour.message()["zh"]


def test_a_pair_found_by_several_rules_is_one_candidate_with_every_reason():
    a = person_record("a", "h1", "张建国", sex="1", birth_date="1980-10-01", id_number=_valid("43112819801001001"))
    b = replace(a, key="b", household_key="h2")
    [cand] = find_duplicates([a, b]).candidates
    assert cand.rules == (SAME_ID, SAME_NAME_BIRTH) and cand.score == 1.0
    assert cand.message()["zh"].startswith("身份证号相同；姓名和出生日期相同")


@pytest.mark.parametrize("name, sex, birth, score", [
    ("李秀英", "2", "1982-03-04", 0.6),  # nothing but the number in common
    ("张建英", "2", "1980-10-01", 0.6),  # twins, one's number on the other's row
    ("张建英", "1", "1982-03-04", 0.6),
    ("张建英", "1", "1980-10-01", 1.0),  # only the name differs: renamed, or a typo
    ("张建国", "2", "1982-03-04", 1.0),  # the same name
])
def test_the_same_number_on_two_different_people_is_a_weaker_candidate(name, sex, birth, score):
    """The names differ and so do birth dates or sexes: one record's number is wrong."""
    a = person_record("a", "h1", "张建国", sex="1", birth_date="1980-10-01", id_number=_valid("43112819801001001"))
    b = person_record("b", "h1", name, sex=sex, birth_date=birth, id_number=a.id_number)
    [cand] = find_duplicates([a, b], min_score=0).candidates
    assert SAME_ID in cand.rules and cand.score == score
    assert ("不像同一人" in cand.message()["zh"]) is (score < 1)


@pytest.mark.parametrize("x, y, close", [
    ("1980-10-01", "1980-10-01", True),
    ("1980-10-01", "1980-10-07", True),  # one digit
    ("1980-10-01", "1986-10-01", True),
    ("1980-10-01", "1980-01-10", True),  # day and month swapped
    ("1980-10-01", "1980-09-02", True),  # 29 days: a lunar date
    ("1980-10-01", "1980-11-30", True),  # 60 days
    ("1980-10-01", "1980-12-05", False),  # 65 days, two characters
    ("1980-10-01", "1982-10-03", False),  # two characters, two years
    ("1980-10-01", "", True),  # unknown
    ("1980-10-01", "1980-13-01x", False),
])
def test_dates_close(x, y, close):
    assert dates_close(x, y) is close and dates_close(y, x) is close


def test_a_record_never_pairs_with_itself():
    a = person_record("a", "h1", "张建国", sex="1", birth_date="1980-10-01", id_number=_valid("43112819801001001"))
    assert find_duplicates([a]).candidates == []
    assert find_duplicates([a, a], min_score=0).candidates == []  # the same record read twice


def test_cancelled_records_are_left_out_unless_asked():
    a = person_record("a", "h1", "张建国", sex="1", birth_date="1980-10-01")
    b = replace(a, key="b", household_key="h2", status=CANCELLED)
    c = replace(a, key="c", household_key="h3", status=CANCELLED)
    assert find_duplicates([a, b, c]).candidates == []
    report = find_duplicates([a, b, c], include_cancelled=True)
    assert {cand.pair for cand in report.candidates} == {pair_key("a", "b"), pair_key("a", "c")}
    assert all("已注销" in cand.message()["zh"] for cand in report.candidates)


def test_decided_pairs_are_never_proposed_again():
    records, want, _ = planted(11)
    decided = set(list(want)[:3])
    first = find_duplicates(records)
    assert decided <= {c.pair for c in first.candidates}
    again = find_duplicates(records, not_same=decided)
    assert {c.pair for c in again.candidates} == {c.pair for c in first.candidates} - decided
    assert again.dropped_as_decided == 3
    assert exclude_decided(first.candidates, decided) == again.candidates


@pytest.mark.parametrize("stored", [("a", "b"), ("b", "a")])
def test_exclude_decided_is_a_filter_on_unordered_pairs(stored):
    a = person_record("a", "h1", "张建国", birth_date="1980-10-01")
    others = [replace(a, key=k, household_key=k) for k in "bc"]
    cands = find_duplicates([a, *others]).candidates
    kept = exclude_decided(cands, {pair_key(*stored)})
    assert {c.pair for c in kept} == {pair_key("a", "c"), pair_key("b", "c")}
    assert exclude_decided(cands, set()) == cands


@pytest.mark.parametrize("size, cap, capped, pairs", [(60, 50, True, 0), (60, 60, False, 60 * 59 // 2), (2, 1, True, 0)])
def test_large_blocks_are_reported_not_paired(size, cap, capped, pairs):
    """60 people called 王伟 born on one day, none with a number: a cap, not 1,770 pairs."""
    records = [person_record(f"p{i}", f"h{i}", "王伟", sex="1", birth_date="1980-01-01") for i in range(size)]
    report = find_duplicates(records, block_cap=cap, min_score=0)
    assert len(report.candidates) == pairs
    assert [(b.rule, b.key, b.size) for b in report.capped_blocks] == (
        [(SAME_NAME_BIRTH, "王伟 1980-01-01", size)] if capped else [])


def test_a_placeholder_number_shared_by_many_is_capped():
    number = _valid("43112819800101000")
    records = [person_record(f"p{i}", f"h{i}", f"李{GIVEN[i]}", birth_date=f"19{i + 10}-01-01", id_number=number)
               for i in range(30)]
    report = find_duplicates(records, block_cap=20)
    assert report.candidates == [] and [(b.rule, b.size) for b in report.capped_blocks] == [(SAME_ID, 30)]


def test_count_by_rule_and_min_score():
    records, want, _ = planted(3)
    report = find_duplicates(records)
    counts = report.count_by_rule()
    assert counts[ID_ONE_STEP] == 3 and counts[ID_UPGRADE_15] == 1 and counts[SAME_NAME_HOUSEHOLD] == 1
    assert all(c.score >= 0.5 for c in report.candidates)
    high = find_duplicates(records, min_score=0.9)
    assert {c.pair for c in high.candidates} == {c.pair for c in report.candidates if c.score >= 0.9}
    assert high.below_min_score == len(report.candidates) - len(high.candidates) + report.below_min_score


def test_person_record_normalises_as_the_register_does():
    r = person_record("k", "h", " 張 偉 ", id_number="１１０１０５１９４９１２３１００２ｘ")
    assert (r.name, r.name_norm, r.pinyin, r.id_number) == ("張 偉", "张伟", "zhangwei", "11010519491231002X")
    assert app_names.normalise_name is matching.names.normalise_name  # one normalisation for app and matcher
    assert app_names.name_keys is matching.names.name_keys


@pytest.mark.parametrize("typo_name, zh, en", [
    ("张伟", "后一条记录（张伟）的号码校验位不符", "the number of the second record (张伟) fails its check digit"),
    ("章伟", "章伟的号码校验位不符", "the number of 章伟 fails its check digit"),
])
def test_the_likely_typo_is_named_or_placed_when_both_bear_one_name(typo_name, zh, en):
    a = person_record("a", "h1", "张伟", sex="2", birth_date="1949-12-31", id_number="11010519491231002X")
    b = person_record("b", "h2", typo_name, sex="2", birth_date="1949-12-31", id_number="110105194912310021")
    [cand] = find_duplicates([a, b]).candidates
    assert cand.likely_typo == "b" and zh in cand.message()["zh"] and en in cand.message()["en"]


def test_the_upgrade_names_the_old_and_the_new_number():
    a = person_record("a", "h1", "张伟", sex="2", birth_date="1949-12-31", id_number="11010519491231002X")
    b = person_record("b", "h2", "张卫", sex="2", birth_date="1949-12-31", id_number="110105491231002")
    [cand] = find_duplicates([b, a]).candidates
    assert cand.rules == (ID_UPGRADE_15, HOMOPHONE_NAME_BIRTH) and cand.score == 0.9
    assert cand.message()["zh"].startswith("张卫的15位旧号码升为18位后与张伟的号码相同")


def test_best_first_then_in_the_order_read():
    number = _valid("43112819801001001")
    records = [
        person_record("w1", "h1", "王芳", sex="2", birth_date="1970-01-01"),
        person_record("z1", "h2", "张伟", sex="1", birth_date="1980-10-01", id_number=number),
        person_record("w2", "h3", "王芳", sex="2", birth_date="1970-01-01"),
        person_record("l1", "h4", "李强", sex="1", birth_date="1990-05-05"),
        person_record("z2", "h5", "张伟", sex="1", birth_date="1980-10-01", id_number=number),
        person_record("l2", "h6", "李强", sex="1", birth_date="1990-05-05"),
    ]
    assert [(c.left, c.right) for c in find_duplicates(records).candidates] == [
        ("z1", "z2"), ("w1", "w2"), ("l1", "l2")]
