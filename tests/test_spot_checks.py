"""Spot checks (抽查, issue 17) in the domain, on both databases: sample sizes at the seed's
population boundaries in a village built through registration, the same seed gives the same
sample, sample points of 30 households, who may draw and check (never the household's own
collector), what the checker enters, and the accuracy computed from it."""
from __future__ import annotations

import datetime as dt
import math

import pytest
from sqlalchemy import func, select

from app.domain import registration as reg
from app.domain import spot_checks as sc
from app.domain.errors import Forbidden, Invalid, NotFound
from app.extensions import db
from app.models import AuditEntry, SpotCheck, SpotCheckItem, VillageAcceptance
from tests.support.households import TODAY, member


def crowd(n: int, seq: int, wife: bool = True) -> dict:
    """A household of `n` active members: a married head, his wife (a married woman aged 15-49
    when `wife`) and unmarried children; the village's population grows by n."""
    head = member(f"王{seq}", "02", "1980-01-01", "1", seq=1, marital_status="20")
    members = [head]
    if wife and n > 1:
        members.append(member(f"刘{seq}", "12", "1985-02-02", "2", seq=1, marital_status="20",
                              marriage_date="2005-05-05", spouse_member=head["person_id"], boys=0, girls=0))
    while len(members) < n:
        k = len(members)
        members.append(member(f"王{seq}-{k}", "20" if k % 2 else "30", f"20{k % 10:02d}-03-0{1 + k % 9}",
                              "1" if k % 2 else "2", seq=k))
    for m in members:
        m.pop("id_number")  # no ID numbers: nothing to look up across households, and faster
    return {"household": {"household_type": "family", "door_no": f"{seq}号"}, "members": members}


def grow(collector, village, sizes: list[int], *, start: int, wife: bool = True) -> None:
    for k, n in enumerate(sizes):
        reg.new_household(collector, unit_id=village.id, data=crowd(n, start + k, wife), today=TODAY)
    db.session.commit()


@pytest.fixture
def people(units, make_user):
    return {"collector": make_user("collector", units["A"], username="zhang"),
            "collector2": make_user("collector", units["A"], username="li"),
            "collector_b": make_user("collector", units["B"], username="zhao"),
            "leader": make_user("village_leader", units["A"], username="leader"),
            "verifier": make_user("verifier", units["T1"], username="verifier"),
            "verifier_t2": make_user("verifier", units["T2"], username="verifier2"),
            "county": make_user("county_admin", units["county"], username="county")}


ROUND = "2026"


@pytest.fixture(autouse=True)
def acceptance_round(app):
    app.config["ACCEPTANCE_ROUND"] = ROUND


def draw(user, village, seed="s1", kind="village", round_=None):
    check = sc.draw(user, village.id, seed=seed, round_=round_, today=TODAY, kind=kind)
    db.session.commit()
    return check


def sampled(check: SpotCheck) -> list[tuple[str, int]]:
    return [(str(i.household_id), i.member_index) for i in check.items]


# (households added with their sizes, with a wife each, then: persons, married women, rate, sample)
STAGES = [
    ([40] * 24 + [39], True, 999, 25, 0.15, 4),   # 25 × 15 % = 3.75 -> 4
    ([1], False, 1000, 25, 0.10, 3),              # 25 × 10 % = 2.5 -> 3
    ([40] * 25, True, 2000, 50, 0.05, 3),         # 50 × 5 % = 2.5 -> 3
    ([1], False, 2001, 50, 0.05, 3),
]


def test_sample_sizes_at_the_population_boundaries(app, units, people):
    """999 persons: 15 %; 1,000: 10 %; 2,000 and 2,001: 5 % of the married women, rounded up;
    the village is built through registration and drawn as it grows (a round each: one
    village sample a round)."""
    a, c, v = units["A"], people["collector"], people["verifier"]
    start = 1
    for sizes, wife, population, women, rate, size in STAGES:
        grow(c, a, sizes, start=start, wife=wife)
        start += len(sizes)
        app.config["ACCEPTANCE_ROUND"] = f"p{population}"
        check = draw(v, a, seed=f"p{population}")
        assert check.round == f"p{population}"
        assert (check.population, check.married_women, check.sample_size) == (population, women, size)
        assert check.rate == pytest.approx(rate)
        assert len(check.items) == size == math.ceil(women * rate - 1e-9)
        # Every sampled person is a married woman of the village, at her household's current version.
        for item in check.items:
            data = sc.version_data(item)
            m = data["members"][item.member_index]
            assert (m["sex"], m["marital_status"], str(item.person_id)) == ("2", "20", m["person_id"])


@pytest.fixture
def village(units, people):
    """Village A: 30 households of 5 (150 persons, 30 married women: 15 % -> 5 sampled)."""
    grow(people["collector"], units["A"], [5] * 30, start=1)
    return units["A"]


def test_the_same_seed_gives_the_same_sample_and_another_seed_another(app, village, people):
    first = draw(people["verifier"], village, seed="20261208-110101001001")
    # One village sample a round: the same village is drawn again in other rounds.
    app.config["ACCEPTANCE_ROUND"] = "2026b"
    again = draw(people["county"], village, seed="20261208-110101001001")
    app.config["ACCEPTANCE_ROUND"] = "2026c"
    other = draw(people["verifier"], village, seed="another seed")
    assert first.sample_size == 5 and len(first.items) == 5
    assert sampled(first) == sampled(again)
    assert sampled(first) != sampled(other)
    assert [i.position for i in first.items] == [1, 2, 3, 4, 5]
    assert all(i.version_number == 1 and i.checked_at is None for i in first.items)
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "spotcheck.draw")
                               .order_by(AuditEntry.id)).first()
    assert entry.object_id == str(first.id) and entry.details["sample_size"] == 5
    assert entry.details["seed"] == "20261208-110101001001"


def test_a_sample_point_is_30_households_from_the_seed_with_every_main_item(app, units, people):
    grow(people["collector"], units["A"], [2] * 35, start=1)
    point = draw(people["county"], units["A"], seed="pt", kind="point")
    assert point.kind == "point" and point.sample_size == 30 == len(point.items)
    assert len({i.household_id for i in point.items}) == 30
    assert all(i.member_index is None and i.person_id is None for i in point.items)
    assert sampled(point) == sampled(draw(people["county"], units["A"], seed="pt", kind="point"))
    # Head and wife: each person's main items that apply (the wife's married-woman items too).
    items = sc.items_to_check(point.items[0], TODAY)
    paths = {c.path for c in items}
    assert {"members[0].name", "members[0].id_number", "members[1].boys", "members[1].girls"} <= paths
    assert "members[1].youngest_sex" not in paths  # no children: the youngest child's items do not apply
    assert "members[0].boys" not in paths  # not a married woman: not one of his items
    # Only the county adds sample points.
    with pytest.raises(Forbidden):
        sc.draw(people["verifier"], units["A"].id, seed="pt", today=TODAY, kind="point")


@pytest.mark.parametrize("who, village_key, error", [
    ("collector", "A", Forbidden),      # a collector does not draw
    ("leader", "A", Forbidden),         # nor the village leader
    ("verifier_t2", "A", NotFound),     # another township's verifier does not see village A
    ("verifier", "T1", Invalid),        # a township is not a village
])
def test_who_may_draw_where(app, units, village, people, who, village_key, error):
    before = db.session.scalar(select(func.count()).select_from(SpotCheck))
    with pytest.raises(error):
        sc.draw(people[who], units[village_key].id, seed="s", today=TODAY)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(SpotCheck)) == before


@pytest.mark.parametrize("seed, round_, field", [
    ("", "2026", "seed"), ("   ", "2026", "seed"), ("x" * 41, "2026", "seed"), ("a\u202eb", "2026", "seed"),
    (None, "2026", "seed"), ("s", "", "round"), ("s", "y" * 21, "round"),
    ("s", "2025", "round"), ("s", str(TODAY.year + 1), "round"),  # not the acceptance round
])
def test_bad_draw_input_names_the_field_and_changes_nothing(app, village, people, seed, round_, field):
    with pytest.raises(Invalid) as caught:
        sc.draw(people["verifier"], village.id, seed=seed, round_=round_, today=TODAY)
    assert caught.value.field == field
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(SpotCheck)) == 0


def test_a_village_without_married_women_is_refused(app, units, people):
    grow(people["collector_b"], units["B"], [3, 3], start=1, wife=False)
    with pytest.raises(Invalid) as caught:
        sc.draw(people["verifier"], units["B"].id, seed="s", today=TODAY)
    assert caught.value.field == "village_id" and "银闸社区" in caught.value.message


def answers_all_right(item) -> dict:
    return {c.path: {"ok": "1"} for c in sc.items_to_check(item, TODAY)}


def test_a_checker_who_collected_the_household_is_refused(app, village, people):
    check = draw(people["verifier"], village)
    item = check.items[0]
    with pytest.raises(Forbidden) as caught:
        sc.enter(people["collector"], check.id, item.position, answers_all_right(item), today=TODAY)
    assert "自己采集" in caught.value.message or "collected household" in caught.value.message
    db.session.rollback()
    assert db.session.get(SpotCheckItem, item.id).checked_at is None
    # A collector who only saved a later version is one of its collectors too.
    household = reg.get_household(people["collector2"], item.household_id)
    data = sc.version_data(item)
    reg.save_household(people["collector2"], household.id, data=data, base_number=1, today=TODAY)
    db.session.commit()
    assert people["collector2"].id in sc.collectors_of(household)
    with pytest.raises(Forbidden):
        sc.enter(people["collector2"], check.id, item.position, answers_all_right(item), today=TODAY)


def test_entries_give_the_accuracy_and_a_correction_overwrites_with_before_and_after(app, village, people):
    check = draw(people["verifier"], village)
    first, second = check.items[0], check.items[1]
    assert sc.accuracy_by_village([village.id], ROUND) == {village.id: (0, 0)}
    answers = answers_all_right(first)
    n = len(answers)
    # Her 17 main items less migration (2), cancellation (2) and the youngest child (2: she has none).
    assert n == 11
    answers["members[1].boys"] = {"ok": "0", "found": "1"}
    answers["members[1].birth_date"] = {"ok": "0", "found": "1985-02-03"}
    sc.enter(people["collector2"], check.id, first.position, answers, today=TODAY)
    sc.enter(people["verifier"], check.id, second.position, answers_all_right(second), today=TODAY)
    db.session.commit()
    assert (first.items_checked, first.items_wrong) == (n, 2)
    assert first.results["members[1].boys"] == {"ok": False, "found": "1"}
    assert first.checker_id == people["collector2"].id
    assert sc.accuracy_by_village([village.id, 999], ROUND) == {village.id: (2 * n, 2 * n - 2), 999: (0, 0)}
    # Corrected: one wrong item was right after all.
    answers["members[1].boys"] = {"ok": "1"}
    sc.enter(people["collector2"], check.id, first.position, answers, today=TODAY)
    db.session.commit()
    assert sc.accuracy_by_village([village.id], ROUND)[village.id] == (2 * n, 2 * n - 1)
    last = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "spotcheck.enter")
                              .order_by(AuditEntry.id.desc())).first()
    assert last.details["before"]["items_wrong"] == 2 and last.details["after"]["items_wrong"] == 1


def test_no_correction_after_the_village_is_accepted(app, village, people):
    check = draw(people["verifier"], village)
    item = check.items[0]
    sc.enter(people["verifier"], check.id, item.position, answers_all_right(item), today=TODAY)
    db.session.add(VillageAcceptance(village_id=village.id, round="2026", state="accepted",
                                     applied_by_id=people["leader"].id, decided_at=dt.datetime.now(dt.timezone.utc)))
    db.session.commit()
    with pytest.raises(Forbidden) as caught:
        sc.enter(people["verifier"], check.id, item.position, answers_all_right(item), today=TODAY)
    assert "2026" in caught.value.message


@pytest.mark.parametrize("change, field", [
    (lambda a: a.pop("members[1].name"), "members[1].name"),                         # not marked
    (lambda a: a.update({"members[1].sex": {"ok": "maybe"}}), "members[1].sex"),     # neither right nor wrong
    (lambda a: a.update({"members[1].sex": {"ok": "0"}}), "members[1].sex"),         # wrong, nothing found
    (lambda a: a.update({"members[1].sex": {"ok": "0", "found": " "}}), "members[1].sex"),
    (lambda a: a.update({"members[1].sex": {"ok": "0", "found": "x" * 101}}), "members[1].sex"),
])
def test_bad_entries_name_the_item_and_change_nothing(app, village, people, change, field):
    check = draw(people["verifier"], village)
    item = check.items[0]
    answers = answers_all_right(item)
    change(answers)
    with pytest.raises(Invalid) as caught:
        sc.enter(people["verifier"], check.id, item.position, answers, today=TODAY)
    assert caught.value.field == field
    assert "第2位成员" in caught.value.message
    db.session.rollback()
    assert db.session.get(SpotCheckItem, item.id).checked_at is None


def test_another_townships_verifier_neither_sees_nor_enters(app, village, people):
    check = draw(people["verifier"], village)
    with pytest.raises(NotFound):
        sc.get_spot_check(people["verifier_t2"], check.id)
    with pytest.raises(NotFound):
        sc.enter(people["verifier_t2"], check.id, 1, {}, today=TODAY)
    assert sc.spot_checks_of(people["verifier_t2"], check.village.parent) == []
    assert [c.id for c in sc.spot_checks_of(people["verifier"], check.village.parent)] == [check.id]


def test_married_women_counted_as_the_person_register_would(app, village, people):
    """The roll reads the versions with quality.married_women; the register's columns agree."""
    from app.models import Person
    roll = sc.village_roll(village, TODAY)
    low, high = dt.date(TODAY.year - 50, TODAY.month, TODAY.day), dt.date(TODAY.year - 15, TODAY.month, TODAY.day)
    register = db.session.scalar(select(func.count()).select_from(Person).where(
        Person.village_id == village.id, Person.sex == "2", Person.status == "active",
        Person.marital_status.in_(["20", "21", "22", "23"]), Person.birth_date > low, Person.birth_date <= high))
    assert len(roll.women) == register == 30 and roll.population == 150


def test_a_draw_is_in_the_acceptance_round_and_another_round_is_refused_naming_it(app, village, people):
    app.config["ACCEPTANCE_ROUND"] = "2026春"
    check = draw(people["verifier"], village)  # no round given: the acceptance round
    assert check.round == "2026春"
    with pytest.raises(Invalid) as caught:
        sc.draw(people["county"], village.id, seed="s", round_="2026", today=TODAY, kind="point")
    assert caught.value.field == "round"
    assert "轮次" in caught.value.message and "2026春" in caught.value.message
    db.session.rollback()
    assert sc.draw(people["county"], village.id, seed="s", round_=" 2026春 ", today=TODAY, kind="point").round == "2026春"


def count_checks(kind: str) -> int:
    return db.session.scalar(select(func.count()).select_from(SpotCheck).where(SpotCheck.kind == kind))


def test_one_village_sample_a_round_a_second_draw_answers_with_the_first(app, village, people):
    first = draw(people["verifier"], village, seed="first")
    for user, seed in ((people["verifier"], "first"), (people["county"], "a seed that suits better")):
        with pytest.raises(sc.AlreadyDrawn) as caught:
            sc.draw(user, village.id, seed=seed, today=TODAY)
        assert caught.value.spot_check.id == first.id and caught.value.field == "round"
        assert "2026" in caught.value.message and "first" in caught.value.message
        db.session.rollback()
    assert count_checks("village") == 1
    # The county's sample points are not limited to one.
    draw(people["county"], village, seed="pt1", kind="point")
    draw(people["county"], village, seed="pt2", kind="point")
    assert count_checks("point") == 2
    # The village's sample of the next round is drawn.
    app.config["ACCEPTANCE_ROUND"] = "2027"
    assert draw(people["verifier"], village, seed="first").round == "2027"
    assert count_checks("village") == 2


def test_a_second_village_sample_raced_in_is_refused_by_the_index(app, village, people, monkeypatch):
    first = draw(people["verifier"], village, seed="first")
    # Both requests looked before either wrote: the partial unique index refuses the second.
    real = sc.village_sample_of
    calls = []

    def not_yet(village_id, round_):
        calls.append(1)
        return None if len(calls) == 1 else real(village_id, round_)

    monkeypatch.setattr(sc, "village_sample_of", not_yet)
    with pytest.raises(sc.AlreadyDrawn) as caught:
        sc.draw(people["county"], village.id, seed="second", today=TODAY)
    assert caught.value.spot_check.id == first.id
    db.session.rollback()
    assert count_checks("village") == 1


def test_accuracy_counts_the_round_asked_for_both_kinds(app, village, people):
    sample = draw(people["verifier"], village, seed="s")
    point = draw(people["county"], village, seed="pt", kind="point")
    app.config["ACCEPTANCE_ROUND"] = "2025"
    old = draw(people["verifier"], village, seed="old")
    for check in (sample, point, old):
        item = check.items[0]
        answers = answers_all_right(item)
        wrong = next(iter(answers))
        answers[wrong] = {"ok": "0", "found": "x"}
        sc.enter(people["collector2"], check.id, item.position, answers, today=TODAY)
    db.session.commit()
    n_sample, n_point, n_old = (c.items[0].items_checked for c in (sample, point, old))
    assert sc.accuracy_by_village([village.id], ROUND) == {village.id: (n_sample + n_point, n_sample + n_point - 2)}
    assert sc.accuracy_by_village([village.id], "2025") == {village.id: (n_old, n_old - 1)}
    assert sc.sample_progress([village.id], ROUND) == {village.id: (1, 5)}
    with pytest.raises(TypeError):  # the round is never left out: no accuracy over every round
        sc.accuracy_by_village([village.id])  # type: ignore[call-arg]
