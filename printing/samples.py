"""Made-up books and cards (Faker zh_CN, seeded) for the tests, the bench and print previews.

Nobody in them exists: names, ID numbers (valid check digits) and addresses are invented.
"""
from __future__ import annotations

import random
import string
from datetime import date, timedelta

from faker import Faker

from printing.model import Book, Card, MemberRow, SignatureBox

TOWNSHIP = "宏村镇"
VILLAGE = ("341023101204", "塔川村")  # real codes (黟县), made-up people
BASE_URL = "https://doorstep.example.cn"
ROLES = ("制卡人", "村级审核", "乡级核验")
RELATIONS_ADULT = {True: ("子", "女婿"), False: ("女", "儿媳")}  # by sex: male?
RELATIONS_CHILD = {True: ("孙子", "外孙子"), False: ("孙女", "外孙女")}
HUKOU = ("农业", "农业", "非农业", "居民")


def sample_book(households: int = 12, *, seed: int = 1, book_no: int = 1, members: tuple[int, int] = (4, 6),
                print_date: date = date(2024, 5, 20), verified_share: float = 0.8) -> Book:
    """A book of `households` cards in slots 1..n, each with members[0]..members[1] people."""
    faker, rnd = _seeded(seed)
    code, name = VILLAGE
    cards = tuple(_card(faker, rnd, card_no=f"{slot + 100 * (book_no - 1):04d}", book_no=book_no, slot=slot,
                        members=rnd.randint(*members), print_date=print_date,
                        verified=rnd.random() < verified_share)
                  for slot in range(1, households + 1))
    return Book(code, name, TOWNSHIP, book_no, print_date, cards)


def sample_card(*, seed: int = 1, members: int = 5, card_no: str = "0042", book_no: int | None = 1,
                slot: int | None = 42, verified: bool = True, signed: int = 3,
                print_date: date = date(2024, 5, 20)) -> Card:
    """One card; `signed` of its three signature boxes carry a signature (in order)."""
    faker, rnd = _seeded(seed)
    return _card(faker, rnd, card_no=card_no, book_no=book_no, slot=slot, members=members,
                 print_date=print_date, verified=verified, signed=signed)


def _seeded(seed: int) -> tuple[Faker, random.Random]:
    faker = Faker("zh_CN")
    faker.seed_instance(seed)
    return faker, random.Random(seed)


def _card(faker: Faker, rnd: random.Random, *, card_no: str, book_no: int | None, slot: int | None,
          members: int, print_date: date, verified: bool, signed: int = 3) -> Card:
    code, village = VILLAGE
    group = f"第{'一二三四五六七八'[rnd.randrange(8)]}村民小组"
    door = f"{rnd.randint(1, 180)}号"
    age = rnd.randint(45, 75)  # of the head; the others' ages follow from it
    head = _person(faker, rnd, "户主", age, age, male=rnd.random() < 0.85)
    rows = [head]
    surname = head.name[0]
    for i in range(1, members):
        if i == 1:
            rows.append(_person(faker, rnd, "配偶", age - 5, age + 3, male=head.sex == "女"))
        else:
            adult, male = i < members - 2, rnd.random() < 0.5
            relations = (RELATIONS_ADULT if adult else RELATIONS_CHILD)[male]
            low, high = (18, age - 20) if adult else (0, 17)
            rows.append(_person(faker, rnd, rnd.choice(relations), low, high, surname, male))
    if members > 3 and rnd.random() < 0.15:  # now and then someone died: listed last, cancelled
        gone = rows.pop(1)
        rows.append(MemberRow(gone.name, gone.relationship, gone.sex, gone.birth_date, gone.id_number,
                              gone.hukou_type, "死亡注销", cancelled=True))
    signed_on = print_date - timedelta(days=rnd.randint(3, 40))
    signatures = tuple(
        SignatureBox(role, faker.name(), signed_on + timedelta(days=k), _signature_svg(rnd))
        if k < signed else SignatureBox(role, None, None, None)
        for k, role in enumerate(ROLES))
    token = "".join(rnd.choices(string.ascii_letters + string.digits, k=12))
    return Card(card_no=card_no, village_code=code, village_name=village, township_name=TOWNSHIP,
                location=group, door=door, address=f"安徽省黄山市黟县{TOWNSHIP}{village}{group}{door}",
                household_type="家庭户", head_name=head.name, members=tuple(rows),
                qr_url=f"{BASE_URL}/c/{code}-{card_no}.{token}", signatures=signatures,
                version_number=rnd.randint(1, 6), verified=verified, print_date=print_date,
                book_no=book_no, slot=slot)


def _person(faker: Faker, rnd: random.Random, relationship: str, min_age: int, max_age: int,
            surname: str | None = None, male: bool | None = None) -> MemberRow:
    male = rnd.random() < 0.5 if male is None else male
    birth = date(2024, 1, 1) - timedelta(days=rnd.randint(min_age * 365, max_age * 365 + 364))
    given = faker.first_name_male() if male else faker.first_name_female()
    return MemberRow((surname or faker.last_name()) + given, relationship, "男" if male else "女",
                     birth.isoformat(), _id_number(birth, male, rnd), rnd.choice(HUKOU), "正常")


def _id_number(birth: date, male: bool, rnd: random.Random) -> str:
    """An 18-digit 公民身份号码 of this county (GB 11643: sex in digit 17, ISO 7064 check digit)."""
    sequence = rnd.randrange(0, 1000, 2) + (1 if male else 0)
    body = f"{VILLAGE[0][:6]}{birth:%Y%m%d}{sequence:03d}"
    total = sum(int(d) * (2 ** (17 - i) % 11) for i, d in enumerate(body))
    return body + "10X98765432"[total % 11]


def _signature_svg(rnd: random.Random) -> str:
    """Strokes in the app's format (app/domain/signatures.py: a 1000 × 400 box, one path a stroke)."""
    paths = []
    x = rnd.randint(60, 160)
    for _ in range(rnd.randint(2, 4)):
        y = rnd.randint(120, 280)
        moves = " ".join(f"{rnd.randint(10, 40)} {rnd.randint(-60, 60)}" for _ in range(rnd.randint(6, 14)))
        paths.append(f'<path d="M{x} {y}l{moves}"/>')
        x += rnd.randint(150, 250)
    return ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1000 400" fill="none" stroke="#000" '
            'stroke-width="6" stroke-linecap="round" stroke-linejoin="round">' + "".join(paths) + "</svg>")
