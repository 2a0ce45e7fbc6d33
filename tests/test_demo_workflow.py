"""`flask demo` moves its households along the approval chain (issue 4): a realistic mix of
states, three signatures by three people on every verified card, returns with reasons, an
intact audit chain, and nothing new on a rerun. Pure parts (the plan, the squiggles) too."""
from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select

from app.demo import township as demo
from app.demo import workflow as demo_workflow
from app.domain import signatures, workflow
from app.demo.households import submission_id
from app.extensions import db
from app.models import AuditEntry, Household, Signature, User, WorkflowEvent

STATES = {"draft", "submitted", "confirmed", "verified", "returned"}


def run(app, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=["demo", "--password", "demo-password-1", "--no-events", *args])
    assert result.exit_code == 0, result.output
    return result.output


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def snapshot() -> tuple:
    db.session.expire_all()
    states = tuple(db.session.execute(select(Household.id, Household.state, Household.current_number)
                                      .order_by(Household.id)).all())
    return states, count(WorkflowEvent), count(Signature), count(AuditEntry)


def user(username: str) -> User:
    return db.session.scalar(select(User).where(User.username == username))


# ------------------------------------------------------------------ pure


def test_the_plan_gives_the_mix_in_every_block_of_fifty():
    plans = demo_workflow.plan_states(2000, 2021)

    assert Counter(plans) == {k: 40 * n for k, n in demo_workflow.PLAN_BLOCK.items()}
    for start in range(0, 2000, 50):
        assert Counter(plans[start:start + 50]) == demo_workflow.PLAN_BLOCK
    assert plans == demo_workflow.plan_states(2000, 2021)  # the same for the same seed
    assert plans != demo_workflow.plan_states(2000, 7)
    assert demo_workflow.plan_states(60, 2021) == plans[:60]
    assert demo_workflow.plan_states(0, 2021) == []


def test_every_demo_signer_draws_an_accepted_signature_that_varies_a_little():
    signers = [spec.username for spec in demo.DEMO_USERS if spec.role.value in
               ("collector", "village_leader", "verifier")]
    for name in signers:
        drawn = [demo_workflow.squiggle(name, i) for i in range(20)]
        for strokes in drawn:
            parsed = signatures.parse_strokes(strokes)  # raises if it is not a signature
            assert 2 <= len(parsed) <= 3 and all(len(s) >= 10 for s in parsed)
        assert len({signatures.render_svg(signatures.parse_strokes(s)) for s in drawn}) > 10
        assert demo_workflow.squiggle(name, 3) == drawn[3]
    # Different people sign differently.
    assert len({signatures.render_svg(signatures.parse_strokes(demo_workflow.squiggle(n, 0)))
                for n in signers}) == len(signers)


# ------------------------------------------------------------------ `flask demo` (both databases)


def test_flask_demo_gives_a_mix_of_states_signed_by_different_people(app):
    output = run(app, "--households", "60")

    households = db.session.scalars(select(Household)).all()
    states = Counter(h.state for h in households)
    assert set(states) == STATES, states
    assert states["verified"] > 0.5 * len(households)
    assert f"verified {states['verified']}" in output and "Approval chain:" in output
    # Households with blocking errors cannot be submitted: they are drafts, never moved.
    incomplete = [h for h in households if not h.complete]
    assert incomplete and all(h.state == "draft" for h in incomplete)
    assert count(WorkflowEvent, WorkflowEvent.household_id.in_([h.id for h in incomplete])) == 0

    leaders = {a.unit_id: u for u in db.session.scalars(select(User)) for a in u.roles
               if a.role == "village_leader"}
    for h in households:
        version = h.current_version
        events = workflow.history(user("demo_verifier"), h.id)
        counting = signatures.signatures_for(version)
        leader = leaders[h.village_id]
        if h.state == "verified":
            # Three levels, three people: the village's collector, its leader, the verifier.
            assert set(counting) == {"collector", "village_leader", "verifier"}
            signers = {role: s.signer for role, s in counting.items()}
            assert len({s.id for s in signers.values()}) == 3
            assert signers["collector"].id == h.created_by_id
            assert signers["village_leader"].username == leader.username
            assert signers["verifier"].username == "demo_verifier"
            assert h.last_verified_version_id == version.id
            assert [e.action for e in events] == ["submit", "confirm", "verify"]
        elif h.state == "returned":
            last = events[-1]
            assert last.action == "return" and last.reason_codes
            assert set(last.reason_codes) <= set(workflow.RETURN_REASONS)
            assert last.reason_text and last.actor.username in (leader.username, "demo_verifier")
            assert counting == {}  # a return ends the round: signed again after the fix
        else:
            expected = {"draft": [], "submitted": ["submit"], "confirmed": ["submit", "confirm"]}[h.state]
            assert [e.action for e in events] == expected
            assert set(counting) == {"draft": set(), "submitted": {"collector"},
                                     "confirmed": {"collector", "village_leader"}}[h.state]
    # Both kinds of return happen: by the village leader and by the verifier.
    returns = db.session.scalars(select(WorkflowEvent).where(WorkflowEvent.action == "return")).all()
    assert {e.role for e in returns} == {"village_leader", "verifier"}
    # The queues show them: the verifier's the confirmed households, each leader's the submitted.
    assert workflow.verifier_queue(user("demo_verifier")).total == states["confirmed"]
    waiting = sum(workflow.leader_queue(user(spec.username)).total for spec in demo.DEMO_USERS
                  if spec.role.value == "village_leader")
    assert waiting == states["submitted"]

    verify = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert verify.exit_code == 0 and "intact" in verify.output, verify.output
    entries = count(AuditEntry, AuditEntry.action.in_(
        ["household.submit", "household.confirm", "household.verify", "household.return"]))
    assert entries == count(WorkflowEvent) == sum(len(e) for e in [workflow.history(
        user("demo_verifier"), h.id) for h in households])


def test_a_rerun_changes_nothing(app):
    run(app, "--households", "60")
    before = snapshot()

    output = run(app, "--households", "60")

    assert snapshot() == before
    assert "already has 60; none created" in output and "Approval chain:" not in output


def test_no_workflow_leaves_drafts_and_a_later_run_moves_them(app):
    run(app, "--households", "60", "--no-workflow")
    assert {h.state for h in db.session.scalars(select(Household))} == {"draft"}
    assert count(WorkflowEvent) == 0

    run(app, "--households", "60")

    assert {h.state for h in db.session.scalars(select(Household))} == STATES


def test_households_touched_by_people_are_left_alone(app):
    run(app, "--households", "60", "--no-workflow")
    # A collector already submitted one household the plan would verify; it is not moved.
    plans = demo_workflow.plan_states(60, demo.HOUSEHOLD_SEED)
    households = db.session.scalars(select(Household)).all()
    by_submission = {h.versions[0].submission_id: h for h in households}
    index = next(i for i, plan in enumerate(plans) if plan == "verified"
                 and by_submission[submission_id(demo.HOUSEHOLD_SEED, i)].complete)
    touched = by_submission[submission_id(demo.HOUSEHOLD_SEED, index)]
    collector = db.session.get(User, touched.created_by_id)
    workflow.submit(collector, touched.id, version_number=1, strokes=demo_workflow.squiggle("x", 1))
    db.session.commit()

    run(app, "--households", "60")

    db.session.expire_all()
    assert db.session.get(Household, touched.id).state == "submitted"
    assert count(WorkflowEvent, WorkflowEvent.household_id == touched.id) == 1


def test_no_households_no_workflow(app):
    run(app, "--households", "0")

    assert count(Household) == 0 and count(WorkflowEvent) == 0


@pytest.mark.parametrize("village", range(6))
def test_every_village_has_a_collector_and_a_leader(village):
    roles = Counter(spec.role.value for spec in demo.DEMO_USERS if spec.unit == f"village:{village}")
    assert roles["collector"] >= 1 and roles["village_leader"] >= 1
