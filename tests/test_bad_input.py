"""Input that made the server fail (issue 15, item 1), on both databases: each is a clear 4xx
now, in the user's language on the web and from the error catalogue on the API, and nothing
is stored. tests/test_fuzz_routes.py and tests/test_api_schema.py look for more of the kind."""
from __future__ import annotations

import copy
import json
import uuid

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEntry, Household, HouseholdVersion, Person, SyncReceipt
from tests.support.households import family

HUGE = 2**64  # 18446744073709551616
SIGN = [[[100, 100], [400, 130], [700, 100]], [[250, 60], [260, 200], [240, 330]]]
NOT_FOUND_ZH = "此页面不存在，或您无权查看。"


def stored() -> tuple[int, ...]:
    db.session.expire_all()
    return tuple(db.session.scalar(select(func.count()).select_from(m))
                 for m in (Household, HouseholdVersion, Person, SyncReceipt, AuditEntry))


@pytest.fixture
def staff(units, make_user):
    """One user of each role that reaches the routes below, all in village A's county."""
    return {
        "collector": make_user("collector", units["A"], username="collector_a"),
        "village_leader": make_user("village_leader", units["A"], username="leader_a"),
        "clerk": make_user("clerk", units["T1"], username="clerk_t1"),
        "county_admin": make_user("county_admin", units["county"], username="admin_c"),
        "sysadmin": make_user("sysadmin", units["province"], username="root"),
    }


PATH_URLS = [  # (method, url): the routes the probe found failing with a number past 64 bits
    ("GET", f"/units/{HUGE}"),
    ("GET", f"/print/jobs/{HUGE}"),
    ("GET", f"/print/jobs/1/files/{HUGE}"),
    ("GET", f"/print/villages/{HUGE}"),
    ("GET", f"/conflicts/{HUGE}"),
    ("GET", f"/admin/users/{HUGE}"),
    ("GET", f"/history/villages/{HUGE}/changes"),
    ("POST", f"/devices/{HUGE}/revoke"),
    ("POST", f"/collect/transfers/{HUGE}/decide"),
    ("POST", f"/conflicts/{HUGE}/resolve"),
    ("POST", f"/print/villages/{HUGE}/jobs"),
    ("POST", f"/admin/users/{HUGE}/deactivate"),
]


@pytest.mark.parametrize("number", [2**31, HUGE, 10**30])
def test_path_numbers_past_64_bits_are_a_404_page_in_chinese(client, staff, number):
    before = stored()
    for role in staff:
        client.login(staff[role].username)
        token = client.csrf_token()
        for method, url in PATH_URLS:
            url = url.replace(str(HUGE), str(number))
            resp = client.open(url, method=method, data={"csrf_token": token} if method == "POST" else None)
            assert resp.status_code == 404, f"{role}: {method} {url} answered {resp.status_code}"
            assert NOT_FOUND_ZH in resp.get_data(as_text=True), f"{role}: {method} {url}"
        client.logout()
    assert stored()[:-1] == before[:-1]  # only the logins' and logouts' audit rows


def test_the_largest_id_is_looked_up_and_not_found(client, staff):
    """2**31 - 1 is still an id PostgreSQL's INTEGER takes: the route matches, nothing is found."""
    client.login(staff["sysadmin"].username)
    token = client.csrf_token()
    for method, url in PATH_URLS:
        url = url.replace(str(HUGE), str(2**31 - 1))
        resp = client.open(url, method=method, data={"csrf_token": token} if method == "POST" else None)
        assert resp.status_code in (403, 404), f"{method} {url} answered {resp.status_code}"


def test_integer_query_parameters_past_64_bits_are_404(client, staff, units):
    a = units["A"].id
    urls = {
        "collector": [f"/collect/?unit_id={HUGE}", f"/collect/households/new?unit_id={HUGE}",
                      f"/collect/?unit_id={a}&page={HUGE}"],
        "village_leader": [f"/review/leader?village_id={HUGE}", f"/review/leader?collector_id={HUGE}"],
        "county_admin": [f"/devices?user_id={HUGE}", f"/admin/users/new?at={HUGE}",
                         f"/admin/users?page={HUGE}"],
    }
    for role, role_urls in urls.items():
        client.login(staff[role].username)
        for url in role_urls:
            resp = client.get(url)
            assert resp.status_code == 404, f"{role}: {url} answered {resp.status_code}"
            assert NOT_FOUND_ZH in resp.get_data(as_text=True)
        client.logout()
    client.login(staff["clerk"].username)
    before = stored()
    resp = client.post_form(f"/print/villages/{a}/jobs?book_no={HUGE}", {"kind": "book"})
    assert resp.status_code == 404
    assert stored() == before


def test_a_query_parameter_that_is_no_number_is_still_ignored(client, staff):
    client.login(staff["collector"].username)
    assert client.get("/collect/?unit_id=abc").status_code == 200


# ------------------------------------------------------------------ the sync API


@pytest.fixture
def phone(client, staff):
    from app.domain import devices

    _device, token = devices.issue(staff["collector"], "测试手机")
    db.session.commit()
    headers = {"Authorization": f"Bearer {token}"}

    def call(method: str, url: str, **kw):
        return client.open(url, method=method, headers={**headers, **kw.pop("headers", {})}, **kw)

    return call


def submission(unit_id: int, data: dict | None = None) -> dict:
    return {"submission_id": str(uuid.uuid4()), "household_id": str(uuid.uuid4()), "unit_id": unit_id,
            "base_version": 0, "data": data or family(), "signature": copy.deepcopy(SIGN)}


def assert_refused(resp, code: str, status: int) -> dict:
    assert resp.status_code == status, resp.get_data(as_text=True)[:500]
    body = resp.get_json()
    assert body["code"] == code and body["message"], body
    return body


def test_api_path_number_past_64_bits_is_e1003(phone):
    assert_refused(phone("POST", f"/api/v1/devices/{HUGE}/revoke"), "E1003", 404)


@pytest.mark.parametrize("cursor", ["a" + "9" * 19, "a" + str(2**63), "a²", "a١٢"])
def test_a_cursor_no_audit_entry_can_have_is_e2006(phone, cursor):
    body = assert_refused(phone("GET", "/api/v1/assignments", query_string={"cursor": cursor}), "E2006", 422)
    assert body["errors"][0]["field"] == "cursor"


def test_the_largest_cursor_is_still_read(phone):
    resp = phone("GET", "/api/v1/assignments", query_string={"cursor": "a" + str(2**63 - 1)})
    assert resp.status_code == 200 and resp.get_json()["households"] == []


def test_a_body_nested_100000_deep_is_refused_and_nothing_stored(phone):
    before = stored()
    deep = "[" * 100_000 + "]" * 100_000
    resp = phone("POST", "/api/v1/submissions", data=deep, headers={"Content-Type": "application/json"})
    body = assert_refused(resp, "E2001", 422)
    assert body["message"] == "请求的嵌套层次过深，无法读取。"
    assert stored() == before


def test_a_field_nested_deeper_than_any_form_is_refused_with_its_path(phone, units):
    before = stored()
    data = family()
    nested: object = "x"
    for _ in range(40):  # deeper than any form: refused before any other work
        nested = [nested]
    data["members"][1]["name"] = nested
    resp = phone("POST", "/api/v1/submissions", json=submission(units["A"].id, data))
    body = assert_refused(resp, "E2001", 422)
    item = body["errors"][0]
    assert (item["path"], item["field"], item["member"]) == ("members[1].name", "name", 1)
    assert stored() == before


@pytest.mark.parametrize("where", ["household", "member", "key", "top"])
def test_a_lone_surrogate_is_refused_naming_the_field(phone, units, where):
    before = stored()
    body = submission(units["A"].id)
    expected = {"household": ("household.door_no", "door_no", None),
                "member": ("members[2].name", "name", 2),
                "key": ("members[0]", "members", 0),
                "top": ("signature[1][0]", "signature[1][0]", None)}[where]
    if where == "household":
        body["data"]["household"]["door_no"] = "3号\ud800"
    elif where == "member":
        body["data"]["members"][2]["name"] = "张\udfff伟"
    elif where == "key":
        body["data"]["members"][0]["\ud83d"] = "x"
    else:
        body["signature"][1][0] = "\ud800"
    raw = json.dumps(body)  # ensure_ascii: the surrogate travels as the escape \ud800, valid JSON
    assert "\\ud8" in raw or "\\udf" in raw
    resp = phone("POST", "/api/v1/submissions", data=raw, headers={"Content-Type": "application/json"})
    answer = assert_refused(resp, "E2001", 422)
    item = answer["errors"][0]
    assert (item["path"], item["field"], item["member"]) == expected, item
    assert "无效字符" in item["message"]
    assert stored() == before


def test_a_member_id_that_is_no_uuid_is_a_validation_error_on_the_api(phone, units):
    before = stored()
    data = family()
    data["members"][1]["person_id"] = "not-a-uuid"
    resp = phone("POST", "/api/v1/submissions", json=submission(units["A"].id, data))
    body = assert_refused(resp, "E2001", 422)
    item = body["errors"][0]
    assert (item["path"], item["field"], item["member"]) == ("members[1].person_id", "person_id", 1)
    assert "人员编号" in item["message"]
    assert stored() == before


def test_two_members_with_one_id_are_a_validation_error_on_the_api(phone, units):
    before = stored()
    data = family()
    data["members"][3]["person_id"] = data["members"][2]["person_id"]
    resp = phone("POST", "/api/v1/submissions", json=submission(units["A"].id, data))
    body = assert_refused(resp, "E2001", 422)
    assert body["errors"][0]["path"] == "members[3].person_id"
    assert stored() == before


# ------------------------------------------------------------------ the web form


def form_fields(data: dict) -> dict[str, str]:
    out = {f"household-{k}": str(v) for k, v in data["household"].items()}
    for i, m in enumerate(data["members"]):
        out.update({f"members-{i}-{k}": str(v) for k, v in m.items()})
    return out


def test_a_member_id_that_is_no_uuid_is_a_form_error_on_the_web(client, staff, units):
    client.login(staff["collector"].username)
    before = stored()
    fields = form_fields(family())
    fields["members-1-person_id"] = "not-a-uuid"
    resp = client.post_form(f"/collect/households/new?unit_id={units['A'].id}",
                            {**fields, "submission_id": str(uuid.uuid4())})
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert 'data-testid="form-message"' in page
    assert "第2位成员" in page and "人员编号" in page and "表单在本系统之外被改动过" in page
    assert 'value="not-a-uuid"' not in page  # shown again with a fresh id, so a second save works
    assert stored()[:-1] == before[:-1]
    assert stored()[-1] == before[-1]


def test_a_signature_nested_100000_deep_is_a_form_error(client, staff, units):
    from app.domain import registration

    collector = staff["collector"]
    household = registration.new_household(collector, unit_id=units["A"].id, data=family()).household
    db.session.commit()
    client.login(collector.username)
    before = stored()
    resp = client.post_form(f"/collect/households/{household.id}/submit",
                            {"version_number": "1", "strokes": "[" * 100_000 + "]" * 100_000})
    assert resp.status_code == 422
    assert 'data-testid="error-message"' not in resp.get_data(as_text=True)
    assert stored() == before


def test_a_junk_card_code_with_a_nul_is_not_a_valid_card(client):
    """/c/a%00b: the scan's audit entry kept the NUL, which PostgreSQL's JSON refuses (a 500)."""
    before = stored()[-1]
    resp = client.get("/c/a%00b\u202e")
    assert resp.status_code in (200, 404)
    assert 'data-testid="card-invalid"' in resp.get_data(as_text=True)
    db.session.expire_all()
    entry = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    if stored()[-1] > before:  # audited (issue 15 item 2 may count junk scans instead)
        assert entry.details["code"] == "a\\u0000b\\u202e"
