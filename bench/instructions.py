"""Bench: instructions the application runs for a household save and for the floor, counted by
callgrind (not a test).

    .venv/bin/python bench/instructions.py [--requests 30] [--skip-sqlite] [--skip-postgres] [--no-append]

Why: on these shared machines the CPU time of the same code moved by a factor of two within
minutes (docs/PERFORMANCE.md), so requests a second and CPU milliseconds cannot tell a change
of 5 % from the weather. Valgrind's callgrind counts the instructions a process runs, which
repeat to about 0.5 % from run to run, whatever else the machine is doing.

What: for each database (fresh, migrated, with the demo township, as in bench/submit.py),
this script runs itself under `valgrind --tool=callgrind --instr-atstart=no`. That child
logs in through the Flask test client, builds the WSGI requests of bench/submit.py's floor
and household save (the same form bodies), sends 20 of each as a warm-up, then turns counting
on for N floor posts and N saves, each phase dumped on its own. It calls the application
directly (no gunicorn, no HTTP client, one request at a time), and counts only the
application's process: PostgreSQL's own work is not in the figure, so the statements a
request are printed beside it. Figures are printed and appended to docs/PERFORMANCE.md.
"""
from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._harness import CSRF_RE, scratch_databases  # noqa: E402
from bench._report import append_to_section  # noqa: E402

WARMUP = 20
SECTION = "## Household saves (`bench/submit.py`)"


def child(uri: str, count: int, out: Path) -> None:
    """Under callgrind: warm up, then count each phase (the parent reads the dumps)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from werkzeug.test import EnvironBuilder

    from bench import submit

    villages, _version = submit.prepare(uri)
    village = villages[0]
    bodies = submit.households_to_post({village.code: 2 * (count + WARMUP)}, villages)[village.code]
    os.environ.update(DATABASE_URL=uri, DOORSTEP_INSTANCE=tempfile.mkdtemp(prefix="bench-instructions-"))
    app = submit.bench_app()
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    client.post("/login", data={"username": village.username, "password": submit.PASSWORD,
                                "csrf_token": CSRF_RE.search(page).group(1)})
    save_path = f"/collect/households/new?unit_id={village.id}"
    token = CSRF_RE.search(client.get(save_path).get_data(as_text=True)).group(1)
    cookie = f"session={client.get_cookie('session').value}"

    def requests(path: str, some: list[dict]) -> list[tuple[dict, bytes]]:
        built = []
        for body in some:
            environ = EnvironBuilder(path=path, method="POST", data=submit.form_body(body, token),
                                     headers={"Cookie": cookie}).get_environ()
            built.append((environ, environ["wsgi.input"].read()))
        return built

    statements = [0]
    event.listen(Engine, "before_cursor_execute", lambda *_a: statements.__setitem__(0, statements[0] + 1))
    control = ["callgrind_control"]
    lines = []
    each = count + WARMUP
    for phase, path, status, some in (("floor", "/bench/floor", "204", bodies[:each]),
                                      ("save", save_path, "302", bodies[each:2 * each])):
        built = requests(path, some)
        answers: list[str] = []
        for environ, raw in built[:WARMUP]:
            b"".join(app({**environ, "wsgi.input": io.BytesIO(raw)}, lambda s, _h, _e=None: answers.append(s)))
        statements[0] = 0
        subprocess.run([*control, "-i", "on", str(os.getpid())], check=True, capture_output=True)
        for environ, raw in built[WARMUP:]:
            b"".join(app({**environ, "wsgi.input": io.BytesIO(raw)}, lambda s, _h, _e=None: answers.append(s)))
        subprocess.run([*control, "-i", "off", str(os.getpid())], check=True, capture_output=True)
        subprocess.run([*control, "--dump", phase, str(os.getpid())], check=True, capture_output=True)
        wrong = [a for a in answers if not a.startswith(status)]
        if wrong:
            raise SystemExit(f"{phase}: {len(wrong)} answers were not {status}: {wrong[0]}")
        lines.append(f"{phase} {statements[0] / count:.1f}")
    out.write_text("\n".join(lines) + "\n")


def count_instructions(uri: str, count: int) -> dict[str, tuple[float, float]]:
    """{phase: (instructions a request, statements a request)}, from a child under callgrind."""
    with tempfile.TemporaryDirectory(prefix="bench-callgrind-") as folder:
        out = Path(folder) / "statements.txt"
        subprocess.run(["valgrind", "--tool=callgrind", "--instr-atstart=no",
                        f"--callgrind-out-file={folder}/callgrind.out", sys.executable, __file__,
                        "--child", uri, "--requests", str(count), "--out", str(out)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        totals = {}
        for dump in Path(folder).glob("callgrind.out*"):
            text = dump.read_text(errors="replace")
            trigger = re.search(r"^desc: Trigger: dump (\w+)", text, re.M)
            found = re.search(r"^totals: (\d+)", text, re.M)
            if trigger and found:
                totals[trigger.group(1)] = int(found.group(1))
        statements = dict(line.split() for line in out.read_text().split("\n") if line)
    return {phase: (totals[phase] / count, float(statements[phase])) for phase in ("floor", "save")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=30, help="counted requests of each kind")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--no-append", action="store_true",
                        help="do not append the figures to docs/PERFORMANCE.md")
    parser.add_argument("--child", metavar="URI", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.requests, args.out)
    if not shutil.which("valgrind") or not shutil.which("callgrind_control"):
        raise SystemExit("bench/instructions.py needs valgrind (Debian: apt-get install valgrind)")

    started = time.strftime("%Y-%m-%d %H:%M")
    print(f"{started}  instructions of the application's process a request (callgrind), "
          f"{args.requests} requests of each kind after {WARMUP} of warm-up")
    lines = ["| database | floor: instructions | statements | save: instructions | statements "
             "| save / floor |", "|---|---:|---:|---:|---:|---:|"]
    for backend, uri in scratch_databases("bench_instructions", skip_sqlite=args.skip_sqlite,
                                          skip_postgres=args.skip_postgres):
        counted = count_instructions(uri, args.requests)
        (floor, floor_statements), (save, save_statements) = counted["floor"], counted["save"]
        print(f"{backend}: floor {floor / 1e6:.2f} M ({floor_statements:.1f} statements), "
              f"save {save / 1e6:.2f} M ({save_statements:.1f} statements), save/floor {save / floor:.2f}")
        lines.append(f"| {backend} | {floor / 1e6:.2f} M | {floor_statements:.1f} | {save / 1e6:.2f} M "
                     f"| {save_statements:.1f} | {save / floor:.2f} |")
    if not args.no_append:
        append_to_section(SECTION, [f"### Instructions a request, {started} (`bench/instructions.py`)", "",
                                    f"    .venv/bin/python bench/instructions.py {' '.join(sys.argv[1:])}".rstrip(),
                                    ""] + lines)


if __name__ == "__main__":
    main()
