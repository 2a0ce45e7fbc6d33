"""Bench: the units import of the whole country, on SQLite and PostgreSQL (not a test).

    .venv/bin/python bench/units_import.py [--skip-sqlite] [--skip-postgres]
        [--file admin_divisions_l1-l4_2023.csv] [--villages-under all|none|CODE]

For each database, in a fresh, migrated database (SQLite: a temporary file; PostgreSQL: a
database bench_units_<pid> created on DOORSTEP_TEST_PG, default
postgresql://root@127.0.0.1:5432/test, and dropped afterwards):
1. imports the provinces-to-townships file (one transaction, as `flask units import`);
2. imports it again (the idempotent pass: nothing created);
3. imports the 5-level file on top (default: all of it, 663,128 rows, of which 600,689
   are new: villages and the units of the 2021 edition missing from 2023; or only the
   subtree of CODE, as `--under CODE`), so that a township has villages under it and the
   table has the size of a whole country;
4. times the subtree query (app.domain.tree.in_subtree) under one township and under one
   province, and prints the query plan, which must use the unique index on admin_unit.path.
Figures are written by hand into docs/PERFORMANCE.md.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import uuid
from pathlib import Path

from sqlalchemy import func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import create_app  # noqa: E402
from app.domain.tree import in_subtree  # noqa: E402
from app.domain.units_import import import_units  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import AdminUnit  # noqa: E402
from bench._harness import scratch_databases  # noqa: E402

DATA = Path("/work/shared/data")
TOWNSHIP = "341023202000"  # 宏潭乡, 黟县, 安徽省 (the demo township)
PROVINCE = "340000000000"  # 安徽省
QUERY_RUNS = 50


def config(uri: str) -> dict:
    return {"TESTING": True, "SQLALCHEMY_DATABASE_URI": uri, "SECRET_KEY": uuid.uuid4().hex,
            "BASE_URL": "http://bench", "BABEL_DEFAULT_LOCALE": "zh_CN",
            "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai"}


def timed_import(label: str, path: Path, **kwargs) -> float:
    started = time.perf_counter()
    report = import_units(path, **kwargs)
    db.session.commit()
    seconds = time.perf_counter() - started
    handled = report.rows - report.skipped
    print(f"  {label}: {seconds:6.2f} s  {handled / seconds:9,.0f} rows/s  "
          f"(rows {handled:,}, created {report.created:,}, renamed {report.renamed:,}, "
          f"unchanged {report.unchanged:,}, errors {len(report.errors)})")
    return seconds


def subtree_query(code: str):
    path = db.session.scalar(select(AdminUnit.path).where(AdminUnit.code == code))
    return select(AdminUnit.id, AdminUnit.code, AdminUnit.name).where(in_subtree(AdminUnit.path, path))


def time_query(label: str, code: str) -> None:
    stmt = subtree_query(code)
    timings, count = [], 0
    for _ in range(QUERY_RUNS):
        started = time.perf_counter()
        count = len(db.session.execute(stmt).all())
        timings.append(time.perf_counter() - started)
    median = statistics.median(timings) * 1000
    print(f"  subtree under {label} {code}: {count:,} units, median {median:.2f} ms "
          f"(min {min(timings) * 1000:.2f} ms, {QUERY_RUNS} runs)")


def explain(code: str) -> None:
    stmt = subtree_query(code)
    dialect = db.engine.dialect
    sql = str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    if dialect.name == "sqlite":
        prefix = "EXPLAIN QUERY PLAN "
    else:
        prefix = "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) "
    print(f"  {prefix}{' '.join(sql.split())}")
    for row in db.session.execute(text(prefix + sql)):
        print("    " + str(row[-1]))


def run(name: str, uri: str, args) -> None:
    from flask_migrate import upgrade

    app = create_app(config(uri))
    with app.app_context():
        upgrade()
        query = "SELECT sqlite_version()" if name == "sqlite" else "SHOW server_version"
        version = db.session.scalar(text(query))
        print(f"\n{name} {version}")
        timed_import(f"import {args.file.name}", args.file)
        timed_import(f"again  {args.file.name}", args.file)
        if args.villages_under == "all":
            timed_import(f"import {args.villages.name}", args.villages)
        elif args.villages_under != "none":
            timed_import(f"import {args.villages.name} --under {args.villages_under}", args.villages,
                         under=args.villages_under)
        print(f"  units in the table: {db.session.scalar(select(func.count()).select_from(AdminUnit)):,}")
        # Fresh statistics, as autovacuum (PostgreSQL) or a periodic ANALYZE would give.
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        for label, code in (("township", TOWNSHIP), ("province", PROVINCE)):
            time_query(label, code)
            explain(code)
        db.session.remove()
        db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--file", type=Path, default=DATA / "admin_divisions_l1-l4_2023.csv")
    parser.add_argument("--villages", type=Path, default=DATA / "admin_divisions_l1-l5_2021.csv.gz")
    parser.add_argument("--villages-under", default="all", metavar="all|none|CODE",
                        help="step 3: the whole 5-level file, nothing, or the subtree of CODE")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()

    with open("/proc/cpuinfo") as f:
        cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")),
                   platform.processor())
    print(f"{time.strftime('%Y-%m-%d %H:%M')}  {os.cpu_count()} cores ({cpu}), "
          f"Python {platform.python_version()}")

    for backend, uri in scratch_databases("bench_units", skip_sqlite=args.skip_sqlite,
                                          skip_postgres=args.skip_postgres):
        run(backend, uri, args)

if __name__ == "__main__":
    main()
