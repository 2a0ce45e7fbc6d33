"""History tables are append-only in the database itself (issue 15, item 4): household_version,
signature and workflow_event refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL), on both
databases, whatever the application does. The one legitimate change, a two-sided life event
adding the other household's ids to its version's `event`, still goes through."""
from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DatabaseError

from app.domain import events as ev
from app.domain import registration as reg
from app.domain import workflow
from app.extensions import db
from app.models import HouseholdVersion, Signature, WorkflowAction, WorkflowEvent
from tests.support.households import TODAY, family, member

SIGN = [[[100, 100], [400, 130], [700, 100]], [[250, 60], [260, 200], [240, 330]]]


@pytest.fixture
def submitted(app, units, make_user):
    """A household submitted with the collector's signature: one version, one signature, one event;
    and a second household (for values that point elsewhere)."""
    collector = make_user("collector", units["A"], username="collector_a")
    h = reg.new_household(collector, unit_id=units["A1"].id, data=family(), today=TODAY).household
    other = reg.new_household(collector, unit_id=units["A1"].id, data=family(seq=2), today=TODAY).household
    db.session.commit()
    workflow.transition(collector, h.id, WorkflowAction.submit, version_number=1, strokes=SIGN)
    db.session.commit()
    return h, other, collector


def _refused(statement, params=None):
    with pytest.raises(DatabaseError, match="append-only"):
        db.session.execute(statement if not isinstance(statement, str) else text(statement), params or {})
    db.session.rollback()


def _version_changes(h, other, collector) -> dict:
    """A different value for every column of household_version but `event`."""
    return {"id": 9999, "household_id": other.id, "number": 7, "kind": "edit", "data": {"members": []},
            "content_hash": "f" * 64, "form_version": 99, "base_number": 5, "submission_id": uuid.uuid4(),
            "issues": [{"rule": "x"}], "complete": False, "created_by_id": collector.id + 1000,
            "created_at": dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc), "occurred_on": dt.date(2020, 1, 1)}


def test_every_column_of_a_version_is_guarded(app, submitted):
    h, other, collector = submitted
    changes = _version_changes(h, other, collector)
    # A column added to household_version must be added to migration 0011's guard, and here.
    assert set(changes) == {c.name for c in HouseholdVersion.__table__.columns} - {"event"}
    version_id = h.current_version_id
    for column, value in changes.items():
        _refused(update(HouseholdVersion).where(HouseholdVersion.id == version_id).values({column: value}))
    # A version without an event gets none afterwards either.
    _refused(update(HouseholdVersion).where(HouseholdVersion.id == version_id).values(event={"kind": "birth"}))
    _refused(delete(HouseholdVersion).where(HouseholdVersion.id == version_id))
    db.session.expire_all()
    assert db.session.get(HouseholdVersion, version_id).content_hash == reg.content_hash(h.current_version.data)


@pytest.mark.parametrize("statement", [
    "UPDATE signature SET strokes_svg = '<svg/>'",
    "UPDATE signature SET content_hash = '" + "f" * 64 + "'",
    "DELETE FROM signature",
    "UPDATE workflow_event SET reason_text = 'forged'",
    "UPDATE workflow_event SET to_state = 'verified'",
    "DELETE FROM workflow_event",
])
def test_signatures_and_workflow_events_refuse_update_and_delete(app, submitted, statement):
    _refused(statement)
    assert db.session.scalar(select(Signature.strokes_svg)).startswith("<svg xmlns")
    assert db.session.scalar(select(WorkflowEvent.to_state)) == "submitted"


@pytest.mark.parametrize("table", ["household_version", "signature", "workflow_event"])
def test_postgresql_refuses_truncate(app, db_name, submitted, table):
    if db_name != "postgresql":
        pytest.skip("TRUNCATE is PostgreSQL's")
    _refused(f"TRUNCATE {table} CASCADE")


def _split(collector, units):
    data = family()
    data["members"].append(member("陈芳", "28", "1996-02-02", "2", seq=5, marital_status="20"))
    data["members"][2]["marital_status"] = "20"
    h = reg.new_household(collector, unit_id=units["A1"].id, data=data, today=TODAY).household
    db.session.commit()
    son, wife = (next(m for m in h.current_version.data["members"] if m["name"] == n) for n in ("张伟", "陈芳"))
    result = ev.split(collector, h.id, person_ids=[son["person_id"], wife["person_id"]],
                      new_head=son["person_id"], relationships={wife["person_id"]: "12"},
                      occurred_on=dt.date(2026, 4, 1), base_number=1, address={"door_no": "8号"},
                      submission_id=uuid.uuid4(), today=TODAY)
    db.session.commit()
    return result


def test_a_two_sided_event_still_completes_its_version(app, units, submitted):
    """split (like move in from another household) adds the new household's id to the event of
    the version it wrote a moment before: the one UPDATE the guard lets through."""
    *_, collector = submitted
    result = _split(collector, units)
    version_id, new_id = result.version.id, result.other.household.id
    db.session.expire_all()
    event = db.session.get(HouseholdVersion, version_id).event
    assert event["other_household_id"] == str(new_id) and event["kind"] == "split"

    # What it lets through is only that: keys added, none changed or removed, nothing else.
    def changed(**new):
        return update(HouseholdVersion).where(HouseholdVersion.id == version_id).values(event={**event, **new})

    _refused(changed(other_household_id=str(uuid.uuid4())))
    _refused(changed(person_ids=[*event["person_ids"], "someone"]))
    _refused(changed(kind=1))
    _refused(update(HouseholdVersion).where(HouseholdVersion.id == version_id)
             .values(event={k: v for k, v in event.items() if k != "kind"}))
    _refused(update(HouseholdVersion).where(HouseholdVersion.id == version_id)
             .values(event={**event, "note": "added"}, data={"members": []}))
    db.session.execute(changed(note="added"))  # allowed: an added key, the rest as it was
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(HouseholdVersion, version_id).event == {**event, "note": "added"}


def test_test_set_up_lifts_the_guard_for_one_transaction_only(app, submitted):
    """tests.support.history.history_writable, used by tests that backdate history."""
    from tests.support.history import history_writable

    h, *_ = submitted
    version = db.session.get(HouseholdVersion, h.current_version_id)
    with history_writable():
        version.created_at = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(HouseholdVersion, h.current_version_id).created_at.year == 2026
    _refused(update(HouseholdVersion).where(HouseholdVersion.id == h.current_version_id).values(number=5))
    _refused("DELETE FROM signature")
