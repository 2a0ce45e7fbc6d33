"""Bench: the verifier's queue page and a bulk verify, with the demo township's 2,000 households
in their approval states, on SQLite and PostgreSQL (not a test).

    .venv/bin/python bench/review.py [--households 2000] [--requests 200] [--clients 4] [--workers 4]
        [--bulk 100] [--seconds 60] [--skip-sqlite] [--skip-postgres] [--no-append]

For each database, in a fresh, migrated database (SQLite: a file in a temporary folder;
PostgreSQL: a database bench_review_<pid> created on DOORSTEP_TEST_PG, default
postgresql://root@127.0.0.1:5432/test, dropped afterwards):
1. set-up in this process, as `flask demo --households 2000` does it: the demo township, its
   users and households, moved along the approval chain (app.demo.workflow: about 160
   confirmed households wait for the verifier). If fewer than --bulk are confirmed, the
   village leaders confirm submitted households until there are enough (bench-only top-up).
   PostgreSQL then runs ANALYZE, as autovacuum would shortly after such a load;
2. starts gunicorn (sync workers) on 127.0.0.1 at a free port, serving wsgi:app, the
   application as deployed;
3. logs in as demo_verifier through the real login form (CSRF token read from the page);
4. the queue: GET /review/verifier (first page: 50 households, the counts per village, the
   signature pad) --requests times one after another, then --requests times from --clients
   threads at once (each its own login and connection); p50, p95, max. The first requests of
   each client are a warm-up and are not counted. Each phase is also bounded by --seconds;
5. the bulk verify: reads pages 1 and 2 of the queue as the browser shows them (the ticked
   values are "<uuid>:<version>"), and POSTs /review/verify with --bulk items and one drawn
   signature (strokes, as signature.js sends them): the seconds for that one request;
6. checks the database: --bulk new verify events by demo_verifier, as many new verifier
   signatures, as many household.verify audit entries, the states moved, the audit chain intact.
Also, in this process with the Flask test client: the SQL statements one queue page sends.
Figures are printed and written into docs/PERFORMANCE.md (its section of this bench).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path

from sqlalchemy import func, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from bench import _harness as harness  # noqa: E402
from bench._harness import CSRF_RE, Server, scratch_databases  # noqa: E402
from bench._report import PERFORMANCE_MD, append_to_section  # noqa: E402

PASSWORD = "bench-review-password"
VERIFIER = "demo_verifier"
QUEUE = "/review/verifier"
WARMUP_PER_CLIENT = 5
SECTION = "## Approval chain: the verifier's queue and bulk verify (`bench/review.py`)"
ITEM_RE = re.compile(r'name="items" value="([0-9a-f-]{36}:\d+)"')
COUNT_RE = re.compile(r'data-testid="queue-count">([^<]*)<')


# ------------------------------------------------------------------ set-up (in this process)

def app_config(uri: str) -> dict:
    from app.config import _int

    return {"TESTING": True, "SQLALCHEMY_DATABASE_URI": uri, "SECRET_KEY": uuid.uuid4().hex,
            "BASE_URL": "http://bench", "BABEL_DEFAULT_LOCALE": "zh_CN",
            "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai", "SESSION_IDLE_MINUTES": 720,
            "LOGIN_WINDOW_SECONDS": 60, "LOGIN_FAILURES_PER_ACCOUNT": 5, "LOGIN_FAILURES_PER_ADDRESS": 20,
            "PROXY_COUNT": 0, "WTF_CSRF_TIME_LIMIT": None,
            # The production password hashing (app/config.py), as the server uses it at login.
            "ARGON2_TIME_COST": _int("ARGON2_TIME_COST", 3),
            "ARGON2_MEMORY_COST": _int("ARGON2_MEMORY_COST", 65536),
            "ARGON2_PARALLELISM": _int("ARGON2_PARALLELISM", 2)}


@dataclass
class Setup:
    version: str
    states: dict[str, int]
    seconds: float
    topped_up: int  # households confirmed by the bench's top-up (not by the demo)


def prepare(uri: str, households: int, bulk: int) -> Setup:
    """Migrate, then the demo township with its households in their approval states."""
    from flask_babel import force_locale
    from flask_migrate import upgrade

    from app.demo import township as demo

    app = create_app(app_config(uri))
    with app.app_context():
        upgrade()
        db.engine.dispose()  # alembic's connection would keep SQLite's write lock
    started = time.perf_counter()
    with app.app_context(), force_locale("zh_CN"):
        result = demo.create_demo(password=PASSWORD, households=households)
        db.session.commit()
        topped_up = top_up_confirmed(result, bulk)
        db.session.commit()
        states = state_counts()
        if db.engine.dialect.name == "postgresql":
            # As autovacuum would shortly after the set-up's 2,000 households and 7,000 audit
            # entries: without statistics the first minutes are planned blind.
            db.session.execute(text("ANALYZE"))
            db.session.commit()
        query = "SELECT sqlite_version()" if db.engine.dialect.name == "sqlite" else "SHOW server_version"
        version = db.session.scalar(text(query))
        db.session.remove()
        db.engine.dispose()
    return Setup(version, states, time.perf_counter() - started, topped_up)


def top_up_confirmed(result, bulk: int) -> int:
    """Bench-only: have the village leaders confirm submitted households until at least
    `bulk` wait for the verifier. With the demo's mix (8 % confirmed) it is needed only below
    about 1,300 households."""
    from app.demo import township as demo
    from app.domain import workflow
    from app.demo.workflow import squiggle
    from app.models import Household

    missing = bulk - state_counts().get("confirmed", 0)
    if missing <= 0:
        return 0
    leaders = demo.village_leaders(result.township, result.logins)
    submitted = db.session.scalars(select(Household).where(Household.state == "submitted")
                                   .order_by(Household.created_at, Household.card_no).limit(missing)).all()
    for i, h in enumerate(submitted):
        leader = leaders[h.village.code]
        workflow.confirm(leader, h.id, version_number=h.current_number,
                         strokes=squiggle(leader.username, 10_000 + i))
    if len(submitted) < missing:
        raise SystemExit(f"only {bulk - missing + len(submitted)} households can be confirmed; "
                         f"ask for more --households or a smaller --bulk")
    return len(submitted)


def state_counts() -> dict[str, int]:
    from app.models import Household

    return dict(db.session.execute(select(Household.state, func.count()).group_by(Household.state)).all())


# ------------------------------------------------------------------ the server

class Client(harness.Client):
    def page(self, method: str, path: str, body: list[tuple[str, str]] | None = None) -> tuple[int, str]:
        status, _, content = self.request(method, path, body)
        return status, content.decode("utf-8", "replace")


# ------------------------------------------------------------------ the queue page

@dataclass
class Phase:
    name: str
    clients: int
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average before and after
    page_bytes: int = 0

    def pct(self, p: int) -> float:
        if len(self.latencies) < 2:
            return float("nan")
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[p - 1] * 1000

    @property
    def max_ms(self) -> float:
        return max(self.latencies) * 1000 if self.latencies else float("nan")

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def over(self, seconds: float) -> int:
        return sum(1 for t in self.latencies if t >= seconds)


def queue_phase(name: str, clients: list[Client], count: int, seconds: float) -> Phase:
    """The clients GET the queue page together until `count` requests (in all) or `seconds`
    have passed; each client's first WARMUP_PER_CLIENT requests are not counted."""
    phase = Phase(name, len(clients))
    lock = threading.Lock()
    done = [0]
    clock = {"began": 0.0, "stop_at": 0.0}

    def go() -> None:  # run by the barrier once everyone is warm
        clock["began"] = time.perf_counter()
        clock["stop_at"] = clock["began"] + seconds

    start = threading.Barrier(len(clients), action=go)

    def work(client: Client) -> None:
        for _ in range(WARMUP_PER_CLIENT):
            client.page("GET", QUEUE)
        start.wait()
        while time.perf_counter() < clock["stop_at"]:
            with lock:
                if done[0] >= count:
                    return
                done[0] += 1
            t0 = time.perf_counter()
            status, page = client.page("GET", QUEUE)
            elapsed = time.perf_counter() - t0
            with lock:
                if status == 200 and 'data-testid="queue-count"' in page:
                    phase.latencies.append(elapsed)
                    phase.page_bytes = len(page.encode())
                else:
                    phase.failures.append(f"HTTP {status} {page[:200]!r}")

    threads = [threading.Thread(target=work, args=(c,)) for c in clients]
    load_before = os.getloadavg()[0]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    phase.seconds = time.perf_counter() - clock["began"]
    phase.load = (load_before, os.getloadavg()[0])
    return phase


def statements_per_page(uri: str) -> int:
    """SQL statements of one queue page (after a first one), in this process with the test client."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    app = create_app(app_config(uri))
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    client.post("/login", data={"username": VERIFIER, "password": PASSWORD,
                                "csrf_token": CSRF_RE.search(page).group(1)})
    assert client.get(QUEUE).status_code == 200
    count = [0]

    def counted(*_args) -> None:
        count[0] += 1

    event.listen(Engine, "before_cursor_execute", counted)
    try:
        assert client.get(QUEUE).status_code == 200
    finally:
        event.remove(Engine, "before_cursor_execute", counted)
    with app.app_context():
        db.engine.dispose()
    return count[0]


# ------------------------------------------------------------------ the bulk verify

@dataclass
class Bulk:
    items: int
    seconds: float
    status: int
    summary: str
    load: tuple[float, float]
    check: str = ""
    ok: bool = False


def bulk_verify(client: Client, bulk: int) -> Bulk:
    """Tick `bulk` households on the queue's pages, as the browser shows them, and verify them
    with one signature in one POST."""
    from app.demo.workflow import squiggle

    items: list[str] = []
    token = ""
    page_no = 1
    while len(items) < bulk:
        status, page = client.page("GET", f"{QUEUE}?page={page_no}")
        found = ITEM_RE.findall(page)
        if status != 200 or not found:
            raise RuntimeError(f"the queue has only {len(items)} households to tick "
                               f"(page {page_no}: HTTP {status})")
        token = CSRF_RE.search(page).group(1)
        items += [i for i in found if i not in items]
        page_no += 1
    body = [("csrf_token", token), ("strokes", json.dumps(squiggle(VERIFIER, 99_999)))]
    body += [("items", i) for i in items[:bulk]]
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    status, page = client.page("POST", "/review/verify", body)
    seconds = time.perf_counter() - t0
    match = re.search(r'data-testid="summary">([^<]*)<', page)
    summary = unescape(match.group(1)) if match else page[:200]
    return Bulk(bulk, seconds, status, summary, (load_before, os.getloadavg()[0]))


def check_bulk(uri: str, bulk: Bulk, before: dict[str, int], marks: dict[str, int]) -> None:
    """The database after the bulk verify: one event, signature and audit entry per household."""
    from app.domain.audit import verify_chain
    from app.models import AuditEntry, Signature, User, WorkflowEvent

    app = create_app(app_config(uri))
    with app.app_context():
        verifier = db.session.scalar(select(User).where(User.username == VERIFIER))
        events = db.session.scalars(select(WorkflowEvent).where(WorkflowEvent.id > marks["event"])).all()
        signatures = db.session.scalars(select(Signature).where(Signature.id > marks["signature"])).all()
        audits = db.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.id > marks["audit"], AuditEntry.action == "household.verify"))
        after = state_counts()
        chain = verify_chain()
        db.session.remove()
        db.engine.dispose()
    verify_events = [e for e in events if e.action == "verify" and e.actor_id == verifier.id]
    signed = {e.signature_id for e in verify_events}
    ok = (len(events) == len(verify_events) == bulk.items and len(signatures) == bulk.items
          and all(s.role == "verifier" and s.signer_id == verifier.id for s in signatures)
          and signed == {s.id for s in signatures} and audits == bulk.items
          and after.get("verified", 0) - before.get("verified", 0) == bulk.items
          and before.get("confirmed", 0) - after.get("confirmed", 0) == bulk.items and chain.ok)
    bulk.ok = ok
    bulk.check = (f"{'ok' if ok else 'MISMATCH'}: {len(verify_events)} new verify events, "
                  f"{len(signatures)} new verifier signatures, {audits} household.verify audit entries; "
                  f"confirmed "
                  f"{before.get('confirmed', 0)} -> {after.get('confirmed', 0)}, verified "
                  f"{before.get('verified', 0)} -> {after.get('verified', 0)}; audit chain "
                  f"{'intact' if chain.ok else 'BROKEN'} ({chain.checked} entries)")


def high_water_marks(uri: str) -> dict[str, int]:
    from app.models import AuditEntry, Signature, WorkflowEvent

    app = create_app(app_config(uri))
    with app.app_context():
        marks = {name: db.session.scalar(select(func.coalesce(func.max(model.id), 0)))
                 for name, model in (("event", WorkflowEvent), ("signature", Signature),
                                     ("audit", AuditEntry))}
        db.session.remove()
        db.engine.dispose()
    return marks


# ------------------------------------------------------------------ one database

@dataclass
class Result:
    backend: str
    setup: Setup
    statements: int
    sequential: Phase
    concurrent: Phase
    bulk: Bulk


def run(name: str, uri: str, args) -> Result:
    print(f"\n{name}: setting up the demo township with {args.households} households ...", flush=True)
    setup = prepare(uri, args.households, args.bulk)
    print(f"{name} {setup.version}: set up in {setup.seconds:.0f} s; households by state: "
          + ", ".join(f"{k} {v}" for k, v in sorted(setup.states.items()))
          + (f" ({setup.topped_up} confirmed by the bench's top-up)" if setup.topped_up else ""), flush=True)
    statements = statements_per_page(uri)
    print(f"  one queue page sends {statements} SQL statements", flush=True)
    with tempfile.TemporaryDirectory() as instance:
        server = Server(uri, Path(instance), args.workers, args=("--timeout", "120"))
        try:
            clients = [Client(server.port, PASSWORD, timeout=120) for _ in range(max(1, args.clients))]
            for c in clients:
                c.login(VERIFIER)
            sequential = queue_phase("sequential", clients[:1], args.requests, args.seconds)
            print(describe(sequential), flush=True)
            concurrent = queue_phase("concurrent", clients, args.requests, args.seconds)
            print(describe(concurrent), flush=True)
            marks = high_water_marks(uri)
            bulk = bulk_verify(clients[0], args.bulk)
        finally:
            server.stop()
    check_bulk(uri, bulk, setup.states, marks)
    print(f"  bulk verify of {bulk.items}: {bulk.seconds:.2f} s, HTTP {bulk.status}, “{bulk.summary}”, "
          f"load {bulk.load[0]:.1f}->{bulk.load[1]:.1f}\n  {bulk.check}", flush=True)
    return Result(name, setup, statements, sequential, concurrent, bulk)


def describe(p: Phase) -> str:
    return (f"  queue page, {p.name} ({p.clients} client{'s' if p.clients > 1 else ''}): "
            f"{len(p.latencies)} in {p.seconds:.1f} s ({p.rate:.1f}/s), "
            f"p50 {p.pct(50):.1f} ms, p95 {p.pct(95):.1f} ms, "
            f"max {p.max_ms:.1f} ms, {p.over(0.25)} over 250 ms, {p.over(1)} over 1 s, "
            f"{p.page_bytes / 1024:.0f} KiB, load {p.load[0]:.1f}->{p.load[1]:.1f}"
            + (f"  FAILURES {len(p.failures)}: {p.failures[0]}" if p.failures else ""))


def write_markdown(results: list[Result], header: str, load: tuple[float, float]) -> None:
    """Add this run at the end of the bench's section of docs/PERFORMANCE.md (made if missing),
    so that the runs of other benches, further down the file, stay where they are."""
    command = "bench/review.py " + " ".join(sys.argv[1:])
    n = results[0].concurrent.clients
    rows = [f"### Run of {time.strftime('%Y-%m-%d %H:%M')}", "", header + ".",
            f"Load average {load[0]:.1f} before the run, {load[1]:.1f} after.", "",
            f"    .venv/bin/python {command.strip()}", "",
            f"| database | households (confirmed) | queue p50 | queue p95 | queue max | {n} clients p50 | "
            f"{n} clients p95 | {n} clients max | {n} clients ≥ 1 s | pages/s ({n} clients) | SQL a page "
            "| bulk verify | load average |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        s, c, b = r.sequential, r.concurrent, r.bulk
        loads = s.load + c.load + b.load
        rows.append(f"| {r.backend} {r.setup.version} | {sum(r.setup.states.values())} "
                    f"({r.setup.states.get('confirmed', 0)}) | {s.pct(50):.0f} ms | {s.pct(95):.0f} ms | "
                    f"{s.max_ms:.0f} ms | {c.pct(50):.0f} ms | {c.pct(95):.0f} ms | {c.max_ms:.0f} ms | "
                    f"{c.over(1)} of {len(c.latencies)} | {c.rate:.1f} | {r.statements} | "
                    f"{b.items} in {b.seconds:.2f} s{'' if b.ok else ' (CHECK FAILED)'} | "
                    f"{min(loads):.1f}-{max(loads):.1f} |")
    append_to_section(SECTION, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--households", type=int, default=2000, help="demo households in the township")
    parser.add_argument("--requests", type=int, default=200, help="queue pages to time in each phase")
    parser.add_argument("--clients", type=int, default=4, help="client threads of the concurrent phase")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--bulk", type=int, default=100, help="households verified in the one bulk POST")
    parser.add_argument("--seconds", type=float, default=60, help="time limit of each queue phase")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--no-append", action="store_true",
                        help="do not write the figures to docs/PERFORMANCE.md")
    args = parser.parse_args()

    with open("/proc/cpuinfo") as f:
        cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")),
                   platform.processor())
    header = (f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, gunicorn sync workers "
              f"{args.workers}, {args.clients} concurrent clients, {args.requests} queue pages a phase, "
              f"bulk verify of {args.bulk}")
    load_before = os.getloadavg()[0]
    print(f"{time.strftime('%Y-%m-%d %H:%M')}  {header}; load average {load_before:.1f}")

    results: list[Result] = []
    for backend, uri in scratch_databases("bench_review", skip_sqlite=args.skip_sqlite,
                                          skip_postgres=args.skip_postgres):
        results.append(run(backend, uri, args))
    load_after = os.getloadavg()[0]
    print(f"\nload average {load_before:.1f} before, {load_after:.1f} after")
    if results and not args.no_append:
        write_markdown(results, header, (load_before, load_after))
        print(f"Written to {PERFORMANCE_MD.relative_to(ROOT)}")
    if any(not r.bulk.ok or r.sequential.failures or r.concurrent.failures for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
