"""Life events over HTTP (both databases): the collector's forms, their refusals shown next
to the field, the head-change confirmation (death, move, split), a move between two households,
and the unit picker (its children endpoint, a unit anywhere in the tree, a typed code)."""
from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import func, select

from app.domain import registration as reg
from app.domain.users import grant_role
from app.extensions import db
from app.models import Household, HouseholdVersion, Role
from app.models.events import HouseholdTransfer
from tests.support.households import family, member


@pytest.fixture
def collector(units, make_user):
    user = make_user("collector", units["A"], username="zhang")
    grant_role(None, user, Role.collector, units["B"])
    db.session.commit()
    return user


@pytest.fixture
def household(collector, units):
    h = reg.new_household(collector, unit_id=units["A"].id, data=family()).household
    db.session.commit()
    return h


def members(h: Household) -> dict[str, dict]:
    db.session.refresh(h)
    return {m["name"]: m for m in h.current_version.data["members"]}


def hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"no hidden field {name}"
    return match.group(1)


def url(h, kind: str) -> str:
    return f"/collect/households/{h.id}/events/{kind}"


def post(client, h, kind: str, fields: dict, page: str | None = None):
    """Send the event form as the page made it (its submission id and base number)."""
    page = page or client.get(url(h, kind)).get_data(as_text=True)
    data = {"submission_id": hidden(page, "submission_id"), "base_number": hidden(page, "base_number"), **fields}
    return client.post_form(url(h, kind), data)


def versions(h) -> list[HouseholdVersion]:
    return list(db.session.scalars(select(HouseholdVersion).where(HouseholdVersion.household_id == h.id)
                                   .order_by(HouseholdVersion.number)))


def test_the_household_page_links_the_events(client, collector, household):
    client.login("zhang")
    page = client.get(f"/collect/households/{household.id}").get_data(as_text=True)
    for kind in ("birth", "death", "move_out", "move_in", "marriage", "divorce"):
        assert f'href="{url(household, kind)}"' in page
    assert client.get(url(household, "split_nothing")).status_code == 404


def test_birth_over_http(client, collector, household):
    client.login("zhang")
    mum = members(household)["李秀英"]
    resp = post(client, household, "birth", {"occurred_on": "2026-01-05", "name": "张小花", "sex": "2",
                                             "mother": mum["person_id"], "birth_place": "县医院"})
    assert resp.status_code == 302
    child = members(household)["张小花"]
    assert child["relationship"] == "30" and child["birth_date"] == "2026-01-05"
    last = versions(household)[-1]
    assert (last.kind, str(last.occurred_on)) == ("birth", "2026-01-05")


def test_a_birth_to_a_mother_of_8_is_refused_and_changes_nothing(client, collector, units):
    """Issue 14: saved as complete with no word. Refused next to the mother, in Chinese, by name."""
    data = family()
    data["members"].append(member("张小妹", "30", "2018-03-01", "2", seq=1))
    h = reg.new_household(collector, unit_id=units["A"].id, data=data).household
    db.session.commit()
    client.login("zhang")
    before = (len(versions(h)), h.current_version.content_hash)
    resp = post(client, h, "birth", {"occurred_on": "2026-09-01", "name": "张宝", "sex": "1",
                                     "mother": members(h)["张小妹"]["person_id"]})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422
    error = re.search(r'data-testid="error-mother">([^<]*)<', page)
    assert error and "母亲张小妹" in error.group(1) and "只有8岁" in error.group(1) and "不满14岁" in error.group(1)
    assert 'value="张宝"' in page  # what was typed is kept
    db.session.refresh(h)
    assert (len(versions(h)), h.current_version.content_hash) == before and "张宝" not in members(h)


def test_a_birth_25_days_after_the_last_is_recorded_with_a_warning(client, collector, household):
    client.login("zhang")
    mum = members(household)["李秀英"]["person_id"]
    assert post(client, household, "birth", {"occurred_on": "2026-01-05", "name": "张小花", "sex": "2",
                                             "mother": mum}).status_code == 302
    resp = post(client, household, "birth", {"occurred_on": "2026-01-30", "name": "张小草", "sex": "2",
                                             "mother": mum})
    assert resp.status_code == 302
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert re.search(r'class="flash flash-warning"[^>]*>母亲李秀英的另一个孩子出生于2026-01-05[^<]*只相隔25天', page)
    # Kept with the version: the household page lists it among what is to be checked.
    assert 'data-testid="issues"' in page and "只相隔25天" in page.split('data-testid="issues"')[1]
    assert [v.kind for v in versions(household)] == ["create", "birth", "birth"]


def test_a_future_date_is_refused_next_to_the_field(client, collector, household):
    client.login("zhang")
    resp = post(client, household, "birth", {"occurred_on": "2999-01-01", "name": "张小花", "sex": "2"})
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert 'data-testid="error-occurred_on"' in page
    assert 'value="张小花"' in page  # what was typed is kept
    assert len(versions(household)) == 1
    resp = post(client, household, "birth", {"occurred_on": "", "sex": "2"})
    assert resp.status_code == 422 and 'data-testid="error-occurred_on"' in resp.get_data(as_text=True)
    resp = post(client, household, "birth", {"occurred_on": "2026-01-01"})
    assert resp.status_code == 422 and 'data-testid="error-sex"' in resp.get_data(as_text=True)


def test_death_of_the_head_shows_the_proposals_then_records(client, collector, household):
    client.login("zhang")
    m = members(household)
    head, son, daughter = m["张建国"], m["张伟"], m["张丽"]
    fields = {"occurred_on": "2026-02-01", "person_id": head["person_id"], "cause": "illness", "source": "family"}
    resp = post(client, household, "death", fields)
    assert resp.status_code == 422 and 'data-testid="error-new_head"' in resp.get_data(as_text=True)
    page = post(client, household, "death", {**fields, "new_head": son["person_id"]}).get_data(as_text=True)
    assert 'data-testid="head-change"' in page and len(versions(household)) == 1
    proposed = dict(re.findall(r'name="rel-([0-9a-f-]+)" data-testid="proposal">.*?<option value="(\d\d)" selected',
                               page, re.S))
    assert proposed == {m["李秀英"]["person_id"]: "52", son["person_id"]: "02", daughter["person_id"]: "77"}
    confirmed = hidden(page, "confirmed")
    # The head changed on the confirmation screen: new proposals, nothing recorded.
    resp = post(client, household, "death", {**fields, "new_head": daughter["person_id"], "confirmed": confirmed,
                                             **{f"rel-{k}": v for k, v in proposed.items()}}, page=page)
    assert resp.status_code == 200 and 'data-testid="head-change"' in resp.get_data(as_text=True)
    assert len(versions(household)) == 1
    resp = post(client, household, "death", {**fields, "new_head": son["person_id"], "confirmed": confirmed,
                                             **{f"rel-{k}": v for k, v in proposed.items()}}, page=page)
    assert resp.status_code == 302
    after = members(household)
    assert after["张建国"]["status"] == "deceased" and after["张伟"]["relationship"] == "02"
    assert household.head_name == "张伟"
    # The same form sent again: kept once.
    again = post(client, household, "death", {**fields, "new_head": son["person_id"], "confirmed": confirmed},
                 page=page)
    assert again.status_code == 302 and len(versions(household)) == 2


def test_move_out_and_divorce_over_http(client, collector, household):
    client.login("zhang")
    son = members(household)["张伟"]
    resp = post(client, household, "move_out", {"occurred_on": "2026-03-01", "person_id": son["person_id"],
                                                "reason": "work", "destination": ""})
    assert resp.status_code == 422 and 'data-testid="error-destination"' in resp.get_data(as_text=True)
    resp = post(client, household, "move_out", {"occurred_on": "2026-03-01", "person_id": son["person_id"],
                                                "reason": "work", "destination": "广东省深圳市"})
    assert resp.status_code == 302 and members(household)["张伟"]["management"] == "out_migrant"
    head = members(household)["张建国"]
    resp = post(client, household, "divorce", {"occurred_on": "2026-04-01", "person_id": head["person_id"]})
    assert resp.status_code == 302
    assert members(household)["张建国"]["marital_status"] == "40"
    assert members(household)["李秀英"]["marital_status"] == "40"


def test_move_in_from_another_household_over_http(client, collector, household, units):
    other = reg.new_household(collector, unit_id=units["B"].id, data=family("王", 2)).household
    db.session.commit()
    client.login("zhang")
    leaving = members(other)["王丽"]
    resp = post(client, household, "move_in", {"occurred_on": "2026-05-01", "source": "system",
                                               "id_number": leaving["id_number"], "relationship": "97",
                                               "reason": "study"})
    assert resp.status_code == 302
    assert members(household)["王丽"]["status"] == "active"
    assert members(other)["王丽"]["status"] == "moved_out"
    assert [v.kind for v in versions(other)] == ["create", "move_out"]
    resp = post(client, household, "move_in", {"occurred_on": "2026-05-01", "source": "system",
                                               "id_number": "110101199001010000", "relationship": "97",
                                               "reason": "study"})
    assert resp.status_code == 422 and 'data-testid="error-id_number"' in resp.get_data(as_text=True)


def test_marriage_over_http(client, collector, household):
    client.login("zhang")
    daughter = members(household)["张丽"]
    resp = post(client, household, "marriage", {"occurred_on": "2026-06-01", "person_id": daughter["person_id"],
                                                "spouse_kind": "outside", "spouse_name": "孙强"})
    assert resp.status_code == 302
    assert members(household)["张丽"]["marital_status"] == "21"


def test_a_village_leader_may_not_record_events(client, collector, household, make_user, units):
    make_user("village_leader", units["A"], username="leader")
    client.login("leader")
    assert client.get(url(household, "birth")).status_code == 403
    count = db.session.scalar(select(func.count()).select_from(HouseholdVersion))
    resp = client.post_form(url(household, "birth"), {"occurred_on": "2026-01-01", "sex": "1",
                                                      "relationship": "20", "base_number": "1",
                                                      "submission_id": str(uuid.uuid4())})
    assert resp.status_code == 403
    assert db.session.scalar(select(func.count()).select_from(HouseholdVersion)) == count


def test_split_over_http(client, collector, household):
    client.login("zhang")
    m = members(household)
    son, daughter = m["张伟"], m["张丽"]
    resp = post(client, household, "split", {"occurred_on": "2026-07-01", "leaves": [son["person_id"]],
                                             "new_head": daughter["person_id"]})
    assert resp.status_code == 422 and 'data-testid="error-new_head"' in resp.get_data(as_text=True)
    resp = post(client, household, "split", {"occurred_on": "2026-07-01",
                                             "leaves": [son["person_id"], daughter["person_id"]],
                                             "new_head": son["person_id"], f"rel-{daughter['person_id']}": "77",
                                             "door_no": "9号"})
    assert resp.status_code == 302
    new = db.session.scalar(select(Household).where(Household.id != household.id))
    assert new.card_no == "0002" and new.door_no == "9号" and new.head_name == "张伟"
    assert {m["name"]: m["status"] for m in members(household).values()}["张丽"] == "moved_out"


def test_a_split_without_a_relationship_names_the_member(client, collector, household):
    client.login("zhang")
    m = members(household)
    son, daughter = m["张伟"], m["张丽"]
    resp = post(client, household, "split", {"occurred_on": "2026-07-01",
                                             "leaves": [son["person_id"], daughter["person_id"]],
                                             "new_head": son["person_id"]})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422
    error = re.search(r'data-testid="error-relationships">([^<]*)<', page)
    assert error and "张丽" in error.group(1) and "张伟" not in error.group(1)
    # The member without a relationship is marked; the new head (her relationship is 户主) is not.
    assert re.search(rf'class="field split-member has-error" id="f-rel-{daughter["person_id"]}"', page)
    assert not re.search(rf'class="field split-member has-error" id="f-rel-{son["person_id"]}"', page)
    assert len(versions(household)) == 1
    assert db.session.scalar(select(func.count()).select_from(Household)) == 1


def test_merge_over_http_asks_for_the_relationships_first(client, collector, household, units):
    other = reg.new_household(collector, unit_id=units["A"].id, data=family("王", 2)).household
    db.session.commit()
    client.login("zhang")
    resp = post(client, household, "merge", {"occurred_on": "2026-07-01", "other_card": "0099"})
    assert resp.status_code == 422 and 'data-testid="error-other_card"' in resp.get_data(as_text=True)
    page = post(client, household, "merge", {"occurred_on": "2026-07-01", "other_card": "2"}).get_data(as_text=True)
    assert 'data-testid="joining"' in page and len(versions(household)) == 1
    rel = {f"rel-{m['person_id']}": "97" for m in members(other).values()}
    assert 'name="confirmed" value="0002"' in page
    resp = post(client, household, "merge", {"occurred_on": "2026-07-01", "other_card": "2", "confirmed": "0002",
                                             "other_base_number": "1"}, page=page)
    assert resp.status_code == 422 and 'data-testid="joining"' in resp.get_data(as_text=True)
    # The card changed on the confirmation screen: that household's members are asked for, nothing recorded.
    third = reg.new_household(collector, unit_id=units["A"].id, data=family("李", 3)).household
    db.session.commit()
    resp = post(client, household, "merge", {"occurred_on": "2026-07-01", "other_card": "3", "confirmed": "0002",
                                             "other_base_number": "1", **rel}, page=page)
    again = resp.get_data(as_text=True)
    assert resp.status_code == 200 and 'name="confirmed" value="0003"' in again and len(versions(household)) == 1
    assert all(f'name="rel-{m["person_id"]}"' in again for m in members(third).values())
    resp = post(client, household, "merge", {"occurred_on": "2026-07-01", "other_card": "2", "confirmed": "0002",
                                             "other_base_number": "1", **rel}, page=page)
    assert resp.status_code == 302
    db.session.refresh(other)
    assert household.member_count == 8 and other.member_count == 0


def test_transfer_waits_for_the_receiving_leader(client, new_client, collector, household, units, make_user):
    make_user("village_leader", units["C"], username="leader_c")
    client.login("zhang")
    resp = post(client, household, "transfer", {"occurred_on": "2026-07-01", "to_unit_code": "999"})
    assert resp.status_code == 422 and 'data-testid="error-to_unit"' in resp.get_data(as_text=True)
    resp = post(client, household, "transfer", {"occurred_on": "2026-07-01", "to_unit_code": units["C"].code})
    assert resp.status_code == 302
    page = client.get(f"/collect/households/{household.id}").get_data(as_text=True)
    assert 'data-testid="transfer-pending"' in page
    leader = new_client()
    leader.login("leader_c")
    queue = leader.get("/review/leader").get_data(as_text=True)
    assert 'data-testid="transfers-link"' in queue and "/collect/transfers" in queue
    page = leader.get("/collect/transfers").get_data(as_text=True)
    transfer_id = int(re.search(r'data-testid="transfer-(\d+)"', page).group(1))
    resp = leader.post_form(f"/collect/transfers/{transfer_id}/decide", {"decision": "refuse"})
    assert resp.status_code == 422 and 'data-testid="error-reason"' in resp.get_data(as_text=True)
    resp = leader.post_form(f"/collect/transfers/{transfer_id}/decide", {"decision": "refuse", "reason": "无此人"})
    assert resp.status_code == 302
    db.session.refresh(household)
    assert household.village_id == units["A"].id and len(versions(household)) == 1
    assert 'data-testid="no-transfers"' in leader.get("/collect/transfers").get_data(as_text=True)
    assert 'data-testid="transfers-link"' not in leader.get("/review/leader").get_data(as_text=True)
    # Asked again, and accepted this time.
    post(client, household, "transfer", {"occurred_on": "2026-07-01", "to_unit_code": units["C"].code})
    page = leader.get("/collect/transfers").get_data(as_text=True)
    transfer_id = int(re.search(r'data-testid="transfer-(\d+)"', page).group(1))
    assert leader.post_form(f"/collect/transfers/{transfer_id}/decide", {"decision": "accept"}).status_code == 302
    db.session.refresh(household)
    assert household.village_id == units["C"].id and versions(household)[-1].kind == "transfer"


def test_a_transfer_without_a_destination_asks_to_choose_the_village(client, collector, household):
    """Issue 14: it said "没有代码为 的行政区划。" (a blank code)."""
    client.login("zhang")
    for fields in ({}, {"to_unit_code": "", "to_unit_code_typed": "  "}):
        resp = post(client, household, "transfer", {"occurred_on": "2026-07-01", "reason": "务工", **fields})
        page = resp.get_data(as_text=True)
        assert resp.status_code == 422
        assert re.search(r'data-testid="error-to_unit">请选择迁入村。<', page) and "没有代码为" not in page
        assert 'value="务工"' in page
    assert db.session.scalar(select(func.count()).select_from(HouseholdTransfer)) == 0
    assert len(versions(household)) == 1


def test_the_receiving_leader_sees_waiting_transfers_on_the_home_page(client, new_client, collector,
                                                                      household, units, make_user):
    """Issue 14: "1 户迁入申请待同意或拒绝" was shown on the queue page only."""
    make_user("village_leader", units["C"], username="leader_c")
    leader = new_client()
    leader.login("leader_c")
    home = leader.get("/").get_data(as_text=True)
    assert 'data-testid="home-transfers"' not in home and 'data-testid="waiting-transfers"' not in home
    client.login("zhang")
    assert post(client, household, "transfer", {"occurred_on": "2026-07-01",
                                                "to_unit_code": units["C"].code}).status_code == 302
    home = leader.get("/").get_data(as_text=True)
    link = re.search(r'<a [^>]*href="(/collect/transfers)"[^>]*data-testid="home-transfers">([^<]*)</a>',
                     home)
    assert link and link.group(2).strip() == "1 户迁入申请待同意或拒绝"
    header = re.search(r'<a href="/collect/transfers" data-testid="waiting-transfers">([^<]*)</a>', home)
    assert header and header.group(1) == "迁入申请（1）"
    # The collector who asked has nothing to decide: neither on the home page nor in the header.
    mine = client.get("/").get_data(as_text=True)
    assert 'data-testid="home-transfers"' not in mine and 'data-testid="waiting-transfers"' not in mine
    # Decided: the link goes away.
    page = leader.get(link.group(1)).get_data(as_text=True)
    transfer_id = int(re.search(r'data-testid="transfer-(\d+)"', page).group(1))
    leader.post_form(f"/collect/transfers/{transfer_id}/decide", {"decision": "refuse", "reason": "无此人"})
    home = leader.get("/").get_data(as_text=True)
    assert 'data-testid="home-transfers"' not in home and 'data-testid="waiting-transfers"' not in home


def test_the_unit_picker_offers_the_villages_of_the_county(client, collector, household, units):
    client.login("zhang")
    page = client.get(url(household, "transfer")).get_data(as_text=True)
    assert f'<option value="{units["C"].code}"' in page and f'<option value="{units["B"].code}"' in page
    assert f'<option value="{units["A"].code}"' not in page  # not to its own village
    page = client.get(url(household, "move_out")).get_data(as_text=True)
    assert f'<option value="{units["A"].code}"' in page


# ------------------------------------------------------------------ the unit picker


@pytest.fixture
def far_units(units):
    """Units of another province, outside the household's county (made out of code order)."""
    from app.domain.units import get_or_create_unit as add
    from app.models import UnitLevel as L

    hebei = add("130000000000", "河北省", L.province, None)
    tangshan = add("130200000000", "唐山市", L.city, hebei)
    shijiazhuang = add("130100000000", "石家庄市", L.city, hebei)
    changan = add("130102000000", "长安区", L.county, shijiazhuang)
    jianbei = add("130102001000", "建北街道", L.township, changan)
    tangu = add("130102001001", "谈固社区", L.village, jianbei)
    db.session.commit()
    return {"province": hebei, "tangshan": tangshan, "city": shijiazhuang, "county": changan,
            "township": jianbei, "village": tangu}


def test_the_unit_children_are_listed_in_order_after_login(client, collector, units, far_units):
    resp = client.get("/collect/units/children?code=130000000000")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login")
    client.login("zhang")
    top = client.get("/collect/units/children").get_json()
    assert top["unit"] is None
    assert [(c["code"], c["name"], c["level"]) for c in top["children"]] == [
        ("110000000000", "北京市", "province"), ("130000000000", "河北省", "province")]
    hebei = client.get("/collect/units/children?code=130000000000").get_json()
    assert hebei["unit"] == {"code": "130000000000", "name": "河北省", "level": "province"}
    assert [(c["name"], c["has_children"]) for c in hebei["children"]] == [("石家庄市", True), ("唐山市", False)]
    groups = client.get(f"/collect/units/children?code={units['A'].code}").get_json()["children"]
    assert [(c["code"], c["level"], c["has_children"]) for c in groups] == [
        (units["A1"].code, "group", False), (units["A2"].code, "group", False)]
    resp = client.get("/collect/units/children?code=999999999999")
    assert resp.status_code == 404 and "999999999999" in resp.get_json()["message"]


def test_move_out_to_a_unit_outside_the_county(client, collector, household, far_units):
    client.login("zhang")
    page = client.get(url(household, "move_out")).get_data(as_text=True)
    assert "data-unit-picker" in page and "unit_picker.js" in page and 'name="destination_code_typed"' in page
    son = members(household)["张伟"]
    fields = {"occurred_on": "2026-03-01", "person_id": son["person_id"], "hukou_moves": "1",
              "destination_code": far_units["county"].code}
    # Another refusal: the far unit stays chosen, named by its place in the tree.
    resp = post(client, household, "move_out", fields)
    assert resp.status_code == 422 and 'data-testid="error-reason"' in resp.get_data(as_text=True)
    assert (f'<option value="{far_units["county"].code}" selected>河北省 › 石家庄市 › 长安区</option>'
            in resp.get_data(as_text=True))
    resp = post(client, household, "move_out", {**fields, "reason": "work"})
    assert resp.status_code == 302
    after = members(household)["张伟"]
    assert after["status"] == "moved_out"
    last = versions(household)[-1]
    assert (last.event["destination_code"], last.event["destination"]) == ("130102000000", "长安区")


def test_move_out_by_a_typed_unit_code(client, collector, household, far_units):
    """The form without its script: the unit's code typed; a bad one refused next to the field."""
    client.login("zhang")
    son = members(household)["张伟"]
    fields = {"occurred_on": "2026-03-01", "person_id": son["person_id"], "reason": "study"}
    resp = post(client, household, "move_out", {**fields, "destination_code_typed": "130199999999"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422 and 'data-testid="error-destination"' in page
    assert re.search(r'data-testid="error-destination">[^<]*130199999999', page)
    assert 'value="130199999999"' in page  # what was typed is kept
    resp = post(client, household, "move_out", {**fields, "destination_code_typed": far_units["city"].code,
                                                "destination_code": far_units["county"].code})
    assert resp.status_code == 422 and 'data-testid="error-destination"' in resp.get_data(as_text=True)
    assert len(versions(household)) == 1
    resp = post(client, household, "move_out", {**fields, "destination_code_typed": f" {far_units['city'].code} "})
    assert resp.status_code == 302
    assert members(household)["张伟"]["migration_place"] == "石家庄市"
    assert versions(household)[-1].event["destination_code"] == "130100000000"


def test_transfer_takes_only_a_village_or_group_of_another_village(client, collector, household, units, far_units):
    client.login("zhang")
    page = client.get(url(household, "transfer")).get_data(as_text=True)
    assert 'data-levels="village group"' in page and f'data-skip="{units["A"].code}"' in page
    for code in (units["T2"].code, far_units["county"].code):  # a township, a county
        resp = post(client, household, "transfer", {"occurred_on": "2026-07-01", "to_unit_code": code})
        assert resp.status_code == 422 and 'data-testid="error-to_unit"' in resp.get_data(as_text=True)
    resp = post(client, household, "transfer", {"occurred_on": "2026-07-01", "to_unit_code_typed": units["A1"].code})
    assert resp.status_code == 422 and 'data-testid="error-to_unit"' in resp.get_data(as_text=True)
    resp = post(client, household, "transfer", {"occurred_on": "2026-07-01", "to_unit_code_typed": "42"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422 and re.search(r'data-testid="error-to_unit">[^<]*42', page)
    assert db.session.scalar(select(func.count()).select_from(HouseholdTransfer)) == 0
    resp = post(client, household, "transfer", {"occurred_on": "2026-07-01",
                                                "to_unit_code": far_units["village"].code})
    assert resp.status_code == 302
    transfer = db.session.scalar(select(HouseholdTransfer))
    assert transfer.to_unit_id == far_units["village"].id and transfer.state == "pending"


# ------------------------------------------------------------------ split: the head leaves


def proposals_of(page: str, prefix: str) -> dict[str, str]:
    return dict(re.findall(rf'name="{prefix}([0-9a-f-]+)" data-testid="proposal">.*?<option value="(\d\d)" selected',
                           page, re.S))


def test_split_with_the_head_leaving_asks_to_confirm_who_stays(client, collector, household):
    client.login("zhang")
    m = members(household)
    head, wife, son, daughter = m["张建国"], m["李秀英"], m["张伟"], m["张丽"]
    fields = {"occurred_on": "2026-07-01", "leaves": [head["person_id"], wife["person_id"]],
              "new_head": head["person_id"], f"rel-{wife['person_id']}": "10", "door_no": "9号"}
    resp = post(client, household, "split", fields)  # no head chosen for those who stay
    assert resp.status_code == 422 and 'data-testid="error-stay_head"' in resp.get_data(as_text=True)
    resp = post(client, household, "split", {**fields, "stay_head": wife["person_id"]})  # she leaves too
    assert resp.status_code == 422 and 'data-testid="error-stay_head"' in resp.get_data(as_text=True)

    page = post(client, household, "split", {**fields, "stay_head": son["person_id"]}).get_data(as_text=True)
    assert 'data-testid="head-change"' in page
    assert proposals_of(page, "stay-rel-") == {son["person_id"]: "02", daughter["person_id"]: "77"}
    # The leaving wife's relationship to her head keeps its own input.
    assert re.search(rf'name="rel-{wife["person_id"]}".*?<option value="10" selected', page, re.S)
    assert len(versions(household)) == 1 and db.session.scalar(select(func.count()).select_from(Household)) == 1

    confirmed = {**fields, "stay_head": son["person_id"], "confirmed": hidden(page, "confirmed")}
    # A second head is refused next to the relationships of those who stay.
    resp = post(client, household, "split", {**confirmed, f"stay-rel-{daughter['person_id']}": "02"}, page=page)
    assert resp.status_code == 422 and 'data-testid="error-stay_relationships"' in resp.get_data(as_text=True)
    # Another refusal of the confirmed form: the proposals stay, with the collector's choice.
    resp = post(client, household, "split", {**confirmed, "occurred_on": "",
                                             f"stay-rel-{daughter['person_id']}": "75"}, page=page)
    again = resp.get_data(as_text=True)
    assert resp.status_code == 422 and 'data-testid="error-occurred_on"' in again
    assert proposals_of(again, "stay-rel-") == {son["person_id"]: "02", daughter["person_id"]: "75"}
    assert len(versions(household)) == 1

    resp = post(client, household, "split", {**confirmed, f"stay-rel-{daughter['person_id']}": "75"}, page=page)
    assert resp.status_code == 302
    here = members(household)
    assert household.head_name == "张伟" and here["张伟"]["relationship"] == "02"
    assert here["张丽"]["relationship"] == "75"  # the correction, not the proposal (77)
    assert here["张建国"]["status"] == "moved_out" and here["李秀英"]["status"] == "moved_out"
    new = db.session.scalar(select(Household).where(Household.id != household.id))
    assert new.head_name == "张建国"
    assert {m["name"]: m["relationship"] for m in members(new).values()} == {"张建国": "02", "李秀英": "10"}
    change = versions(household)[-1].event["head_change"]
    assert change["new_head"] == son["person_id"]
    assert {c["person_id"]: c["new"] for c in change["relationships"]} == {
        son["person_id"]: "02", daughter["person_id"]: "75"}


@pytest.mark.parametrize("value, needle", [("张\u202e宝", "U+202E"), ("张\x00宝", "U+0000"), ("张" * 201, "200")])
def test_a_life_events_typed_text_is_held_to_the_forms_character_and_length_rules(client, collector, household,
                                                                                   value, needle):
    """Issue 15 items 6 and 8: the event forms' free text (here a newborn's name) refuses
    control and bidi-override characters and over-long text, next to the field; nothing changes."""
    client.login("zhang")
    before = (len(versions(household)), household.current_version.content_hash)
    resp = post(client, household, "birth", {"occurred_on": "2026-09-01", "name": value, "sex": "1"})
    assert resp.status_code == 422
    error = re.search(r'data-testid="error-name">([^<]*)<', resp.get_data(as_text=True))
    assert error and needle in error.group(1) and "此项" in error.group(1)
    db.session.refresh(household)
    assert (len(versions(household)), household.current_version.content_hash) == before
