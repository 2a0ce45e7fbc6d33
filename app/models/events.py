"""Transfers of a whole household to another village (迁户): asked by a collector of the
household, accepted or refused by the receiving village's leader. Until then the
household stays where it was, marked as a pending transfer."""
from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, Text, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, PathString, UTCDateTime, utcnow
from app.models.households import Household, HouseholdVersion
from app.models.units import AdminUnit
from app.models.users import User


class TransferState(str, enum.Enum):
    pending = "pending"
    accepted = "accepted"
    refused = "refused"


# The only moves a transfer makes; app.domain.events refuses any other (a decided transfer
# is final: asking again is a new transfer).
TRANSFER_TRANSITIONS: dict[TransferState, frozenset[TransferState]] = {
    TransferState.pending: frozenset({TransferState.accepted, TransferState.refused}),
    TransferState.accepted: frozenset(),
    TransferState.refused: frozenset(),
}


class HouseholdTransfer(Base):
    __tablename__ = "household_transfer"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("household.id"), index=True)
    from_village_id: Mapped[int] = mapped_column(ForeignKey("admin_unit.id"))
    # The receiving village, or one of its groups.
    to_unit_id: Mapped[int] = mapped_column(ForeignKey("admin_unit.id"))
    # Path of to_unit: the receiving leaders find their pending transfers by scope on it.
    to_path: Mapped[str] = mapped_column(PathString, index=True)
    state: Mapped[str] = mapped_column(String(10), default=TransferState.pending.value)
    occurred_on: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(Text)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    refusal_reason: Mapped[str | None] = mapped_column(Text)
    # The household's transfer version, once accepted.
    version_id: Mapped[int | None] = mapped_column(ForeignKey("household_version.id"))

    household: Mapped[Household] = relationship()
    from_village: Mapped[AdminUnit] = relationship(foreign_keys=[from_village_id])
    to_unit: Mapped[AdminUnit] = relationship(foreign_keys=[to_unit_id])
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    version: Mapped[HouseholdVersion | None] = relationship()

    __table_args__ = (
        CheckConstraint("state IN (" + ",".join(f"'{s.value}'" for s in TransferState) + ")",
                        name="state_known"),
        # At most one pending transfer per household.
        Index("uq_household_transfer_pending", "household_id", unique=True,
              sqlite_where=text("state = 'pending'"), postgresql_where=text("state = 'pending'")),
    )
