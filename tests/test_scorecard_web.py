"""The scorecard and acceptance pages (issue 17, app/web/scorecard.py): figures with their
formulas, the drill-down county -> township -> village, the leader's application and the
township's decision, the county's thresholds, expected households; permissions and bad input
(a clear message naming the field, nothing changed, never a 500); the household page flags a
change after acceptance."""
from __future__ import annotations

from sqlalchemy import func, select

from app.domain import registration as reg
from app.extensions import db
from app.models import QualityFinding, QualityThreshold, UnitExpectation, VillageAcceptance
from tests.support.households import TODAY, young_family
from tests import test_scorecard as base
from tests.test_scorecard import ROUND, expect, finding, good_village, household

people = base.people  # the fixture


def login(new_client, user):
    c = new_client()
    c.login(user.username)
    return c


def test_county_page_shows_figures_with_formulas_and_drills_down(app, units, people, new_client):
    app.config["ACCEPTANCE_ROUND"] = ROUND
    h = household(people.collector, units["A"], 1)
    finding(h, 1)
    expect(units["A"], 4)
    db.session.commit()
    c = login(new_client, people.county)
    page = c.get(f"/quality/scorecard/{units['county'].id}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    for formula in ("已入户采集户数 ÷ 应采集户数 × 100%", "逻辑关系错误数 ÷ (已婚育龄妇女数 × 10) × 100%",
                    "已填主要数据项数 ÷ 应填主要数据项数 × 100%", "抽查中准确的数据项数 ÷ 抽查的数据项数 × 100%"):
        assert formula in text
    assert f'data-testid="row-{units["T1"].code}"' in text and f'data-testid="row-{units["T2"].code}"' in text
    assert f'/quality/scorecard/{units["T1"].id}"' in text
    assert "25.0%" in text  # entry rate 1 / 4
    township = c.get(f"/quality/scorecard/{units['T1'].id}").get_data(as_text=True)
    assert f'data-testid="row-{units["A"].code}"' in township and "1 / (1 × 10)" in township
    assert 'data-testid="state-110101001001"' in township
    village = c.get(f"/quality/scorecard/{units['A'].id}")
    assert village.status_code == 200 and 'data-testid="acceptance"' in village.get_data(as_text=True)
    assert c.get("/quality/scorecard/999999").status_code == 404


def test_scope_of_the_pages(app, units, people, new_client):
    c = login(new_client, people.verifier_t2)
    assert c.get(f"/quality/scorecard/{units['A'].id}").status_code == 404
    assert c.get(f"/quality/scorecard/{units['C'].id}").status_code == 200
    assert c.get("/quality/scorecard").status_code == 302
    assert c.get(f"/quality/thresholds/{units['county'].id}").status_code in (403, 404)
    leader = login(new_client, people.leader)
    assert leader.get(f"/quality/expected/{units['T1'].id}").status_code in (403, 404)


def test_leader_applies_and_the_township_runs_the_acceptance(app, units, people, new_client):
    app.config["ACCEPTANCE_ROUND"] = ROUND
    a = units["A"]
    hs = good_village(units, people)
    finding(hs[0], 1)
    finding(hs[0], 2)
    finding(hs[0], 3)
    db.session.commit()
    leader = login(new_client, people.leader)
    page = leader.get(f"/quality/scorecard/{a.id}").get_data(as_text=True)
    assert 'data-testid="apply-form"' in page and 'data-testid="decide-form"' not in page
    # Bad input: empty application, a clear message, nothing saved.
    bad = leader.post_form(f"/quality/scorecard/{a.id}/apply", {"application": "  "})
    assert bad.status_code == 422 and "申请" in bad.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(VillageAcceptance)) == 0
    ok = leader.post_form(f"/quality/scorecard/{a.id}/apply", {"application": "本村申请验收"})
    assert ok.status_code == 302
    again = leader.post_form(f"/quality/scorecard/{a.id}/apply", {"application": "再次申请"})
    assert again.status_code == 409
    applied = db.session.scalars(select(VillageAcceptance)).one()
    # The leader cannot decide; the verifier can.
    assert leader.post_form(f"/quality/acceptance/{applied.id}/decide", {"decision": "accept"}).status_code == 403
    verifier = login(new_client, people.verifier)
    page = verifier.get(f"/quality/scorecard/{a.id}").get_data(as_text=True)
    assert 'data-testid="decide-form"' in page and "逻辑关系误差率 15.0%，高于 10.0%" in page
    assert verifier.post_form(f"/quality/acceptance/{applied.id}/decide", {"decision": "maybe"}).status_code == 422
    assert verifier.post_form(f"/quality/acceptance/{applied.id}/decide",
                              {"decision": "refuse", "reason": ""}).status_code == 422
    db.session.expire_all()
    assert db.session.get(VillageAcceptance, applied.id).state == "applied"
    done = verifier.post_form(f"/quality/acceptance/{applied.id}/decide", {"decision": "accept"},
                              follow_redirects=True)
    assert done.status_code == 200
    db.session.expire_all()
    row = db.session.get(VillageAcceptance, applied.id)
    assert row.state == "refused" and "逻辑关系误差率" in row.reason
    assert "逻辑关系误差率 15.0%" in done.get_data(as_text=True)
    # Deciding twice: a conflict, not a 500.
    assert verifier.post_form(f"/quality/acceptance/{applied.id}/decide", {"decision": "accept"}).status_code == 409

    # The errors explained and accepted: the next application is accepted; a later save is flagged.
    db.session.execute(QualityFinding.__table__.update().values(explanation_state="accepted"))
    db.session.commit()
    assert leader.post_form(f"/quality/scorecard/{a.id}/apply", {"application": "再次申请"}).status_code == 302
    second = db.session.scalars(select(VillageAcceptance).where(VillageAcceptance.state == "applied")).one()
    verifier.post_form(f"/quality/acceptance/{second.id}/decide", {"decision": "accept"})
    db.session.expire_all()
    assert db.session.get(VillageAcceptance, second.id).state == "accepted"
    h = hs[1]
    household_page = login(new_client, people.collector).get(f"/collect/households/{h.id}").get_data(as_text=True)
    assert 'data-testid="changed-after-acceptance"' not in household_page
    data = young_family("王", 2)
    data["members"] = h.current_version.data["members"]
    data["household"]["phone"] = "13800000000"
    reg.save_household(people.collector, h.id, data=data, base_number=h.current_number, today=TODAY)
    db.session.commit()
    household_page = login(new_client, people.collector).get(f"/collect/households/{h.id}").get_data(as_text=True)
    assert 'data-testid="changed-after-acceptance"' in household_page
    village = verifier.get(f"/quality/scorecard/{a.id}").get_data(as_text=True)
    assert 'data-testid="changed"' in village and f"/collect/households/{h.id}" in village
    township = verifier.get(f"/quality/scorecard/{units['T1'].id}").get_data(as_text=True)
    assert "1户验收后有变更" in township or "households changed after acceptance" in township


def test_thresholds_page(app, units, people, new_client):
    c = login(new_client, people.county)
    url = f"/quality/thresholds/{units['county'].id}"
    page = c.get(url)
    assert page.status_code == 200 and 'value="95"' in page.get_data(as_text=True)
    good = {"entry_rate_min": "90", "completeness_min": "95", "accuracy_min": "95", "logic_error_max": "8",
            "over_threshold": "all"}
    bad = c.post_form(url, {**good, "logic_error_max": "百分之八"})
    assert bad.status_code == 422 and 'id="logic_error_max"' in bad.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(QualityThreshold)) == 0
    assert c.post_form(url, good).status_code == 302
    row = db.session.get(QualityThreshold, units["county"].id)
    assert (row.entry_rate_min, row.logic_error_max, row.over_threshold) == (0.9, 0.08, "all")
    # From a township's page: the thresholds of its county.
    assert c.post_form(f"/quality/thresholds/{units['T1'].id}", {**good, "logic_error_max": "7"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(QualityThreshold, units["county"].id).logic_error_max == 0.07
    assert c.get(f"/quality/thresholds/{units['city'].id}").status_code == 404  # above the county: not in scope
    verifier = login(new_client, people.verifier)
    assert verifier.post_form(url, good).status_code in (403, 404)


def test_expected_page(app, units, people, new_client):
    from tests.test_prefill import make_list, police_rows

    c = login(new_client, people.verifier)
    url = f"/quality/expected/{units['T1'].id}"
    assert c.get(url).status_code == 200
    a, b = units["A"], units["B"]
    bad = c.post_form(url, {f"expected-{a.id}": "12", f"expected-{b.id}": "十"})
    assert bad.status_code == 422 and b.name in bad.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(UnitExpectation)) == 0
    assert c.post_form(url, {"expected-x": "1"}).status_code == 422
    assert c.post_form(url, {f"expected-{units['C'].id}": "3"}).status_code == 404  # another township's village
    assert c.post_form(url, {f"expected-{a.id}": "12", f"expected-{b.id}": ""}).status_code == 302
    assert db.session.get(UnitExpectation, a.id).households_expected == 12
    lst = make_list(police_rows(units), unit=units["T1"])
    assert c.post_form(url, {"from_list": "1", "list_id": "abc"}).status_code == 422
    assert c.post_form(url, {"from_list": "1", "list_id": str(lst.id)}).status_code == 302
    db.session.expire_all()
    assert db.session.get(UnitExpectation, a.id).households_expected == 2
    assert db.session.get(UnitExpectation, b.id).source == "list"


def test_more_collected_than_expected_is_said_and_a_village_without_a_count_is_apart(app, units, people,
                                                                                   new_client):
    app.config["ACCEPTANCE_ROUND"] = ROUND
    a, b = units["A"], units["B"]
    for i in (1, 2, 3):
        household(people.collector, a, i)
    household(people.collector_b, b, 4)
    expect(a, 2)  # B has no expected count
    db.session.commit()
    c = login(new_client, people.county)
    township = c.get(f"/quality/scorecard/{units['T1'].id}").get_data(as_text=True)
    assert "150.0%" in township  # the true rate, not capped
    assert 'data-testid="over-expected"' in township and "采集户数多于应采集户数，请核对应采集户数" in township
    assert f'data-testid="over-expected-{a.code}"' in township
    assert f'data-testid="over-expected-{b.code}"' not in township
    assert "3 / 2 （共已采集 4 户）" in township  # B's household is collected, not in the rate
    village_b = c.get(f"/quality/scorecard/{b.id}").get_data(as_text=True)
    assert 'data-testid="over-expected"' not in village_b


def test_a_leader_who_is_also_a_verifier_is_refused_deciding_their_own_application(app, units, people,
                                                                                   new_client):
    from app.domain.users import grant_role
    from app.models import Role

    app.config["ACCEPTANCE_ROUND"] = ROUND
    good_village(units, people)
    grant_role(None, people.leader, Role.verifier, units["T1"])
    db.session.commit()
    leader = login(new_client, people.leader)
    assert leader.post_form(f"/quality/scorecard/{units['A'].id}/apply", {"application": "申请"}).status_code == 302
    applied = db.session.scalars(select(VillageAcceptance)).one()
    # The page offers the decision to the township's other verifiers, not to the applicant.
    page = leader.get(f"/quality/scorecard/{units['A'].id}").get_data(as_text=True)
    assert 'data-testid="decide-form"' not in page
    other = login(new_client, people.verifier).get(f"/quality/scorecard/{units['A'].id}").get_data(as_text=True)
    assert 'data-testid="decide-form"' in other
    refused = leader.post_form(f"/quality/acceptance/{applied.id}/decide", {"decision": "accept"})
    assert refused.status_code == 403
    db.session.expire_all()
    assert db.session.get(VillageAcceptance, applied.id).state == "applied"
