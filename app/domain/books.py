"""Hundred-household books: slots, and the plain data the `printing` package renders
(DESIGN.md §6-§7).

Households take slots in order of group/building/unit/room the first time their village is
printed; later households take the next free slot at the end. Slots never move. A slot
remembers the card state it was last printed with, so "changed since printed" is a
comparison, and a reprinted card goes back into the same place of the bound book.

A slot belongs to its village's book for good. A household moved to another village (a
transfer) takes the next free slot of the new village's book when that is printed, and keeps
its old slot, which is then "moved out": it prints the household as it was in the old village
(its last version there, its old card number and QR code) marked 已迁出 with the date and the
new village and card number. Moved back, the household is in its old slot again.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

import printing
from app.domain import audit, cards, registration, scope, settings
from app.domain.errors import Invalid, NotFound
from app.domain.signatures import require_intact, signatures_for
from app.extensions import db
from app.models import (AdminUnit, BookSlot, Household, HouseholdState, HouseholdVersion, UnitLevel, User,
                        WorkflowEvent, utcnow)
from collection_forms.code_lists import load_code_lists
from collection_forms.conditions import as_date
from quality.household import HEAD

# Signature boxes on the card, in order: card maker, village cadre, township verifier.
SIGNATURE_BOXES = (("collector", "制卡人"), ("village_leader", "村级审核"), ("verifier", "乡级核验"))


@dataclass(frozen=True)
class BookSummary:
    book_no: int
    households: int
    first_card_no: str
    last_card_no: str
    card_runs: tuple[str, ...]  # '0001–0096', '0120', ...: a book's cards are not a range of numbers
    last_printed_at: dt.datetime | None
    never_printed: int   # slots not yet printed in any form
    changed: int         # printed slots whose card changed since
    moved_out: int       # slots of households that moved to another village


@dataclass(frozen=True)
class MovedOut:
    """A slot whose household moved to another village: its page stays in this book, printed
    as the household was here."""
    card_no: str  # the household's card number in this (the slot's) village
    version: HouseholdVersion  # its last version here: the one before the transfer version
    head_name: str  # its head then
    occurred_on: dt.date
    to_village: AdminUnit
    to_card_no: str
    transfer_version_id: int  # the transfer version: what the page shows follows from it alone


def _natural(value: str | None) -> tuple:
    """'3号' before '12号': digit runs compare as numbers."""
    parts = re.split(r"(\d+)", value or "")
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts if p)


def _print_order(h: Household) -> tuple:
    group = h.group.code if h.group else ""
    return (group, _natural(h.building), _natural(h.unit_no), _natural(h.room), _natural(h.door_no), h.card_no)


def require_village(actor: User, village_id: int) -> AdminUnit:
    village = scope.require_unit(actor, village_id, "card.print")
    if village.level != UnitLevel.village.value:
        raise NotFound(str(_l("No such village.")))
    return village


def assign_slots(actor: User | None, village: AdminUnit) -> int:
    """Give every household of the village without a slot the next slots, in print order.
    Returns how many were placed (flushed, not committed)."""
    if db.session.get_bind().dialect.name != "sqlite":  # SQLite: the write lock serialises this
        db.session.execute(select(AdminUnit.id).where(AdminUnit.id == village.id).with_for_update())
    slotted = select(BookSlot.household_id).where(BookSlot.village_id == village.id)
    new = list(db.session.scalars(
        select(Household).where(Household.village_id == village.id, Household.id.not_in(slotted),
                                Household.collected_at.is_not(None))  # police pre-fills: not before the door
        .options(selectinload(Household.group))))
    if not new:
        return 0
    new.sort(key=_print_order)
    size = settings.current().book_size
    last = db.session.scalar(select(func.max(BookSlot.position)).where(BookSlot.village_id == village.id)) or 0
    for position, household in enumerate(new, start=last + 1):
        db.session.add(BookSlot(village_id=village.id, household_id=household.id, position=position,
                                book_no=(position - 1) // size + 1, slot_no=(position - 1) % size + 1))
    db.session.flush()
    audit.record("book.slots", actor=actor, object_type="unit", object_id=village.id,
                 details={"placed": len(new), "from_position": last + 1})
    return len(new)


def card_states(household_ids: list) -> dict[Any, str]:
    """What a printed card shows depends on the household's current version and on its
    approval events (signatures, state): this string changes exactly when one of them does."""
    if not household_ids:
        return {}
    last_event = dict(db.session.execute(
        select(WorkflowEvent.household_id, func.max(WorkflowEvent.id))
        .where(WorkflowEvent.household_id.in_(household_ids)).group_by(WorkflowEvent.household_id)).all())
    versions = dict(db.session.execute(
        select(Household.id, Household.current_version_id).where(Household.id.in_(household_ids))).all())
    return {hid: f"v{versions.get(hid)}:e{last_event.get(hid, 0)}" for hid in household_ids}


def moved_out(slots: list[BookSlot]) -> dict[int, MovedOut]:
    """The slots (by id) whose household is in another village now, with what their page shows."""
    away = [s for s in slots if s.household.village_id != s.village_id]
    chains = cards.departures(s.household_id for s in away)
    out: dict[int, MovedOut] = {}
    for slot in away:
        # The household's last move out of the slot's village (it may have come back and left again).
        left = [d for d in chains.get(slot.household_id, []) if d.from_village_id == slot.village_id]
        if not left:  # a household leaves a village only by a transfer: nothing to say otherwise
            continue
        d = left[-1]
        before = db.session.scalar(select(HouseholdVersion).where(
            HouseholdVersion.household_id == slot.household_id, HouseholdVersion.number == d.version.number - 1))
        out[slot.id] = MovedOut(card_no=d.card_no, version=before, head_name=_head_name(before.data),
                                occurred_on=d.occurred_on,
                                to_village=d.to_village, to_card_no=d.to_card_no, transfer_version_id=d.version.id)
    return out


def slot_states(slots: list[BookSlot], moved: dict[int, MovedOut] | None = None) -> dict[int, str]:
    """The card state of each slot (by id), to compare with what was printed: the household's
    card state, or for a moved-out slot its transfer version (the page is fixed from then on)."""
    moved = moved_out(slots) if moved is None else moved
    current = card_states([s.household_id for s in slots if s.id not in moved])
    return {s.id: f"x{moved[s.id].transfer_version_id}" if s.id in moved else current[s.household_id]
            for s in slots}


def slot_card_no(slot: BookSlot, moved: dict[int, MovedOut] | None = None) -> str:
    """The card number the book shows in this slot: the old one for a moved-out household."""
    moved = moved_out([slot]) if moved is None else moved
    return moved[slot.id].card_no if slot.id in moved else slot.household.card_no


def card_no_in(village: AdminUnit, household: Household) -> str:
    """The household's card number in this village's books: its present one, or the one its
    old page carries when it moved away."""
    if household.village_id == village.id:
        return household.card_no
    slot = db.session.scalar(select(BookSlot).where(BookSlot.village_id == village.id,
                                                    BookSlot.household_id == household.id))
    return slot_card_no(slot) if slot is not None else household.card_no


def slots_of(village: AdminUnit, book_no: int | None = None) -> list[BookSlot]:
    query = select(BookSlot).where(BookSlot.village_id == village.id).order_by(BookSlot.position)
    if book_no is not None:
        query = query.where(BookSlot.book_no == book_no)
    return list(db.session.scalars(query.options(selectinload(BookSlot.household))))


def book_numbers(village: AdminUnit) -> list[int]:
    return list(db.session.scalars(select(BookSlot.book_no).where(BookSlot.village_id == village.id)
                                   .distinct().order_by(BookSlot.book_no)))


def books_of(village: AdminUnit) -> list[BookSummary]:
    slots = slots_of(village)
    moved = moved_out(slots)
    states = slot_states(slots, moved)
    books: dict[int, list[BookSlot]] = {}
    for slot in slots:
        books.setdefault(slot.book_no, []).append(slot)
    summaries = []
    for book_no, items in sorted(books.items()):
        printed = [s.printed_at for s in items if s.printed_at]
        numbers = [slot_card_no(s, moved) for s in items]
        summaries.append(BookSummary(
            book_no=book_no, households=len(items), first_card_no=min(numbers), last_card_no=max(numbers),
            card_runs=tuple(str(run) for run in printing.number_runs(numbers)),
            last_printed_at=max(printed) if printed else None,
            never_printed=sum(1 for s in items if s.printed_state is None),
            changed=sum(1 for s in items if s.printed_state and s.printed_state != states[s.id]),
            moved_out=sum(1 for s in items if s.id in moved)))
    return summaries


def moved_out_slots(village: AdminUnit) -> list[tuple[BookSlot, MovedOut]]:
    """The village's slots whose household moved to another village, in slot order."""
    slots = list(db.session.scalars(
        select(BookSlot).join(Household, BookSlot.household_id == Household.id)
        .where(BookSlot.village_id == village.id, Household.village_id != village.id)
        .order_by(BookSlot.position).options(selectinload(BookSlot.household))))
    moved = moved_out(slots)
    return [(s, moved[s.id]) for s in slots if s.id in moved]


def unslotted_count(village: AdminUnit) -> int:
    slotted = select(BookSlot.household_id).where(BookSlot.village_id == village.id)
    return db.session.scalar(select(func.count()).select_from(Household).where(
        Household.village_id == village.id, Household.id.not_in(slotted), Household.collected_at.is_not(None))) or 0


def changed_slots(village: AdminUnit, book_no: int) -> list[BookSlot]:
    """The slots of a book whose card differs from what the bound book holds (printed since
    with other content, or never printed: a household added after the book was printed)."""
    slots = slots_of(village, book_no)
    states = slot_states(slots)
    return [s for s in slots if s.printed_state != states[s.id]]


def slot_for_card(village: AdminUnit, card_no: str) -> BookSlot:
    """The slot of the card with this number in the village's books: a household of the
    village, or one that moved away (the number its old page carries)."""
    slot = db.session.scalar(
        select(BookSlot).join(Household, BookSlot.household_id == Household.id)
        .where(BookSlot.village_id == village.id, Household.village_id == village.id, Household.card_no == card_no))
    if slot is None:
        slot = next((s for s, m in moved_out_slots(village) if m.card_no == card_no), None)
    if slot is None:
        raise Invalid(str(_l("Card number %(card_no)s has no place in a book of %(village)s yet: "
                             "print its book first.", card_no=card_no, village=village.name)))
    return slot


def mark_printed(slots: list[BookSlot], states: dict[int, str] | None = None) -> None:
    """Record what the bound book now holds for these slots (flushed, not committed):
    `states`, the slots' states taken when their pages were rendered, or their states now."""
    states = slot_states(slots) if states is None else states
    now = utcnow()
    for slot in slots:
        slot.printed_state, slot.printed_at = states[slot.id], now
    db.session.flush()


# ------------------------------------------------------------------ plain data for printing

def _label(list_name: str, code: Any) -> str:
    if not code:
        return ""
    return load_code_lists()[list_name].label(str(code), "zh")


@dataclass(frozen=True)
class _Address:
    """Where a card says the household lives: the household's own fields (mirrored from its
    current version), or an older version's, for the page of a household that moved away."""
    group_name: str
    building: str | None
    unit_no: str | None
    room: str | None
    door_no: str | None

    @classmethod
    def of(cls, h: Household) -> _Address:
        return cls(h.group.name if h.group else "", h.building, h.unit_no, h.room, h.door_no)

    @classmethod
    def of_version(cls, data: dict[str, Any]) -> _Address:
        h = data.get("household") or {}
        group = db.session.scalar(select(AdminUnit).where(AdminUnit.code == h["group_code"])) \
            if h.get("group_code") else None

        def text(key: str) -> str | None:
            return h.get(key) if isinstance(h.get(key), str) and h.get(key) else None
        return cls(group.name if group else "", text("building"), text("unit"), text("room"), text("door_no"))


def _location(a: _Address) -> str:
    if a.building or a.unit_no:
        return "".join(p for p in (f"{a.building}栋" if a.building else "", f"{a.unit_no}单元" if a.unit_no else ""))
    return a.group_name


def _door(a: _Address) -> str:
    """'12' is written 12号 (room 301室); what the collector wrote with its own word stays as it is."""
    value, word = (a.room, "室") if a.room else (a.door_no, "号")
    if not value:
        return ""
    return f"{value}{word}" if value.isdigit() else value


def _head_name(data: dict[str, Any]) -> str:
    head = next((m for m in data.get("members", [])
                 if (m.get("status") or "active") == "active" and m.get("relationship") == HEAD), None)
    return str(head.get("name") or "") if head else ""


def _member_row(m: dict[str, Any], household_hukou_type: Any = None) -> printing.MemberRow:
    """On paper an empty cell reads as "not filled in" (issue 14), so the status of an ordinary
    resident is printed (正常), and a member without a hukou type of their own has the
    household's (户口类别 of the household part of the form)."""
    birth = as_date(m.get("birth_date"))
    status = m.get("status") or "active"
    return printing.MemberRow(
        name=str(m.get("name") or ""), relationship=_label("relationship", m.get("relationship")),
        sex=_label("sex", m.get("sex")), birth_date=birth.isoformat() if birth else "",
        id_number=str(m.get("id_number") or ""),
        hukou_type=_label("hukou_type", m.get("hukou_type") or household_hukou_type),
        status=_label("person_status", status), cancelled=status != "active")


def card_data(household: Household, slot: BookSlot | None, *, today: dt.date | None = None) -> printing.Card:
    """Everything a printed card shows, as plain data (the current version and the signatures
    that count for it)."""
    version = household.current_version
    return _card(household.village, household.card_no, version, _Address.of(household),
                 household_type=household.household_type, head_name=household.head_name or "",
                 verified=household.state == HouseholdState.verified.value, slot=slot, today=today)


def moved_card_data(slot: BookSlot, moved: MovedOut, *, today: dt.date | None = None) -> printing.Card:
    """The page of a household that moved away: as it was in the slot's village (its last
    version there, that village's card number and QR code), marked with where it went."""
    version = moved.version
    data = version.data
    last_event = db.session.scalar(select(WorkflowEvent.to_state).where(WorkflowEvent.version_id == version.id)
                                   .order_by(WorkflowEvent.id.desc()).limit(1))
    return _card(slot.village, moved.card_no, version, _Address.of_version(data),
                 household_type=(data.get("household") or {}).get("household_type"),
                 head_name=moved.head_name,
                 verified=last_event == HouseholdState.verified.value, slot=slot, today=today,
                 moved=printing.TransferredOut(on=moved.occurred_on, to_village=moved.to_village.name,
                                         to_card_no=moved.to_card_no))


def require_printable(slots: list[BookSlot]) -> None:
    """Conflict when a card of these slots would print a version whose data was changed
    behind the application's back (checked again as each card is rendered)."""
    _load_for_cards([s.household_id for s in slots])
    moved = moved_out(slots)
    for slot in slots:
        version = moved[slot.id].version if slot.id in moved else slot.household.current_version
        if version is not None:
            require_intact(version)


def slot_cards(slots: list[BookSlot], *, today: dt.date | None = None) -> list[printing.Card]:
    """The page of each slot: the household's card, or its old page when it moved away."""
    _load_for_cards([s.household_id for s in slots])
    moved = moved_out(slots)
    return [moved_card_data(s, moved[s.id], today=today) if s.id in moved else card_data(s.household, s, today=today)
            for s in slots]


def _card(village: AdminUnit, card_no: str, version: HouseholdVersion | None, address: _Address, *,
          household_type: str | None, head_name: str, verified: bool, slot: BookSlot | None,
          today: dt.date | None, moved: printing.TransferredOut | None = None) -> printing.Card:
    config = settings.current()
    if version is not None:
        require_intact(version)  # what is printed is what was signed, or nothing is printed
    data = version.data if version else {}
    members = data.get("members", [])
    # Active members first, in roster order; cancelled ones after, so the living household reads first.
    members = sorted(members, key=lambda m: (m.get("status", "active") or "active") != "active")
    signed = signatures_for(version) if version else {}
    zone = registration.local_zone()
    boxes = []
    for role, label in SIGNATURE_BOXES:
        sig = signed.get(role)
        boxes.append(printing.SignatureBox(
            role_label=label, name=sig.signer.name if sig else None,
            signed_on=sig.signed_at.astimezone(zone).date() if sig else None,
            svg=sig.strokes_svg if sig else None))
    township = village.parent.name if village.parent else ""
    location, door = _location(address), _door(address)
    return printing.Card(
        card_no=card_no, village_code=village.code, village_name=village.name,
        township_name=township, location=location, door=door,
        address=f"{township}{village.name}{location}{door}",
        household_type=_label("household_type", household_type),
        head_name=head_name,
        members=tuple(_member_row(m, (data.get("household") or {}).get("hukou_type")) for m in members),
        qr_url=cards.card_url(config.base_url, config.card_keys, village.code, card_no),
        signatures=tuple(boxes),  # type: ignore[arg-type]
        version_number=version.number if version else 0,
        verified=verified,
        print_date=today or registration.today(),
        book_no=slot.book_no if slot else None, slot=slot.slot_no if slot else None,
        transferred_out=moved)


def book_data(village: AdminUnit, book_no: int, *, today: dt.date | None = None) -> printing.Book:
    slots = slots_of(village, book_no)
    if not slots:
        raise NotFound(str(_l("%(village)s has no book %(book_no)s.", village=village.name, book_no=book_no)))
    day = today or registration.today()
    return printing.Book(
        village_code=village.code, village_name=village.name,
        township_name=village.parent.name if village.parent else "", book_no=book_no, print_date=day,
        cards=tuple(slot_cards(slots, today=day)))


def _load_for_cards(household_ids: list) -> None:
    """Load the households with what their cards need in a few queries, not a few per card."""
    list(db.session.scalars(select(Household).where(Household.id.in_(household_ids)).options(
        selectinload(Household.current_version), selectinload(Household.group),
        selectinload(Household.village))))
