"""History (issue 7), both databases: diffs between consecutive versions (members added,
cancelled, moved), the kind filter, each version's workflow state, a person's history across
households within the viewer's area, and the village's month list at its boundaries (dates of
occurrence; recorded times in Asia/Shanghai).

Life events are saved here as the events module saves them: a version of their kind through
app.domain.registration, carrying its date of occurrence and its `event` details."""
from __future__ import annotations

import copy
import datetime as dt
import re
import uuid
from html import unescape
from types import SimpleNamespace

import pytest

from app.domain import history
from app.domain import registration as reg
from app.domain import workflow
from app.domain.errors import Forbidden, NotFound
from app.extensions import db
from app.models import Household, HouseholdVersion, VersionKind
from tests.support.households import TODAY, family, member
from tests.support.history import history_writable

SIGN = [[[100, 100], [400, 130], [700, 100]], [[250, 60], [260, 200], [240, 330]]]
UTC = dt.timezone.utc


@pytest.fixture
def people(units, make_user, new_client):
    out = SimpleNamespace(
        collector=make_user("collector", units["A"], username="collector_a", name="采集员甲"),
        collector_b=make_user("collector", units["B"], username="collector_b", name="采集员乙"),
        collector_c=make_user("collector", units["C"], username="collector_c", name="采集员丙"),
        leader=make_user("village_leader", units["A"], username="leader_a", name="村干部"),
        leader_b=make_user("village_leader", units["B"], username="leader_b", name="村干部乙"),
        verifier=make_user("verifier", units["T1"], username="verifier_t1", name="审核员"),
    )
    for name in ("collector", "leader", "verifier"):
        c = new_client()
        c.login(getattr(out, name).username)
        setattr(out, f"{name}_client", c)
    return out


def new(user, unit, seq: int = 1, data: dict | None = None) -> Household:
    h = reg.new_household(user, unit_id=unit.id, data=data or family(seq=seq), today=TODAY).household
    db.session.commit()
    return h


def record(user, h: Household, kind: VersionKind, change, *, occurred_on: dt.date | None = None,
           event: dict | None = None, at: dt.datetime | None = None) -> HouseholdVersion:
    """A new version of `kind`: `change(data)` edits a copy of the current data."""
    data = copy.deepcopy(h.current_version.data)
    change(data)
    version = reg.save_household(user, h.id, data=data, base_number=h.current_number, today=TODAY,
                                 kind=kind).version
    with history_writable():
        version.occurred_on, version.event = occurred_on, event
        if at is not None:
            version.created_at = at
    db.session.commit()
    return version


def birth(data):
    data["members"].append(member("张小宝", "20", "2026-11-05", "1", seq=9, marital_status="10"))


def death(index: int, on: str = "2026-11-20"):
    def change(data):
        data["members"][index].update(status="deceased", cancelled_on=on, cancellation_reason="病故")
    return change


def move_out(index: int):
    def change(data):
        data["members"][index].update(status="moved_out", cancelled_on="2026-11-21")
    return change


def text(resp) -> str:
    assert resp.status_code == 200, resp.status_code
    return unescape(resp.get_data(as_text=True))


# ------------------------------------------------------------------ a household's history

def test_each_version_against_the_one_before_newest_first(people, units):
    h = new(people.collector, units["A"])
    record(people.collector, h, VersionKind.birth, birth, occurred_on=dt.date(2026, 11, 5))
    record(people.collector, h, VersionKind.death, death(0), occurred_on=dt.date(2026, 11, 20))
    record(people.collector, h, VersionKind.move_out, move_out(3), occurred_on=dt.date(2026, 11, 21),
           event={"person_ids": [h.current_version.data["members"][3]["person_id"]]})

    def door(data):
        data["household"]["door_no"] = "99号"
    record(people.collector, h, VersionKind.edit, door)

    entries = history.household_history(people.collector, h.id)
    assert [(e.version.number, e.kind) for e in entries] == [
        (5, "edit"), (4, "move_out"), (3, "death"), (2, "birth"), (1, "create")]
    edit, moved, died, born, created = entries
    assert [(c.label, c.old, c.new) for c in edit.diff.household] == [("门牌号", "1号", "99号")]
    assert edit.diff.members == [] and edit.occurred_on is None and not edit.is_event
    assert [(m.name, m.kind, m.direction) for m in moved.diff.members] == [("张丽", "moved", "out")]
    assert ("人员状态", "正常", "迁出") in [(c.label, c.old, c.new) for c in moved.diff.members[0].changes]
    assert [(m.name, m.kind) for m in died.diff.members] == [("张建国", "cancelled")]
    assert ("人员状态", "正常", "死亡") in [(c.label, c.old, c.new) for c in died.diff.members[0].changes]
    assert died.occurred_on == dt.date(2026, 11, 20) and died.recorded_by.name == "采集员甲"
    assert [(m.name, m.kind) for m in born.diff.members] == [("张小宝", "added")]
    assert born.diff.household == [] and born.is_event
    assert created.diff.first and [m.kind for m in created.diff.members] == ["added"] * 4

    # The filter keeps one kind; the diffs stay against the version before, not the one shown before.
    only = history.household_history(people.collector, h.id, VersionKind.death.value)
    assert [e.version.number for e in only] == [3]
    assert [(m.name, m.kind) for m in only[0].diff.members] == [("张建国", "cancelled")]


def test_a_member_who_came_by_a_move_event_is_moved_in(people, units):
    h = new(people.collector, units["A"])
    wife = member("王芳", "10", "1996-02-02", "2", seq=4, marital_status="20")

    def marry(data):
        data["members"].append(wife)
    record(people.collector, h, VersionKind.marriage, marry, occurred_on=dt.date(2026, 10, 1),
           event={"person_ids": [wife["person_id"]]})
    [entry] = history.household_history(people.collector, h.id, "marriage")
    assert [(m.name, m.kind, m.direction) for m in entry.diff.members] == [("王芳", "moved", "in")]
    # A birth names its newborns too, but they are added, not moved.
    record(people.collector, h, VersionKind.birth, birth, occurred_on=dt.date(2026, 11, 5),
           event={"person_ids": ["whoever"]})
    [born] = history.household_history(people.collector, h.id, "birth")
    assert [(m.name, m.kind) for m in born.diff.members] == [("张小宝", "added")]


def test_each_version_shows_the_state_it_reached(people, units):
    h = new(people.collector, units["A"])
    workflow.submit(people.collector, h.id, version_number=1, strokes=SIGN)
    db.session.commit()
    workflow.confirm(people.leader, h.id, version_number=1, strokes=SIGN)
    db.session.commit()
    record(people.collector, h, VersionKind.birth, birth, occurred_on=dt.date(2026, 11, 5))
    states = {e.version.number: e.state for e in history.household_history(people.collector, h.id)}
    assert states == {1: "confirmed", 2: "draft"}
    workflow.submit(people.collector, h.id, version_number=2, strokes=SIGN)
    db.session.commit()
    workflow.return_household(people.leader, h.id, version_number=2, reason_codes=["other"],
                              reason_text="再看看")
    db.session.commit()
    states = {e.version.number: e.state for e in history.household_history(people.collector, h.id)}
    assert states == {1: "confirmed", 2: "returned"}


def test_household_history_page_with_filter(people, units):
    h = new(people.collector, units["A"])
    record(people.collector, h, VersionKind.birth, birth, occurred_on=dt.date(2026, 11, 5))
    record(people.collector, h, VersionKind.death, death(0), occurred_on=dt.date(2026, 11, 20))
    page = text(people.collector_client.get(f"/history/households/{h.id}"))
    assert page.count('data-testid="entry"') == 3
    assert page.index('data-version="3"') < page.index('data-version="2"') < page.index('data-version="1"')
    assert "2026-11-20" in page and "采集员甲" in page
    assert "张小宝" in page and "人员状态" in page and "正常" in page and "死亡" in page
    assert 'data-kind="cancelled"' in page and 'data-kind="added"' in page
    births = text(people.collector_client.get(f"/history/households/{h.id}?kind=birth"))
    assert births.count('data-testid="entry"') == 1 and 'data-kind="birth"' in births
    assert '<option value="birth" selected>' in births
    # An unknown kind is no filter; the household page links to the history and sums up the latest.
    unknown = text(people.collector_client.get(f"/history/households/{h.id}?kind=x"))
    assert unknown.count('data-testid="entry"') == 3
    home = text(people.collector_client.get(f"/collect/households/{h.id}"))
    assert f'href="/history/households/{h.id}"' in home
    assert home.count('data-testid="recent-change"') == 3


def test_household_history_outside_the_area_is_not_found(people, units):
    h = new(people.collector_b, units["B"])
    with pytest.raises(NotFound):
        history.household_history(people.collector, h.id)
    assert people.collector_client.get(f"/history/households/{h.id}").status_code == 404


# ------------------------------------------------------------------ labels (issue 14)

def test_every_kind_state_and_action_has_one_label(app):
    """app.domain.labels names every value of the enums, in Chinese, and is the only place
    that defines those labels."""
    from pathlib import Path

    from app.domain import labels
    from app.models import EVENT_KINDS, HouseholdState, WorkflowAction

    with app.test_request_context():
        for kind in VersionKind:
            assert kind in labels.VERSION_KINDS, kind
            assert labels.kind_label(kind.value) not in ("", kind.value)
        for state in HouseholdState:
            assert labels.state_label(state.value) not in ("", state.value)
        for action in WorkflowAction:
            assert labels.action_label(action.value) not in ("", action.value)
        assert set(labels.EVENT_LABELS) == {k.value for k in EVENT_KINDS}
        words = {k: labels.kind_label(k) for k in ("birth", "death", "split", "transfer")}
        assert words == {"birth": "出生", "death": "死亡", "split": "分户", "transfer": "整户迁往他村"}
        assert labels.state_label("returned") == "已退回" and labels.action_label("return") == "退回"
        assert labels.kind_label("unknown") == "unknown"  # old data never fails a page
    # No second copy: the labels' msgids are lazily translated nowhere else in the app
    # ("Marriage" is also a reason for a move, app.domain.events.MOVE_REASONS).
    root = Path(labels.__file__).resolve().parent.parent
    msgids = set(re.findall(r'_l\("([^"]+)"\)', Path(labels.__file__).read_text())) - {"Marriage"}
    copies = [(str(path.relative_to(root)), m) for path in root.rglob("*.py") if path.name != "labels.py"
              for m in re.findall(r'_l\("([^"]+)"\)', path.read_text()) if m in msgids]
    assert copies == []
    # Nor do the templates spell out the life events' names (the household page's event menu did).
    # (Buttons and titles that share a word with a label are not labels: "New household", "Edit",
    # "Verified", "Return".)
    names = (msgids | {"Split", "Merge", "Transfer to another village"}) - {
        "New household", "Edit", "Verified", "Return"}
    spelled = [(str(path.relative_to(root)), m) for path in (root / "templates").rglob("*.html")
               for m in re.findall(r"""_\(["']([^"']+)["']\)""", path.read_text()) if m in names]
    assert spelled == []


def test_pages_name_life_event_versions_in_words(people, units):
    """The household page's timeline, the review page and the history say 出生, 死亡, 分户,
    never the stored codes."""
    from app.domain import events

    h = new(people.collector, units["A"])
    record(people.collector, h, VersionKind.birth, birth, occurred_on=dt.date(2026, 11, 5))
    record(people.collector, h, VersionKind.death, death(3), occurred_on=dt.date(2026, 11, 20))
    son = h.current_version.data["members"][2]["person_id"]
    events.split(people.collector, h.id, person_ids=[son], new_head=son, relationships={},
                 occurred_on=dt.date(2026, 11, 21), base_number=h.current_number, today=TODAY)
    db.session.commit()
    workflow.submit(people.collector, h.id, version_number=h.current_number, strokes=SIGN)
    db.session.commit()
    for client, url in ((people.collector_client, f"/collect/households/{h.id}"),
                        (people.leader_client, f"/review/households/{h.id}")):
        page = text(client.get(url))
        versions = page.split('data-testid="history"')[1]
        for word in ("出生", "死亡", "分户", "新建住户"):
            assert f"· {word}" in versions, (url, word)
        for code in ("birth", "death", "split", "create"):
            assert f"· {code}" not in versions, (url, code)
        assert "已提交" in page and "提交" in versions  # the state and the workflow event in words
    page = text(people.collector_client.get(f"/history/households/{h.id}"))
    kinds = re.findall(r'data-testid="entry-kind">([^<]+)<', page)
    assert kinds == ["分户", "死亡", "出生", "新建住户"]


# ------------------------------------------------------------------ splits and transfers (issue 14)

def split_son(people, units, *, registered_at: dt.datetime | None = None):
    """Household a in village A; its son 张伟 leaves on 2026-11-10 to form household n (a split
    recorded now, after a's registration)."""
    from app.domain import events

    a = new(people.collector, units["A"])
    if registered_at is not None:
        with history_writable():
            a.current_version.created_at = registered_at
        db.session.commit()
    son = a.current_version.data["members"][2]["person_id"]
    result = events.split(people.collector, a.id, person_ids=[son], new_head=son, relationships={},
                          occurred_on=dt.date(2026, 11, 10), base_number=a.current_number,
                          submission_id=uuid.uuid4(), today=TODAY)
    db.session.commit()
    return a, result.other.household, son


def test_a_split_names_the_other_household_on_both_sides(people, units):
    a, n, _son = split_son(people, units)
    assert n.card_no != a.card_no
    old = text(people.collector_client.get(f"/history/households/{a.id}"))
    assert 'data-testid="entry-split-to"' in old
    assert f"分出新户：多福巷社区 · 户卡 {n.card_no}。" in re.sub(r"<[^>]+>", "", old)
    assert f'<a href="/history/households/{n.id}">' in old
    new_page = text(people.collector_client.get(f"/history/households/{n.id}"))
    plain = re.sub(r"<[^>]+>", "", new_page)
    assert f"分户自 多福巷社区 · 户卡 {a.card_no}。" in plain
    assert f'<a href="/history/households/{a.id}">' in new_page
    assert "该户首次登记" not in plain and 'data-testid="entry-split-from"' in new_page
    [first] = history.household_history(people.collector, n.id)
    assert first.split_from is not None and first.split_from.household == a
    # Someone who may not open the other household reads its card number without a link.
    place = history._place_of(people.collector_b, a, n.current_version.created_at)
    assert (place.village, place.card_no, place.household) == ("多福巷社区", a.card_no, None)


def test_a_split_names_the_old_card_after_the_old_household_moved(people, units, make_user):
    """The old household later moves to village C with a new card: the new household's history
    still names it as it was at the split (village A, its old card), linked to it."""
    from app.domain import events

    a, n, _son = split_son(people, units)
    old_card = a.card_no
    new(people.collector_c, units["C"], seq=5)  # C's card 0001 is taken: a gets 0002 there
    transfer = events.request_transfer(people.collector, a.id, to_unit_id=units["C"].id,
                                       occurred_on=dt.date(2026, 11, 20), today=TODAY)
    db.session.commit()
    events.decide_transfer(make_user("village_leader", units["C"]), transfer.id, accept=True, today=TODAY)
    db.session.commit()
    assert (a.village, a.card_no) == (units["C"], "0002")
    [first] = history.household_history(people.verifier, n.id)
    assert (first.split_from.village, first.split_from.card_no) == ("多福巷社区", old_card)
    assert first.split_from.household is None  # a is in township T2 now, outside the verifier's area


def test_a_transfer_names_the_villages_groups_and_cards(people, units, make_user):
    """From group 第一组 of A (card 0001) to C (card 0002: C has a household already), then to B
    (card 0001 there): each transfer names where it came from and where it went, by name."""
    from app.domain import events

    leader_c = make_user("village_leader", units["C"], username="leader_c")
    new(people.collector_c, units["C"], seq=5)
    data = family()
    data["household"]["group_code"] = units["A1"].code  # as the form fills it in a group
    h = new(people.collector, units["A1"], data=data)
    assert (h.card_no, h.group.name) == ("0001", "第一组")
    transfer = events.request_transfer(people.collector, h.id, to_unit_id=units["C"].id,
                                       occurred_on=dt.date(2026, 11, 1), today=TODAY)
    db.session.commit()
    events.decide_transfer(leader_c, transfer.id, accept=True, today=TODAY)
    db.session.commit()
    first_card = h.card_no
    assert first_card == "0002"
    transfer = events.request_transfer(people.collector_c, h.id, to_unit_id=units["B"].id,
                                       occurred_on=dt.date(2026, 11, 15), today=TODAY)
    db.session.commit()
    events.decide_transfer(people.leader_b, transfer.id, accept=True, today=TODAY)
    db.session.commit()
    assert h.card_no == "0001" and h.village == units["B"]

    entries = history.household_history(people.verifier, h.id, "transfer")
    assert [((e.came_from.village, e.came_from.group, e.came_from.card_no),
             (e.went_to.village, e.went_to.group, e.went_to.card_no)) for e in entries] == [
        (("隆福寺社区", "", "0002"), ("银闸社区", "", "0001")),
        (("多福巷社区", "第一组", "0001"), ("隆福寺社区", "", "0002"))]
    page = text(people.verifier_client.get(f"/history/households/{h.id}"))
    plain = re.sub(r"<[^>]+>", "", page)
    assert "由 多福巷社区 第一组 · 户卡 0001 迁至 隆福寺社区 · 户卡 0002。" in plain
    assert "由 隆福寺社区 · 户卡 0002 迁至 银闸社区 · 户卡 0001。" in plain
    assert "村民小组: 第一组 → （空）" in plain
    assert units["A1"].code not in page  # the group by its name, never its code


# ------------------------------------------------------------------ a person's history

def moved_on(user, source: Household, index: int, to_user, to_unit, seq: int, on: dt.date) -> Household:
    """Member `index` of `source` moves to a new household elsewhere, as app.domain.events
    records it: a new member there whose move-in event links the person_id left behind, and a
    move-out here (status moved_out) whose event links the new one."""
    person = source.current_version.data["members"][index]
    target = new(to_user, to_unit, data=family(surname="刘", seq=seq))
    joined = {**person, "person_id": str(uuid.uuid4()), "relationship": "10"}

    def join(data):
        data["members"].append(joined)
    record(to_user, target, VersionKind.move_in, join, occurred_on=on,
           event={"person_ids": [joined["person_id"]], "other_household_id": str(source.id),
                  "from_person_id": person["person_id"]})
    record(user, source, VersionKind.move_out, move_out(index), occurred_on=on,
           event={"person_ids": [person["person_id"]], "other_household_id": str(target.id),
                  "to_person_id": joined["person_id"]})
    return target


def test_person_history_across_households_within_the_area(people, units):
    a = new(people.collector, units["A"])

    def newborn(data):  # no ID number yet: only the moves' links join the households
        birth(data)
        data["members"][-1]["id_number"] = ""
    record(people.collector, a, VersionKind.birth, newborn, occurred_on=dt.date(2026, 1, 5))
    baby = a.current_version.data["members"][4]
    b = moved_on(people.collector, a, 4, people.collector_b, units["B"], 2, dt.date(2026, 3, 1))
    c = moved_on(people.collector_b, b, 4, people.collector_c, units["C"], 3, dt.date(2026, 6, 1))

    def steps(user, **ask):
        found = history.person_history(user, **ask)
        return [(e.household.village.name, e.kind, e.member.kind, e.member.direction)
                if e.visible else "outside" for e in found.entries]

    # Born in A, moved to B, moved to C. The township verifier sees A and B; C is in another township.
    assert steps(people.verifier, person_id=uuid.UUID(baby["person_id"])) == [
        ("多福巷社区", "birth", "added", ""), ("多福巷社区", "move_out", "moved", "out"),
        ("银闸社区", "move_in", "moved", "in"), ("银闸社区", "move_out", "moved", "out"), "outside"]
    # The same from the last household's person_id, followed backwards.
    last_id = uuid.UUID(c.current_version.data["members"][4]["person_id"])
    first_id = uuid.UUID(baby["person_id"])
    assert steps(people.verifier, person_id=last_id) == steps(people.verifier, person_id=first_id)
    assert steps(people.collector_c, person_id=last_id) == [
        "outside", "outside", ("隆福寺社区", "move_in", "moved", "in")]
    found = history.person_history(people.collector_c, person_id=last_id)
    assert found.name == "张小宝" and found.id_number == ""

    # The page: details only where the viewer may look.
    page = text(people.collector_client.get(f"/history/persons/{baby['person_id']}"))
    assert page.count('data-testid="step"') == 2 and page.count('data-testid="step-outside"') == 2
    assert "银闸社区" not in page and "隆福寺社区" not in page and "张小宝" in page


def test_person_history_follows_a_split_and_a_merge(people, units):
    """Members moved with their history: a child without an ID number leaves with a split
    and joins a third household by a merge; every record of theirs is one person's history."""
    from app.domain import events

    a = new(people.collector, units["A"])

    def newborn(data):
        birth(data)
        data["members"][-1]["id_number"] = ""
    record(people.collector, a, VersionKind.birth, newborn, occurred_on=dt.date(2026, 11, 5))
    db.session.commit()
    son, baby = (a.current_version.data["members"][i]["person_id"] for i in (2, 4))
    name = a.current_version.data["members"][4]["name"]
    split = events.split(people.collector, a.id, person_ids=[son, baby], new_head=son, relationships={baby: "20"},
                         occurred_on=dt.date(2026, 11, 10), base_number=a.current_number,
                         submission_id=uuid.uuid4(), today=TODAY)
    db.session.commit()
    n = split.other.household
    m = new(people.collector, units["A"], seq=7, data=family(surname="刘", seq=7))
    rel = {p["person_id"]: "97" for p in n.current_version.data["members"]}
    events.merge(people.collector, m.id, other_household_id=n.id, relationships=rel,
                 occurred_on=dt.date(2026, 11, 15), base_number=1, other_base_number=n.current_number,
                 submission_id=uuid.uuid4(), today=TODAY)
    db.session.commit()
    last = next(p for p in m.current_version.data["members"] if p["name"] == name)

    def steps(person_id):
        found = history.person_history(people.verifier, person_id=uuid.UUID(person_id))
        return [(e.household.card_no, e.kind, e.member.kind, e.member.direction) for e in found.entries]

    expected = [(a.card_no, "birth", "added", ""), (a.card_no, "split", "moved", "out"),
                (n.card_no, "split", "moved", "in"), (n.card_no, "merge", "moved", "out"),
                (m.card_no, "merge", "moved", "in")]
    assert steps(baby) == expected
    assert steps(last["person_id"]) == expected  # the same followed backwards from the last record


def test_person_history_puts_the_registration_before_a_split_recorded_later(people, units):
    """Household a was registered on 20 November; a split that happened on 10 November was
    recorded after that. Oldest first is the order of the register: the registration, then the
    split out of a, then the split into the new household (the dates they happened are shown)."""
    a, n, son = split_son(people, units, registered_at=shanghai(2026, 11, 20, 10, 0))
    found = history.person_history(people.verifier, person_id=uuid.UUID(son))
    assert [(e.household.card_no, e.kind, e.member.kind, e.member.direction) for e in found.entries] == [
        (a.card_no, "create", "added", ""), (a.card_no, "split", "moved", "out"),
        (n.card_no, "split", "moved", "in")]
    page = text(people.verifier_client.get(f"/history/persons/{son}"))
    assert re.findall(r'data-testid="step" data-kind="(\w+)"', page) == ["create", "split", "split"]
    assert page.index("新建住户") < page.index("分户") and "2026-11-10" in page


def test_person_history_by_id_number(people, units):
    """The same ID number in two households is one person, whatever their person_ids."""
    a = new(people.collector, units["A"], seq=1)
    son = a.current_version.data["members"][2]
    b = new(people.collector_b, units["B"], data={"household": {"household_type": "family", "door_no": "5号"},
                                                  "members": [{**son, "person_id": str(uuid.uuid4()),
                                                               "relationship": "02"}]})
    assert b.persons[0].id_number == son["id_number"]
    found = history.person_history(people.verifier, id_number=son["id_number"].lower())
    assert [(e.household.village.name, e.kind, e.member.kind) for e in found.entries] == [
        ("多福巷社区", "create", "added"), ("银闸社区", "create", "added")]
    mine = history.person_history(people.collector, person_id=uuid.UUID(son["person_id"]))
    assert [e.visible for e in mine.entries] == [True, False]
    page = text(people.collector_client.get(f"/history/persons/{son['person_id']}"))
    assert son["id_number"] not in page and son["id_number"][-4:] in page  # masked


def test_a_person_only_outside_the_area_is_not_found(people, units):
    b = new(people.collector_b, units["B"])
    pid = b.persons[0].id
    with pytest.raises(NotFound):
        history.person_history(people.collector, person_id=pid)
    with pytest.raises(NotFound):
        history.person_history(people.collector, id_number=b.persons[0].id_number)
    with pytest.raises(NotFound):
        history.person_history(people.collector, person_id=uuid.uuid4())
    assert people.collector_client.get(f"/history/persons/{pid}").status_code == 404


# ------------------------------------------------------------------ the month list

def shanghai(y, mo, d, h, mi) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, tzinfo=dt.timezone(dt.timedelta(hours=8))).astimezone(UTC)


def test_month_list_boundaries(people, units):
    h = new(people.collector, units["A"])
    other = new(people.collector, units["A"], seq=2)
    cases = {
        # Recorded at noon of the day they happened.
        "occurred 10-31": (h, dt.date(2026, 10, 31), shanghai(2026, 10, 31, 12, 0)),
        "occurred 11-01": (h, dt.date(2026, 11, 1), shanghai(2026, 11, 1, 12, 0)),
        "occurred 11-30": (h, dt.date(2026, 11, 30), shanghai(2026, 11, 30, 12, 0)),
        "occurred 12-01": (h, dt.date(2026, 12, 1), shanghai(2026, 12, 1, 12, 0)),
        # Recorded in the first minutes of November in Shanghai (still 31 October in UTC).
        "late, recorded 11-01 00:30": (other, dt.date(2026, 10, 20), shanghai(2026, 11, 1, 0, 30)),
        # Recorded in the last minutes of November in Shanghai, and just after it.
        "late, recorded 11-30 23:30": (other, dt.date(2026, 10, 5), shanghai(2026, 11, 30, 23, 30)),
        "recorded 12-01 00:30": (other, dt.date(2026, 11, 10), shanghai(2026, 12, 1, 0, 30)),
        "late, recorded 10-31 23:30": (other, dt.date(2026, 10, 2), shanghai(2026, 10, 31, 23, 30)),
    }
    made = {}
    for name, (target, occurred, at) in cases.items():
        def note(data, name=name):
            data["household"]["notes"] = name
        version = record(people.collector, target, VersionKind.head_change, note, occurred_on=occurred, at=at)
        made[version.id] = name
    record(people.collector, h, VersionKind.edit, lambda d: d["household"].update(door_no="7号"))

    def month(user, y, m):
        result = history.month_changes(user, units["A"].id, y, m)
        return [(made[c.version.id], c.late) for c in result.changes]

    november = month(people.leader, 2026, 11)
    assert sorted(november) == sorted([
        ("occurred 11-01", False), ("occurred 11-30", False), ("recorded 12-01 00:30", False),
        ("late, recorded 11-01 00:30", True), ("late, recorded 11-30 23:30", True)])
    # On time first, by date of occurrence; then the late registrations.
    assert [late for _name, late in november] == [False, False, False, True, True]
    assert [name for name, _late in november][:3] == [
        "occurred 11-01", "recorded 12-01 00:30", "occurred 11-30"]
    assert sorted(month(people.verifier, 2026, 10)) == sorted([
        ("occurred 10-31", False), ("late, recorded 11-01 00:30", False),
        ("late, recorded 11-30 23:30", False), ("late, recorded 10-31 23:30", False)])
    assert sorted(month(people.verifier, 2026, 12)) == [
        ("occurred 12-01", False), ("recorded 12-01 00:30", True)]
    result = history.month_changes(people.leader, units["A"].id, 2026, 12)
    assert (result.first, result.last, result.previous, result.next) == (
        dt.date(2026, 12, 1), dt.date(2026, 12, 31), (2026, 11), (2027, 1))


def test_month_list_for_the_leader_the_verifier_and_the_village_collectors(people, units, make_user):
    """Leaders and verifiers see the whole village; a collector the households of their own units
    (the village, or their group of it); nobody sees another village's list."""
    collector_a1 = make_user("collector", units["A1"], username="collector_a1", name="组采集员")
    h = new(people.collector, units["A"])
    in_a1 = new(people.collector, units["A1"], seq=2)
    for target, who in ((h, people.collector), (in_a1, collector_a1)):
        record(who, target, VersionKind.birth, birth, occurred_on=dt.date(2026, 11, 5),
               at=shanghai(2026, 11, 6, 9, 0))

    def cards(user) -> list[str]:
        return sorted(c.household.card_no for c in history.month_changes(user, units["A"].id, 2026, 11).changes)

    assert cards(people.leader) == cards(people.verifier) == cards(people.collector) == sorted(
        [h.card_no, in_a1.card_no])
    assert cards(collector_a1) == [in_a1.card_no]
    assert not history.month_changes(people.leader, units["A"].id, 2026, 11).own_units_only
    assert history.month_changes(collector_a1, units["A"].id, 2026, 11).own_units_only
    for outsider in (people.leader_b, people.collector_b, people.collector_c):
        with pytest.raises(NotFound):
            history.month_changes(outsider, units["A"].id, 2026, 11)
    with pytest.raises(NotFound):
        history.month_changes(people.verifier, units["T1"].id, 2026, 11)
    with pytest.raises(NotFound):  # a group is not a village
        history.month_changes(collector_a1, units["A1"].id, 2026, 11)
    clerk = make_user("clerk", units["A"], username="clerk_a")
    with pytest.raises(Forbidden):
        history.month_changes(clerk, units["A"].id, 2026, 11)
    assert [v.code for v in history.month_villages(people.verifier)] == [units["A"].code, units["B"].code]
    assert [v.code for v in history.month_villages(people.collector)] == [units["A"].code]
    assert [v.code for v in history.month_villages(collector_a1)] == [units["A"].code]
    assert history.month_villages(clerk) == []


def test_the_collector_opens_the_month_list_of_their_households(people, units, make_user, new_client):
    """Over HTTP: the collector's own village's changes, reached from a household's history; the
    group's collector sees their group's households only; another village's collector gets 404."""
    h = new(people.collector, units["A"])
    other = new(people.collector, units["A2"], seq=2)
    record(people.collector, h, VersionKind.birth, birth, occurred_on=dt.date(2026, 11, 5),
           at=shanghai(2026, 11, 6, 9, 0))
    record(people.collector, other, VersionKind.death, death(0), occurred_on=dt.date(2026, 11, 20),
           at=shanghai(2026, 11, 21, 9, 0))
    month_url = f"/history/villages/{units['A'].id}/changes"
    history_page = text(people.collector_client.get(f"/history/households/{h.id}"))
    assert f'href="{month_url}"' in history_page and 'data-testid="month-link"' in history_page
    resp = people.collector_client.get("/history/changes")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(month_url)
    page = text(people.collector_client.get(f"{month_url}?month=2026-11"))
    assert page.count('data-testid="change"') == 2 and "张小宝" in page
    assert "只有村（居）负责人" not in page and 'data-testid="own-units-only"' in page

    def client_of(unit, username):
        make_user("collector", unit, username=username)
        c = new_client()
        c.login(username)
        return c

    empty = text(client_of(units["A1"], "collector_a1").get(f"{month_url}?month=2026-11"))
    assert 'data-testid="change"' not in empty and 'data-testid="own-units-only"' in empty
    mine = text(client_of(units["A2"], "collector_a2").get(f"{month_url}?month=2026-11"))
    assert mine.count('data-testid="change"') == 1 and 'data-kind="death"' in mine and "张小宝" not in mine

    outsider = new_client()
    outsider.login(people.collector_b.username)
    assert outsider.get(f"{month_url}?month=2026-11").status_code == 404
    # The leader's list is the whole village, without the collector's note.
    whole = text(people.leader_client.get(f"{month_url}?month=2026-11"))
    assert whole.count('data-testid="change"') == 2 and 'data-testid="own-units-only"' not in whole


def test_month_page_with_navigation(people, units):
    h = new(people.collector, units["A"])
    record(people.collector, h, VersionKind.birth, birth, occurred_on=dt.date(2026, 11, 5),
           at=shanghai(2026, 11, 6, 9, 0))
    record(people.collector, h, VersionKind.death, death(0, "2026-10-28"), occurred_on=dt.date(2026, 10, 28),
           at=shanghai(2026, 11, 7, 9, 0))
    lc = people.leader_client
    # The leader's queue links to the list; with one village it opens at once.
    assert 'data-testid="month-link"' in text(lc.get("/review/leader"))
    resp = lc.get("/history/changes")
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith(f"/history/villages/{units['A'].id}/changes")
    page = text(lc.get(f"/history/villages/{units['A'].id}/changes?month=2026-11"))
    assert page.count('data-testid="change"') == 2 and page.count('data-late="yes"') == 1
    assert page.index('data-kind="birth"') < page.index('data-kind="death"')
    assert "张小宝" in page and "2026-11-01" in page and "2026-11-30" in page  # the dates the list uses
    assert "month=2026-10" in page and "month=2026-12" in page
    january = text(lc.get(f"/history/villages/{units['A'].id}/changes?month=2027-01"))
    assert "month=2026-12" in january and "month=2027-02" in january and 'data-testid="change"' not in january
    # An unreadable month shows this month.
    this = reg.today()
    title = f"{this.year}-{this.month:02d}"
    assert title in text(lc.get(f"/history/villages/{units['A'].id}/changes?month=garbage")).split("</h1>")[0]
