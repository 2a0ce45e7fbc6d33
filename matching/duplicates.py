"""Duplicate candidates in the registry (重复人口, issue 17): pairs of person records that may be
one person registered twice, each with a score in 0-1 and the reasons a clerk would accept.

    report = find_duplicates(records, not_same=remembered_pairs)
    for c in report.candidates:          # best first
        c.left, c.right, c.score, c.message(), c.reasons, c.evidence, c.same_household

The rules (a pair found by several appears once, with every reason):

- same_id: the same ID number (18 or 15 characters). 1.0; 0.6 when the names differ and so
  do the birth dates or the sexes (then the number is wrong on one record, e.g. two members'
  numbers swapped, rather than one person registered twice).
- id_one_step: one substituted character or two swapped neighbours, found from the one-step
  variants of every number with a wrong check character (matching.id_numbers). Name and
  birth date agree 0.95, the name only 0.85; names differ: 0.4 with the same birth date,
  else 0.3. A homophone name counts 0.05 less, different sexes −0.1.
- id_upgrade_15: a 15-digit number upgraded to 18 ("19" + check character) is another's
  number. Names agree 0.95 (homophones 0.9), else 0.6; birth dates on the records differ
  −0.05, sexes differ −0.1.
- same_name_birth: the same normalised name and birth date. 0.8.
- homophone_name_birth: the same toneless pinyin in other characters (张伟/章伟) and the same
  birth date. 0.7.
- same_name_household: the same normalised name twice in one household with birth dates
  that differ as typing and calendars make them differ (one character, day and month
  swapped, or up to 60 days: a lunar date), or one of them unknown. 0.7. (Siblings given
  one name years apart are not proposed.)

Why names decide for id_one_step: people born on one day in one county have numbers that
differ only in the 3-digit sequence, so a mistyped number is often one step from a
neighbour's real number too; only the name says whose number it was meant to be.

For the name rules: the same sex +0.05 (differs −0.2); for the two birth-date rules also
the same unit (village) +0.05 and the same household +0.1 (one person entered twice on one
card); at most 0.95, below a shared ID; and at most 0.4 when both have valid, different ID
numbers, each carrying its own record's birth date: the police issued two numbers, so two
people (twins, a grandfather and grandson of one name) unless a number was re-issued after a
birth-date correction, which this list cannot tell (issue 18's comparison can). A pair's score is its best rule's. No learned weights: each number is a step a clerk can
follow in the evidence.

Pairs within one household are candidates too (marked same_household); a record is never
paired with itself. Cancelled records (注销) are left out unless include_cancelled: then a pair
needs at least one active record. Blocks (records sharing a key) larger than block_cap are not
expanded into pairs: a placeholder number or a very common name on one date would otherwise
make thousands of pairs; the report lists them (rule, key, size) for a look by hand.

Issue 18 (comparison with department lists) reuses the same rules across two sides: the
pair search takes an `allow(i, j)` predicate on record positions (here: all pairs).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import date

from stdnum.cn.ric import calc_check_digit

from matching.id_numbers import (
    check_ok, embedded_birth, is_id15, is_id18, normalise_id, one_step_variants, upgrade_15,
)
from matching.records import ACTIVE, PersonRecord

Text = dict[str, str]

SAME_ID = "same_id"
ID_ONE_STEP = "id_one_step"
ID_UPGRADE_15 = "id_upgrade_15"
SAME_NAME_BIRTH = "same_name_birth"
HOMOPHONE_NAME_BIRTH = "homophone_name_birth"
SAME_NAME_HOUSEHOLD = "same_name_household"
RULES = (SAME_ID, ID_ONE_STEP, ID_UPGRADE_15, SAME_NAME_BIRTH, HOMOPHONE_NAME_BIRTH, SAME_NAME_HOUSEHOLD)

# 50 records make 1,225 pairs. In the 400k linkage county no block holds more than 2 records of
# one list (4 with both lists together); a bigger one is a placeholder, not people.
DEFAULT_BLOCK_CAP = 50
DEFAULT_MIN_SCORE = 0.5


@dataclass(frozen=True, slots=True)
class Reason:
    """One rule that found the pair, its score for this pair, and the words for the clerk."""
    rule: str
    score: float
    message: Text


@dataclass(frozen=True, slots=True)
class Candidate:
    """Two records that may be one person. left/right are the records' keys, left the one
    read first. evidence: how the other fields compare, for and against. likely_typo: the
    key of the record whose ID number fails its check (id_one_step), else None."""
    left: Hashable
    right: Hashable
    score: float
    reasons: tuple[Reason, ...]
    evidence: tuple[Text, ...]
    same_household: bool
    likely_typo: Hashable | None = None

    @property
    def pair(self) -> frozenset:
        return frozenset((self.left, self.right))

    @property
    def rules(self) -> tuple[str, ...]:
        return tuple(r.rule for r in self.reasons)

    def message(self) -> Text:
        """Reasons then evidence in one line: "身份证号相同；姓名一致；出生日期一致"."""
        parts = [r.message for r in self.reasons] + list(self.evidence)
        return {"zh": "；".join(p["zh"] for p in parts), "en": "; ".join(p["en"] for p in parts)}


@dataclass(frozen=True, slots=True)
class CappedBlock:
    """A block too large to pair out: the rule, its key as text, how many records share it."""
    rule: str
    key: str
    size: int


@dataclass
class DuplicateReport:
    candidates: list[Candidate]
    capped_blocks: list[CappedBlock] = field(default_factory=list)
    records: int = 0  # records taken part (after leaving out cancelled ones)
    dropped_as_decided: int = 0  # pairs found but remembered as "not the same"
    below_min_score: int = 0

    def count_by_rule(self) -> dict[str, int]:
        """How many candidates each rule found (a pair found by two rules counts for both)."""
        counts = Counter(r.rule for c in self.candidates for r in c.reasons)
        return {rule: counts.get(rule, 0) for rule in RULES}


def pair_key(a: Hashable, b: Hashable) -> frozenset:
    """The unordered pair, as decisions remember it (keys need not be orderable)."""
    return frozenset((a, b))


def exclude_decided(candidates: Iterable[Candidate], not_same: Collection[frozenset]) -> list[Candidate]:
    """The candidates that are not remembered as "not the same" (a set of pair_key(a, b)):
    a pair once decided is never proposed again, whichever way round it was stored."""
    return [c for c in candidates if c.pair not in not_same]


def find_duplicates(records: Iterable[PersonRecord], *, block_cap: int = DEFAULT_BLOCK_CAP,
                    min_score: float = DEFAULT_MIN_SCORE, not_same: Collection[frozenset] = frozenset(),
                    include_cancelled: bool = False) -> DuplicateReport:
    """Duplicate candidates among `records`, best score first (then in the order read).
    Keys must be unique; `not_same` holds pair_key()s decided "not the same"."""
    recs = [r for r in records if include_cancelled or r.status == ACTIVE]
    ids = [normalise_id(r.id_number) for r in recs]
    active = [r.status == ACTIVE for r in recs]

    def some_active(i: int, j: int) -> bool:
        return active[i] or active[j]  # two cancelled records: nothing left to decide

    hits, capped = _find_pairs(recs, ids, block_cap, some_active if include_cancelled else None)
    report = DuplicateReport(candidates=[], capped_blocks=capped, records=len(recs))
    n = len(recs)
    for pair in sorted(hits):  # in the order read
        found = hits[pair]
        i, j = divmod(pair, n)
        a, b = recs[i], recs[j]
        if a.key == b.key:
            continue  # one record read twice is not a pair
        if not_same and pair_key(a.key, b.key) in not_same:
            report.dropped_as_decided += 1
            continue
        cand = _candidate(a, b, ids[i], ids[j], found)
        if cand.score < min_score:
            report.below_min_score += 1
            continue
        report.candidates.append(cand)
    report.candidates.sort(key=lambda c: -c.score)  # stable: ties stay in the order read
    return report


# ------------------------------------------------------------------ blocking


def _find_pairs(recs: list[PersonRecord], ids: list[str], block_cap: int,
                allow: Callable[[int, int], bool] | None) -> tuple[dict[int, dict[str, object]], list[CappedBlock]]:
    """{i * n + j (i < j): {rule: detail}} and the capped blocks. Each index is a dict from a
    key to the first record's position, and a second dict of the keys held by several, so
    the 400k singletons cost no list each."""
    n = len(recs)
    hits: dict[int, dict[str, object]] = {}
    capped: list[CappedBlock] = []

    def add(i: int, j: int, rule: str, detail: object = None) -> None:
        if i == j or (allow is not None and not allow(i, j)):
            return
        if i > j:
            i, j = j, i
        hits.setdefault(i * n + j, {}).setdefault(rule, detail)

    long_ids = [i for i, k in enumerate(ids) if is_id18(k)]
    old_ids = [i for i, k in enumerate(ids) if is_id15(k)]
    by_id, id_multi = _index((ids[i], i) for i in long_ids + old_ids)
    _, name_multi = _index(((r.name_norm, r.birth_date), i) for i, r in enumerate(recs)
                           if r.name_norm and r.birth_date)
    _, pinyin_multi = _index(((r.pinyin, r.birth_date), i) for i, r in enumerate(recs)
                             if r.pinyin and r.birth_date)
    _, household_multi = _index(((r.household_key, r.name_norm), i) for i, r in enumerate(recs) if r.name_norm)

    def block(key: str) -> list[int]:
        return id_multi.get(key) or ([by_id[key]] if key in by_id else [])

    # the same number
    for key, members in id_multi.items():
        if len(members) > block_cap:
            capped.append(CappedBlock(SAME_ID, key, len(members)))
            continue
        for x, i in enumerate(members):
            for j in members[x + 1:]:
                add(i, j, SAME_ID)

    # one step apart: from each number that fails its check, its variants (see id_numbers)
    for i in long_ids:
        number = ids[i]
        if calc_check_digit(number) == number[17]:
            continue
        for variant, kind, position in one_step_variants(number):
            others = block(variant)
            if len(others) > block_cap:
                continue  # already reported as a capped same_id block
            for j in others:
                add(i, j, ID_ONE_STEP, (kind, position))

    # a first-generation number and its 18-character successor
    for i in old_ids:
        others = block(upgrade_15(ids[i]))
        if len(others) <= block_cap:
            for j in others:
                add(i, j, ID_UPGRADE_15)

    # the same name (or the same sound) and birth date
    for rule, multi in ((SAME_NAME_BIRTH, name_multi), (HOMOPHONE_NAME_BIRTH, pinyin_multi)):
        for (name, birth), members in multi.items():
            if len(members) > block_cap:
                if rule == SAME_NAME_BIRTH or len({recs[i].name_norm for i in members}) > 1:
                    capped.append(CappedBlock(rule, f"{name} {birth}", len(members)))
                continue  # a pinyin block of one name is that name's block, reported once
            for x, i in enumerate(members):
                for j in members[x + 1:]:
                    if rule == SAME_NAME_BIRTH or recs[i].name_norm != recs[j].name_norm:
                        add(i, j, rule)

    # the same name twice on one card (the same birth date is same_name_birth's)
    for (household, name), members in household_multi.items():
        if len(members) > block_cap:
            capped.append(CappedBlock(SAME_NAME_HOUSEHOLD, f"{household} {name}", len(members)))
            continue
        for x, i in enumerate(members):
            for j in members[x + 1:]:
                if recs[i].birth_date != recs[j].birth_date and dates_close(recs[i].birth_date, recs[j].birth_date):
                    add(i, j, SAME_NAME_HOUSEHOLD)
    return hits, capped


def dates_close(x: str, y: str) -> bool:
    """Two ISO birth dates that may be one date written wrongly: equal, one character apart
    (a mistyped digit), day and month swapped, or at most 60 days apart (a lunar date taken
    for a solar one runs 20-50 days behind). An unknown date ("") is close to anything."""
    if not x or not y or x == y:
        return True
    if len(x) == len(y) and sum(p != q for p, q in zip(x, y, strict=True)) == 1:
        return True
    if x[:4] == y[:4] and x[5:7] == y[8:10] and x[8:10] == y[5:7]:
        return True
    try:
        return abs((date.fromisoformat(x) - date.fromisoformat(y)).days) <= 60
    except ValueError:
        return False


def _index(items: Iterable[tuple[Hashable, int]]) -> tuple[dict[Hashable, int], dict[Hashable, list[int]]]:
    first: dict[Hashable, int] = {}
    multi: dict[Hashable, list[int]] = {}
    for key, i in items:
        j = first.setdefault(key, i)
        if j != i:
            multi.setdefault(key, [j]).append(i)
    return first, multi


# ------------------------------------------------------------------ scoring

# Texts shared by many candidates: one dict each, not one per candidate (400k of them).
_SAME_ID = {"zh": "身份证号相同", "en": "the same ID number"}
_SAME_ID_OTHERWISE_DIFFERENT = {
    "zh": "身份证号相同，但姓名不同，出生日期或性别也不同（可能是一方的号码填错，不像同一人）",
    "en": "the same ID number, but the names differ and so do the birth dates or sexes "
          "(one record's number may be wrong; hardly one person)"}
_SAME_NAME_BIRTH = {"zh": "姓名和出生日期相同", "en": "the same name and birth date"}
_SAME_NAME_HOUSEHOLD = {"zh": "同一户内姓名相同", "en": "the same name twice in one household"}
_SAME_NAME = {"zh": "姓名一致", "en": "the same name"}
_SAME_BIRTH = {"zh": "出生日期一致", "en": "the same birth date"}
_SAME_SEX = {"zh": "性别一致", "en": "the same sex"}
_OTHER_SEX = {"zh": "性别不同", "en": "different sexes"}
_DISTINCT_VALID_IDS = {"zh": "两人的身份证号都有效且不同", "en": "both have valid, different ID numbers"}
_ONE_WITHOUT_ID = {"zh": "其中一人没有身份证号", "en": "one of them has no ID number"}
_SAME_HOUSEHOLD = {"zh": "在同一户内（可能重复登记）", "en": "in the same household (entered twice?)"}
_SAME_UNIT = {"zh": "同一村", "en": "the same village"}


# Each rule's words without the pair's names, ID numbers or other items: what a reader is shown
# who may not see one of the two records (the stored reasons name both; see rule_title).
RULE_TITLES: dict[str, Text] = {
    SAME_ID: _SAME_ID,
    ID_ONE_STEP: {"zh": "身份证号只差一步（一位不同或相邻两位颠倒，可能录错）",
                  "en": "ID numbers one typing step apart (one character, or two neighbours swapped)"},
    ID_UPGRADE_15: {"zh": "一方的15位旧号码升为18位后与另一方的号码相同",
                    "en": "one record's 15-digit number, upgraded to 18 characters, is the other's number"},
    SAME_NAME_BIRTH: _SAME_NAME_BIRTH,
    HOMOPHONE_NAME_BIRTH: {"zh": "姓名同音，出生日期相同", "en": "names that sound the same and the same birth date"},
    SAME_NAME_HOUSEHOLD: _SAME_NAME_HOUSEHOLD,
}
_ANY_RULE = {"zh": "可能是同一人", "en": "may be one person"}


def rule_title(rule: str) -> Text:
    """The rule's generic words (no names, numbers or other items of either record); a rule no
    longer known (a reason stored by an older run) gets generic words too."""
    return RULE_TITLES.get(rule, _ANY_RULE)


def _who(r: PersonRecord) -> str:
    return r.name or "（无姓名）"


def _which(r: PersonRecord, a: PersonRecord, b: PersonRecord) -> Text:
    """One of the pair by name, or by its place when both bear the same name."""
    if a.name != b.name:
        return {"zh": _who(r), "en": _who(r)}
    first = r is a
    return {"zh": f"{'前' if first else '后'}一条记录（{_who(r)}）",
            "en": f"the {'first' if first else 'second'} record ({_who(r)})"}


def _name_level(a: PersonRecord, b: PersonRecord) -> str:
    if a.name_norm and a.name_norm == b.name_norm:
        return "same"
    if a.pinyin and a.pinyin == b.pinyin:
        return "homophone"
    if not a.name_norm or not b.name_norm:
        return "unknown"
    return "differ"


def _compare(x: str, y: str) -> str:
    if not x or not y:
        return "unknown"
    return "same" if x == y else "differ"


def _sound_alike(a: PersonRecord, b: PersonRecord) -> str:
    """张伟/章伟: the characters that differ, or both names when the lengths differ."""
    x, y = a.name_norm, b.name_norm
    if len(x) == len(y):
        return "、".join(f"{p}/{q}" for p, q in zip(x, y, strict=True) if p != q)
    return f"{x}/{y}"


def _distinct_valid_ids(a: PersonRecord, b: PersonRecord, ida: str, idb: str) -> bool:
    """Both numbers valid 18-character ones, different, each carrying its own record's birth
    date: the police gave these two people two numbers. (A number that disagrees with its
    record's birth date may belong to someone else, e.g. a household member's.)"""
    return (ida != idb and check_ok(ida) and check_ok(idb)
            and embedded_birth(ida) == a.birth_date and embedded_birth(idb) == b.birth_date)


def _candidate(a: PersonRecord, b: PersonRecord, ida: str, idb: str, found: dict[str, object]) -> Candidate:
    name = _name_level(a, b)
    birth = _compare(a.birth_date, b.birth_date)
    sex = _compare(a.sex, b.sex)
    unit = _compare(a.unit, b.unit)
    same_household = a.household_key == b.household_key
    names_agree = name in ("same", "homophone")
    homophone_cut = 0.05 if name == "homophone" else 0.0
    sex_cut = 0.1 if sex == "differ" else 0.0
    reasons: list[Reason] = []
    likely_typo = None

    if SAME_ID in found:
        if name == "differ" and "differ" in (birth, sex):
            reasons.append(Reason(SAME_ID, 0.6, _SAME_ID_OTHERWISE_DIFFERENT))
        else:
            reasons.append(Reason(SAME_ID, 1.0, _SAME_ID))

    if ID_ONE_STEP in found:
        kind, position = found[ID_ONE_STEP]  # type: ignore[misc]
        if names_agree and birth == "same":
            score = 0.95
        elif names_agree:
            score = 0.85
        elif birth == "same":
            score = 0.4
        else:
            score = 0.3
        score -= (homophone_cut if names_agree else 0.0) + sex_cut
        if kind == "substitution":
            text = {"zh": f"身份证号仅第{position + 1}位不同", "en": f"ID numbers differ only in character {position + 1}"}
        else:
            text = {"zh": f"身份证号第{position + 1}、{position + 2}位颠倒",
                    "en": f"ID numbers differ by characters {position + 1} and {position + 2} swapped"}
        a_ok, b_ok = check_ok(ida), check_ok(idb)
        if a_ok != b_ok:
            typo = b if a_ok else a
            likely_typo = typo.key
            who = _which(typo, a, b)
            text = {"zh": f"{text['zh']}，{who['zh']}的号码校验位不符，应是录错",
                    "en": f"{text['en']}; the number of {who['en']} fails its check digit: likely the typo"}
        else:
            text = {"zh": f"{text['zh']}，两个号码校验位都不符", "en": f"{text['en']}; both numbers fail their check digit"}
        reasons.append(Reason(ID_ONE_STEP, _clamp(score), text))

    if ID_UPGRADE_15 in found:
        old, new = (_which(a, a, b), _which(b, a, b)) if is_id15(ida) else (_which(b, a, b), _which(a, a, b))
        score = (0.95 - homophone_cut) if names_agree else 0.6
        score -= sex_cut + (0.05 if birth == "differ" else 0.0)
        reasons.append(Reason(ID_UPGRADE_15, _clamp(score), {
            "zh": f"{old['zh']}的15位旧号码升为18位后与{new['zh']}的号码相同",
            "en": f"the 15-digit number of {old['en']}, upgraded to 18 characters, is the number of {new['en']}"}))

    if SAME_NAME_BIRTH in found or HOMOPHONE_NAME_BIRTH in found:
        homophone = SAME_NAME_BIRTH not in found
        score = 0.7 if homophone else 0.8
        score += {"same": 0.05, "differ": -0.2}.get(sex, 0.0)
        score += 0.05 if unit == "same" else 0.0
        score += 0.1 if same_household else 0.0
        if _distinct_valid_ids(a, b, ida, idb):
            score = min(score, 0.4)
        if homophone:
            reason = Reason(HOMOPHONE_NAME_BIRTH, _clamp(min(score, 0.95)), {
                "zh": f"姓名同音（{_sound_alike(a, b)}），出生日期相同",
                "en": f"names that sound the same ({_sound_alike(a, b)}) and the same birth date"})
        else:
            reason = Reason(SAME_NAME_BIRTH, _clamp(min(score, 0.95)), _SAME_NAME_BIRTH)
        reasons.append(reason)

    if SAME_NAME_HOUSEHOLD in found:
        score = 0.7 + {"same": 0.05, "differ": -0.2}.get(sex, 0.0)
        if _distinct_valid_ids(a, b, ida, idb):
            score = min(score, 0.4)
        reasons.append(Reason(SAME_NAME_HOUSEHOLD, _clamp(score), _SAME_NAME_HOUSEHOLD))

    reasons.sort(key=lambda r: -r.score)
    return Candidate(left=a.key, right=b.key, score=reasons[0].score, reasons=tuple(reasons),
                     evidence=tuple(_evidence(a, b, ida, idb, found, name, birth, sex, unit, same_household)),
                     same_household=same_household, likely_typo=likely_typo)


def _evidence(a: PersonRecord, b: PersonRecord, ida: str, idb: str, found: dict[str, object], name: str,
              birth: str, sex: str, unit: str, same_household: bool) -> list[Text]:
    """The other fields, for and against; what a rule's reason already says is not repeated."""
    out: list[Text] = []
    by_birth = SAME_NAME_BIRTH in found or HOMOPHONE_NAME_BIRTH in found
    by_name = by_birth or SAME_NAME_HOUSEHOLD in found
    if not by_name:
        if name == "same":
            out.append(_SAME_NAME)
        elif name == "homophone":
            out.append({"zh": f"姓名同音（{_sound_alike(a, b)}）", "en": f"names sound the same ({_sound_alike(a, b)})"})
        elif name == "differ":
            out.append({"zh": f"姓名不同（{a.name}/{b.name}）", "en": f"different names ({a.name}/{b.name})"})
    if not by_birth:
        if birth == "same":
            out.append(_SAME_BIRTH)
        elif birth == "differ":
            out.append({"zh": f"出生日期不同（{a.birth_date}/{b.birth_date}）",
                        "en": f"different birth dates ({a.birth_date}/{b.birth_date})"})
    if sex == "same":
        out.append(_SAME_SEX)
    elif sex == "differ":
        out.append(_OTHER_SEX)
    if by_name and SAME_ID not in found and ID_ONE_STEP not in found and ID_UPGRADE_15 not in found:
        if _distinct_valid_ids(a, b, ida, idb):
            out.append(_DISTINCT_VALID_IDS)
        elif not ida or not idb:
            out.append(_ONE_WITHOUT_ID)
    if same_household:
        out.append(_SAME_HOUSEHOLD)
    elif unit == "same":
        out.append(_SAME_UNIT)
    for r in (a, b):
        if r.status != ACTIVE:
            out.append({"zh": f"{_who(r)}已注销", "en": f"{_who(r)} is cancelled"})
    return out


def _clamp(score: float) -> float:
    return round(min(1.0, max(0.0, score)), 2)


__all__ = [
    "Candidate", "CappedBlock", "DuplicateReport", "Reason", "RULES",
    "SAME_ID", "ID_ONE_STEP", "ID_UPGRADE_15", "SAME_NAME_BIRTH", "HOMOPHONE_NAME_BIRTH", "SAME_NAME_HOUSEHOLD",
    "DEFAULT_BLOCK_CAP", "DEFAULT_MIN_SCORE", "RULE_TITLES", "exclude_decided", "find_duplicates", "pair_key",
    "rule_title",
]
