"""The collector's screens over HTTP (both databases): list, search, create, edit, scope.

Each action goes through the real form fields (members-0-name, ...) as a browser without
JavaScript would send them, and the database is checked afterwards.
"""
from __future__ import annotations

import re
import uuid
from html import unescape

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEntry, Household, HouseholdVersion, Person
from app.web.forms_data import field_key, issues_by_field, mask_id_number, parse_form
from collection_forms import load_form
from tests.support.households import family, id_number, member


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def audits(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def fields(data: dict) -> dict[str, str]:
    """The HTML form fields for a household as the page names them."""
    out = {f"household-{k}": str(v) for k, v in data.get("household", {}).items()}
    for i, m in enumerate(data.get("members", [])):
        out.update({f"members-{i}-{k}": str(v) for k, v in m.items()})
    return out


def hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"no hidden field {name}"
    return match.group(1)


def field_block(page: str, key: str) -> str:
    """The HTML of one field wrapper (<div ... id="f-KEY"> up to the next field)."""
    start = page.index(f'id="f-{key}"')
    following = re.compile(r'<div class="field[" ]').search(page, start)
    return page[start:following.start() if following else None]


def with_ids(page: str, members: list[dict]) -> list[dict]:
    """The members with the person ids the form page carries (as a browser sends them back)."""
    return [{**m, "person_id": hidden(page, f"members-{i}-person_id")} for i, m in enumerate(members)]


def open_form(client, url: str) -> tuple[str, dict[str, str]]:
    page = client.get(url).get_data(as_text=True)
    tokens = {"submission_id": hidden(page, "submission_id")}
    if 'name="base_number"' in page:
        tokens["base_number"] = hidden(page, "base_number")
    return page, tokens


def household_in(village) -> Household | None:
    return db.session.scalar(
        select(Household).where(Household.village_id == village.id).order_by(Household.card_no))


@pytest.fixture
def collector(client, units, make_user):
    """The client, logged in as the collector of village A (多福巷社区)."""
    make_user("collector", units["A"], username="zhang", name="张秀英")
    client.login("zhang")
    return client


def create(client, units, data: dict) -> Household:
    return create_in(client, units["A"], data)


def create_in(client, unit, data: dict) -> Household:
    """A household made through the form of `unit` (a village or a group)."""
    url = f"/collect/households/new?unit_id={unit.id}"
    _page, tokens = open_form(client, url)
    resp = client.post_form(url, {**fields(data), **tokens})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    household_id = uuid.UUID(resp.headers["Location"].rsplit("/", 1)[1])
    return db.session.get(Household, household_id)


# ------------------------------------------------------------------ the collector's work in their village

def test_collector_lists_creates_and_edits_a_household(collector, units):
    home = collector.get("/collect/")
    assert home.status_code == 200
    text = home.get_data(as_text=True)
    assert "多福巷社区" in text and "第一组" in text  # my village and its groups
    assert "银闸社区" not in text

    # "New household" with one village goes straight to its form: the list's button links to it
    # itself (offline, the phone has the form, never the redirect; issue 14), and so does the home page.
    assert f'href="/collect/households/new?unit_id={units["A"].id}" data-testid="new-household"' in text
    assert f'href="/collect/households/new?unit_id={units["A"].id}" data-testid="home-new-household"' in \
        collector.get("/").get_data(as_text=True)
    resp = collector.get("/collect/households/new")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"unit_id={units['A'].id}")
    page, _tokens = open_form(collector, resp.headers["Location"])
    assert 'name="members-0-name"' in page and 'name="household-door_no"' in page
    assert "身份证号码" in page and "与户主关系" in page  # labels from the definition, in Chinese
    assert 'type="date"' in page
    group_select = page[page.index('name="household-group_code"'):]
    group_select = group_select[:group_select.index("</select>")]
    assert units["A1"].code in group_select and units["A2"].code in group_select

    data = family()
    data["household"]["group_code"] = units["A1"].code
    h = create(collector, units, data)
    assert (h.card_no, h.village_id, h.group_id) == ("0001", units["A"].id, units["A1"].id)
    assert h.current_number == 1
    assert h.complete and h.head_name == "张建国" and h.member_count == 4
    versions = list(db.session.scalars(select(HouseholdVersion).where(HouseholdVersion.household_id == h.id)))
    assert [(v.number, v.kind) for v in versions] == [(1, "create")]
    assert sorted(p.name for p in h.persons) == sorted(m["name"] for m in data["members"])
    assert [e.details["card_no"] for e in audits("household.create")] == ["0001"]

    # The household page: members at a glance with masked ID numbers, the history.
    page = collector.get(f"/collect/households/{h.id}").get_data(as_text=True)
    assert "张建国" in page and "户主" in page and "李秀英" in page
    head_id = data["members"][0]["id_number"]
    assert mask_id_number(head_id) in page and head_id not in page
    assert page.count('data-testid="version"') == 1
    # ... and the list shows it.
    listing = collector.get("/collect/").get_data(as_text=True)
    assert 'data-testid="household-0001"' in listing and "张建国" in listing

    # Edit: the form starts from the current version; saving makes version 2.
    page, tokens = open_form(collector, f"/collect/households/{h.id}/edit")
    assert tokens["base_number"] == "1"
    assert 'value="张建国"' in page and f'value="{head_id}"' in page
    data["household"]["door_no"] = "12号"
    for i, m in enumerate(data["members"]):  # the stored person ids come back with the form
        m["person_id"] = hidden(page, f"members-{i}-person_id")
    resp = collector.post_form(f"/collect/households/{h.id}/edit", {**fields(data), **tokens})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/collect/households/{h.id}")
    db.session.refresh(h)
    assert (h.current_number, h.door_no, len(h.persons)) == (2, "12号", 4)
    assert [e.details["version"] for e in audits("household.edit")] == [2]
    page = collector.get(resp.headers["Location"]).get_data(as_text=True)
    assert page.count('data-testid="version"') == 2


def test_add_member_without_javascript_shows_one_more_card_and_saves_nothing(collector, units):
    h = create(collector, units, family())
    page, tokens = open_form(collector, f"/collect/households/{h.id}/edit?add_member=1")
    assert 'name="members-4-name"' in page and 'data-start="m-4"' in page
    # The no-script button posts what was typed; the server answers with one more card.
    data = family()
    data["members"] = with_ids(page, data["members"])
    data["members"].append(member("张小宝", "20", "2020-01-05", "1", seq=7))
    del data["members"][4]["person_id"]
    resp = collector.post_form(f"/collect/households/{h.id}/edit",
                               {**fields(data), **tokens, "action": "add_member"})
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert 'value="张小宝"' in page and 'name="members-5-name"' in page
    assert count(HouseholdVersion) == 1
    # Saving it: the empty sixth card is left out, the new member is added.
    tokens = {"submission_id": hidden(page, "submission_id"), "base_number": hidden(page, "base_number")}
    data["members"][4]["person_id"] = hidden(page, "members-4-person_id")
    resp = collector.post_form(f"/collect/households/{h.id}/edit",
                               {**fields(data), **tokens, "members-5-status": "active", "members-5-name": ""})
    assert resp.status_code == 302
    db.session.refresh(h)
    assert h.current_number == 2 and [p.name for p in h.persons][-1] == "张小宝" and len(h.persons) == 5


def test_a_collector_of_one_group_registers_in_that_group_only(client, units, make_user, new_client):
    make_user("collector", units["A1"], username="group1")
    client.login("group1")
    resp = client.get("/collect/households/new")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"unit_id={units['A1'].id}")
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert f'<option value="{units["A1"].code}" selected>' in page and units["A2"].code not in page
    h = create_in(client, units["A1"], family())
    assert (h.village_id, h.group_id) == (units["A"].id, units["A1"].id)
    assert client.get(f"/collect/households/new?unit_id={units['A2'].id}").status_code == 404
    # A collector of group 2 does not see group 1's household.
    make_user("collector", units["A2"], username="group2")
    other = new_client()
    other.login("group2")
    assert other.get(f"/collect/households/{h.id}").status_code == 404


def test_a_collector_of_several_villages_chooses_where_the_household_lives(client, units, make_user):
    from app.domain.users import grant_role
    user = make_user("collector", units["A"], username="two_villages")
    grant_role(None, user, "collector", units["B"])
    db.session.commit()
    client.login("two_villages")
    page = client.get("/collect/households/new")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    for unit in ("A", "B", "A1", "A2"):
        assert f"/collect/households/new?unit_id={units[unit].id}" in text
    assert units["C"].name not in text  # a village outside the collector's area
    # The list's "New household" opens this chooser (cached for the phone offline).
    listing = client.get("/collect/").get_data(as_text=True)
    assert 'href="/collect/households/new" data-testid="new-household"' in listing


# ------------------------------------------------------------------ scope

def test_collector_of_another_village_gets_nothing(collector, units, make_user, new_client):
    h = create(collector, units, family())
    make_user("collector", units["B"], username="li")
    other = new_client()
    other.login("li")
    versions, audit_rows = count(HouseholdVersion), count(AuditEntry)
    assert other.get(f"/collect/households/{h.id}").status_code == 404
    assert other.get(f"/collect/households/{h.id}/edit").status_code == 404
    page = collector.get(f"/collect/households/{h.id}/edit").get_data(as_text=True)
    tokens = {"submission_id": str(uuid.uuid4()), "base_number": "1"}
    data = family()
    data["members"] = with_ids(page, data["members"])
    data["household"]["door_no"] = "被改了"
    resp = other.post_form(f"/collect/households/{h.id}/edit", {**fields(data), **tokens})
    assert resp.status_code == 404
    # Nor may B's collector create a household in A.
    resp = other.post_form(f"/collect/households/new?unit_id={units['A'].id}", fields(family("王")))
    assert resp.status_code == 404
    assert other.get(f"/collect/households/new?unit_id={units['A'].id}").status_code == 404
    assert (count(HouseholdVersion), count(AuditEntry), count(Household)) == (versions, audit_rows, 1)
    db.session.refresh(h)
    assert h.door_no != "被改了"
    listing = other.get("/collect/?q=0001").get_data(as_text=True)
    assert 'data-testid="household-0001"' not in listing and "张建国" not in listing


def test_village_leader_may_look_but_not_edit(collector, units, make_user, new_client):
    h = create(collector, units, family())
    make_user("village_leader", units["A"], username="boss")
    leader = new_client()
    leader.login("boss")
    page = leader.get(f"/collect/households/{h.id}")
    assert page.status_code == 200 and "张建国" in page.get_data(as_text=True)
    assert 'data-testid="edit"' not in page.get_data(as_text=True)
    assert leader.get(f"/collect/households/{h.id}/edit").status_code == 403
    resp = leader.post_form(f"/collect/households/{h.id}/edit",
                            {**fields(family()), "submission_id": str(uuid.uuid4()), "base_number": "1"})
    assert resp.status_code == 403
    assert leader.get("/collect/households/new").status_code == 403
    resp = leader.post_form(f"/collect/households/new?unit_id={units['A'].id}", fields(family()))
    assert resp.status_code == 403
    assert count(HouseholdVersion) == 1
    listing = leader.get("/collect/").get_data(as_text=True)
    assert 'data-testid="household-0001"' in listing and 'data-testid="new-household"' not in listing


# ------------------------------------------------------------------ search

def test_search_by_card_number_names_pinyin_and_id_tail(collector, units):
    zhang = create(collector, units, family("张", seq=1))
    wang_data = family("王", seq=2)
    wang_data["members"][1]["name"] = "赵丽娟"
    wang = create(collector, units, wang_data)
    assert (zhang.card_no, wang.card_no) == ("0001", "0002")

    def found(**params) -> set[str]:
        page = collector.get("/collect/", query_string=params).get_data(as_text=True)
        return set(re.findall(r'data-testid="household-(\d{4})"', page))

    assert found() == {"0001", "0002"}
    assert found(q="2") == {"0002"}
    assert found(q="0001") == {"0001"}
    assert found(q="王建国") == {"0002"}  # head name
    assert found(q="赵丽娟") == {"0002"}  # any member's name
    assert found(q="李秀英") == {"0001"}
    assert found(q="zjg") == {"0001"}  # pinyin initials of 张建国
    assert found(q="wangjian") == {"0002"}  # full pinyin prefix
    tail = wang_data["members"][2]["id_number"][-4:]
    assert tail != family("张", seq=1)["members"][2]["id_number"][-4:]
    assert "0002" in found(q=tail)
    assert found(state="draft") == {"0001", "0002"}
    assert found(state="verified") == set()
    assert found(q="nobody") == set()


# ------------------------------------------------------------------ errors, retries, conflicts

def test_wrong_check_digit_saves_a_draft_and_shows_the_message_next_to_the_field(collector, units):
    data = family()
    good = data["members"][2]["id_number"]
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    data["members"][2]["id_number"] = bad
    h = create(collector, units, data)
    assert not h.complete and h.current_number == 1
    version = h.current_version
    assert [(i["rule"], i["path"]) for i in version.issues if i["level"] == "error"] == \
        [("id.checksum", "members[2].id_number")]
    assert version.data["members"][2]["id_number"] == bad  # what was typed is kept

    page = collector.get(f"/collect/households/{h.id}").get_data(as_text=True)
    assert "校验位错误" in page and 'data-testid="error-count"' in page
    listing = collector.get("/collect/").get_data(as_text=True)
    assert 'data-testid="has-errors"' in listing

    form = collector.get(f"/collect/households/{h.id}/edit").get_data(as_text=True)
    block = field_block(form, "members-2-id_number")
    assert "校验位错误" in unescape(block) and f'value="{bad}"' in block
    assert "校验位错误" not in field_block(form, "members-1-id_number")


def test_the_same_submission_twice_makes_one_version(collector, units):
    url = f"/collect/households/new?unit_id={units['A'].id}"
    _page, tokens = open_form(collector, url)
    posted = {**fields(family()), **tokens}
    first = collector.post_form(url, posted)
    second = collector.post_form(url, posted)
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert (count(Household), count(HouseholdVersion), count(Person)) == (1, 1, 4)
    assert len(audits("household.create")) == 1

    h = household_in(units["A"])
    page, tokens = open_form(collector, f"/collect/households/{h.id}/edit")
    data = family()
    data["members"] = with_ids(page, data["members"])
    data["household"]["door_no"] = "8号"
    for _ in range(2):
        resp = collector.post_form(f"/collect/households/{h.id}/edit", {**fields(data), **tokens})
        assert resp.status_code == 302
    assert count(HouseholdVersion) == 2 and len(audits("household.edit")) == 1


def test_a_stale_edit_is_refused_with_everything_typed_shown_again(collector, units, make_user, new_client):
    h = create(collector, units, family())
    page, tokens = open_form(collector, f"/collect/households/{h.id}/edit")
    ids = [hidden(page, f"members-{i}-person_id") for i in range(4)]

    # Meanwhile a colleague saves version 2.
    make_user("collector", units["A"], username="wu", name="吴敏")
    colleague = new_client()
    colleague.login("wu")
    cpage, ctokens = open_form(colleague, f"/collect/households/{h.id}/edit")
    cdata = family()
    cdata["members"] = [{**m, "person_id": ids[i]} for i, m in enumerate(cdata["members"])]
    cdata["household"]["door_no"] = "同事的门牌"
    resp = colleague.post_form(f"/collect/households/{h.id}/edit", {**fields(cdata), **ctokens})
    assert resp.status_code == 302

    data = family()
    data["members"] = [{**m, "person_id": ids[i]} for i, m in enumerate(data["members"])]
    data["household"]["door_no"] = "我写的门牌"
    data["members"][3]["name"] = "张丽丽"
    resp = collector.post_form(f"/collect/households/{h.id}/edit", {**fields(data), **tokens})
    assert resp.status_code == 409
    page = resp.get_data(as_text=True)
    assert 'value="我写的门牌"' in page and 'value="张丽丽"' in page  # nothing typed is lost
    assert "吴敏" in page and 'data-testid="form-message"' in page
    assert hidden(page, "base_number") == "2" and hidden(page, "submission_id") != tokens["submission_id"]
    db.session.refresh(h)
    assert (h.current_number, h.door_no) == (2, "同事的门牌")
    assert count(HouseholdVersion) == 2


def test_leaving_out_a_saved_member_is_refused_with_the_form_shown_again(collector, units):
    h = create(collector, units, family())
    page, tokens = open_form(collector, f"/collect/households/{h.id}/edit")
    data = family()
    data["members"] = with_ids(page, data["members"])
    data["household"]["door_no"] = "新门牌"
    del data["members"][3]
    resp = collector.post_form(f"/collect/households/{h.id}/edit", {**fields(data), **tokens})
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert 'value="新门牌"' in page and 'data-testid="form-message"' in page and "张丽" in page
    assert count(HouseholdVersion) == 1


def test_pages_follow_the_users_language(client, units, make_user):
    make_user("collector", units["A"], username="en_user", locale="en")
    client.login("en_user")
    page = client.get(f"/collect/households/new?unit_id={units['A'].id}").get_data(as_text=True)
    assert "ID number" in page and "Relationship to the head" in page and "身份证号码" not in page
    assert "Head of household" in page  # code labels too


# ------------------------------------------------------------------ the pure helpers

def test_parse_form_keeps_card_order_and_drops_untouched_new_cards():
    form = load_form()
    posted = {"household-door_no": " 3号 ", "household-unknown": "x", "members-10-name": "后",
              "members-2-name": "前", "members-2-person_id": "p2", "members-5-status": "active",
              "members-5-person_id": "p5", "members-7-person_id": "saved", "members-7-status": "active",
              "members-2-bogus": "y"}
    data = parse_form(posted, form, known_person_ids=["saved"])
    assert data["household"]["door_no"] == " 3号 " and "unknown" not in data["household"]
    assert [m.get("name") for m in data["members"]] == ["前", None, "后"]  # card 5 dropped, 7 kept
    assert data["members"][1]["person_id"] == "saved" and "bogus" not in data["members"][0]
    assert len(parse_form(posted, form, keep_blank=True)["members"]) == 4


def test_issue_paths_map_to_the_field_names_on_the_page():
    assert field_key("members[2].id_number") == "members-2-id_number"
    assert field_key("members[2]") == "members-2"
    assert field_key("household.phone") == "household-phone"
    assert field_key("members") == field_key("") == ""
    grouped = issues_by_field([{"path": "members[0].name", "level": "warning"},
                               {"path": "members[0].name", "level": "error"}])
    assert [i["level"] for i in grouped["members-0-name"]] == ["error", "warning"]
    number = id_number("1990-01-01", "1")
    assert mask_id_number(number) == "1101**********" + number[-4:]
    assert mask_id_number(None) == ""
