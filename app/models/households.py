"""Households, their versions, and the persons of the current version.

History is append-only: every save is a new HouseholdVersion and nothing is overwritten.
Household and Person are caches of the current version, kept for search, statistics,
duplicates and scope queries (each carries the unit path of its village or group);
VerifiedPerson holds the persons of each household's last verified version (issue 16).
"""
from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import (Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String,
                        UniqueConstraint, Uuid)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, JSONType, PathString, SearchString, UTCDateTime, utcnow
from app.models.units import AdminUnit
from app.models.users import User


class HouseholdState(str, enum.Enum):
    draft = "draft"
    submitted = "submitted"
    confirmed = "confirmed"
    verified = "verified"
    returned = "returned"


class VersionKind(str, enum.Enum):
    create = "create"  # the household's first version
    edit = "edit"      # a correction or completion of the form
    # Life events (信息变更): each one a version with its date of occurrence and details.
    birth = "birth"
    death = "death"
    move_out = "move_out"
    move_in = "move_in"
    marriage = "marriage"
    divorce = "divorce"
    split = "split"          # members leave to form a new household (the new one: split_from)
    merge = "merge"
    transfer = "transfer"    # the whole household moved to another village
    head_change = "head_change"


class HouseholdOrigin(str, enum.Enum):
    """Where a household came from (issue 16): collected at the door, or pre-filled from a
    list (app.domain.prefill): the police register (to be verified at the door) or the
    township's own register of the previous round (counts as collected)."""
    collected = "collected"
    police = "police"
    register = "register"


# Kinds that are life events (counted in the monthly change report), not corrections.
EVENT_KINDS = frozenset(VersionKind) - {VersionKind.create, VersionKind.edit}


def _check(column: str, enum_cls: type[enum.Enum]) -> str:
    return f"{column} IN (" + ",".join(f"'{e.value}'" for e in enum_cls) + ")"


class Household(Base):
    __tablename__ = "household"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    village_id: Mapped[int] = mapped_column(ForeignKey("admin_unit.id"))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("admin_unit.id"))
    # Path of the group (or the village when there is no group): the scope key.
    unit_path: Mapped[str] = mapped_column(PathString, index=True)
    # 户卡编号: 4 digits within the village, assigned at creation, never reused.
    card_no: Mapped[str] = mapped_column(String(4))
    state: Mapped[str] = mapped_column(String(10), default=HouseholdState.draft.value)
    # Address and type mirrored from the current version, for lists and book order.
    building: Mapped[str | None] = mapped_column(String(30))
    unit_no: Mapped[str | None] = mapped_column(String(30))
    room: Mapped[str | None] = mapped_column(String(30))
    door_no: Mapped[str | None] = mapped_column(String(30))
    household_type: Mapped[str | None] = mapped_column(String(12))
    head_name: Mapped[str | None] = mapped_column(String(30))
    member_count: Mapped[int] = mapped_column(Integer, default=0)
    complete: Mapped[bool] = mapped_column(Boolean, default=False)
    current_number: Mapped[int] = mapped_column(Integer, default=0)
    current_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("household_version.id", use_alter=True, name="fk_household_current_version"))
    last_verified_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("household_version.id", use_alter=True, name="fk_household_last_verified_version"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Pre-filled households (issue 16, app.domain.prefill). collected_at: when the household
    # was first saved by a collector (or pre-filled from the township's own register); None
    # only for a police pre-fill not yet verified at the door, which does not count as collected.
    origin: Mapped[str] = mapped_column(String(10), default=HouseholdOrigin.collected.value,
                                        server_default=HouseholdOrigin.collected.value)
    collected_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    source_list_id: Mapped[int | None] = mapped_column(ForeignKey("imported_list.id"))
    # The household's key in its source list: the police 户号, or an old register's card number.
    source_key: Mapped[str | None] = mapped_column(String(40))
    # The collector a village leader gave the pre-filled household to, to verify at the door.
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)

    village: Mapped[AdminUnit] = relationship(foreign_keys=[village_id])
    group: Mapped[AdminUnit | None] = relationship(foreign_keys=[group_id])
    current_version: Mapped[HouseholdVersion | None] = relationship(
        foreign_keys=[current_version_id], post_update=True)
    versions: Mapped[list[HouseholdVersion]] = relationship(
        back_populates="household", foreign_keys="HouseholdVersion.household_id",
        order_by="HouseholdVersion.number")
    persons: Mapped[list[Person]] = relationship(back_populates="household", order_by="Person.position")

    __table_args__ = (
        UniqueConstraint("village_id", "card_no"),
        CheckConstraint(_check("state", HouseholdState), name="state"),
        CheckConstraint("length(card_no) = 4", name="card_no_length"),
        CheckConstraint(_check("origin", HouseholdOrigin), name="origin"),
        # Only a police pre-fill waits to be collected (a guarded cache, STYLE.md 3).
        CheckConstraint("collected_at IS NOT NULL OR origin = 'police'", name="collected"),
        # A re-imported register finds its households by village and key (app.domain.prefill).
        Index("ix_household_village_id_source_key", "village_id", "source_key"),
        # A search by card number over a township or county (one household a village): the
        # unique index above starts with the village.
        Index("ix_household_card_no", "card_no"),
    )

    @property
    def to_verify(self) -> bool:
        """Pre-filled from the police register and not yet verified at the door."""
        return self.collected_at is None


class HouseholdVersion(Base):
    __tablename__ = "household_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("household.id"))
    number: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    # The whole form, members included: {"household": {...}, "members": [{...}, ...]}.
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # SHA-256 of the canonical JSON of `data`: what signatures sign (approval issue).
    content_hash: Mapped[str] = mapped_column(String(64))
    form_version: Mapped[int] = mapped_column(Integer)
    base_number: Mapped[int | None] = mapped_column(Integer)
    # Made by the client: the same submission sent twice makes one version.
    submission_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, unique=True)
    # Checks at save time: [{"rule", "level", "path", "message": {"zh", "en"}}].
    issues: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    complete: Mapped[bool] = mapped_column(Boolean)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Life events: the date it happened (may be before the date it was recorded), and what
    # happened: {"person_ids": [...], "other_household_id": ..., ...} (app.domain.events).
    occurred_on: Mapped[dt.date | None] = mapped_column(Date, index=True)
    event: Mapped[dict[str, Any] | None] = mapped_column(JSONType)

    household: Mapped[Household] = relationship(back_populates="versions", foreign_keys=[household_id])
    created_by: Mapped[User] = relationship()

    __table_args__ = (
        UniqueConstraint("household_id", "number"),
        CheckConstraint("number >= 1", name="number_positive"),
        CheckConstraint(_check("kind", VersionKind), name="kind_known"),
    )


class CardCounter(Base):
    """The last card number given in a village (app.domain.registration.next_card_no): one
    row per village, counted up in one statement that also locks it, so two collectors of
    one village creating households at once get different numbers."""

    __tablename__ = "card_counter"

    village_id: Mapped[int] = mapped_column(ForeignKey("admin_unit.id"), primary_key=True)
    last_no: Mapped[int] = mapped_column(Integer)


class PersonItems:
    """The main items of a member (the form's members section) as columns, shared by the person
    register (Person: the current version) and VerifiedPerson (the last verified version).
    Filled by app.domain.persons from a version's data; sizes follow the form's limits
    (text: its max_length; codes: the longest code of their list). A value the form kept
    with an error (an unknown code, an impossible date) is NULL here: the version keeps it."""

    position: Mapped[int] = mapped_column(Integer)  # order in the roster
    name: Mapped[str] = mapped_column(String(30))
    # Normalised for matching (app.domain.names.normalise_name): 張 三 -> 张三.
    name_norm: Mapped[str] = mapped_column(SearchString(60))
    # The normalised name without the surname (建国 of 张建国), so that a search for the given
    # name is a prefix too (app.domain.names.given_name).
    given_norm: Mapped[str] = mapped_column(SearchString(60), default="")
    # Toneless pinyin and initials for search and matching: 张三 -> zhangsan, zs.
    name_pinyin: Mapped[str] = mapped_column(SearchString(120))
    name_initials: Mapped[str] = mapped_column(SearchString(30))
    sex: Mapped[str | None] = mapped_column(String(1))
    birth_date: Mapped[dt.date | None] = mapped_column(Date)
    id_number: Mapped[str | None] = mapped_column(String(18))
    id_tail: Mapped[str | None] = mapped_column(String(4))  # last 4, for search
    ethnicity: Mapped[str | None] = mapped_column(String(2))
    relationship_code: Mapped[str | None] = mapped_column(String(2))
    is_head: Mapped[bool] = mapped_column(Boolean, default=False)
    marital_status: Mapped[str | None] = mapped_column(String(2))
    education: Mapped[str | None] = mapped_column(String(2))
    hukou_type: Mapped[str | None] = mapped_column(String(1))
    hukou_place: Mapped[str | None] = mapped_column(String(100))
    residence_place: Mapped[str | None] = mapped_column(String(100))
    management: Mapped[str | None] = mapped_column(String(12))  # resident, out_migrant, in_migrant
    migration_place: Mapped[str | None] = mapped_column(String(100))
    migration_since: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12), default="active")
    cancellation_reason: Mapped[str | None] = mapped_column(String(100))
    cancelled_on: Mapped[dt.date | None] = mapped_column(Date)
    # 已婚育龄妇女 items.
    marriage_date: Mapped[dt.date | None] = mapped_column(Date)
    spouse_person_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)  # spouse_member: a member here
    spouse_name: Mapped[str | None] = mapped_column(String(30))
    spouse_id_number: Mapped[str | None] = mapped_column(String(18))
    boys: Mapped[int | None] = mapped_column(Integer)
    girls: Mapped[int | None] = mapped_column(Integer)
    youngest_birth_date: Mapped[dt.date | None] = mapped_column(Date)
    youngest_sex: Mapped[str | None] = mapped_column(String(1))
    # The household's place, kept equal to the household's (app.domain.persons.follow_household).
    unit_path: Mapped[str] = mapped_column(PathString)
    village_id: Mapped[int] = mapped_column(ForeignKey("admin_unit.id"))
    card_no: Mapped[str] = mapped_column(String(4))


class Person(PersonItems, Base):
    """A member as of the household's current version (person_id is stable across versions),
    with the household's card number and state: the person register that search, reports
    and matching read. Written in the transaction that writes the version."""

    __tablename__ = "person"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    household_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("household.id"), index=True)
    household_state: Mapped[str] = mapped_column(String(10))

    household: Mapped[Household] = relationship(back_populates="persons")

    # Each index is written for every member of every saved version (a county's pre-fill: 400k
    # rows into each): only those a query uses. Counts by state go by village first.
    __table_args__ = (
        Index("ix_person_name_norm_birth_date", "name_norm", "birth_date"),
        Index("ix_person_id_number", "id_number"),
        Index("ix_person_id_tail", "id_tail"),
        Index("ix_person_name_pinyin", "name_pinyin"),
        Index("ix_person_name_initials", "name_initials"),
        Index("ix_person_unit_path", "unit_path"),
        Index("ix_person_village_id_household_state", "village_id", "household_state"),
        Index("ix_person_given_norm", "given_norm"),
    )


class VerifiedPerson(PersonItems, Base):
    """A member as of the household's last verified version (Household.last_verified_version_id):
    reports that count only what was verified read these. Replaced for the household in the
    transaction that verifies it; its place (unit, village, card) follows the household."""

    __tablename__ = "verified_person"

    household_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("household.id"), primary_key=True)
    person_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("household_version.id"))
    version_number: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_verified_person_name_norm_birth_date", "name_norm", "birth_date"),
        Index("ix_verified_person_id_number", "id_number"),
        Index("ix_verified_person_unit_path", "unit_path"),
        Index("ix_verified_person_village_id", "village_id"),
    )


class HouseholdNotice(Base):
    """A note for the household's collector (issue 16): a newer register differs from a
    household a collector has already worked on, so it was not changed; `differences` say
    how ([{"member", "field", "was", "now"}]), until someone resolves it."""

    __tablename__ = "household_notice"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("household.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    list_id: Mapped[int | None] = mapped_column(ForeignKey("imported_list.id"))
    differences: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    household: Mapped[Household] = relationship()
    resolved_by: Mapped[User | None] = relationship()

    __table_args__ = (
        CheckConstraint("kind IN ('register_differs')", name="kind_known"),
        CheckConstraint("(resolved_at IS NULL) = (resolved_by_id IS NULL)", name="resolved_by_someone"),
    )
