"""Bench: the registry-wide run of the quality rules over a county (issue 17; not a test: it
prints figures and asserts nothing).

    .venv/bin/python bench/quality.py [--backend sqlite|postgresql|both] [--small] [--no-append]

For each database, in a fresh database (SQLite: a file in a temporary folder; PostgreSQL: a
database bench_quality_<pid> on DOORSTEP_TEST_PG, dropped afterwards), the county is built as
bench/registry.py builds it (its functions, each step a `flask` child process): `flask db
upgrade`, the units, `flask lists import police.csv.gz --source police` (../shared/linkage/full:
398,744 persons, 232 villages of 新田县; --small: ../shared/linkage/small) and `flask lists
prefill N --key household_no` as the county's administrator. The pre-fill writes no findings
(it is not a collector's save), so the first run finds everything. PostgreSQL then runs
ANALYZE, as autovacuum would after such a load. Then, timed as child processes with their
peak resident memory (ru_maxrss from wait4):
1. `flask quality run --as <county admin>`: the first run (every finding new);
2. the same again: every finding seen again, none new, none resolved (the steady state);
3. the same with `--workers 2`: the households checked in two processes while the command
   reads and writes (on an idle 2-core machine the checks, most of the CPU, are halved).
Goal: ≤ 60 s a run on 2 cores (stretch ≤ 20 s). Figures are printed and appended to
docs/PERFORMANCE.md (its section of this bench).
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import registry  # noqa: E402
from bench._harness import scratch_databases  # noqa: E402
from bench._report import append_to_section  # noqa: E402

SECTION = "## The registry-wide quality run (`bench/quality.py`, issue 17)"
RUN_ID_RE = re.compile(r"^run_id=(\d+)\s*$", re.MULTILINE)
COUNTS_RE = re.compile(r"^open=(\d+) new=(\d+) resolved=(\d+)\s*$", re.MULTILINE)


def analyze(uri: str) -> None:
    import psycopg

    plain = uri.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute("ANALYZE")


def counts(uri: str) -> dict[str, int]:
    from sqlalchemy import create_engine, text

    engine = create_engine(uri)
    with engine.connect() as conn:
        out = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()  # noqa: S608 - our table names
               for t in ("household", "person", "quality_finding", "household_quality")}
        out["findings_by_rule"] = dict(conn.execute(text(
            "SELECT rule, count(*) FROM quality_finding WHERE resolved_at IS NULL GROUP BY rule "
            "ORDER BY count(*) DESC LIMIT 8")).all())
    engine.dispose()
    return out


def one(backend: str, uri: str, police: Path) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="bench-quality-") as instance:
        env = registry.environment(uri, Path(instance))
        # make_admin (registry.build) makes the county's administrator in this process.
        os.environ.update(DATABASE_URL=uri, DOORSTEP_INSTANCE=instance, BASE_URL="http://bench")
        print(f"{backend}: building the county from {police}", flush=True)
        b = registry.build(env, police, registry.COUNTY)
        if b.problems:
            return [f"{backend}: the build failed: {'; '.join(b.problems)}"]
        if backend == "postgresql":
            analyze(uri)
        runs = []
        for label, workers in (("first run", 0), ("second run", 0), ("third run, --workers 2", 2)):
            step = registry.run_step(f"quality run ({label})",
                                     [registry.FLASK, "quality", "run", "--as", registry.USERS["admin"],
                                      "--workers", str(workers)], env)
            run_id, found = RUN_ID_RE.search(step.stdout), COUNTS_RE.search(step.stdout)
            if step.status != 0 or not run_id or not found:
                return [f"{backend}: quality run failed (exit {step.status}): {step.tail()}"]
            runs.append((label, step, [int(x) for x in found.groups()]))
            print(f"    {step.stdout.strip()}", flush=True)
        c = counts(uri)
    lines = [f"| {backend} | {label} | {c['household']:,} | {c['person']:,} | {step.seconds:.1f} s "
             f"| {step.max_rss_mb:.0f} MB | {n_open:,} | {n_new:,} | {n_resolved:,} |"
             for label, step, (n_open, n_new, n_resolved) in runs]
    lines.append(f"| {backend} | (build: import + prefill) | | | {b.import_prefill[0]:.0f} s "
                 f"| {b.import_prefill[1]:.0f} MB | | | |")
    print(f"  open findings by rule (top 8): {c['findings_by_rule']}", flush=True)
    return lines + [f"<!-- {backend} top rules: {c['findings_by_rule']} -->"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--small", action="store_true", help="../shared/linkage/small: a quick try")
    parser.add_argument("--no-append", action="store_true", help="print only; do not add to docs/PERFORMANCE.md")
    args = parser.parse_args()
    police = registry.LINKAGE / ("small" if args.small else "full") / "police.csv.gz"
    load = os.getloadavg()[0]
    started = time.strftime("%Y-%m-%d %H:%M")
    rows: list[str] = []
    notes: list[str] = []
    for backend, uri in scratch_databases("bench_quality", skip_sqlite=args.backend == "postgresql",
                                          skip_postgres=args.backend == "sqlite"):
        out = one(backend, uri, police)
        rows += [r for r in out if r.startswith("|")]
        notes += [r for r in out if not r.startswith("|")]
    header = [f"### {started} UTC, {police.parent.name}/{police.name}, load average {load:.1f} before, "
              f"{os.getloadavg()[0]:.1f} after ({platform.python_implementation()} {platform.python_version()}, "
              f"{os.cpu_count()} cores)", "",
              "    .venv/bin/python bench/quality.py " + " ".join(sys.argv[1:]), "",
              "| database | run | households | persons | wall | peak RSS | open | new | resolved |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    text = header + rows + [""] + notes
    print("\n".join(text))
    if not args.no_append:
        append_to_section(SECTION, text)


if __name__ == "__main__":
    main()
