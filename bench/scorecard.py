"""Bench: the township scorecard page at county size (issue 17; not a test: it prints figures).

    .venv/bin/python bench/scorecard.py [--backend sqlite|postgresql|both] [--requests 200] [--small]
        [--no-append]

For each database, in a fresh database (as bench/registry.py, whose functions it uses):
1. builds the county with the operator's commands (`flask db upgrade`, `flask units import`
   twice, `flask lists import police.csv.gz --source police`, `flask lists prefill N --key
   household_no` as the county administrator): ../shared/linkage/full, 398,744 persons in
   130,002 households of 新田县's 232 villages (--small: ../shared/linkage/small);
2. gives the scorecard its inputs, in this process: 90 % of the pre-filled households counted
   as collected (collected_at set; the last digit of the card number 7 stays "to verify"),
   20 % verified (card numbers ending in 1 or 2); each household's HouseholdQuality as a run
   writes it (persons = its members; 12 main items a person, 2 missing in every tenth household;
   married women = women of 15-49 married, from the person register); a married-woman finding
   for one woman in five (ID numbers whose 17th digit is 2 or 4), a tenth of them explained and
   accepted; expected households from the police list (app.domain.scorecard.expected_from_list,
   timed); a spot check of 20 women's households in every village (10 items each, 0-1 wrong);
   500 open duplicate pairs; every second village of the measured township accepted a day ago
   (so "changed after acceptance" joins the versions). PostgreSQL then runs ANALYZE;
3. starts gunicorn (sync workers: 2 on SQLite, 4 on PostgreSQL), logs the county administrator
   in and times, one request after another, --requests GETs (after 5 untimed) of the scorecard
   page of the township with the most households, and 50 each of the county's page and of a
   village's page; `flask quality scorecard --unit <county>` timed once (a child process).
   Goal: the township page p95 <= 300 ms at 400k persons.
Figures are printed and appended to docs/PERFORMANCE.md (its section of this bench).
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import _harness as harness  # noqa: E402
from bench import registry  # noqa: E402
from bench._harness import Server, scratch_databases  # noqa: E402
from bench._report import PERFORMANCE_MD, append_to_section  # noqa: E402

SECTION = "## The village scorecard (`bench/scorecard.py`, issue 17)"
WARMUP = 5
GOAL_MS = 300
TODAY = dt.date(2026, 12, 1)


@dataclass
class Timing:
    key: str
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def pct(self, p: int) -> float:
        if len(self.latencies) < 2:
            return float("nan")
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[p - 1] * 1000


@dataclass
class Result:
    backend: str
    persons: int = 0
    households: int = 0
    villages: int = 0
    township: str = ""
    township_households: int = 0
    seed_seconds: float = 0.0
    expected_seconds: float = 0.0
    cli_seconds: float = 0.0
    build_seconds: float = 0.0
    timings: dict[str, Timing] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def seed(result: Result) -> dict[str, int]:
    """The scorecard's inputs (step 2 of the docstring); returns the ids the requests use."""
    from flask_babel import force_locale
    from sqlalchemy import func, insert, select, text, update

    from app.domain import scorecard
    from app.domain.tree import in_subtree
    from app.extensions import db
    from app.models import (AdminUnit, DuplicateCandidate, Household, HouseholdQuality, ImportedList, Person,
                            QualityFinding, SpotCheck, SpotCheckItem, User, VillageAcceptance, utcnow)

    app = registry.in_app()
    rng = random.Random(17)
    with app.app_context(), force_locale("zh_CN"):
        t0 = time.perf_counter()
        county = db.session.scalar(select(AdminUnit).where(AdminUnit.code == registry.COUNTY))
        admin = db.session.scalar(select(User).where(User.username == registry.USERS["admin"]))
        now = utcnow()
        db.session.execute(update(Household).where(func.substr(Household.card_no, 4, 1) != "7")
                           .values(collected_at=Household.created_at))
        db.session.execute(update(Household).where(func.substr(Household.card_no, 4, 1).in_(["1", "2"]))
                           .values(state="verified"))
        low, high = TODAY.replace(year=TODAY.year - 50), TODAY.replace(year=TODAY.year - 15)
        woman = (Person.sex == "2", Person.marital_status.like("2%"), Person.birth_date > low,
                 Person.birth_date <= high, Person.status == "active")
        women = dict(db.session.execute(select(Person.household_id, func.count()).where(*woman)
                                        .group_by(Person.household_id)).all())
        rows = [dict(household_id=h, village_id=v, unit_path=p, version_number=n, persons=m,
                     main_items_required=m * 12, main_items_filled=m * 12 - (2 if card.endswith("3") else 0),
                     married_women=women.get(h, 0), checked_at=now)
                for h, v, p, n, m, card in db.session.execute(
                    select(Household.id, Household.village_id, Household.unit_path, Household.current_number,
                           Household.member_count, Household.card_no))]
        for i in range(0, len(rows), 5000):
            db.session.execute(insert(HouseholdQuality), rows[i:i + 5000])
        findings = []
        for pid, hid, vid, path, number in db.session.execute(
                select(Person.id, Person.household_id, Person.village_id, Person.unit_path, Person.id_number)
                .where(*woman)):
            if number and len(number) == 18 and number[16] in "24":
                findings.append(dict(fingerprint=f"bench:{pid}", rule="mw.spouse_given", level="error",
                                     scope="married_woman", household_id=hid, person_id=pid, path="",
                                     village_id=vid, unit_path=path, message={"zh": "缺配偶信息", "en": "spouse missing"},
                                     first_seen_at=now, last_seen_at=now,
                                     explanation_state="accepted" if rng.random() < 0.1 else None))
        for i in range(0, len(findings), 5000):
            db.session.execute(insert(QualityFinding), findings[i:i + 5000])
        db.session.commit()
        result.seed_seconds = time.perf_counter() - t0

        police = db.session.scalar(select(ImportedList.id).where(ImportedList.source == "police"))
        t1 = time.perf_counter()
        scorecard.expected_from_list(admin, county.id, police)
        db.session.commit()
        result.expected_seconds = time.perf_counter() - t1

        t2 = time.perf_counter()
        villages = db.session.execute(select(AdminUnit).where(AdminUnit.level == "village",
                                                              in_subtree(AdminUnit.path, county.path))
                                      .order_by(AdminUnit.code)).scalars().all()
        for v in villages:
            hs = db.session.execute(select(Household.id).where(Household.village_id == v.id)
                                    .order_by(Household.card_no).limit(20)).scalars().all()
            if not hs:
                continue
            check = SpotCheck(village_id=v.id, round=str(TODAY.year), seed="bench", population=0, married_women=0,
                              rate=0.05, sample_size=len(hs), created_by_id=admin.id)
            db.session.add(check)
            db.session.flush()
            db.session.execute(insert(SpotCheckItem), [
                dict(spot_check_id=check.id, position=i, household_id=h, version_number=1, checker_id=admin.id,
                     checked_at=now, items_checked=10, items_wrong=rng.choice((0, 0, 0, 1)))
                for i, h in enumerate(hs)])
        persons = db.session.execute(select(Person.id, Person.household_id, Person.village_id, Person.unit_path)
                                     .order_by(Person.id).limit(20000)).all()
        pairs: set[tuple] = set()
        while len(pairs) < 500:
            a, b = rng.sample(persons, 2)
            lo, hi = sorted((a, b), key=lambda r: str(r[0]))
            pairs.add((lo, hi))
        db.session.execute(insert(DuplicateCandidate), [
            dict(left_person_id=lo[0], right_person_id=hi[0], left_household_id=lo[1], right_household_id=hi[1],
                 village_id=lo[2], unit_path=lo[3], other_unit_path=hi[3], score=0.9, reasons=[], state="open",
                 found_at=now) for lo, hi in pairs])
        per_village = dict(db.session.execute(select(Household.village_id, func.count())
                                              .group_by(Household.village_id)).all())
        per_township: dict[int, int] = {}
        for v in villages:
            per_township[v.parent_id] = per_township.get(v.parent_id, 0) + per_village.get(v.id, 0)
        township_id = max(per_township, key=per_township.get)
        township = db.session.get(AdminUnit, township_id)
        result.township, result.township_households = township.name, per_township[township_id]
        its_villages = [v for v in villages if v.path.startswith(township.path)]
        for v in its_villages[::2]:
            db.session.add(VillageAcceptance(village_id=v.id, round=str(TODAY.year), state="accepted",
                                             applied_by_id=admin.id, applied_at=now - dt.timedelta(days=2),
                                             application="bench", decided_by_id=admin.id,
                                             decided_at=now - dt.timedelta(days=1), figures={}))
        db.session.commit()
        result.seed_seconds += time.perf_counter() - t2
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE"))
        result.persons = db.session.scalar(select(func.count()).select_from(Person))
        result.households = db.session.scalar(select(func.count()).select_from(Household))
        result.villages = len(villages)
        ids = {"county": county.id, "township": township_id, "village": its_villages[0].id}
        db.session.remove()
        db.engine.dispose()
        return ids


def timed(key: str, client: harness.Client, path: str, count: int) -> Timing:
    timing = Timing(key)
    for i in range(count + WARMUP):
        t0 = time.perf_counter()
        status, _, content = client.request("GET", path)
        elapsed = time.perf_counter() - t0
        if status != 200:
            timing.failures.append(f"{path}: HTTP {status} {content[:160]!r}")
        elif i >= WARMUP:
            timing.latencies.append(elapsed)
    print(f"  {key:10s} {path:32s} p50 {timing.pct(50):7.1f} ms  p95 {timing.pct(95):7.1f} ms  "
          f"({len(timing.latencies)} timed)" + (f"  FAILURES {len(timing.failures)}: {timing.failures[0]}"
                                                if timing.failures else ""), flush=True)
    return timing


def run(backend: str, uri: str, police: Path, args, folder: Path) -> Result:
    print(f"\n{backend} ({police.parent.name}/{police.name}):", flush=True)
    result = Result(backend)
    instance = folder / f"instance-{backend}"
    instance.mkdir()
    env = registry.environment(uri, instance)
    os.environ.update(DATABASE_URL=uri, DOORSTEP_INSTANCE=str(instance), BASE_URL="http://bench",
                      ACCEPTANCE_ROUND=str(TODAY.year))
    t0 = time.perf_counter()
    b = registry.build(env, police, registry.COUNTY)
    result.build_seconds = time.perf_counter() - t0
    if b.problems:
        result.problems = b.problems
        return result
    ids = seed(result)
    print(f"  {result.persons:,} persons, {result.households:,} households, {result.villages} villages; "
          f"township {result.township} ({result.township_households:,} households); inputs {result.seed_seconds:.0f} s, "
          f"expected from the list {result.expected_seconds:.1f} s", flush=True)
    t1 = time.perf_counter()
    cli = subprocess.run([str(registry.FLASK), "quality", "scorecard", "--unit", registry.COUNTY, "-o",
                          str(folder / f"{backend}.csv")], env={**env, "ACCEPTANCE_ROUND": str(TODAY.year)},
                         cwd=ROOT, capture_output=True, text=True)
    result.cli_seconds = time.perf_counter() - t1
    if cli.returncode != 0:
        result.problems.append(f"flask quality scorecard: exit {cli.returncode}: {cli.stderr[-300:]}")
    server = Server(uri, instance, registry.WORKERS[backend], args=("--timeout", "300"),
                    env={"ACCEPTANCE_ROUND": str(TODAY.year)})
    try:
        client = harness.Client(server.port, registry.PASSWORD, timeout=120)
        client.login(registry.USERS["admin"])
        result.timings["township"] = timed("township", client, f"/quality/scorecard/{ids['township']}",
                                           args.requests)
        result.timings["county"] = timed("county", client, f"/quality/scorecard/{ids['county']}", 50)
        result.timings["village"] = timed("village", client, f"/quality/scorecard/{ids['village']}", 50)
    finally:
        server.stop()
    return result


def report(results: list[Result], header: str, requests: int) -> list[str]:
    lines = [f"### {time.strftime('%Y-%m-%d %H:%M')} UTC", "", header, "",
             "| database | persons | households | township (households) | township page p50 / p95 "
             f"({requests}) | county page p50 / p95 (50) | village page p50 / p95 (50) | "
             "`flask quality scorecard` county | expected from the list | goal township p95 ≤ 300 ms |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        if r.problems:
            lines.append(f"| {r.backend} | failed: {'; '.join(r.problems)[:300]} |||||||||")
            continue
        t = r.timings

        def pp(key: str) -> str:
            return f"{t[key].pct(50):.0f} / {t[key].pct(95):.0f} ms"
        met = "met" if t["township"].pct(95) <= GOAL_MS and not t["township"].failures else "**not met**"
        lines.append(f"| {r.backend} | {r.persons:,} | {r.households:,} | {r.township} ({r.township_households:,}) "
                     f"| {pp('township')} | {pp('county')} | {pp('village')} | {r.cli_seconds:.1f} s "
                     f"| {r.expected_seconds:.1f} s | {met} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--small", action="store_true", help="../shared/linkage/small: a quick try")
    parser.add_argument("--no-append", action="store_true", help="do not write to docs/PERFORMANCE.md")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    police = registry.LINKAGE / ("small" if args.small else "full") / "police.csv.gz"
    with open("/proc/cpuinfo") as f:
        cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")),
                   platform.processor())
    header = (f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, gunicorn sync workers "
              f"2 (SQLite) / 4 (PostgreSQL), list {police.parent.name}/{police.name}, "
              f"/proc/loadavg at start {Path('/proc/loadavg').read_text().split()[0]}")
    print(header, flush=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-scorecard-") as tmp:
        for name, uri in scratch_databases("bench_scorecard", skip_sqlite=args.backend == "postgresql",
                                           skip_postgres=args.backend == "sqlite"):
            results.append(run(name, uri, police, args, Path(tmp)))
    lines = report(results, header, args.requests)
    print("\n" + "\n".join(lines))
    if results and not args.no_append:
        append_to_section(SECTION, lines)
        print(f"\nAppended to {PERFORMANCE_MD.relative_to(ROOT)}")


if __name__ == "__main__":

    main()
