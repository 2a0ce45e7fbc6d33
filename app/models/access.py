"""The access log: who saw which household, person or list, kept apart from the change audit
(as OpenCRVS keeps access logging apart from workflow history).

Entries are appended in batches by a background flusher (app.access_log), never by the page
view itself, so that reading takes no lock. Each batch carries an HMAC over its entries and
the previous batch's hash; both tables refuse UPDATE and DELETE in the database (migration 0012).
Anonymous card scans are counted per day, address and outcome instead (scan_count).
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Date, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import JSONType, PathString, UTCDateTime
from app.models.base import Base

_BIGINT = BigInteger().with_variant(Integer, "sqlite")  # SQLite auto-increments INTEGER only


class AccessBatch(Base):
    __tablename__ = "access_batch"

    id: Mapped[int] = mapped_column(_BIGINT, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    entries: Mapped[int] = mapped_column(Integer)  # how many entries it holds
    key_id: Mapped[str] = mapped_column(String(16))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AccessEntry(Base):
    __tablename__ = "access_entry"

    id: Mapped[int] = mapped_column(_BIGINT, primary_key=True)
    batch_id: Mapped[int] = mapped_column(_BIGINT, index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    endpoint: Mapped[str] = mapped_column(String(64))
    # "household", "person", "household_list", "id_lookup", ...; object_id names the one shown.
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(64))
    # Where it lies (a household's unit, a list's unit): what a security officer's area covers.
    unit_path: Mapped[str | None] = mapped_column(PathString)
    # A list's filter and count, a lookup's masked numbers and hits.
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    address: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (
        Index("ix_access_entry_actor_at", "actor_id", "at"),
        Index("ix_access_entry_object", "object_type", "object_id"),
        Index("ix_access_entry_at", "at"),
    )


class ScanCount(Base):
    """Anonymous scans of /c/ URLs per day, address and outcome: a count, not a row per scan,
    so that a scanner of junk codes cannot flood any log."""
    __tablename__ = "scan_count"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(16), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
