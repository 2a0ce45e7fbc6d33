"""Hundred-household books: slots, and the plain data the `printing` package renders
(DESIGN.md §6-§7).

Households take slots in order of group/building/unit/room the first time their village is
printed; later households take the next free slot at the end. Slots never move. A slot
remembers the card state it was last printed with, so "changed since printed" is a
comparison, and a reprinted card goes back into the same place of the bound book.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

import printing
from app.domain import audit, cards, scope
from app.domain.errors import Invalid, NotFound
from app.domain.signatures import signatures_for
from app.extensions import db
from app.models import (AdminUnit, BookSlot, Household, HouseholdState, UnitLevel, User, WorkflowEvent,
                        utcnow)
from collection_forms.code_lists import load_code_lists
from collection_forms.conditions import as_date

# Signature boxes on the card, in order: card maker, village cadre, township verifier.
SIGNATURE_BOXES = (("collector", "制卡人"), ("village_leader", "村级审核"), ("verifier", "乡级核验"))


@dataclass(frozen=True)
class BookSummary:
    book_no: int
    households: int
    first_card_no: str
    last_card_no: str
    last_printed_at: dt.datetime | None
    never_printed: int   # slots not yet printed in any form
    changed: int         # printed slots whose card changed since


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
        select(Household).where(Household.village_id == village.id, Household.id.not_in(slotted))
        .options(selectinload(Household.group))))
    if not new:
        return 0
    new.sort(key=_print_order)
    size = current_app.config["BOOK_SIZE"]
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
    states = card_states([s.household_id for s in slots])
    books: dict[int, list[BookSlot]] = {}
    for slot in slots:
        books.setdefault(slot.book_no, []).append(slot)
    summaries = []
    for book_no, items in sorted(books.items()):
        printed = [s.printed_at for s in items if s.printed_at]
        summaries.append(BookSummary(
            book_no=book_no, households=len(items),
            first_card_no=min(s.household.card_no for s in items),
            last_card_no=max(s.household.card_no for s in items),
            last_printed_at=max(printed) if printed else None,
            never_printed=sum(1 for s in items if s.printed_state is None),
            changed=sum(1 for s in items if s.printed_state and s.printed_state != states[s.household_id])))
    return summaries


def unslotted_count(village: AdminUnit) -> int:
    slotted = select(BookSlot.household_id).where(BookSlot.village_id == village.id)
    return db.session.scalar(select(func.count()).select_from(Household).where(
        Household.village_id == village.id, Household.id.not_in(slotted))) or 0


def changed_slots(village: AdminUnit, book_no: int) -> list[BookSlot]:
    """The slots of a book whose card differs from what the bound book holds (printed since
    with other content, or never printed: a household added after the book was printed)."""
    slots = slots_of(village, book_no)
    states = card_states([s.household_id for s in slots])
    return [s for s in slots if s.printed_state != states[s.household_id]]


def slot_for_card(village: AdminUnit, card_no: str) -> BookSlot:
    slot = db.session.scalar(
        select(BookSlot).join(Household, BookSlot.household_id == Household.id)
        .where(BookSlot.village_id == village.id, Household.card_no == card_no))
    if slot is None:
        raise Invalid(str(_l("Card number %(card_no)s has no place in a book of %(village)s yet: "
                             "print its book first.", card_no=card_no, village=village.name)))
    return slot


def mark_printed(slots: list[BookSlot]) -> None:
    """Record what the bound book now holds for these slots (flushed, not committed)."""
    states = card_states([s.household_id for s in slots])
    now = utcnow()
    for slot in slots:
        slot.printed_state, slot.printed_at = states[slot.household_id], now
    db.session.flush()


# ------------------------------------------------------------------ plain data for printing

def _today() -> dt.date:
    return dt.datetime.now(_zone()).date()


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE", "Asia/Shanghai"))


def _label(list_name: str, code: Any) -> str:
    if not code:
        return ""
    return load_code_lists()[list_name].label(str(code), "zh")


def _location(h: Household) -> str:
    if h.building or h.unit_no:
        return "".join(p for p in (f"{h.building}栋" if h.building else "", f"{h.unit_no}单元" if h.unit_no else ""))
    return h.group.name if h.group else ""


def _door(h: Household) -> str:
    """'12' is written 12号 (room 301室); what the collector wrote with its own word stays as it is."""
    value, word = (h.room, "室") if h.room else (h.door_no, "号")
    if not value:
        return ""
    return f"{value}{word}" if value.isdigit() else value


def _member_row(m: dict[str, Any]) -> printing.MemberRow:
    birth = as_date(m.get("birth_date"))
    status = m.get("status") or "active"
    return printing.MemberRow(
        name=str(m.get("name") or ""), relationship=_label("relationship", m.get("relationship")),
        sex=_label("sex", m.get("sex")), birth_date=birth.isoformat() if birth else "",
        id_number=str(m.get("id_number") or ""), hukou_type=_label("hukou_type", m.get("hukou_type")),
        status="" if status == "active" else _label("person_status", status), cancelled=status != "active")


def card_data(household: Household, slot: BookSlot | None, *, today: dt.date | None = None) -> printing.Card:
    """Everything a printed card shows, as plain data (the current version and the signatures
    that count for it)."""
    config = current_app.config
    version = household.current_version
    data = version.data if version else {}
    members = data.get("members", [])
    # Active members first, in roster order; cancelled ones after, so the living household reads first.
    members = sorted(members, key=lambda m: (m.get("status", "active") or "active") != "active")
    signed = signatures_for(version) if version else {}
    zone = _zone()
    boxes = []
    for role, label in SIGNATURE_BOXES:
        sig = signed.get(role)
        boxes.append(printing.SignatureBox(
            role_label=label, name=sig.signer.name if sig else None,
            signed_on=sig.signed_at.astimezone(zone).date() if sig else None,
            svg=sig.strokes_svg if sig else None))
    village = household.village
    township = village.parent.name if village.parent else ""
    location, door = _location(household), _door(household)
    return printing.Card(
        card_no=household.card_no, village_code=village.code, village_name=village.name,
        township_name=township, location=location, door=door,
        address=f"{township}{village.name}{location}{door}",
        household_type=_label("household_type", household.household_type),
        head_name=household.head_name or "",
        members=tuple(_member_row(m) for m in members),
        qr_url=cards.card_url(config["BASE_URL"], config["CARD_KEYS"], village.code, household.card_no),
        signatures=tuple(boxes),  # type: ignore[arg-type]
        version_number=version.number if version else 0,
        verified=household.state == HouseholdState.verified.value,
        print_date=today or _today(),
        book_no=slot.book_no if slot else None, slot=slot.slot_no if slot else None)


def book_data(village: AdminUnit, book_no: int, *, today: dt.date | None = None) -> printing.Book:
    slots = slots_of(village, book_no)
    if not slots:
        raise NotFound(str(_l("%(village)s has no book %(book_no)s.", village=village.name, book_no=book_no)))
    _load_for_cards([s.household_id for s in slots])
    day = today or _today()
    return printing.Book(
        village_code=village.code, village_name=village.name,
        township_name=village.parent.name if village.parent else "", book_no=book_no, print_date=day,
        cards=tuple(card_data(s.household, s, today=day) for s in slots))


def _load_for_cards(household_ids: list) -> None:
    """Load the households with what their cards need in a few queries, not a few per card."""
    list(db.session.scalars(select(Household).where(Household.id.in_(household_ids)).options(
        selectinload(Household.current_version), selectinload(Household.group),
        selectinload(Household.village))))
