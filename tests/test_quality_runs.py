"""The registry-wide run of the quality rules (issue 17, app.domain.quality_runs): findings
opened, seen again and resolved by runs; each save re-checks its own household; the
HouseholdQuality counts; the run's scope; `flask quality run`; explanations and who may
write, accept or refuse them."""
from __future__ import annotations

import copy
import re
from types import SimpleNamespace

import pytest
from sqlalchemy import delete, func, select

from app.domain import quality_runs as qr
from app.domain import registration as reg
from app.domain.errors import Conflict, Forbidden, Invalid, NotFound
from app.extensions import db
from app.models import AuditEntry, Household
from app.models.quality import HouseholdQuality, QualityFinding, QualityRun
from tests.support.households import TODAY, family, young_family


@pytest.fixture
def people(units, make_user):
    return SimpleNamespace(
        collector=make_user("collector", units["A"], username="collector_a", name="采集员甲"),
        collector_b=make_user("collector", units["B"], username="collector_b", name="采集员戊"),
        leader=make_user("village_leader", units["A"], username="leader_a", name="村干部乙"),
        verifier=make_user("verifier", units["T1"], username="verifier_t1", name="审核员丙"),
        clerk_t2=make_user("clerk", units["T2"], username="clerk_t2", name="档案员"),
        county=make_user("county_admin", units["county"], username="county", name="县管理员"),
    )


def save(actor, unit, data):
    h = reg.new_household(actor, unit_id=unit.id, data=data, today=TODAY).household
    db.session.commit()
    return h


def edit(actor, household, data):
    reg.save_household(actor, household.id, data=data, base_number=household.current_number, today=TODAY)
    db.session.commit()


def run(actor, unit=None):
    r = qr.start(actor, unit.id if unit is not None else None)
    db.session.commit()
    result = qr.run(actor, r.id, commit=db.session.commit, today=TODAY)
    db.session.commit()
    return result


def open_findings(household=None, rule=None):
    q = select(QualityFinding).where(QualityFinding.resolved_at.is_(None))
    if household is not None:
        q = q.where(QualityFinding.household_id == household.id)
    if rule is not None:
        q = q.where(QualityFinding.rule == rule)
    return list(db.session.scalars(q))


def bad_children(data):
    """The married woman says no boys while her son lives with her: relation 5 fails."""
    data = copy.deepcopy(data)
    data["members"][1]["boys"] = 0
    return data


def test_a_save_rechecks_its_household_at_once(app, units, people):
    good = young_family()
    h = save(people.collector, units["A"], bad_children(good))
    found = open_findings(h, "mw.children_count")
    assert len(found) == 1
    f = found[0]
    assert f.first_run_id is None and f.level == "error" and f.scope == "married_woman"
    assert f.member_index == 1 and f.path.startswith("members[1]")
    assert f.village_id == units["A"].id and "李秀英" in f.message["zh"]
    hq = db.session.get(HouseholdQuality, h.id)
    assert (hq.persons, hq.married_women, hq.version_number, hq.run_id) == (4, 1, 1, None)
    assert 0 < hq.main_items_filled <= hq.main_items_required

    edit(people.collector, h, good)  # corrected at the door
    assert open_findings(h, "mw.children_count") == []
    gone = db.session.scalars(select(QualityFinding).where(QualityFinding.id == f.id)).one()
    assert gone.resolved_at is not None and gone.resolved_run_id is None
    assert db.session.get(HouseholdQuality, h.id).version_number == 2


def test_the_run_opens_sees_again_and_resolves(app, units, people):
    twin = family("王", 7)
    h1 = save(people.collector, units["A"], bad_children(young_family()))
    h2 = save(people.collector_b, units["B"], twin)
    twin3 = family("王", 7)
    h3 = save(people.collector, units["A"], twin3)  # the same four ID numbers in A too
    # As after a pre-fill: nothing stored yet, the run finds it all.
    db.session.execute(delete(QualityFinding))
    db.session.execute(delete(HouseholdQuality))
    db.session.commit()

    first = run(people.county, units["county"])
    assert first.households == 3 and first.resolved == 0 and first.opened == first.open > 0
    assert len(open_findings(h1, "mw.children_count")) == 1
    across = open_findings(rule="across.id_in_two_households")
    assert {f.household_id for f in across} == {h2.id, h3.id} and len(across) == 8
    a = next(f for f in across if f.household_id == h3.id and f.member_index == 0)
    assert a.details["other_households"] == [str(h2.id)] and "银闸社区" in a.message["zh"]
    assert a.fingerprint == f"across.id_in_two_households|{h3.id}|members[0].id_number|{h2.id}"
    assert db.session.scalar(select(func.count()).select_from(HouseholdQuality)) == 3
    run_row = db.session.get(QualityRun, first.run_id)
    assert (run_row.state, run_row.households_done, run_row.households_total) == ("done", 3, 3)
    assert (run_row.findings_open, run_row.findings_new, run_row.findings_resolved) == (first.open, first.opened, 0)

    second = run(people.county, units["county"])
    assert (second.opened, second.resolved, second.open) == (0, 0, first.open)
    db.session.expire_all()
    assert a.first_run_id == first.run_id and a.last_run_id == second.run_id
    assert db.session.get(HouseholdQuality, h1.id).run_id == second.run_id

    # h3 was a mistake: its persons are cancelled as duplicates (a save); the run resolves the
    # findings across households on both sides.
    fixed = copy.deepcopy(twin3)
    for m in fixed["members"]:
        m.update(status="duplicate", cancellation_reason="重复登记", cancelled_on="2026-11-20")
    edit(people.collector, h3, fixed)
    third = run(people.county, units["county"])
    assert third.resolved == 8 and third.opened == 0
    assert open_findings(rule="across.id_in_two_households") == []
    assert db.session.scalar(select(QualityFinding.resolved_run_id).where(QualityFinding.id == a.id)) == third.run_id


def test_the_run_keeps_to_the_actors_area(app, units, people):
    ha = save(people.collector, units["A"], bad_children(young_family()))
    db.session.execute(delete(QualityFinding))
    db.session.commit()
    result = run(people.clerk_t2)  # 景山街道 only: village C
    assert result.villages == 1 and result.households == 0 and open_findings(ha) == []
    with pytest.raises(NotFound):
        qr.start(people.clerk_t2, units["A"].id)  # outside 景山街道: not even seen
    with pytest.raises(Forbidden):
        qr.start(people.collector, None)  # collectors do not run the registry's checks
    with pytest.raises(Forbidden):
        qr.start(people.leader, units["A"].id)  # nor do village leaders
    result = run(people.verifier, units["A"])
    assert result.households == 1 and len(open_findings(ha, "mw.children_count")) == 1


def test_a_household_saved_during_the_run_keeps_what_its_save_found(app, units, people):
    good = young_family()
    h = save(people.collector, units["A"], bad_children(good))
    village = units["A"]
    rows = db.session.execute(
        select(Household.id, Household.unit_path, Household.current_number, qr.HouseholdVersion.data)
        .join(qr.HouseholdVersion, qr.HouseholdVersion.id == Household.current_version_id)
        .where(Household.village_id == village.id)).all()
    checked = [(row, qr.check_one(row.id, row.data, TODAY)) for row in rows]
    edit(people.collector, h, good)  # saved between the run's read and its write
    r = qr.start(people.county, None)
    result = qr.RunResult(r.id)
    qr._write_village(r.id, village.id, checked, result)
    db.session.commit()
    assert result.skipped == 1 and open_findings(h, "mw.children_count") == []
    assert db.session.get(HouseholdQuality, h.id).version_number == 2


def test_cli_prints_the_run_id_and_the_counts(app, units, people):
    save(people.collector, units["A"], bad_children(young_family()))
    runner = app.test_cli_runner()
    out = runner.invoke(args=["quality", "run", "--unit", units["T1"].code, "--as", "verifier_t1"])
    assert out.exit_code == 0, out.output
    lines = out.stdout.splitlines()
    m = re.fullmatch(r"run_id=(\d+)", lines[0])
    assert m and db.session.get(QualityRun, int(m.group(1))).state == "done"
    counts = re.fullmatch(r"open=(\d+) new=(\d+) resolved=(\d+)", lines[1])
    assert counts and int(counts.group(1)) >= 1 and counts.group(3) == "0"
    assert "households" in out.stderr
    bad = runner.invoke(args=["quality", "run", "--unit", "999"])
    assert bad.exit_code == 1 and "no such unit" in bad.output
    refused = runner.invoke(args=["quality", "run", "--unit", units["A"].code, "--as", "clerk_t2"])
    assert refused.exit_code == 1


def test_explanations_accepted_by_the_township_leave_the_error_count(app, units, people):
    h = save(people.collector, units["A"], bad_children(young_family()))
    f = open_findings(h, "mw.children_count")[0]
    before = qr.error_count(units["A"].id)
    with pytest.raises(Invalid):
        qr.explain(people.collector, f.id, "   ")
    with pytest.raises(NotFound):
        qr.explain(people.collector_b, f.id, "别村")  # another village's collector
    with pytest.raises(Forbidden):
        qr.explain(people.verifier, f.id, "乡镇不写说明")
    qr.explain(people.collector, f.id, "大儿子在外地上学，户口未迁出")
    db.session.commit()
    assert f.explanation_state == "proposed" and qr.error_count(units["A"].id) == before
    with pytest.raises(Forbidden):
        qr.decide(people.leader, f.id, accept=True)
    with pytest.raises(Invalid):
        qr.decide(people.verifier, f.id, accept=False, reason="")
    qr.decide(people.verifier, f.id, accept=False, reason="请补充证明")
    db.session.commit()
    assert (f.explanation_state, f.explanation_reason) == ("refused", "请补充证明")
    assert qr.error_count(units["A"].id) == before
    qr.explain(people.leader, f.id, "已核实：长子在县城读书")
    qr.decide(people.verifier, f.id, accept=True)
    db.session.commit()
    assert f.explanation_state == "accepted" and not f.counts_as_error
    assert qr.error_count(units["A"].id) == before - 1
    assert f.resolved_at is None  # kept
    with pytest.raises(Conflict):
        qr.explain(people.collector, f.id, "再写")
    actions = list(db.session.scalars(select(AuditEntry.action).where(AuditEntry.object_type == "quality_finding")))
    assert actions == ["quality.explain", "quality.explanation_refused", "quality.explain",
                       "quality.explanation_accepted"]
    # The next run sees it again and keeps the explanation.
    run(people.county)
    db.session.expire_all()
    assert f.resolved_at is None and f.explanation_state == "accepted"


def test_checked_in_worker_processes_the_same(app, units, people):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("the workers only check (no database): once is enough")
    save(people.collector, units["A"], bad_children(young_family()))
    save(people.collector_b, units["B"], young_family("王", 3))
    db.session.execute(delete(QualityFinding))
    db.session.execute(delete(HouseholdQuality))
    db.session.commit()
    r = qr.start(people.county, None)
    db.session.commit()
    result = qr.run(people.county, r.id, commit=db.session.commit, today=TODAY, workers=2)
    db.session.commit()
    in_workers = {(f.fingerprint, f.message["zh"]) for f in open_findings()}
    db.session.execute(delete(QualityFinding))
    db.session.commit()
    again = run(people.county)
    assert {(f.fingerprint, f.message["zh"]) for f in open_findings()} == in_workers
    assert result.households == again.households == 2 and result.opened == again.opened > 0


def test_a_save_finds_what_a_run_finds(app, units, people):
    """The same findings (fingerprints and messages) from saves as from a run over them."""
    no_id = young_family("赵", 5)
    no_id["members"][0]["id_number"] = None            # person.id_missing (a man of 41)
    wrong_id = young_family("钱", 6)
    wrong_id["members"][2]["id_number"] = wrong_id["members"][2]["id_number"][:-1] + (
        "0" if wrong_id["members"][2]["id_number"][-1] != "0" else "1")  # id.checksum
    no_head = young_family("孙", 8)
    no_head["members"][0]["relationship"] = "20"       # household.no_head and more
    for data in (bad_children(young_family()), no_id, wrong_id, no_head, family("周", 9)):
        save(people.collector, units["A"], data)
    at_save = {(f.fingerprint, f.level, f.message["zh"]) for f in open_findings()}
    assert {fp.split("|")[0] for fp, _, _ in at_save} >= {"mw.children_count", "person.id_missing",
                                                           "id.checksum", "household.no_head"}
    db.session.execute(delete(QualityFinding))
    db.session.commit()
    run(people.county)
    assert {(f.fingerprint, f.level, f.message["zh"]) for f in open_findings()} == at_save
