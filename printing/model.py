"""What the app hands to the printing package: plain frozen values, display strings only.

The app turns its records into these (labels already in Chinese, dates of birth already
formatted); the templates never see a database object (STYLE.md 7, "print from plain data").
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

BOOK_SLOTS = 100  # 百户一册 (DESIGN.md §7)
PAGE_SIZES = ("A4", "A5")  # portrait; A4 is the default


@dataclass(frozen=True)
class MemberRow:
    """One line of the member table; every value a display string, '' when unknown."""

    name: str
    relationship: str
    sex: str
    birth_date: str
    id_number: str
    hukou_type: str
    status: str  # e.g. '正常', '死亡注销'
    cancelled: bool = False  # a cancelled person stays on the card but is not counted as a member


@dataclass(frozen=True)
class SignatureBox:
    role_label: str  # '制卡人', '村级审核', '乡级核验'
    name: str | None  # None: not signed, the box shows empty lines
    signed_on: date | None
    svg: str | None  # the drawn signature, a small SVG document made by the app (trusted)


@dataclass(frozen=True)
class TransferredOut:
    """The household moved to another village: its page stays in this village's book, as it
    was here, marked '已迁出 / transferred out' with where it went."""

    on: date
    to_village: str  # the village's name
    to_card_no: str  # its card number there


@dataclass(frozen=True)
class Card:
    card_no: str  # '0042'
    village_code: str
    village_name: str
    township_name: str
    location: str  # group or building/unit, e.g. '第三村民小组' or '3栋2单元'
    door: str  # door or room number, e.g. '12号' or '301'
    address: str  # the full address line
    household_type: str  # display label, e.g. '家庭户'
    head_name: str
    members: tuple[MemberRow, ...]  # current members first, cancelled ones after
    qr_url: str
    signatures: tuple[SignatureBox, SignatureBox, SignatureBox]  # maker, village cadre, verifier
    version_number: int
    verified: bool  # False: the front carries a '未审核 / not verified' mark
    print_date: date
    book_no: int | None = None  # set for cards of a book and for reprints
    slot: int | None = None
    # Set for the page a household left behind when it moved away: then card_no, village and
    # qr_url are those of this village, the rest the household as it last was here.
    transferred_out: TransferredOut | None = None

    @property
    def member_count(self) -> int:
        return sum(not m.cancelled for m in self.members)


@dataclass(frozen=True)
class Book:
    village_code: str
    village_name: str
    township_name: str
    book_no: int
    print_date: date
    cards: tuple[Card, ...]  # in slot order, each with its slot set; up to BOOK_SLOTS

    def check(self) -> None:
        """ValueError unless the cards can make this book."""
        if not self.cards:
            raise ValueError("a book needs at least one card")
        if len(self.cards) > BOOK_SLOTS:
            raise ValueError(f"a book holds at most {BOOK_SLOTS} cards, got {len(self.cards)}")
        slots = [c.slot for c in self.cards]
        if any(s is None or not 1 <= s <= BOOK_SLOTS for s in slots):
            raise ValueError(f"every card of a book needs a slot in 1..{BOOK_SLOTS}")
        if any(a >= b for a, b in zip(slots, slots[1:])):
            raise ValueError("the cards of a book must be in increasing slot order")
        foreign = [c.card_no for c in self.cards
                   if c.book_no != self.book_no or c.village_code != self.village_code]
        if foreign:
            raise ValueError(f"cards not of book {self.book_no} of village {self.village_code}: {foreign}")


@dataclass(frozen=True)
class Imprint:
    """Who made the PDF and when (local time), printed at the foot of every page: paper that
    leaks is traced to the user who printed it."""

    name: str
    at: datetime

    def line(self) -> str:
        return f"打印：{self.name} {self.at:%Y-%m-%d %H:%M}"
