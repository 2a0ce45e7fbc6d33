"""The village leader resolves sync conflicts over HTTP (both databases): keep the phone's
version, keep the server's, or merge field by field; refusals change nothing; all audited."""
from __future__ import annotations

import copy
import uuid
from html import unescape
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from app.domain import devices
from app.extensions import db
from app.models import AuditEntry, Household, HouseholdConflict, HouseholdVersion
from tests.support.households import family

SIGN = [[[100, 100], [400, 130], [700, 100]], [[250, 60], [260, 200], [240, 330]]]


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def snapshot(conflict_id: int) -> tuple:
    db.session.expire_all()
    c = db.session.get(HouseholdConflict, conflict_id)
    return (c.state, c.resolution, c.household.current_number, c.household.door_no, count(HouseholdVersion),
            count(AuditEntry))


@pytest.fixture
def conflict(units, make_user, client, new_client):
    """Household of village A: version 1 from the phone, version 2 (door 2号) from the phone,
    then a phone edit of version 1 (door 3号, a son renamed, a baby added) kept as a conflict."""
    collector = make_user("collector", units["A"], username="collector_a", name="采集员甲")
    make_user("village_leader", units["A"], username="leader_a", name="村干部乙")
    _device, token = devices.issue(collector, "手机")
    db.session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    data = family()
    hid = str(uuid.uuid4())

    def send(base: int, body: dict) -> dict:
        resp = client.post("/api/v1/submissions", headers=headers, json={
            "submission_id": str(uuid.uuid4()), "household_id": hid, "unit_id": units["A"].id,
            "base_version": base, "data": body, "signature": SIGN})
        assert resp.status_code in (201, 202), resp.get_json()
        return resp.get_json()

    send(0, data)
    server = copy.deepcopy(data)
    server["household"]["door_no"] = "2号"
    send(1, server)
    phone = copy.deepcopy(data)
    phone["household"]["door_no"] = "3号"
    phone["members"][2]["name"] = "张威"
    baby = {"person_id": str(uuid.uuid4()), "name": "张小宝", "relationship": "20", "birth_date": "2025-01-02",
            "sex": "1", "management": "resident", "status": "active"}
    phone["members"].append(baby)
    answer = send(1, phone)
    assert answer["status"] == "conflict"
    leader = new_client()
    leader.login("leader_a")
    return SimpleNamespace(id=answer["conflict_id"], hid=uuid.UUID(hid), leader=leader, baby=baby,
                           son=data["members"][2]["person_id"])


def resolve(c, conflict_id: int, how: str, **picks):
    return c.post_form(f"/conflicts/{conflict_id}/resolve", {"how": how, **picks})


def test_the_leader_sees_the_conflict_side_by_side(conflict):
    queue = unescape(conflict.leader.get("/review/leader").get_data(as_text=True))
    assert 'data-testid="conflicts-link"' in queue and "1" in queue
    page = unescape(conflict.leader.get(f"/conflicts/{conflict.id}").get_data(as_text=True))
    assert "门牌号" in page and "2号" in page and "3号" in page
    assert 'name="pick:household.door_no"' in page
    assert f'name="pick:members.{conflict.son}.name"' in page and "张威" in page
    assert f'name="pick:members.{conflict.baby["person_id"]}"' in page
    assert 'data-testid="keep-mine"' in page and 'data-testid="keep-theirs"' in page


def test_keep_theirs_closes_it_and_changes_nothing_else(conflict):
    h_before = snapshot(conflict.id)[2:5]
    resp = resolve(conflict.leader, conflict.id, "keep_theirs")
    assert resp.status_code == 302
    state, resolution, number, door, versions, _audit = snapshot(conflict.id)
    assert (state, resolution) == ("resolved", "keep_theirs")
    assert (number, door, versions) == h_before
    c = db.session.get(HouseholdConflict, conflict.id)
    assert c.result_version_id is None and c.resolved_by.username == "leader_a"
    entry = db.session.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1))
    assert entry.action == "household.conflict_resolve" and entry.details["resolution"] == "keep_theirs"
    assert 'data-testid="conflicts-link"' not in conflict.leader.get("/review/leader").get_data(as_text=True)


def test_keep_mine_makes_a_new_draft_version_by_the_leader(conflict):
    resp = resolve(conflict.leader, conflict.id, "keep_mine")
    assert resp.status_code == 302
    db.session.expire_all()
    h = db.session.get(Household, conflict.hid)
    c = db.session.get(HouseholdConflict, conflict.id)
    assert h.current_number == 3 and h.door_no == "3号" and h.state == "draft"
    assert h.current_version.created_by.username == "leader_a" and h.current_version.base_number == 2
    assert c.result_version_id == h.current_version_id and c.resolution == "keep_mine"
    assert [p.name for p in h.persons][-1] == "张小宝"
    actions = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id.desc()).limit(2)).all()
    assert actions == ["household.conflict_resolve", "household.edit"]


def test_merge_takes_the_picked_fields_from_the_phone(conflict):
    resp = resolve(conflict.leader, conflict.id, "merged", **{"pick:household.door_no": "mine",
                                                             f"pick:members.{conflict.son}.name": "theirs"})
    assert resp.status_code == 302
    db.session.expire_all()
    h = db.session.get(Household, conflict.hid)
    assert h.current_number == 3 and h.door_no == "3号"
    assert [p.name for p in h.persons] == ["张建国", "李秀英", "张伟", "张丽"], "the baby was not picked"
    assert db.session.get(HouseholdConflict, conflict.id).resolution == "merged"


def test_refusals_change_nothing(conflict, make_user, units, new_client):
    collector = new_client()
    collector.login("collector_a")
    make_user("village_leader", units["C"], username="leader_c")
    other = new_client()
    other.login("leader_c")
    before = snapshot(conflict.id)
    assert resolve(collector, conflict.id, "keep_mine").status_code == 403
    assert resolve(other, conflict.id, "keep_mine").status_code == 404
    assert other.get(f"/conflicts/{conflict.id}").status_code == 404
    assert resolve(conflict.leader, conflict.id, "overwrite").status_code == 422
    assert snapshot(conflict.id) == before
    assert resolve(conflict.leader, conflict.id, "keep_theirs").status_code == 302
    after = snapshot(conflict.id)
    resp = resolve(conflict.leader, conflict.id, "keep_mine")
    assert resp.status_code == 409 and "村干部乙" in resp.get_data(as_text=True)
    assert snapshot(conflict.id) == after
