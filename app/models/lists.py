"""Imported lists (DESIGN.md §10): files from the police, hospitals, civil affairs or an old
register of cards, kept row by row as written, with per-field flags.

A list's rows are evidence: they are never edited. A wrong value stays as written in `raw`
(its column is None) and is flagged; a row that cannot be used at all is not kept, only its
problem (ListProblem, refused). A list is withdrawn, never deleted, while nothing was made
from it; a withdrawn or failed list's rows are excluded everywhere.
"""
from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import (BigInteger, Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint, Uuid, text)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, JSONType, PathString, UTCDateTime, utcnow
from app.models.units import AdminUnit
from app.models.users import User

# The sources a list comes from (exchange.SOURCES; repeated here so that models import nothing
# outside app): 公安户籍, 医院出生, 民政死亡/火化, the township's own register, anything else.
LIST_SOURCES = ("police", "births", "deaths", "register", "other")

# BIGINT on PostgreSQL (a province's lists pass 2^31 rows over the years), INTEGER on SQLite
# (its rowid alias must be exactly INTEGER).
_BIGINT = BigInteger().with_variant(Integer(), "sqlite")


class ListState(str, enum.Enum):
    loading = "loading"      # rows being written in chunks (a job, the CLI)
    loaded = "loaded"
    failed = "failed"        # stopped half-way: its rows count for nothing; a re-run cleans it
    withdrawn = "withdrawn"  # a mistaken import, taken back: rows kept, excluded


class PrefillState(str, enum.Enum):
    """A pre-fill of households asked from a list's page (app.jobs.run_prefill)."""
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"   # the villages done stay; asking again goes on from there


PREFILL_BUSY = (PrefillState.queued.value, PrefillState.running.value)

# Lists whose rows count (for duplicates, comparisons, pre-fill).
ACTIVE_STATES = (ListState.loading.value, ListState.loaded.value)


def _in(values) -> str:
    return ",".join(f"'{v}'" for v in values)


class ImportedList(Base):
    __tablename__ = "imported_list"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(10))
    month: Mapped[str | None] = mapped_column(String(7))  # "YYYY-MM", the month the list covers
    file_name: Mapped[str] = mapped_column(String(255))
    file_sha256: Mapped[str] = mapped_column(String(64))
    sheet: Mapped[str | None] = mapped_column(String(100))
    encoding: Mapped[str | None] = mapped_column(String(20))
    # {field: column} as used for this list.
    mapping: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    # The importing user's unit: rows that name no usable village are kept there.
    # None (and path "") for a command-line import without a user: the whole tree.
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("admin_unit.id"))
    unit_path: Mapped[str] = mapped_column(PathString, index=True)
    state: Mapped[str] = mapped_column(String(10), default=ListState.loading.value)
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    rows_loaded: Mapped[int] = mapped_column(Integer, default=0)
    rows_flagged: Mapped[int] = mapped_column(Integer, default=0)
    rows_refused: Mapped[int] = mapped_column(Integer, default=0)
    rows_duplicate: Mapped[int] = mapped_column(Integer, default=0)
    # Why a failed import stopped (shown to the clerk).
    error: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The loader's last sign of life (each chunk): a 'loading' list silent for long was left
    # by a process that died, and a re-run of the same file may clean it.
    progress_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # The last pre-fill asked from the list's page: who, when, with which household key, and
    # its progress (records done of total, a commit per village) and counts, which the page polls.
    prefill_state: Mapped[str | None] = mapped_column(String(10))
    prefill_key: Mapped[str | None] = mapped_column(String(20))
    prefill_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    prefill_asked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    prefill_progress_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # the job's last sign of life
    prefill_done: Mapped[int | None] = mapped_column(Integer)
    prefill_total: Mapped[int | None] = mapped_column(Integer)
    prefill_created: Mapped[int | None] = mapped_column(Integer)
    prefill_updated: Mapped[int | None] = mapped_column(Integer)
    prefill_noticed: Mapped[int | None] = mapped_column(Integer)
    prefill_error: Mapped[str | None] = mapped_column(Text)

    unit: Mapped[AdminUnit | None] = relationship()
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    withdrawn_by: Mapped[User | None] = relationship(foreign_keys=[withdrawn_by_id])
    prefill_by: Mapped[User | None] = relationship(foreign_keys=[prefill_by_id])

    __table_args__ = (
        CheckConstraint(f"source IN ({_in(LIST_SOURCES)})", name="source_known"),
        CheckConstraint(f"state IN ({_in(s.value for s in ListState)})", name="state_known"),
        CheckConstraint("(state = 'withdrawn') = (withdrawn_at IS NOT NULL)", name="withdrawn_when"),
        CheckConstraint(f"prefill_state IS NULL OR prefill_state IN ({_in(s.value for s in PrefillState)})",
                        name="prefill_state_known"),
        # The same file of the same source counts once: two imports racing for it cannot both
        # load (the database decides, not a check-then-insert).
        Index("uq_imported_list_active_file", "source", "file_sha256", unique=True,
              sqlite_where=text("state IN ('loading','loaded')"),
              postgresql_where=text("state IN ('loading','loaded')")),
        Index("ix_imported_list_source_month", "source", "month"),
    )

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES


class ListRecord(Base):
    """One row of a list as written (`raw`), its normalised values (None where the written
    value is wrong: see `flags`), and where it was placed."""

    __tablename__ = "list_record"

    id: Mapped[int] = mapped_column(_BIGINT, primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("imported_list.id"))
    line: Mapped[int] = mapped_column(Integer)  # line/row number in the file, as a clerk sees it
    record_id: Mapped[str | None] = mapped_column(String(64))  # the source's own id (GA…, 户号 …)
    row_hash: Mapped[str] = mapped_column(String(64))
    # None when the row names no usable village (a department list): then unit_path is the
    # importing unit's.
    village_id: Mapped[int | None] = mapped_column(ForeignKey("admin_unit.id"))
    unit_path: Mapped[str] = mapped_column(PathString)
    name: Mapped[str | None] = mapped_column(String(100))
    name_norm: Mapped[str | None] = mapped_column(String(100))
    sex: Mapped[str | None] = mapped_column(String(1))
    birth_date: Mapped[dt.date | None] = mapped_column(Date)
    id_number: Mapped[str | None] = mapped_column(String(18))
    household_no: Mapped[str | None] = mapped_column(String(64))
    card_no: Mapped[str | None] = mapped_column(String(16))
    relation: Mapped[str | None] = mapped_column(String(2))
    address: Mapped[str | None] = mapped_column(String(400))
    death_date: Mapped[dt.date | None] = mapped_column(Date)
    mother_name: Mapped[str | None] = mapped_column(String(100))
    mother_id_number: Mapped[str | None] = mapped_column(String(18))
    hospital: Mapped[str | None] = mapped_column(String(200))
    # {field: value as written}, {column: value} of columns no field takes.
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    extras: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # [{"field", "column", "reason", "message": {"zh", "en"}}]: the values kept as written.
    flags: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)

    imported_list: Mapped[ImportedList] = relationship()
    village: Mapped[AdminUnit | None] = relationship()

    __table_args__ = (
        UniqueConstraint("list_id", "line"),
        # Re-imported rows are found by their content or the source's own id; with the list
        # in the index the look-up never reads the table (a chunk's 2,000 look-ups: half the time).
        Index("ix_list_record_row_hash", "row_hash", "list_id"),
        Index("ix_list_record_record_id", "record_id", "list_id"),
        # Comparisons and pages read a unit's rows, or look for one person.
        Index("ix_list_record_unit_path", "unit_path"),
        Index("ix_list_record_id_number", "id_number"),
        Index("ix_list_record_name_norm", "name_norm"),
        # The pre-fill reads and links one village's rows at a time: without this each village
        # scanned the whole list (232 villages x 400k rows: a third of a county's pre-fill).
        Index("ix_list_record_list_id_village_id", "list_id", "village_id"),
    )

    @property
    def flagged(self) -> bool:
        return bool(self.flags)


class ListRecordLink(Base):
    """The household a list row was pre-filled into (app.domain.prefill), apart from the row,
    which is never edited: one narrow row written once per record. (On the row itself, linking a
    county's 400k records rewrote 400k wide rows and their eight indexes on PostgreSQL.)"""

    __tablename__ = "list_record_link"

    record_id: Mapped[int] = mapped_column(_BIGINT, ForeignKey("list_record.id"), primary_key=True)
    household_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("household.id"))


class ListProblem(Base):
    """A refused row or a flagged value, with its line, column and reason: the clerk's
    downloadable list of problems."""

    __tablename__ = "list_problem"

    id: Mapped[int] = mapped_column(_BIGINT, primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("imported_list.id"), index=True)
    line: Mapped[int] = mapped_column(Integer)
    column: Mapped[str | None] = mapped_column(String(200))
    field: Mapped[str | None] = mapped_column(String(32))
    value: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(String(40))
    message_zh: Mapped[str] = mapped_column(Text)
    message_en: Mapped[str] = mapped_column(Text)
    refused: Mapped[bool] = mapped_column(Boolean, default=False)


class ListMapping(Base):
    """A column mapping saved per source under a name (default: the source), reused for the
    next month's file."""

    __tablename__ = "list_mapping"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(100))
    fields: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)  # {field: column}
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("source", "name"),
        CheckConstraint(f"source IN ({_in(LIST_SOURCES)})", name="source_known"),
    )
