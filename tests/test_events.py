"""Life events on the domain level (both databases): each event, its refusals, and the
two-sided events leaving both households consistent in one transaction."""
from __future__ import annotations

import datetime as dt
import uuid

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from app.domain import events as ev
from app.domain import registration as reg
from app.domain.errors import Conflict, Invalid, NotFound
from app.extensions import db
from app.models import EVENT_KINDS, AuditEntry, Household, HouseholdVersion, Person
from tests.support.households import TODAY, family, id_number, member

D = dt.date


@pytest.fixture(autouse=True)
def in_english(app):
    """Refusals are matched by their English text; the default language is Chinese. (A POST,
    as the screens send: on SQLite its transactions take the write lock at BEGIN.)"""
    with app.test_request_context(method="POST"), force_locale("en"):
        yield


@pytest.fixture
def collector(units, make_user):
    """A collector of villages A and B (moves between households of the two)."""
    from app.domain.users import grant_role
    from app.models import Role

    user = make_user("collector", units["A"])
    grant_role(None, user, Role.collector, units["B"])
    db.session.commit()
    return user


def make_household(actor, unit, surname="张", seq=1, data=None):
    result = reg.new_household(actor, unit_id=unit.id, data=data or family(surname, seq), today=TODAY)
    db.session.commit()
    return result.household


def members(h: Household) -> list[dict]:
    db.session.refresh(h)
    return h.current_version.data["members"]


def by_name(h: Household, name: str) -> dict:
    return next(m for m in members(h) if m["name"] == name)


def versions(h: Household) -> int:
    return db.session.scalar(select(func.count()).select_from(HouseholdVersion)
                             .where(HouseholdVersion.household_id == h.id))


# ------------------------------------------------------------------ birth


def test_birth_adds_a_child_and_counts_it_for_the_mother(app, units, collector):
    h = make_household(collector, units["A"])
    mum, dad = by_name(h, "李秀英"), by_name(h, "张建国")
    sub = uuid.uuid4()
    result = ev.birth(collector, h.id, occurred_on=D(2026, 10, 1), base_number=1, sex="2", name="张小花",
                      mother=mum["person_id"], father=dad["person_id"], birth_place="县医院",
                      submission_id=sub, today=TODAY)
    db.session.commit()
    v = result.version
    assert (v.number, v.kind, v.occurred_on) == (2, "birth", D(2026, 10, 1))
    child = by_name(h, "张小花")
    assert (child["relationship"], child["sex"], child["birth_date"]) == ("30", "2", "2026-10-01")
    assert v.event["birth_place"] == "县医院" and v.event["person_ids"] == [child["person_id"]]
    assert h.member_count == 5 and h.state == "draft"
    assert db.session.get(Person, uuid.UUID(child["person_id"])).household_id == h.id
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "household.event")) is not None
    # The same submission again: one version.
    again = ev.birth(collector, h.id, occurred_on=D(2026, 10, 1), base_number=1, sex="2", name="张小花",
                     mother=mum["person_id"], submission_id=sub, today=TODAY)
    assert not again.created and again.version.id == v.id and versions(h) == 2


def test_birth_to_a_married_woman_counts_her_children(app, units, collector):
    data = family()
    data["members"][1]["birth_date"] = "1990-05-02"
    data["members"][1]["id_number"] = id_number("1990-05-02", "2")
    data["members"][1].update(boys=0, girls=0)
    data["members"][2:] = []
    h = make_household(collector, units["A"], data=data)
    mum = by_name(h, "李秀英")
    ev.birth(collector, h.id, occurred_on=D(2026, 9, 1), base_number=1, sex="1", name="张小宝",
             mother=mum["person_id"], today=TODAY)
    db.session.commit()
    mum = by_name(h, "李秀英")
    assert (mum["boys"], mum["girls"], mum["youngest_birth_date"], mum["youngest_sex"]) == (1, 0, "2026-09-01", "1")


def test_a_submission_stored_meanwhile_by_another_request_is_its_answer(app, units, collector, monkeypatch):
    """Two requests with one submission at once: the database's unique submission id decides,
    and the loser answers with the winner's version (the early look-up did not see it yet)."""
    h = make_household(collector, units["A"])
    sub = uuid.uuid4()
    first = ev.birth(collector, h.id, occurred_on=D(2026, 10, 1), base_number=1, sex="1", relationship="20",
                     name="张小龙", submission_id=sub, today=TODAY)
    db.session.commit()
    looked = []
    real = ev._replayed

    def not_yet_seen(*args):
        looked.append(args)
        return None if len(looked) == 1 else real(*args)

    monkeypatch.setattr(ev, "_replayed", not_yet_seen)
    again = ev.birth(collector, h.id, occurred_on=D(2026, 10, 1), base_number=2, sex="1", relationship="20",
                     name="张小龙", submission_id=sub, today=TODAY)
    assert not again.created and again.version.id == first.version.id and len(looked) == 2
    db.session.commit()
    assert versions(h) == 2


def test_a_grandchild_is_related_through_the_parent(app, units, collector):
    h = make_household(collector, units["A"])
    son = by_name(h, "张伟")
    ev.birth(collector, h.id, occurred_on=D(2026, 1, 1), base_number=1, sex="1", name="张小小",
             father=son["person_id"], today=TODAY)
    db.session.commit()
    assert by_name(h, "张小小")["relationship"] == "41"


def test_a_pending_name_makes_an_incomplete_draft(app, units, collector):
    h = make_household(collector, units["A"])
    result = ev.birth(collector, h.id, occurred_on=D(2026, 11, 20), base_number=1, sex="1",
                      mother=by_name(h, "李秀英")["person_id"], today=TODAY)
    assert result.version.event["name_pending"] is True
    assert not result.version.complete


@pytest.mark.parametrize("when, message", [
    (D(2026, 11, 24), "future"),
    (D(1960, 1, 1), "born"),
])
def test_birth_dates_are_refused(app, units, collector, when, message):
    h = make_household(collector, units["A"])
    with pytest.raises(Invalid, match=message) as e:
        ev.birth(collector, h.id, occurred_on=when, base_number=1, sex="1", name="张某",
                 mother=by_name(h, "李秀英")["person_id"], today=TODAY)
    assert e.value.field == "occurred_on"
    db.session.rollback()
    assert versions(h) == 1


def test_birth_refusals_name_the_field(app, units, collector):
    h = make_household(collector, units["A"])
    with pytest.raises(Invalid) as e:
        ev.birth(collector, h.id, occurred_on=D(2026, 1, 1), base_number=1, sex="", today=TODAY)
    assert e.value.field == "sex"
    with pytest.raises(Invalid) as e:
        ev.birth(collector, h.id, occurred_on=D(2026, 1, 1), base_number=1, sex="1",
                 mother=by_name(h, "张建国")["person_id"], today=TODAY)
    assert e.value.field == "mother"
    with pytest.raises(Invalid) as e:  # no parent here and no relationship: ask for it
        ev.birth(collector, h.id, occurred_on=D(2026, 1, 1), base_number=1, sex="1", today=TODAY)
    assert e.value.field == "relationship"
    with pytest.raises(Invalid) as e:
        ev.birth(collector, h.id, occurred_on=D(2026, 1, 1), base_number=1, sex="1", relationship="20",
                 father_id_number="110101197001010010", today=TODAY)
    assert e.value.field == "father_id_number"
    with pytest.raises(Conflict):
        ev.birth(collector, h.id, occurred_on=D(2026, 1, 1), base_number=0, sex="1", relationship="20",
                 today=TODAY)


# ------------------------------------------------------------------ birth rules (issue 14)


def test_a_mother_under_14_is_refused_and_nothing_changes(app, units, collector):
    """Issue 14: a birth to a mother of 8 (born 2018) was saved as complete without a word."""
    data = family()
    data["members"].append(member("张小妹", "30", "2018-03-01", "2", seq=1))
    h = make_household(collector, units["A"], data=data)
    with pytest.raises(Invalid) as e:
        ev.birth(collector, h.id, occurred_on=D(2026, 9, 1), base_number=1, sex="1", name="张宝",
                 mother=by_name(h, "张小妹")["person_id"], today=TODAY)
    assert e.value.field == "mother"
    assert "张小妹" in e.value.message and "only 8" in e.value.message
    db.session.rollback()
    assert versions(h) == 1 and len(members(h)) == 5
    # A mother elsewhere, known by her ID number (born 2013: 13 at the birth), is refused the same way.
    with pytest.raises(Invalid) as e:
        ev.birth(collector, h.id, occurred_on=D(2026, 9, 1), base_number=1, sex="1", name="张宝",
                 relationship="20", mother_id_number=id_number("2013-01-01", "2"), today=TODAY)
    assert e.value.field == "mother_id_number"
    db.session.rollback()
    # ...and so is a birth before her own, by a number valid today (no error page).
    with pytest.raises(Invalid) as e:
        ev.birth(collector, h.id, occurred_on=D(2019, 9, 1), base_number=1, sex="1", name="张宝",
                 relationship="20", mother_id_number=id_number("2020-01-01", "2"), today=TODAY)
    assert e.value.field == "mother_id_number" and "not yet born" in e.value.message
    db.session.rollback()
    assert versions(h) == 1


def test_a_young_mother_is_recorded_with_a_warning_kept_on_the_version(app, units, collector):
    data = family()
    data["members"].append(member("张小妹", "30", "2011-06-01", "2", seq=1))  # 15 at the birth
    h = make_household(collector, units["A"], data=data)
    result = ev.birth(collector, h.id, occurred_on=D(2026, 9, 1), base_number=1, sex="2", name="张宝",
                      mother=by_name(h, "张小妹")["person_id"], today=TODAY)
    db.session.commit()
    assert [(i.rule, i.level) for i in result.issues] == [("birth.mother_young", "warning")]
    assert "张小妹" in result.issues[0].message["zh"]
    stored = [i for i in result.version.issues if i["rule"].startswith("birth.")]
    assert [(i["rule"], i["path"]) for i in stored] == [("birth.mother_young", "members[4].birth_date")]
    assert result.version.complete and versions(h) == 2


def test_births_of_one_mother_closer_than_180_days_are_warned_twins_are_not(app, units, collector):
    """Issue 14: a birth 25 days after the same mother's previous child was saved without a word."""
    data = family()
    data["members"][1]["birth_date"] = "1990-05-02"
    data["members"][1]["id_number"] = id_number("1990-05-02", "2")
    data["members"][2:] = []
    h = make_household(collector, units["A"], data=data)
    mum = by_name(h, "李秀英")["person_id"]
    first = ev.birth(collector, h.id, occurred_on=D(2026, 1, 10), base_number=1, sex="1", name="张一",
                     mother=mum, today=TODAY)
    assert first.issues == []
    twin = ev.birth(collector, h.id, occurred_on=D(2026, 1, 11), base_number=2, sex="1", name="张二",
                    mother=mum, today=TODAY)
    assert twin.issues == []
    late = ev.birth(collector, h.id, occurred_on=D(2026, 2, 5), base_number=3, sex="2", name="张三",
                    mother=mum, today=TODAY)
    db.session.commit()
    assert [(i.rule, i.level) for i in late.issues] == [("birth.spacing", "warning")]
    assert "25 days" in late.issues[0].message["en"] and "李秀英" in late.issues[0].message["zh"]
    assert any(i["rule"] == "birth.spacing" for i in late.version.issues) and versions(h) == 4
    after = D(2026, 2, 5) + dt.timedelta(days=180)  # 180 days after the last: fine
    assert ev.birth(collector, h.id, occurred_on=after, base_number=4, sex="2", name="张四",
                    mother=mum, today=TODAY).issues == []


@pytest.mark.parametrize("sex, expected", [("1", "25"), ("2", "32")])
def test_a_newborn_takes_the_next_order_after_its_siblings(app, units, collector, sex, expected):
    """Issue 14: a newborn got 子 while the siblings were 长子/次子/三子: 四子, or 长女."""
    data = family()
    data["members"][1]["birth_date"] = "1985-05-02"
    data["members"][1]["id_number"] = id_number("1985-05-02", "2")
    data["members"][2:] = [member("张大", "22", "2010-01-01", "1", seq=2),
                           member("张二", "23", "2012-01-01", "1", seq=3),
                           member("张三", "24", "2015-01-01", "1", seq=4)]
    h = make_household(collector, units["A"], data=data)
    ev.birth(collector, h.id, occurred_on=D(2026, 9, 1), base_number=1, sex=sex, name="张宝",
             mother=by_name(h, "李秀英")["person_id"], today=TODAY)
    db.session.commit()
    assert by_name(h, "张宝")["relationship"] == expected


# ------------------------------------------------------------------ death and head change


def test_death_cancels_and_widows(app, units, collector):
    h = make_household(collector, units["A"])
    son = by_name(h, "张伟")
    ev.death(collector, h.id, person_id=son["person_id"], occurred_on=D(2026, 3, 1), base_number=1,
             cause="accident", source="police", today=TODAY)
    db.session.commit()
    son = by_name(h, "张伟")
    assert (son["status"], son["cancelled_on"], son["cancellation_reason"]) == ("deceased", "2026-03-01", "死亡")
    assert db.session.get(Person, uuid.UUID(son["person_id"])).status == "deceased"
    assert h.member_count == 3
    # After the death, no event of that person: and not twice.
    with pytest.raises(Invalid):
        ev.death(collector, h.id, person_id=son["person_id"], occurred_on=D(2026, 4, 1), base_number=2,
                 cause="illness", source="family", today=TODAY)


def test_events_after_death_are_refused(app, units, collector):
    data = family()
    data["members"][3].update(status="deceased", cancelled_on="2020-01-01", cancellation_reason="死亡")
    h = make_household(collector, units["A"], data=data)
    with pytest.raises(Invalid, match="after the death"):
        ev.check_dates(D(2021, 1, 1), [by_name(h, "张丽")], TODAY)
    with pytest.raises(Invalid, match="cancelled"):
        ev.marriage(collector, h.id, person_id=by_name(h, "张丽")["person_id"], occurred_on=D(2019, 1, 1),
                    base_number=1, spouse_name="王五", today=TODAY)


def test_death_of_the_head_asks_for_a_new_head_and_restates_relationships(app, units, collector):
    h = make_household(collector, units["A"])
    head, wife = by_name(h, "张建国"), by_name(h, "李秀英")
    with pytest.raises(Invalid) as e:
        ev.death(collector, h.id, person_id=head["person_id"], occurred_on=D(2026, 5, 1), base_number=1,
                 cause="illness", source="hospital", today=TODAY)
    assert e.value.field == "new_head"
    db.session.rollback()
    proposals = ev.head_proposals(members(h), head["person_id"], wife["person_id"])
    assert [(p.old, p.new) for p in proposals] == [("12", "02"), ("20", "20"), ("30", "30")]
    result = ev.death(collector, h.id, person_id=head["person_id"], occurred_on=D(2026, 5, 1), base_number=1,
                      cause="illness", source="hospital", new_head=wife["person_id"], today=TODAY)
    db.session.commit()
    assert result.version.event["head_change"]["new_head"] == wife["person_id"]
    assert h.head_name == "李秀英"
    assert by_name(h, "李秀英")["marital_status"] == "30" and by_name(h, "李秀英")["relationship"] == "02"


def test_head_change_to_a_son_takes_the_collectors_corrections(app, units, collector):
    h = make_household(collector, units["A"])
    head, son, daughter = by_name(h, "张建国"), by_name(h, "张伟"), by_name(h, "张丽")
    proposals = {members(h)[p.index]["name"]: p.new
                 for p in ev.head_proposals(members(h), head["person_id"], son["person_id"])}
    assert proposals == {"李秀英": "52", "张伟": "02", "张丽": "77"}  # mother, younger sister
    ev.move_out(collector, h.id, person_id=head["person_id"], occurred_on=D(2026, 6, 1), base_number=1,
                destination=ev.Destination(text="美国纽约"), reason="work", hukou_moves=True,
                new_head=son["person_id"], relationships={daughter["person_id"]: "97"}, today=TODAY)
    db.session.commit()
    assert [(m["name"], m["relationship"]) for m in members(h)] == [
        ("张建国", "02"), ("李秀英", "52"), ("张伟", "02"), ("张丽", "97")]
    assert by_name(h, "张建国")["status"] == "moved_out" and h.head_name == "张伟"


def test_after_the_heads_death_his_sons_wife_is_proposed_as_wife(app, units, collector):
    """Issue 14: the new head's wife (儿媳 of the old head, over 49: the form keeps no spouse
    link) was proposed as 其他亲属 while the grandchildren were 子/女."""
    data = {"household": {"household_type": "family"}, "members": [
        member("张老汉", "02", "1945-03-01", "1", seq=1, marital_status="20"),
        member("张大军", "22", "1970-05-01", "1", seq=2, marital_status="20"),
        member("王桂兰", "38", "1972-06-01", "2", seq=3, marital_status="20"),
        member("张小军", "41", "1995-07-01", "1", seq=4),
        member("张小红", "42", "1998-08-01", "2", seq=5),
    ]}
    h = make_household(collector, units["A"], data=data)
    old, son = by_name(h, "张老汉"), by_name(h, "张大军")
    proposals = {members(h)[p.index]["name"]: (p.new, p.certain)
                 for p in ev.head_proposals(members(h), old["person_id"], son["person_id"])}
    assert proposals == {"张大军": ("02", True), "王桂兰": ("12", True), "张小军": ("20", True),
                         "张小红": ("30", True)}
    ev.death(collector, h.id, person_id=old["person_id"], occurred_on=D(2026, 5, 1), base_number=1,
             cause="old_age", source="family", new_head=son["person_id"], today=TODAY)
    db.session.commit()
    assert by_name(h, "王桂兰")["relationship"] == "12" and h.head_name == "张大军"


# ------------------------------------------------------------------ moves


def test_move_out_without_hukou_makes_an_out_migrant(app, units, collector):
    h = make_household(collector, units["A"])
    son = by_name(h, "张伟")
    result = ev.move_out(collector, h.id, person_id=son["person_id"], occurred_on=D(2025, 2, 1), base_number=1,
                         destination=ev.Destination(unit_code=units["C"].code), reason="work",
                         hukou_moves=False, today=TODAY)
    db.session.commit()
    son = by_name(h, "张伟")
    assert (son["management"], son["migration_place"], son["status"]) == ("out_migrant", "隆福寺社区", "active")
    assert result.version.event["destination_code"] == units["C"].code
    with pytest.raises(Invalid) as e:
        ev.move_out(collector, h.id, person_id=son["person_id"], occurred_on=D(2025, 2, 1), base_number=2,
                    destination=ev.Destination(), reason="work", hukou_moves=True, today=TODAY)
    assert e.value.field == "destination"
    with pytest.raises(Invalid) as e:
        ev.move_out(collector, h.id, person_id=son["person_id"], occurred_on=D(2025, 2, 1), base_number=2,
                    destination=ev.Destination(text="上海"), reason="holiday", hukou_moves=True, today=TODAY)
    assert e.value.field == "reason"


def test_move_in_from_outside(app, units, collector):
    h = make_household(collector, units["A"])
    newcomer = member("赵六", "99", "1980-01-01", "1", seq=9)
    del newcomer["person_id"]
    ev.move_in(collector, h.id, occurred_on=D(2026, 7, 1), base_number=1, relationship="99", reason="work",
               newcomer=newcomer, origin="河南省", today=TODAY)
    db.session.commit()
    assert by_name(h, "赵六")["relationship"] == "99" and h.member_count == 5
    with pytest.raises(Invalid, match="born"):
        ev.move_in(collector, h.id, occurred_on=D(1970, 7, 1), base_number=2, relationship="99", reason="work",
                   newcomer={**newcomer, "name": "钱七"}, today=TODAY)


def test_move_in_from_another_household_writes_both_sides(app, units, collector):
    here = make_household(collector, units["A"], "张", 1)
    there = make_household(collector, units["B"], "王", 2)
    leaving = by_name(there, "王丽")
    result = ev.move_in(collector, here.id, occurred_on=D(2026, 8, 1), base_number=1, relationship="97",
                        reason="study", id_number=leaving["id_number"], submission_id=uuid.uuid4(), today=TODAY)
    db.session.commit()
    joined = by_name(here, "王丽")
    gone = by_name(there, "王丽")
    assert gone["status"] == "moved_out" and gone["cancelled_on"] == "2026-08-01"
    assert result.other.kind == "move_out" and result.other.event["other_household_id"] == str(here.id)
    assert result.version.event["from_person_id"] == leaving["person_id"]
    assert joined["person_id"] != leaving["person_id"] and joined["status"] == "active"
    assert (here.member_count, there.member_count) == (5, 3)
    # The person is active in one household only now.
    assert db.session.scalar(select(func.count()).select_from(Person).where(
        Person.id_number == leaving["id_number"], Person.status == "active")) == 1


def test_a_failing_second_side_leaves_the_first_unchanged(app, units, collector):
    here = make_household(collector, units["A"], "张", 1)
    there = make_household(collector, units["B"], "王", 2)
    leaving = by_name(there, "王丽")
    # The other household changes between the lookup and the write: its side is refused.
    stale = there.current_number
    original = ev.move_out

    def racing(*args, **kwargs):
        kwargs["base_number"] = stale - 1
        return original(*args, **kwargs)

    ev.move_out = racing
    try:
        with pytest.raises(Conflict):
            ev.move_in(collector, here.id, occurred_on=D(2026, 8, 1), base_number=1, relationship="97",
                       reason="study", id_number=leaving["id_number"], today=TODAY)
    finally:
        ev.move_out = original
    # Even a caller that goes on and commits keeps neither side.
    db.session.commit()
    assert (versions(here), versions(there)) == (1, 1)
    assert here.member_count == 4 and by_name(there, "王丽")["status"] == "active"


def test_move_in_is_refused_outside_scope_and_for_a_head(app, units, make_user, collector):
    here = make_household(collector, units["A"], "张", 1)
    outsider = make_user("collector", units["C"])
    there = make_household(outsider, units["C"], "王", 2)
    with pytest.raises(Invalid) as e:
        ev.move_in(collector, here.id, occurred_on=D(2026, 8, 1), base_number=1, relationship="97",
                   reason="work", id_number=by_name(there, "王丽")["id_number"], today=TODAY)
    assert e.value.field == "id_number"
    other = make_household(collector, units["B"], "刘", 3)
    with pytest.raises(Invalid, match="head"):
        ev.move_in(collector, here.id, occurred_on=D(2026, 8, 1), base_number=1, relationship="97",
                   reason="work", id_number=by_name(other, "刘建国")["id_number"], today=TODAY)


# ------------------------------------------------------------------ marriage and divorce


def test_marriage_within_the_household_links_both(app, units, collector):
    data = family()
    data["members"].append(member("陈芳", "99", "1996-02-02", "2", seq=5))
    h = make_household(collector, units["A"], data=data)
    son, bride = by_name(h, "张伟"), by_name(h, "陈芳")
    ev.marriage(collector, h.id, person_id=son["person_id"], spouse_member=bride["person_id"],
                occurred_on=D(2026, 10, 10), base_number=1, today=TODAY)
    db.session.commit()
    son, bride = by_name(h, "张伟"), by_name(h, "陈芳")
    assert son["marital_status"] == bride["marital_status"] == "21"
    assert bride["spouse_member"] == son["person_id"] and bride["marriage_date"] == "2026-10-10"
    ev.divorce(collector, h.id, person_id=son["person_id"], occurred_on=D(2026, 11, 1), base_number=2,
               today=TODAY)
    db.session.commit()
    son, bride = by_name(h, "张伟"), by_name(h, "陈芳")
    assert son["marital_status"] == bride["marital_status"] == "40" and "spouse_member" not in bride
    with pytest.raises(Invalid, match="not married"):
        ev.divorce(collector, h.id, person_id=son["person_id"], occurred_on=D(2026, 11, 2), base_number=3,
                   today=TODAY)


def test_marriage_with_a_spouse_from_another_household(app, units, collector):
    here = make_household(collector, units["A"], "张", 1)
    there = make_household(collector, units["B"], "王", 2)
    son, bride = by_name(here, "张伟"), by_name(there, "王丽")
    result = ev.marriage(collector, here.id, person_id=son["person_id"], occurred_on=D(2026, 9, 9),
                         base_number=1, spouse_moves_in=True, spouse_id_number=bride["id_number"],
                         relationship="28", today=TODAY)
    db.session.commit()
    assert result.version.kind == "marriage" and result.other.kind == "move_out"
    joined = by_name(here, "王丽")
    assert joined["spouse_member"] == son["person_id"] and by_name(here, "张伟")["marital_status"] == "21"
    assert by_name(there, "王丽")["status"] == "moved_out"
    assert result.other.event["reason"] == "marriage"


def test_marriage_with_a_spouse_outside(app, units, collector):
    h = make_household(collector, units["A"])
    daughter = by_name(h, "张丽")
    ev.marriage(collector, h.id, person_id=daughter["person_id"], occurred_on=D(2026, 1, 1), base_number=1,
                spouse_name="孙强", spouse_id_number=id_number("1996-01-01", "1", 7), today=TODAY)
    db.session.commit()
    daughter = by_name(h, "张丽")
    assert daughter["marital_status"] == "21" and daughter["spouse_name"] == "孙强"
    with pytest.raises(Invalid) as e:
        ev.marriage(collector, h.id, person_id=by_name(h, "张伟")["person_id"], occurred_on=D(2026, 1, 1),
                    base_number=2, today=TODAY)
    assert e.value.field == "spouse_name"


# ------------------------------------------------------------------ split and merge


def test_split_forms_a_new_household_with_a_new_card(app, units, collector):
    data = family()
    data["members"].append(member("陈芳", "28", "1996-02-02", "2", seq=5, marital_status="20"))
    data["members"][2]["marital_status"] = "20"
    h = make_household(collector, units["A"], data=data)
    son, wife = by_name(h, "张伟"), by_name(h, "陈芳")
    wife_here = next(m for m in members(h) if m["name"] == "陈芳")
    result = ev.split(collector, h.id, person_ids=[son["person_id"], wife["person_id"]], new_head=son["person_id"],
                      relationships={wife["person_id"]: "12"}, occurred_on=D(2026, 4, 1), base_number=1,
                      address={"door_no": "8号"}, submission_id=uuid.uuid4(), today=TODAY)
    db.session.commit()
    new = result.other.household
    assert new.card_no == "0002" and new.village_id == h.village_id and new.head_name == "张伟"
    assert result.other.kind == "split" and result.other.event["split_from"] == str(h.id)
    assert result.version.event["other_household_id"] == str(new.id)
    assert [(m["name"], m["relationship"]) for m in members(new)] == [("张伟", "02"), ("陈芳", "12")]
    assert {m["name"]: m["status"] for m in members(h)}["张伟"] == "moved_out"
    assert h.member_count == 3 and new.member_count == 2
    assert wife_here["person_id"] not in {m["person_id"] for m in members(new)}


def test_split_refusals_change_nothing(app, units, collector):
    h = make_household(collector, units["A"])
    everyone = [m["person_id"] for m in members(h)]
    with pytest.raises(Invalid, match="stay"):
        ev.split(collector, h.id, person_ids=everyone, new_head=everyone[0], relationships={},
                 occurred_on=D(2026, 4, 1), base_number=1, today=TODAY)
    db.session.rollback()
    son = by_name(h, "张伟")["person_id"]
    with pytest.raises(Invalid) as e:
        ev.split(collector, h.id, person_ids=[son], new_head=everyone[0], relationships={},
                 occurred_on=D(2026, 4, 1), base_number=1, today=TODAY)
    assert e.value.field == "new_head"
    db.session.rollback()
    # A member who leaves without a relationship to the new head: named (issue 14).
    daughter = by_name(h, "张丽")["person_id"]
    with pytest.raises(Invalid) as e:
        ev.split(collector, h.id, person_ids=[son, daughter], new_head=son, relationships={},
                 occurred_on=D(2026, 4, 1), base_number=1, today=TODAY)
    assert e.value.field == "relationships" and "张丽" in e.value.message and "张伟" not in e.value.message
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Household)) == 1 and versions(h) == 1


def test_split_with_the_head_restates_who_stays(app, units, collector):
    h = make_household(collector, units["A"])
    head, wife, son = by_name(h, "张建国"), by_name(h, "李秀英"), by_name(h, "张伟")
    ev.split(collector, h.id, person_ids=[head["person_id"], wife["person_id"]], new_head=head["person_id"],
             relationships={wife["person_id"]: "12"}, stay_head=son["person_id"], occurred_on=D(2026, 4, 1),
             base_number=1, today=TODAY)
    db.session.commit()
    assert h.head_name == "张伟" and by_name(h, "张丽")["relationship"] == "77"


def test_split_with_the_head_takes_the_collectors_corrections_for_who_stays(app, units, collector):
    h = make_household(collector, units["A"])
    head, wife, son, daughter = (by_name(h, n) for n in ("张建国", "李秀英", "张伟", "张丽"))
    leaving = [head["person_id"], wife["person_id"]]
    # The proposals see both leavers gone: only the son and the daughter stay.
    proposals = {members(h)[p.index]["name"]: p.new
                 for p in ev.split_head_proposals(members(h), leaving, son["person_id"])}
    assert proposals == {"张伟": "02", "张丽": "77"}
    assert ev.split_head_proposals(members(h), [son["person_id"]], daughter["person_id"]) == []  # head stays
    # Refusals about the head who stays name stay_head (new_head is the new household's head).
    with pytest.raises(Invalid, match="among the members who stay") as e:
        ev.split_head_proposals(members(h), leaving, wife["person_id"])
    assert e.value.field == "stay_head"
    for stay_head, message in ((wife["person_id"], "among the members who stay"), (None, "choose the new head")):
        with pytest.raises(Invalid, match=message) as e:
            ev.split(collector, h.id, person_ids=leaving, new_head=head["person_id"],
                     relationships={wife["person_id"]: "10"}, stay_head=stay_head, occurred_on=D(2026, 4, 1),
                     base_number=1, today=TODAY)
        assert e.value.field == "stay_head"
        db.session.rollback()
    with pytest.raises(Invalid) as e:
        ev.split(collector, h.id, person_ids=leaving, new_head=head["person_id"], relationships={wife["person_id"]: "10"},
                 stay_head=son["person_id"], stay_relationships={daughter["person_id"]: "02"},
                 occurred_on=D(2026, 4, 1), base_number=1, today=TODAY)
    assert e.value.field == "stay_relationships"
    db.session.rollback()
    result = ev.split(collector, h.id, person_ids=leaving, new_head=head["person_id"],
                      relationships={wife["person_id"]: "10"}, stay_head=son["person_id"],
                      stay_relationships={daughter["person_id"]: "75"}, occurred_on=D(2026, 4, 1), base_number=1,
                      today=TODAY)
    db.session.commit()
    assert h.head_name == "张伟" and by_name(h, "张丽")["relationship"] == "75"
    assert result.version.event["head_change"]["relationships"] == [
        {"person_id": son["person_id"], "old": "20", "new": "02"},
        {"person_id": daughter["person_id"], "old": "30", "new": "75"}]
    assert [(m["name"], m["relationship"]) for m in members(result.other.household)] == [
        ("张建国", "02"), ("李秀英", "10")]


def test_unit_children_walk_the_whole_tree(app, units):
    top, roots = ev.unit_children(None)
    assert top is None and [(c.code, c.level, c.has_children) for c in roots] == [("110000000000", "province", True)]
    county, townships = ev.unit_children(units["county"].code)
    assert county.name == "东城区" and [c.name for c in townships] == ["东华门街道", "景山街道"]
    assert [(c.name, c.has_children) for c in ev.unit_children(units["T1"].code)[1]] == [
        ("多福巷社区", True), ("银闸社区", False)]
    assert ev.unit_children(units["A2"].code)[1] == []
    with pytest.raises(NotFound, match="123"):
        ev.unit_children("123")
    assert [u.name for u in ev.unit_trail(units["A1"].code)] == ["北京市", "市辖区", "东城区", "东华门街道", "多福巷社区",
                                                                 "第一组"]
    assert ev.unit_trail("123") == []


def test_merge_brings_every_member_and_cancels_them_there(app, units, collector):
    here = make_household(collector, units["A"], "张", 1)
    there = make_household(collector, units["B"], "王", 2)
    rel = {m["person_id"]: "97" for m in members(there)}
    result = ev.merge(collector, here.id, other_household_id=there.id, relationships=rel, occurred_on=D(2026, 5, 5),
                      base_number=1, other_base_number=1, today=TODAY)
    db.session.commit()
    assert here.member_count == 8 and there.member_count == 0
    assert result.other.kind == "merge" and all(m["status"] == "moved_out" for m in members(there))
    with pytest.raises(Invalid) as e:
        ev.merge(collector, here.id, other_household_id=there.id, relationships=rel, occurred_on=D(2026, 5, 5),
                 base_number=2, other_base_number=2, today=TODAY)
    assert e.value.field == "other_household"


def test_merge_without_relationships_is_refused_on_both_sides(app, units, collector):
    here = make_household(collector, units["A"], "张", 1)
    there = make_household(collector, units["B"], "王", 2)
    with pytest.raises(Invalid) as e:
        ev.merge(collector, here.id, other_household_id=there.id, relationships={}, occurred_on=D(2026, 5, 5),
                 base_number=1, other_base_number=1, today=TODAY)
    assert e.value.field == "relationships"
    db.session.rollback()
    assert (versions(here), versions(there)) == (1, 1)


# ------------------------------------------------------------------ transfer


def test_an_accepted_transfer_moves_the_household_with_a_new_card(app, units, make_user, collector):
    h = make_household(collector, units["A1"])
    leader_c = make_user("village_leader", units["C"])
    transfer = ev.request_transfer(collector, h.id, to_unit_id=units["C"].id, occurred_on=D(2026, 6, 1),
                                   reason="搬迁", today=TODAY)
    db.session.commit()
    assert ev.pending_transfer(h.id) is transfer and h.village_id == units["A"].id and versions(h) == 1
    with pytest.raises(Conflict):
        ev.request_transfer(collector, h.id, to_unit_id=units["C"].id, occurred_on=D(2026, 6, 1), today=TODAY)
    db.session.rollback()
    assert ev.transfers_to_decide(leader_c) == [transfer]
    ev.decide_transfer(leader_c, transfer.id, accept=True, today=TODAY)
    db.session.commit()
    db.session.refresh(h)
    assert (h.village_id, h.group_id, h.unit_path, h.card_no) == (units["C"].id, None, units["C"].path, "0001")
    last = h.current_version
    assert (last.kind, last.occurred_on, last.event["from_card_no"]) == ("transfer", D(2026, 6, 1), "0001")
    assert "group_code" not in last.data["household"] and h.state == "draft"
    assert {p.unit_path for p in h.persons} == {units["C"].path}
    assert ev.pending_transfer(h.id) is None and ev.transfers_to_decide(leader_c) == []
    with pytest.raises(Conflict):
        ev.decide_transfer(leader_c, transfer.id, accept=False, reason="晚了", today=TODAY)


def test_a_refused_transfer_changes_nothing(app, units, make_user, collector):
    h = make_household(collector, units["A"])
    before = (h.village_id, h.card_no, h.unit_path, h.current_number, h.state)
    leader_c = make_user("village_leader", units["C"])
    leader_a = make_user("village_leader", units["A"])
    transfer = ev.request_transfer(collector, h.id, to_unit_id=units["C"].id, occurred_on=D(2026, 6, 1),
                                   today=TODAY)
    db.session.commit()
    with pytest.raises(NotFound):  # only the receiving village decides
        ev.decide_transfer(leader_a, transfer.id, accept=True, today=TODAY)
    with pytest.raises(Invalid) as e:
        ev.decide_transfer(leader_c, transfer.id, accept=False, today=TODAY)
    assert e.value.field == "reason"
    db.session.rollback()
    ev.decide_transfer(leader_c, transfer.id, accept=False, reason="不在本村居住", today=TODAY)
    db.session.commit()
    db.session.refresh(h)
    assert (h.village_id, h.card_no, h.unit_path, h.current_number, h.state) == before
    assert transfer.state == "refused" and transfer.refusal_reason == "不在本村居住"
    assert ev.pending_transfer(h.id) is None


def test_transfer_requests_are_checked(app, units, collector):
    h = make_household(collector, units["A"])
    with pytest.raises(Invalid) as e:
        ev.request_transfer(collector, h.id, to_unit_id=units["A2"].id, occurred_on=D(2026, 6, 1), today=TODAY)
    assert e.value.field == "to_unit"
    with pytest.raises(Invalid) as e:
        ev.request_transfer(collector, h.id, to_unit_id=units["T2"].id, occurred_on=D(2026, 6, 1), today=TODAY)
    assert e.value.field == "to_unit"
    with pytest.raises(Invalid) as e:
        ev.request_transfer(collector, h.id, to_unit_id=units["C"].id, occurred_on=D(2027, 6, 1), today=TODAY)
    assert e.value.field == "occurred_on"


# ------------------------------------------------------------------ the demo's year of events


def test_demo_events_are_recorded_once_through_the_domain(app, units, collector):
    from app.demo import events as demo_events

    for seq in range(1, 25):
        make_household(collector, units["A" if seq % 2 else "B"], surname="张王李赵"[seq % 4], seq=seq)
    report = demo_events.add_events(units["T1"], {units["A"].code: collector, units["B"].code: collector},
                                    seed=7, today=TODAY)
    db.session.commit()
    recorded = sum(report.recorded.values())
    assert recorded + report.refused <= 4  # one household in six, where an event fits
    stored = db.session.scalars(select(HouseholdVersion).where(
        HouseholdVersion.kind.in_([k.value for k in EVENT_KINDS]))).all()
    assert recorded >= 1 and all(v.occurred_on <= TODAY and v.event for v in stored)
    again = demo_events.add_events(units["T1"], {units["A"].code: collector}, seed=7, today=TODAY)
    assert again.existing and not again.recorded


def test_flask_demo_with_events(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "--households", "60", "--events", "--password", "Demo-pass-2026!x"])
    assert first.exit_code == 0, first.output
    assert "Life events recorded:" in first.output
    kinds = {k.value for k in EVENT_KINDS}

    def events_stored() -> int:
        return db.session.scalar(select(func.count()).select_from(HouseholdVersion)
                                 .where(HouseholdVersion.kind.in_(kinds)))

    made = events_stored()
    assert made >= 5
    again = runner.invoke(args=["demo", "--households", "60", "--events"])
    assert again.exit_code == 0 and "Life events recorded" not in again.output and events_stored() == made
