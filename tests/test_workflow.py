"""The approval chain: transitions, refusals (generated from the table), signatures bound to
content, returns, batch verify, queues, and two reviewers racing."""
from __future__ import annotations

import copy
import threading
from types import SimpleNamespace

import pytest
from flask_babel import gettext
from sqlalchemy import func, select

from app.domain import registration as reg
from app.domain import scope, workflow
from app.domain.errors import Conflict, Forbidden, Invalid, NotFound
from app.domain.signatures import signature_counts, signatures_for
from app.domain.units import get_or_create_unit
from app.domain.users import grant_role
from app.extensions import db
from app.models import (AuditEntry, Household, HouseholdState, HouseholdVersion, Role, Signature, UnitLevel,
                        User, WorkflowAction, WorkflowEvent)
from tests.support.households import TODAY, family

S, A = HouseholdState, WorkflowAction
SIGN = [[[100, 100], [400, 130], [700, 100]], [[250, 60], [260, 200], [240, 330]]]


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def people(units, make_user):
    return SimpleNamespace(
        collector=make_user("collector", units["A"], username="collector_a", name="采集员甲"),
        leader=make_user("village_leader", units["A"], username="leader_a", name="村干部乙"),
        verifier=make_user("verifier", units["T1"], username="verifier_t1", name="审核员丙"),
    )


def _household(collector: User, unit, seq: int = 1, data: dict | None = None) -> Household:
    result = reg.new_household(collector, unit_id=unit.id, data=data or family(seq=seq), today=TODAY)
    db.session.commit()
    return result.household


def _do(user: User, h: Household, action: WorkflowAction, **kw) -> WorkflowEvent:
    kw.setdefault("version_number", h.current_number)
    if action == A.return_:
        kw.setdefault("reason_codes", ["wrong_id_number"])
    else:
        kw.setdefault("strokes", SIGN)
    event = workflow.transition(user, h.id, action, **kw)
    db.session.commit()
    return event


def _to_state(people, h: Household, state: HouseholdState) -> Household:
    """Walk a new household to `state` along the table's path."""
    path = {S.draft: [], S.submitted: [(people.collector, A.submit)],
            S.confirmed: [(people.collector, A.submit), (people.leader, A.confirm)],
            S.verified: [(people.collector, A.submit), (people.leader, A.confirm),
                         (people.verifier, A.verify)],
            S.returned: [(people.collector, A.submit), (people.leader, A.return_)]}[state]
    for user, action in path:
        _do(user, h, action)
    assert h.state == state.value
    return h


def _snapshot(h: Household) -> tuple:
    db.session.expire_all()
    h = db.session.get(Household, h.id)
    return (h.state, h.current_number, h.last_verified_version_id,
            _count(WorkflowEvent), _count(Signature), _count(AuditEntry))


def _save_again(collector: User, h: Household) -> HouseholdVersion:
    data = copy.deepcopy(h.current_version.data)
    data["household"]["phone"] = "13800138000"
    result = reg.save_household(collector, h.id, data=data, base_number=h.current_number, today=TODAY)
    db.session.commit()
    return result.version


# ------------------------------------------------------------------ the chain


def test_the_whole_chain_signs_each_level_once(app, units, people):
    h = _household(people.collector, units["A"])
    assert workflow.available_actions(people.collector, h) == [A.submit]
    assert workflow.available_actions(people.leader, h) == []
    audits = _count(AuditEntry)

    submitted = _do(people.collector, h, A.submit)
    assert h.state == "submitted" and (submitted.from_state, submitted.to_state) == ("draft", "submitted")
    assert submitted.actor_id == people.collector.id and submitted.role == "collector"
    assert submitted.version_id == h.current_version_id and submitted.reason_codes == []
    assert submitted.signature.content_hash == h.current_version.content_hash
    assert submitted.signature.strokes_svg.startswith("<svg") and _count(AuditEntry) == audits + 1
    assert workflow.available_actions(people.leader, h) == [A.confirm, A.return_]
    assert workflow.available_actions(people.collector, h) == []

    _do(people.leader, h, A.confirm)
    assert h.state == "confirmed" and h.last_verified_version_id is None
    assert workflow.available_actions(people.verifier, h) == [A.verify, A.return_]
    assert workflow.available_actions(people.leader, h) == []

    verified = _do(people.verifier, h, A.verify)
    assert h.state == "verified" and h.last_verified_version_id == h.current_version_id
    assert all(workflow.available_actions(u, h) == [] for u in vars(people).values())

    signed = signatures_for(h.current_version)
    assert {role: s.signer_id for role, s in signed.items()} == {
        "collector": people.collector.id, "village_leader": people.leader.id, "verifier": people.verifier.id}
    assert [e.action for e in workflow.history(people.verifier, h.id)] == ["submit", "confirm", "verify"]
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action.like("household.%"))
                                 .order_by(AuditEntry.id)).all()
    assert [e.action for e in entries] == ["household.create", "household.submit", "household.confirm",
                                           "household.verify"]
    assert entries[-1].details["event_id"] == verified.id and entries[-1].details["version"] == 1
    assert entries[-1].details["signature_id"] == verified.signature_id
    assert entries[-1].object_id == str(h.id)


def test_returns_at_each_level_and_resubmission(app, units, people):
    h = _to_state(people, _household(people.collector, units["A"]), S.submitted)
    returned = _do(people.leader, h, A.return_, reason_codes=["other", "missing_member"],
                   reason_text="  缺少新生儿  ")
    assert h.state == "returned" and returned.signature_id is None
    assert returned.reason_codes == ["missing_member", "other"] and returned.reason_text == "缺少新生儿"
    entry = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert entry.action == "household.return" and entry.details["reason_codes"] == ["missing_member", "other"]
    # a return ends the round: nothing signed so far counts any more
    assert signatures_for(h.current_version) == {}
    [item] = workflow.returned_for_collector(people.collector)
    assert item.household.id == h.id and item.event.id == returned.id and item.event.actor.name == "村干部乙"
    assert workflow.available_actions(people.collector, h) == [A.submit]

    # the collector fixes it (a new version, a draft) and submits again; the verifier returns it
    _save_again(people.collector, h)
    assert h.state == "draft" and h.current_number == 2
    _do(people.collector, h, A.submit)
    _do(people.leader, h, A.confirm)
    _do(people.verifier, h, A.return_, reason_codes=["signature_missing"])
    assert h.state == "returned" and workflow.returned_for_collector(people.collector)[0].event.reason_codes \
        == ["signature_missing"]
    # re-submitted as it is (no new version), then through to verified
    _do(people.collector, h, A.submit)
    _do(people.leader, h, A.confirm)
    _do(people.verifier, h, A.verify)
    assert h.state == "verified" and h.last_verified_version_id == h.current_version_id
    events = workflow.history(people.collector, h.id)
    assert [(e.action, e.version.number) for e in events] == [
        ("submit", 1), ("return", 1), ("submit", 2), ("confirm", 2), ("return", 2),
        ("submit", 2), ("confirm", 2), ("verify", 2)]
    assert [e.from_state for e in events][2] == "draft" and events[5].from_state == "returned"
    # the three counting signatures are those of the last round
    assert {s.id for s in signatures_for(h.current_version).values()} == {e.signature_id for e in events[5:]}
    assert workflow.returned_for_collector(people.collector) == []


@pytest.mark.parametrize("codes, text, field", [
    ([], "说明", "reason_codes"),
    (None, None, "reason_codes"),
    (["wrong_id_number", "made_up"], None, "reason_codes"),
    (["other"], None, "reason_text"),
    (["other"], "   ", "reason_text"),
    (["address_unclear"], "字" * 501, "reason_text"),
])
def test_a_return_needs_known_reasons_and_text_for_other(app, units, people, codes, text, field):
    h = _to_state(people, _household(people.collector, units["A"]), S.submitted)
    before = _snapshot(h)
    with pytest.raises(Invalid) as e:
        workflow.return_household(people.leader, h.id, version_number=1, reason_codes=codes, reason_text=text)
    assert e.value.field == field
    assert _snapshot(h) == before


def test_a_return_takes_500_characters(app, units, people):
    h = _to_state(people, _household(people.collector, units["A"]), S.submitted)
    event = _do(people.leader, h, A.return_, reason_codes=["other"], reason_text="字" * 500)
    assert len(event.reason_text) == 500


def test_signing_needs_a_signature(app, units, people):
    h = _household(people.collector, units["A"])
    before = _snapshot(h)
    for strokes in (None, [], [[[10, 10]]]):
        with pytest.raises(Invalid) as e:
            workflow.submit(people.collector, h.id, version_number=1, strokes=strokes)
        assert e.value.message == gettext("Please sign.")
    assert _snapshot(h) == before


def test_an_incomplete_version_cannot_be_submitted(app, units, people):
    data = family()
    del data["members"][0]["relationship"]
    h = _household(people.collector, units["A"], data=data)
    assert not h.complete
    before = _snapshot(h)
    with pytest.raises(Conflict):
        workflow.submit(people.collector, h.id, version_number=1, strokes=SIGN)
    assert _snapshot(h) == before
    assert workflow.available_actions(people.collector, h) == []


def test_an_unknown_action_is_refused(app, units, people):
    h = _household(people.collector, units["A"])
    with pytest.raises(Invalid):
        workflow.transition(people.collector, h.id, "approve", version_number=1, strokes=SIGN)


def test_the_permissions_follow_the_table():
    for action in WorkflowAction:
        assert scope.PERMISSIONS[f"household.{action.value}"] == workflow.roles_for(action)
    for (state, action), step in workflow.TRANSITIONS.items():
        assert isinstance(state, HouseholdState) and isinstance(step.to, HouseholdState)


# ------------------------------------------------------------------ the refusal matrix

# Where each role sits for a household of village A: in scope, and out of scope.
IN_SCOPE = {Role.collector: "A", Role.village_leader: "A", Role.verifier: "T1", Role.clerk: "T1",
            Role.county_admin: "county", Role.viewer: "A", Role.sysadmin: "province"}
OUT_OF_SCOPE = {Role.collector: "C", Role.village_leader: "C", Role.verifier: "T2", Role.clerk: "T2",
                Role.county_admin: "other county", Role.viewer: "B", Role.sysadmin: "C"}


# The last step of the walk to each state: the same user doing it again is a repeat, answered
# with the earlier event and changing nothing (a double tap is no error).
LAST_STEP = {S.submitted: (A.submit, Role.collector), S.confirmed: (A.confirm, Role.village_leader),
             S.verified: (A.verify, Role.verifier), S.returned: (A.return_, Role.village_leader)}
REPEAT = "repeat"


def expected_refusal(state: HouseholdState, action: WorkflowAction, role: Role, in_scope: bool):
    """What the table says should happen: None (allowed), REPEAT, or the refusal's type."""
    if not in_scope:
        return NotFound
    if LAST_STEP.get(state) == (action, role):
        return REPEAT
    if role not in {step.role for (_s, a), step in workflow.TRANSITIONS.items() if a == action}:
        return Forbidden
    step = workflow.TRANSITIONS.get((state, action))
    if step is None:
        return Conflict
    return None if step.role == role else Forbidden


@pytest.mark.parametrize("state", list(HouseholdState))
def test_refusal_matrix_from_the_table(app, units, make_user, people, state):
    other_county = get_or_create_unit("110102000000", "西城区", UnitLevel.county, units["city"])
    places = {**units, "other county": other_county}
    users = {(role, True): make_user(role.value, places[IN_SCOPE[role]]) for role in Role}
    users |= {(role, False): make_user(role.value, places[OUT_OF_SCOPE[role]]) for role in Role}
    # the chain is walked by the in-scope collector, leader and verifier themselves
    chain = SimpleNamespace(collector=users[Role.collector, True], leader=users[Role.village_leader, True],
                            verifier=users[Role.verifier, True])
    h = _to_state(chain, _household(chain.collector, units["A"]), state)
    checked, wrong = 0, []
    for action in WorkflowAction:
        for (role, in_scope), user in users.items():
            want = expected_refusal(state, action, role, in_scope)
            before = _snapshot(h)
            kwargs = dict(version_number=h.current_number, strokes=SIGN, reason_codes=["other"],
                          reason_text="x")
            if want == REPEAT:
                done = workflow.act(user, h.id, action, **kwargs)
                if not done.repeated or done.event.action != action.value or done.event.actor_id != user.id:
                    wrong.append((state, action, role, in_scope, "not a repeat", done))
                if _snapshot(h) != before:
                    wrong.append((state, action, role, in_scope, "repeat changed something"))
            elif want is None:
                with db.session.begin_nested() as savepoint:
                    event = workflow.transition(user, h.id, action, **kwargs)
                    if event.to_state != workflow.TRANSITIONS[state, action].to.value:
                        wrong.append((state, action, role, in_scope, "went to", event.to_state))
                    savepoint.rollback()  # back to `state` for the next combination
            else:
                try:
                    workflow.transition(user, h.id, action, **kwargs)
                    wrong.append((state, action, role, in_scope, "allowed, expected", want.__name__))
                except (Conflict, Forbidden, NotFound) as e:
                    if type(e) is not want:
                        wrong.append((state, action, role, in_scope, type(e).__name__, want.__name__))
                    if not e.message:
                        wrong.append((state, action, role, in_scope, "no message"))
                if _snapshot(h) != before:
                    wrong.append((state, action, role, in_scope, "changed something"))
            if in_scope:
                shown = action in workflow.available_actions(user, h)
                if shown != (want is None):  # a repeat has no button: it is done
                    wrong.append((state, action, role, in_scope,
                                  "button shown" if shown else "button missing"))
            checked += 1
    assert wrong == []
    assert checked == len(WorkflowAction) * len(Role) * 2


# ------------------------------------------------------------------ 一机两员, changed content, versions


def test_one_person_never_signs_two_levels_of_a_version(app, units, people, make_user):
    both = make_user("collector", units["A"], name="身兼两职")
    grant_role(None, both, Role.village_leader, units["A"])
    db.session.commit()
    h = _household(both, units["A"])
    _do(both, h, A.submit)
    assert workflow.available_actions(both, h) == []
    before = _snapshot(h)
    with pytest.raises(Forbidden) as e:
        workflow.confirm(both, h.id, version_number=1, strokes=SIGN)
    assert scope.role_label(Role.collector) in e.value.message
    with pytest.raises(Forbidden):  # nor reviews their own work by returning it
        workflow.return_household(both, h.id, version_number=1, reason_codes=["other"], reason_text="x")
    assert _snapshot(h) == before
    # another leader confirms; the same rule holds for leader + verifier
    _do(people.leader, h, A.confirm)
    senior = make_user("village_leader", units["A"], name="村干部丁")
    grant_role(None, senior, Role.verifier, units["T1"])
    db.session.commit()
    h2 = _to_state(people, _household(people.collector, units["A"], seq=2), S.submitted)
    _do(senior, h2, A.confirm)
    assert workflow.available_actions(senior, h2) == []
    with pytest.raises(Forbidden):
        workflow.verify(senior, h2.id, version_number=1, strokes=SIGN)
    assert h2.state == "confirmed"


def test_a_signature_on_changed_content_no_longer_counts(app, units, people):
    h = _to_state(people, _household(people.collector, units["A"]), S.confirmed)
    first = h.current_version
    old = signatures_for(first)
    assert set(old) == {"collector", "village_leader"}
    second = _save_again(people.collector, h)
    assert h.state == "draft" and second.content_hash != first.content_hash
    assert not any(signature_counts(s, second) for s in old.values())
    assert all(signature_counts(s, first) for s in old.values())
    assert signatures_for(second) == {} and set(signatures_for(first)) == {"collector", "village_leader"}
    # the leader who opened version 1 is told it changed; the new draft cannot be confirmed
    with pytest.raises(Conflict) as e:
        workflow.confirm(people.leader, h.id, version_number=1, strokes=SIGN)
    assert "采集员甲" in e.value.message
    with pytest.raises(Conflict):
        workflow.confirm(people.leader, h.id, version_number=2, strokes=SIGN)
    assert _count(Signature) == 2


def test_the_last_verified_version_stays_until_a_newer_one_is_verified(app, units, people):
    h = _to_state(people, _household(people.collector, units["A"]), S.verified)
    v1 = h.current_version_id
    assert h.last_verified_version_id == v1
    v2 = _save_again(people.collector, h)
    assert h.state == "draft" and h.last_verified_version_id == v1
    _do(people.collector, h, A.submit)
    _do(people.leader, h, A.confirm)
    assert h.last_verified_version_id == v1
    _do(people.verifier, h, A.return_)
    assert h.last_verified_version_id == v1
    _do(people.collector, h, A.submit)
    _do(people.leader, h, A.confirm)
    _do(people.verifier, h, A.verify)
    assert h.last_verified_version_id == v2.id and h.current_version_id == v2.id


def test_a_double_tap_makes_one_event_and_is_a_success(app, units, people):
    h = _household(people.collector, units["A"])
    first = _do(people.collector, h, A.submit)
    before = _snapshot(h)
    done = workflow.act(people.collector, h.id, A.submit, version_number=1, strokes=SIGN)
    db.session.commit()
    assert done.repeated and done.event.id == first.id
    assert done.message == gettext("Card %(card)s was already signed and submitted by you at %(at)s; it is "
                                   "with the village leader.", card=h.card_no, at=workflow._when(first.at))
    assert _snapshot(h) == before
    assert _count(WorkflowEvent) == 1 and _count(Signature) == 1
    # The same for the leader's confirm and the verifier's verify tapped twice.
    for user, action in ((people.leader, A.confirm), (people.verifier, A.verify)):
        first = _do(user, h, action)
        before = _snapshot(h)
        done = workflow.act(user, h.id, action, version_number=1, strokes=SIGN)
        db.session.commit()
        assert done.repeated and done.event.id == first.id and _snapshot(h) == before


def test_a_repeat_by_another_user_or_after_a_move_is_still_refused(app, units, people, make_user):
    h = _household(people.collector, units["A"])
    _do(people.collector, h, A.submit)
    first = _do(people.leader, h, A.confirm)
    # Another leader of the same village: told who was first, as before.
    second = make_user("village_leader", units["A"], username="leader_a2", name="村干部戊")
    before = _snapshot(h)
    with pytest.raises(Conflict) as e:
        workflow.confirm(second, h.id, version_number=1, strokes=SIGN)
    assert e.value.message == gettext("Already confirmed by %(name)s at %(at)s.",
                                      name=people.leader.name, at=workflow._when(first.at))
    # The state moved on (verified): the leader's own confirm again is no longer a repeat.
    _do(people.verifier, h, A.verify)
    before = _snapshot(h)
    with pytest.raises(Conflict):
        workflow.confirm(people.leader, h.id, version_number=1, strokes=SIGN)
    assert _snapshot(h) == before


def test_outside_the_scope_a_household_does_not_exist(app, units, people, make_user):
    h = _to_state(people, _household(people.collector, units["A"]), S.submitted)
    leader_b = make_user("village_leader", units["B"])
    with pytest.raises(NotFound):
        workflow.confirm(leader_b, h.id, version_number=1, strokes=SIGN)
    with pytest.raises(NotFound):
        workflow.history(leader_b, h.id)
    assert workflow.available_actions(leader_b, h) == []


# ------------------------------------------------------------------ two reviewers at once


def test_two_leaders_confirming_at_once_make_one_winner(app, units, people, make_user, db_name, monkeypatch):
    second = make_user("village_leader", units["A"], username="leader_a2", name="村干部戊")
    households = [_to_state(people, _household(people.collector, units["A"], seq=i), S.submitted)
                  for i in range(1, 4)]
    ids = [h.id for h in households]
    leaders = {people.leader.id: people.leader.name, second.id: second.name}

    # PostgreSQL: both threads pass every check before either takes the row lock, so without
    # the lock both would write. SQLite serialises whole transactions (BEGIN IMMEDIATE): the
    # threads only start together.
    barrier = threading.Barrier(2, timeout=30)
    real_lock = workflow._lock

    def lock_after_both_checked(household):
        if db_name == "postgresql":
            barrier.wait()
        return real_lock(household)

    monkeypatch.setattr(workflow, "_lock", lock_after_both_checked)
    for household_id in ids:
        db.session.commit()  # the test's own transaction must not hold SQLite's write lock
        answers: dict[int, object] = {}

        def confirm(user_id: int) -> None:
            try:
                with app.app_context():
                    if db_name != "postgresql":
                        barrier.wait()
                    user = db.session.get(User, user_id)
                    try:
                        event = workflow.confirm(user, household_id, version_number=1, strokes=SIGN)
                        db.session.commit()
                        answers[user_id] = ("won", event.id)
                    except Conflict as e:
                        db.session.rollback()
                        answers[user_id] = ("lost", e.message)
                    db.session.remove()
            except BaseException as e:  # noqa: BLE001 - reported below
                answers[user_id] = ("error", repr(e))

        threads = [threading.Thread(target=confirm, args=(uid,)) for uid in leaders]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        barrier.reset()
        outcomes = sorted(answers.values())
        assert [o[0] for o in outcomes] == ["lost", "won"], outcomes
        winner = next(uid for uid, a in answers.items() if a[0] == "won")
        loser_message = next(a[1] for a in answers.values() if a[0] == "lost")
        db.session.expire_all()
        events = db.session.scalars(select(WorkflowEvent).where(WorkflowEvent.household_id == household_id,
                                                                WorkflowEvent.action == "confirm")).all()
        assert len(events) == 1 and events[0].actor_id == winner
        assert loser_message == gettext("Already confirmed by %(name)s at %(at)s.",
                                        name=leaders[winner], at=workflow._when(events[0].at))
        assert db.session.get(Household, household_id).state == "confirmed"
        assert _count(Signature) == 3 + ids.index(household_id) + 1  # 3 submits, one confirm each


# ------------------------------------------------------------------ batch verify


def test_verify_many_signs_each_version_and_reports_refusals(app, units, people, make_user):
    ready = [_to_state(people, _household(people.collector, units["A"], seq=i), S.confirmed)
             for i in (1, 2, 3)]
    waiting = _to_state(people, _household(people.collector, units["A"], seq=4), S.submitted)
    changed = _to_state(people, _household(people.collector, units["A"], seq=5), S.confirmed)
    collector_c = make_user("collector", units["C"])
    elsewhere = _household(collector_c, units["C"], seq=6)
    audits, events = _count(AuditEntry), _count(WorkflowEvent)
    items = [(ready[0].id, 1), (ready[1].id, 1), (waiting.id, 1), (changed.id, 2), (elsewhere.id, 1),
             (ready[2].id, 1)]
    results = workflow.verify_many(people.verifier, items, SIGN)
    db.session.commit()
    assert [r.ok for r in results] == [True, True, False, False, False, True]
    assert [r.status for r in results] == [None, None, 409, 409, 404, None]
    assert all(r.message for r in results if not r.ok)
    assert all(h.state == "verified" and h.last_verified_version_id == h.current_version_id for h in ready)
    assert waiting.state == "submitted" and changed.state == "confirmed" and elsewhere.state == "draft"
    assert _count(WorkflowEvent) == events + 3 and _count(AuditEntry) == audits + 3
    signed = [r.event.signature for r in results if r.ok]
    assert len({s.id for s in signed}) == 3 and len({s.strokes_svg for s in signed}) == 1
    assert [s.content_hash for s in signed] == [h.current_version.content_hash for h in ready]


def test_verify_many_without_a_signature_verifies_nothing(app, units, people):
    h = _to_state(people, _household(people.collector, units["A"]), S.confirmed)
    with pytest.raises(Invalid):
        workflow.verify_many(people.verifier, [(h.id, 1)], [[[1, 1]]])
    assert h.state == "confirmed" and _count(WorkflowEvent) == 2


# ------------------------------------------------------------------ queues and counts


def test_queues_oldest_first_with_counts_per_village(app, units, people, make_user):
    collector_b = make_user("collector", units["B"])
    leader_b = make_user("village_leader", units["B"])
    a = [_household(people.collector, units["A1"], seq=i) for i in (1, 2, 3)]
    b = _household(collector_b, units["B"], seq=4)
    for h in (a[2], a[0], a[1]):  # submitted in this order: the queue follows it, not creation
        _do(people.collector, h, A.submit)
    _do(collector_b, b, A.submit)

    queue = workflow.leader_queue(people.leader)
    assert [i.household.id for i in queue.items] == [a[2].id, a[0].id, a[1].id]
    assert queue.total == 3 and [(u.code, n) for u, n in queue.villages] == [(units["A"].code, 3)]
    assert queue.items[0].event.action == "submit" and queue.items[0].waiting_since == queue.items[0].event.at
    assert [i.household.id for i in workflow.leader_queue(leader_b).items] == [b.id]
    with pytest.raises(NotFound):
        workflow.leader_queue(leader_b, village_id=units["C"].id)

    _do(people.leader, a[1], A.confirm)
    _do(people.leader, a[0], A.confirm)
    _do(leader_b, b, A.confirm)
    queue = workflow.verifier_queue(people.verifier)
    assert [i.household.id for i in queue.items] == [a[1].id, a[0].id, b.id]
    assert [(u.code, n) for u, n in queue.villages] == [(units["A"].code, 2), (units["B"].code, 1)]
    only_b = workflow.verifier_queue(people.verifier, village_id=units["B"].id)
    assert [i.household.id for i in only_b.items] == [b.id] and only_b.total == 1
    assert len(only_b.villages) == 2  # the counts per village stay, for the filter
    paged = workflow.verifier_queue(people.verifier, page=2, per_page=2)
    assert [i.household.id for i in paged.items] == [b.id] and paged.pages == 2 and paged.total == 3
    with pytest.raises(NotFound):
        workflow.verifier_queue(people.verifier, village_id=units["C"].id)

    _do(people.verifier, a[0], A.return_, reason_codes=["address_unclear"])
    assert workflow.waiting_counts(people.collector) == {"collector": 1}
    assert workflow.waiting_counts(people.leader) == {"village_leader": 1}
    assert workflow.waiting_counts(people.verifier) == {"verifier": 2}
    assert workflow.waiting_counts(make_user("viewer", units["T1"])) == {}
    [item] = workflow.returned_for_collector(people.collector)
    assert item.household.id == a[0].id and item.event.reason_codes == ["address_unclear"]
    assert workflow.returned_for_collector(collector_b) == []
    # a household changed after submission leaves the queue (it is a draft again)
    _save_again(people.collector, a[2])
    assert workflow.leader_queue(people.leader).items == []
