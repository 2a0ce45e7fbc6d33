"""Demo households: the generator makes coherent families (pure, many seeds), and `flask demo`
registers them through the domain, once, with the deliberate problems found by the checks."""
from __future__ import annotations

from collections import Counter
from datetime import date

import pytest
from sqlalchemy import func, select

from app.demo import township as demo
from app.demo import households as dh
from quality.household import check_household_rules
from app.extensions import db
from app.models import AuditEntry, Household, HouseholdVersion, Person, User
from collection_forms import IdNumberError, check, load_form, parse_id_number
from collection_forms.conditions import age_on, derived

TODAY = date(2026, 11, 23)
SEEDS = range(8)
SONS = {"20", "21", "22", "23", "24", "25", "26", "29"}
DAUGHTERS = {"30", "31", "32", "33", "34", "35", "36", "39"}
SPOUSE = {"10", "11", "12"}


def demo_villages() -> dict[str, list[str]]:
    """The demo township's villages and groups, as `flask demo` makes them (no database)."""
    villages = [r["code"] for r in demo.read_township_rows() if r["level"] == "5"]
    return {v: [f"{v}{n:03d}" for n in range(1, demo.group_count(v) + 1)] for v in villages}


def generate(count: int, seed: int = 1, today: date = TODAY) -> list[dh.DemoHousehold]:
    return dh.generate_households(demo_villages(), count, seed, today)


def years(a: str, b: str) -> int:
    """Completed years from date a to date b."""
    return age_on(date.fromisoformat(a), date.fromisoformat(b))


def rules(issues, level: str) -> set[str]:
    return {i.rule for i in issues if i.level == level}


def incoherences(h: dh.DemoHousehold, today: date) -> list[str]:
    """What a careful reader of the card would object to, checked independently of the checks."""
    found: list[str] = []
    hh, members = h.data["household"], h.data["members"]
    by_id = {m["person_id"]: m for m in members}
    active = [m for m in members if m["status"] == "active"]
    heads = [m for m in active if m["relationship"] == "02"]
    if hh["group_code"] != h.unit_code or hh["household_type"] not in ("family", "collective", "nominal"):
        found.append("address")
    if len(heads) != 1:
        return found + ["heads"]
    head = heads[0]
    if not 25 <= years(head["birth_date"], today.isoformat()) <= 80:
        found.append("head age")
    wife = next((m for m in members if m["relationship"] in SPOUSE and m["sex"] == "2"), None)
    mother = wife or (head if head["sex"] == "2" else None)
    for m in members:
        rel, birth = m["relationship"], m["birth_date"]
        age = years(birth, today.isoformat())
        if rel in SPOUSE and (m["sex"] == head["sex"] or abs(years(min(birth, head["birth_date"]),
                                                                    max(birth, head["birth_date"]))) > 8):
            found.append(f"spouse {m['name']}")
        if rel in SONS | DAUGHTERS:
            father = head if head["sex"] == "1" else next(
                (x for x in members if x["relationship"] == "11"), None)
            if father and m["name"][0] != father["name"][0]:
                found.append(f"surname {m['name']}")
            if mother and not 18 <= years(mother["birth_date"], birth) <= 40:
                found.append(f"mother's age at {m['name']}'s birth")
            if mother and mother.get("marriage_date") and birth < mother["marriage_date"]:
                found.append(f"{m['name']} born before the marriage")
            if years(head["birth_date"], birth) < 15:
                found.append(f"{m['name']} too close to the head")
        if rel in ("51", "52") and not 20 <= years(birth, head["birth_date"]) <= 35:
            found.append(f"parent {m['name']}")
        if rel == "51" and head["sex"] == "1" and m["name"][0] != head["name"][0]:
            found.append(f"surname of the father {m['name']}")
        if age < 20 and m["marital_status"] != "10":
            found.append(f"{m['name']} married under 20")
        if m["management"] != "resident":
            since = m.get("migration_since")
            if not m.get("migration_place") or not since or not birth <= since <= today.isoformat():
                found.append(f"migration of {m['name']}")
        if m["status"] != "active" and not (birth <= m.get("cancelled_on", "") <= today.isoformat()):
            found.append(f"cancellation of {m['name']}")
        number = m.get("id_number")
        if number and (number[:6] != dh.COUNTY_CODE or number[6:14] != birth.replace("-", "")
                       or int(number[16]) % 2 != (m["sex"] == "1")):
            found.append(f"ID number of {m['name']}")
        if number is None and age >= 1:
            found.append(f"no ID number for {m['name']}")
        # A married woman aged 15-49: her card section is filled, and agrees with the roster.
        if derived(m, today)["married_woman_15_49"]:
            if "marriage_date" not in m or "boys" not in m or "girls" not in m:
                found.append(f"married woman {m['name']} incomplete")
                continue
            spouse = by_id.get(m.get("spouse_member"))
            if spouse is None and not (m.get("spouse_name") and m.get("spouse_id_number")):
                found.append(f"spouse of {m['name']}")
            if rel in SPOUSE or rel == "02":
                own_sons, own_daughters = SONS, DAUGHTERS
            elif rel == "38":
                own_sons, own_daughters = {"41"}, {"42"}
            elif rel == "52":
                own_sons, own_daughters = ({"02"}, set()) if head["sex"] == "1" else (set(), {"02"})
            else:
                own_sons, own_daughters = set(), set()
            sons = [x for x in members if x["relationship"] in own_sons]
            daughters = [x for x in members if x["relationship"] in own_daughters]
            if m["boys"] < len(sons) or m["girls"] < len(daughters):
                found.append(f"children of {m['name']}")
            if m["boys"] + m["girls"]:
                youngest = max([m["youngest_birth_date"]] + [x["birth_date"] for x in sons + daughters])
                if youngest != m["youngest_birth_date"] or m["youngest_sex"] not in ("1", "2"):
                    found.append(f"youngest child of {m['name']}")
    return found


# ------------------------------------------------------------------ the generator (pure)

@pytest.mark.parametrize("seed", SEEDS)
def test_households_are_coherent_and_pass_the_checks(seed):
    form = load_form()
    households = generate(300, seed)

    assert len(households) == 300
    for h in households:
        clean, issues = check(h.data, form, TODAY)
        issues += check_household_rules(clean)
        expected = dh.PROBLEM_ERRORS[h.problem] if h.problem else frozenset()
        may_add = dh.PROBLEM_MAY_ADD.get(h.problem, frozenset())
        assert expected <= rules(issues, "error") <= expected | may_add, (h.problem, h.data)
        assert rules(issues, "warning") <= dh.ALLOWED_WARNINGS | may_add, (h.problem, h.data)
        if h.problem is None:
            assert incoherences(h, TODAY) == [], h.data
        elif h.problem in (dh.MISSING_HEAD, dh.CHILD_TOO_CLOSE):
            assert incoherences(h, TODAY), h.data  # the reader above sees these too


def test_a_township_of_families():
    households = generate(2000)
    members = [m for h in households for m in h.data["members"]]

    assert 2.6 <= len(members) / len(households) <= 4.5
    types = Counter(h.data["household"]["household_type"] for h in households)
    assert types["family"] > 0.9 * len(households) and types["collective"] > 0 and types["nominal"] > 0
    # Spread over every group of every village, door numbers rising within a group.
    by_unit = Counter(h.unit_code for h in households)
    assert set(by_unit) == {g for groups in demo_villages().values() for g in groups}
    assert max(by_unit.values()) - min(by_unit.values()) <= 1
    for unit in by_unit:
        doors = [int(h.data["household"]["door_no"].rstrip("号")) for h in households if h.unit_code == unit]
        assert doors == sorted(set(doors))
    # About 10 % out-migrants, a few deceased, married women with their section.
    management = Counter(m["management"] for m in members)
    assert 0.06 <= management["out_migrant"] / len(members) <= 0.16
    assert 10 <= sum(m["status"] == "deceased" for m in members) <= 0.03 * len(members)
    assert sum("marriage_date" in m for m in members) > 0.1 * len(members)
    # Surnames by frequency: the commonest three lead, and many others appear.
    surnames = Counter(m["name"][0] for m in members)
    assert {s for s, _ in surnames.most_common(4)} >= {"王", "李", "张"}
    assert len(surnames) > 100
    # Relationship codes from GB/T 4761 as the form allows them; several generations.
    relationship = load_form().fields_of("members")["relationship"]
    codes = Counter(m["relationship"] for m in members)
    assert set(codes) <= relationship.allowed
    assert {"02", "12", "11", "21", "22", "31", "38", "41", "42", "51", "52", "99"} <= set(codes)
    # Person ids and ID numbers are unique, but for the deliberate duplicates.
    assert len({m["person_id"] for m in members}) == len(members)
    numbers = Counter(m["id_number"] for m in members if "id_number" in m)
    twice = {n for n, k in numbers.items() if k > 1}
    duplicates = [h for h in households if h.problem in (dh.DUPLICATE_ID, dh.DUPLICATE_ID_ELSEWHERE)]
    assert len(twice) == len(duplicates)


def test_about_two_percent_have_one_deliberate_problem_each():
    households = generate(2000)

    problems = Counter(h.problem for h in households if h.problem)
    assert set(problems) == set(dh.PROBLEMS)
    assert 35 <= sum(problems.values()) <= 45
    assert max(problems.values()) - min(problems.values()) <= 1
    # A small demo still gets one of each.
    assert {h.problem for h in generate(60) if h.problem} == set(dh.PROBLEMS)


def test_a_cross_household_duplicate_copies_a_person_of_an_earlier_household():
    households = generate(500)

    for i, h in enumerate(households):
        if h.problem != dh.DUPLICATE_ID_ELSEWHERE:
            continue
        assert h.duplicate_of is not None and h.duplicate_of < i
        source = households[h.duplicate_of]
        assert source.problem is None
        copy = h.data["members"][-1]
        original = next(m for m in source.data["members"] if m.get("id_number") == copy["id_number"])
        assert (copy["name"], copy["birth_date"], copy["sex"]) == (
            original["name"], original["birth_date"], original["sex"])
        assert copy["person_id"] != original["person_id"]


def test_the_same_seed_and_day_give_the_same_households():
    first, again = generate(200, seed=7), generate(200, seed=7)

    assert first == again
    assert [h.submission_id for h in first] == [dh.submission_id(7, i) for i in range(200)]
    other = generate(200, seed=8)
    assert [h.data for h in other] != [h.data for h in first]
    assert {h.submission_id for h in other}.isdisjoint(h.submission_id for h in first)


def test_nothing_for_nothing():
    assert generate(0) == []
    assert dh.generate_households({}, 10, 1, TODAY) == []


def test_id_numbers_carry_the_county_birth_date_sex_and_check_digit():
    gen = dh._Generator(1, TODAY, "")
    for birth, sex in ((date(1949, 12, 31), "2"), (date(1987, 1, 1), "1"), (date(2024, 2, 29), "2")):
        number = gen.id_number(birth, sex)
        info = parse_id_number(number, TODAY)
        assert (info.region_code, info.birth_date, info.sex) == (dh.COUNTY_CODE, birth, sex)
        wrong = number[:17] + ("0" if number[17] != "0" else "1")
        with pytest.raises(IdNumberError) as e:
            parse_id_number(wrong, TODAY)
        assert e.value.code == "id.checksum"


# ------------------------------------------------------------------ `flask demo` (both databases)

def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_flask_demo_registers_households_once(app):
    runner = app.test_cli_runner()

    result = runner.invoke(args=["demo", "--households", "60", "--no-events"])

    assert result.exit_code == 0, result.output
    assert "Households created: 60" in result.output
    households = db.session.scalars(select(Household)).all()
    assert len(households) == 60 and count(HouseholdVersion) == 60
    versions = db.session.scalars(select(HouseholdVersion)).all()
    assert count(Person) == sum(len(v.data["members"]) for v in versions)
    assert all(v.number == 1 and v.kind == "create" and v.submission_id for v in versions)
    # Each household was registered by its village's demo collector, card numbers 0001 up.
    for h in households:
        creator = db.session.get(User, h.created_by_id)
        assert creator.username.startswith("demo_collector")
        assert [(a.role, a.unit_id) for a in creator.roles] == [("collector", h.village_id)]
        assert h.group is not None and h.group.parent_id == h.village_id
    by_village = Counter(h.village_id for h in households)
    for village_id, n in by_village.items():
        cards = sorted(h.card_no for h in households if h.village_id == village_id)
        assert cards == [f"{i:04d}" for i in range(1, n + 1)]
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)
                             .where(AuditEntry.action == "household.create")) == 60

    audits = count(AuditEntry)
    again = runner.invoke(args=["demo", "--households", "60", "--no-events"])

    assert again.exit_code == 0, again.output
    assert "already has 60; none created" in again.output
    assert (count(Household), count(HouseholdVersion), count(AuditEntry)) == (60, 60, audits)


def test_the_checks_find_the_deliberate_problems(app):
    township = demo.create_units(demo.read_township_rows())
    logins = demo.create_users(township, "demo-password-1").logins
    collectors = demo.village_collectors(township, logins)

    report = demo.create_households(township, collectors, 80, seed=3, today=TODAY)
    db.session.commit()

    generated = {h.submission_id: h for h in dh.generate_households(
        {v.code: [g.code for g in township.groups[v.code]] for v in township.villages}, 80, 3, TODAY,
        place="".join(u.name for u in township.chain))}
    assert report.created == 80 and report.replayed == 0
    assert sum(report.problems.values()) == sum(1 for h in generated.values() if h.problem)
    versions = db.session.scalars(select(HouseholdVersion)).all()
    assert {v.submission_id for v in versions} == set(generated)
    for v in versions:
        h = generated[v.submission_id]
        errors = {i["rule"] for i in v.issues if i["level"] == "error"}
        warnings = {i["rule"] for i in v.issues if i["level"] == "warning"}
        expected = dh.PROBLEM_ERRORS[h.problem] if h.problem else frozenset()
        may_add = dh.PROBLEM_MAY_ADD.get(h.problem, frozenset())
        assert expected <= errors <= expected | may_add, (h.problem, v.issues)
        assert warnings - dh.ALLOWED_WARNINGS - may_add == dh.PROBLEM_WARNINGS.get(h.problem, frozenset()), h.problem
        assert v.complete is not bool(expected) and v.household.complete is v.complete
    assert report.incomplete == sum(1 for h in generated.values()
                                    if h.problem and dh.PROBLEM_ERRORS[h.problem])


def test_a_township_with_households_gets_no_demo_households(app):
    township = demo.create_units(demo.read_township_rows())
    collectors = demo.village_collectors(township, demo.create_users(township, "demo-password-1").logins)
    demo.create_households(township, collectors, 5, today=TODAY)

    report = demo.create_households(township, collectors, 5, seed=99, today=TODAY)

    assert (report.existing, report.created) == (5, 0)
    assert count(Household) == 5
