"""The shell scripts' own logic: apt-get waiting for a lock (scripts/install.sh) and the
throwaway PostgreSQL cluster of scripts/test.sh (scripts/pg_throwaway.sh). Real bash runs them;
only apt-get and dpkg-query are stand-ins (the test must not install anything)."""
from __future__ import annotations

import glob
import os
import socket
import subprocess
import tempfile
import textwrap
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

ROOT = Path(__file__).resolve().parent.parent
INITDB = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))


# ------------------------------------------------------------------ install.sh: apt-get's lock

def fake_apt(tmp_path: Path, locked_updates: int) -> Path:
    """apt-get, dpkg-query, id and sleep stand-ins: apt-get's first `locked_updates` updates
    fail as apt does when another apt-get holds the lists' lock; install "installs"."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    scripts = {
        "apt-get": f"""
            echo "$*" >> {tmp_path}/apt.log
            n=$(grep -c ' update' {tmp_path}/apt.log || true)
            if [[ " $* " == *" update "* ]] && (( n <= {locked_updates} )); then
              echo "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 4242 (apt-get)" >&2
              echo "E: Unable to lock directory /var/lib/apt/lists/" >&2
              exit 100
            fi
            [[ " $* " == *" install "* ]] && touch {tmp_path}/installed
            exit 0
            """,
        "dpkg-query": f"""[[ -e {tmp_path}/installed ]] && printf 'install ok installed'; exit 0""",
        "id": """[[ "${1:-}" == -u ]] && { echo 0; exit 0; }; exec /usr/bin/id "$@" """,
        "sleep": """exec /bin/sleep 0.2""",
    }
    for name, body in scripts.items():
        path = bin_dir / name
        path.write_text("#!/usr/bin/env bash\n" + textwrap.dedent(body).strip() + "\n")
        path.chmod(0o755)
    return bin_dir


def run_install(tmp_path: Path, bin_dir: Path, wait: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "APT_LOCK_WAIT": str(wait)}
    return subprocess.run(["bash", str(ROOT / "scripts/install.sh"), "--debian", "postgresql"], env=env,
                          capture_output=True, text=True, timeout=120)


def test_install_waits_for_another_apt_get_then_installs(tmp_path):
    bin_dir = fake_apt(tmp_path, locked_updates=2)

    result = run_install(tmp_path, bin_dir, wait=120)

    assert result.returncode == 0, result.stdout + result.stderr
    calls = (tmp_path / "apt.log").read_text().splitlines()
    assert [c.split()[2] for c in calls] == ["update"] * 3 + ["install"]
    # apt-get itself waits for dpkg's lock on install; update is tried again by the script.
    assert all(c.startswith("-o DPkg::Lock::Timeout=120 ") for c in calls), calls
    assert "holds its lock; waiting for it (up to 120 s)" in result.stdout
    assert "Debian packages present: postgresql" in result.stdout


def test_install_gives_up_after_the_bounded_wait(tmp_path):
    bin_dir = fake_apt(tmp_path, locked_updates=10**6)

    result = run_install(tmp_path, bin_dir, wait=1)

    assert result.returncode == 1
    assert "Could not get lock /var/lib/apt/lists/lock" in result.stderr  # apt's own words, shown
    assert "apt-get failed" in result.stdout and "postgresql" in result.stdout
    updates = (tmp_path / "apt.log").read_text().splitlines()
    assert 2 <= len(updates) < 30 and not (tmp_path / "installed").exists()


# ------------------------------------------------------------------ pg_throwaway.sh

def pg_throwaway(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(ROOT / "scripts/pg_throwaway.sh"), *args], capture_output=True,
                          text=True, timeout=180)


def answers(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def initdb():
    if not INITDB:
        message = "no /usr/lib/postgresql/*/bin/initdb (Debian package postgresql)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"the throwaway cluster cannot be tested under CI: {message}")
        pytest.skip(message)
    return INITDB[-1]


def test_a_throwaway_cluster_answers_and_is_removed(initdb):
    main_answered = answers(5432)
    # In /tmp (not pytest's tmp_path, which the postgres user may not enter), as test.sh does.
    folder = Path(tempfile.mkdtemp(prefix="doorstep-pg-test-"))
    try:
        started = pg_throwaway("start", str(folder))
        assert started.returncode == 0, started.stderr
        url = started.stdout.strip()
        parts = urlsplit(url)
        assert parts.hostname == "127.0.0.1" and parts.port and parts.port != 5432, url
        with psycopg.connect(url, connect_timeout=10) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
            assert conn.execute("show listen_addresses").fetchone() == ("127.0.0.1",)
            assert conn.execute("show data_directory").fetchone()[0] == str(folder / "data")
    finally:
        stopped = pg_throwaway("stop", str(folder))

    assert stopped.returncode == 0, stopped.stderr
    assert not folder.exists()
    assert not answers(parts.port)
    assert answers(5432) == main_answered  # the real cluster was left alone


def test_stop_leaves_a_folder_it_did_not_make(initdb):
    folder = Path(tempfile.mkdtemp(prefix="doorstep-pg-test-"))
    (folder / "keep.txt").write_text("not a throwaway cluster")
    try:
        result = pg_throwaway("stop", str(folder))
        assert result.returncode == 1 and "leaving it alone" in result.stderr
        assert (folder / "keep.txt").exists()
        refused = pg_throwaway("start", str(folder))  # not empty: no cluster made there
        assert refused.returncode == 1 and "not empty" in refused.stderr
        assert sorted(p.name for p in folder.iterdir()) == ["keep.txt"]
    finally:
        (folder / "keep.txt").unlink()
        folder.rmdir()


# ------------------------------------------------------------------ pytest's summary: the databases

def run_pytest(*args: str, **env: str) -> list[str]:
    """The lines pytest prints for a small run in a child process."""
    result = subprocess.run([str(ROOT / ".venv/bin/pytest"), "-q", "-p", "no:cacheprovider", *args],
                            cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return [line for line in result.stdout.splitlines() if line.strip()]


def test_the_summary_names_the_databases_the_tests_ran_on():
    from tests.conftest import PG_ADMIN_URL

    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3) as conn:
            version = conn.execute("show server_version").fetchone()[0].split()[0]
    except psycopg.OperationalError:
        pytest.skip(f"PostgreSQL at {PG_ADMIN_URL} is not reachable")  # the fixtures fail under CI
    where = urlsplit(PG_ADMIN_URL)
    major_minor = ".".join(version.split(".")[:2])

    lines = run_pytest("tests/test_smoke.py::test_login_page_renders_in_chinese")

    assert lines[-2] == f"databases: SQLite, PostgreSQL {major_minor} at {where.hostname}:{where.port or 5432}"
    assert lines[-1].startswith("2 passed in ")  # pytest's own last line stays last (CI reads it)


def test_the_summary_says_why_postgresql_was_skipped():
    lines = run_pytest("tests/test_smoke.py::test_login_page_renders_in_chinese",
                       DOORSTEP_TEST_PG="postgresql://root@127.0.0.1:1/test", CI="")

    line = next(line for line in lines if line.startswith("databases:"))
    assert line.startswith("databases: SQLite; PostgreSQL: skipped (not reachable at 127.0.0.1:1: ")
    assert line.endswith(")") and len(line) > 80  # libpq's reason, in the machine's language
    assert lines[-1].startswith("1 passed, 1 skipped in ")


def test_the_summary_says_when_no_database_was_used():
    lines = run_pytest("tests/test_demo.py::test_chinese_numbers")

    assert lines[-2:-1] == ["databases: none (no test here used one)"]
    assert lines[-1].startswith("1 passed in ")
