"""Bench: duplicate candidates over a county's person register (issue 17, app.domain.duplicates),
as `flask quality duplicates` runs them, on SQLite and PostgreSQL (not a test: it prints
figures and asserts nothing). bench/duplicates.py times the pure matcher over the linkage
lists; this one times the whole run on the database: reading the register, matching, storing.

    .venv/bin/python bench/duplicates_registry.py [--backend sqlite|postgresql|both] [--small]
        [--runs 2] [--database URI] [--no-append]

For each database, in a fresh database (SQLite: a file in a temporary folder; PostgreSQL: a
database bench_duplicates_<pid> on DOORSTEP_TEST_PG, dropped afterwards), the county of
bench/registry.py is built with its build(): units, the police list of ../shared/linkage/full
(398,744 persons of 新田县, 130,002 households; --small: 29k) imported and pre-filled, as the
county's administrator. Then `flask quality duplicates --as <county admin>` runs --runs times
in a child process, each timed (wall seconds, peak resident memory from wait4) with the
command's own split (read / match / store, from its stderr): the first run stores the
candidates, the next ones find them again. Goal: ≤ 30 s at 400k persons on 2 cores.
--database URI: time the runs on a registry built already (no build, nothing dropped).
Figures are printed and appended to docs/PERFORMANCE.md (its section of this bench).
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

from bench._harness import scratch_databases  # noqa: E402
from bench._report import PERFORMANCE_MD, append_to_section  # noqa: E402
from bench.registry import (COUNTY, FLASK, LINKAGE, USERS, Step, build, environment,  # noqa: E402
                            run_step)

SECTION = "## Duplicate candidates over the person register (`bench/duplicates_registry.py`, issue 17)"
GOAL_SECONDS = 30
SPLIT_RE = re.compile(r"duplicates: read ([\d.]+) s match ([\d.]+) s store ([\d.]+) s; total ([\d.]+) s")
COUNTS_RE = re.compile(r"records=(\d+) found=(\d+) new=(\d+) seen_again=(\d+) gone=(\d+) open=(\d+)")


def runs(env: dict[str, str], n: int) -> list[tuple[Step, dict[str, str]]]:
    out = []
    for i in range(n):
        step = run_step(f"quality duplicates, run {i + 1}",
                        [FLASK, "quality", "duplicates", "--as", USERS["admin"]], env)
        split = SPLIT_RE.search(step.stderr)
        counts = COUNTS_RE.search(step.stdout)
        figures = {}
        if split:
            figures.update(zip(("read", "match", "store", "total"), split.groups(), strict=True))
        if counts:
            figures.update(zip(("records", "found", "new", "seen_again", "gone", "open"), counts.groups(),
                               strict=True))
        print(f"    {step.stdout.strip().replace(chr(10), ' | ')} | {step.stderr.strip().splitlines()[-1:]}",
              flush=True)
        out.append((step, figures))
    return out


def lines_of(backend: str, build_note: str, timed: list[tuple[Step, dict[str, str]]]) -> list[str]:
    out = [f"{backend}: {build_note}", "",
           "| run | wall s | read s | match s | store s | peak MB | persons | found | new | seen again | gone | open |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for i, (step, f) in enumerate(timed, 1):
        ok = "" if step.status == 0 else f" (exit {step.status})"
        out.append(f"| {i}{ok} | {step.seconds:.1f} | {f.get('read', '—')} | {f.get('match', '—')} | "
                   f"{f.get('store', '—')} | {step.max_rss_mb:,.0f} | {int(f.get('records', 0)):,} | "
                   f"{f.get('found', '—')} | {f.get('new', '—')} | {f.get('seen_again', '—')} | {f.get('gone', '—')} | "
                   f"{f.get('open', '—')} |")
    return out + [""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument("--small", action="store_true", help="../shared/linkage/small: a quick try")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--database", help="a registry built already (its county admin is bench_admin)")
    parser.add_argument("--no-append", action="store_true", help="do not write to docs/PERFORMANCE.md")
    args = parser.parse_args()
    police = LINKAGE / ("small" if args.small else "full") / "police.csv.gz"
    header = (f"{time.strftime('%Y-%m-%d %H:%M')} UTC, {os.cpu_count()} cores, Python {platform.python_version()}, "
              f"list {police.parent.name}/{police.name}; /proc/loadavg before: "
              f"{Path('/proc/loadavg').read_text().strip()}")
    print(header, flush=True)
    lines = [f"### Run of {header}", ""]
    with tempfile.TemporaryDirectory(prefix="bench-duplicates-") as tmp:
        if args.database:
            backend = "postgresql" if args.database.startswith("postgresql") else "sqlite"
            env = environment(args.database, Path(tmp))
            lines += lines_of(backend, "a registry built before", runs(env, args.runs))
        else:
            for backend, uri in scratch_databases("bench_duplicates", skip_sqlite=args.backend == "postgresql",
                                                  skip_postgres=args.backend == "sqlite"):
                print(f"\n{backend}:", flush=True)
                instance = Path(tmp) / f"instance-{backend}"
                instance.mkdir()
                env = environment(uri, instance)
                os.environ.update(DATABASE_URL=uri, DOORSTEP_INSTANCE=str(instance), BASE_URL="http://bench")
                b = build(env, police, COUNTY)
                if b.problems:
                    lines += [f"{backend}: build failed: {'; '.join(b.problems)}", ""]
                    continue
                seconds, peak = b.import_prefill
                note = f"built in {sum(s.seconds for s in b.steps.values()):.0f} s (import + prefill {seconds:.0f} s)"
                lines += lines_of(backend, note, runs(env, args.runs))
    lines.append(f"/proc/loadavg after: {Path('/proc/loadavg').read_text().strip()}")
    print("\n" + "\n".join(lines))
    if not args.no_append:
        append_to_section(SECTION, lines)
        print(f"\nAppended to {PERFORMANCE_MD.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
