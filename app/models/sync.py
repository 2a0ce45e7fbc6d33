"""The phone app's sync (issue 6): device tokens, submission receipts, and conflicts.

A device token lets an installed app sync without the web session; only its SHA-256 is kept,
so a copy of the table does not hand out live tokens. A receipt remembers the first answer
to each phone submission, so that a retry gets the same answer. A conflict keeps a phone's
submission made on an older version than the server's: it is never dropped and never applied
silently; the village leader resolves it.
"""
from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, JSONType, UTCDateTime, utcnow
from app.models.households import Household, HouseholdVersion
from app.models.users import User


class DeviceToken(Base):
    __tablename__ = "device_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(60))  # given at issue: "张三的红米手机"
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    revoked_by: Mapped[User | None] = relationship(foreign_keys=[revoked_by_id])

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class SyncReceipt(Base):
    """The first answer to a phone submission. Its primary key is the phone's submission_id:
    inserting it first makes a concurrent twin wait for (and then read) this answer."""

    __tablename__ = "sync_receipt"

    submission_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    # SHA-256 of the canonical JSON of the whole request body: the same id with another body is refused.
    body_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)  # the HTTP status of the first answer
    answer: Mapped[dict[str, Any]] = mapped_column(JSONType)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConflictState(str, enum.Enum):
    open = "open"
    resolved = "resolved"


class ConflictResolution(str, enum.Enum):
    keep_mine = "keep_mine"      # the phone's data becomes a new version
    keep_theirs = "keep_theirs"  # the server's version stays; nothing new
    merged = "merged"            # the leader's merge becomes a new version


# The only moves a conflict makes; app.domain.sync refuses any other.
CONFLICT_TRANSITIONS: dict[ConflictState, frozenset[ConflictState]] = {
    ConflictState.open: frozenset({ConflictState.resolved}),
    ConflictState.resolved: frozenset(),
}


def _values(enum_cls: type[enum.Enum]) -> str:
    return ",".join(f"'{e.value}'" for e in enum_cls)


class HouseholdConflict(Base):
    __tablename__ = "household_conflict"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("household.id"))
    submission_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    base_number: Mapped[int] = mapped_column(Integer)    # the version the phone edited
    server_number: Mapped[int] = mapped_column(Integer)  # the current version when it arrived
    # The phone's form, normalised like a save (members carry their person_id).
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # The collector's drawn signature: the strokes as sent and as SVG (app.domain.signatures).
    strokes: Mapped[list[Any]] = mapped_column(JSONType)
    strokes_svg: Mapped[str] = mapped_column(Text)
    submitted_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    state: Mapped[str] = mapped_column(String(10), default=ConflictState.open.value)
    resolution: Mapped[str | None] = mapped_column(String(12))
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The version the resolution made (keep_mine, merged); None for keep_theirs.
    result_version_id: Mapped[int | None] = mapped_column(ForeignKey("household_version.id"))

    household: Mapped[Household] = relationship()
    submitted_by: Mapped[User] = relationship(foreign_keys=[submitted_by_id])
    resolved_by: Mapped[User | None] = relationship(foreign_keys=[resolved_by_id])
    result_version: Mapped[HouseholdVersion | None] = relationship()

    __table_args__ = (
        CheckConstraint(f"state IN ({_values(ConflictState)})", name="state_known"),
        CheckConstraint(f"resolution IS NULL OR resolution IN ({_values(ConflictResolution)})",
                        name="resolution_known"),
        CheckConstraint("(state = 'open') = (resolution IS NULL)", name="resolved_has_resolution"),
        # The open conflicts of a household, and a leader's list of them, are one index scan.
        Index("ix_household_conflict_state_household_id", "state", "household_id"),
    )
