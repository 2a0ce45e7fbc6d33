"""What the HTTP benches share: scratch databases, gunicorn on a free port, a browser-like client."""
from __future__ import annotations

import http.client
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import psycopg

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("DOORSTEP_TEST_PG", "postgresql://root@127.0.0.1:5432/test")
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
# One audit chain key for the run, in the environment: the servers started here and this
# process's own checks (app.domain.audit.key_ring) sign and verify with the same key.
os.environ.setdefault("AUDIT_KEYS", "1:" + secrets.token_hex(32))


def scratch_databases(prefix: str, *, skip_sqlite: bool = False,
                      skip_postgres: bool = False) -> Iterator[tuple[str, str]]:
    """(backend, empty database URI) for SQLite then PostgreSQL, each removed once the
    caller's loop moves on."""
    if not skip_sqlite:
        with tempfile.TemporaryDirectory(prefix=f"{prefix}-") as folder:
            yield "sqlite", f"sqlite:///{folder}/bench.sqlite"
    if not skip_postgres:
        name = f"{prefix}_{os.getpid()}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
            yield "postgresql", f"{base}/{name}"
        finally:
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def cpu_seconds(server_pid: int) -> dict[str, float]:
    """CPU time used so far (user + system, seconds) by the app server (the gunicorn process
    `server_pid` and its workers), by PostgreSQL (every process named postgres: the bench's
    backends and the server's own writers) and by this process (the client threads). Read
    from /proc (Linux); an empty dict elsewhere. Ticks of 10 ms: phases of seconds are needed."""
    proc = Path("/proc")
    if not proc.is_dir():
        return {}
    tick = os.sysconf("SC_CLK_TCK")
    used = {"app": 0.0, "database": 0.0}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # ended meanwhile
            continue
        name, fields = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
        pid, ppid, cpu = int(entry.name), int(fields[1]), (int(fields[11]) + int(fields[12])) / tick
        if pid == server_pid or ppid == server_pid:
            used["app"] += cpu
        elif name == "postgres":
            used["database"] += cpu
    times = os.times()
    used["clients"] = times.user + times.system
    return used


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """gunicorn (sync workers) serving `app` on 127.0.0.1 at a free port, with the database
    in the environment."""

    def __init__(self, uri: str, instance: Path, workers: int, *, app: str = "wsgi:app",
                 env: dict[str, str] | None = None, args: tuple[str, ...] = ()):
        self.port = free_port()
        environment = {**os.environ, "DATABASE_URL": uri, "DOORSTEP_INSTANCE": str(instance), **(env or {})}
        self.log = open(instance / "gunicorn.log", "w")
        self.process = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "gunicorn"), "--workers", str(workers), "--worker-class", "sync",
             "--bind", f"127.0.0.1:{self.port}", "--chdir", str(ROOT), "--log-level", "warning", *args, app],
            env=environment, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn stopped; see {self.log.name}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("gunicorn did not start within 60 s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # graceful: workers finish their request
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        # The server's log lies in the bench's scratch folder, which goes with the run: one that
        # logged anything (a 500's traceback) is kept where it can be read afterwards.
        log = Path(self.log.name)
        if log.exists() and log.stat().st_size:
            kept = Path(tempfile.gettempdir()) / f"doorstep-bench-gunicorn-{os.getpid()}-{self.port}.log"
            shutil.copyfile(log, kept)
            print(f"server log kept: {kept}", file=sys.stderr)


class Client:
    """One browser: its own connection and cookies."""

    def __init__(self, port: int, password: str, timeout: float = 60):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.cookies: dict[str, str] = {}
        self.password = password

    def request(self, method: str, path: str, body: dict[str, str] | list[tuple[str, str]] | None = None,
                *, keep_cookies: bool = True) -> tuple[int, dict, bytes]:
        """`keep_cookies=False`: ignore the cookies the answer sets (see bench/submit.py: a
        flash the bench never shows would otherwise pile up in the session cookie)."""
        headers = {"Connection": "keep-alive"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        payload = None
        if body is not None:
            payload = urlencode(body).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=payload, headers=headers)
                response = self.conn.getresponse()
                content = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # gunicorn's sync workers close the connection after every response.
                self.conn.close()
                if attempt == 2:
                    raise
        for header in (response.headers.get_all("Set-Cookie") or []) if keep_cookies else []:
            name, _, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        if response.getheader("Connection", "").lower() == "close":
            self.conn.close()
        return response.status, dict(response.headers), content

    def csrf(self, path: str) -> str:
        status, _, content = self.request("GET", path)
        match = CSRF_RE.search(content.decode())
        if status != 200 or not match:
            raise RuntimeError(f"no CSRF token on {path} (HTTP {status})")
        return match.group(1)

    def login(self, username: str) -> None:
        token = self.csrf("/login")
        status, _, _ = self.request("POST", "/login", {"username": username, "password": self.password,
                                                       "csrf_token": token})
        if status != 302:
            raise RuntimeError(f"login of {username} failed: HTTP {status}")
