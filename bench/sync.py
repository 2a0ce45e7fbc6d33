"""Bench: phone submissions through the sync API, on SQLite and PostgreSQL (not a test).

    .venv/bin/python bench/sync.py [--seconds 20] [--max 3000] [--clients 6] [--workers N]
        [--skip-sqlite] [--skip-postgres] [--no-append]

For each database, in a fresh migrated database with the demo township and its users (the
set-up of bench/submit.py), with gunicorn (sync workers, as the app is run) on 127.0.0.1:
1. each client thread is one village's collector with a device token (Bearer), on its own
   connection;
2. phase "new": POST /api/v1/submissions of new 5-member households (app.demo.households,
   different people each time) with a drawn signature: each answers 201 (saved and submitted
   in one transaction);
3. phase "10 % duplicates": the same, but one request in ten is a retry of one of the client's
   earlier submissions, body unchanged (a phone that did not get the answer): it must get
   the first answer again, byte for byte in JSON, and store nothing;
4. checks afterwards: households and receipts as posted, one version per household.
Each phase is bounded by a count and a time limit; the first requests of each client are a
warm-up and are not counted. Figures are printed and appended to docs/PERFORMANCE.md.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._harness import Server, scratch_databases  # noqa: E402
from bench._report import append_to_section  # noqa: E402
from bench.submit import (DEFAULT_WORKERS, Village, app_config, households_to_post, prepare)  # noqa: E402

SECTION = "## Phone submissions through the sync API (`bench/sync.py`)"
WARMUP_PER_CLIENT = 3
DUPLICATE_SHARE = 0.10


def signature(rng: random.Random) -> list:
    """Three strokes of 40 points, as a finger writes a short name."""
    strokes = []
    for s in range(3):
        x0, y0 = 150 + 250 * s, 200
        strokes.append([[x0 + i * 4 + rng.randint(-3, 3), y0 + int(80 * ((i % 10) - 5) / 5) + rng.randint(-3, 3)]
                        for i in range(40)])
    return strokes


def tokens(uri: str, villages: list[Village]) -> dict[str, str]:
    """A device token for each village's collector."""
    from sqlalchemy import select

    from app import create_app
    from app.domain import devices
    from app.extensions import db
    from app.models import User

    app = create_app(app_config(uri))
    with app.app_context():
        out = {}
        for v in villages:
            user = db.session.scalar(select(User).where(User.username == v.username))
            out[v.code] = devices.issue(user, "bench phone")[1]
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return out


class Phone:
    def __init__(self, port: int, token: str):
        self.port, self.token = port, token
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def post(self, body: dict) -> tuple[int, dict]:
        payload = json.dumps(body, ensure_ascii=False).encode()
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        for attempt in (1, 2):
            try:
                self.conn.request("POST", "/api/v1/submissions", body=payload, headers=headers)
                response = self.conn.getresponse()
                content = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()  # sync workers close the connection after each answer
                if attempt == 2:
                    raise
        if response.getheader("Connection", "").lower() == "close":
            self.conn.close()
        return response.status, json.loads(content)


@dataclass
class Phase:
    name: str
    latencies: list[float] = field(default_factory=list)
    duplicate_latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    created: int = 0  # new households stored (warm-up included)
    load: tuple[float, float] = (0.0, 0.0)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0


def pct(values: list[float], p: int) -> float:
    if len(values) < 2:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1] * 1000


def loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def run_phase(name: str, phones: list[tuple[Phone, Village]], bodies: dict[str, list[dict]], seconds: float,
              limit: int, duplicates: float) -> Phase:
    phase = Phase(name, load=(loadavg(), 0.0))
    lock = threading.Lock()
    counted = [0]
    ready = threading.Barrier(len(phones) + 1)
    deadline = [0.0]

    def work(phone: Phone, village: Village) -> None:
        rng = random.Random(village.code)
        sent: list[tuple[dict, tuple[int, dict]]] = []
        queue = bodies[village.code]

        def one(timed: bool) -> bool:
            retry = sent and rng.random() < duplicates
            if retry:
                body, first = rng.choice(sent)
            elif queue:
                body, first = queue.pop(), None
            else:
                return False
            t0 = time.perf_counter()
            status, answer = phone.post(body)
            elapsed = time.perf_counter() - t0
            if first is None:
                if status != 201:
                    with lock:
                        phase.failures.append(f"{status} {answer}")
                    return True
                sent.append((body, (status, answer)))
                with lock:
                    phase.created += 1  # warm-up included: the check counts every stored household
            elif (status, answer) != first:
                with lock:
                    phase.failures.append(f"retry answered {status} {answer}, first {first}")
            if timed:
                with lock:
                    phase.latencies.append(elapsed)
                    if first is not None:
                        phase.duplicate_latencies.append(elapsed)
            return True

        for _ in range(WARMUP_PER_CLIENT):
            one(False)
        ready.wait()
        while time.monotonic() < deadline[0]:
            with lock:
                if counted[0] >= limit:
                    return
                counted[0] += 1
            if not one(True):
                return

    threads = [threading.Thread(target=work, args=pv) for pv in phones]
    for t in threads:
        t.start()
    deadline[0] = time.monotonic() + seconds + 3600  # set properly once everyone is warm
    ready.wait()
    start = time.monotonic()
    deadline[0] = start + seconds
    for t in threads:
        t.join()
    phase.seconds = time.monotonic() - start
    phase.load = (phase.load[0], loadavg())
    return phase


def verify(uri: str, created: int) -> str:
    from sqlalchemy import func, select

    from app import create_app
    from app.extensions import db
    from app.models import Household, HouseholdVersion, SyncReceipt

    app = create_app(app_config(uri))
    with app.app_context():
        households = db.session.scalar(select(func.count()).select_from(Household))
        versions = db.session.scalar(select(func.count()).select_from(HouseholdVersion))
        receipts = db.session.scalar(select(func.count()).select_from(SyncReceipt))
        db.session.remove()
        db.engine.dispose()
    ok = households == versions == receipts == created
    return (f"{'ok' if ok else 'MISMATCH'}: {households} households, {versions} versions, "
            f"{receipts} receipts for {created} accepted submissions")


def run(name: str, uri: str, args) -> list[str]:
    villages, version = prepare(uri)
    villages = villages[:args.clients]
    keys = tokens(uri, villages)
    per_client = args.max // len(villages) + WARMUP_PER_CLIENT * 2 + 5
    bodies = {}
    rng = random.Random(7)
    for code, forms in households_to_post({v.code: per_client for v in villages}, villages).items():
        unit = next(v.id for v in villages if v.code == code)
        bodies[code] = [{"submission_id": str(uuid.uuid4()), "household_id": str(uuid.uuid4()), "unit_id": unit,
                         "base_version": 0, "data": data, "signature": signature(rng)} for data in forms]
    workers = args.workers or DEFAULT_WORKERS[name]
    instance = Path(tempfile.mkdtemp(prefix=f"bench-sync-{name}-"))
    server = Server(uri, instance, workers, app="bench.submit:bench_app()", args=("--backlog", "64"))
    try:
        phases = []
        for phase_name, dup in (("new", 0.0), ("10 % duplicates", DUPLICATE_SHARE)):
            phones = [(Phone(server.port, keys[v.code]), v) for v in villages]
            half = {code: forms[len(forms) // 2:] if dup else forms[:len(forms) // 2]
                    for code, forms in bodies.items()}
            phases.append(run_phase(phase_name, phones, half, args.seconds, args.max, dup))
    finally:
        server.stop()
        shutil.rmtree(instance, ignore_errors=True)
    created = sum(p.created for p in phases)
    check = verify(uri, created)
    lines = [f"{name} {version}, {workers} gunicorn sync workers, {len(villages)} phones (one village each):"]
    for p in phases:
        dup = (f"; retries {len(p.duplicate_latencies)}: p50 {pct(p.duplicate_latencies, 50):.0f} ms"
               if p.duplicate_latencies else "")
        lines.append(f"- {p.name}: {p.rate:.1f} submissions/s ({len(p.latencies)} in {p.seconds:.1f} s), "
                     f"p50 {pct(p.latencies, 50):.0f} ms, p95 {pct(p.latencies, 95):.0f} ms{dup}; "
                     f"failures {len(p.failures)}; load {p.load[0]:.2f} → {p.load[1]:.2f}")
        for failure in p.failures[:3]:
            lines.append(f"  - {failure[:200]}")
    lines.append(f"- check: {check}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--max", type=int, default=3000, help="at most this many timed requests per phase")
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--workers", type=int, default=0, help="default: 2 on SQLite, 4 on PostgreSQL")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args()
    header = (f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.python_version()}, "
              f"{os.cpu_count()} cores, {args.seconds:.0f} s per phase, 5-member households, Bearer tokens")
    lines = [header]
    for backend, uri in scratch_databases("bench_sync", skip_sqlite=args.skip_sqlite,
                                          skip_postgres=args.skip_postgres):
        lines += run(backend, uri, args)
    print("\n".join(lines))
    if not args.no_append:
        append_to_section(SECTION, lines)


if __name__ == "__main__":
    main()
