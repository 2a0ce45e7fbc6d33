"""What the access log costs a page view (issue 15 item 2): a household's review page and the
collector's list, opened N times through the test client with the access log on (each view
buffered, one entry per request) and off (the views' marks taken away: the page as before),
on SQLite and PostgreSQL; then the flush of those entries as one batch.

    .venv/bin/python -m bench.views [--n 300] [--skip-postgres]

Prints the mean and median milliseconds per view, the ratio on/off, and the flush time."""
from __future__ import annotations

import argparse
import re
import statistics
import time

from bench._harness import scratch_databases


def run(uri: str, n: int) -> dict[str, float]:
    from flask_migrate import upgrade

    from app import access_log, create_app
    from app.domain.units import get_or_create_unit as add
    from app.domain.users import create_user
    from app.domain import registration
    from app.extensions import db
    from app.models import Role, UnitLevel as L
    from tests.conftest import base_config
    from tests.support.households import TODAY, family

    app = create_app(base_config(uri))
    with app.app_context():
        upgrade()
        township = add("110101001000", "东华门街道", L.township, None)
        village = add("110101001001", "多福巷社区", L.village, township)
        collector = create_user(None, username="zhang", name="采集员", password="correct horse battery",  # noqa: S106
                                role=Role.collector, unit=village)
        create_user(None, username="leader", name="村干部", password="correct horse battery",  # noqa: S106
                    role=Role.village_leader, unit=village)
        ids = [registration.new_household(collector, unit_id=village.id, data=family(seq=i), today=TODAY)
               .household.id for i in range(1, 31)]
        db.session.commit()
        db.session.remove()
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    client.post("/login", data={"username": "leader", "password": "correct horse battery", "csrf_token": token})
    urls = [f"/review/households/{ids[i % len(ids)]}" for i in range(n)]
    endpoints = ("review.household", "collect.index")
    marks = {e: app.view_functions[e].shows_personal_data for e in endpoints}

    def timed(logging: bool) -> list[float]:
        for e in endpoints:
            if logging:
                app.view_functions[e].shows_personal_data = marks[e]
            else:
                del app.view_functions[e].shows_personal_data
        times = []
        for url in urls:
            started = time.perf_counter()
            assert client.get(url).status_code == 200
            times.append(time.perf_counter() - started)
        return times

    timed(True)  # warm up (and the entries of the warm-up are flushed away)
    log = app.extensions[access_log.EXTENSION]
    with app.app_context():
        log.flush()
    # Alternate the two, twice each, so that a noisy neighbour on the machine hits both alike.
    off, on = timed(False), timed(True)
    off += timed(False)
    on += timed(True)
    with app.app_context():
        started = time.perf_counter()
        flushed = log.flush()
        flush_ms = (time.perf_counter() - started) * 1000
        # What a view adds, alone (the page times above are noisy on a shared machine): one entry buffered.
        with app.test_request_context(urls[0]):
            started = time.perf_counter()
            for _ in range(10_000):
                access_log.record("household", actor_id=1, object_id=ids[0], unit_path="/x/", details={"kind": ""})
            add_us = (time.perf_counter() - started) / 10_000 * 1e6
        log._pending.clear()
        db.engine.dispose()
    for e in endpoints:
        app.view_functions[e].shows_personal_data = marks[e]
    return {"off_mean": statistics.mean(off) * 1000, "off_median": statistics.median(off) * 1000,
            "on_mean": statistics.mean(on) * 1000, "on_median": statistics.median(on) * 1000,
            "flushed": flushed, "flush_ms": flush_ms, "add_us": add_us}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    print(f"household review page, {args.n} views x 2 each way (ms per view)")
    for backend, uri in scratch_databases("bench_views", skip_postgres=args.skip_postgres):
        r = run(uri, args.n)
        print(f"{backend:10s} without log: mean {r['off_mean']:.2f} median {r['off_median']:.2f} | "
              f"with log: mean {r['on_mean']:.2f} median {r['on_median']:.2f} | "
              f"ratio (median) {r['on_median'] / r['off_median']:.3f} | "
              f"flush of {r['flushed']} entries as one batch: {r['flush_ms']:.1f} ms | "
              f"one entry buffered: {r['add_us']:.1f} us")


if __name__ == "__main__":
    main()
