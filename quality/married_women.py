"""The ten logic relations of a married woman aged 15-49 (已婚育龄妇女逻辑关系).

The seed's 逻辑关系误差率 = logic errors ÷ (married women × 10) × 100 %: every married woman
aged 15-49 has ten relations between her items, and each relation that fails counts once for
her, at most (so the rate is at most 100 %). The seed names the rate, not the ten; these are
the ten we check, over the items the form has for her (collection_forms/definitions/
household.yaml, group `married_woman`: marriage_date, spouse_member / spouse_name /
spouse_id_number, boys, girls, youngest_birth_date, youngest_sex) and her own row:

 1 mw.id_agrees           error    her ID number says what the form says: a woman, born on her
                                   birth date (so she is 15-49 by the number too: "age within
                                   15-49" holds by definition for the women counted, from the
                                   typed birth date; what can fail is the number behind it)
 2 mw.marriage_date       error    married (婚姻状况 20-23) with a marriage date
 3 mw.marriage_age        warning  the marriage date not before her legal marriage age (18
                                   before 1981-01-01, 20 since: Marriage Law)
 4 mw.marriage_not_future error    the marriage date not after the reference date (today)
 5 mw.children_count      error    boys and girls filled, and not fewer than her sons and
                                   daughters present in the household
 6 mw.youngest_given      error    with children (boys + girls > 0), the youngest child's birth
                                   date and sex filled, the sex one she has (a boy needs boys ≥ 1)
 7 mw.youngest_present    error    the youngest child's birth date and sex equal those of the
                                   youngest of her children present in the household
 8 mw.mother_age          warning  no child born before she was 15 (the youngest child's date
                                   and her children present)
 9 mw.spouse_given        error    the spouse identified: a member of the household, or his name
                                   and ID number
10 mw.spouse_consistent   error    the spouse of the other sex, married and active on his member
                                   row, the head if she is the head's wife (and a man's ID number
                                   if given by number)

Which children are hers: only when she is the head (02) or the head's spouse (10, 11, 12),
the head's children by birth (household.CHILD) are taken as hers; for any other woman the
household does not say, and relations 5 and 7 read only her own items. A relation that cannot
be judged (its items are missing; relation 2, 5, 6 or 9 fails for that) does not fail: each
gap counts once. All ten count in the rate whatever their level: a level says what a
collector sees (a warning is plausible but unusual, e.g. a mother of 14), the rate counts
every failed relation; a failure with a special reason is explained, not deleted (issue 17).
The marriage age (3) repeats the save-time rule household.marriage_age for her on purpose, so
that the rate does not depend on which rules run at save.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from collection_forms import Issue
from collection_forms.conditions import MARRIED, age_on, as_date, derived
from collection_forms.id_number import IdNumberError, parse_id_number
from quality.household import CHILD, HEAD, SPOUSE, is_active, legal_marriage_age, member_issue

RELATIONS_PER_WOMAN = 10
MIN_MOTHER_AGE = 15  # "no child born before she was 15"

Member = Mapping[str, Any]


@dataclass(frozen=True)
class _Household:
    members: Sequence[Member]
    active: list[tuple[int, Member]]
    by_person_id: dict[str, tuple[int, Member]]
    today: date


@dataclass(frozen=True)
class WomanRelations:
    """One married woman aged 15-49 and the relations she fails (at most one Issue each)."""
    index: int                 # her index in the members list
    person_id: str | None
    failed: tuple[Issue, ...]  # in the order of LOGIC_RELATIONS

    @property
    def failed_rules(self) -> tuple[str, ...]:
        return tuple(i.rule for i in self.failed)

    @property
    def logic_errors(self) -> int:
        return len(self.failed)


def married_women(household_data: Mapping[str, Any], today: date) -> Iterator[tuple[int, Member]]:
    """(index, member) of every active married woman aged 15-49 on `today` (the derived
    predicate married_woman_15_49 of collection_forms.conditions): the rate's denominator."""
    for i, m in enumerate(_members(household_data)):
        if is_active(m) and derived(m, today)["married_woman_15_49"]:
            yield i, m


def logic_relations(household_data: Mapping[str, Any], today: date) -> list[WomanRelations]:
    """For each married woman aged 15-49 of the household, which of the ten relations fail."""
    h = _household(household_data, today)
    out = []
    for i, m in married_women(household_data, today):
        failed = tuple(issue for _rule, _level, relation in RELATIONS
                       if (issue := relation(h, i, m)) is not None)
        pid = m.get("person_id")
        out.append(WomanRelations(i, str(pid) if pid is not None else None, failed))
    return out


def check_married_women(household_data: Mapping[str, Any], today: date) -> list[Issue]:
    """Every failed relation of every married woman of the household, as Issues."""
    return [issue for w in logic_relations(household_data, today) for issue in w.failed]


def logic_error_rate(logic_errors: int, married_women_count: int) -> float | None:
    """The seed's 逻辑关系误差率 as a fraction (0-1): errors ÷ (women × 10); None without women.
    Example from the seed: 40 errors among 160 women → 40 ÷ 1600 = 0.025 (2.5 %)."""
    if married_women_count <= 0:
        return None
    if not 0 <= logic_errors <= married_women_count * RELATIONS_PER_WOMAN:
        raise ValueError(f"{logic_errors} logic errors cannot come from {married_women_count} women "
                         f"(at most {RELATIONS_PER_WOMAN} each)")
    return logic_errors / (married_women_count * RELATIONS_PER_WOMAN)


# ---------------------------------------------------------------- helpers

def _members(data: Mapping[str, Any]) -> list[Member]:
    return [m for m in (data.get("members") or []) if isinstance(m, Mapping)]


def _household(data: Mapping[str, Any], today: date) -> _Household:
    members = _members(data)
    active = [(i, m) for i, m in enumerate(members) if is_active(m)]
    by_pid = {str(m["person_id"]): (i, m) for i, m in enumerate(members) if m.get("person_id") is not None}
    return _Household(members, active, by_pid, today)


def _children(h: _Household, woman: Member) -> list[tuple[int, Member]] | None:
    """Her children present (active), or None when the household cannot say who they are."""
    rel = woman.get("relationship")
    if rel != HEAD and rel not in SPOUSE:
        return None
    return [(i, m) for i, m in h.active if m.get("relationship") in CHILD]


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


_SEX_ZH = {"1": "男", "2": "女"}
_SEX_EN = {"1": "boy", "2": "girl"}


# ---------------------------------------------------------------- the ten relations

def _id_agrees(h: _Household, i: int, m: Member) -> Issue | None:
    number, birth = m.get("id_number"), as_date(m.get("birth_date"))
    if not isinstance(number, str) or birth is None:
        return None
    try:
        info = parse_id_number(number, h.today)
    except IdNumberError:
        return None  # a wrong number is the field rules' finding (id.*), not a relation
    if info.sex == "2" and info.birth_date == birth:
        return None
    said = f"{info.birth_date.isoformat()}出生的{'女性' if info.sex == '2' else '男性'}"
    said_en = f"a {'woman' if info.sex == '2' else 'man'} born {info.birth_date.isoformat()}"
    return member_issue("mw.id_agrees", "error", i, m, "id_number",
                        f"的身份证号码表明是{said}，与登记的性别或出生日期（{birth.isoformat()}）不一致，请核对",
                        f"the ID number says {said_en}, not the sex or birth date on the form "
                        f"({birth.isoformat()}); check them")


def _marriage_date(h: _Household, i: int, m: Member) -> Issue | None:
    if m.get("marriage_date") is not None:
        return None
    return member_issue("mw.marriage_date", "error", i, m, "marriage_date",
                        "的婚姻状况为已婚，但没有填写结婚日期", "is married but has no date of marriage")


def _marriage_age(h: _Household, i: int, m: Member) -> Issue | None:
    married_on, birth = as_date(m.get("marriage_date")), as_date(m.get("birth_date"))
    if married_on is None or birth is None:
        return None
    minimum = legal_marriage_age("2", married_on)
    if age_on(birth, married_on) >= minimum:
        return None
    return member_issue("mw.marriage_age", "warning", i, m, "marriage_date",
                        f"在结婚日期 {married_on.isoformat()} 未满法定婚龄 {minimum} 岁，请核对结婚日期或出生日期",
                        f"was under the legal marriage age of {minimum} on the marriage date "
                        f"{married_on.isoformat()}; check the marriage date or the birth date")


def _marriage_not_future(h: _Household, i: int, m: Member) -> Issue | None:
    married_on = as_date(m.get("marriage_date"))
    if married_on is None or married_on <= h.today:
        return None
    return member_issue("mw.marriage_not_future", "error", i, m, "marriage_date",
                        f"的结婚日期（{married_on.isoformat()}）晚于今天", f"the date of marriage "
                        f"({married_on.isoformat()}) is in the future")


def _children_count(h: _Household, i: int, m: Member) -> Issue | None:
    boys, girls = _count(m.get("boys")), _count(m.get("girls"))
    if boys is None or girls is None:
        field = "boys" if boys is None else "girls"
        return member_issue("mw.children_count", "error", i, m, field,
                            "没有填写生育男孩数或女孩数（没有孩子填0）",
                            "the number of boys or girls born is not filled in (0 when none)")
    children = _children(h, m)
    if children is None:
        return None
    sons = sum(1 for _, c in children if c.get("sex") == "1")
    daughters = sum(1 for _, c in children if c.get("sex") == "2")
    if boys >= sons and girls >= daughters:
        return None
    field = "boys" if boys < sons else "girls"
    return member_issue("mw.children_count", "error", i, m, field,
                        f"登记生育男孩{boys}个、女孩{girls}个，但本户有她的儿子{sons}个、女儿{daughters}个，请核对",
                        f"{boys} boys and {girls} girls born are recorded, but {sons} sons and {daughters} "
                        "daughters of hers live in the household; check the numbers")


def _youngest_given(h: _Household, i: int, m: Member) -> Issue | None:
    boys, girls = _count(m.get("boys")) or 0, _count(m.get("girls")) or 0
    if boys + girls == 0:
        return None
    sex = m.get("youngest_sex")
    if m.get("youngest_birth_date") is None or sex is None:
        field = "youngest_birth_date" if m.get("youngest_birth_date") is None else "youngest_sex"
        return member_issue("mw.youngest_given", "error", i, m, field,
                            "有孩子，但没有填写最小孩子的出生日期或性别",
                            "has children, but the youngest child's date of birth or sex is not filled in")
    if (sex == "1" and boys == 0) or (sex == "2" and girls == 0):
        return member_issue("mw.youngest_given", "error", i, m, "youngest_sex",
                            f"的最小孩子性别为{_SEX_ZH.get(sex, sex)}，但生育{_SEX_ZH.get(sex, sex)}孩数为0",
                            f"the youngest child is a {_SEX_EN.get(sex, sex)}, but no {_SEX_EN.get(sex, sex)}s "
                            "born are recorded")
    return None


def _youngest_present(h: _Household, i: int, m: Member) -> Issue | None:
    youngest, sex = as_date(m.get("youngest_birth_date")), m.get("youngest_sex")
    children = _children(h, m)
    if youngest is None or not children:
        return None
    dated = [(d, c) for _, c in children if (d := as_date(c.get("birth_date"))) is not None]
    if not dated:
        return None
    last = max(d for d, _ in dated)
    sexes = {c.get("sex") for d, c in dated if d == last}  # twins: either may be the youngest
    if last == youngest and (sex is None or sex in sexes):
        return None
    who = next(c for d, c in dated if d == last)
    name = str(who.get("name") or "").strip()
    return member_issue("mw.youngest_present", "error", i, m, "youngest_birth_date",
                        f"的最小孩子登记为{youngest.isoformat()}出生的{_SEX_ZH.get(sex, '')}孩，但本户最小的孩子"
                        f"{name}是{last.isoformat()}出生的，请核对",
                        f"the youngest child is recorded as a {_SEX_EN.get(sex, 'child')} born "
                        f"{youngest.isoformat()}, but the youngest child in the household, {name}, was born "
                        f"{last.isoformat()}; check them")


def _mother_age(h: _Household, i: int, m: Member) -> Issue | None:
    birth = as_date(m.get("birth_date"))
    if birth is None:
        return None
    births = [d for d in [as_date(m.get("youngest_birth_date"))] if d is not None]
    births += [d for _, c in _children(h, m) or [] if (d := as_date(c.get("birth_date"))) is not None]
    if not births:
        return None
    earliest = min(births)
    if earliest >= birth and age_on(birth, earliest) >= MIN_MOTHER_AGE:
        return None
    return member_issue("mw.mother_age", "warning", i, m, "youngest_birth_date",
                        f"（{birth.isoformat()}出生）在{earliest.isoformat()}有孩子出生时不满{MIN_MOTHER_AGE}岁，"
                        "请核对出生日期",
                        f"(born {birth.isoformat()}) was under {MIN_MOTHER_AGE} at a child's birth on "
                        f"{earliest.isoformat()}; check the dates")


def _spouse_given(h: _Household, i: int, m: Member) -> Issue | None:
    if m.get("spouse_member") is not None:
        return None
    if m.get("spouse_name") is not None and m.get("spouse_id_number") is not None:
        return None
    field = "spouse_name" if m.get("spouse_name") is None else "spouse_id_number"
    return member_issue("mw.spouse_given", "error", i, m, field,
                        "没有填写配偶：请选择本户的配偶，或填写配偶姓名和身份证号码",
                        "no spouse is given: choose the spouse among the members, or enter his name and "
                        "ID number")


def _spouse_consistent(h: _Household, i: int, m: Member) -> Issue | None:
    ref = m.get("spouse_member")
    if ref is not None:
        found = h.by_person_id.get(str(ref))
        if found is None or found[0] == i:
            return None  # a reference to no one is the field rule field.member_ref
        j, spouse = found
        name = str(spouse.get("name") or "").strip() or f"第{j + 1}位成员"
        problems: list[tuple[str, str]] = []
        if spouse.get("sex") == "2":
            problems.append(("也是女性", "is a woman too"))
        if not is_active(spouse):
            problems.append(("已注销", "is cancelled"))
        if spouse.get("marital_status") is not None and spouse.get("marital_status") not in MARRIED:
            problems.append(("的婚姻状况不是已婚", "is not married by his marital status"))
        rel, spouse_rel = m.get("relationship"), spouse.get("relationship")
        if rel in SPOUSE and spouse_rel != HEAD and any(x.get("relationship") == HEAD for _, x in h.active):
            problems.append(("不是户主（她是户主的配偶）", "is not the head (she is the head's spouse)"))
        if rel == HEAD and spouse_rel not in SPOUSE:
            problems.append(("与户主关系不是配偶（她是户主）", "is not the head's spouse (she is the head)"))
        if not problems:
            return None
        return member_issue("mw.spouse_consistent", "error", i, m, "spouse_member",
                            f"的配偶{name}" + "、".join(zh for zh, _ in problems) + "，请核对",
                            f"the spouse {name} " + "; ".join(en for _, en in problems) + "; check the spouse")
    number = m.get("spouse_id_number")
    if not isinstance(number, str):
        return None
    if number == m.get("id_number"):
        return member_issue("mw.spouse_consistent", "error", i, m, "spouse_id_number",
                            "的配偶身份证号码与本人相同", "the spouse's ID number is her own")
    try:
        info = parse_id_number(number, h.today)
    except IdNumberError:
        return None  # the field rules report a wrong number
    if info.sex == "2":
        return member_issue("mw.spouse_consistent", "error", i, m, "spouse_id_number",
                            "的配偶身份证号码是女性的号码，请核对", "the spouse's ID number is a woman's; check it")
    return None


Relation = Callable[[_Household, int, Member], Issue | None]
# (rule id, level, check) in the order of the module docstring; the registry reads this.
RELATIONS: tuple[tuple[str, str, Relation], ...] = (
    ("mw.id_agrees", "error", _id_agrees),
    ("mw.marriage_date", "error", _marriage_date),
    ("mw.marriage_age", "warning", _marriage_age),
    ("mw.marriage_not_future", "error", _marriage_not_future),
    ("mw.children_count", "error", _children_count),
    ("mw.youngest_given", "error", _youngest_given),
    ("mw.youngest_present", "error", _youngest_present),
    ("mw.mother_age", "warning", _mother_age),
    ("mw.spouse_given", "error", _spouse_given),
    ("mw.spouse_consistent", "error", _spouse_consistent),
)
LOGIC_RELATIONS: tuple[str, ...] = tuple(rule for rule, _, _ in RELATIONS)
if len(LOGIC_RELATIONS) != RELATIONS_PER_WOMAN:  # the rate's denominator assumes ten
    raise RuntimeError("the seed's rate counts ten relations per woman")
