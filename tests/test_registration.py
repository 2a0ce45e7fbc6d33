"""Registration domain: versions, card numbers, person mirror, idempotency, scope, search."""
from __future__ import annotations

import copy
import threading
import uuid

import pytest
from sqlalchemy import func, select

from app.domain import registration as reg
from app.domain.errors import Conflict, Invalid, NotFound
from app.extensions import db
from app.models import AuditEntry, Household, HouseholdVersion, Person
from tests.support.households import TODAY, family, member


@pytest.fixture
def collector_a(units, make_user):
    return make_user("collector", units["A"], username="col_a")


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_new_household_gets_a_card_number_a_version_and_persons(app, units, collector_a):
    result = reg.new_household(collector_a, unit_id=units["A"].id, data=family(), today=TODAY)
    db.session.commit()
    h = result.household
    assert result.created and h.card_no == "0001" and h.current_number == 1 and h.complete
    assert h.head_name == "张建国" and h.member_count == 4 and h.unit_path == units["A"].path
    assert result.version.kind == "create" and len(result.version.content_hash) == 64
    persons = db.session.scalars(select(Person).where(Person.household_id == h.id).order_by(Person.position)).all()
    assert [p.name for p in persons] == ["张建国", "李秀英", "张伟", "张丽"]
    assert persons[0].is_head and persons[0].name_initials == "zjg" and persons[2].name_pinyin == "zhangwei"
    assert persons[0].id_tail == persons[0].id_number[-4:]
    entry = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert entry.action == "household.create" and entry.details["card_no"] == "0001"
    second = reg.new_household(collector_a, unit_id=units["A1"].id, data=family("王", 2), today=TODAY)
    assert second.household.card_no == "0002" and second.household.group_id == units["A1"].id


def test_card_numbers_count_per_village(app, units, make_user):
    col_b = make_user("collector", units["B"])
    col_a = make_user("collector", units["A"])
    assert reg.new_household(col_a, unit_id=units["A"].id, data=family(), today=TODAY).household.card_no == "0001"
    assert reg.new_household(col_b, unit_id=units["B"].id, data=family(), today=TODAY).household.card_no == "0001"


def test_a_draft_with_errors_is_saved_with_its_issues(app, units, collector_a):
    data = family()
    data["members"][1]["id_number"] = data["members"][1]["id_number"][:-1] + (
        "0" if data["members"][1]["id_number"][-1] != "0" else "1")
    del data["members"][0]["relationship"]
    result = reg.new_household(collector_a, unit_id=units["A"].id, data=data, today=TODAY)
    rules = {(i["rule"], i["path"]) for i in result.issues}
    assert ("id.checksum", "members[1].id_number") in rules
    assert ("field.required", "members[0].relationship") in rules
    assert not result.version.complete and not result.household.complete
    # what was typed is kept, even the wrong number
    assert result.version.data["members"][1]["id_number"] == data["members"][1]["id_number"]


def test_only_collectors_in_scope_register(app, units, make_user, collector_a):
    col_b = make_user("collector", units["B"])
    leader_a = make_user("village_leader", units["A"])
    for actor in (col_b, leader_a):
        with pytest.raises(NotFound):
            reg.new_household(actor, unit_id=units["A"].id, data=family(), today=TODAY)
    with pytest.raises(NotFound):  # a township is not a place for a household
        reg.new_household(collector_a, unit_id=units["T1"].id, data=family(), today=TODAY)
    h = reg.new_household(collector_a, unit_id=units["A"].id, data=family(), today=TODAY).household
    db.session.commit()
    with pytest.raises(NotFound):
        reg.get_household(col_b, h.id)
    assert reg.get_household(leader_a, h.id) is h
    assert not reg.can_edit(leader_a, h) and reg.can_edit(collector_a, h)


def test_edit_makes_a_new_version_and_keeps_the_old(app, units, collector_a):
    first = reg.new_household(collector_a, unit_id=units["A"].id, data=family(), today=TODAY)
    db.session.commit()
    data = copy.deepcopy(first.version.data)
    data["members"].append(member("张小宝", "20", "2020-01-01", "1", seq=5))
    second = reg.save_household(collector_a, first.household.id, data=data, base_number=1, today=TODAY)
    db.session.commit()
    assert second.version.number == 2 and second.version.base_number == 1 and second.version.kind == "edit"
    assert second.household.member_count == 5 and _count(HouseholdVersion) == 2
    assert len(db.session.get(HouseholdVersion, first.version.id).data["members"]) == 4
    assert [v.number for v in reg.history(collector_a, first.household.id)] == [2, 1]


def test_a_stale_edit_is_refused_and_changes_nothing(app, units, collector_a):
    first = reg.new_household(collector_a, unit_id=units["A"].id, data=family(), today=TODAY)
    db.session.commit()
    data = copy.deepcopy(first.version.data)
    reg.save_household(collector_a, first.household.id, data=data, base_number=1, today=TODAY)
    db.session.commit()
    data["household"]["phone"] = "13800138000"
    with pytest.raises(Conflict) as e:
        reg.save_household(collector_a, first.household.id, data=data, base_number=1, today=TODAY)
    db.session.rollback()
    assert "第 2 版" in e.value.message and _count(HouseholdVersion) == 2


def test_a_person_is_never_left_out(app, units, collector_a):
    first = reg.new_household(collector_a, unit_id=units["A"].id, data=family(), today=TODAY)
    db.session.commit()
    data = copy.deepcopy(first.version.data)
    data["members"].pop()
    with pytest.raises(Invalid) as e:
        reg.save_household(collector_a, first.household.id, data=data, base_number=1, today=TODAY)
    assert "张丽" in e.value.message
    db.session.rollback()
    data["members"] = copy.deepcopy(first.version.data["members"])
    data["members"][3].update(status="moved_out", cancelled_on="2026-01-01", cancellation_reason="外嫁")
    result = reg.save_household(collector_a, first.household.id, data=data, base_number=1, today=TODAY)
    assert result.household.member_count == 3
    assert db.session.get(Person, uuid.UUID(data["members"][3]["person_id"])).status == "moved_out"


def test_a_member_of_another_household_cannot_be_taken_over(app, units, collector_a):
    one = reg.new_household(collector_a, unit_id=units["A"].id, data=family(), today=TODAY)
    db.session.commit()
    data = family("王", 2)
    data["members"].append(copy.deepcopy(one.version.data["members"][3]))
    with pytest.raises(Invalid):
        reg.new_household(collector_a, unit_id=units["A"].id, data=data, today=TODAY)


def test_the_same_submission_twice_makes_one_version(app, units, collector_a):
    sid = uuid.uuid4()
    data = family()
    for m in data["members"]:
        del m["person_id"]  # new members: ids come from the submission, so a replay matches
    first = reg.new_household(collector_a, unit_id=units["A"].id, data=data, submission_id=sid, today=TODAY)
    db.session.commit()
    again = reg.new_household(collector_a, unit_id=units["A"].id, data=data, submission_id=sid, today=TODAY)
    assert not again.created and again.version.id == first.version.id
    assert _count(Household) == 1 and _count(HouseholdVersion) == 1
    other = copy.deepcopy(data)
    other["household"]["phone"] = "13800138000"
    with pytest.raises(Conflict):
        reg.new_household(collector_a, unit_id=units["A"].id, data=other, submission_id=sid, today=TODAY)


def test_concurrent_identical_submissions_make_one_version(app, units, collector_a):
    sid = uuid.uuid4()
    data = family()
    answers, errors = [], []
    user_id, unit_id = collector_a.id, units["A"].id
    db.session.commit()  # end the test's own transaction: on SQLite it holds the write lock

    def submit():
        try:
            with app.app_context():
                from app.models import User
                actor = db.session.get(User, user_id)
                result = reg.new_household(actor, unit_id=unit_id, data=data, submission_id=sid, today=TODAY)
                db.session.commit()
                answers.append((result.version.id, result.household.card_no))
                db.session.remove()
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(set(answers)) == 1 and len(answers) == 8
    db.session.expire_all()
    assert _count(Household) == 1 and _count(HouseholdVersion) == 1


def test_an_id_number_registered_elsewhere_is_a_warning_within_scope(app, units, make_user, collector_a):
    col_c = make_user("collector", units["C"])
    one = reg.new_household(collector_a, unit_id=units["A"].id, data=family(), today=TODAY)
    db.session.commit()
    data = family("王", 2)
    data["members"][3]["id_number"] = one.version.data["members"][3]["id_number"]
    mine = reg.new_household(collector_a, unit_id=units["A"].id, data=data, today=TODAY)
    found = [i for i in mine.issues if i["rule"] == "id.registered_elsewhere"]
    assert len(found) == 1 and found[0]["level"] == "warning" and mine.version.complete
    assert "多福巷社区第0001号户卡" in found[0]["message"]["zh"]
    db.session.rollback()
    theirs = reg.new_household(col_c, unit_id=units["C"].id, data=data, today=TODAY)
    found = [i for i in theirs.issues if i["rule"] == "id.registered_elsewhere"]
    assert found[0]["message"]["zh"].endswith("已登记在其他地方") and "0001" not in found[0]["message"]["zh"]


def test_group_must_be_in_the_village(app, units, collector_a):
    data = family()
    data["household"]["group_code"] = units["A2"].code
    h = reg.new_household(collector_a, unit_id=units["A"].id, data=data, today=TODAY).household
    assert h.group_id == units["A2"].id and h.unit_path == units["A2"].path
    data = family("王", 2)
    data["household"]["group_code"] = "110101001002001"  # not a group of A
    with pytest.raises(Invalid) as e:
        reg.new_household(collector_a, unit_id=units["A"].id, data=data, today=TODAY)
    assert e.value.field == "household.group_code"


def test_search(app, units, make_user, collector_a):
    col_b = make_user("collector", units["B"])
    a = reg.new_household(collector_a, unit_id=units["A"].id, data=family("张", 1), today=TODAY).household
    b = reg.new_household(collector_a, unit_id=units["A"].id, data=family("曾", 2), today=TODAY).household
    reg.new_household(col_b, unit_id=units["B"].id, data=family("张", 3), today=TODAY)
    db.session.commit()

    def found(q, actor=collector_a, **kw):
        return [h.card_no for h in reg.search_households(actor, q=q, **kw).items]

    assert found("") == ["0001", "0002"]
    assert found("2") == ["0002"] and found("0001") == ["0001"]
    assert found("张建国") == ["0001"] and found("秀英") == ["0001", "0002"]
    # The beginning of the whole name or of the given name; normalised like the register's names.
    assert found("张建") == ["0001"] and found("建国") == ["0001", "0002"]
    assert found("張建國") == ["0001"] and found("张 建 国") == ["0001"]
    assert found("国") == [] and found("张三") == []
    assert found("zjg") == ["0001", "0002"]  # 张建国 and 曾建国 (曾 read zeng, not ceng)
    assert found("zhangj") == ["0001"] and found("zengjian") == ["0002"] and found("ZHANGW") == ["0001"]
    tail = db.session.scalar(select(Person.id_tail).where(Person.household_id == b.id, Person.position == 0))
    assert "0002" in found(tail)
    assert found("zjg", actor=col_b) == ["0001"] and found("", actor=col_b) == ["0001"]  # B's own only
    assert found("", unit_id=units["A"].id) == ["0001", "0002"]
    assert found("", state="verified") == []
    with pytest.raises(NotFound):
        found("", actor=col_b, unit_id=units["A"].id)
    assert a.id != b.id


def test_concurrent_new_households_in_one_village_get_distinct_card_numbers(app, units, make_user):
    """Different households saved at the same moment in one village (found by the bench)."""
    collectors = [make_user("collector", units["A"], username=f"racer{i}").id for i in range(6)]
    unit_id = units["A"].id
    db.session.commit()
    cards, errors = [], []
    barrier = threading.Barrier(len(collectors))

    def create(user_id: int, seq: int):
        try:
            with app.app_context():
                from app.models import User
                actor = db.session.get(User, user_id)
                db.session.commit()
                barrier.wait(timeout=10)
                result = reg.new_household(actor, unit_id=unit_id, data=family("王", seq), today=TODAY)
                db.session.commit()
                cards.append(result.household.card_no)
                db.session.remove()
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=create, args=(uid, i + 1)) for i, uid in enumerate(collectors)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(cards) == [f"{n:04d}" for n in range(1, 7)]
