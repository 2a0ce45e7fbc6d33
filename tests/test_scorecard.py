"""The village scorecard and acceptance (issue 17, app.domain.scorecard): each figure on a small
registry built here, summed per township and county; the seed's worked example; the CSV of
`flask quality scorecard`; the county's thresholds; expected households entered or from a police
list; acceptance refused while a threshold fails and granted when it holds; a change after
acceptance flagged; permissions and bad input."""
from __future__ import annotations

import csv
import datetime as dt
import io
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

import quality
from app.domain import scorecard as sc
from app.domain import workflow
from app.domain import registration as reg
from app.domain.errors import Conflict, Forbidden, Invalid, NotFound
from app.extensions import db
from app.models import (AuditEntry, DuplicateCandidate, Household, HouseholdQuality, Person, QualityFinding,
                        QualityThreshold, SpotCheck, SpotCheckItem, UnitExpectation, VillageAcceptance,
                        WorkflowAction, utcnow)
from tests.support.households import TODAY, young_family
from tests.test_prefill import make_list, police_rows

ROUND = "2026"
SIGN = [[[100, 100], [400, 130], [700, 100]], [[250, 60], [260, 200], [240, 330]]]


@pytest.fixture
def people(units, make_user):
    return SimpleNamespace(
        collector=make_user("collector", units["A"], username="collector_a"),
        collector_b=make_user("collector", units["B"], username="collector_b"),
        collector_c=make_user("collector", units["C"], username="collector_c"),
        leader=make_user("village_leader", units["A"], username="leader_a"),
        leader_b=make_user("village_leader", units["B"], username="leader_b"),
        verifier=make_user("verifier", units["T1"], username="verifier_t1"),
        verifier_t2=make_user("verifier", units["T2"], username="verifier_t2"),
        county=make_user("county_admin", units["county"], username="county_admin"),
        clerk=make_user("clerk", units["T1"], username="clerk_t1"),
        viewer=make_user("viewer", units["T1"], username="viewer_t1"),
    )


# ---------------------------------------------------------------- building a small registry

def household(collector, unit, seq: int) -> Household:
    """A household saved at the door, with its counts as a run or a save writes them."""
    result = reg.new_household(collector, unit_id=unit.id, data=young_family("王", seq), today=TODAY)
    db.session.flush()
    counts(result.household)
    db.session.commit()
    return result.household


def counts(h: Household, **override) -> HouseholdQuality:
    """HouseholdQuality of the household's current version, from the rule library (as the
    quality run does), or the numbers given."""
    data = h.current_version.data
    done = quality.main_item_completeness(data, TODAY)
    values = dict(persons=sum(1 for m in data["members"] if m.get("status", "active") == "active"),
                  main_items_required=done.required, main_items_filled=done.filled,
                  married_women=sum(1 for _ in quality.married_women(data, TODAY)))
    values.update(override)
    row = db.session.merge(HouseholdQuality(household_id=h.id, village_id=h.village_id, unit_path=h.unit_path,
                                            version_number=h.current_number, **values))
    db.session.flush()
    return row


def finding(h: Household, n: int, *, scope="married_woman", explanation_state=None, resolved=False):
    row = QualityFinding(fingerprint=f"mw.{n}:{h.id}", rule=f"mw.rule{n}", level="error", scope=scope,
                         household_id=h.id, village_id=h.village_id, unit_path=h.unit_path,
                         message={"zh": "错", "en": "wrong"}, explanation_state=explanation_state,
                         resolved_at=utcnow() if resolved else None)
    db.session.add(row)
    db.session.flush()
    return row


def spot_check(village, h: Household, checker, results: list[tuple[int, int] | None], round_=ROUND,
               kind="village"):
    """A spot check of the village whose items (checked, wrong) were entered (None: not yet)."""
    check = SpotCheck(village_id=village.id, round=round_, seed="s", population=100, married_women=10, rate=0.15,
                      sample_size=len(results), created_by_id=checker.id, kind=kind)
    db.session.add(check)
    db.session.flush()
    for i, r in enumerate(results):
        db.session.add(SpotCheckItem(spot_check_id=check.id, position=i, household_id=h.id, version_number=1,
                                     checker_id=checker.id if r else None, checked_at=utcnow() if r else None,
                                     items_checked=r[0] if r else None, items_wrong=r[1] if r else None))
    db.session.flush()
    return check


def duplicate(left: Household, right: Household, state="open", **kw):
    lp, rp = left.persons[0].id, right.persons[0].id
    lo, hi = sorted([(str(lp), lp, left), (str(rp), rp, right)])
    row = DuplicateCandidate(left_person_id=lo[1], right_person_id=hi[1], left_household_id=lo[2].id,
                             right_household_id=hi[2].id, village_id=lo[2].village_id, unit_path=lo[2].unit_path,
                             other_unit_path=hi[2].unit_path, score=0.9, reasons=[], state=state,
                             decided_at=utcnow() if state in ("same", "not_same") else None, **kw)
    db.session.add(row)
    db.session.flush()
    return row


def verify(h: Household, people):
    for user, action in ((people.collector, WorkflowAction.submit), (people.leader, WorkflowAction.confirm),
                         (people.verifier, WorkflowAction.verify)):
        workflow.transition(user, h.id, action, version_number=h.current_number, strokes=SIGN)
    db.session.commit()


def expect(village, n: int):
    db.session.merge(UnitExpectation(village_id=village.id, households_expected=n, source="entered"))
    db.session.flush()


# ---------------------------------------------------------------- the figures

def test_seed_worked_example_160_married_women_40_errors_is_2_5_percent(units, people):
    a = units["A"]
    hs = [household(people.collector, a, i) for i in range(1, 17)]
    for h in hs:  # 16 households holding 10 married women each: 160
        counts(h, married_women=10)
    for i, h in enumerate(hs[:8]):
        for n in range(5):  # 8 households x 5 failed relations: 40
            finding(h, n)
    db.session.commit()
    row = sc.village_figures(a.path, ROUND)[a.id]
    assert (row.married_women, row.logic_errors) == (160, 40)
    assert row.logic_error_rate == pytest.approx(0.025)
    assert row.csv_row()["logic_error_rate"] == "0.025"


def test_each_figure_on_a_small_registry(units, people):
    a, b, c = units["A"], units["B"], units["C"]
    a1 = units["A1"]
    h1, h2, h3 = (household(people.collector, a, i) for i in (1, 2, 3))
    h4 = household(people.collector, a1, 4)  # a household of a group counts for its village
    hb = household(people.collector_b, b, 5)
    # A police pre-fill not yet saved at the door: not collected, its counts not the village's.
    pre = household(people.collector, a, 6)
    db.session.execute(Household.__table__.update().where(Household.id == pre.id)
                       .values(collected_at=None, origin="police"))
    expect(a, 5)
    verify(h1, people)
    # Counts: required/filled as the rule library counts them; one household with gaps.
    counts(h2, main_items_filled=counts(h2).main_items_filled - 6)
    # Logic errors: open married-woman findings not accepted; accepted, resolved and other
    # scopes do not count.
    finding(h1, 1)
    finding(h1, 2, explanation_state="proposed")
    finding(h2, 1, explanation_state="refused")
    finding(h2, 2, explanation_state="accepted")
    finding(h3, 1, resolved=True)
    finding(h3, 2, scope="person")
    # Spot checks of the round: 40 checked, 2 wrong; an item not entered and another round ignored.
    spot_check(a, h1, people.verifier, [(20, 1), (20, 1), None])
    spot_check(a, h1, people.verifier, [(10, 10)], round_="2025")
    # Duplicates: an open pair inside A (2 persons), an open pair A-B (one more in A, one in B),
    # decided pairs that no longer count.
    duplicate(h1, h2)
    duplicate(h3, hb)
    duplicate(h1, h4, state="not_same")
    duplicate(h2, h4, state="same", cancel_version_number=2)
    duplicate(h4, h3, state="gone")
    db.session.commit()

    rows = sc.village_figures(units["county"].path, ROUND)
    ra, rb, rc = rows[a.id], rows[b.id], rows[c.id]
    per_household = counts(h1)
    assert ra.households_collected == 4 and ra.households_to_verify == 1
    assert ra.households_expected == 5 and ra.entry_rate == pytest.approx(4 / 5)
    assert ra.main_items_required == 4 * per_household.main_items_required
    assert ra.main_items_filled == 4 * per_household.main_items_filled - 6
    assert ra.completeness_rate == pytest.approx(ra.main_items_filled / ra.main_items_required)
    assert ra.married_women == 4 and ra.persons == 16
    assert ra.logic_errors == 3 and ra.logic_error_rate == pytest.approx(3 / 40)
    assert (ra.items_checked, ra.items_right) == (40, 38) and ra.accuracy_rate == pytest.approx(0.95)
    assert (ra.sample_entered, ra.sample_size) == (2, 3)  # the round's village sample: 2 of 3 entered
    assert ra.duplicates == 3 and ra.duplicate_rate == pytest.approx(3 / 16)
    assert ra.households_verified == 1 and ra.verified_share == pytest.approx(1 / 4)
    assert rb.duplicates == 1 and rb.households_expected is None and rb.entry_rate is None
    assert rc.households_collected == 0 and rc.completeness_rate is None and rc.logic_error_rate is None

    # Township and county are the sums of their villages.
    card = sc.scorecard(units["county"], ROUND)
    t1, t2 = card.children
    assert (t1.code, t2.code) == (units["T1"].code, units["T2"].code)
    # B has no expected count: its household is collected (5 in all) but not in the entry rate,
    # which stays A's 4 of 5.
    assert t1.households_collected == 5 and t1.households_expected == 5 and t1.expected_missing == 1
    assert t1.collected_of_expected == 4 and t1.entry_rate == pytest.approx(4 / 5)
    assert card.total.entry_rate == pytest.approx(4 / 5)
    assert t1.logic_errors == 3 and t1.duplicates == 4 and t2.villages == 1
    assert card.total.households_collected == 5 and card.total.married_women == 5
    township = sc.scorecard(units["T1"], ROUND)
    assert [r.code for r in township.children] == [a.code, b.code]
    assert township.total.csv_row() == {**t1.csv_row(), "unit_code": units["T1"].code, "unit_name": units["T1"].name}


def test_csv_of_the_command_has_the_issue_columns_and_a_last_row_for_the_unit(app, units, people, tmp_path):
    a = units["A"]
    h = household(people.collector, a, 1)
    expect(a, 2)
    finding(h, 1)
    db.session.commit()
    out = tmp_path / "card.csv"
    result = app.test_cli_runner().invoke(args=["quality", "scorecard", "--unit", units["T1"].code,
                                                "--format", "csv", "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert text.splitlines()[0] == ("unit_code,unit_name,households_expected,households_collected,entry_rate,"
                                    "main_items_required,main_items_filled,completeness_rate,married_women,"
                                    "logic_errors,logic_error_rate,duplicates,verified_share,accepted")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["unit_code"] for r in rows] == [a.code, units["B"].code, units["T1"].code]
    ra, rb, rt = rows
    assert (ra["households_expected"], ra["households_collected"], ra["entry_rate"]) == ("2", "1", "0.5")
    assert (ra["married_women"], ra["logic_errors"], ra["logic_error_rate"]) == ("1", "1", "0.1")
    assert ra["verified_share"] == "0" and ra["accepted"] == "0"
    # Empty where the denominator is 0.
    assert rb["households_expected"] == "" and rb["entry_rate"] == "" and rb["completeness_rate"] == ""
    assert rb["logic_error_rate"] == "" and rb["verified_share"] == ""
    assert rt["unit_name"] == units["T1"].name and rt["households_collected"] == "1"
    # To standard output without -o; a unit that does not exist: exit 1, a message.
    stdout = app.test_cli_runner().invoke(args=["quality", "scorecard", "--unit", units["T1"].code])
    assert stdout.exit_code == 0 and stdout.output == text
    missing = app.test_cli_runner().invoke(args=["quality", "scorecard", "--unit", "999999999999"])
    assert missing.exit_code == 1 and "999999999999" in missing.output
    bad = app.test_cli_runner().invoke(args=["quality", "scorecard", "--unit", "1", "--format", "xml"])
    assert bad.exit_code == 2


# ---------------------------------------------------------------- thresholds

def test_thresholds_default_to_the_seed_and_are_set_by_the_county(units, people):
    limits = sc.thresholds_of(units["county"])
    assert (limits.entry_rate_min, limits.completeness_min, limits.accuracy_min, limits.logic_error_max) == \
        (0.95, 0.95, 0.95, 0.10) and not limits.set
    sc.set_thresholds(people.county, units["county"].id, {"entry_rate_min": "90", "completeness_min": "96.5",
                                                           "accuracy_min": "95%", "logic_error_max": "5",
                                                           "over_threshold": "all"})
    db.session.commit()
    limits = sc.thresholds_of(sc.county_of(units["A"]))
    assert (limits.entry_rate_min, limits.completeness_min, limits.accuracy_min, limits.logic_error_max,
            limits.over_threshold, limits.set) == (0.9, 0.965, 0.95, 0.05, "all", True)
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "quality.thresholds")).one()
    assert entry.details["after"]["logic_error_max"] == 0.05


GOOD = {"entry_rate_min": "95", "completeness_min": "95", "accuracy_min": "95", "logic_error_max": "10",
        "over_threshold": "errors"}


@pytest.mark.parametrize("field,value", [("entry_rate_min", "abc"), ("completeness_min", "101"),
                                         ("accuracy_min", "-1"), ("logic_error_max", "nan"),
                                         ("logic_error_max", ""), ("over_threshold", "some")])
def test_bad_thresholds_are_refused_naming_the_field_and_change_nothing(units, people, field, value):
    with pytest.raises(Invalid) as e:
        sc.set_thresholds(people.county, units["county"].id, {**GOOD, field: value})
    assert e.value.field == field
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(QualityThreshold)) == 0


def test_only_the_county_administrator_sets_thresholds(units, people):
    for user in (people.verifier, people.leader, people.clerk):
        with pytest.raises((Forbidden, NotFound)):
            sc.set_thresholds(user, units["county"].id, GOOD)
    with pytest.raises(Invalid):  # a township is not a county
        sc.set_thresholds(people.county, units["T1"].id, GOOD)


# ---------------------------------------------------------------- expected households

def test_expected_households_entered_and_from_a_police_list(units, people):
    a, b = units["A"], units["B"]
    assert sc.set_expected(people.verifier, {a.id: "12", b.id: ""}) == 1
    db.session.commit()
    assert db.session.get(UnitExpectation, a.id).households_expected == 12
    assert db.session.get(UnitExpectation, b.id) is None
    # All checked before any is written: a bad value changes nothing.
    with pytest.raises(Invalid) as e:
        sc.set_expected(people.verifier, {a.id: "7", b.id: "x"})
    assert e.value.field == f"expected-{b.id}" and b.name in e.value.message
    db.session.rollback()
    assert db.session.get(UnitExpectation, a.id).households_expected == 12
    # From the police register: distinct 户号 per village (A: 2, B: 1).
    lst = make_list(police_rows(units), unit=units["T1"])
    assert sc.expected_from_list(people.clerk, units["T1"].id, lst.id) == 2
    db.session.commit()
    ea, eb = db.session.get(UnitExpectation, a.id), db.session.get(UnitExpectation, b.id)
    assert (ea.households_expected, ea.source, ea.list_id) == (2, "list", lst.id)
    assert (eb.households_expected, eb.source) == (1, "list")
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)
                             .where(AuditEntry.action == "quality.expected")) == 3


def test_expected_households_permissions_and_bad_input(units, people):
    a = units["A"]
    for user in (people.collector, people.leader, people.viewer):
        with pytest.raises((Forbidden, NotFound)):
            sc.set_expected(user, {a.id: "3"})
    with pytest.raises(NotFound):  # outside the verifier's township
        sc.set_expected(people.verifier_t2, {a.id: "3"})
    for text in ("-1", "1.5", "100001", "３"):
        with pytest.raises(Invalid):
            sc.set_expected(people.verifier, {a.id: text})
    with pytest.raises(Invalid):  # a township is not a village
        sc.set_expected(people.verifier, {units["T1"].id: "3"})
    with pytest.raises(Invalid):
        sc.expected_from_list(people.clerk, units["T1"].id, 999)
    # Another township's list is not T1's to use, even with rows in T1's villages.
    other = make_list(police_rows(units), unit=units["T2"])
    with pytest.raises(Invalid) as e:
        sc.expected_from_list(people.clerk, units["T1"].id, other.id)
    assert e.value.field == "list_id"
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(UnitExpectation)) == 0
    # A list the system imported (from the command line, at the root) covers every area.
    root = make_list(police_rows(units), unit=units["T2"])
    root.unit_path = ""
    db.session.commit()
    assert root in sc.police_lists(people.clerk, units["T1"])
    assert sc.expected_from_list(people.clerk, units["T1"].id, root.id) == 2


# ---------------------------------------------------------------- acceptance

def good_village(units, people):
    """Village A meeting every default threshold: all households expected collected, complete,
    a spot check 100 % right, no logic errors."""
    a = units["A"]
    hs = [household(people.collector, a, i) for i in (1, 2)]
    for h in hs:  # every main item filled
        counts(h, main_items_filled=counts(h).main_items_required)
    expect(a, 2)
    spot_check(a, hs[0], people.verifier, [(20, 0)])
    db.session.commit()
    return hs


def test_acceptance_refused_while_a_threshold_fails_and_granted_when_it_holds(units, people):
    a = units["A"]
    hs = good_village(units, people)
    finding(hs[0], 1)
    finding(hs[0], 2)
    finding(hs[0], 3)  # 3 errors of 2 women: 15 % > 10 %
    db.session.commit()
    applied = sc.apply(people.leader, a.id, ROUND, "本村已完成入户采集，申请验收。")
    db.session.commit()
    decision = sc.decide(people.verifier, applied.id, accept=True)
    db.session.commit()
    assert decision.acceptance.state == "refused"
    assert [f["en"] for f in decision.failures] == ["Logic error rate 15.0%, above 10.0%"]
    assert "逻辑关系误差率 15.0%" in decision.acceptance.reason
    assert "复查有错误的住户" in decision.acceptance.reason  # the seed's default: re-check the households with errors
    assert decision.acceptance.figures["logic_errors"] == 3 and decision.acceptance.figures["failures"]

    # The township accepts the explanations of the errors: the threshold holds, a new application is accepted.
    db.session.execute(QualityFinding.__table__.update().values(explanation_state="accepted"))
    again = sc.apply(people.leader, a.id, ROUND, "已说明逻辑错误，再次申请。")
    db.session.commit()
    decision = sc.decide(people.verifier, again.id, accept=True)
    db.session.commit()
    assert decision.acceptance.state == "accepted" and decision.failures == []
    assert decision.acceptance.figures["entry_rate"] == 1.0 and decision.acceptance.figures["accepted"] == 0
    row = sc.village_figures(a.path, ROUND)[a.id]
    assert row.accepted and row.acceptance["state"] == "accepted"
    assert sc.scorecard(units["T1"], ROUND).total.accepted is False  # B is not accepted
    actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("acceptance.%"))
                                 .order_by(AuditEntry.id)).all()
    assert actions == ["acceptance.apply", "acceptance.decide", "acceptance.apply", "acceptance.decide"]
    # Accepted: no second application in the round; another round is open.
    with pytest.raises(Conflict):
        sc.apply(people.leader, a.id, ROUND, "再次")
    db.session.rollback()
    assert sc.village_figures(a.path, "2027")[a.id].acceptance is None


@pytest.mark.parametrize("missing,expected", [
    ("expected", "Entry rate: the households expected are not entered"),
    ("spot_check", "Accuracy: no spot-check results entered yet"),
    ("collected", "Entry rate 50.0%, below 95.0%"),
])
def test_each_missing_figure_refuses(units, people, missing, expected):
    a = units["A"]
    hs = [household(people.collector, a, i) for i in (1, 2)]
    for h in hs:
        counts(h, main_items_filled=counts(h).main_items_required)
    if missing != "expected":
        expect(a, 4 if missing == "collected" else 2)
    if missing != "spot_check":
        spot_check(a, hs[0], people.verifier, [(20, 0)])
    db.session.commit()
    applied = sc.apply(people.leader, a.id, ROUND, "申请")
    decision = sc.decide(people.verifier, applied.id, accept=True)
    assert decision.acceptance.state == "refused"
    assert expected in [f["en"] for f in decision.failures]


def test_county_thresholds_decide(units, people):
    a = units["A"]
    hs = good_village(units, people)
    finding(hs[0], 1)  # 1 error of 2 women: 5 %: passes the default 10 %, not the county's 4 %
    sc.set_thresholds(people.county, units["county"].id, {**GOOD, "logic_error_max": "4", "over_threshold": "all"})
    applied = sc.apply(people.leader, a.id, ROUND, "申请")
    decision = sc.decide(people.verifier, applied.id, accept=True)
    assert decision.acceptance.state == "refused" and "全部住户复查" in decision.acceptance.reason
    assert decision.acceptance.figures["thresholds"]["logic_error_max"] == 0.04


def test_the_township_may_refuse_with_a_reason(units, people):
    a = units["A"]
    good_village(units, people)
    applied = sc.apply(people.leader, a.id, ROUND, "申请")
    with pytest.raises(Invalid) as e:
        sc.decide(people.verifier, applied.id, accept=False, reason="  ")
    assert e.value.field == "reason"
    decision = sc.decide(people.verifier, applied.id, accept=False, reason="户卡未装订")
    assert decision.acceptance.state == "refused" and decision.acceptance.reason == "户卡未装订"
    with pytest.raises(Conflict):
        sc.decide(people.verifier, applied.id, accept=True)


def test_a_change_after_acceptance_is_flagged(units, people):
    a = units["A"]
    h1, h2 = good_village(units, people)
    applied = sc.apply(people.leader, a.id, ROUND, "申请")
    sc.decide(people.verifier, applied.id, accept=True)
    db.session.commit()
    assert sc.changed_after_acceptance(h1, ROUND) is None
    assert sc.village_figures(a.path, ROUND)[a.id].changed_after_acceptance == 0
    # Saves are not blocked (nothing is lost): the change shows as made after acceptance.
    data = young_family("王", 1)
    data["members"] = h1.current_version.data["members"]
    data["household"]["phone"] = "13800000000"
    reg.save_household(people.collector, h1.id, data=data, base_number=h1.current_number, today=TODAY)
    db.session.commit()
    assert sc.changed_after_acceptance(h1, ROUND).id == applied.id
    assert sc.changed_after_acceptance(h2, ROUND) is None
    assert [(h.id, n) for h, n in sc.changed_households(a, ROUND)] == [(h1.id, 1)]
    row = sc.village_figures(a.path, ROUND)[a.id]
    assert row.changed_after_acceptance == 1 and row.accepted
    assert sc.scorecard(units["T1"], ROUND).total.changed_after_acceptance == 1


def test_acceptance_permissions_and_bad_input(units, people):
    a, b = units["A"], units["B"]
    good_village(units, people)
    expect(b, 3)
    db.session.commit()
    for user in (people.collector, people.verifier, people.county):
        with pytest.raises((Forbidden, NotFound)):
            sc.apply(user, a.id, ROUND, "申请")
    with pytest.raises(NotFound):  # B's leader does not see village A
        sc.apply(people.leader_b, a.id, ROUND, "申请")
    for text in ("", "   ", "字" * (sc.APPLICATION_MAX + 1)):
        with pytest.raises(Invalid) as e:
            sc.apply(people.leader, a.id, ROUND, text)
        assert e.value.field == "application"
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(VillageAcceptance)) == 0
    applied = sc.apply(people.leader, a.id, ROUND, "申请")
    db.session.commit()
    with pytest.raises(Conflict):  # one live application a round
        sc.apply(people.leader, a.id, ROUND, "又申请")
    db.session.rollback()
    for user in (people.leader, people.collector, people.county, people.clerk):
        with pytest.raises((Forbidden, NotFound)):
            sc.decide(user, applied.id, accept=True)
    with pytest.raises(NotFound):  # another township's verifier
        sc.decide(people.verifier_t2, applied.id, accept=True)
    with pytest.raises(NotFound):
        sc.decide(people.verifier, 12345, accept=True)
    db.session.rollback()
    assert db.session.get(VillageAcceptance, applied.id).state == "applied"
    # B untouched: no application, its expected count as it was.
    assert db.session.scalars(select(VillageAcceptance).where(VillageAcceptance.village_id == b.id)).all() == []
    assert db.session.get(UnitExpectation, b.id).households_expected == 3


def test_the_round_is_the_setting_or_the_local_year(app):
    from app.domain import settings

    app.config["ACCEPTANCE_ROUND"] = "2026春"
    assert settings.current().acceptance_round == "2026春"
    app.config["ACCEPTANCE_ROUND"] = ""
    assert settings.current().acceptance_round == str(dt.datetime.now(settings.current().timezone).year)


def test_a_decision_raced_by_another_is_a_conflict(units, people):
    """Two township users deciding one application at once: the guarded update lets one win."""
    a = units["A"]
    good_village(units, people)
    applied = sc.apply(people.leader, a.id, ROUND, "申请")
    db.session.commit()
    db.session.execute(VillageAcceptance.__table__.update().where(VillageAcceptance.id == applied.id)
                       .values(state="refused", reason="另一人已处理"))
    # This session still holds the application as pending (as the other user's request would).
    applied.state = "applied"
    with pytest.raises(Conflict):
        sc.decide(people.verifier, applied.id, accept=True)


# ---------------------------------------------------------------- review fixes

def test_findings_and_duplicates_of_pre_filled_households_do_not_count(units, people):
    """The denominators (married women, persons) are of collected households: so are the
    numerators. A police pre-fill never seen at the door, and a person cancelled, do not count."""
    a = units["A"]
    h1, h2, h3 = (household(people.collector, a, i) for i in (1, 2, 3))
    pre, pre2 = household(people.collector, a, 4), household(people.collector, a, 5)
    db.session.execute(Household.__table__.update().where(Household.id.in_([pre.id, pre2.id]))
                       .values(collected_at=None, origin="police"))
    finding(h1, 1)
    finding(pre, 1)
    finding(pre, 2)
    duplicate(pre, pre2)          # both sides pre-filled: nobody
    duplicate(pre, h1)            # only h1's side
    duplicate(h2, h3)             # h3's person cancelled: only h2's side
    db.session.execute(Person.__table__.update().where(Person.id == h3.persons[0].id).values(status="duplicate"))
    db.session.commit()
    row = sc.village_figures(a.path, ROUND)[a.id]
    assert row.households_collected == 3 and row.married_women == 3
    assert row.logic_errors == 1 and row.logic_error_rate == pytest.approx(1 / 30)
    assert row.duplicates == 2 and row.persons == 12


def test_a_village_collecting_more_than_expected_keeps_its_rate_and_is_flagged(units, people):
    a, b = units["A"], units["B"]
    for i in (1, 2, 3):
        household(people.collector, a, i)
    household(people.collector_b, b, 4)
    expect(a, 2)
    expect(b, 2)
    db.session.commit()
    rows = sc.village_figures(units["T1"].path, ROUND)
    assert rows[a.id].entry_rate == pytest.approx(1.5) and rows[a.id].over_expected == 1
    assert rows[b.id].entry_rate == pytest.approx(0.5) and rows[b.id].over_expected == 0
    total = sc.scorecard(units["T1"], ROUND).total
    assert total.entry_rate == pytest.approx(1.0) and total.over_expected == 1


def test_a_user_with_both_roles_does_not_accept_their_own_application(units, people):
    from app.domain.users import grant_role
    from app.models import Role

    a = units["A"]
    good_village(units, people)
    grant_role(None, people.leader, Role.verifier, units["T1"])
    db.session.commit()
    applied = sc.apply(people.leader, a.id, ROUND, "申请")
    db.session.commit()
    with pytest.raises(Forbidden) as e:
        sc.decide(people.leader, applied.id, accept=True)
    assert "不能自己验收自己的申请" in e.value.message
    db.session.rollback()
    assert db.session.get(VillageAcceptance, applied.id).state == "applied"
    assert sc.decide(people.verifier, applied.id, accept=True).acceptance.state == "accepted"


def _as_if_not_yet_saved(monkeypatch, model):
    """The read of a request that ran before another request's first save was committed: it
    saw no row of `model` (the other's insert lands before this one's)."""
    real = db.session.get

    def get(entity, ident, **kw):
        return None if entity is model and not kw.get("populate_existing") else real(entity, ident, **kw)
    monkeypatch.setattr(db.session, "get", get)


def test_two_first_saves_of_an_expected_count_both_end_well(units, people, monkeypatch):
    a = units["A"]
    assert sc.set_expected(people.verifier, {a.id: "12"}) == 1
    db.session.commit()
    _as_if_not_yet_saved(monkeypatch, UnitExpectation)
    assert sc.set_expected(people.verifier, {a.id: "13"}) == 1
    db.session.commit()
    monkeypatch.undo()
    db.session.expire_all()
    assert db.session.get(UnitExpectation, a.id).households_expected == 13
    assert db.session.scalar(select(func.count()).select_from(UnitExpectation)) == 1


def test_two_first_saves_of_the_thresholds_both_end_well(units, people, monkeypatch):
    county = units["county"]
    sc.set_thresholds(people.county, county.id, GOOD)
    db.session.commit()
    _as_if_not_yet_saved(monkeypatch, QualityThreshold)
    row = sc.set_thresholds(people.county, county.id, {**GOOD, "logic_error_max": "7"})
    db.session.commit()
    monkeypatch.undo()
    assert row.logic_error_max == 0.07
    db.session.expire_all()
    assert db.session.get(QualityThreshold, county.id).logic_error_max == 0.07
    assert db.session.scalar(select(func.count()).select_from(QualityThreshold)) == 1


@pytest.mark.parametrize("value", ["x" * 21, "2026\n春", "2026\x00", "a\tb"])
def test_a_bad_acceptance_round_is_refused(app, units, value, monkeypatch, tmp_path):
    from app import config
    from app.domain import settings

    app.config["ACCEPTANCE_ROUND"] = value
    with pytest.raises(ValueError, match="验收轮次"):
        settings.current().acceptance_round
    # At start-up, from the environment: the app does not start.
    monkeypatch.setenv("DOORSTEP_INSTANCE", str(tmp_path))
    if "\x00" not in value:  # the environment holds no NUL
        monkeypatch.setenv("ACCEPTANCE_ROUND", value)
        with pytest.raises(ValueError, match="验收轮次"):
            config.from_environment()
    app.config["ACCEPTANCE_ROUND"] = "2026"
    # From the command line: a usage error (exit 2) naming --round, nothing written.
    result = app.test_cli_runner().invoke(args=["quality", "scorecard", "--unit", units["T1"].code,
                                                "--round", value])
    assert result.exit_code == 2 and "--round" in result.output


def test_a_round_of_20_characters_is_taken(app, units):
    from app.domain import settings

    app.config["ACCEPTANCE_ROUND"] = "二〇二六年春季验收第一轮" + "x" * 8
    assert len(settings.current().acceptance_round) == 20
    result = app.test_cli_runner().invoke(args=["quality", "scorecard", "--unit", units["T1"].code,
                                                "--round", "r" * 20])
    assert result.exit_code == 0, result.output


def test_the_scorecard_accuracy_is_the_spot_check_accuracy_of_its_round(units, people):
    """One computation: the scorecard reads app.domain.spot_checks.accuracy_by_village for its
    round (the village sample and the county's sample points of the round, no other round)."""
    from app.domain import spot_checks

    a = units["A"]
    h = household(people.collector, a, 1)
    spot_check(a, h, people.verifier, [(20, 2)])
    spot_check(a, h, people.verifier, [(10, 1), None], kind="point")
    spot_check(a, h, people.verifier, [(10, 10)], round_="2025")
    db.session.commit()
    for round_, expected in ((ROUND, (30, 27)), ("2025", (10, 0)), ("2027", (0, 0))):
        row = sc.village_figures(a.path, round_)[a.id]
        assert (row.items_checked, row.items_right) == expected
        assert spot_checks.accuracy_by_village([a.id], round_)[a.id] == expected


def test_acceptance_waits_until_the_village_sample_is_entered(units, people):
    a = units["A"]
    hs = [household(people.collector, a, i) for i in (1, 2)]
    for h in hs:
        counts(h, main_items_filled=counts(h).main_items_required)
    expect(a, 2)
    check = spot_check(a, hs[0], people.verifier, [(20, 0), None, None])  # 1 of 3 entered: 100 % right so far
    db.session.commit()
    applied = sc.apply(people.leader, a.id, ROUND, "申请")
    decision = sc.decide(people.verifier, applied.id, accept=True)
    db.session.commit()
    assert decision.acceptance.state == "refused"
    assert decision.failures == [{"zh": "抽查结果未录完：已录入 1/3",
                                  "en": "Spot check results not all entered: 1/3 entered"}]
    assert "抽查结果未录完：已录入 1/3" in decision.acceptance.reason
    assert (decision.acceptance.figures["sample_entered"], decision.acceptance.figures["sample_size"]) == (1, 3)
    # A sample point of the round still open does not hold the village's acceptance back.
    spot_check(a, hs[1], people.verifier, [None], kind="point")
    for item in check.items[1:]:
        item.checker_id, item.checked_at, item.items_checked, item.items_wrong = \
            people.verifier.id, utcnow(), 20, 0
    db.session.commit()
    applied = sc.apply(people.leader, a.id, ROUND, "再次申请")
    decision = sc.decide(people.verifier, applied.id, accept=True)
    assert decision.failures == [] and decision.acceptance.state == "accepted"
