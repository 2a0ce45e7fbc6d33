"""Bench: saving 5-member households through the HTTP layer, on SQLite and PostgreSQL (not a test).

    .venv/bin/python bench/submit.py [--households 1500] [--seconds 60] [--workers 4] [--clients 6]
        [--one-village] [--skip-sqlite] [--skip-postgres] [--profile DIR] [--no-append]
    .venv/bin/python bench/submit.py --pieces 300     where the time of one save goes, in-process

For each database, in a fresh, migrated database (SQLite: a file in a temporary folder;
PostgreSQL: a database bench_submit_<pid> created on DOORSTEP_TEST_PG, default
postgresql://root@127.0.0.1:5432/test, dropped afterwards) holding the demo township and its
users (`create_demo(households=0)`):
1. starts gunicorn (sync workers) on 127.0.0.1 at a free port, serving `bench_app()` below:
   the real application from create_app(), plus a bench-only blueprint with the floor route;
2. logs each client thread in as a village's demo collector through the real login form
   (CSRF token read from the page) and reads a CSRF token from the form page;
3. the floor: POST /bench/floor with the same form body as a household save; the route
   inserts one row (the posted form as JSON, into a bench-only table) and one audit entry,
   and commits. It runs behind the same login check, session lookup and CSRF check as
   every request, so the ratio is the cost of the registration work itself (parse the
   form, field and household checks, version, 5 persons, audit, redirect);
4. the households: POST /collect/households/new?unit_id=<village> with the real form fields
   (household-*, members-<i>-*, submission_id, csrf_token) of 5-member households made by
   app.demo.households (different people each time); a save answers 302;
5. checks the database afterwards: households, versions and persons as posted, audit chain.
Each phase is bounded by a count and a time limit; the first requests of each worker are a
warm-up and are not counted. Figures are printed and appended to docs/PERFORMANCE.md.

A save answers 302 with a flash ("saved on card 0042") in the session cookie, which a browser
shows and so removes on the page it is sent to. The bench does not fetch that page, so it
ignores the cookie a post sets and keeps the one it had, as the browser has it after the
page; kept, the unshown flashes would pile up, and every request would carry, check and
re-sign a cookie of hundreds of messages (before 2026-11-24 they did, see PERFORMANCE.md).

Client threads keep one HTTPConnection each; gunicorn's sync workers close the connection
after every response (they do not do keep-alive), so http.client reconnects: a loopback
connect, the same for both routes.

Workers as the app is run: 4 sync workers on PostgreSQL (README's production command), 2 on
SQLite (scripts/demo.sh). On PostgreSQL a save waits on the database for a good part of its
time (about 40 %, see --pieces), so 2 workers leave the cores idle while they wait. On SQLite
saves queue for the one write lock, and SQLite's busy handler polls with sleeps of up to
100 ms: more workers than cores only add sleepers (measured: 154/s with 2, 137/s with 3,
142/s with 4). Each client thread works in its own village (6 villages, 6 clients): collectors
of one village racing for its next card number is a separate question (--one-village).

CPU a request: for each phase, the CPU time used by gunicorn and its workers, by PostgreSQL's
processes and by this process's client threads (/proc, Linux), divided by the requests. It
says how far the cores allow a rate to go (2 cores fully used: 2000 / CPU ms a request), and
what a save costs beyond the floor, in figures that vary less from machine to machine than
requests a second do.

--profile DIR: cProfile in every worker, on the CPU clock (time.process_time): a wall clock
would charge the waits for the database, and for a core, to whatever ran at the time.

--pieces N: no gunicorn, no threads: N saves one after another through the Flask test
client in this process, with each piece of the save (session check, form parsing, the
domain's steps, commit, flash) timed and its SQL statements counted.

For a change of a few percent, compare instruction counts instead (bench/instructions.py):
on these shared machines requests a second and CPU times moved by a factor of two within
minutes.
"""
from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Column, Integer, MetaData, Table, Text, func, insert, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from bench import _harness as harness  # noqa: E402
from bench._harness import CSRF_RE, Server, scratch_databases  # noqa: E402
from bench._report import PERFORMANCE_MD, append_to_section  # noqa: E402

PASSWORD = "bench-submit-password"
MEMBERS = 5
# gunicorn sync workers as the app is run (see the docstring).
DEFAULT_WORKERS = {"sqlite": 2, "postgresql": 4}
WARMUP_PER_CLIENT = 5
SECTION = "## Household saves (`bench/submit.py`)"

# The floor's table: bench-only, created in the bench database, never part of the app's models.
FLOOR_METADATA = MetaData()
FLOOR_TABLE = Table("bench_floor", FLOOR_METADATA, Column("id", Integer, primary_key=True),
                    Column("payload", Text, nullable=False))


# ------------------------------------------------------------------ the served application

def bench_app():
    """gunicorn entry: the real app, plus the floor route (and, while create_app does not
    register it yet, the collect blueprint; the bench says so when it starts)."""
    from flask import Blueprint, request
    from flask_login import current_user

    from app.domain import audit

    app = create_app()  # settings from the environment, as in production
    if "collect" not in app.blueprints:
        from app.web import collect
        app.register_blueprint(collect.bp)
        app.config["BENCH_REGISTERED_COLLECT"] = True

    floor = Blueprint("bench_floor", __name__)

    @floor.route("/bench/floor", methods=["POST"])
    def floor_save():
        db.session.execute(insert(FLOOR_TABLE).values(payload=json.dumps(request.form.to_dict(),
                                                                         ensure_ascii=False)))
        audit.record("bench.floor", actor=current_user._get_current_object(), object_type="bench",
                     details={"fields": len(request.form)})
        db.session.commit()
        return "", 204

    @floor.route("/bench/info")
    def info():
        return {"registered_collect": bool(app.config.get("BENCH_REGISTERED_COLLECT")), "pid": os.getpid()}

    app.register_blueprint(floor)
    if os.environ.get("BENCH_PROFILE_DIR"):
        app.wsgi_app = _Profiled(app.wsgi_app, Path(os.environ["BENCH_PROFILE_DIR"]))
    return app


class _Profiled:
    """cProfile around every request of this worker; the stats are written every 100 requests
    (a worker killed at the end cannot be relied on to write them at exit)."""

    def __init__(self, wsgi_app, folder: Path):
        self.wsgi_app, self.folder = wsgi_app, folder
        self.profile = cProfile.Profile(time.process_time)  # CPU time: waits on the database are not work
        self.requests = 0

    def __call__(self, environ, start_response):
        self.profile.enable()
        try:
            return list(self.wsgi_app(environ, start_response))
        finally:
            self.profile.disable()
            self.requests += 1
            if self.requests % 100 == 0:
                self.profile.dump_stats(self.folder / f"worker-{os.getpid()}.prof")


# ------------------------------------------------------------------ set-up

def app_config(uri: str) -> dict:
    """For set-up and checks in this process (the server reads its settings from the environment)."""
    from app.config import _int

    return {"TESTING": True, "SQLALCHEMY_DATABASE_URI": uri, "SECRET_KEY": uuid.uuid4().hex,
            "BASE_URL": "http://bench", "BABEL_DEFAULT_LOCALE": "zh_CN",
            "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
            # The production password hashing (app/config.py), so that logging in costs what it does.
            "ARGON2_TIME_COST": _int("ARGON2_TIME_COST", 3),
            "ARGON2_MEMORY_COST": _int("ARGON2_MEMORY_COST", 65536),
            "ARGON2_PARALLELISM": _int("ARGON2_PARALLELISM", 2)}


@dataclass
class Village:
    id: int
    code: str
    username: str
    groups: list[str]


def prepare(uri: str) -> tuple[list[Village], str]:
    """Migrate, add the demo township and users and the floor table; the database's version."""
    from flask_babel import force_locale
    from flask_migrate import upgrade

    from app.demo import township as demo

    app = create_app(app_config(uri))
    with app.app_context():
        upgrade()
        FLOOR_METADATA.create_all(db.engine)
        db.engine.dispose()  # alembic's connection would keep SQLite's write lock
    with app.app_context(), force_locale("zh_CN"):
        result = demo.create_demo(password=PASSWORD, households=0)
        db.session.commit()
        t = result.township
        collectors = {login.unit.code: login.username for login in result.logins
                      if login.role.value == "collector"}
        villages = [Village(v.id, v.code, collectors[v.code], [g.code for g in t.groups[v.code]])
                    for v in t.villages]
        query = "SELECT sqlite_version()" if db.engine.dialect.name == "sqlite" else "SHOW server_version"
        version = db.session.scalar(text(query))
        db.session.remove()
        db.engine.dispose()
    return villages, version


def households_to_post(needs: dict[str, int], villages: list[Village]) -> dict[str, list[dict]]:
    """At least needs[village code] 5-member households without deliberate problems for each
    village, every one with other people (new person ids; an ID number may repeat across
    seeds now and then, which gives a warning, as it would in life)."""
    from app.demo.households import generate_households

    today = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()  # the server's "today" (registration.today)
    groups = {v.code: v.groups for v in villages if v.code in needs}
    wanted: dict[str, list[dict]] = {code: [] for code in needs}
    seed = 0
    while any(len(wanted[code]) < n for code, n in needs.items()):
        for h in generate_households(groups, 3000, 1000 + seed, today):
            if len(h.data["members"]) == MEMBERS and h.problem is None:
                wanted[h.unit_code[:12]].append(h.data)
        seed += 1
    return wanted


def form_body(data: dict, csrf_token: str) -> dict[str, str]:
    fields = {f"household-{k}": str(v) for k, v in data["household"].items()}
    for i, member in enumerate(data["members"]):
        fields.update({f"members-{i}-{k}": str(v) for k, v in member.items()})
    fields["submission_id"] = str(uuid.uuid4())
    fields["csrf_token"] = csrf_token
    return fields


# ------------------------------------------------------------------ the server

class Client(harness.Client):
    def __init__(self, port: int):
        super().__init__(port, PASSWORD)


@dataclass
class Phase:
    name: str
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    warmup_ok: int = 0  # warm-up posts answered as expected (not timed)
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average before and after: others at work?
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds used in the phase, by whom

    def cpu_ms(self, who: str | None = None) -> float:
        """CPU milliseconds a request (of `who`, or all together)."""
        used = sum(self.cpu.values()) if who is None else self.cpu.get(who, 0.0)
        return used / len(self.latencies) * 1000 if self.latencies else float("nan")

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def pct(self, p: int) -> float:
        if len(self.latencies) < 2:
            return float("nan")
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[p - 1] * 1000


def run_phase(name: str, server: Server, clients: list[tuple[Client, Village, str]],
              bodies: dict[str, list[dict]], path_of, expect: int, count: int, seconds: float,
              warmup: int) -> Phase:
    """Every client posts its village's bodies in turn until `count` posts (together) or
    `seconds` have passed; the first `warmup` posts of each client are not counted."""
    phase = Phase(name)
    lock = threading.Lock()
    done = [0]
    clock = {"began": 0.0, "stop_at": 0.0}

    def go() -> None:  # run by the barrier once everyone is warm, before anyone is released
        clock["cpu"] = harness.cpu_seconds(server.process.pid)
        clock["began"] = time.perf_counter()
        clock["stop_at"] = clock["began"] + seconds

    start = threading.Barrier(len(clients), action=go)

    def work(client: Client, village: Village, token: str) -> None:
        mine = bodies[village.code]
        for i in range(warmup):
            status, _, _ = client.request("POST", path_of(village), form_body(mine.pop(), token),
                                          keep_cookies=False)
            with lock:
                phase.warmup_ok += status == expect
        start.wait()
        while time.perf_counter() < clock["stop_at"]:
            with lock:
                if done[0] >= count or not mine:
                    return
                done[0] += 1
            body = form_body(mine.pop(), token)
            t0 = time.perf_counter()
            status, headers, content = client.request("POST", path_of(village), body, keep_cookies=False)
            elapsed = time.perf_counter() - t0
            with lock:
                if status == expect:
                    phase.latencies.append(elapsed)
                else:
                    phase.failures.append(f"HTTP {status} {content[:200]!r}")

    threads = [threading.Thread(target=work, args=c) for c in clients]
    load_before = os.getloadavg()[0]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    phase.seconds = time.perf_counter() - clock["began"]
    after = harness.cpu_seconds(server.process.pid)
    phase.cpu = {who: after[who] - clock["cpu"][who] for who in after}
    phase.load = (load_before, os.getloadavg()[0])
    return phase


# ------------------------------------------------------------------ one database

@dataclass
class Result:
    backend: str
    version: str
    floor: Phase
    save: Phase
    registered_collect: bool
    check: str
    workers: int


def run(name: str, uri: str, args) -> Result:
    villages, version = prepare(uri)
    workers = args.workers or DEFAULT_WORKERS[name]
    print(f"\n{name} {version}: {workers} gunicorn sync workers, {args.clients} client threads")
    chosen = [villages[0]] * args.clients if args.one_village else \
        [villages[i % len(villages)] for i in range(args.clients)]
    # Each client may post all the households of the phase, if the others are slow.
    needs = {v.code: sum(1 for c in chosen if c is v) * WARMUP_PER_CLIENT + args.households + 1
             for v in chosen}
    bodies = households_to_post(needs, villages)
    floor_bodies = {code: list(items) for code, items in bodies.items()}
    with tempfile.TemporaryDirectory() as instance:
        server = Server(uri, Path(instance), workers, app="bench.submit:bench_app()", args=("--backlog", "64"),
                        env={"BENCH_PROFILE_DIR": str(args.profile) if args.profile else ""})
        try:
            sessions = []
            for village in chosen:
                client = Client(server.port)
                client.login(village.username)
                token = client.csrf(f"/collect/households/new?unit_id={village.id}")
                sessions.append((client, village, token))
            status, _, info = sessions[0][0].request("GET", "/bench/info")
            registered = json.loads(info)["registered_collect"] if status == 200 else False
            floor = run_phase("floor", server, sessions, floor_bodies, lambda v: "/bench/floor", 204,
                              args.households, args.seconds, WARMUP_PER_CLIENT)
            save = run_phase("save", server, sessions, bodies,
                             lambda v: f"/collect/households/new?unit_id={v.id}", 302,
                             args.households, args.seconds, WARMUP_PER_CLIENT)
        finally:
            server.stop()
            if args.profile:
                shutil.copy(Path(instance) / "gunicorn.log", args.profile / f"gunicorn-{name}.log")
    check = verify(uri, len(save.latencies) + save.warmup_ok)
    return Result(name, version, floor, save, registered, check, workers)


def verify(uri: str, posted: int) -> str:
    """What the database holds after the run, and whether it agrees with what was posted."""
    from app.domain.audit import verify_chain
    from app.models import Household, HouseholdVersion, Person

    app = create_app(app_config(uri))
    with app.app_context():
        counts = [db.session.scalar(select(func.count()).select_from(m))
                  for m in (Household, HouseholdVersion, Person)]
        complete = db.session.scalar(select(func.count()).select_from(Household).where(Household.complete))
        chain = verify_chain()
        db.session.remove()
        db.engine.dispose()
    ok = counts == [posted, posted, MEMBERS * posted] and chain.ok
    return (f"{'ok' if ok else 'MISMATCH'}: {counts[0]} households ({complete} complete), "
            f"{counts[1]} versions, {counts[2]} persons for {posted} saves answered 302; audit chain "
            f"{'intact' if chain.ok else 'BROKEN'} ({chain.checked} entries)")


def report(r: Result) -> list[str]:
    lines = []
    for phase in (r.floor, r.save):
        lines.append(f"  {phase.name:5}: {len(phase.latencies):5} in {phase.seconds:5.1f} s  "
                     f"{phase.rate:6.1f}/s  "
                     f"p50 {phase.pct(50):6.1f} ms  p95 {phase.pct(95):6.1f} ms  "
                     f"load {phase.load[0]:.1f}->{phase.load[1]:.1f}"
                     + (f"  FAILURES {len(phase.failures)}: {phase.failures[0]}" if phase.failures else ""))
    ratio = r.save.rate / r.floor.rate if r.floor.rate else float("nan")
    lines.append(f"  households/s = {ratio:.2f} x floor;  {r.check}")
    if r.save.cpu:
        cores = os.cpu_count() or 1
        for phase in (r.floor, r.save):
            lines.append(f"  CPU a {phase.name:5}: {phase.cpu_ms():5.2f} ms (app {phase.cpu_ms('app'):.2f}, "
                         f"database {phase.cpu_ms('database'):.2f}, clients {phase.cpu_ms('clients'):.2f}); "
                         f"{cores} cores fully used: at most {cores * 1000 / phase.cpu_ms():.0f}/s")
        lines.append(f"  a save costs {r.save.cpu_ms() - r.floor.cpu_ms():.2f} ms of CPU more than the floor")
    if r.registered_collect:
        lines.append("  (create_app() does not register the collect blueprint yet: "
                     "bench_app() registered it)")
    return lines


def append_markdown(results: list[Result], args, header: str) -> None:
    command = "bench/submit.py " + " ".join(sys.argv[1:])
    rows = ["", f"### Run of {time.strftime('%Y-%m-%d %H:%M')}", "", header, "",
            f"    .venv/bin/python {command.strip()}", "",
            "| database | workers | households/s | p50 | p95 | floor/s | floor p50 | floor p95 | households/floor "
            "| saves | load average | CPU a save (app + database + clients) | CPU a floor request |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        s, f = r.save, r.floor
        rows.append(f"| {r.backend} {r.version} | {r.workers} | {s.rate:.0f} | {s.pct(50):.1f} ms | {s.pct(95):.1f} ms | "
                    f"{f.rate:.0f} | {f.pct(50):.1f} ms | {f.pct(95):.1f} ms | {s.rate / f.rate:.2f} | "
                    f"{len(s.latencies)}{' (' + str(len(s.failures)) + ' failed)' if s.failures else ''} | "
                    f"{min(f.load + s.load):.1f}-{max(f.load + s.load):.1f} | "
                    f"{s.cpu_ms():.1f} ms ({s.cpu_ms('app'):.1f} + {s.cpu_ms('database'):.1f} + "
                    f"{s.cpu_ms('clients'):.1f}) | {f.cpu_ms():.1f} ms |")
    append_to_section(SECTION, rows)


# ------------------------------------------------------------------ where the time goes

# (label, module, attribute, depth): the pieces of one save, timed where they are looked up.
PIECES = (
    ("login check: load_session_user", "app.domain.auth", "load_session_user", 0),
    ("form parse (werkzeug + parse_form)", "app.web.collect", "parse_form", 0),
    ("edit_units (the route's scope check)", "app.domain.registration", "edit_units", 0),
    ("registration.new_household", "app.domain.registration", "new_household", 0),
    ("_replayed (only when a write is refused)", "app.domain.registration", "_replayed", 1),
    ("_checked", "app.domain.registration", "_checked", 1),
    ("save checks (quality.save_checks)", "app.domain.registration", "save_checks", 2),
    ("field checks (collection_forms.check)", "quality.run", "check", 3),
    ("household rules", "quality.household", "check_household_rules", 3),
    ("_elsewhere (person ids and ID numbers of other households: query)", "app.domain.registration",
     "_elsewhere", 2),
    ("_group_for (query)", "app.domain.registration", "_group_for", 1),
    ("next_card_no (query)", "app.domain.registration", "next_card_no", 1),
    ("_add_version", "app.domain.registration", "_add_version", 1),
    ("_cached_rows (household columns, 5 person rows with pinyin)", "app.domain.registration", "_cached_rows",
     2),
    ("audit.record", "app.domain.audit", "record", 2),
    ("quality_runs.recheck_saved (its findings and counts, issue 17)", "app.domain.quality_runs",
     "recheck_saved", 2),
    ("commit", "flask_sqlalchemy.session", "Session.commit", 0),
    ("_saved_message (before the commit)", "app.web.collect", "_saved_message", 0),
)


def pieces(name: str, uri: str, count: int) -> list[str]:
    """One request at a time, in this process (no gunicorn, no client threads): the time of
    each piece of a save and the SQL statements it sends. Pieces nest (by indentation)."""
    import importlib

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    villages, version = prepare(uri)
    village = villages[0]
    bodies = households_to_post({village.code: count + 10}, villages)[village.code]
    spent: dict[str, float] = {label: 0.0 for label, *_ in PIECES}
    statements: dict[str, int] = {label: 0 for label, *_ in PIECES}
    stack: list[str] = []
    originals = []

    def timed(label, fn):
        def wrapper(*a, **kw):
            stack.append(label)
            t0 = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                spent[label] += time.perf_counter() - t0
                stack.pop()
        return wrapper

    for label, module, attr, _ in PIECES:
        owner = importlib.import_module(module)
        if "." in attr:
            cls_name, attr = attr.split(".")
            owner = getattr(owner, cls_name)
        originals.append((owner, attr, getattr(owner, attr)))
        setattr(owner, attr, timed(label, getattr(owner, attr)))
    total_statements = [0]

    with tempfile.TemporaryDirectory() as instance:
        os.environ.update(DATABASE_URL=uri, DOORSTEP_INSTANCE=instance)
        try:
            app = bench_app()

            @event.listens_for(Engine, "before_cursor_execute")
            def count_statement(*_args):
                total_statements[0] += 1
                for label in stack:
                    statements[label] += 1

            client = app.test_client()
            page = client.get("/login").get_data(as_text=True)
            client.post("/login", data={"username": village.username, "password": PASSWORD,
                                        "csrf_token": CSRF_RE.search(page).group(1)})
            token = CSRF_RE.search(client.get(f"/collect/households/new?unit_id={village.id}")
                                   .get_data(as_text=True)).group(1)
            path = f"/collect/households/new?unit_id={village.id}"
            session = client.get_cookie("session")

            def post(body):  # the session cookie as before, like the HTTP clients (see the top)
                response = client.post(path, data=form_body(body, token))
                client.set_cookie("session", session.value, domain=session.domain, path=session.path)
                return response

            for body in bodies[:10]:  # warm-up
                post(body)
            for label in spent:
                spent[label], statements[label] = 0.0, 0
            total_statements[0] = 0
            t0 = time.perf_counter()
            for body in bodies[10:10 + count]:
                response = post(body)
                assert response.status_code == 302, response.status_code
            wall = time.perf_counter() - t0
            event.remove(Engine, "before_cursor_execute", count_statement)
        finally:
            for owner, attr, fn in originals:
                setattr(owner, attr, fn)
            os.environ.pop("DATABASE_URL", None)
            os.environ.pop("DOORSTEP_INSTANCE", None)
    lines = [f"{name} {version}: {count} saves one at a time in-process: {wall / count * 1000:.1f} ms a save "
             f"({count / wall:.0f}/s on one core), {total_statements[0] / count:.1f} SQL statements a save",
             "", "| piece | ms a save | statements |", "|---|---:|---:|"]
    for label, _, _, depth in PIECES:
        indent = "&nbsp;&nbsp;" * depth if depth else ""
        lines.append(f"| {indent}{label} | {spent[label] / count * 1000:.2f} "
                     f"| {statements[label] / count:.1f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--households", type=int, default=1500,
                        help="saves to time per database (and as many floor posts)")
    parser.add_argument("--seconds", type=float, default=60, help="time limit of each phase")
    parser.add_argument("--workers", type=int,
                        help="gunicorn sync workers (default: 2 on SQLite, 4 on PostgreSQL)")
    parser.add_argument("--clients", type=int, default=6, help="client threads (one connection each)")
    parser.add_argument("--one-village", action="store_true",
                        help="all clients in one village (collectors racing for its card numbers)")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--profile", type=Path, help="cProfile every worker; .prof files go to this folder")
    parser.add_argument("--no-append", action="store_true",
                        help="do not append the figures to docs/PERFORMANCE.md")
    parser.add_argument("--pieces", type=int, metavar="N",
                        help="instead: N saves one at a time in-process, timing each piece of a save")
    args = parser.parse_args()
    if args.pieces:
        return main_pieces(args)
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)

    with open("/proc/cpuinfo") as f:
        cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")),
                   platform.processor())
    header = (f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, gunicorn sync workers "
              f"{args.workers or '2 (SQLite) / 4 (PostgreSQL)'}, client threads {args.clients}"
              f"{' in one village' if args.one_village else ''}, "
              f"{MEMBERS}-member households{', cProfile on' if args.profile else ''}")
    print(f"{time.strftime('%Y-%m-%d %H:%M')}  {header}")

    results: list[Result] = []
    for backend, uri in scratch_databases("bench_submit", skip_sqlite=args.skip_sqlite,
                                          skip_postgres=args.skip_postgres):
        results.append(run(backend, uri, args))
        print("\n".join(report(results[-1])))
    if results and not args.no_append:
        append_markdown(results, args, header)
        print(f"\nAppended to {PERFORMANCE_MD.relative_to(ROOT)}")


def main_pieces(args) -> None:
    load_before = os.getloadavg()[0]
    print(f"{time.strftime('%Y-%m-%d %H:%M')}  where the time of a save goes; load {load_before:.1f}")
    out: list[str] = []
    for backend, uri in scratch_databases("bench_submit", skip_sqlite=args.skip_sqlite,
                                          skip_postgres=args.skip_postgres):
        out += pieces(backend, uri, args.pieces) + [""]
    print("\n".join(out))
    if not args.no_append:
        command = "bench/submit.py " + " ".join(sys.argv[1:])
        append_to_section(SECTION, [f"### Where the time of a save goes, {time.strftime('%Y-%m-%d %H:%M')} "
                                    f"(load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after)", "",
                                    f"    .venv/bin/python {command.strip()}", ""] + out)


if __name__ == "__main__":
    main()
