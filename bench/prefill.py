"""Pre-filled households from the county's police list (issue 16): 130k households, 400k
persons of ../shared/linkage/full/police.csv.gz, on SQLite and PostgreSQL.

    .venv/bin/python -m bench.prefill [--limit ROWS] [--workers N] [--skip-sqlite] [--skip-postgres]
                                      [--loader bench|lists]

For each database: migrate, load 新田县's units (flask units import of the l1-l4 and, under
431128000000, the l1-l5 file), a county clerk, then the list: through app.domain.lists
(--loader lists, when that branch is merged) or the bench's own Core loader (ListRecord rows
as app.domain.lists leaves them, for measuring the pre-fill alone); then app.domain.prefill
with a commit per village. Prints seconds per phase, the counts, and the peak memory
(ru_maxrss of this process)."""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import gzip
import hashlib
import json
import resource
import time
from pathlib import Path

from bench._harness import scratch_databases

DATA = Path(__file__).resolve().parent.parent.parent / "shared"
POLICE = DATA / "linkage" / "full" / "police.csv.gz"
COUNTY = "431128000000"


def _load_units() -> None:
    from app.domain import units_import

    units_import.import_units(DATA / "data" / "admin_divisions_l1-l4_2023.csv")
    units_import.import_units(DATA / "data" / "admin_divisions_l1-l5_2021.csv.gz", under=COUNTY)


def _bench_loader(clerk, limit: int | None) -> int:
    """ListRecord rows straight from the CSV (already normalised in this file), 5,000 a statement."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import AdminUnit, ImportedList, ListRecord, UnitLevel

    villages = {code: (uid, path) for uid, code, path in db.session.execute(
        select(AdminUnit.id, AdminUnit.code, AdminUnit.path).where(AdminUnit.level == UnitLevel.village.value))}
    county = db.session.scalar(select(AdminUnit).where(AdminUnit.code == COUNTY))
    lst = ImportedList(source="police", file_name=POLICE.name, file_sha256="0" * 64, mapping={},
                       unit_id=county.id, unit_path=county.path, state="loaded", created_by_id=clerk.id)
    db.session.add(lst)
    db.session.commit()
    table = ListRecord.__table__
    rows, n = [], 0
    with gzip.open(POLICE, "rt", encoding="utf-8") as f:
        for line, r in enumerate(csv.DictReader(f), start=2):
            if limit is not None and n >= limit:
                break
            village_id, path = villages[r["village_code"]]
            rows.append({"list_id": lst.id, "line": line, "record_id": r["record_id"],
                         "row_hash": hashlib.sha256(json.dumps(r, sort_keys=True).encode()).hexdigest(),
                         "village_id": village_id, "unit_path": path, "name": r["name"], "name_norm": r["name"],
                         "sex": r["sex"] or None,
                         "birth_date": dt.date.fromisoformat(r["birth_date"]) if r["birth_date"] else None,
                         "id_number": r["id_number"] or None, "household_no": r["household_no"],
                         "card_no": None, "relation": r["relation"] or None, "address": r["address"],
                         "raw": {}, "extras": {}, "flags": []})
            n += 1
            if len(rows) == 5000:
                db.session.execute(table.insert(), rows)
                db.session.commit()
                rows = []
    if rows:
        db.session.execute(table.insert(), rows)
    lst.rows_read = lst.rows_loaded = n
    db.session.commit()
    return lst.id


def _lists_loader(clerk, limit: int | None) -> int:
    from app.domain import lists
    from app.extensions import db

    if limit is not None:
        raise SystemExit("--limit works with the bench's own loader only")
    result = lists.import_list(clerk, POLICE, source="police")
    db.session.commit()
    return result.list_id


def run(uri: str, limit: int | None, loader: str, workers: int) -> dict[str, float]:
    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from app import create_app
    from app.domain import prefill
    from app.domain.users import create_user
    from app.extensions import db
    from app.models import AdminUnit, Household, Person, Role
    from tests.conftest import base_config

    app = create_app(base_config(uri))
    figures: dict[str, float] = {}
    with app.app_context(), app.test_request_context():
        upgrade()
        started = time.perf_counter()
        _load_units()
        db.session.commit()
        figures["units_s"] = time.perf_counter() - started
        county = db.session.scalar(select(AdminUnit).where(AdminUnit.code == COUNTY))
        clerk = create_user(None, username="admin", name="县管理员", password="correct horse battery",  # noqa: S106
                            role=Role.county_admin, unit=county)
        db.session.commit()
        started = time.perf_counter()
        list_id = (_lists_loader if loader == "lists" else _bench_loader)(clerk, limit)
        figures["load_s"] = time.perf_counter() - started
        started, cpu = time.perf_counter(), time.process_time()
        result = prefill.prefill(clerk, list_id, key="household_no", commit=db.session.commit, workers=workers)
        db.session.commit()
        figures["prefill_s"] = time.perf_counter() - started
        figures["prefill_cpu_s"] = time.process_time() - cpu
        figures["households"] = db.session.scalar(select(func.count()).select_from(Household))
        figures["persons"] = db.session.scalar(select(func.count()).select_from(Person))
        figures["created"] = result.created
        figures["villages"] = len(result.villages)
        figures["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        db.session.remove()
        db.engine.dispose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=None, help="Load only the first ROWS rows.")
    parser.add_argument("--loader", choices=("bench", "lists"), default="bench")
    parser.add_argument("--workers", type=int, default=0, help="Processes that build and check the forms.")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    for backend, uri in scratch_databases("bench_prefill", skip_sqlite=args.skip_sqlite,
                                          skip_postgres=args.skip_postgres):
        f = run(uri, args.limit, args.loader, args.workers)
        print(f"{backend:10s} workers {args.workers}  load ({args.loader}) {f['load_s']:6.1f} s   prefill {f['prefill_s']:6.1f} s "
              f"(this process's CPU {f['prefill_cpu_s']:.1f} s)   "
              f"{f['created']:,.0f} households created in {f['villages']:.0f} villages, "
              f"{f['persons']:,.0f} persons   peak memory {f['peak_mb']:,.0f} MB   (units {f['units_s']:.1f} s)",
              flush=True)


if __name__ == "__main__":
    main()
