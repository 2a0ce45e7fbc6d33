"""Property-based tests of the sync API from the OpenAPI document it serves (schemathesis):
valid and invalid requests for every operation, with a device token, on both databases.
No input may make the server fail (500), and every error answer is from the catalogue."""
from __future__ import annotations

import re

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from app.api.errors import CATALOGUE
from app.domain import devices
from app.extensions import db

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
    for operation in operations:
        fixed = {"device_id": spare_id} if "{device_id}" in operation.path else None
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(mode, path_parameters=fixed))
            def check(case):
                response = case.call(headers=headers)
                assert response.status_code < 500, (case.as_curl_command(), response.text)
                if response.status_code >= 400:
                    body = response.json()
                    assert re.fullmatch(r"E\d{4}", body["code"]) and body["code"] in CATALOGUE, body
                    assert body["message"]
                    assert CATALOGUE[body["code"]].status == response.status_code, body

            check()
