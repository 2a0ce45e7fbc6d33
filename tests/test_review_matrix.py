"""The refusal matrix over HTTP: every state x action x role x in/out of scope, generated
from the transition table. A refused request answers 403, 404 or 409 with the message and
changes nothing; an allowed one is offered as a button on the page (the chain tests walk
the allowed ones). The same user repeating the step that brought the household here is
answered as done (302) and changes nothing either."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from app.domain import workflow
from app.domain.errors import Conflict, Forbidden, NotFound
from app.domain.units import get_or_create_unit
from app.extensions import db
from app.models import HouseholdState, Role, UnitLevel, WorkflowAction
from tests.test_workflow import (IN_SCOPE, OUT_OF_SCOPE, REPEAT, SIGN, _household, _snapshot, _to_state,
                                 expected_refusal)

# A repeat of one's own last step (a double tap) is a success that changes nothing: a redirect.
STATUS = {NotFound: 404, Forbidden: 403, Conflict: 409, REPEAT: 302}


def _post(client, h, action: WorkflowAction):
    form = {"version_number": h.current_number, "strokes": json.dumps(SIGN)}
    if action == WorkflowAction.submit:
        return client.post_form(f"/collect/households/{h.id}/submit", form)
    form |= {"action": action.value, "reason_codes": "other", "reason_text": "x"}
    return client.post_form(f"/review/households/{h.id}/act", form)


@pytest.mark.parametrize("state", list(HouseholdState))
def test_refusal_matrix_over_http(app, units, make_user, new_client, state):
    other_county = get_or_create_unit("110102000000", "西城区", UnitLevel.county, units["city"])
    db.session.commit()
    places = {**units, "other county": other_county}
    users = {(role, True): make_user(role.value, places[IN_SCOPE[role]]) for role in Role}
    users |= {(role, False): make_user(role.value, places[OUT_OF_SCOPE[role]]) for role in Role}
    chain = SimpleNamespace(collector=users[Role.collector, True], leader=users[Role.village_leader, True],
                            verifier=users[Role.verifier, True])
    h = _to_state(chain, _household(chain.collector, units["A"]), state)
    clients = {}
    for key, user in users.items():
        clients[key] = new_client()
        clients[key].login(user.username)
    wrong, refused = [], 0
    for action in WorkflowAction:
        for (role, in_scope), user in users.items():
            want = expected_refusal(state, action, role, in_scope)
            if want is None:
                continue
            before = _snapshot(h)
            resp = _post(clients[role, in_scope], h, action)
            if resp.status_code != STATUS[want]:
                wrong.append((action.value, role.value, in_scope, resp.status_code, STATUS[want]))
            if _snapshot(h) != before:
                wrong.append((action.value, role.value, in_scope, "changed something"))
            refused += 1
    assert wrong == []
    assert refused == sum(1 for a in WorkflowAction for r in Role for s in (True, False)
                          if expected_refusal(state, a, r, s) is not None)


def test_a_refusal_is_explained_in_chinese(app, units, make_user, new_client):
    chain = SimpleNamespace(collector=make_user("collector", units["A"]),
                            leader=make_user("village_leader", units["A"], name="村干部乙"),
                            verifier=make_user("verifier", units["T1"]))
    h = _to_state(chain, _household(chain.collector, units["A"]), HouseholdState.confirmed)
    other_leader = make_user("village_leader", units["A"], username="second_leader")
    c = new_client()
    c.login(other_leader.username)
    resp = _post(c, h, WorkflowAction.confirm)
    assert resp.status_code == 409
    page = resp.get_data(as_text=True)
    assert "已由 村干部乙 于" in page and "确认" in page
    assert workflow.TRANSITIONS  # the table the matrix above is generated from
