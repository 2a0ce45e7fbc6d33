"""The shell scripts' own logic: apt-get waiting for a lock (scripts/install.sh). Real bash runs
them; only apt-get and dpkg-query are stand-ins (the test must not install anything)."""
from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


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
