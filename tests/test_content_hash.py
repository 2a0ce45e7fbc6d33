"""Content hashes recomputed (issue 15, item 5): a version's data changed in the database
behind the application's back is refused for signing and printing, and reported by
`flask audit verify`. The tampering gets past the append-only guard as an attacker with
database access would (a superuser on PostgreSQL, dropping the trigger on SQLite)."""
from __future__ import annotations

import json
from html import unescape
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select, text, update

from app import runs
from app.domain import print_jobs, workflow
from app.domain import registration as reg
from app.domain.errors import Conflict
from app.extensions import db
from app.models import (AdminUnit, HouseholdVersion, PrintJob, PrintJobKind, Signature, WorkflowAction,
                        WorkflowEvent)
from tests.support.households import TODAY, family

SIGN = [[[100, 100], [400, 130], [700, 100]], [[250, 60], [260, 200], [240, 330]]]
MESSAGE = "数据与内容哈希不符"


@pytest.fixture
def people(units, make_user):
    return SimpleNamespace(
        collector=make_user("collector", units["A"], username="collector_a"),
        leader=make_user("village_leader", units["A"], username="leader_a"),
        clerk=make_user("clerk", units["T1"], username="clerk_t1", name="打印员"),
    )


def _household(people, units, seq: int = 1):
    h = reg.new_household(people.collector, unit_id=units["A1"].id, data=family(seq=seq), today=TODAY).household
    db.session.commit()
    return h


def _tamper(db_name: str, version_id: int, name: str = "王二麻子") -> None:
    """Change the head's name in the stored data, leaving the content hash as it was."""
    if db_name == "postgresql":
        db.session.execute(text("SET LOCAL session_replication_role = replica"))
    else:
        db.session.execute(text("DROP TRIGGER IF EXISTS household_version_no_update"))
    data = db.session.get(HouseholdVersion, version_id).data
    data = {**data, "members": [{**data["members"][0], "name": name}, *data["members"][1:]]}
    db.session.execute(update(HouseholdVersion).where(HouseholdVersion.id == version_id).values(data=data))
    db.session.commit()
    db.session.expire_all()


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_signing_a_tampered_version_is_refused(app, db_name, people, units, client):
    h = _household(people, units)
    _tamper(db_name, h.current_version_id)
    with pytest.raises(Conflict) as e:
        workflow.transition(people.collector, h.id, WorkflowAction.submit, version_number=1, strokes=SIGN)
    assert MESSAGE in e.value.message and h.card_no in e.value.message
    db.session.rollback()
    assert (_count(Signature), _count(WorkflowEvent)) == (0, 0)

    # On the review page, the leader gets the message in Chinese and nothing is stored.
    h2 = _household(people, units, seq=2)
    workflow.transition(people.collector, h2.id, WorkflowAction.submit, version_number=1, strokes=SIGN)
    db.session.commit()
    _tamper(db_name, h2.current_version_id)
    client.login("leader_a")
    resp = client.post_form(f"/review/households/{h2.id}/act",
                            {"action": "confirm", "version_number": "1", "strokes": json.dumps(SIGN)})
    assert resp.status_code == 409 and MESSAGE in unescape(resp.get_data(as_text=True))
    assert (_count(Signature), _count(WorkflowEvent)) == (1, 1)
    assert db.session.get(type(h2), h2.id).state == "submitted"


def test_printing_a_tampered_version_is_refused(app, db_name, people, units, client):
    h = _household(people, units)
    village = db.session.get(AdminUnit, units["A"].id)
    # A job asked for before the change: the render refuses the card, the job fails saying why.
    job = print_jobs.request_job(people.clerk, village, PrintJobKind.village)
    db.session.commit()
    job_id = job.id
    _tamper(db_name, h.current_version_id)
    with pytest.raises(Conflict):
        runs.run_print_job(job_id)
    job = db.session.get(PrintJob, job_id)
    assert job.state == "failed" and MESSAGE in job.error and job.files == []

    # Asked for after it: refused at once, for each kind of job.
    for kind, extra in ((PrintJobKind.village, {}), (PrintJobKind.book, {"book_no": 1}),
                        (PrintJobKind.card, {"card_no": h.card_no})):
        with pytest.raises(Conflict, match=MESSAGE):
            print_jobs.request_job(people.clerk, village, kind, **extra)
        db.session.rollback()
    client.login("clerk_t1")
    resp = client.post_form(f"/print/villages/{village.id}/jobs", {"kind": "village", "page_size": "A4"})
    assert resp.status_code == 409 and MESSAGE in unescape(resp.get_data(as_text=True))
    assert _count(PrintJob) == 1


def test_verify_reports_tampered_versions_and_signatures(app, db_name, people, units):
    h = _household(people, units)
    other = _household(people, units, seq=2)
    workflow.transition(people.collector, other.id, WorkflowAction.submit, version_number=1, strokes=SIGN)
    db.session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "content hashes intact: 2 versions, 1 signatures" in result.output

    version_id = h.current_version_id
    _tamper(db_name, version_id)
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"content hash MISMATCH: version {version_id} (household {h.id}, number 1)" in result.output
    assert "audit chain intact" in result.output  # the chain itself was not touched

    # A signature moved onto other content is reported too.
    if db_name == "postgresql":
        db.session.execute(text("SET LOCAL session_replication_role = replica"))
    else:
        db.session.execute(text("DROP TRIGGER signature_no_update"))
    db.session.execute(update(Signature).values(content_hash="0" * 64))
    db.session.commit()
    result = runner.invoke(args=["audit", "verify"])
    signature_id = db.session.scalar(select(Signature.id))
    assert f"signature {signature_id} signs a content hash other than its version" in result.output


def test_data_and_hashes_rewritten_together_differ_from_the_keyed_chain(app, db_name, people, units):
    """An attacker who rewrites the data and recomputes the content hash (plain SHA-256) of the
    version and of its signature: the rows agree with each other, not with the audit log."""
    h = _household(people, units)
    workflow.transition(people.collector, h.id, WorkflowAction.submit, version_number=1, strokes=SIGN)
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert "(1 and 1 of them as the audit log recorded them)" in result.output

    version_id = h.current_version_id
    _tamper(db_name, version_id)
    forged = reg.content_hash(db.session.get(HouseholdVersion, version_id).data)
    if db_name == "postgresql":
        db.session.execute(text("SET LOCAL session_replication_role = replica"))
    else:
        db.session.execute(text("DROP TRIGGER signature_no_update"))
    db.session.execute(update(HouseholdVersion).where(HouseholdVersion.id == version_id)
                       .values(content_hash=forged))
    db.session.execute(update(Signature).values(content_hash=forged))
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert (f"version {version_id} (household {h.id}, number 1): its content hash is not the one the audit "
            "log recorded when it was saved") in result.output
    assert "its content hash is not the one the audit log recorded when it was signed" in result.output
    assert "does not match its content hash" not in result.output  # the rows agree with each other
