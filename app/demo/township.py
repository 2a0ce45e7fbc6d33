"""The demo township: real division codes, village groups, one login per role, households.

Built in steps that each take what the earlier ones made (units, then users, then
households, then their approval states), each called from `create_demo` with the
`DemoTownship`. Every step is idempotent: units are found by code, users by username, role
grants are idempotent in `grant_role`, households are made only while the township has
none, and only untouched demo households are moved along the chain (demo_workflow).
Nothing secret is kept: the one shared password is given by the operator or generated, and
only ever printed.
"""
from __future__ import annotations

import csv
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from faker import Faker
from sqlalchemy import func, select

from app.domain import audit, registration, users
from app.domain.auth import end_all_sessions
from app.demo.households import generate_households
from app.demo.progress import Progress, no_progress
from app.demo.workflow import Signers, WorkflowReport, move_households
from app.domain.passwords import hash_password
from app.domain.tree import in_subtree
from app.domain.units import get_or_create_unit
from app.extensions import db
from app.models import (AdminUnit, Household, HouseholdState, HouseholdVersion, Role, UnitLevel, User,
                        VersionKind)

# One rural township of an ordinary county, copied from the NBS 2021 tree (see its README),
# so that the demo works where the shared reference data is not present.
TOWNSHIP_CSV = Path(__file__).resolve().parent / "data" / "township.csv"

# The NBS file numbers its levels 1-5.
NBS_LEVELS = {"1": UnitLevel.province, "2": UnitLevel.city, "3": UnitLevel.county,
              "4": UnitLevel.township, "5": UnitLevel.village}

# The same names on every run and every machine (for one Faker version).
NAME_SEED = 2021
# The same households too (for one Faker version and one day: ages are counted from today).
HOUSEHOLD_SEED = 2021
DEMO_HOUSEHOLDS = 2000
# Easy to read aloud and type on a phone: no 0/o, 1/l/i.
PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # noqa: S105 (the letters, not a password)
PASSWORD_LENGTH = 12

_DIGITS = "零一二三四五六七八九"


@dataclass(frozen=True)
class DemoUserSpec:
    username: str
    role: Role
    unit: str  # "province", "county", "township", or "village:<n>" (0-based, in code order)


# One login per role, and a second collector and village leader in the second village so
# that scope can be tried: the collector of one village does not see the other. Every
# village has its collector, who registers the village's demo households (谁采集、谁录入、
# 谁负责: the audit log names the collector of the village, not a system account), and its
# leader, who confirms them.
DEMO_USERS = (
    DemoUserSpec("demo_collector", Role.collector, "village:0"),
    DemoUserSpec("demo_collector2", Role.collector, "village:1"),
    DemoUserSpec("demo_village_leader", Role.village_leader, "village:0"),
    DemoUserSpec("demo_village_leader2", Role.village_leader, "village:1"),
    DemoUserSpec("demo_verifier", Role.verifier, "township"),
    DemoUserSpec("demo_clerk", Role.clerk, "township"),
    DemoUserSpec("demo_county_admin", Role.county_admin, "county"),
    DemoUserSpec("demo_viewer", Role.viewer, "township"),
    DemoUserSpec("demo_sysadmin", Role.sysadmin, "province"),
    DemoUserSpec("demo_collector3", Role.collector, "village:2"),
    DemoUserSpec("demo_collector4", Role.collector, "village:3"),
    DemoUserSpec("demo_collector5", Role.collector, "village:4"),
    DemoUserSpec("demo_collector6", Role.collector, "village:5"),
    # Every village has its leader too, who confirms the village's demo households (the
    # approval chain, app.demo.workflow). Added last: names go by position.
    DemoUserSpec("demo_village_leader3", Role.village_leader, "village:2"),
    DemoUserSpec("demo_village_leader4", Role.village_leader, "village:3"),
    DemoUserSpec("demo_village_leader5", Role.village_leader, "village:4"),
    DemoUserSpec("demo_village_leader6", Role.village_leader, "village:5"),
)


@dataclass
class DemoTownship:
    chain: list[AdminUnit]  # province, city, county, township
    villages: list[AdminUnit]
    groups: dict[str, list[AdminUnit]]  # by village code
    units_created: int = 0

    @property
    def province(self) -> AdminUnit:
        return self.chain[0]

    @property
    def county(self) -> AdminUnit:
        return self.chain[2]

    @property
    def township(self) -> AdminUnit:
        return self.chain[3]

    def unit_for(self, key: str) -> AdminUnit:
        if key.startswith("village:"):
            return self.villages[int(key.split(":", 1)[1])]
        return {"province": self.province, "county": self.county, "township": self.township}[key]


@dataclass
class DemoLogin:
    username: str
    name: str
    role: Role
    unit: AdminUnit
    password_set: bool  # this run set the password (new user, or --reset-passwords)


@dataclass
class HouseholdsReport:
    asked: int  # households asked for
    existing: int = 0  # households the township already had: then none are made
    created: int = 0
    replayed: int = 0  # submission ids already saved (a concurrent run): nothing new
    incomplete: int = 0  # saved with blocking errors (the deliberate problems)
    warnings: int = 0  # households saved with warnings only
    problems: dict[str, int] = field(default_factory=dict)  # deliberate problem -> households
    seconds: float = 0.0


@dataclass
class DemoResult:
    township: DemoTownship
    logins: list[DemoLogin]
    users_created: list[str] = field(default_factory=list)
    passwords_reset: list[str] = field(default_factory=list)
    # The shared password of the logins with password_set; None when no password was set.
    password: str | None = None
    households: HouseholdsReport | None = None
    workflow: WorkflowReport | None = None

    @property
    def changed(self) -> bool:
        return bool(self.township.units_created or self.users_created or self.passwords_reset
                    or (self.households and self.households.created)
                    or (self.workflow and self.workflow.transitions))


@dataclass
class TownshipSummary:
    """The township's households as they are after a run, and where its drafts come from: a
    life event makes a new version, which is a draft until it is signed and submitted again,
    and a split (分户) makes a new household, a draft too."""
    households: int = 0
    made_by: dict[str, int] = field(default_factory=dict)  # kind of the first version -> households
    states: dict[str, int] = field(default_factory=dict)  # in the order of HouseholdState
    drafts_changed: int = 0  # drafts at a later version: changed by a life event or a correction
    drafts_made_by_split: int = 0  # new households from a split, not submitted yet
    drafts_with_errors: int = 0  # first version with blocking errors: cannot be submitted
    drafts_not_submitted: int = 0  # first version, complete, not submitted yet

    @property
    def collected(self) -> int:
        return self.made_by.get(VersionKind.create.value, 0)

    @property
    def made_by_split(self) -> int:
        return self.made_by.get(VersionKind.split.value, 0)


def summarize(township: AdminUnit) -> TownshipSummary:
    """The township's households by state and by how they were made (flask demo's closing words)."""
    rows = db.session.execute(
        select(Household.state, Household.current_number, Household.complete, HouseholdVersion.kind)
        .join(HouseholdVersion,
              (HouseholdVersion.household_id == Household.id) & (HouseholdVersion.number == 1))
        .where(in_subtree(Household.unit_path, township.path))).all()
    out = TownshipSummary(households=len(rows))
    out.made_by = dict(Counter(kind for *_, kind in rows))
    states = Counter(state for state, *_ in rows)
    out.states = {s.value: states[s.value] for s in HouseholdState if states[s.value]}
    for state, number, complete, kind in rows:
        if state != HouseholdState.draft.value:
            continue
        if number > 1:
            out.drafts_changed += 1
        elif kind == VersionKind.split.value:
            out.drafts_made_by_split += 1
        elif not complete:
            out.drafts_with_errors += 1
        else:
            out.drafts_not_submitted += 1
    return out


def generate_password() -> str:
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(PASSWORD_LENGTH))


def chinese_number(n: int) -> str:
    """1 -> 一, 10 -> 十, 12 -> 十二, 21 -> 二十一 (1..99, as in 第十二组)."""
    if not 1 <= n <= 99:
        raise ValueError(f"{n} is outside 1..99")
    tens, ones = divmod(n, 10)
    if tens == 0:
        return _DIGITS[ones]
    return ("" if tens == 1 else _DIGITS[tens]) + "十" + (_DIGITS[ones] if ones else "")


def group_count(village_code: str) -> int:
    """3 to 6 groups, varying by village yet the same on every run."""
    return 3 + int(village_code) % 4


def read_township_rows(path: Path = TOWNSHIP_CSV) -> list[dict[str, str]]:
    """The rows of the demo CSV (code,name,level,parent_code), codes as strings."""
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def create_units(rows: list[dict[str, str]]) -> DemoTownship:
    """The township's chain and villages from `rows`, and 村民小组 under each village."""
    before = _count(AdminUnit)
    made: dict[str, AdminUnit] = {}
    # Parents before children: the NBS level number is the depth.
    for row in sorted(rows, key=lambda r: (r["level"], r["code"])):
        parent_code = row["parent_code"] or None
        if parent_code is not None and parent_code not in made:
            raise ValueError(f"demo data: the parent {parent_code} of {row['code']} is missing")
        made[row["code"]] = get_or_create_unit(row["code"], row["name"], NBS_LEVELS[row["level"]],
                                               made[parent_code] if parent_code else None)
    by_level: dict[str, list[AdminUnit]] = {}
    for unit in made.values():
        by_level.setdefault(unit.level, []).append(unit)
    chain_levels = (UnitLevel.province, UnitLevel.city, UnitLevel.county, UnitLevel.township)
    if any(len(by_level.get(level.value, [])) != 1 for level in chain_levels):
        raise ValueError("demo data: expected exactly one province, city, county and township")
    chain = [by_level[level.value][0] for level in chain_levels]
    villages = sorted(by_level.get(UnitLevel.village.value, []), key=lambda u: u.code)
    groups = {
        v.code: [get_or_create_unit(f"{v.code}{n:03d}", f"第{chinese_number(n)}组", UnitLevel.group, v)
                 for n in range(1, group_count(v.code) + 1)]
        for v in villages
    }
    return DemoTownship(chain=chain, villages=villages, groups=groups,
                        units_created=_count(AdminUnit) - before)


def demo_names(count: int) -> list[str]:
    """`count` different, plausible Chinese names, the same on every run."""
    fake = Faker("zh_CN")
    fake.seed_instance(NAME_SEED)
    names: list[str] = []
    while len(names) < count:
        name = fake.name()
        if name not in names:
            names.append(name)
    return names


def create_users(township: DemoTownship, password: str, *, reset_passwords: bool = False,
                 specs: tuple[DemoUserSpec, ...] = DEMO_USERS,
                 progress: Progress = no_progress) -> DemoResult:
    """Create the demo users that are missing, with `password`; existing ones keep theirs
    unless `reset_passwords`. Existing users are (idempotently) granted their demo role."""
    result = DemoResult(township=township, logins=[])
    progress("users", 0, len(specs))
    for n, (spec, name) in enumerate(zip(specs, demo_names(len(specs))), 1):
        unit = township.unit_for(spec.unit)
        user = db.session.scalar(select(User).where(User.username == spec.username))
        if user is None:
            user = users.create_user(None, username=spec.username, name=name, password=password,
                                     role=spec.role, unit=unit)
            result.users_created.append(user.username)
            password_set = True
        else:
            users.grant_role(None, user, spec.role, unit)
            password_set = reset_passwords
            if reset_passwords:
                _reset_password(user, password)
                result.passwords_reset.append(user.username)
        result.logins.append(DemoLogin(user.username, user.name, spec.role, unit, password_set))
        progress("users", n, len(specs))  # a password hash takes a while (argon2)
    if any(login.password_set for login in result.logins):
        result.password = password
    return result


def village_collectors(township: DemoTownship, logins: list[DemoLogin]) -> dict[str, User]:
    """The first demo collector of each village, by village code."""
    return _village_users(township, logins, Role.collector)


def village_leaders(township: DemoTownship, logins: list[DemoLogin]) -> dict[str, User]:
    """The first demo village leader of each village, by village code."""
    return _village_users(township, logins, Role.village_leader)


def _village_users(township: DemoTownship, logins: list[DemoLogin], role: Role) -> dict[str, User]:
    out: dict[str, User] = {}
    for login in logins:
        if login.role is role and login.unit.code not in out:
            out[login.unit.code] = db.session.scalar(select(User).where(User.username == login.username))
    missing = [v.name for v in township.villages if v.code not in out]
    if missing:
        raise ValueError(f"demo data: no demo {role.value} for {', '.join(missing)}")
    return out


def demo_signers(township: DemoTownship, logins: list[DemoLogin]) -> Signers:
    """Who signs each level of the chain: the village's collector and leader, the verifier."""
    verifier = next(login for login in logins if login.role is Role.verifier)
    return Signers(collectors=village_collectors(township, logins), leaders=village_leaders(township, logins),
                   verifier=db.session.scalar(select(User).where(User.username == verifier.username)))


def create_households(township: DemoTownship, collectors: dict[str, User], count: int, *,
                      seed: int = HOUSEHOLD_SEED, today: date | None = None,
                      progress: Progress = no_progress) -> HouseholdsReport:
    """`count` generated households (app.demo.households), saved through
    registration.new_household as each village's collector, as the screens save them.

    Only while the township has no household at all: a rerun (or a run after collectors
    started work) makes none. The households' submission ids are derived from the seed, so
    that two runs at the same time still make each household once (the second replays).
    """
    report = HouseholdsReport(asked=count)
    report.existing = db.session.scalar(
        select(func.count()).select_from(Household)
        .where(in_subtree(Household.unit_path, township.township.path))) or 0
    if report.existing or count <= 0:
        return report
    started = time.perf_counter()
    today = today or registration.today()
    units = {u.code: u for groups in township.groups.values() for u in groups}
    units.update({v.code: v for v in township.villages})
    village_of = {g.code: v.code for v in township.villages for g in township.groups[v.code]}
    layout = {v.code: [g.code for g in township.groups[v.code]] for v in township.villages}
    generated = generate_households(layout, count, seed, today, place="".join(u.name for u in township.chain))
    problems: Counter[str] = Counter()
    for n, h in enumerate(generated):
        progress("households", n, len(generated))
        actor = collectors[village_of.get(h.unit_code, h.unit_code)]
        saved = registration.new_household(actor, unit_id=units[h.unit_code].id, data=h.data,
                                           submission_id=h.submission_id, today=today)
        if not saved.created:
            report.replayed += 1
            continue
        report.created += 1
        levels = {i["level"] for i in saved.issues}
        report.incomplete += "error" in levels
        report.warnings += levels == {"warning"}
        if h.problem:
            problems[h.problem] += 1
    progress("households", len(generated), len(generated))
    report.problems = dict(sorted(problems.items()))
    report.seconds = time.perf_counter() - started
    return report


def create_demo(*, password: str | None = None, reset_passwords: bool = False,
                households: int = DEMO_HOUSEHOLDS, today: date | None = None,
                workflow: bool = True, progress: Progress = no_progress) -> DemoResult:
    """Create (or complete) the demo township, its users and its households; flushed, not
    committed.

    `password` is the shared password for the users this run creates or resets; a random
    one is generated when it is not given. `households`: how many to make when the
    township has none yet (0: none). `workflow`: move the untouched demo households along
    the approval chain to a realistic mix of states (app.demo.workflow). `progress`
    hears how far each step is.
    """
    if password is not None:
        users.check_password_rules(password)
    township = create_units(read_township_rows())
    result = create_users(township, password or generate_password(), reset_passwords=reset_passwords,
                          progress=progress)
    signers = demo_signers(township, result.logins)
    result.households = create_households(township, signers.collectors, households, today=today,
                                          progress=progress)
    if workflow and households > 0:
        result.workflow = move_households(township.township, signers, seed=HOUSEHOLD_SEED, progress=progress)
    if result.changed:
        audit.record("demo.create", object_type="admin_unit", object_id=township.township.id, details={
            "township": township.township.code,
            "villages": len(township.villages),
            "groups": sum(len(g) for g in township.groups.values()),
            "units_created": township.units_created,
            "users_created": result.users_created,
            "passwords_reset": result.passwords_reset,
            "households_created": result.households.created,
            "workflow_transitions": result.workflow.transitions if result.workflow else 0,
        })
    return result


def _reset_password(user: User, password: str) -> None:
    from flask import current_app  # settings only

    user.password_hash = hash_password(current_app.config, password)
    # Whoever was logged in with the old password is logged out.
    ended = end_all_sessions(user)
    audit.record("user.password_reset", object_type="user", object_id=user.id,
                 details={"username": user.username, "sessions_ended": ended, "by": "flask demo"})


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0
