"""app.domain.bulk.insert_rows: COPY on PostgreSQL, executemany on SQLite, and the rows read
back as an INSERT would have written them (time zones, JSON, UUIDs, NULLs)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from app.domain import bulk, registration
from app.extensions import db
from app.models import HouseholdNotice, ListRecordLink
from tests.support.households import TODAY, family


def test_rows_read_back_as_written(units, make_user, db_name):
    collector = make_user("collector", units["A"])
    h = registration.new_household(collector, unit_id=units["A"].id, data=family(), today=TODAY).household
    db.session.commit()
    at = dt.datetime(2026, 12, 8, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    rows = [{"household_id": h.id, "kind": "register_differs", "list_id": None, "created_at": at,
             "differences": [{"member": 1, "field": "name", "was": "王建国", "now": "王建國"}],
             "resolved_at": None, "resolved_by_id": None}]
    how = bulk.insert_rows(db.session.connection(), HouseholdNotice.__table__, rows)
    db.session.commit()
    assert how == ("copy" if db_name == "postgresql" else "insert")
    notice = db.session.scalars(select(HouseholdNotice).where(HouseholdNotice.household_id == h.id)).one()
    assert notice.differences == rows[0]["differences"]
    assert notice.created_at == at and notice.resolved_at is None and notice.list_id is None


def test_a_column_with_a_python_default_left_out_goes_through_insert(units, make_user, db_name):
    collector = make_user("collector", units["A"])
    h = registration.new_household(collector, unit_id=units["A"].id, data=family(), today=TODAY).household
    db.session.commit()
    # created_at left out: only an INSERT applies its default (utcnow).
    how = bulk.insert_rows(db.session.connection(), HouseholdNotice.__table__,
                           [{"household_id": h.id, "kind": "register_differs", "differences": []}])
    db.session.commit()
    assert how == "insert"
    assert db.session.scalars(select(HouseholdNotice.created_at).where(HouseholdNotice.household_id == h.id)).one()


def test_no_rows_write_nothing(app):
    assert bulk.insert_rows(db.session.connection(), ListRecordLink.__table__, []) == "insert"
    assert db.session.scalar(select(ListRecordLink.record_id).limit(1)) is None
