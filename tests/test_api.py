"""The sync API over HTTP on both databases: every answer of docs/SYNC-API.md, retries that
are safe even twenty at once, conflicts kept for the leader, refusals that store nothing,
device tokens that stop working the moment they are revoked."""
from __future__ import annotations

import copy
import re
import threading
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from app.api.errors import CATALOGUE
from app.domain import devices, sync, workflow
from app.extensions import db
from app.models import (AuditEntry, DeviceToken, Household, HouseholdConflict, HouseholdVersion, Signature,
                        SyncReceipt, WorkflowEvent)
from tests.support.households import family

SIGN = [[[100, 100], [400, 130], [700, 100]], [[250, 60], [260, 200], [240, 330]]]


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def stored() -> tuple:
    """Everything a submission may write."""
    db.session.expire_all()
    return tuple(count(m) for m in (Household, HouseholdVersion, WorkflowEvent, Signature, SyncReceipt,
                                    HouseholdConflict, AuditEntry))


def token_for(user) -> str:
    _device, token = devices.issue(user, "测试手机")
    db.session.commit()
    return token


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def phone(units, make_user, client):
    """A collector of village A with a device token, and the village's leader."""
    collector = make_user("collector", units["A"], username="collector_a", name="采集员甲")
    leader = make_user("village_leader", units["A"], username="leader_a", name="村干部乙")
    token = token_for(collector)

    def call(method: str, url: str, json=None, token_=None, **kw):
        return client.open(url, method=method, json=json, headers=bearer(token_ or token), **kw)

    return SimpleNamespace(collector=collector, leader=leader, token=token, call=call, client=client)


def submission(unit_id: int | None, *, base: int = 0, household_id=None, data=None, **extra) -> dict:
    return {"submission_id": str(uuid.uuid4()), "household_id": str(household_id or uuid.uuid4()),
            "unit_id": unit_id, "base_version": base, "data": data or family(), "signature": SIGN, **extra}


def create(phone, units, **kw) -> dict:
    body = submission(units["A"].id, **kw)
    resp = phone.call("POST", "/api/v1/submissions", body)
    assert resp.status_code == 201, resp.get_json()
    return body


# ------------------------------------------------------------------ created


def test_a_new_household_is_saved_and_submitted_with_the_signature(phone, units):
    body = submission(units["A"].id)
    resp = phone.call("POST", "/api/v1/submissions", body)
    assert resp.status_code == 201
    answer = resp.get_json()
    assert answer == {"status": "created", "household_id": body["household_id"], "version": 1,
                      "state": "submitted", "card_no": "0001"}
    h = db.session.get(Household, uuid.UUID(body["household_id"]))
    assert h.state == "submitted" and h.current_number == 1 and h.village_id == units["A"].id
    assert str(h.current_version.submission_id) == body["submission_id"]
    sig = db.session.scalar(select(Signature))
    assert sig.signer_id == phone.collector.id and sig.content_hash == h.current_version.content_hash
    actions = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions[-2:] == ["household.create", "household.submit"]


def test_an_edit_on_the_current_version_makes_the_next_version(phone, units):
    first = create(phone, units)
    data = copy.deepcopy(first["data"])
    data["household"]["door_no"] = "18号"
    body = submission(units["A"].id, base=1, household_id=first["household_id"], data=data)
    resp = phone.call("POST", "/api/v1/submissions", body)
    assert resp.status_code == 201
    assert resp.get_json()["version"] == 2 and resp.get_json()["state"] == "submitted"
    assert db.session.get(Household, uuid.UUID(first["household_id"])).door_no == "18号"


# ------------------------------------------------------------------ retries


def test_a_retry_gets_the_first_answer_and_stores_nothing(phone, units):
    body = submission(units["A"].id)
    first = phone.call("POST", "/api/v1/submissions", body)
    before = stored()
    again = phone.call("POST", "/api/v1/submissions", body)
    assert (again.status_code, again.get_json()) == (first.status_code, first.get_json())
    assert stored() == before


def test_twenty_identical_submissions_at_once_make_one_version(phone, units, app):
    body = submission(units["A"].id)
    db.session.commit()
    answers: list = []
    start = threading.Barrier(20)

    def send():
        c = app.test_client()
        start.wait()
        resp = c.post("/api/v1/submissions", json=body, headers=bearer(phone.token))
        answers.append((resp.status_code, resp.get_json()))

    threads = [threading.Thread(target=send) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == 20
    assert all(a == answers[0] for a in answers), answers
    assert answers[0][0] == 201 and answers[0][1]["version"] == 1
    db.session.expire_all()
    assert count(HouseholdVersion) == 1 and count(Household) == 1
    assert count(WorkflowEvent) == 1 and count(SyncReceipt) == 1


def test_the_same_submission_id_with_another_body_is_refused(phone, units):
    body = create(phone, units)
    before = stored()
    other = {**body, "data": family(surname="王")}
    resp = phone.call("POST", "/api/v1/submissions", other)
    assert resp.status_code == 409
    assert resp.get_json()["code"] == "E2002" and resp.get_json()["message"]
    assert stored() == before
    h = db.session.get(Household, uuid.UUID(body["household_id"]))
    assert h.head_name == "张建国"


# ------------------------------------------------------------------ conflicts


def test_a_stale_base_is_kept_as_a_conflict_for_the_leader(phone, units, new_client):
    first = create(phone, units)
    hid = first["household_id"]
    newer = copy.deepcopy(first["data"])
    newer["household"]["door_no"] = "2号"
    assert phone.call("POST", "/api/v1/submissions",
                      submission(units["A"].id, base=1, household_id=hid, data=newer)).status_code == 201
    stale_data = copy.deepcopy(first["data"])
    stale_data["household"]["door_no"] = "3号"
    stale = submission(units["A"].id, base=1, household_id=hid, data=stale_data)
    resp = phone.call("POST", "/api/v1/submissions", stale)
    assert resp.status_code == 202
    answer = resp.get_json()
    assert answer["status"] == "conflict" and answer["server_version"] == 2 and answer["household_id"] == hid
    conflict = db.session.get(HouseholdConflict, answer["conflict_id"])
    assert conflict.state == "open" and conflict.base_number == 1 and conflict.server_number == 2
    assert conflict.data["household"]["door_no"] == "3号" and conflict.strokes_svg.startswith("<svg")
    h = db.session.get(Household, uuid.UUID(hid))
    assert h.current_number == 2 and h.door_no == "2号", "never applied silently"
    # The retry of the conflicting submission: the same answer, one conflict.
    again = phone.call("POST", "/api/v1/submissions", stale)
    assert (again.status_code, again.get_json()) == (202, answer)
    assert count(HouseholdConflict) == 1
    # Listed for the village leader.
    assert [c.id for c in sync.open_conflicts(phone.leader)] == [conflict.id]
    lc = new_client()
    lc.login("leader_a")
    page = lc.get("/conflicts").get_data(as_text=True)
    assert f"/conflicts/{conflict.id}" in page


def test_a_base_newer_than_the_server_is_refused(phone, units):
    first = create(phone, units)
    before = stored()
    resp = phone.call("POST", "/api/v1/submissions",
                      submission(units["A"].id, base=5, household_id=first["household_id"]))
    assert resp.status_code == 409 and resp.get_json()["code"] == "E2005"
    assert stored() == before


# ------------------------------------------------------------------ refusals


def test_an_invalid_form_is_422_per_member_and_stores_nothing(phone, units):
    data = family()
    data["members"][1]["id_number"] = "110101197205020001"  # wrong check digit
    data["members"][2]["name"] = ""
    before = stored()
    resp = phone.call("POST", "/api/v1/submissions", submission(units["A"].id, data=data))
    assert resp.status_code == 422
    body = resp.get_json()
    assert body["code"] == "E2001"
    by_path = {e["path"]: e for e in body["errors"]}
    assert by_path["members[1].id_number"]["member"] == 1
    assert by_path["members[1].id_number"]["field"] == "id_number"
    assert by_path["members[2].name"]["member"] == 2
    assert "第3位成员" in by_path["members[2].name"]["message"], "in the user's language (Chinese)"
    assert stored() == before


def test_a_malformed_request_is_422_with_the_fields(phone, units):
    body = submission(units["A"].id)
    del body["base_version"]
    body["household_id"] = "not-a-uuid"
    resp = phone.call("POST", "/api/v1/submissions", body)
    assert resp.status_code == 422 and resp.get_json()["code"] == "E2001"
    assert {e["field"] for e in resp.get_json()["errors"]} >= {"base_version", "household_id"}


@pytest.mark.parametrize("signature", [[], [[[1, 1], [2, 2]]], "x", [["a"]]])
def test_a_missing_or_unreadable_signature_is_e2004(phone, units, signature):
    before = stored()
    resp = phone.call("POST", "/api/v1/submissions", submission(units["A"].id, signature=signature))
    assert resp.status_code == 422 and resp.get_json()["code"] == "E2004"
    assert resp.get_json()["errors"][0]["field"] == "signature"
    assert stored() == before


def test_another_villages_household_does_not_exist(phone, units, make_user):
    first = create(phone, units)
    outsider = make_user("collector", units["C"], username="collector_c")
    token = token_for(outsider)
    before = stored()
    resp = phone.call("POST", "/api/v1/submissions",
                      submission(units["C"].id, base=1, household_id=first["household_id"]), token_=token)
    assert resp.status_code == 404 and resp.get_json()["code"] == "E1003"
    resp = phone.call("POST", "/api/v1/submissions", submission(units["A"].id), token_=token)
    assert resp.status_code == 404 and resp.get_json()["code"] == "E1003"
    assert stored() == before
    listing = phone.call("GET", "/api/v1/assignments", token_=token).get_json()
    assert listing["households"] == [] and [u["code"] for u in listing["units"]] == [units["C"].code]


def test_an_existing_household_named_with_another_unit_is_e2003(phone, units):
    first = create(phone, units)
    resp = phone.call("POST", "/api/v1/submissions",
                      submission(units["B"].id, base=1, household_id=first["household_id"]))
    assert resp.status_code == 409 and resp.get_json()["code"] == "E2003"


# ------------------------------------------------------------------ authentication


def test_without_login_or_with_a_revoked_token_it_is_401(phone, units, new_client):
    anonymous = new_client()
    resp = anonymous.get("/api/v1/assignments")
    assert resp.status_code == 401 and resp.get_json()["code"] == "E1001"
    assert phone.call("GET", "/api/v1/assignments").status_code == 200
    device = db.session.scalar(select(DeviceToken))
    devices.revoke(phone.collector, device.id)
    db.session.commit()
    before = stored()
    for method, url, body in [("GET", "/api/v1/assignments", None),
                              ("POST", "/api/v1/submissions", submission(units["A"].id))]:
        resp = phone.call(method, url, body)
        assert resp.status_code == 401 and resp.get_json()["code"] == "E1001", url
    assert stored() == before
    resp = phone.call("GET", "/api/v1/assignments", token_="dst_" + "x" * 43)
    assert resp.status_code == 401 and resp.get_json()["code"] == "E1001"


def test_a_revoked_token_is_refused_even_beside_a_valid_session(phone):
    phone.client.login("collector_a")
    devices.revoke(phone.collector, db.session.scalar(select(DeviceToken.id)))
    db.session.commit()
    resp = phone.call("GET", "/api/v1/assignments")
    assert resp.status_code == 401 and resp.get_json()["code"] == "E1001"


def test_a_deactivated_users_token_stops_working(phone):
    phone.collector.active = False
    db.session.commit()
    assert phone.call("GET", "/api/v1/form").status_code == 401


def test_a_deactivated_users_tokens_stay_revoked_after_reactivation(phone, units, make_user, new_client):
    """Deactivation revokes the tokens for good: a phone lost before it must not sync again
    once the user is let back in (issue 15, item 10); the user issues a new token."""
    make_user("county_admin", units["county"], username="admin")
    admin = new_client()
    admin.login("admin")
    assert phone.call("GET", "/api/v1/assignments").status_code == 200
    assert admin.post_form(f"/admin/users/{phone.collector.id}/deactivate").status_code == 302
    assert phone.call("GET", "/api/v1/assignments").status_code == 401
    assert admin.post_form(f"/admin/users/{phone.collector.id}/reactivate").status_code == 302
    resp = phone.call("GET", "/api/v1/assignments")
    assert resp.status_code == 401 and resp.get_json()["code"] == "E1001"
    db.session.expire_all()
    device = db.session.scalar(select(DeviceToken).where(DeviceToken.user_id == phone.collector.id))
    assert device.revoked_at is not None and device.revoked_by.username == "admin"
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "user.deactivate")).one()
    assert entry.details["devices_revoked"] == 1
    assert phone.call("GET", "/api/v1/assignments", token_=token_for(phone.collector)).status_code == 200


def test_session_posts_need_the_csrf_header(phone, units, new_client):
    c = new_client()
    c.login("collector_a")
    body = submission(units["A"].id)
    before = stored()
    resp = c.post("/api/v1/submissions", json=body)
    assert resp.status_code == 400 and resp.get_json()["code"] == "E1004"
    assert stored() == before
    page = c.get("/").get_data(as_text=True)
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
    resp = c.post("/api/v1/submissions", json=body, headers={"X-CSRFToken": token})
    assert resp.status_code == 201


def test_device_tokens_issue_list_revoke(phone, units, make_user, new_client):
    c = new_client()
    c.login("collector_a")
    csrf = {"X-CSRFToken": c.csrf_token()}
    resp = c.post("/api/v1/devices", json={"name": "红米手机"}, headers=csrf)
    assert resp.status_code == 201
    issued = resp.get_json()
    assert issued["token"].startswith("dst_") and issued["active"]
    row = db.session.get(DeviceToken, issued["id"])
    assert issued["token"] not in (row.token_hash, row.name), "only the hash is kept"
    # A token cannot issue tokens (a stolen phone cannot mint more).
    resp = phone.call("POST", "/api/v1/devices", {"name": "another"})
    assert resp.status_code == 403 and resp.get_json()["code"] == "E1002"
    # The new token works and is listed with the first; last use is noted.
    assert phone.call("GET", "/api/v1/form", token_=issued["token"]).status_code == 200
    assert db.session.get(DeviceToken, issued["id"]).last_used_at is not None
    names = {d["name"] for d in phone.call("GET", "/api/v1/devices").get_json()}
    assert names == {"测试手机", "红米手机"}
    # Another collector neither sees nor revokes them; the county's admin does.
    other = make_user("collector", units["A"], username="collector_a2")
    resp = phone.call("POST", f"/api/v1/devices/{issued['id']}/revoke", token_=token_for(other))
    assert resp.status_code == 404 and resp.get_json()["code"] == "E1003"
    admin = make_user("county_admin", units["county"], username="admin_county")
    ac = new_client()
    ac.login("admin_county")
    listed = ac.get("/api/v1/devices").get_json()
    assert {d["user"]["username"] for d in listed} == {"collector_a", "collector_a2"}
    resp = ac.post(f"/api/v1/devices/{issued['id']}/revoke", headers={"X-CSRFToken": ac.csrf_token()})
    assert resp.status_code == 200 and resp.get_json()["active"] is False
    assert db.session.get(DeviceToken, issued["id"]).revoked_by_id == admin.id
    assert phone.call("GET", "/api/v1/form", token_=issued["token"]).status_code == 401


# ------------------------------------------------------------------ downloads


def test_the_cursor_catches_new_versions_and_state_changes(phone, units):
    first = create(phone, units)
    full = phone.call("GET", "/api/v1/assignments").get_json()
    assert [h["id"] for h in full["households"]] == [first["household_id"]]
    h0 = full["households"][0]
    assert h0["version"] == 1 and h0["state"] == "submitted" and h0["card_no"] == "0001"
    assert h0["data"]["members"][0]["name"] == "张建国" and h0["member_count"] == 4
    assert full["form_version"] and full["code_tables_version"]
    assert {u["code"] for u in full["units"]} == {units["A"].code, units["A1"].code, units["A2"].code}
    cursor = full["cursor"]
    assert phone.call("GET", f"/api/v1/assignments?cursor={cursor}").get_json()["households"] == []
    # The leader returns it: a state change, no new version.
    workflow.return_household(phone.leader, uuid.UUID(first["household_id"]), version_number=1,
                              reason_codes=["other"], reason_text="门牌号不对")
    db.session.commit()
    changed = phone.call("GET", f"/api/v1/assignments?cursor={cursor}").get_json()
    assert [(h["id"], h["state"]) for h in changed["households"]] == [(first["household_id"], "returned")]
    assert "门牌号不对" in changed["households"][0]["return_reason"]
    assert changed["cursor"] != cursor
    assert phone.call("GET", f"/api/v1/assignments?cursor={changed['cursor']}").get_json()["households"] == []
    # A new household by someone else in the village comes too.
    second = create(phone, units)
    latest = phone.call("GET", f"/api/v1/assignments?cursor={changed['cursor']}").get_json()
    assert [h["id"] for h in latest["households"]] == [second["household_id"]]


def test_a_foreign_cursor_is_e2006(phone):
    resp = phone.call("GET", "/api/v1/assignments?cursor=yesterday")
    assert resp.status_code == 422 and resp.get_json()["code"] == "E2006"


def test_the_form_and_its_etag(phone):
    resp = phone.call("GET", "/api/v1/form")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["definition"]["sections"] and body["version"] == sync.form_version()
    assert {"1", "2"} <= {item["code"] for item in body["code_tables"]["sex"]}
    again = phone.client.get("/api/v1/form", headers={**bearer(phone.token), "If-None-Match": resp.headers["ETag"]})
    assert again.status_code == 304


def test_the_openapi_document_is_served(phone):
    spec = phone.call("GET", "/api/v1/openapi.json").get_json()
    assert {"/api/v1/assignments", "/api/v1/form", "/api/v1/submissions", "/api/v1/devices",
            "/api/v1/devices/{device_id}/revoke"} <= set(spec["paths"])


def test_the_catalogue_is_documented():
    doc = (Path(__file__).resolve().parent.parent / "docs" / "SYNC-API.md").read_text(encoding="utf-8")
    for code, entry in CATALOGUE.items():
        assert re.search(rf"\|\s*{code}\s*\|\s*{entry.status}\s*\|", doc), f"{code} missing in docs/SYNC-API.md"


def test_the_devices_page_issues_once_and_revokes(phone, units, make_user, new_client):
    c = new_client()
    c.login("collector_a")
    resp = c.post_form("/devices", {"name": "旧手机"})
    assert resp.status_code == 201 and resp.headers["Cache-Control"] == "no-store"
    token = re.search(r'data-testid="token"[^>]*>([^<]+)<', resp.get_data(as_text=True)).group(1)
    assert phone.call("GET", "/api/v1/form", token_=token).status_code == 200
    assert "dst_" not in c.get("/devices").get_data(as_text=True), "the token is shown only once"
    device = db.session.scalar(select(DeviceToken).where(DeviceToken.name == "旧手机"))
    assert c.post_form(f"/devices/{device.id}/revoke").status_code == 302
    assert phone.call("GET", "/api/v1/form", token_=token).status_code == 401
    assert c.post_form("/devices", {"name": ""}).status_code == 422
    # The admin reaches a user's devices from the user page.
    make_user("county_admin", units["county"], username="admin_county")
    ac = new_client()
    ac.login("admin_county")
    page = ac.get(f"/admin/users/{phone.collector.id}").get_data(as_text=True)
    assert f"/devices?user_id={phone.collector.id}" in page
    listed = ac.get(f"/devices?user_id={phone.collector.id}").get_data(as_text=True)
    assert "旧手机" in listed and "测试手机" in listed
