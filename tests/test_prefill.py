"""Pre-filled households from an imported police list or register (issue 16, app.domain.prefill):
grouped by 户号 into their villages, members head first with GB/T 4761 codes, the source in
the first version, the normal chain afterwards; police pre-fills not collected until "核对无误";
a newer register renews untouched households and leaves a notice on touched ones; an old
register's card numbers kept, a taken one flagged; the pages and the command line."""
from __future__ import annotations

import datetime as dt
import re
import uuid
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from app.domain import books, prefill, workflow
from app.domain import registration as reg
from app.domain.errors import Conflict
from app.extensions import db
from app.models import (AuditEntry, Household, HouseholdNotice, HouseholdVersion, ImportedList, ListRecord, ListRecordLink, Person,
                        WorkflowAction)
from tests.support.households import TODAY, family, id_number

A = WorkflowAction
SIGN = [[[100, 100], [400, 130], [700, 100]], [[250, 60], [260, 200], [240, 330]]]
ADDRESS = "北京市东城区东华门街道多福巷社区"


@pytest.fixture
def people(units, make_user):
    return SimpleNamespace(
        clerk=make_user("clerk", units["T1"], username="clerk_t1", name="档案员"),
        collector=make_user("collector", units["A"], username="collector_a", name="采集员甲"),
        other=make_user("collector", units["A1"], username="collector_a1", name="采集员丁"),
        leader=make_user("village_leader", units["A"], username="leader_a", name="村干部乙"),
        verifier=make_user("verifier", units["T1"], username="verifier_t1", name="审核员丙"),
    )


def person(name, relation, birth, sex, *, seq=1, key=None, card=None, village, address=None, record_id=None):
    return {"name": name, "relation": relation, "birth_date": dt.date.fromisoformat(birth), "sex": sex,
            "id_number": id_number(birth, sex, seq), "household_no": key, "card_no": card, "village": village,
            "address": address, "record_id": record_id}


def make_list(rows, *, source="police", unit) -> ImportedList:
    """An imported list as app.domain.lists leaves it: loaded, one ListRecord per row."""
    lst = ImportedList(source=source, file_name=f"{source}.csv", file_sha256=uuid.uuid4().hex * 2,
                       mapping={"name": "姓名", "card_no": "户卡编号", "household_no": "户号"},
                       unit_id=unit.id, unit_path=unit.path, state="loaded", rows_read=len(rows),
                       rows_loaded=len(rows))
    db.session.add(lst)
    db.session.flush()
    for line, r in enumerate(rows, start=2):
        village = r["village"]
        db.session.add(ListRecord(
            list_id=lst.id, line=line, record_id=r.get("record_id"), row_hash=uuid.uuid4().hex * 2,
            village_id=village.id if village else None, unit_path=village.path if village else unit.path,
            name=r["name"], name_norm=r["name"], sex=r["sex"], birth_date=r["birth_date"], id_number=r["id_number"],
            household_no=r.get("household_no"), card_no=r.get("card_no"), relation=r["relation"],
            address=r.get("address"), raw={}, extras={}, flags=[]))
    db.session.commit()
    return lst


def police_rows(units):
    a, b = units["A"], units["B"]
    return [
        # listed son first: the head still comes first
        person("王小明", "20", "1995-07-03", "1", seq=1, key="110001", village=a,
               address=ADDRESS + "1组12号", record_id="GA1"),
        person("王建国", "02", "1970-03-01", "1", seq=1, key="110001", village=a,
               address=ADDRESS + "1组12号", record_id="GA2"),
        person("李秀英", "12", "1972-05-02", "2", seq=1, key="110001", village=a,
               address=ADDRESS + "1组12号", record_id="GA3"),
        person("赵大山", "02", "1950-01-05", "1", seq=2, key="110002", village=a,
               address=ADDRESS + "10号院25号", record_id="GA4"),
        person("钱多多", "02", "1980-02-06", "2", seq=3, key="220001", village=b,
               address="北京市东城区东华门街道银闸社区3栋2单元301室", record_id="GA5"),
        person("孙一", "41", "2010-08-08", "1", seq=4, key="220001", village=b, record_id="GA6"),
    ]


def _households(list_id):
    return list(db.session.scalars(select(Household).where(Household.source_list_id == list_id)
                                   .order_by(Household.village_id, Household.card_no)))


def _names(h):
    return [p.name for p in sorted(h.persons, key=lambda p: p.position)]


# ------------------------------------------------------------------ grouping


def test_households_are_grouped_by_household_no_into_their_villages(units, people):
    lst = make_list(police_rows(units), unit=units["T1"])
    result = prefill.prefill(people.clerk, lst.id, key="household_no", today=TODAY)
    db.session.commit()

    assert (result.created, result.updated, result.noticed, result.skipped) == (3, 0, 0, 0)
    hs = _households(lst.id)
    by_key = {h.source_key: h for h in hs}
    assert set(by_key) == {"110001", "110002", "220001"}
    assert by_key["110001"].village_id == by_key["110002"].village_id == units["A"].id
    assert by_key["220001"].village_id == units["B"].id
    assert _names(by_key["110001"]) == ["王建国", "李秀英", "王小明"]  # head first
    assert by_key["110001"].head_name == "王建国" and by_key["110001"].member_count == 3
    # every record points at its household
    links = dict(db.session.execute(select(ListRecord.record_id, ListRecordLink.household_id)
                                    .join(ListRecordLink, ListRecordLink.record_id == ListRecord.id)
                                    .where(ListRecord.list_id == lst.id)).all())
    assert links["GA1"] == links["GA2"] == links["GA3"] == by_key["110001"].id
    assert links["GA5"] == links["GA6"] == by_key["220001"].id
    # the first version records the source; a draft of the pre-fill's origin, not collected
    h = by_key["110001"]
    v = h.current_version
    assert (v.number, v.kind, h.state, h.origin, h.collected_at) == (1, "create", "draft", "police", None)
    assert v.event["source"] == "police" and v.event["list_id"] == lst.id
    assert sorted(v.event["record_ids"]) == sorted(db.session.scalars(
        select(ListRecord.id).where(ListRecord.record_id.in_(["GA1", "GA2", "GA3"]))))
    assert v.content_hash == reg.content_hash(v.data)
    # card numbers from the village's counter
    assert sorted(h.card_no for h in hs if h.village_id == units["A"].id) == ["0001", "0002"]
    # the address kept as text, split where it can be
    household = v.data["household"]
    assert household["address"] == ADDRESS + "1组12号"
    assert (household["group_code"], household["room"]) == (units["A1"].code, "12")
    assert h.group_id == units["A1"].id and h.unit_path == units["A1"].path
    yard = by_key["110002"].current_version.data["household"]
    assert (yard["building"], yard["room"], yard.get("group_code")) == ("10号院", "25", None)
    flat = by_key["220001"].current_version.data["household"]
    assert (flat["building"], flat["unit"], flat["room"]) == ("3栋", "2", "301")
    # one audit entry per village and one for the run
    actions = list(db.session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("list.prefill%"))))
    assert sorted(actions) == ["list.prefill", "list.prefill_village", "list.prefill_village"]

    # running it again makes nothing more
    again = prefill.prefill(people.clerk, lst.id, key="household_no", today=TODAY)
    db.session.commit()
    assert again.created == 0 and len(_households(lst.id)) == 3


def test_forms_built_in_a_worker_process_make_the_same_households(units, people):
    """--workers: the forms are built and checked in another process (spawned: it never
    touches the database), and the households are those the single process makes."""
    lst = make_list(police_rows(units), unit=units["T1"])
    result = prefill.prefill(people.clerk, lst.id, key="household_no", today=TODAY, workers=1, pool_from=0,
                             commit=db.session.commit)
    assert (result.created, result.skipped) == (3, 0)
    by_key = {h.source_key: h for h in _households(lst.id)}
    assert _names(by_key["110001"]) == ["王建国", "李秀英", "王小明"]
    assert [p.relationship_code for p in sorted(by_key["220001"].persons, key=lambda p: p.position)] == ["02", "41"]
    v = by_key["110001"].current_version
    assert v.content_hash == reg.content_hash(v.data) and v.data["household"]["room"] == "12"
    assert by_key["110001"].persons[0].name_pinyin in {"wangjianguo", "lixiuying", "wangxiaoming"}


def test_relationships_are_gb_t_4761_codes_on_the_persons(units, people):
    rows = police_rows(units)[:3] + [
        # a register that writes the head as 01 本人
        person("周本人", "01", "1960-04-04", "1", seq=5, key="110009", village=units["A"]),
        person("吴妻", "12", "1962-04-04", "2", seq=5, key="110009", village=units["A"]),
    ]
    lst = make_list(rows, unit=units["T1"])
    prefill.prefill(people.clerk, lst.id, today=TODAY)
    db.session.commit()
    codes = dict(db.session.execute(select(Person.name, Person.relationship_code)).all())
    assert codes == {"王建国": "02", "李秀英": "12", "王小明": "20", "周本人": "02", "吴妻": "12"}
    heads = set(db.session.scalars(select(Person.name).where(Person.is_head.is_(True))))
    assert heads == {"王建国", "周本人"}


def test_the_address_split():
    s = prefill.split_address
    assert s("湖南省永州市新田县龙泉街道双碧社区居委会10号院25号") == prefill.Address(None, "10号院", None, "25")
    assert s("湖南省永州市新田县金盆镇李仟二村5组18号") == prefill.Address(5, None, None, "18")
    assert s("某村第三组7号") == prefill.Address(3, None, None, "7")
    assert s("某小区3栋2单元301室") == prefill.Address(None, "3栋", "2", "301")
    assert s("某村") == prefill.Address()
    assert [prefill.group_number(n) for n in ("第一组", "5组", "第十二村民小组", "二十三组", "东组")] == \
        [1, 5, 12, 23, None]


# ------------------------------------------------------------------ the chain, collected or not


def _do(user, h, action, **kw):
    kw.setdefault("version_number", h.current_number)
    kw.setdefault("strokes", SIGN)
    event = workflow.transition(user, h.id, action, **kw)
    db.session.commit()
    return event


def test_police_prefill_counts_as_collected_only_after_checked_unchanged(units, people):
    lst = make_list(police_rows(units)[:3], unit=units["T1"])
    prefill.prefill(people.clerk, lst.id, today=TODAY)
    db.session.commit()
    h = _households(lst.id)[0]
    assert h.to_verify
    # not in the clerk's books, nor counted there, nor submitted before the door
    assert books.unslotted_count(units["A"]) == 0
    assert books.assign_slots(people.clerk, units["A"]) == 0
    with pytest.raises(Conflict):
        workflow.transition(people.collector, h.id, A.submit, version_number=1, strokes=SIGN)
    db.session.rollback()

    done = prefill.checked_unchanged(people.collector, h.id, base_number=1, today=TODAY)
    db.session.commit()
    assert not done.repeated
    h = db.session.get(Household, h.id)
    assert h.collected_at is not None and not h.to_verify and h.current_number == 2
    v1, v2 = db.session.scalars(select(HouseholdVersion).where(HouseholdVersion.household_id == h.id)
                                .order_by(HouseholdVersion.number))
    assert v2.content_hash == v1.content_hash and v2.created_by_id == people.collector.id
    # a double tap saves nothing more
    again = prefill.checked_unchanged(people.collector, h.id, base_number=1, today=TODAY)
    db.session.commit()
    assert again.repeated and db.session.get(Household, h.id).current_number == 2
    assert books.unslotted_count(units["A"]) == 1

    # then the normal chain
    _do(people.collector, h, A.submit)
    _do(people.leader, h, A.confirm)
    _do(people.verifier, h, A.verify)
    assert db.session.get(Household, h.id).state == "verified"


def test_register_prefill_counts_as_collected_and_goes_through_the_chain(units, people):
    rows = [person("王建国", "02", "1970-03-01", "1", card="3", village=units["A"], address=ADDRESS + "2组1号"),
            person("李秀英", "12", "1972-05-02", "2", card="3", village=units["A"])]
    lst = make_list(rows, source="register", unit=units["T1"])
    prefill.prefill(people.clerk, lst.id, key="village_card_no", today=TODAY)
    db.session.commit()
    (h,) = _households(lst.id)
    assert (h.origin, h.card_no, h.group_id) == ("register", "0003", units["A2"].id)
    assert h.collected_at is not None and h.complete, h.current_version.issues
    _do(people.collector, h, A.submit)
    _do(people.leader, h, A.confirm)
    _do(people.verifier, h, A.verify)
    h = db.session.get(Household, h.id)
    assert h.state == "verified" and h.last_verified_version_id == h.current_version_id


# ------------------------------------------------------------------ card numbers of an old register


def test_card_numbers_are_kept_and_a_taken_one_is_flagged(units, people):
    taken = reg.new_household(people.collector, unit_id=units["A"].id, data=family(), today=TODAY).household
    db.session.commit()
    assert taken.card_no == "0001"
    a = units["A"]
    rows = [person("甲一", "02", "1970-01-01", "1", seq=1, card="1", village=a),
            person("乙一", "02", "1971-01-01", "1", seq=2, card="0007", village=a),
            person("丙一", "02", "1972-01-01", "1", seq=3, card="12", village=a)]
    lst = make_list(rows, source="register", unit=units["T1"])
    result = prefill.prefill(people.clerk, lst.id, key="village_card_no", today=TODAY)
    db.session.commit()
    cards = {h.head_name: h.card_no for h in _households(lst.id)}
    assert cards == {"乙一": "0007", "丙一": "0012", "甲一": "0013"}
    assert result.flagged == 1
    flags = dict(db.session.execute(select(ListRecord.name, ListRecord.flags).where(ListRecord.list_id == lst.id)).all())
    assert [f["reason"] for f in flags["甲一"]] == ["card_no_taken"]
    assert "0013" in flags["甲一"][0]["message"]["zh"] and flags["乙一"] == []
    assert db.session.get(ImportedList, lst.id).rows_flagged == 1
    # the counter moved past the highest number kept
    nxt = reg.new_household(people.collector, unit_id=a.id, data=family(seq=9), today=TODAY).household
    assert nxt.card_no == "0014"


# ------------------------------------------------------------------ a newer register


def test_a_newer_register_renews_untouched_households_and_notices_touched_ones(units, people, client):
    a = units["A"]

    def rows(birth_of_wife):
        return [person("王建国", "02", "1970-03-01", "1", seq=1, card="5", village=a),
                person("李秀英", "12", birth_of_wife, "2", seq=1, card="5", village=a),
                person("赵大山", "02", "1950-01-05", "1", seq=2, card="6", village=a),
                person("钱小", "12", birth_of_wife, "2", seq=2, card="6", village=a)]

    first = make_list(rows("1972-05-02"), source="register", unit=units["T1"])
    prefill.prefill(people.clerk, first.id, key="village_card_no", today=TODAY)
    db.session.commit()
    untouched, touched = _households(first.id)
    person_ids = {p.name: p.id for p in untouched.persons}
    # a collector corrects the second household (a phone number): touched
    data = dict(touched.current_version.data)
    data["household"] = {**data["household"], "phone": "13800138000"}
    reg.save_household(people.collector, touched.id, data=data, base_number=1, today=TODAY)
    db.session.commit()

    newer = make_list(rows("1972-06-02"), source="register", unit=units["T1"])
    result = prefill.prefill(people.clerk, newer.id, key="village_card_no", today=TODAY)
    db.session.commit()
    assert (result.created, result.updated, result.noticed) == (0, 1, 1)
    assert db.session.scalar(select(func.count()).select_from(Household)) == 2  # nothing duplicated

    u = db.session.get(Household, untouched.id)
    assert u.current_number == 2 and u.current_version.event["list_id"] == newer.id
    assert u.current_version.kind == "edit" and u.source_list_id == newer.id
    wife = next(m for m in u.current_version.data["members"] if m["name"] == "李秀英")
    assert wife["birth_date"] == "1972-06-02"
    assert {p.name: p.id for p in u.persons} == person_ids  # the same persons
    assert db.session.scalar(select(Person.birth_date).where(Person.name == "李秀英")) == dt.date(1972, 6, 2)

    t = db.session.get(Household, touched.id)
    assert t.current_number == 2 and t.current_version.created_by_id == people.collector.id  # unchanged
    (notice,) = db.session.scalars(select(HouseholdNotice))
    assert notice.household_id == t.id and notice.list_id == newer.id and notice.resolved_at is None
    assert notice.differences == [
        {"member": "钱小", "field": "birth_date", "was": "1972-05-02", "now": "1972-06-02"},
        {"member": "钱小", "field": "id_number", "was": id_number("1972-05-02", "2", 2),
         "now": id_number("1972-06-02", "2", 2)}]

    # the collector sees it on the household page, in Chinese, and resolves it
    client.login("collector_a")
    page = client.get(f"/collect/households/{t.id}").get_data(as_text=True)
    assert "新的户籍资料与本户不同" in page and "出生日期" in page and "1972-06-02" in page
    resp = client.post_form(f"/collect/households/{t.id}/notices/{notice.id}/resolve")
    assert resp.status_code == 302
    notice = db.session.get(HouseholdNotice, notice.id)
    assert notice.resolved_by_id == people.collector.id
    assert "新的户籍资料与本户不同" not in client.get(f"/collect/households/{t.id}").get_data(as_text=True)


def test_a_newer_register_that_leaves_a_person_out_is_a_notice(units, people):
    a = units["A"]
    both = [person("王建国", "02", "1970-03-01", "1", seq=1, card="5", village=a),
            person("李秀英", "12", "1972-05-02", "2", seq=1, card="5", village=a)]
    first = make_list(both, source="register", unit=units["T1"])
    prefill.prefill(people.clerk, first.id, key="village_card_no", today=TODAY)
    newer = make_list(both[:1], source="register", unit=units["T1"])
    result = prefill.prefill(people.clerk, newer.id, key="village_card_no", today=TODAY)
    db.session.commit()
    assert (result.updated, result.noticed) == (0, 1)
    (notice,) = db.session.scalars(select(HouseholdNotice))
    assert notice.differences == [{"member": "李秀英", "change": "missing"}]


# ------------------------------------------------------------------ pages


def test_checked_unchanged_on_the_household_page(units, people, client):
    lst = make_list(police_rows(units)[:3], unit=units["T1"])
    prefill.prefill(people.clerk, lst.id, today=TODAY)
    db.session.commit()
    h = _households(lst.id)[0]
    client.login("collector_a")
    page = client.get(f"/collect/households/{h.id}").get_data(as_text=True)
    assert "来自公安户籍资料，待入户核实" in page and "核对无误" in page
    token = client.csrf_token()
    form = {"csrf_token": token, "base_number": "1", "submission_id": str(uuid.uuid4())}
    assert client.post(f"/collect/households/{h.id}/checked", data=form).status_code == 302
    assert client.post(f"/collect/households/{h.id}/checked", data=form).status_code == 302  # double tap
    h = db.session.get(Household, h.id)
    assert h.current_number == 2 and h.collected_at is not None
    page = client.get(f"/collect/households/{h.id}", follow_redirects=True).get_data(as_text=True)
    assert "待入户核实" not in page


def test_the_leader_assigns_prefilled_households_and_the_collector_sees_them(units, people, client):
    lst = make_list(police_rows(units), unit=units["T1"])
    prefill.prefill(people.clerk, lst.id, today=TODAY)
    db.session.commit()
    in_a = [h for h in _households(lst.id) if h.village_id == units["A"].id]
    client.login("leader_a")
    page = client.get(f"/review/prefilled/{units['A'].id}").get_data(as_text=True)
    assert "分配预填户" in page and "王建国" in page and "采集员甲" in page
    resp = client.post_form(f"/review/prefilled/{units['A'].id}",
                            {"household_id": [str(h.id) for h in in_a], "collector_id": str(people.collector.id)})
    assert resp.status_code == 302
    assert {db.session.get(Household, h.id).assigned_to_id for h in in_a} == {people.collector.id}
    # a household of another village cannot be slipped in
    other = next(h for h in _households(lst.id) if h.village_id == units["B"].id)
    resp = client.post_form(f"/review/prefilled/{units['A'].id}",
                            {"household_id": [str(other.id)], "collector_id": str(people.collector.id)})
    assert resp.status_code == 422 and db.session.get(Household, other.id).assigned_to_id is None
    client.logout()

    client.login("collector_a")
    page = client.get("/collect/").get_data(as_text=True)
    assert "预填户，待核实" in page and "王建国" in page and "赵大山" in page
    # a collector may not assign
    assert client.get(f"/review/prefilled/{units['A'].id}").status_code == 403


def test_assign_page_refuses_bad_input(units, people, client):
    client.login("leader_a")
    url = f"/review/prefilled/{units['A'].id}"
    assert client.post_form(url, {"collector_id": str(people.collector.id)}).status_code == 422
    assert client.post_form(url, {"household_id": ["nonsense"], "collector_id": "x"}).status_code == 422
    assert client.get(f"/review/prefilled/{units['C'].id}").status_code == 404


# ------------------------------------------------------------------ the command line


def test_the_command_line_prints_the_households_created(app, units, people):
    lst = make_list(police_rows(units), unit=units["T1"])
    runner = app.test_cli_runner()
    out = runner.invoke(args=["lists", "prefill", str(lst.id), "--key", "household_no", "--as", "clerk_t1"])
    assert out.exit_code == 0, out.output
    assert re.search(r"^created=3 updated=0 unchanged=0 noticed=0 flagged=0 skipped=0$", out.output, re.M)
    assert re.search(r"^110101001001 多福巷社区: 2 created \(cards 0001-0002\)", out.output, re.M)
    db.session.expire_all()
    assert len(_households(lst.id)) == 3
    again = runner.invoke(args=["lists", "prefill", str(lst.id), "--as", "clerk_t1"])
    assert again.exit_code == 0 and "created=0 " in again.output
    bad = runner.invoke(args=["lists", "prefill", "999999", "--as", "clerk_t1"])
    assert bad.exit_code != 0 and "999999" in bad.output


def test_the_job_prefills_too(app, units, people):
    from app import jobs

    clerk_id = people.clerk.id
    list_id = make_list(police_rows(units), unit=units["T1"]).id
    db.session.commit()  # ends the read of the ids: the job's own session writes (SQLite's one writer)
    jobs.run_prefill(list_id, "household_no", clerk_id)  # immediate in tests
    db.session.expire_all()
    assert len(_households(list_id)) == 3


def test_only_a_loaded_police_list_or_register_prefills(units, people):
    from app.domain.errors import Forbidden, Invalid, NotFound

    births = make_list(police_rows(units)[:1], source="births", unit=units["T1"])
    with pytest.raises(Invalid):
        prefill.prefill(people.clerk, births.id, today=TODAY)
    police = make_list(police_rows(units)[:1], unit=units["T1"])
    with pytest.raises(Invalid):
        prefill.prefill(people.clerk, police.id, key="surname", today=TODAY)
    with pytest.raises(Forbidden):  # sees the township's list, does not pre-fill
        prefill.prefill(people.verifier, police.id, today=TODAY)
    with pytest.raises(NotFound):  # the list is outside a village collector's area
        prefill.prefill(people.collector, police.id, today=TODAY)
    police.state = "withdrawn"
    police.withdrawn_at = dt.datetime.now(dt.timezone.utc)
    db.session.commit()
    with pytest.raises(Conflict):
        prefill.prefill(people.clerk, police.id, today=TODAY)
    assert db.session.scalar(select(func.count()).select_from(Household)) == 0


def test_import_then_prefill_on_the_command_line(app, units, people, tmp_path):
    """The path a script takes: `flask lists import` of a police file, then `flask lists prefill`."""
    header = "record_id,name,sex,birth_date,id_number,village_code,household_no,relation,address\n"
    lines = [f"GA{i},{r['name']},{r['sex']},{r['birth_date'].isoformat()},{r['id_number']},{r['village'].code},"
             f"{r['household_no']},{r['relation']},{r['address'] or ''}\n" for i, r in enumerate(police_rows(units))]
    path = tmp_path / "police.csv"
    path.write_text(header + "".join(lines), encoding="utf-8")
    runner = app.test_cli_runner()
    imported = runner.invoke(args=["lists", "import", str(path), "--source", "police"])
    assert imported.exit_code == 0, imported.output
    list_id = int(re.search(r"^list_id=(\d+)$", imported.output, re.M).group(1))
    out = runner.invoke(args=["lists", "prefill", str(list_id), "--key", "household_no", "--as", "clerk_t1"])
    assert out.exit_code == 0, out.output
    assert "created=3 " in out.output
    db.session.expire_all()
    codes = dict(db.session.execute(select(Person.name, Person.relationship_code)).all())
    assert codes["王建国"] == "02" and codes["王小明"] == "20"
