"""Demo households: about 2,000 coherent rural families for the demo township, as form data.

Pure: no database, no Flask. `generate_households` returns what a collector would have typed
(the data shape of collection_forms: {"household": {...}, "members": [...]}) for each
household, with the group it lives in and a deterministic submission id, so that `flask
demo` can save them through registration.new_household and a rerun replays instead of
duplicating. The same seed and the same `today` give the same households, person ids
included (every random choice comes from one seeded random.Random).

What makes them coherent (each rule here is one the checks look for):
- a family shares the husband's surname (surnames drawn by frequency, see SURNAMES); wives
  and daughters-in-law keep their own, as in China;
- the head is 25-80; a spouse within 8 years; every marriage at legal age (women 20, men 22;
  Marriage Law art. 6) and before its first child; a mother is 18-40 years older than her
  children; the head's parents 20-35 years older than the head; children under 20 unmarried;
- ID numbers (GB 11643) carry the county code 341023 (黟县), the member's birth date and sex,
  and a correct check digit; no number is used twice (but see PROBLEMS);
- a married woman aged 15-49 has her marriage date, spouse, boys and girls born (those in
  the household plus those living elsewhere) and her youngest child's birth date and sex;
- about 10 % of adults are out-migrants with a place and a date; a few members are deceased
  (status deceased, cancelled_on), and the surviving spouse is widowed.

A small share (PROBLEM_SHARE) gets one deliberate problem each, so that the checks have
something to find; `DemoHousehold.problem` says which.
"""
from __future__ import annotations

import random
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, NamedTuple

from faker.providers.person.zh_CN import Provider as ZhNames
from stdnum.cn.ric import calc_check_digit

from collection_forms.conditions import derived

# GB/T 2260 code of 黟县 (Yi County, Huangshan, Anhui), the demo township's county.
COUNTY_CODE = "341023"
# Surnames with their frequency weights (percent), and given names, from Faker's zh_CN
# provider (MIT licence). Not ../shared/data/surnames_top100.csv: that file's data is
# CC BY-NC-SA (non-commercial), which this repository cannot take on; see app/demo/data/README.md.
SURNAMES: tuple[str, ...] = tuple(ZhNames.last_names)
SURNAME_WEIGHTS: tuple[float, ...] = tuple(ZhNames.last_names.values())
GIVEN_MALE: tuple[str, ...] = tuple(ZhNames.first_names_male)
GIVEN_FEMALE: tuple[str, ...] = tuple(ZhNames.first_names_female)

# Where out-migrants from a village in southern Anhui go.
MIGRATION_PLACES = ("浙江省杭州市", "浙江省宁波市", "浙江省义乌市", "上海市", "江苏省苏州市", "江苏省南京市",
                    "广东省深圳市", "广东省东莞市", "安徽省合肥市", "安徽省黄山市屯溪区", "北京市", "福建省厦门市")
MOBILE_PREFIXES = ("130", "131", "133", "135", "137", "138", "139", "150", "153", "155", "158", "177",
                   "180", "181", "186", "189", "199")

# The deliberate problems, each given to about PROBLEM_SHARE / 5 of the households.
PROBLEM_SHARE = 0.02
ID_CHECKSUM = "id_checksum"                      # one member's ID number has a wrong check digit
MISSING_HEAD = "missing_head"                    # nobody in the roster is the head (02)
DUPLICATE_ID = "duplicate_id_in_household"       # twins entered with the same ID number
DUPLICATE_ID_ELSEWHERE = "duplicate_id_across_households"  # a person registered in two households
CHILD_TOO_CLOSE = "child_too_close_to_head"      # a child less than 15 years younger than the head
PROBLEMS = (ID_CHECKSUM, MISSING_HEAD, DUPLICATE_ID, DUPLICATE_ID_ELSEWHERE, CHILD_TOO_CLOSE)

# The error rules each problem sets off: field checks (collection_forms.check) and household
# rules (quality/household.py); exactly these, nothing else.
PROBLEM_ERRORS: dict[str, frozenset[str]] = {
    ID_CHECKSUM: frozenset({"id.checksum"}),
    MISSING_HEAD: frozenset({"household.no_head"}),
    DUPLICATE_ID: frozenset({"household.duplicate_id"}),
    DUPLICATE_ID_ELSEWHERE: frozenset(),
    CHILD_TOO_CLOSE: frozenset({"household.child_age"}),
}
# Warnings every household may carry: collection_forms warns about the county code 341023
# for everyone born before 1987, the year 黟县 got it (python-stdnum's table; see id_number.py).
ALLOWED_WARNINGS = frozenset({"id.region"})
# Warnings a problem adds when saved (registration's check against the persons already saved).
PROBLEM_WARNINGS: dict[str, frozenset[str]] = {DUPLICATE_ID_ELSEWHERE: frozenset({"id.registered_elsewhere"})}
# What a problem may bring with it: a child born when the head was 13 or 14 usually has a
# mother of about the head's age, so the mother's age at that birth (collection_forms.birth_rules)
# is refused or warned too, when the child is her youngest (the one birth the form links to her).
PROBLEM_MAY_ADD: dict[str, frozenset[str]] = {
    CHILD_TOO_CLOSE: frozenset({"birth.mother_too_young", "birth.mother_young"})}

# Namespace of the demo's submission ids: uuid5(namespace, "<seed>:<index>").
SUBMISSION_NAMESPACE = uuid.UUID("6f1c3a52-8d0e-4b7e-9a51-2c4d0b9e7f13")

WOMAN_MIN_MARRIAGE_AGE = 20  # Marriage Law of the PRC (1980), art. 6
MAN_MIN_MARRIAGE_AGE = 22


class DemoHousehold(NamedTuple):
    unit_code: str  # the 村民小组 (group) the household lives in
    data: dict[str, Any]  # {"household": {...}, "members": [...]}, as typed on the form
    problem: str | None  # one of PROBLEMS, or None
    submission_id: uuid.UUID  # the same for the same seed and index: a rerun replays
    # For DUPLICATE_ID_ELSEWHERE: the index of the earlier household that holds the number.
    duplicate_of: int | None = None


def submission_id(seed: int, index: int) -> uuid.UUID:
    return uuid.uuid5(SUBMISSION_NAMESPACE, f"{seed}:{index}")


# ------------------------------------------------------------------ dates

def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a common year
        return day.replace(year=day.year + years, day=28)


def age_on(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


# ------------------------------------------------------------------ the family model

@dataclass(eq=False)
class Child:
    """A child born to a couple, living in the household (member) or elsewhere (None)."""
    birth: date
    sex: str
    member: Member | None = None


@dataclass(eq=False)
class Member:
    person_id: str
    surname: str
    given: str
    sex: str  # "1" male, "2" female
    birth: date
    role: str  # head, spouse, son, daughter, daughter_in_law, grandchild, father, mother, sibling,
    #            relative, nonrelative (relationship codes are worked out at the end)
    marital: str | None = None
    spouse: Member | None = None
    marriage_date: date | None = None
    mother: Member | None = None
    # Children born to this member's couple (the same list object for both spouses).
    born: list[Child] = field(default_factory=list)
    id_number: str | None = None
    education: str | None = None
    ethnicity: str = "01"
    management: str = "resident"
    migration_place: str | None = None
    migration_since: date | None = None
    status: str = "active"
    cancelled_on: date | None = None
    relationship: str | None = None  # fixed codes (collective households, copies); else derived

    @property
    def name(self) -> str:
        return self.surname + self.given


@dataclass(eq=False)
class Household:
    unit_code: str
    door_no: str
    household_type: str
    hukou_type: str
    phone: str | None
    members: list[Member]
    head: Member | None
    problem: str | None = None
    duplicate_of: int | None = None
    # Holds the original of a DUPLICATE_ID_ELSEWHERE copy: it must stay free of problems.
    lends_id: bool = False


class _Generator:
    def __init__(self, seed: int, today: date, place: str):
        self.rng = random.Random(seed)
        self.today = today
        self.place = place
        self.used_ids: set[str] = set()

    # ---- small draws

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def between(self, start: date, end: date) -> date:
        if end <= start:
            return start
        return start + timedelta(days=self.rng.randrange((end - start).days + 1))

    def birth_at_age(self, age: int) -> date:
        """A birth date of someone exactly `age` completed years old today."""
        latest = add_years(self.today, -age)
        return self.between(add_years(latest, -1) + timedelta(days=1), latest)

    def recent_day(self) -> date:
        """A day in the last five years (a death, a cancellation)."""
        return self.between(self.today - timedelta(days=5 * 365), self.today - timedelta(days=1))

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def surname(self) -> str:
        return self.rng.choices(SURNAMES, SURNAME_WEIGHTS)[0]

    def given(self, sex: str, avoid: Collection[str] = ()) -> str:
        names = GIVEN_MALE if sex == "1" else GIVEN_FEMALE
        for _ in range(20):
            name = self.rng.choice(names)
            if name not in avoid:
                return name
        return name

    def id_number(self, birth: date, sex: str) -> str:
        """GB 11643: county code, birth date, a sequence whose last digit is odd for a man, check."""
        while True:
            seq = self.rng.randrange(500) * 2 + (1 if sex == "1" else 0)
            body = f"{COUNTY_CODE}{birth:%Y%m%d}{seq:03d}"
            number = body + calc_check_digit(body + "0")
            if number not in self.used_ids:
                self.used_ids.add(number)
                return number

    def education(self, birth: date) -> str | None:
        age = age_on(birth, self.today)
        if age < 16:
            return None  # still at school
        if age < 19:
            return "71"  # 初中毕业, in senior school now
        year = birth.year
        if year < 1950:
            codes, weights = ("81", "83", "71", "90"), (30, 25, 15, 30)
        elif year < 1970:
            codes, weights = ("81", "71", "61", "83"), (25, 45, 20, 10)
        elif year < 1990:
            codes, weights = ("71", "61", "44", "31", "21"), (45, 20, 15, 12, 8)
        else:
            codes, weights = ("71", "61", "44", "31", "21", "14"), (20, 20, 15, 20, 22, 3)
        return self.rng.choices(codes, weights)[0]

    def person(self, role: str, sex: str, birth: date, surname: str | None = None,
               avoid: Collection[str] = ()) -> Member:
        m = Member(person_id=self.uuid(), surname=surname or self.surname(), given=self.given(sex, avoid),
                   sex=sex, birth=birth, role=role)
        m.education = self.education(birth)
        if self.chance(0.01):
            m.ethnicity = "03"  # 回族: a few in Anhui
        return m

    # ---- couples and children

    def marry(self, husband: Member, wife: Member, before: date | None = None) -> bool:
        """Give the couple a marriage date at legal age (and before `before`); False if none fits."""
        earliest = max(add_years(wife.birth, WOMAN_MIN_MARRIAGE_AGE),
                       add_years(husband.birth, MAN_MIN_MARRIAGE_AGE))
        latest = min(add_years(wife.birth, 30), before or self.today - timedelta(days=60),
                     self.today - timedelta(days=60))
        if earliest > latest:
            return False
        day = self.between(earliest, min(latest, add_years(earliest, 5)))
        for m, other in ((husband, wife), (wife, husband)):
            m.spouse, m.marriage_date = other, day
            m.marital = self.rng.choices(("21", "20", "22"), (70, 25, 5))[0]
        husband.born = wife.born = []
        return True

    def bear_children(self, mother: Member, count: int) -> None:
        """`count` births (fewer if the mother turns 41 or today comes first), after the marriage."""
        assert mother.marriage_date is not None
        last = min(add_years(mother.birth, 40), self.today - timedelta(days=1))
        day = mother.marriage_date + timedelta(days=self.rng.randrange(300, 3 * 365))
        while len(mother.born) < count and day <= last:
            mother.born.append(Child(day, "1" if self.chance(0.52) else "2"))
            day += timedelta(days=self.rng.randrange(330, 6 * 365))

    def children_count(self, mother_birth: date) -> int:
        year = mother_birth.year
        if year < 1955:
            return self.rng.choices((2, 3, 4, 5), (25, 35, 25, 15))[0]
        if year < 1972:
            return self.rng.choices((1, 2, 3), (35, 50, 15))[0]
        return self.rng.choices((0, 1, 2, 3), (8, 42, 42, 8))[0]

    def wife_for(self, husband: Member, role: str, not_before: date | None = None) -> Member | None:
        """A wife of about the husband's age (within 8 years; mostly 0-4 years younger)."""
        years = max(-8, min(8, round(self.rng.gauss(2, 2.5))))
        birth = self.between(add_years(husband.birth, years) - timedelta(days=180),
                             add_years(husband.birth, years) + timedelta(days=180))
        if not_before and birth < not_before:
            birth = self.between(not_before, not_before + timedelta(days=700))
        if abs((birth - husband.birth).days) > 8 * 365 \
                or age_on(birth, self.today) < WOMAN_MIN_MARRIAGE_AGE + 1:
            return None
        wife = self.person(role, "2", birth)
        return wife if self.marry(husband, wife) else None

    def is_married_out(self, child: Child) -> bool:
        age = age_on(child.birth, self.today)
        return age >= 23 and self.chance(min(0.95, 0.45 + (age - 23) * 0.08))

    # ---- households

    def family(self, unit_code: str, door_no: str) -> Household:
        rng = self.rng
        age = rng.choices((rng.randint(25, 34), rng.randint(35, 44), rng.randint(45, 54), rng.randint(55, 64),
                           rng.randint(65, 80)), (12, 15, 22, 23, 28))[0]
        male_head = self.chance(0.88)
        head = self.person("head", "1" if male_head else "2", self.birth_at_age(age))
        husband, wife = self.couple_of(head, age)
        members: list[Member] = [head]
        for spouse in (husband, wife):
            # The spouse is on the roster while alive; a late spouse only now and then, cancelled.
            listed = head.marital != "30" or spouse is not None and spouse.status == "deceased"
            if spouse is not None and spouse is not head and listed:
                members.append(spouse)
        if husband is not None and wife is not None:
            self.bear_children(wife, self.children_count(wife.birth))
            members.extend(self.children_of(head, wife, husband.surname))

        # The head's parents, now and then, 20-35 years older than the head.
        if age <= 58 and self.chance(0.22):
            members.extend(self.parents_of(head))
        # An unmarried younger brother or sister.
        if age < 50 and head.mother is None and self.chance(0.03):
            sib_birth = self.between(add_years(head.birth, 1), add_years(head.birth, 10))
            if age_on(sib_birth, self.today) >= 18:
                sex = "1" if self.chance(0.5) else "2"
                sib = self.person("sibling", sex, sib_birth, surname=head.surname, avoid={head.given})
                sib.marital = "10"
                members.append(sib)

        for m in members:
            self.migrate(m)
        hukou = "2" if self.chance(0.85) else "1"
        phone = self.mobile() if self.chance(0.8) else None
        return Household(unit_code, door_no, "family", hukou, phone, members, head)

    def couple_of(self, head: Member, age: int) -> tuple[Member | None, Member | None]:
        """(husband, wife) of the head's marriage, one of them the head; (None, None) if never
        married or divorced. A widowed head's late spouse is returned too (their children
        need a parent), marked deceased when they stay on the roster."""
        rng = self.rng
        male_head = head.sex == "1"
        married = self.chance(0.80 if age < 35 else 0.92 if age < 65 else 0.65)
        if male_head and married:
            wife = self.wife_for(head, "spouse")
            if wife is not None:
                return head, wife
        elif not male_head and married and self.chance(0.4):
            # A married woman heads the household (the husband moved in: 上门女婿).
            years = max(-8, min(8, round(rng.gauss(-2, 2.5))))
            husband = self.person("spouse", "1", add_years(head.birth, years))
            if age_on(husband.birth, self.today) > MAN_MIN_MARRIAGE_AGE and self.marry(husband, head):
                return husband, head
        if age < 55:
            head.marital = rng.choices(("10", "40"), (80, 20))[0]
            return None, None
        late = self.person("spouse", "2" if male_head else "1", add_years(head.birth, rng.randint(-3, 3)))
        pair = (head, late) if male_head else (late, head)
        married = self.marry(*pair)
        head.marital = "30"
        if not married:
            return None, None
        if self.chance(0.12):
            late.status = "deceased"
            late.cancelled_on = self.recent_day()
        return pair

    def children_of(self, head: Member, mother: Member, surname: str) -> list[Member]:
        """The couple's children who live in the household, and their families."""
        out: list[Member] = []
        names: set[str] = set()
        son_stays = age_on(head.birth, self.today) >= 48 and self.chance(0.55)
        for child in mother.born:
            age = age_on(child.birth, self.today)
            married_out = self.is_married_out(child)
            if child.sex == "1" and married_out and son_stays:
                son_stays = False
                member = self.person("son", "1", child.birth, surname=surname, avoid=names)
                child.member, member.mother = member, mother
                out.append(member)
                names.add(member.given)
                out.extend(self.son_family(head, member))
                continue
            if married_out or (age > 35 and self.chance(0.5)):
                continue  # lives elsewhere, counted only in the mother's children
            member = self.person("son" if child.sex == "1" else "daughter", child.sex, child.birth,
                                 surname=surname, avoid=names)
            member.marital = "10"
            child.member, member.mother = member, mother
            names.add(member.given)
            out.append(member)
        return out

    def son_family(self, head: Member, son: Member) -> list[Member]:
        """A married son who stayed: his wife (儿媳) and their children (孙子, 孙女)."""
        # Children (and children-in-law) of the head are at least 15 years younger than the head.
        wife = self.wife_for(son, "daughter_in_law", not_before=add_years(head.birth, 16))
        if wife is None:
            son.marital = "10"
            return []
        self.bear_children(wife, self.rng.choices((0, 1, 2), (10, 50, 40))[0])
        out = [wife]
        names: set[str] = {son.given}
        for child in wife.born:
            if age_on(child.birth, self.today) >= 25:
                continue  # grown up and gone
            g = self.person("grandchild", child.sex, child.birth, surname=son.surname, avoid=names)
            g.marital = "10"
            child.member, g.mother = g, wife
            names.add(g.given)
            out.append(g)
        return out

    def parents_of(self, head: Member) -> list[Member]:
        father = self.person("father", "1",
                             self.between(add_years(head.birth, -35), add_years(head.birth, -24)),
                             surname=head.surname if head.sex == "1" else None)
        mother = self.person("mother", "2",
                             self.between(add_years(head.birth, -33), add_years(head.birth, -21)))
        if abs((father.birth - mother.birth).days) > 8 * 365 or age_on(father.birth, self.today) > 95:
            return []
        if not self.marry(father, mother, before=head.birth - timedelta(days=300)):
            return []
        if head.sex == "2":
            head.surname = father.surname  # the parents' daughter carries her father's surname
        # The head and brothers and sisters living elsewhere.
        mother.born.append(Child(head.birth, head.sex, head))
        for _ in range(self.rng.choices((0, 1, 2, 3), (20, 40, 30, 10))[0]):
            birth = self.between(mother.marriage_date + timedelta(days=300), add_years(mother.birth, 40))
            if birth < self.today and abs((birth - head.birth).days) > 330:
                mother.born.append(Child(birth, "1" if self.chance(0.5) else "2"))
        mother.born.sort(key=lambda c: c.birth)
        head.mother = mother
        out = [father, mother]
        if self.chance(0.3):
            # One of them has died: cancelled, and the other widowed.
            gone, other = (father, mother) if self.chance(0.6) else (mother, father)
            other.marital = "30"
            if self.chance(0.4):
                gone.status = "deceased"
                gone.cancelled_on = self.recent_day()
            else:
                out.remove(gone)
        return out

    def migrate(self, m: Member) -> None:
        age = age_on(m.birth, self.today)
        if m.status == "active" and 18 <= age <= 55 and self.chance(0.2):
            self.make_out_migrant(m)

    def make_out_migrant(self, m: Member) -> None:
        m.management = "out_migrant"
        m.migration_place = self.rng.choice(MIGRATION_PLACES)
        start = max(add_years(m.birth, 18), self.today - timedelta(days=15 * 365))
        m.migration_since = self.between(start, self.today - timedelta(days=30))

    def mobile(self) -> str:
        return self.rng.choice(MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"

    def nominal(self, unit_code: str, door_no: str) -> Household:
        """空挂户: registered here, nobody lives here (a young couple working in a city)."""
        head = self.person("head", "1", self.birth_at_age(self.rng.randint(25, 45)))
        members = [head]
        wife = self.wife_for(head, "spouse")
        if wife is None:
            head.marital = "10"
        else:
            members.append(wife)
            self.bear_children(wife, self.rng.choices((0, 1), (50, 50))[0])
            members.extend(self.children_of(head, wife, head.surname))
        for m in members:
            self.make_out_migrant(m)
            if m is not head:
                m.migration_place = head.migration_place
                m.migration_since = max(head.migration_since or m.birth, m.birth)  # not before birth
        return Household(unit_code, door_no, "nominal", "2", self.mobile(), members, head)

    def collective(self, unit_code: str, door_no: str) -> Household:
        """集体户: the township's old people's home (敬老院), its manager as the head."""
        sex = "1" if self.chance(0.6) else "2"
        head = self.person("head", sex, self.birth_at_age(self.rng.randint(40, 58)))
        # The manager's own family lives elsewhere (spouse and children are not on this roster).
        if head.sex == "1":
            spouse = self.wife_for(head, "spouse")
            if spouse is not None:
                self.bear_children(spouse, self.children_count(spouse.birth))
        else:
            spouse = self.person("spouse", "1", add_years(head.birth, self.rng.randint(-5, 1)))
            if self.marry(spouse, head):
                self.bear_children(head, self.children_count(head.birth))
        if head.marital is None:
            head.marital = "10"
        members = [head]
        for _ in range(self.rng.randint(4, 9)):
            sex = "1" if self.chance(0.55) else "2"
            m = self.person("nonrelative", sex, self.birth_at_age(self.rng.randint(62, 92)))
            m.relationship = "99"
            m.marital = self.rng.choices(("10", "30", "40"), (45, 45, 10))[0]
            members.append(m)
        return Household(unit_code, door_no, "collective", "4", self.mobile(), members, head)


# ------------------------------------------------------------------ relationship codes

_SON_ORDINAL = ("22", "23", "24", "25", "26")  # 长子 次子 三子 四子 五子
_DAUGHTER_ORDINAL = ("32", "33", "34", "35", "36")  # 长女 次女 三女 四女 五女


def _child_code(m: Member) -> str:
    """GB/T 4761: 21 独生子 for an only child; 22-26 by order when there are several sons; else 20."""
    born = m.mother.born if m.mother else []
    same_sex = sorted((c for c in born if c.sex == m.sex), key=lambda c: c.birth)
    son = m.sex == "1"
    if len(born) == 1:
        return "21" if son else "31"
    if len(same_sex) > 1:
        position = next((i for i, c in enumerate(same_sex) if c.member is m), None)
        if position is not None and position < 5:
            return (_SON_ORDINAL if son else _DAUGHTER_ORDINAL)[position]
        return "29" if son else "39"
    return "20" if son else "30"


def relationship_code(m: Member, head: Member | None) -> str:
    if m.relationship:
        return m.relationship
    if m.role == "head":
        return "02"
    if m.role == "spouse":
        if head is not None and head.sex == m.sex:
            return "10"
        return "12" if m.sex == "2" else "11"  # 妻 / 夫
    if m.role in ("son", "daughter"):
        return _child_code(m)
    if m.role == "daughter_in_law":
        return "38"
    if m.role == "grandchild":
        return "41" if m.sex == "1" else "42"  # 孙子 / 孙女: a son's children (sons stay, daughters marry out)
    if m.role == "father":
        return "51"
    if m.role == "mother":
        return "52"
    if m.role == "sibling":
        return "73" if m.sex == "1" else "77"  # 弟 / 妹妹: younger than the head
    return "97"


# ------------------------------------------------------------------ to form data

def _member_data(m: Member, head: Member | None, roster: list[Member], place: str,
                 today: date) -> dict[str, Any]:
    d: dict[str, Any] = {
        "person_id": m.person_id,
        "name": m.name,
        "sex": m.sex,
        "birth_date": m.birth.isoformat(),
    }
    if m.id_number:
        d["id_number"] = m.id_number
    d["ethnicity"] = m.ethnicity
    d["relationship"] = relationship_code(m, head)
    d["marital_status"] = m.marital or "10"
    if m.education:
        d["education"] = m.education
    d["hukou_type"] = "2"
    d["hukou_place"] = place
    d["residence_place"] = m.migration_place if m.management == "out_migrant" else place
    d["management"] = m.management
    if m.management != "resident":
        d["migration_place"] = m.migration_place
        d["migration_since"] = m.migration_since.isoformat() if m.migration_since else None
    d["status"] = m.status
    if m.status != "active":
        d["cancellation_reason"] = "死亡" if m.status == "deceased" else "其他"
        d["cancelled_on"] = m.cancelled_on.isoformat() if m.cancelled_on else None
    if derived(d, today)["married_woman_15_49"]:
        spouse = m.spouse
        if m.marriage_date:
            d["marriage_date"] = m.marriage_date.isoformat()
        if spouse is not None and spouse in roster and spouse.status == "active":
            d["spouse_member"] = spouse.person_id
        elif spouse is not None:
            if spouse.id_number:
                d["spouse_id_number"] = spouse.id_number
            d["spouse_name"] = spouse.name
        born = [c for c in m.born if c.birth <= today]
        d["boys"] = sum(c.sex == "1" for c in born)
        d["girls"] = sum(c.sex == "2" for c in born)
        if born:
            youngest = max(born, key=lambda c: c.birth)
            d["youngest_birth_date"] = youngest.birth.isoformat()
            d["youngest_sex"] = youngest.sex
    return {k: v for k, v in d.items() if v is not None}


def household_data(h: Household, place: str, today: date) -> dict[str, Any]:
    household: dict[str, Any] = {"group_code": h.unit_code, "door_no": h.door_no,
                                 "household_type": h.household_type, "hukou_type": h.hukou_type}
    if h.phone:
        household["phone"] = h.phone
    members = []
    for m in h.members:
        d = _member_data(m, h.head, h.members, place, today)
        d["hukou_type"] = h.hukou_type
        members.append(d)
    return {"household": household, "members": members}


# ------------------------------------------------------------------ deliberate problems

def _problem_candidates(kind: str, h: Household, g: _Generator) -> list[Member]:
    """Members of `h` through whom `kind` can be introduced without setting off other rules."""
    if h.household_type != "family" or h.problem is not None or h.lends_id or h.head is None:
        return []
    active = [m for m in h.members if m.status == "active"]
    if kind == ID_CHECKSUM:
        return [m for m in active if m.id_number and m.role != "head"]
    if kind == MISSING_HEAD:
        return [h.head] if len(active) >= 2 else []
    if kind == DUPLICATE_ID:
        # A child under 16 with no family of their own: "twins" share one number.
        return [m for m in active if m.role in ("son", "daughter") and m.id_number
                and age_on(m.birth, g.today) < 16 and m.mother is not None]
    if kind == CHILD_TOO_CLOSE:
        return [m for m in active if m.role in ("son", "daughter") and m.spouse is None
                and m.mother is not None and m.mother.role in ("spouse", "head")
                and add_years(h.head.birth, 13) < g.today - timedelta(days=1)]
    if kind == DUPLICATE_ID_ELSEWHERE:
        return [h.head]  # the receiving household: anyone with a head will do
    return []


def _introduce(kind: str, h: Household, who: Member, g: _Generator, households: list[Household]) -> None:
    h.problem = kind
    if kind == ID_CHECKSUM:
        assert who.id_number
        right = who.id_number[17]
        who.id_number = who.id_number[:17] + g.rng.choice([c for c in "0123456789X" if c != right])
    elif kind == MISSING_HEAD:
        h.members.remove(who)  # the wife, if any, now names her husband as a spouse elsewhere
    elif kind == DUPLICATE_ID:
        twin = g.person(who.role, who.sex, who.birth, surname=who.surname, avoid={who.given})
        twin.marital, twin.mother, twin.id_number = who.marital, who.mother, who.id_number
        twin.education, twin.management = who.education, who.management
        assert who.mother is not None
        who.mother.born.append(Child(who.birth, who.sex, twin))
        h.members.insert(h.members.index(who) + 1, twin)
    elif kind == CHILD_TOO_CLOSE:
        assert h.head is not None
        # Born when the head was 13 or 14: a typing slip in the year, or a wrong relationship.
        birth = g.between(add_years(h.head.birth, 13), min(add_years(h.head.birth, 15) - timedelta(days=1),
                                                            g.today - timedelta(days=1)))
        assert who.mother is not None
        for child in who.mother.born:
            if child.member is who:
                child.birth = birth
        who.birth = birth
        who.id_number = g.id_number(birth, who.sex)
        who.marital = "10"
        who.education = g.education(birth)
        if age_on(birth, g.today) < 18:
            who.management, who.migration_place, who.migration_since = "resident", None, None
    elif kind == DUPLICATE_ID_ELSEWHERE:
        # A grown son or daughter of an earlier household, registered here again as a relative
        # without being cancelled there (重复登记).
        for index, other in enumerate(households):
            if other is h:
                break
            source = [m for m in other.members if m.role in ("son", "daughter") and m.status == "active"
                      and m.id_number and m.spouse is None and age_on(m.birth, g.today) >= 18]
            if source and other.problem is None and not other.lends_id:
                original = source[0]
                other.lends_id = True
                copy = Member(person_id=g.uuid(), surname=original.surname, given=original.given,
                              sex=original.sex, birth=original.birth, role="relative", marital="10",
                              id_number=original.id_number, education=original.education,
                              ethnicity=original.ethnicity, relationship="97")
                h.members.append(copy)
                h.duplicate_of = index
                return
        h.problem = None  # no earlier household offers anyone: leave this one clean


def _add_problems(households: list[Household], g: _Generator) -> None:
    count = len(households)
    wanted = min(count // 4, max(len(PROBLEMS), round(count * PROBLEM_SHARE))) if count else 0
    order = list(range(count))
    g.rng.shuffle(order)
    for n in range(wanted):
        kind = PROBLEMS[n % len(PROBLEMS)]
        # The receiving household of a cross-household duplicate must come after its source.
        for i in order:
            h = households[i]
            if kind == DUPLICATE_ID_ELSEWHERE and i < count // 2:
                continue
            candidates = _problem_candidates(kind, h, g)
            if candidates:
                _introduce(kind, h, g.rng.choice(candidates), g, households)
                if h.problem:  # else no earlier household offered a person to copy: try the next
                    break


# ------------------------------------------------------------------ the public function

def generate_households(village_codes_and_groups: Mapping[str, Sequence[str]], count: int, seed: int,
                        today: date, *, place: str = "安徽省黄山市黟县宏潭乡") -> list[DemoHousehold]:
    """`count` households spread evenly over the groups of the villages (village code -> its
    group codes; a village without groups takes the households itself), in village, group
    and door order. `place` is the hukou place and residence of those who live at home."""
    units = [g for v in sorted(village_codes_and_groups)
             for g in (sorted(village_codes_and_groups[v]) or [v])]
    if count <= 0 or not units:
        return []
    gen = _Generator(seed, today, place)
    per_unit = [count // len(units) + (1 if i < count % len(units) else 0) for i in range(len(units))]
    households: list[Household] = []
    for unit_code, n in zip(units, per_unit):
        door = 0
        kinds = ["family"] * n
        for i in range(n):
            roll = gen.rng.random()
            kinds[i] = "nominal" if roll < 0.015 else "collective" if roll < 0.025 else "family"
        for kind in kinds:
            door += gen.rng.choices((1, 2, 3), (80, 15, 5))[0]  # numbers are not always consecutive
            make = {"family": gen.family, "nominal": gen.nominal, "collective": gen.collective}[kind]
            h = make(unit_code, f"{door}号")
            # ID numbers last: members without one are infants whose hukou is not yet registered.
            for m in h.members:
                if m.id_number is None and not (age_on(m.birth, today) < 1 and gen.chance(0.5)):
                    m.id_number = gen.id_number(m.birth, m.sex)
            households.append(h)
    # The spouses living elsewhere (a married woman's husband not on the roster) need numbers
    # too; they are filled as people are, here, so that every number in the demo is unique.
    for h in households:
        for m in h.members:
            if m.spouse is not None and m.spouse not in h.members and m.spouse.id_number is None:
                m.spouse.id_number = gen.id_number(m.spouse.birth, m.spouse.sex)
    _add_problems(households, gen)
    return [DemoHousehold(h.unit_code, household_data(h, place, today), h.problem, submission_id(seed, i),
                          h.duplicate_of)
            for i, h in enumerate(households)]
