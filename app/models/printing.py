"""Book slots and print jobs (DESIGN.md §7).

A household's slot is fixed the first time its village is printed: slots never move, so a
reprinted card goes back into the same place of the bound book. A slot belongs to its
village's book for good: a household moved to another village (a transfer) keeps its slot in
the old village's book, printed there as it was, and takes a slot in the new village's book
too; one slot per village and household.
"""
from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, JSONType, UTCDateTime, utcnow
from app.models.households import Household
from app.models.units import AdminUnit
from app.models.users import User


class BookSlot(Base):
    __tablename__ = "book_slot"

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("admin_unit.id"))
    household_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("household.id"))
    # Place in the village's sequence (1, 2, ...); book and slot are fixed from it at
    # assignment with the book size of that day, and kept, so a later size cannot move them.
    position: Mapped[int] = mapped_column(Integer)
    book_no: Mapped[int] = mapped_column(Integer)
    slot_no: Mapped[int] = mapped_column(Integer)
    assigned_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # What the bound book holds for this slot: the card state printed last (None: never printed).
    printed_state: Mapped[str | None] = mapped_column(String(40))
    printed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    household: Mapped[Household] = relationship()
    village: Mapped[AdminUnit] = relationship()

    __table_args__ = (
        UniqueConstraint("village_id", "household_id"),
        UniqueConstraint("village_id", "position"),
        UniqueConstraint("village_id", "book_no", "slot_no"),
        CheckConstraint("position > 0 AND book_no > 0 AND slot_no > 0", name="slot_positive"),
    )


class PrintJobKind(str, enum.Enum):
    book = "book"          # one whole book
    village = "village"    # every book of a village, a file each
    changed = "changed"    # the cards of a book that changed since it was printed
    card = "card"          # one card, to replace its page in the bound book


class PrintJobState(str, enum.Enum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


# The only moves a job makes; app.domain.print_jobs refuses any other.
JOB_TRANSITIONS: dict[PrintJobState, frozenset[PrintJobState]] = {
    PrintJobState.queued: frozenset({PrintJobState.running, PrintJobState.failed}),
    # Back to queued: its consumer stopped without finishing (app.domain.print_jobs.requeue_stale).
    PrintJobState.running: frozenset({PrintJobState.done, PrintJobState.failed, PrintJobState.queued}),
    PrintJobState.done: frozenset(),
    PrintJobState.failed: frozenset(),
}


def _values(enum_cls: type[enum.Enum]) -> str:
    return ",".join(f"'{e.value}'" for e in enum_cls)


class PrintJob(Base):
    __tablename__ = "print_job"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    village_id: Mapped[int] = mapped_column(ForeignKey("admin_unit.id"), index=True)
    book_no: Mapped[int | None] = mapped_column(Integer)
    household_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("household.id"))
    page_size: Mapped[str] = mapped_column(String(2), default="A4")
    state: Mapped[str] = mapped_column(String(10), default=PrintJobState.queued.value)
    # Progress in books (a village) or 0/1 (one book or cards).
    done_steps: Mapped[int] = mapped_column(Integer, default=0)
    total_steps: Mapped[int] = mapped_column(Integer, default=1)
    # [{"name": "多福巷社区-第1册.pdf", "file": "<job id>-1.pdf", "pages": 205}, ...]
    files: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    error: Mapped[str | None] = mapped_column(Text)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Times a consumer claimed it. A consumer that dies mid-job leaves it running; after
    # PRINT_JOB_STALE_AFTER seconds without a heartbeat it is queued again, and failed after
    # PRINT_JOB_MAX_ATTEMPTS claims. A consumer writes only while the count is its own claim's.
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The running consumer's last sign of life: set at the claim and after each file.
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    village: Mapped[AdminUnit] = relationship()
    household: Mapped[Household | None] = relationship()
    requested_by: Mapped[User | None] = relationship()

    __table_args__ = (
        CheckConstraint(f"kind IN ({_values(PrintJobKind)})", name="kind_known"),
        CheckConstraint(f"state IN ({_values(PrintJobState)})", name="state_known"),
        CheckConstraint("page_size IN ('A4','A5')", name="page_size_known"),
    )
