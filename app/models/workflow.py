"""The approval chain's history: workflow events and the signatures they carry.

Both tables are append-only: Household.state is the current state, these are its history. A signature
names the content hash of the version it signs, so it cannot be carried over to other content.
"""
from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, JSONType, UTCDateTime, utcnow
from app.models.households import Household, HouseholdState, HouseholdVersion
from app.models.users import Role, User


class WorkflowAction(str, enum.Enum):
    submit = "submit"
    confirm = "confirm"
    verify = "verify"
    return_ = "return"  # `return` is a Python keyword; the stored value is "return"


# The roles that sign a level of a version (a return carries no signature).
SIGNING_ROLES = (Role.collector, Role.village_leader, Role.verifier)


def _in(column: str, values) -> str:
    return f"{column} IN (" + ",".join(f"'{v.value}'" for v in values) + ")"


class Signature(Base):
    __tablename__ = "signature"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("household_version.id"), index=True)
    signer_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    # SHA-256 of the signed version's content (HouseholdVersion.content_hash).
    content_hash: Mapped[str] = mapped_column(String(64))
    # The drawn strokes as a small SVG made by app.domain.signatures (integers only).
    strokes_svg: Mapped[str] = mapped_column(Text)
    signed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    version: Mapped[HouseholdVersion] = relationship()
    signer: Mapped[User] = relationship()

    __table_args__ = (
        CheckConstraint(_in("role", SIGNING_ROLES), name="role"),
        CheckConstraint("length(content_hash) = 64", name="content_hash_length"),
    )


class WorkflowEvent(Base):
    __tablename__ = "workflow_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("household.id"))
    version_id: Mapped[int] = mapped_column(ForeignKey("household_version.id"), index=True)
    action: Mapped[str] = mapped_column(String(10))
    from_state: Mapped[str] = mapped_column(String(10))
    to_state: Mapped[str] = mapped_column(String(10))
    actor_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    # Return reasons: codes from app.domain.workflow.RETURN_REASONS, plus free text.
    reason_codes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    reason_text: Mapped[str | None] = mapped_column(String(500))
    signature_id: Mapped[int | None] = mapped_column(ForeignKey("signature.id"), unique=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    household: Mapped[Household] = relationship()
    version: Mapped[HouseholdVersion] = relationship()
    actor: Mapped[User] = relationship()
    signature: Mapped[Signature | None] = relationship()

    __table_args__ = (
        CheckConstraint(_in("action", WorkflowAction), name="action"),
        CheckConstraint(_in("from_state", HouseholdState), name="from_state"),
        CheckConstraint(_in("to_state", HouseholdState), name="to_state"),
        # Every level is signed; a return is not (it carries reasons instead).
        CheckConstraint("(action = 'return') = (signature_id IS NULL)", name="signed"),
        # A household's history in order, and its latest event, are one index scan.
        Index("ix_workflow_event_household_id_id", "household_id", "id"),
    )
