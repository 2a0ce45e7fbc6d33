"""Quality pages (issue 17, app.web.quality) over HTTP: the rule list and its table (CSV, Excel
read back), a run asked from a page (a job, its progress page), the village work list with its
filters and Excel (read back), the collector's own findings, explanations written and decided
through the forms, and bad input answered without a 500."""
from __future__ import annotations

import csv
import io
import re
from types import SimpleNamespace

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

import quality
from app.domain import registration as reg
from app.extensions import db
from app.models.quality import QualityFinding, QualityRun
from tests.support.households import TODAY, young_family


@pytest.fixture
def people(units, make_user):
    return SimpleNamespace(
        collector=make_user("collector", units["A"], username="collector_a", name="采集员甲"),
        collector2=make_user("collector", units["A"], username="collector_a2", name="采集员丁"),
        collector_b=make_user("collector", units["B"], username="collector_b", name="采集员戊"),
        leader=make_user("village_leader", units["A"], username="leader_a", name="村干部乙"),
        verifier=make_user("verifier", units["T1"], username="verifier_t1", name="审核员丙"),
        county=make_user("county_admin", units["county"], username="county", name="县管理员"),
    )


@pytest.fixture
def bad(units, people):
    """A household of village A whose married woman says no boys while her son lives there."""
    data = young_family()
    data["members"][1]["boys"] = 0
    h = reg.new_household(people.collector, unit_id=units["A1"].id, data=data, today=TODAY).household
    ok = reg.new_household(people.collector2, unit_id=units["A2"].id, data=young_family("王", 2), today=TODAY)
    db.session.commit()
    f = db.session.scalars(select(QualityFinding).where(QualityFinding.household_id == h.id,
                                                        QualityFinding.rule == "mw.children_count")).one()
    return SimpleNamespace(household=h, finding=f, ok=ok.household)


def test_rules_page_and_table(client, people):
    client.login("leader_a")
    page = client.get("/quality/rules").get_data(as_text=True)
    assert "质量" in page and "mw.children_count" in page and "逻辑关系5/10" in page
    wb = load_workbook(io.BytesIO(client.get("/quality/rules.xlsx").data), read_only=True)
    rows = list(wb.worksheets[0].iter_rows(values_only=True))
    assert rows[0] == quality.RULE_COLUMNS and len(rows) == len(quality.rule_rows()) + 1
    assert {r[0] for r in rows[1:]} == {r.id for r in quality.rules()}
    text = client.get("/quality/rules.csv").data.decode("utf-8-sig")
    table = list(csv.DictReader(io.StringIO(text)))
    assert table == [{k: str(v or "") for k, v in r.items()} for r in quality.rule_rows()]


def test_work_list_filters_and_excel(client, units, people, bad):
    client.login("leader_a")
    url = f"/quality/villages/{units['A'].id}"
    page = client.get(url).get_data(as_text=True)
    assert "李秀英" in page and "生育男孩0个" in page and bad.household.card_no in page
    assert "采集员甲" in page and "第一组" in page  # the filters offer the collectors and groups
    other = client.get(url, query_string={"rule": "household.no_head"}).get_data(as_text=True)
    assert "生育男孩0个" not in other and 'data-testid="no-findings"' in other
    by_two = client.get(url, query_string={"collector": people.collector2.id}).get_data(as_text=True)
    assert "生育男孩0个" not in by_two
    by_one = client.get(url, query_string={"collector": people.collector.id,
                                           "group": units["A1"].id}).get_data(as_text=True)
    assert "生育男孩0个" in by_one
    in_a2 = client.get(url, query_string={"group": units["A2"].id}).get_data(as_text=True)
    assert "生育男孩0个" not in in_a2
    resp = client.get(url + ".xlsx", query_string={"rule": "mw.children_count"})
    assert resp.status_code == 200 and resp.mimetype.endswith("spreadsheetml.sheet")
    rows = list(load_workbook(io.BytesIO(resp.data), read_only=True).worksheets[0].iter_rows(values_only=True))
    assert rows[0][:5] == ("户卡编号", "村民小组", "成员", "人员", "规则")
    assert len(rows) == 2
    assert rows[1][0] == bad.household.card_no and rows[1][1] == "第一组" and rows[1][3] == "李秀英"
    assert rows[1][4] == "mw.children_count" and "生育男孩0个" in rows[1][7]
    # Another township's village is not seen; a township is not a village.
    assert client.get(f"/quality/villages/{units['C'].id}").status_code == 404
    assert client.get(f"/quality/villages/{units['A1'].id}").status_code == 422  # a group: lists are per village
    assert client.get("/quality/villages/99999999999999999999").status_code == 404


def test_the_collector_sees_the_findings_of_their_own_households(client, new_client, people, bad):
    client.login("collector_a")
    home = client.get("/").get_data(as_text=True)
    assert "/quality/mine" in home
    page = client.get("/quality/mine").get_data(as_text=True)
    assert "生育男孩0个" in page and f"/quality/findings/{bad.finding.id}" in page
    other = new_client()
    other.login("collector_a2")
    assert "生育男孩0个" not in other.get("/quality/mine").get_data(as_text=True)


def test_explanation_forms(client, new_client, people, bad):
    fid = bad.finding.id
    client.login("collector_a")
    page = client.get(f"/quality/findings/{fid}").get_data(as_text=True)
    assert 'data-testid="explain-form"' in page and 'data-testid="decide-form"' not in page
    resp = client.post_form(f"/quality/findings/{fid}/explain", {"explanation": "  "})
    assert resp.status_code == 302
    assert db.session.get(QualityFinding, fid).explanation_state is None
    client.post_form(f"/quality/findings/{fid}/explain", {"explanation": "儿子随外婆生活，户口在本户"})
    assert db.session.get(QualityFinding, fid).explanation_state == "proposed"
    # The collector may not decide; the verifier may.
    assert client.post_form(f"/quality/findings/{fid}/decide", {"decision": "accept"}).status_code == 403
    verifier = new_client()
    verifier.login("verifier_t1")
    waiting = verifier.get("/quality/explanations").get_data(as_text=True)
    assert f"/quality/findings/{fid}" in waiting
    page = verifier.get(f"/quality/findings/{fid}").get_data(as_text=True)
    assert "儿子随外婆生活" in page and 'data-testid="decide-form"' in page
    verifier.post_form(f"/quality/findings/{fid}/decide", {"decision": "refuse", "reason": ""})
    assert db.session.get(QualityFinding, fid).explanation_state == "proposed"  # no reason: nothing changed
    verifier.post_form(f"/quality/findings/{fid}/decide", {"decision": "refuse", "reason": "请附证明"})
    f = db.session.get(QualityFinding, fid)
    assert (f.explanation_state, f.explanation_reason) == ("refused", "请附证明")
    assert "请附证明" in client.get(f"/quality/findings/{fid}").get_data(as_text=True)
    client.post_form(f"/quality/findings/{fid}/explain", {"explanation": "附：外婆家住址证明"})
    verifier.post_form(f"/quality/findings/{fid}/decide", {"decision": "accept"})
    assert db.session.get(QualityFinding, fid).explanation_state == "accepted"
    assert verifier.post_form(f"/quality/findings/{fid}/decide", {"decision": "maybe"}).status_code == 302
    assert client.get("/quality/findings/2147483000").status_code == 404
    outsider = new_client()
    outsider.login("collector_b")
    assert outsider.get(f"/quality/findings/{fid}").status_code == 404


def test_a_run_asked_from_the_page(client, units, people, bad):
    client.login("county")
    page = client.get("/quality/").get_data(as_text=True)
    assert 'data-testid="quality-run-form"' in page
    resp = client.post_form("/quality/runs", {"unit_id": str(units["T1"].id)})
    assert resp.status_code == 302
    run_id = int(re.search(r"/quality/runs/(\d+)$", resp.headers["Location"]).group(1))
    r = db.session.get(QualityRun, run_id)
    assert r.state == "done" and r.households_done == 2 and r.findings_open >= 1  # the job ran at once (tests)
    page = client.get(f"/quality/runs/{run_id}").get_data(as_text=True)
    assert 'data-testid="run-open"' in page and "data-status-url" not in page
    status = client.get(f"/quality/runs/{run_id}/status").get_json()
    assert status["state"] == "done" and status["done"] == 2 and status["busy"] is False
    assert client.post_form("/quality/runs", {"unit_id": "abc"}).status_code == 302  # all of the area
    collector = client
    collector.logout()
    collector.login("collector_a")
    resp = collector.post_form("/quality/runs", {"unit_id": str(units["A"].id)})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/quality/")
    assert db.session.scalar(select(QualityRun.id).order_by(QualityRun.id.desc()).limit(1)) == run_id + 1


def test_a_finding_page_is_in_the_access_log(client, people, bad):
    from app import access_log
    from app.models import AccessEntry

    client.login("leader_a")
    assert client.get(f"/quality/findings/{bad.finding.id}").status_code == 200
    db.session.commit()
    access_log.current().flush()
    entries = list(db.session.scalars(select(AccessEntry).where(AccessEntry.endpoint == "quality.finding")))
    assert len(entries) == 1
    e = entries[0]
    assert (e.object_type, e.object_id, e.actor_id) == ("quality_finding", str(bad.finding.id), people.leader.id)


def test_the_household_page_shows_what_the_checks_found(client, people, bad):
    client.login("collector_a")
    page = client.get(f"/collect/households/{bad.household.id}").get_data(as_text=True)
    assert 'data-testid="quality-findings"' in page and "质量核查发现的问题" in page
    assert f"/quality/findings/{bad.finding.id}" in page and "生育男孩0个" in page
    clean = client.get(f"/collect/households/{bad.ok.id}").get_data(as_text=True)
    assert 'data-testid="quality-findings"' not in clean


def test_the_work_list_excel_holds_typed_text_never_a_formula(client, people, bad):
    """An explanation someone typed (and names, messages) is text in the Excel, never a formula."""
    bad.finding.explanation = "=HYPERLINK(\"http://x\",\"点击\")"
    db.session.commit()
    client.login("leader_a")
    resp = client.get(f"/quality/villages/{bad.household.village_id}.xlsx")
    assert resp.status_code == 200
    sheet = load_workbook(io.BytesIO(resp.data)).worksheets[0]
    cells = [cell for row in sheet.iter_rows() for cell in row]
    typed = [c for c in cells if c.value == bad.finding.explanation]
    assert typed and all(c.data_type == "s" for c in typed)
    assert not any(c.data_type == "f" for c in cells)
