"""Property-based tests of the sync API from the OpenAPI document it serves (schemathesis):
valid and invalid requests for every operation, with a device token, on both databases.
No input may make the server fail (500), and every error answer is from the catalogue.

schemathesis' own bodies never hold what failed the server in issue 15 (hypothesis' text
leaves out surrogates; its nesting follows the schema), so a second test takes the bodies it
makes for each operation with a JSON body and puts those in at a place hypothesis chooses: a
lone surrogate in a string or a key, or a value nested 33, 1,000 or 100,000 deep."""
from __future__ import annotations

import json
import re

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from sqlalchemy import func, select

from app.api.errors import CATALOGUE
from app.domain import devices
from app.extensions import db
from app.models import AuditEntry, DeviceToken, Household, HouseholdVersion, SyncReceipt

EXAMPLES = 25  # per operation and mode: the whole file stays well under a minute


def test_no_input_makes_the_server_fail(app, units, make_user):
    collector = make_user("collector", units["A"], username="collector_a")
    _device, token = devices.issue(collector, "fuzz phone")
    spare, _other = devices.issue(collector, "spare phone")  # the one the revoke operation may revoke
    db.session.commit()
    spare_id = spare.id
    db.session.remove()
    headers = {"Authorization": f"Bearer {token}"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, headers=headers)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 6
    figures = {"requests": 0, "5xx": 0}
    for operation in operations:
        fixed = {"device_id": spare_id} if "{device_id}" in operation.path else None
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(mode, path_parameters=fixed))
            def check(case):
                response = case.call(headers=headers)
                figures["requests"] += 1
                figures["5xx"] += response.status_code >= 500
                assert response.status_code < 500, (case.as_curl_command(), response.text)
                if response.status_code >= 400:
                    body = response.json()
                    assert re.fullmatch(r"E\d{4}", body["code"]) and body["code"] in CATALOGUE, body
                    assert body["message"]
                    assert CATALOGUE[body["code"]].status == response.status_code, body

            check()
    print(f"\nschemathesis: {figures['requests']} requests, {figures['5xx']} 5xx")


BODY_EXAMPLES = 30  # per operation with a JSON body
DEEP = "__deep__"  # a placeholder string, replaced by the nesting in the JSON text


def _leaves(value, path: str = "") -> list[tuple[str, object]]:
    """(path, value) of every value in the body, containers included, in the API's notation."""
    found = [(path, value)]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _leaves(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _leaves(item, f"{path}[{index}]")
    return found


def _replace(body, path: str, new):
    """The body with the value at `path` replaced (paths as _leaves makes them)."""
    if path == "":
        return new
    tokens = re.findall(r"\[(\d+)\]|\.?([^.\[]+)", path)
    target = body
    for index, key in tokens[:-1]:
        target = target[int(index)] if index else target[key]
    index, key = tokens[-1]
    if index:
        target[int(index)] = new
    else:
        target[key] = new
    return body


def _stored() -> tuple[int, ...]:
    db.session.expire_all()
    return tuple(db.session.scalar(select(func.count()).select_from(m))
                 for m in (Household, HouseholdVersion, SyncReceipt, DeviceToken, AuditEntry))


def test_lone_surrogates_and_deep_nesting_anywhere_in_a_body_are_e2001(app, units, make_user):
    collector = make_user("collector", units["A"], username="collector_a")
    _device, token = devices.issue(collector, "fuzz phone")
    db.session.commit()
    db.session.remove()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, headers=headers)
    operations = [op for op in (r.ok() for r in schema.get_all_operations()) if op.method.upper() == "POST"
                  and op.body]
    assert {op.path for op in operations} == {"/api/v1/submissions", "/api/v1/devices"}
    client = app.test_client()
    figures = {"requests": 0, "5xx": 0}
    for operation in operations:
        @settings(max_examples=BODY_EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(GenerationMode.POSITIVE), data=st.data())
        def check(case, data):
            body = json.loads(json.dumps(case.body))
            path, value = data.draw(st.sampled_from(_leaves(body)), label="where")
            how = data.draw(st.sampled_from(["surrogate", "surrogate key", 33, 1000, 100_000]), label="how")
            surrogate = chr(data.draw(st.integers(0xD800, 0xDFFF), label="surrogate"))
            if how == "surrogate":
                text = value if isinstance(value, str) else ""
                cut = data.draw(st.integers(0, len(text)), label="at")
                body = _replace(body, path, text[:cut] + surrogate + text[cut:])
            elif how == "surrogate key":
                body = _replace(body, path, {f"k{surrogate}": value})
            else:
                body = _replace(body, path, DEEP)
            raw = json.dumps(body)  # ensure_ascii: the surrogate travels as a \\udXXX escape
            if how not in ("surrogate", "surrogate key"):
                raw = raw.replace(json.dumps(DEEP), "[" * how + "]" * how, 1)
            before = _stored()
            with app.app_context():
                response = client.post(operation.path, data=raw, headers=headers)
            figures["requests"] += 1
            figures["5xx"] += response.status_code >= 500
            assert response.status_code == 422, (how, path, response.get_data(as_text=True)[:300])
            answer = response.get_json()
            assert answer["code"] == "E2001" and answer["message"], answer
            if how in ("surrogate", "surrogate key"):
                reported = answer["errors"][0]["path"]
                plain = path[len("data."):] if path.startswith("data.") else path
                assert plain.startswith(reported), (path, answer)
            assert _stored() == before

        check()
    print(f"\napi bodies: {figures['requests']} requests, {figures['5xx']} 5xx")
