"""`flask demo`: a real township with groups and one login per role, safe to run again."""
from __future__ import annotations

import csv
import gzip
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.demo import township as demo
from app.extensions import db
from app.models import AdminUnit, AuditEntry, RoleAssignment, User

SHARED_DIVISIONS = Path("/work/shared/data/admin_divisions_l1-l5_2021.csv.gz")
PASSWORD_RE = re.compile(r"^Password: (\S+)$", re.MULTILINE)


def run_demo(app, *args: str):
    # Units and users only; the households step has its own tests (test_demo_households.py).
    if "--households" not in args:
        args = (*args, "--households", "0")
    result = app.test_cli_runner().invoke(args=["demo", *args])
    assert result.exit_code == 0, result.output
    return result.output


def printed_password(output: str) -> str:
    match = PASSWORD_RE.search(output)
    assert match, output
    return match.group(1)


def counts() -> dict[str, int]:
    return {m.__tablename__: db.session.scalar(select(func.count()).select_from(m))
            for m in (AdminUnit, User, RoleAssignment)}


def units_at(level: str) -> list[AdminUnit]:
    return db.session.scalars(select(AdminUnit).where(AdminUnit.level == level).order_by(AdminUnit.code)).all()


def expected_logins() -> dict[str, tuple[str, AdminUnit]]:
    v1, v2, v3, v4, v5, v6 = units_at("village")
    township, = units_at("township")
    county, = units_at("county")
    province, = units_at("province")
    return {
        "demo_collector": ("collector", v1), "demo_collector2": ("collector", v2),
        "demo_village_leader": ("village_leader", v1), "demo_village_leader2": ("village_leader", v2),
        "demo_verifier": ("verifier", township), "demo_clerk": ("clerk", township),
        "demo_county_admin": ("county_admin", county), "demo_viewer": ("viewer", township),
        "demo_sysadmin": ("sysadmin", province),
        # Every village has a collector, who registers its demo households.
        "demo_collector3": ("collector", v3), "demo_collector4": ("collector", v4),
        "demo_collector5": ("collector", v5), "demo_collector6": ("collector", v6),
        "demo_village_leader3": ("village_leader", v3), "demo_village_leader4": ("village_leader", v4),
        "demo_village_leader5": ("village_leader", v5), "demo_village_leader6": ("village_leader", v6),
    }


def test_demo_builds_one_township_with_villages_and_groups(app):
    output = run_demo(app)

    township, = units_at("township")
    villages = units_at("village")
    assert 5 <= len(villages) <= 8
    assert all(v.parent_id == township.id and v.name.endswith("村委会") for v in villages)
    for village in villages:
        groups = sorted(village.children, key=lambda g: g.code)
        assert 3 <= len(groups) <= 6
        assert [g.code for g in groups] == [f"{village.code}{n:03d}" for n in range(1, len(groups) + 1)]
        assert [g.name for g in groups] == ["第一组", "第二组", "第三组", "第四组", "第五组", "第六组"][:len(groups)]
        assert all(g.level == "group" for g in groups)
    # Every path is the parent's path plus the unit's own code.
    for unit in db.session.scalars(select(AdminUnit)):
        parent_path = unit.parent.path if unit.parent else ""
        assert unit.path == f"{parent_path}{unit.code}/"
    assert [len(units_at(level)) for level in ("province", "city", "county")] == [1, 1, 1]
    assert township.name in output and township.code in output


def test_demo_makes_one_login_per_role_at_a_sensible_unit(app):
    run_demo(app)

    expected = expected_logins()
    users = db.session.scalars(select(User)).all()
    assert sorted(u.username for u in users) == sorted(expected)
    for user in users:
        role, unit = expected[user.username]
        assert [(a.role, a.unit_id) for a in user.roles] == [(role, unit.id)]
        assert user.active and user.name and user.name != "测试用户"
    assert len({u.name for u in users}) == len(users)


def test_printed_logins_and_password_work(app, client):
    output = run_demo(app)
    password = printed_password(output)

    assert len(password) >= 8
    assert "http://testserver" in output
    for username, (role, unit) in expected_logins().items():
        line = next(line for line in output.splitlines() if line.split()[:1] == [username])
        assert role in line and unit.name in line and password in line
        client.login(username, password)
        client.logout()


def test_collector_sees_own_village_only(app, client):
    password = printed_password(run_demo(app))
    v1, v2 = units_at("village")[:2]

    client.login("demo_collector", password)
    assert client.get(f"/units/{v1.id}").status_code == 200
    assert client.get(f"/units/{v2.id}").status_code == 404
    client.logout()
    client.login("demo_collector2", password)
    assert client.get(f"/units/{v2.id}").status_code == 200
    assert client.get(f"/units/{v1.id}").status_code == 404


def test_second_run_creates_nothing_and_keeps_the_password(app, client):
    password = printed_password(run_demo(app))
    before = counts()
    audits_before = db.session.scalar(select(func.count()).select_from(AuditEntry))

    output = run_demo(app)

    assert counts() == before
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == audits_before
    assert "already exist" in output and "unchanged" in output
    assert "demo_collector" in output and "demo_sysadmin" in output
    assert not PASSWORD_RE.search(output) and password not in output
    client.login("demo_verifier", password)


def test_reset_passwords_sets_a_new_working_password(app, client):
    old = printed_password(run_demo(app))
    before = counts()

    new = printed_password(run_demo(app, "--reset-passwords"))

    assert new != old
    assert counts() == before
    refused = client.post_form("/login", {"username": "demo_clerk", "password": old})
    assert refused.status_code == 401
    client.login("demo_clerk", new)


def test_given_password_is_used_and_checked(app, client):
    result = app.test_cli_runner().invoke(args=["demo", "--password", "short"])
    # The message is in the default language; it names the minimum length either way.
    assert result.exit_code != 0 and "Error" in result.output and "8" in result.output
    assert counts() == {"admin_unit": 0, "user_account": 0, "role_assignment": 0}

    output = run_demo(app, "--password", "village-demo-2021")
    assert printed_password(output) == "village-demo-2021"
    client.login("demo_sysadmin", "village-demo-2021")


def test_one_summary_audit_entry_with_the_per_user_entries(app):
    run_demo(app)
    run_demo(app)

    actions = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions.count("demo.create") == 1
    assert actions.count("user.create") == len(demo.DEMO_USERS)
    summary = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "demo.create"))
    assert summary.actor_id is None
    assert summary.details["units_created"] == counts()["admin_unit"]
    assert sorted(summary.details["users_created"]) == sorted(expected_logins())


def test_chinese_numbers():
    assert [demo.chinese_number(n) for n in (1, 6, 10, 11, 20, 21, 99)] == [
        "一", "六", "十", "十一", "二十", "二十一", "九十九"]
    with pytest.raises(ValueError):
        demo.chinese_number(0)


def test_demo_rows_are_a_copy_of_the_shared_reference_data():
    rows = demo.read_township_rows()
    assert 9 <= len(rows) <= 12  # the chain of four and 5-8 villages: the copy stays tiny
    if not SHARED_DIVISIONS.exists():
        pytest.skip("the shared reference data is not on this machine")
    wanted = {r["code"]: r for r in rows}
    with gzip.open(SHARED_DIVISIONS, "rt", encoding="utf-8", newline="") as f:
        source = {r["code"]: r for r in csv.DictReader(f) if r["code"] in wanted}
    assert source == wanted


# ------------------------------------------------------------------ what `flask demo` prints, in order

PROGRESS_RE = re.compile(r"^demo: +\d+\.\d s  (.+)$")


def test_progress_then_an_explained_summary_then_the_logins_last(app):
    from app.models import Household, HouseholdVersion

    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "--households", "60", "--password", "village-demo-2021"])
    assert first.exit_code == 0, first.output
    lines = first.output.splitlines()

    # Progress, as each step runs (standard error), with counts and seconds.
    progress = [m.group(1) for m in map(PROGRESS_RE.match, lines) if m]
    for step in ("demo users: 17 of 17 ready in ", "households: 60 of 60 registered in ",
                 "approval chain: 60 of 60 households done in ", "life events: "):
        assert any(p.startswith(step) for p in progress), (step, progress)
    assert progress[-1] == "saved"
    assert "households: 60 of 60" not in first.stdout  # progress is not mixed into the report

    # The households as they are after the life events: made by splits, drafts made by events.
    split = db.session.scalar(select(func.count()).select_from(HouseholdVersion).where(
        HouseholdVersion.number == 1, HouseholdVersion.kind == "split"))
    changed_drafts = db.session.scalar(select(func.count()).select_from(Household).where(
        Household.state == "draft", Household.current_number > 1))
    assert changed_drafts > 0
    made = f"The township has {60 + split} households: 60 households collected"
    assert (f"{made} + {split} made by splits (分户)." if split else f"{made}.") in lines
    states = {state: n for state, n in db.session.execute(
        select(Household.state, func.count()).group_by(Household.state))}
    by_state = next(line for line in lines if line.startswith("By state: "))
    assert all(f"{state} {n}" in by_state for state, n in states.items())
    drafts = next(line for line in lines if line.startswith(f"The {states['draft']} drafts: "))
    assert f"{changed_drafts} households changed by life events, waiting to be signed" in drafts

    # The logins and the password come last, after every progress and summary line.
    last_progress = max(i for i, line in enumerate(lines) if PROGRESS_RE.match(line))
    summary = lines.index(by_state)
    logins = [i for i, line in enumerate(lines) if line.split()[:1] and line.split()[0].startswith("demo_")
              and "village-demo-2021" in line]
    assert len(logins) == len(demo.DEMO_USERS)
    assert last_progress < summary < min(logins)
    assert [line for line in lines[max(logins) + 1:] if line.strip()] == ["Password: village-demo-2021"]

    # A second run makes nothing and prints the same counts, the logins still last.
    second = runner.invoke(args=["demo", "--households", "60"])
    assert second.exit_code == 0, second.output
    again = second.output.splitlines()
    assert f"Households: the township already has {60 + split}; none created." in again
    explained = [line for line in lines if line.startswith(("The township has", "By state:"))] + [drafts]
    assert all(line in again for line in explained)
    assert again[-1].split()[0] == demo.DEMO_USERS[-1].username and again[-1].endswith("(unchanged)")
