"""Bench: a county-sized registry, built through the import path and read through HTTP, on
SQLite and PostgreSQL (issue 16; not a test: it prints figures and asserts nothing).

    .venv/bin/python bench/registry.py [--backend sqlite|postgresql|both] [--persons 400k|1m|both]
        [--requests 200] [--seconds 90] [--sample 3000] [--saves 200] [--small] [--no-load] [--no-append]

For each database, in a fresh database (SQLite: a file in a temporary folder; PostgreSQL: a
database bench_registry_<pid> on DOORSTEP_TEST_PG, dropped afterwards):
1. builds the registry with the commands a county's operator runs, each one a child process
   (`flask ...` with FLASK_APP=wsgi.py and the database in the environment), timed (wall
   seconds) with its peak resident memory (ru_maxrss of the child, from wait4):
   `flask db upgrade`; `flask units import admin_divisions_l1-l4_2023.csv`; `flask units
   import admin_divisions_l1-l5_2021.csv.gz --under 431128000000` (新田县's 232 villages;
   431100000000, 永州市, for --persons 1m); `flask lists import police.csv.gz --source police`
   (../shared/linkage/full: 398,744 persons, 130,002 households) and `flask lists prefill N
   --key household_no`. Goal: import + prefill ≤ 2 minutes on each database, ≤ 1 GB each;
2. in this process, through the domain (the county administrator is made before the
   pre-fill, which runs as that user): the field's users of the township with the most
   households: a collector and a village leader in each of its villages, the township's
   verifier. A sample of --sample pre-filled households of that township (chosen at random
   among those the form finds complete) is checked at the door by its village's collector
   ("核对无误", app.domain.prefill.checked_unchanged) and submitted; every second one is then
   confirmed by the village's leader, so both queues hold households. PostgreSQL then runs
   ANALYZE, as autovacuum does shortly after such a load (SQLite is measured as the
   application leaves it: nothing runs ANALYZE there);
3. starts gunicorn (sync workers: 2 on SQLite, 4 on PostgreSQL, as bench/submit.py) serving
   wsgi:app, logs each user in through the login form, and times, one request after another
   (p50 and p95 over --requests requests, after 5 untimed ones; fewer where one kind would
   take more than --seconds, and the table says how many):
   - QR scan → household page: GET /c/<village>-<card>.<tag> (the card's signed code, the
     tag made as app.domain.cards.card_code makes it) and the household page it redirects to,
     timed together, for random cards of the collector's village (the village with the most
     households of that township);
   - the collector's list search /collect/?q=: a random person's full name, the pinyin
     initials of a random person's name, the last 4 characters of a random ID number (persons
     of the collector's village); the same three searches by the county administrator over
     the whole county;
   - the collector's home /collect/; the leader's /review/leader and the verifier's
     /review/verifier queues; a household's history /history/households/<id> (households of
     the sample: two versions and their workflow events).
   Goals at 400k persons: scan p95 ≤ 50 ms, searches ≤ 100 ms, queues ≤ 150 ms;
4. on SQLite (400k only, not with --no-load): a collector's save of a new household (the form
   POST of bench/submit.py, one after another) --saves times alone; then while another child
   reads every person of the registry in a loop (a read-only transaction a pass, as the
   issue's batch jobs read); then while a second police list of the same size is imported
   (the same file with its record ids marked, `flask lists import ... --month`, a child
   process; the saves go on until it ends); then with both. Goal: p95 with both ≤ 2× alone.
With --persons 1m (PostgreSQL only): the police list is written again into a temporary
.csv.gz with the county's own rows and a copy for each of two more counties of 永州市 (宁远县
431126, 道县 431124): village codes mapped round-robin onto that county's villages (NBS 2021),
record ids suffixed, and every ID number's region code made the county's (sequence moved on
where that would repeat a number, check character recomputed where it was right): 3 × 398,744
= 1.2M persons. Then steps 1-3 as above, the users still over 新田县. Goal: within 1.5× of the
400k figures of the same run (--persons both).

--small uses ../shared/linkage/small (29k persons, 15 villages) for a quick try.
Figures are printed and appended to docs/PERFORMANCE.md (its section of this bench).
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import gzip
import os
import platform
import random
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import _harness as harness  # noqa: E402
from bench._harness import Server, scratch_databases  # noqa: E402
from bench._report import PERFORMANCE_MD, append_to_section  # noqa: E402

DATA = Path("/work/shared/data")
LINKAGE = Path("/work/shared/linkage")
UNITS_L4 = DATA / "admin_divisions_l1-l4_2023.csv"
UNITS_L5 = DATA / "admin_divisions_l1-l5_2021.csv.gz"
COUNTY = "431128000000"  # 新田县
CITY = "431100000000"  # 永州市
# The two more counties of --persons 1m: (code, name).
MORE_COUNTIES = (("431126000000", "宁远县"), ("431124000000", "道县"))
FLASK = ROOT / ".venv" / "bin" / "flask"
PYTHON = ROOT / ".venv" / "bin" / "python"
PASSWORD = "bench-registry-password"
USERS = {"admin": "bench_admin", "collector": "bench_collector", "leader": "bench_leader",
         "verifier": "bench_verifier"}
WORKERS = {"sqlite": 2, "postgresql": 4}
WARMUP = 5
SECTION = "## A county-sized registry (`bench/registry.py`, issue 16)"
LIST_ID_RE = re.compile(r"^list_id=(\d+)\s*$", re.MULTILINE)
# Goals (ms, p95) by measurement; None: measured, no goal stated.
GOALS = {"scan": 50, "search_name": 100, "search_initials": 100, "search_id4": 100,
         "county_name": 100, "county_initials": 100, "county_id4": 100, "home": None,
         "leader_queue": 150, "verifier_queue": 150, "history": None}
LABELS = {"scan": "QR scan → household page", "search_name": "collector's search: a name",
          "search_initials": "collector's search: pinyin initials",
          "search_id4": "collector's search: last 4 of an ID number",
          "county_name": "county-wide search (county admin): a name",
          "county_initials": "county-wide search: pinyin initials",
          "county_id4": "county-wide search: last 4 of an ID number",
          "home": "collector's home /collect/", "leader_queue": "leader's queue /review/leader",
          "verifier_queue": "verifier's queue /review/verifier", "history": "a household's history"}
# One card key for the run, in the environment (as harness does for the audit keys): the
# server, the commands and this process's card codes all use it.
os.environ.setdefault("CARD_KEYS", "1:" + secrets.token_hex(32))


# ------------------------------------------------------------------ child processes

@dataclass
class Step:
    label: str
    seconds: float
    max_rss_mb: float
    status: int
    stdout: str
    stderr: str

    def tail(self) -> str:
        return (self.stderr.strip() or self.stdout.strip())[-800:]


def environment(uri: str, instance: Path) -> dict[str, str]:
    return {**os.environ, "FLASK_APP": "wsgi.py", "DATABASE_URL": uri, "DOORSTEP_INSTANCE": str(instance),
            "BASE_URL": "http://bench", "PYTHONUNBUFFERED": "1"}


def start(args: list[str], env: dict[str, str], out, err, stdin: str | None = None) -> subprocess.Popen:
    process = subprocess.Popen([str(a) for a in args], env=env, cwd=ROOT, stdout=out, stderr=err,
                               stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL)
    if stdin is not None:
        process.stdin.write(stdin.encode())
        process.stdin.close()
    return process


def reap(process: subprocess.Popen) -> tuple[int, float]:
    """Wait for the child; (exit status, its peak resident memory in MB, from wait4)."""
    _pid, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, usage.ru_maxrss / 1024  # kilobytes on Linux


def run_step(label: str, args: list[str], env: dict[str, str], stdin: str | None = None) -> Step:
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        status, rss = reap(start(args, env, out, err, stdin))
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        step = Step(label, seconds, rss, status, out.read().decode("utf-8", "replace"),
                    err.read().decode("utf-8", "replace"))
    print(f"  {label}: {seconds:6.1f} s, peak {rss:6.0f} MB, exit {status}"
          + ("" if status == 0 else f"\n    {step.tail()}"), flush=True)
    return step


# ------------------------------------------------------------------ the lists

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"


def check_char(first17: str) -> str:
    return ID_CHECK[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS)) % 11]


def moved_id(number: str, region: str, used: set[str]) -> str:
    """The ID number with the region code `region`, unique in `used` (the sequence moved on by
    2, keeping the sex, where it would repeat one); a right check character stays right, a
    wrong one stays wrong."""
    if len(number) == 18 and number[:17].isdigit():
        right = check_char(number[:17]) == number[17].upper()
        body, seq = region + number[6:14], int(number[14:17])
        for step in range(500):
            first17 = f"{body}{(seq + 2 * step) % 1000:03d}"
            good = check_char(first17)
            candidate = first17 + (good if right else ID_CHECK[(ID_CHECK.index(good) + 1) % 11])
            if candidate not in used:
                used.add(candidate)
                return candidate
    if len(number) == 15 and number.isdigit():
        body, seq = region + number[6:12], int(number[12:15])
        for step in range(500):
            candidate = f"{body}{(seq + 2 * step) % 1000:03d}"
            if candidate not in used:
                used.add(candidate)
                return candidate
    return number  # empty or unreadable: as it was


def rewritten_record_ids(source: Path, dest: Path, mark: str) -> int:
    """The same list with every record id marked (a second list of the same persons)."""
    rows = 0
    with gzip.open(source, "rt", encoding="utf-8", newline="") as f, \
            gzip.open(dest, "wt", encoding="utf-8", newline="", compresslevel=1) as out:
        reader, writer = csv.reader(f), csv.writer(out)
        header = next(reader)
        writer.writerow(header)
        rid = header.index("record_id")
        for row in reader:
            row[rid] = row[rid] + mark
            writer.writerow(row)
            rows += 1
    return rows


def villages_of(county: str) -> list[str]:
    prefix = county[:6]
    with gzip.open(UNITS_L5, "rt", encoding="utf-8") as f:
        return sorted(row["code"] for row in csv.DictReader(f)
                      if row["code"].startswith(prefix) and row["level"] == "5")


def three_counties(source: Path, dest: Path) -> int:
    """The county's rows, then a copy for each of MORE_COUNTIES (see the module's docstring)."""
    with gzip.open(source, "rt", encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = list(reader)
    col = {name: header.index(name) for name in ("record_id", "village_code", "id_number", "address")}
    home = sorted({r[col["village_code"]] for r in rows})
    used = {r[col["id_number"]] for r in rows if r[col["id_number"]]}
    written = 0
    with gzip.open(dest, "wt", encoding="utf-8", newline="", compresslevel=1) as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
        written += len(rows)
        for k, (county, name) in enumerate(MORE_COUNTIES, start=1):
            targets = villages_of(county)
            mapping = {v: targets[i % len(targets)] for i, v in enumerate(home)}
            for r in rows:
                copy = list(r)
                copy[col["record_id"]] = f"{r[col['record_id']]}-{k}"
                copy[col["village_code"]] = mapping.get(r[col["village_code"]], r[col["village_code"]])
                if r[col["id_number"]]:
                    copy[col["id_number"]] = moved_id(r[col["id_number"]], county[:6], used)
                copy[col["address"]] = r[col["address"]].replace("新田县", name)
                writer.writerow(copy)
                written += 1
    return written


# ------------------------------------------------------------------ building the registry

@dataclass
class Build:
    steps: dict[str, Step]
    list_id: int | None
    counts: dict[str, int] = field(default_factory=dict)
    version: str = ""
    size_mb: float = 0.0
    sample: dict[str, int] = field(default_factory=dict)
    sample_seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def import_prefill(self) -> tuple[float, float]:
        """(seconds, peak MB) of the list import and the prefill together."""
        parts = [self.steps[k] for k in ("lists import", "lists prefill") if k in self.steps]
        return sum(s.seconds for s in parts), max((s.max_rss_mb for s in parts), default=0.0)


def build(env: dict[str, str], police: Path, units_under: str) -> Build:
    steps: dict[str, Step] = {}
    b = Build(steps, None)
    for label, args in (("db upgrade", ["db", "upgrade"]),
                        ("units import l1-l4", ["units", "import", UNITS_L4]),
                        (f"units import l1-l5 --under {units_under}", ["units", "import", UNITS_L5,
                                                                        "--under", units_under])):
        steps[label] = run_step(label, [FLASK, *args], env)
        if steps[label].status not in (0, 3):  # 3: some rows refused, the rest imported
            b.problems.append(f"{label} failed: {steps[label].tail()}")
            return b
    make_admin(units_under)
    steps["lists import"] = step = run_step(f"lists import {police.name} --source police",
                                            [FLASK, "lists", "import", police, "--source", "police"], env)
    match = LIST_ID_RE.search(step.stdout)
    if step.status != 0 or not match:
        b.problems.append(f"lists import: exit {step.status}, no list_id=N line: {step.tail()}")
        return b
    b.list_id = int(match.group(1))
    print("    " + " | ".join(line.strip() for line in step.stdout.strip().splitlines()[:7]), flush=True)
    # The pre-fill is a clerk's or a county administrator's work: as the county's administrator
    # when the command takes a user (--as), else as the system.
    help_text = subprocess.run([FLASK, "lists", "prefill", "--help"], env=env, cwd=ROOT, capture_output=True,
                               text=True).stdout
    as_user = ["--as", USERS["admin"]] if "--as" in help_text else []
    steps["lists prefill"] = step = run_step(f"lists prefill {b.list_id} --key household_no {' '.join(as_user)}",
                                             [FLASK, "lists", "prefill", str(b.list_id), "--key", "household_no",
                                              *as_user], env)
    if step.status != 0:
        b.problems.append(f"lists prefill: exit {step.status}: {step.tail()}")
    else:
        print("    " + " | ".join(line.strip() for line in step.stdout.strip().splitlines()[-5:]), flush=True)
    return b


def make_admin(code: str) -> None:
    """The administrator of the unit `code` (the county; the city for --persons 1m, whose
    list covers three counties), made in this process: the pre-fill runs as this user and
    pre-fills only the villages of that user's area."""
    from flask_babel import force_locale
    from sqlalchemy import select

    from app.domain.users import create_user
    from app.extensions import db
    from app.models import AdminUnit, Role

    app = in_app()
    with app.app_context(), force_locale("zh_CN"):
        unit = db.session.scalar(select(AdminUnit).where(AdminUnit.code == code))
        create_user(None, username=USERS["admin"], name="县管理员", password=PASSWORD, role=Role.county_admin,
                    unit=unit)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def in_app():
    """The application as the server and the commands make it (settings from the environment)."""
    from app import create_app

    return create_app()


def describe_database(b: Build, uri: str) -> None:
    from sqlalchemy import func, select, text

    from app.extensions import db
    from app.models import Household, HouseholdVersion, Person

    app = in_app()
    with app.app_context():
        b.counts = {name: db.session.scalar(select(func.count()).select_from(model)) or 0
                    for name, model in (("households", Household), ("versions", HouseholdVersion),
                                        ("persons", Person))}
        if db.engine.dialect.name == "sqlite":
            b.version = "SQLite " + db.session.scalar(text("SELECT sqlite_version()"))
            path = Path(uri.split("///", 1)[1])
            b.size_mb = sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 2**20
        else:
            b.version = "PostgreSQL " + db.session.scalar(text("SHOW server_version")).split()[0]
            b.size_mb = db.session.scalar(text("SELECT pg_database_size(current_database())")) / 2**20
        db.session.remove()
        db.engine.dispose()


@dataclass
class Targets:
    """What the requests ask for, drawn at random from the registry."""
    cards: list[tuple[str, str]]  # (village code, card no) of the collector's village
    names: list[str]  # of persons of the collector's village
    initials: list[str]
    id4: list[str]
    county_names: list[str]  # of persons of the whole county (the county administrator's searches)
    county_initials: list[str]
    county_id4: list[str]
    history: list[str]  # household ids of the sample in the collector's village
    save_village: tuple[int, str]  # (id, code) of the collector's village
    where: str = ""  # the collector's village and the verifier's township, for the report


def users_and_sample(b: Build, sample: int, requests: int) -> Targets:
    """The field's users of one township, the sample moved along the chain, and what the
    requests will ask for (domain, this process)."""
    from flask_babel import force_locale
    from sqlalchemy import func, select, text

    from app.demo.workflow import squiggle
    from app.domain import prefill, workflow
    from app.domain.tree import in_subtree
    from app.domain.users import create_user
    from app.extensions import db
    from app.models import AdminUnit, Household, HouseholdState, Person, Role

    app = in_app()
    rng = random.Random(16)
    n = requests + WARMUP
    with app.app_context(), force_locale("zh_CN"):
        county = db.session.scalar(select(AdminUnit).where(AdminUnit.code == COUNTY))
        per_village = dict(db.session.execute(
            select(Household.village_id, func.count()).where(in_subtree(Household.unit_path, county.path))
            .group_by(Household.village_id)).all())
        villages = list(db.session.scalars(select(AdminUnit).where(AdminUnit.id.in_(per_village))))
        per_township: dict[int, int] = {}
        for v in villages:
            per_township[v.parent_id] = per_township.get(v.parent_id, 0) + per_village[v.id]
        # The township with the most households, and its village with the most: the field's
        # users of one township (一村一采集员, a leader per village, the township's verifier).
        township = db.session.get(AdminUnit, max(per_township, key=per_township.get))
        ours = sorted((v for v in villages if v.parent_id == township.id), key=lambda v: v.code)
        home = max(ours, key=lambda v: per_village[v.id])
        collectors, leaders = {}, {}
        for v in ours:
            mine = v.id == home.id
            collectors[v.id] = create_user(None, username=USERS["collector"] if mine else f"c{v.code}",
                                           name="采集员", password=PASSWORD, role=Role.collector, unit=v)
            leaders[v.id] = create_user(None, username=USERS["leader"] if mine else f"l{v.code}", name="村干部",
                                        password=PASSWORD, role=Role.village_leader, unit=v)
        create_user(None, username=USERS["verifier"], name="审核员", password=PASSWORD, role=Role.verifier,
                    unit=township)
        db.session.commit()
        where = (f"collector and leader of {home.name} ({per_village[home.id]:,} households), "
                 f"verifier of {township.name} ({len(ours)} villages, {per_township[township.id]:,} households)")
        print(f"  users: {where}; the county administrator", flush=True)

        started = time.perf_counter()
        chosen = list(db.session.execute(
            select(Household.id, Household.village_id).where(
                in_subtree(Household.unit_path, township.path), Household.complete,
                Household.state == HouseholdState.draft.value)
            .order_by(Household.id).limit(sample)))  # uuid4 order: at random over the villages
        moved = {"checked": 0, "submitted": 0, "confirmed": 0, "refused": 0}
        for i, (household_id, village_id) in enumerate(chosen):
            collector, leader = collectors[village_id], leaders[village_id]
            try:
                household = db.session.get(Household, household_id)
                if household.collected_at is None:
                    prefill.checked_unchanged(collector, household_id, base_number=household.current_number)
                    moved["checked"] += 1
                household = db.session.get(Household, household_id)
                workflow.submit(collector, household_id, version_number=household.current_number,
                                strokes=squiggle(collector.username, i))
                moved["submitted"] += 1
                if i % 2 == 0:
                    workflow.confirm(leader, household_id, version_number=household.current_number,
                                     strokes=squiggle(leader.username, i))
                    moved["confirmed"] += 1
            except Exception as e:  # noqa: BLE001 - a bench reports what the domain refused
                db.session.rollback()
                moved["refused"] += 1
                if moved["refused"] <= 3:
                    b.problems.append(f"sample household {household_id}: {type(e).__name__}: {e}")
                continue
            db.session.commit()  # each household as the screens do it: a refusal undoes only its own
        b.sample, b.sample_seconds = moved, time.perf_counter() - started
        print(f"  sample of {len(chosen)} complete pre-filled households of {township.name}: " + ", ".join(
            f"{k} {v}" for k, v in moved.items()) + f" in {b.sample_seconds:.0f} s", flush=True)
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("ANALYZE"))
            db.session.commit()

        def persons(column, path: str) -> list[str]:
            rows = db.session.scalars(select(column).where(in_subtree(Person.unit_path, path), column.is_not(None))
                                      .order_by(func.random()).limit(n)).all()
            return [rows[i % len(rows)] for i in range(n)] if rows else []

        cards = db.session.scalars(select(Household.card_no).where(Household.village_id == home.id)
                                   .order_by(func.random()).limit(n)).all()
        history = [str(h) for h, v in chosen if v == home.id] or [
            str(h) for h in db.session.scalars(select(Household.id).where(Household.village_id == home.id).limit(n))]
        rng.shuffle(history)
        targets = Targets(
            cards=[(home.code, cards[i % len(cards)]) for i in range(n)],
            names=persons(Person.name, home.path), initials=persons(Person.name_initials, home.path),
            id4=persons(Person.id_tail, home.path), county_names=persons(Person.name, county.path),
            county_initials=persons(Person.name_initials, county.path),
            county_id4=persons(Person.id_tail, county.path),
            history=[history[i % len(history)] for i in range(n)], save_village=(home.id, home.code), where=where)
        db.session.remove()
        db.engine.dispose()
    return targets


# ------------------------------------------------------------------ HTTP

@dataclass
class Timing:
    key: str
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    load: tuple[float, float] = (0.0, 0.0)

    def pct(self, p: int) -> float:
        if len(self.latencies) < 2:
            return float("nan")
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[p - 1] * 1000


def card_path(village: str, card_no: str) -> str:
    from app.config import card_keys
    from app.domain.cards import card_code

    keys = card_keys(Path(os.environ.get("DOORSTEP_INSTANCE", ".")))  # from CARD_KEYS, as the server
    return "/c/" + card_code(keys, village, card_no)


def timed(key: str, client: harness.Client, paths: list[str], *, follow: bool = False,
          seconds: float = 1e9) -> Timing:
    """GET each path in turn (the first WARMUP untimed) for at most `seconds`; with `follow`, a
    302 and the page it leads to are timed together."""
    timing = Timing(key)
    load = os.getloadavg()[0]
    stop_at = time.perf_counter() + seconds
    for i, path in enumerate(paths):
        if time.perf_counter() > stop_at:
            break
        t0 = time.perf_counter()
        status, headers, content = client.request("GET", path)
        if follow and status == 302:
            location = urlsplit(headers.get("Location", ""))
            status, headers, content = client.request("GET", location.path + (f"?{location.query}"
                                                                              if location.query else ""))
        elapsed = time.perf_counter() - t0
        if status != 200:
            timing.failures.append(f"{path}: HTTP {status} {content[:160]!r}")
        elif i >= WARMUP:
            timing.latencies.append(elapsed)
    timing.load = (load, os.getloadavg()[0])
    return timing


def measure_http(server: Server, t: Targets, requests: int, seconds: float) -> dict[str, Timing]:
    clients = {}
    for key in ("collector", "leader", "verifier", "admin"):
        clients[key] = harness.Client(server.port, PASSWORD, timeout=120)
        clients[key].login(USERS[key])
    n = requests + WARMUP
    plan = {
        "scan": ("collector", [card_path(v, c) for v, c in t.cards], True),
        "search_name": ("collector", [f"/collect/?q={quote(q)}" for q in t.names], False),
        "search_initials": ("collector", [f"/collect/?q={quote(q)}" for q in t.initials], False),
        "search_id4": ("collector", [f"/collect/?q={quote(q)}" for q in t.id4], False),
        "county_name": ("admin", [f"/collect/?q={quote(q)}" for q in t.county_names], False),
        "county_initials": ("admin", [f"/collect/?q={quote(q)}" for q in t.county_initials], False),
        "county_id4": ("admin", [f"/collect/?q={quote(q)}" for q in t.county_id4], False),
        "home": ("collector", ["/collect/"] * n, False),
        "leader_queue": ("leader", ["/review/leader"] * n, False),
        "verifier_queue": ("verifier", ["/review/verifier"] * n, False),
        "history": ("collector", [f"/history/households/{h}" for h in t.history], False),
    }
    out = {}
    for key, (who, paths, follow) in plan.items():
        out[key] = timing = timed(key, clients[who], paths, follow=follow, seconds=seconds)
        print(f"  {LABELS[key]:44s} p50 {timing.pct(50):7.1f} ms  p95 {timing.pct(95):7.1f} ms  "
              f"({len(timing.latencies)} timed, load {timing.load[0]:.1f}->{timing.load[1]:.1f})"
              + (f"  FAILURES {len(timing.failures)}: {timing.failures[0]}" if timing.failures else ""),
              flush=True)
    return out


# ------------------------------------------------------------------ saves under load

def save_bodies(village_code: str, count: int) -> list[dict]:
    from app.demo.households import generate_households

    today = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()
    bodies, seed = [], 0
    while len(bodies) < count:
        for h in generate_households({village_code: []}, count, 7000 + seed, today, place="湖南省永州市新田县"):
            if h.problem is None:
                # The imported villages have no 村民小组: the household is the village's own.
                h.data["household"].pop("group_code", None)
                bodies.append(h.data)
        seed += 1
    return bodies[:count]


def form_body(data: dict, token: str) -> dict[str, str]:
    fields = {f"household-{k}": str(v) for k, v in data["household"].items()}
    for i, member in enumerate(data["members"]):
        fields.update({f"members-{i}-{k}": str(v) for k, v in member.items()})
    fields["submission_id"] = str(uuid.uuid4())
    fields["csrf_token"] = token
    return fields


def saves(key: str, client: harness.Client, path: str, token: str, bodies: list[dict], count: int,
          running=None) -> Timing:
    """`count` saves one after another (first WARMUP untimed); with `running`, go on past
    `count` while it says the load runs, up to the bodies there are."""
    timing = Timing(key)
    load = os.getloadavg()[0]
    for i, data in enumerate(bodies):
        if i >= count + WARMUP and (running is None or not running()):
            break
        t0 = time.perf_counter()
        status, _headers, content = client.request("POST", path, form_body(data, token), keep_cookies=False)
        elapsed = time.perf_counter() - t0
        if status != 302:
            page = content.decode("utf-8", "replace")
            said = re.search(r'data-testid="form-message">([^<]*)<', page)
            timing.failures.append(f"HTTP {status}: {said.group(1) if said else ' '.join(page.split())[:300]}")
        elif i >= WARMUP:
            timing.latencies.append(elapsed)
    timing.load = (load, os.getloadavg()[0])
    return timing


@dataclass
class LoadPhase:
    name: str
    timing: Timing
    import_step: Step | None = None
    reader: str = ""


@dataclass
class LoadRun:
    phases: list[LoadPhase]

    @property
    def alone(self) -> LoadPhase:
        return self.phases[0]

    def ratio(self, phase: LoadPhase) -> float:
        alone = self.alone.timing
        return phase.timing.pct(95) / alone.pct(95) if alone.latencies and phase.timing.latencies else float("nan")


def saves_under_load(server: Server, env: dict[str, str], t: Targets, police: Path, count: int,
                     folder: Path) -> LoadRun:
    """The collector's saves alone, then with a reader of every person, with a second import,
    and with both (the goal's case), so that each load's part can be told apart."""
    village_id, village_code = t.save_village
    client = harness.Client(server.port, PASSWORD, timeout=120)
    client.login(USERS["collector"])
    path = f"/collect/households/new?unit_id={village_id}"
    token = harness.CSRF_RE.search(client.request("GET", path)[2].decode()).group(1)
    bodies = save_bodies(village_code, 4 * (count + WARMUP) + 6000)
    lists = {}
    for mark in ("-2", "-3"):
        lists[mark] = folder / f"police{mark}.csv.gz"
        rows = rewritten_record_ids(police, lists[mark], mark)
    print(f"  two more police lists of {rows:,} rows written (record ids marked)", flush=True)

    run = LoadRun([])
    for name, reading, second, month in (("alone", False, None, None),
                                         ("with the reader", True, None, None),
                                         ("with the second import", False, lists["-2"], "2026-12"),
                                         ("with the import and the reader", True, lists["-3"], "2027-01")):
        phase = LoadPhase(name, Timing(name))
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
                open(folder / "reader.log", "w+") as reader_log:
            reader = start([PYTHON, Path(__file__), "--read-loop"], env, reader_log, subprocess.STDOUT) \
                if reading else None
            started = time.perf_counter()
            reaped: dict[str, tuple[int, float] | float] = {}
            waiter = None
            if second is not None:
                importer = start([FLASK, "lists", "import", second, "--source", "police", "--month", month],
                                 env, out, err)

                def wait(importer=importer) -> None:  # reaped by wait4 here, for its peak memory
                    reaped["status"] = reap(importer)
                    reaped["seconds"] = time.perf_counter() - started

                waiter = threading.Thread(target=wait, daemon=True)
                waiter.start()
            if reading or second is not None:
                time.sleep(2)  # under way
            phase.timing = saves(name, client, path, token, bodies[:count + WARMUP if second is None else None],
                                 count, running=waiter.is_alive if waiter else None)
            del bodies[:WARMUP + len(phase.timing.latencies) + len(phase.timing.failures)]
            if waiter is not None:
                waiter.join()
                (status, rss), seconds = reaped["status"], reaped["seconds"]
                out.seek(0)
                err.seek(0)
                phase.import_step = Step(f"lists import (second, {month})", seconds, rss, status,
                                         out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"))
            if reader is not None:
                reader.send_signal(signal.SIGTERM)
                reader.wait(timeout=60)
                reader_log.seek(0)
                passes = reader_log.read().strip().splitlines()
                phase.reader = passes[-1] if passes else "(nothing)"
        run.phases.append(phase)
        tm = phase.timing
        print(f"  save {name}: p50 {tm.pct(50):.1f} ms  p95 {tm.pct(95):.1f} ms  ({len(tm.latencies)} timed, "
              f"load {tm.load[0]:.1f}->{tm.load[1]:.1f}); p95 / alone {run.ratio(phase):.2f}"
              + (f"  FAILURES {len(tm.failures)}: {tm.failures[0]}" if tm.failures else ""), flush=True)
        if phase.import_step is not None:
            st = phase.import_step
            print(f"    the import: {st.seconds:.1f} s, peak {st.max_rss_mb:.0f} MB, exit {st.status}"
                  + ("" if st.status == 0 else f": {st.tail()}"), flush=True)
        if phase.reader:
            print(f"    the reader: {phase.reader}", flush=True)
    return run


def read_loop() -> None:
    """Child process: read every person of the registry, one read transaction a pass, until
    SIGTERM; prints the passes and rows read."""
    from sqlalchemy import text

    from app.extensions import db, reads_only

    stop = [False]
    signal.signal(signal.SIGTERM, lambda *_: stop.__setitem__(0, True))
    app = in_app()
    passes = rows = 0
    started = time.perf_counter()
    # A registry-wide job reads in read-only transactions: on SQLite they begin deferred
    # (app.extensions.reads_only), without the one write lock the saves need.
    with app.app_context(), reads_only():
        while not stop[0]:
            with db.engine.connect() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(text("SET TRANSACTION READ ONLY"))
                result = conn.execution_options(stream_results=True, yield_per=5000).execute(text(
                    "SELECT id, household_id, name, sex, birth_date, id_number, unit_path FROM person"))
                for chunk in result.partitions():
                    rows += len(chunk)
                    if stop[0]:
                        break
                else:
                    passes += 1
            print(f"{passes} whole passes over the persons, {rows:,} rows read in "
                  f"{time.perf_counter() - started:.0f} s", flush=True)


# ------------------------------------------------------------------ one database

@dataclass
class Result:
    backend: str
    persons: str
    build: Build
    http: dict[str, Timing] = field(default_factory=dict)
    load: LoadRun | None = None
    where: str = ""

    @property
    def title(self) -> str:
        persons = self.build.counts.get("persons", 0)
        return f"{self.backend}, {persons / 1000:,.0f}k persons" if persons else f"{self.backend} {self.persons}"


def run(backend: str, uri: str, persons: str, police: Path, args, folder: Path) -> Result:
    print(f"\n{backend}, {persons} persons ({police.name}):", flush=True)
    instance = folder / f"instance-{backend}-{persons}"
    instance.mkdir()
    env = environment(uri, instance)
    os.environ.update(DATABASE_URL=uri, DOORSTEP_INSTANCE=str(instance), BASE_URL="http://bench")
    b = build(env, police, CITY if persons == "1m" else COUNTY)
    result = Result(backend, persons, b)
    if b.problems:
        return result
    describe_database(b, uri)
    print(f"  {b.version}: {b.counts['households']:,} households, {b.counts['persons']:,} persons, "
          f"{b.size_mb:,.0f} MB", flush=True)
    targets = users_and_sample(b, args.sample, args.requests)
    result.where = targets.where
    server = Server(uri, instance, WORKERS[backend], args=("--timeout", "300"))
    try:
        result.http = measure_http(server, targets, args.requests, args.seconds)
        if backend == "sqlite" and persons == "400k" and not args.no_load:
            result.load = saves_under_load(server, env, targets, police, args.saves, folder)
    finally:
        server.stop()
    return result


# ------------------------------------------------------------------ report

def fmt(v: float) -> str:
    return "—" if v != v else f"{v:.0f}" if v >= 10 else f"{v:.1f}"


def report(results: list[Result], header: str, load: tuple[str, str], requests: int) -> list[str]:
    lines = [f"### Run of {time.strftime('%Y-%m-%d %H:%M')} UTC", "", header + ".",
             f"Load average before the run: {load[0]}; after: {load[1]}.", "",
             f"    .venv/bin/python bench/{Path(__file__).name} {' '.join(sys.argv[1:])}".rstrip(), ""]
    lines += ["Building the registry (wall seconds, peak resident memory of the command):", "",
              "| step | " + " | ".join(r.title for r in results) + " |",
              "|---|" + "---:|" * len(results)]
    labels = list(dict.fromkeys(label for r in results for label in r.build.steps))
    for label in labels:
        key = re.sub(r" --under \d+", "", label)
        cells = []
        for r in results:
            s = r.build.steps.get(label) or next((v for k, v in r.build.steps.items()
                                                  if re.sub(r" --under \d+", "", k) == key), None)
            cells.append("—" if s is None else f"{s.seconds:.1f} s, {s.max_rss_mb:.0f} MB"
                         + ("" if s.status in (0, 3) else f" (exit {s.status})"))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("| **list import + prefill** (goal ≤ 120 s, ≤ 1024 MB) | " + " | ".join(
        f"**{r.build.import_prefill[0]:.0f} s, {r.build.import_prefill[1]:.0f} MB**" for r in results) + " |")
    lines.append("| households / persons after the prefill | " + " | ".join(
        f"{r.build.counts.get('households', 0):,} / {r.build.counts.get('persons', 0):,}" for r in results) + " |")
    lines.append("| database size | " + " | ".join(f"{r.build.size_mb:,.0f} MB" for r in results) + " |")
    lines.append("| sample moved along the chain (in-process) | " + " | ".join(
        ", ".join(f"{k} {v}" for k, v in r.build.sample.items()) + f" ({r.build.sample_seconds:.0f} s)"
        for r in results) + " |")
    measured = [r for r in results if r.http]
    if measured:
        base = {r.backend: r for r in measured if r.persons == "400k"}
        lines += ["", "Requests one after another (ms, p50 / p95; the first 5 of each kind untimed). Users: "
                  + "; ".join(f"{r.title}: {r.where}" for r in measured) + ".", "",
                  "| request | goal p95 | " + " | ".join(r.title for r in measured)
                  + (" | 1m / 400k (p95) |" if any(r.persons == "1m" for r in measured) and "postgresql" in base
                     else " |"),
                  "|---|---:|" + "---:|" * len(measured)
                  + ("---:|" if any(r.persons == "1m" for r in measured) and "postgresql" in base else "")]
        for key in GOALS:
            goal = GOALS[key]
            cells = []
            for r in measured:
                t = r.http.get(key)
                if t is None:
                    cells.append("—")
                    continue
                over = goal is not None and t.pct(95) > goal
                cells.append(f"{fmt(t.pct(50))} / {'**' if over else ''}{fmt(t.pct(95))}{'**' if over else ''}"
                             + (f" ({len(t.latencies)} timed)" if len(t.latencies) < requests else "")
                             + (f" ({len(t.failures)} failed)" if t.failures else ""))
            ratio = ""
            big = next((r for r in measured if r.persons == "1m"), None)
            if big is not None and "postgresql" in base:
                small = base["postgresql"].http.get(key)
                ratio = f" {big.http[key].pct(95) / small.pct(95):.2f} |" if small and key in big.http else " — |"
            lines.append(f"| {LABELS[key]} | {'—' if goal is None else f'≤ {goal}'} | " + " | ".join(cells)
                         + " |" + ratio)
        lines.append("")
        lines.append("(**bold**: over the goal.)")
    for r in results:
        if r.load is not None:
            lr = r.load
            lines += ["", f"A collector's save on {r.build.version} (POST /collect/households/new, one after "
                          "another), alone, then while another process reads every person in a loop (one read "
                          "transaction a pass), while a second police list of the same size is imported "
                          "(`flask lists import`, record ids marked), and with both; with an import the saves "
                          "go on until it ends:", "",
                      "| saves | count | p50 | p95 | p95 / alone (goal ≤ 2 with both) | load average | the load |",
                      "|---|---:|---:|---:|---:|---:|---|"]
            for ph in lr.phases:
                tm = ph.timing
                what = "; ".join(x for x in (
                    f"import {ph.import_step.seconds:.0f} s, {ph.import_step.max_rss_mb:.0f} MB, exit "
                    f"{ph.import_step.status}" if ph.import_step else "", ph.reader) if x)
                lines.append(f"| {ph.name} | {len(tm.latencies)} | {tm.pct(50):.1f} ms | {tm.pct(95):.1f} ms | "
                             f"{lr.ratio(ph):.2f} | {tm.load[0]:.1f}-{tm.load[1]:.1f} | {what or '—'} |")
                if tm.failures:
                    lines.append(f"| (failed: {len(tm.failures)}: {tm.failures[0][:150]}) | | | | | | |")
    for r in results:
        for p in r.build.problems:
            lines.append(f"\nProblem ({r.title}): {p}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--persons", choices=("400k", "1m", "both"), default="400k",
                        help="1m: PostgreSQL only, three counties (see the docstring)")
    parser.add_argument("--requests", type=int, default=200, help="timed requests of each kind")
    parser.add_argument("--seconds", type=float, default=90,
                        help="time limit of each kind of request (fewer than --requests are timed when it is hit)")
    parser.add_argument("--sample", type=int, default=3000, help="households moved along the chain")
    parser.add_argument("--saves", type=int, default=200, help="timed saves, alone and (at least) under load")
    parser.add_argument("--small", action="store_true", help="../shared/linkage/small: a quick try")
    parser.add_argument("--no-load", action="store_true", help="skip the saves under load (SQLite)")
    parser.add_argument("--no-append", action="store_true", help="do not write to docs/PERFORMANCE.md")
    parser.add_argument("--read-loop", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--write-three-counties", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.read_loop:
        return read_loop()
    if args.write_three_counties:
        print(f"three counties: {three_counties(*args.write_three_counties):,} rows", flush=True)
        return None
    # Stopped with SIGTERM: unwind as from Ctrl-C, so the server, the children, the scratch
    # databases and files are removed by the finally blocks on the way out.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))

    police = LINKAGE / ("small" if args.small else "full") / "police.csv.gz"
    with open("/proc/cpuinfo") as f:
        cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")),
                   platform.processor())
    header = (f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, gunicorn sync workers "
              f"2 (SQLite) / 4 (PostgreSQL), {args.requests} requests of each kind, sample {args.sample}, "
              f"list {police.parent.name}/{police.name}")
    load_before = Path("/proc/loadavg").read_text().strip()
    print(f"{time.strftime('%Y-%m-%d %H:%M')} UTC  {header}; /proc/loadavg {load_before}", flush=True)
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bench-registry-") as tmp:
        folder = Path(tmp)
        plan: list[tuple[str, str]] = []
        if args.persons in ("400k", "both"):
            plan += [(b, "400k") for b in ("sqlite", "postgresql") if args.backend in (b, "both")]
        if args.persons in ("1m", "both") and args.backend in ("postgresql", "both"):
            plan.append(("postgresql", "1m"))
        big = None
        for backend, persons in plan:
            source = police
            if persons == "1m":
                if big is None:
                    big = folder / "police-three-counties.csv.gz"
                    t0 = time.perf_counter()
                    # In a child: the rows held here would stay in this process's memory, and a
                    # command started from it counts them in its own peak (ru_maxrss at fork).
                    subprocess.run([PYTHON, Path(__file__), "--write-three-counties", police, big], check=True)
                    print(f"\nthree counties written in {time.perf_counter() - t0:.0f} s", flush=True)
                source = big
            for name, uri in scratch_databases("bench_registry", skip_sqlite=backend != "sqlite",
                                               skip_postgres=backend != "postgresql"):
                results.append(run(name, uri, persons, source, args, folder))
    load_after = Path("/proc/loadavg").read_text().strip()
    lines = report(results, header, (load_before, load_after), args.requests)
    print("\n" + "\n".join(lines))
    if results and not args.no_append:
        append_to_section(SECTION, lines)
        print(f"\nAppended to {PERFORMANCE_MD.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
