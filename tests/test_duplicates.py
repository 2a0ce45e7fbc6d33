"""Duplicate persons in the registry (issue 17, app.domain.duplicates), on both databases:
planted pairs of generated households are found and stored with their reasons; "not the
same" is never proposed again; "the same person" cancels one record by a new version that
goes through the chain; a changed record makes its pair gone; who may see and decide; a
second decision is refused and cancels nothing; `flask quality duplicates`; the pages."""
from __future__ import annotations

import copy
import uuid
from html import unescape
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

import matching

from app.domain import duplicates, workflow
from app.domain import registration as reg
from app.domain.errors import Conflict, Forbidden, Invalid, NotFound
from app.extensions import db
from app.models import (AuditEntry, DuplicateCandidate, Household, HouseholdVersion, Person, QualityRun, User,
                        VerifiedPerson, VersionKind)
from app.models import WorkflowAction as A
from tests.support.households import TODAY, family, member


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def one_step(number: str, position: int = 14) -> str:
    """The number with one digit changed (its check character then fails)."""
    digit = str((int(number[position]) + 1) % 10)
    return number[:position] + digit + number[position + 1:]


def pair(a: str, b: str) -> tuple[uuid.UUID, uuid.UUID]:
    return duplicates.ordered(uuid.UUID(a), uuid.UUID(b))


@pytest.fixture
def reg_(units, make_user):
    """Households of villages A (group A1), B (township T1) and C (township T2) with three
    planted pairs: a member copied whole into another household (same ID number), a member
    copied with one digit of the ID mistyped into township T2, and one name written in two
    characters of one sound (张/章) with one birth date and no ID numbers."""
    people = SimpleNamespace(
        verifier=make_user("verifier", units["T1"], username="verifier_t1", name="审核员甲"),
        clerk=make_user("clerk", units["T1"], username="clerk_t1", name="档案员"),
        leader=make_user("village_leader", units["A"], username="leader_a", name="村干部"),
        collector_a=make_user("collector", units["A"], username="collector_a"),
        verifier2=make_user("verifier", units["T2"], username="verifier_t2", name="审核员乙"),
        admin=make_user("county_admin", units["county"], username="county_admin"),
    )
    makers = {"A": people.collector_a, "A1": people.collector_a,
              "B": make_user("collector", units["B"], username="collector_b"),
              "C": make_user("collector", units["C"], username="collector_c")}
    h1 = family("张", seq=1)
    son, daughter = h1["members"][2], h1["members"][3]
    h2 = family("王", seq=2)
    copied = {**copy.deepcopy(son), "person_id": str(uuid.uuid4()), "relationship": "99"}
    h2["members"].append(copied)
    h3 = family("刘", seq=3)
    typo = {**copy.deepcopy(daughter), "person_id": str(uuid.uuid4()), "relationship": "99",
            "id_number": one_step(daughter["id_number"])}
    h3["members"].append(typo)
    h4 = family("赵", seq=4)
    zhang = member("张建华", "99", "1960-06-06", "1", seq=4)
    zhang.pop("id_number")
    h4["members"].append(zhang)
    h5 = family("钱", seq=5)
    zhang2 = member("章建华", "99", "1960-06-06", "1", seq=5)
    zhang2.pop("id_number")
    h5["members"].append(zhang2)
    made = {}
    for key, unit, data in (("h1", "A1", h1), ("h2", "B", h2), ("h3", "C", h3), ("h4", "A", h4), ("h5", "A", h5)):
        made[key] = reg.new_household(makers[unit], unit_id=units[unit].id, data=data, today=TODAY).household
    db.session.commit()
    return SimpleNamespace(
        people=people, units=units, **made,
        same_id=pair(son["person_id"], copied["person_id"]),
        typo=pair(daughter["person_id"], typo["person_id"]),
        homophone=pair(zhang["person_id"], zhang2["person_id"]),
        son=uuid.UUID(son["person_id"]), copied=uuid.UUID(copied["person_id"]),
        daughter=uuid.UUID(daughter["person_id"]), typo_id=uuid.UUID(typo["person_id"]))


def candidates() -> dict[tuple, DuplicateCandidate]:
    db.session.expire_all()
    return {(c.left_person_id, c.right_person_id): c for c in db.session.scalars(select(DuplicateCandidate))}


def run(actor, **kw) -> duplicates.DuplicatesResult:
    result = duplicates.run_duplicates(actor, **kw)
    db.session.commit()
    return result


def test_the_planted_pairs_are_found_and_stored_with_their_reasons(reg_):
    result = run(reg_.people.admin)
    found = candidates()
    assert set(found) == {reg_.same_id, reg_.typo, reg_.homophone}
    assert (result.found, result.new, result.seen_again, result.gone, result.open) == (3, 3, 0, 0, 3)
    rules = {key: [r["rule"] for r in c.reasons] for key, c in found.items()}
    assert rules[reg_.same_id][0] == "same_id" and found[reg_.same_id].score == 1.0
    assert rules[reg_.typo][0] == "id_one_step" and "same_name_birth" in rules[reg_.typo]
    assert rules[reg_.homophone] == ["homophone_name_birth"]
    assert "身份证号相同" in found[reg_.same_id].reasons[0]["message"]["zh"]
    assert "同音" in found[reg_.homophone].reasons[0]["message"]["zh"]
    c = found[reg_.typo]
    assert c.state == "open" and c.found_run_id == c.last_run_id == result.run_id
    # Each side's place: the typo pair joins A1 (township T1) and C (township T2).
    assert {c.unit_path, c.other_unit_path} == {reg_.units["A1"].path, reg_.units["C"].path}
    q = db.session.get(QualityRun, result.run_id)
    assert q.state == "done" and q.duplicates_found == 3 and q.finished_at is not None
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "quality.duplicates"))
    assert entry.details["new"] == 3 and entry.object_id == str(result.run_id)


def test_a_second_run_updates_the_pairs_it_sees_again_and_adds_none(reg_):
    first = run(reg_.people.admin)
    second = run(reg_.people.admin)
    assert (second.new, second.seen_again, second.gone, second.open) == (0, 3, 0, 3)
    found = candidates()
    assert len(found) == 3
    assert {c.found_run_id for c in found.values()} == {first.run_id}
    assert {c.last_run_id for c in found.values()} == {second.run_id}


def test_a_run_reads_only_the_actors_area_and_the_unit_asked_for(reg_):
    # The T1 verifier's area holds one side of the typo pair only: not proposed by their run.
    result = run(reg_.people.verifier)
    assert set(candidates()) == {reg_.same_id, reg_.homophone}
    assert result.open == 2
    # A unit run over village A: the homophone pair only (the same_id pair spans A and B).
    run(reg_.people.admin, unit_id=reg_.units["A"].id)
    assert set(candidates()) == {reg_.same_id, reg_.homophone}
    with pytest.raises(NotFound):  # a unit outside the actor's area
        duplicates.run_duplicates(reg_.people.verifier, unit_id=reg_.units["C"].id)


def test_not_the_same_is_never_proposed_again(reg_):
    run(reg_.people.admin)
    cid = candidates()[reg_.homophone].id
    duplicates.decide_not_same(reg_.people.verifier, cid, note="两个人，已入户核实")
    db.session.commit()
    again = run(reg_.people.admin)
    found = candidates()
    assert found[reg_.homophone].state == "not_same" and found[reg_.homophone].note == "两个人，已入户核实"
    assert found[reg_.homophone].last_run_id != again.run_id, "a decided pair is never touched"
    assert (again.found, again.new, again.open) == (2, 0, 2)
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "duplicate.not_same"))
    assert entry.object_id == str(cid) and entry.details["note"] == "两个人，已入户核实"


def test_the_same_person_cancels_one_record_by_a_version_through_the_chain(reg_):
    run(reg_.people.admin)
    c = candidates()[reg_.same_id]
    h2 = reg_.h2
    before = h2.current_number
    duplicates.decide_same(reg_.people.verifier, c.id, keep_person_id=reg_.son, base_number=before,
                           note="同一人，王家的记录重复")
    db.session.commit()
    db.session.expire_all()
    h2 = db.session.get(Household, h2.id)
    assert h2.current_number == before + 1 and h2.state == "draft"
    version = h2.current_version
    assert version.kind == VersionKind.edit.value and version.created_by.username == "verifier_t1"
    cancelled = next(m for m in version.data["members"] if m["person_id"] == str(reg_.copied))
    assert (cancelled["status"], cancelled["cancellation_reason"]) == ("duplicate", "重复")
    assert cancelled["cancelled_on"] == reg.today().isoformat()
    person = db.session.get(Person, reg_.copied)
    assert (person.status, person.cancellation_reason, person.household_state) == ("duplicate", "重复", "draft")
    assert db.session.get(Person, reg_.son).status == "active"
    c = db.session.get(DuplicateCandidate, c.id)
    assert (c.state, c.kept_person_id, c.cancel_household_id, c.cancel_version_number) == (
        "same", reg_.son, h2.id, before + 1)
    assert c.decided_by.username == "verifier_t1" and c.note == "同一人，王家的记录重复"
    actions = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id.desc()).limit(2)).all()
    assert actions == ["duplicate.same", "household.edit"]
    # The next run does not propose it again and leaves the decision as it is.
    again = run(reg_.people.admin)
    assert candidates()[reg_.same_id].state == "same" and again.open == 2


SIGN = [[[100, 100], [400, 130], [700, 100]], [[250, 60], [260, 200], [240, 330]]]


def test_a_verified_household_goes_back_up_the_chain_after_the_cancellation(reg_):
    p = reg_.people
    h5 = reg_.h5
    for user, action in ((p.collector_a, A.submit), (p.leader, A.confirm), (p.verifier, A.verify)):
        workflow.transition(user, h5.id, action, version_number=h5.current_number, strokes=SIGN)
        db.session.commit()
    verified = h5.current_version_id
    assert h5.state == "verified"
    run(p.admin)
    keep = next(m for m in reg_.h4.current_version.data["members"] if m["name"] == "张建华")["person_id"]
    duplicates.decide_same(p.clerk, candidates()[reg_.homophone].id, keep_person_id=uuid.UUID(keep),
                           base_number=h5.current_number, note="章建华即张建华")
    db.session.commit()
    db.session.expire_all()
    h5 = db.session.get(Household, h5.id)
    assert h5.state == "draft" and h5.last_verified_version_id == verified != h5.current_version_id
    # The verified register keeps the verified version until the new one is verified in turn.
    cancelled = next(m for m in h5.current_version.data["members"] if m["name"] == "章建华")
    verified_row = db.session.get(VerifiedPerson, (h5.id, uuid.UUID(cancelled["person_id"])))
    assert cancelled["status"] == "duplicate" and verified_row.status == "active"
    for user, action in ((p.collector_a, A.submit), (p.leader, A.confirm), (p.verifier, A.verify)):
        workflow.transition(user, h5.id, action, version_number=h5.current_number, strokes=SIGN)
        db.session.commit()
    db.session.expire_all()
    assert db.session.get(VerifiedPerson, (h5.id, uuid.UUID(cancelled["person_id"]))).status == "duplicate"


def test_a_changed_record_makes_its_pair_gone_and_a_run_finding_it_again_reopens_it(reg_):
    run(reg_.people.admin)
    h5 = reg_.h5
    data = copy.deepcopy(h5.current_version.data)
    data["members"][-1]["birth_date"] = "1961-01-01"
    reg.save_household(reg_.people.collector_a, h5.id, data=data, base_number=h5.current_number, today=TODAY)
    db.session.commit()
    result = run(reg_.people.admin)
    assert result.gone == 1 and candidates()[reg_.homophone].state == "gone"
    data["members"][-1]["birth_date"] = "1960-06-06"
    reg.save_household(reg_.people.collector_a, h5.id, data=data, base_number=h5.current_number, today=TODAY)
    db.session.commit()
    result = run(reg_.people.admin)
    assert candidates()[reg_.homophone].state == "open" and result.seen_again == 3


def test_who_may_decide(reg_):
    run(reg_.people.admin)
    found = candidates()
    same_id, typo = found[reg_.same_id].id, found[reg_.typo].id
    p = reg_.people
    with pytest.raises(NotFound):  # a collector does not see candidates
        duplicates.decide_not_same(p.collector_a, same_id)
    with pytest.raises(Forbidden):  # a leader sees them, does not decide
        duplicates.decide_not_same(p.leader, same_id)
    with pytest.raises(Forbidden):
        duplicates.decide_same(p.admin, same_id, keep_person_id=reg_.son, base_number=reg_.h2.current_number)
    db.session.rollback()
    assert duplicates.review(p.leader, same_id).may_decide is False
    assert duplicates.review(p.clerk, same_id).may_decide is True
    # The typo pair spans T1 and T2: T2's verifier may cancel the record in C, not the one in A1.
    with pytest.raises(NotFound):  # the record to cancel lies outside T2's verifier's area
        duplicates.decide_same(p.verifier2, typo, keep_person_id=reg_.typo_id, base_number=reg_.h1.current_number)
    db.session.rollback()
    side = duplicates.review(p.verifier2, typo)
    a1 = side.left if side.left.person_id == reg_.daughter else side.right
    assert a1.visible is False and a1.person is None, "a record outside the area is not shown"
    saved = duplicates.decide_same(p.verifier2, typo, keep_person_id=reg_.daughter,
                                   base_number=reg_.h3.current_number)
    db.session.commit()
    assert saved.household.id == reg_.h3.id
    assert db.session.get(Person, reg_.typo_id).status == "duplicate"
    assert count(DuplicateCandidate, DuplicateCandidate.state == "open") == 2


def test_a_second_decision_is_refused_and_cancels_nothing(reg_):
    run(reg_.people.admin)
    cid = candidates()[reg_.same_id].id
    base = reg_.h2.current_number
    duplicates.decide_same(reg_.people.verifier, cid, keep_person_id=reg_.son, base_number=base)
    db.session.commit()
    versions = count(HouseholdVersion)
    for attempt in (
        lambda: duplicates.decide_same(reg_.people.clerk, cid, keep_person_id=reg_.son, base_number=base + 1),
        lambda: duplicates.decide_same(reg_.people.verifier, cid, keep_person_id=reg_.copied, base_number=base),
        lambda: duplicates.decide_not_same(reg_.people.clerk, cid),
    ):
        with pytest.raises((Conflict, Invalid)):
            attempt()
        db.session.rollback()
    assert count(HouseholdVersion) == versions
    assert db.session.get(Person, reg_.son).status == "active"
    c = db.session.get(DuplicateCandidate, cid)
    assert c.state == "same" and c.decided_by.username == "verifier_t1"


def test_a_decision_taken_on_a_stale_version_or_a_wrong_record_changes_nothing(reg_):
    run(reg_.people.admin)
    cid = candidates()[reg_.same_id].id
    with pytest.raises(Conflict):
        duplicates.decide_same(reg_.people.verifier, cid, keep_person_id=reg_.son,
                               base_number=reg_.h2.current_number - 1)
    db.session.rollback()
    with pytest.raises(Invalid):
        duplicates.decide_same(reg_.people.verifier, cid, keep_person_id=uuid.uuid4(), base_number=1)
    db.session.rollback()
    with pytest.raises(Invalid):
        duplicates.decide_not_same(reg_.people.verifier, cid, note="长" * 501)
    db.session.rollback()
    assert candidates()[reg_.same_id].state == "open"
    assert db.session.get(Person, reg_.copied).status == "active"


def test_flask_quality_duplicates(reg_, app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["quality", "duplicates", "--as", "county_admin"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("run_id=")
    run_id = int(lines[0].split("=")[1])
    assert "found=3 new=3 seen_again=0 gone=0 open=3" in lines[1]
    db.session.expire_all()
    assert db.session.get(QualityRun, run_id).duplicates_found == 3
    result = runner.invoke(args=["quality", "duplicates", "--as", "county_admin", "--unit", reg_.units["A"].code])
    assert result.exit_code == 0 and "found=1 " in result.output
    for args in (["--unit", "999999999999"], ["--as", "nobody"], ["--as", "verifier_t1", "--unit", reg_.units["C"].code]):
        result = runner.invoke(args=["quality", "duplicates", "--as", "county_admin", *args]
                               if args[0] == "--unit" else ["quality", "duplicates", *args])
        assert result.exit_code == 1, (args, result.output)


# ------------------------------------------------------------------ pages


@pytest.fixture
def web(reg_, new_client):
    run(reg_.people.admin)
    clients = {}
    for name in ("verifier_t1", "leader_a", "collector_a", "verifier_t2"):
        clients[name] = new_client()
        clients[name].login(name)
    return SimpleNamespace(**vars(reg_), c=clients, ids={k: c.id for k, c in candidates().items()})


def test_the_list_and_the_side_by_side_page_in_chinese(web):
    page = unescape(web.c["verifier_t1"].get("/quality/duplicates/").get_data(as_text=True))
    assert "重复人口" in page and "身份证号相同" in page
    assert f'data-testid="candidate-{web.ids[web.same_id]}"' in page
    assert "在您的辖区以外" in page  # the typo pair's other side, in township T2
    resp = web.c["verifier_t1"].get(f"/quality/duplicates/{web.ids[web.same_id]}")
    assert resp.status_code == 200
    page = unescape(resp.get_data(as_text=True))
    assert "张伟" in page and "多福巷社区" in page and "银闸社区" in page
    assert "身份证号相同" in page and "出生日期" in page and "户卡" in page
    assert 'data-testid="keep-1"' in page and 'data-testid="not-same"' in page
    leader = unescape(web.c["leader_a"].get(f"/quality/duplicates/{web.ids[web.same_id]}").get_data(as_text=True))
    assert "张伟" in leader and 'data-testid="not-same"' not in leader


def test_deciding_over_http(web):
    cid = web.ids[web.same_id]
    client = web.c["verifier_t1"]
    resp = client.post_form(f"/quality/duplicates/{cid}/decide", {
        "decision": "same", "keep": str(web.son), "base": str(web.h2.current_number), "note": "同一人"})
    assert resp.status_code == 302
    page = unescape(client.get(resp.headers["Location"]).get_data(as_text=True))
    assert "同一人" in page and "已作废" not in page
    assert db.session.get(Person, web.copied).status == "duplicate"
    # The double tap: refused with who decided, nothing cancelled twice.
    versions = count(HouseholdVersion)
    again = client.post_form(f"/quality/duplicates/{cid}/decide", {
        "decision": "same", "keep": str(web.son), "base": str(web.h2.current_number + 1)})
    assert again.status_code == 409 and "审核员甲" in unescape(again.get_data(as_text=True))
    assert count(HouseholdVersion) == versions
    other = web.ids[web.homophone]
    resp = client.post_form(f"/quality/duplicates/{other}/decide", {"decision": "not_same", "note": "两人"})
    assert resp.status_code == 302
    assert db.session.get(DuplicateCandidate, other).state == "not_same"


@pytest.mark.parametrize("form, status", [
    ({"decision": "maybe"}, 422),
    ({"decision": "same", "keep": "not-a-uuid", "base": "1"}, 422),
    ({"decision": "same", "keep": str(uuid.uuid4()), "base": "1"}, 422),
    ({"decision": "same", "keep": "", "base": ""}, 422),
])
def test_bad_input_is_a_clear_refusal_not_a_500(web, form, status):
    cid = web.ids[web.same_id]
    resp = web.c["verifier_t1"].post_form(f"/quality/duplicates/{cid}/decide", form)
    assert resp.status_code == status
    assert candidates()[web.same_id].state == "open"


def test_bad_ids_and_outsiders_get_404(web):
    client = web.c["verifier_t1"]
    for url in ("/quality/duplicates/999999", "/quality/duplicates/99999999999999999999",
                "/quality/duplicates/abc"):
        assert client.get(url).status_code == 404
    assert client.post_form("/quality/duplicates/999999/decide", {"decision": "not_same"}).status_code == 404
    # The collector sees no candidates; T2's verifier does not see the pair of T1 alone.
    assert web.c["collector_a"].get(f"/quality/duplicates/{web.ids[web.same_id]}").status_code == 404
    assert web.c["verifier_t2"].get(f"/quality/duplicates/{web.ids[web.same_id]}").status_code == 404
    assert web.c["verifier_t2"].get(f"/quality/duplicates/{web.ids[web.typo]}").status_code == 200
    resp = web.c["collector_a"].get("/quality/duplicates/")
    assert resp.status_code == 302


def test_the_candidate_page_is_in_the_access_log(web):
    from app import access_log
    from app.models import AccessEntry

    cid = web.ids[web.same_id]
    assert web.c["verifier_t1"].get(f"/quality/duplicates/{cid}").status_code == 200
    db.session.commit()
    access_log.current().flush()
    [entry] = db.session.scalars(select(AccessEntry).where(AccessEntry.endpoint == "duplicates.candidate")).all()
    assert entry.object_type == "duplicate_candidate" and entry.object_id == str(cid)
    assert entry.actor_id == web.people.verifier.id


def test_a_quality_run_can_include_the_duplicates_in_its_own_run(reg_):
    """The registry-wide run (`flask quality run`) passes its QualityRun: the candidates name
    it, its duplicates_found is set, and its state is left to that run."""
    from app.models import RunState

    q = QualityRun(state=RunState.running.value, asked_by_id=reg_.people.admin.id)
    db.session.add(q)
    db.session.flush()
    result = duplicates.run_duplicates(reg_.people.admin, run=q)
    db.session.commit()
    assert result.run_id == q.id and q.duplicates_found == 3 and q.state == "running"
    assert {c.found_run_id for c in candidates().values()} == {q.id}
    assert count(QualityRun) == 1


def test_the_list_shows_each_state(web):
    client = web.c["verifier_t1"]
    duplicates.decide_not_same(web.people.verifier, web.ids[web.homophone], note="两人")
    db.session.commit()
    page = unescape(client.get("/quality/duplicates/?state=not_same").get_data(as_text=True))
    assert f'data-testid="candidate-{web.ids[web.homophone]}"' in page and "不是同一人" in page
    page = unescape(client.get("/quality/duplicates/").get_data(as_text=True))
    assert f'data-testid="candidate-{web.ids[web.homophone]}"' not in page
    for junk in ("?state=nonsense", "?page=abc", "?page=0"):
        assert client.get(f"/quality/duplicates/{junk}").status_code == 200
    assert client.get(f"/quality/duplicates/?page={2**70}").status_code == 404


def test_a_decision_taken_while_a_run_matches_is_kept(reg_, monkeypatch):
    """The run read the pairs before the reviewer decided one; its store does not reopen it."""
    run(reg_.people.admin)
    cid = candidates()[reg_.homophone].id
    match = duplicates.find_duplicates

    def decided_meanwhile(*args, **kwargs):
        report = match(*args, **kwargs)
        duplicates.decide_not_same(reg_.people.verifier, cid, note="核实为两人")
        return report

    monkeypatch.setattr(duplicates, "find_duplicates", decided_meanwhile)
    result = run(reg_.people.admin)
    c = candidates()[reg_.homophone]
    assert (c.state, c.note) == ("not_same", "核实为两人") and c.last_run_id != result.run_id
    assert result.seen_again == 2 and result.open == 2


# ------------------------------------------------------------------ reasons across the area's edge


@pytest.fixture
def across(web):
    """Three pairs across villages A and B whose stored reasons name people: a 15-digit number
    in B upgraded is A's person's number (names differ: both named in the reason and in the
    evidence), a homophone name with one birth date (肖/萧, only B's with an ID number), and a number in B one step from
    A's with a homophone name (吴/武: the reason names B's person as the likely typo)."""
    old = member("孙大明", "99", "1950-01-01", "1", seq=7)
    old_b = member("孙小明", "99", "1950-01-01", "1", seq=17,
                   id_number=old["id_number"][:6] + old["id_number"][8:17])
    sound = member("肖红梅", "99", "1962-02-02", "2", seq=7)
    sound_b = member("萧红梅", "99", "1962-02-02", "2", seq=17)
    sound.pop("id_number")  # one number only: two valid numbers would say two people
    typo = member("吴国庆", "99", "1955-05-05", "1", seq=7)
    typo_b = member("武国庆", "99", "1955-05-05", "1", seq=17, id_number=one_step(typo["id_number"]))
    for unit, maker, people in (("A", "collector_a", (old, sound, typo)), ("B", "collector_b", (old_b, sound_b, typo_b))):
        data = family("冯" if unit == "A" else "韩", seq=20 if unit == "A" else 21)
        data["members"].extend(people)
        user = web.people.collector_a if unit == "A" else db.session.scalar(
            select(User).where(User.username == "collector_b"))
        reg.new_household(user, unit_id=web.units[unit].id, data=data, today=TODAY)
    db.session.commit()
    run(web.people.admin)
    stored = candidates()
    pairs = {"upgrade": (old, old_b), "homophone": (sound, sound_b), "one_step": (typo, typo_b)}
    ids = {kind: stored[pair(a["person_id"], b["person_id"])].id for kind, (a, b) in pairs.items()}
    return SimpleNamespace(web=web, pairs=pairs, ids=ids)


# What of B's person must never reach a reader who sees only village A: the name, the ID
# number, and the character that tells the homophone names apart.
ACROSS = [
    ("upgrade", ("孙小明",), "id_upgrade_15", "15位旧号码升为18位后与孙"),
    ("homophone", ("萧红梅", "萧"), "homophone_name_birth", "姓名同音（肖/萧）"),
    ("one_step", ("武国庆", "武"), "id_one_step", "武国庆的号码校验位不符"),
]


def test_the_stored_reasons_do_name_both_records(across):
    """The premise: what the run stores names B's person, so the pages must not print it as is."""
    for kind, _secrets, rule, words in ACROSS:
        c = db.session.get(DuplicateCandidate, across.ids[kind])
        assert rule in [r["rule"] for r in c.reasons]
        assert any(words in r["message"]["zh"] for r in c.reasons), (kind, c.reasons)


@pytest.mark.parametrize("kind, secrets, rule, words", ACROSS)
def test_a_reader_who_sees_only_village_a_learns_nothing_of_bs_person(across, kind, secrets, rule, words):
    web = across.web
    _a, b = across.pairs[kind]
    cid = across.ids[kind]
    hidden = (*secrets, b["id_number"])
    listing = unescape(web.c["leader_a"].get("/quality/duplicates/").get_data(as_text=True))
    assert f'data-testid="candidate-{cid}"' in listing
    resp = web.c["leader_a"].get(f"/quality/duplicates/{cid}")
    assert resp.status_code == 200
    page = unescape(resp.get_data(as_text=True))
    for html in (listing, page):
        leaked = [s for s in hidden if s in html]
        assert not leaked, f"{kind}: {leaked} shown to village A's leader"
    # The rule is still said, in its generic words, with A's side in full.
    assert matching.rule_title(rule)["zh"] in page and matching.rule_title(rule)["zh"] in listing
    assert _a["name"] in page and 'data-testid="evidence"' not in page


@pytest.mark.parametrize("kind, secrets, rule, words", ACROSS)
def test_a_reader_who_sees_both_reads_the_full_reasons(across, kind, secrets, rule, words):
    web = across.web
    cid = across.ids[kind]
    listing = unescape(web.c["verifier_t1"].get("/quality/duplicates/").get_data(as_text=True))
    page = unescape(web.c["verifier_t1"].get(f"/quality/duplicates/{cid}").get_data(as_text=True))
    assert words in listing and words in page
    assert secrets[0] in page and 'data-testid="evidence"' in page


def test_every_rule_has_generic_words_in_both_languages():
    assert set(matching.RULE_TITLES) == set(matching.RULES)
    for rule in (*matching.RULES, "a_rule_no_longer_known"):
        text = matching.rule_title(rule)
        assert text["zh"] and text["en"]
