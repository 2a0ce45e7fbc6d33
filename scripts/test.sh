#!/usr/bin/env bash
# Run the whole test suite: install, lint (ruff with the bandit rules), audit the pinned
# requirements (pip-audit), make sure a PostgreSQL server is there, then pytest.
#
#   ./scripts/test.sh                 everything (SQLite, PostgreSQL, browser tests)
#   DOORSTEP_PIP_AUDIT=0 ./scripts/test.sh ...    without the audit (it asks PyPI, ~40 s)
#   ./scripts/test.sh -x tests/test_auth.py -k login      arguments go to pytest
#
# Locally, tests whose tools are missing (PostgreSQL, Chromium) are skipped with a reason;
# with CI=true they fail instead. pytest's summary names the databases the tests ran on.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install.sh </dev/null  # never waits for input (apt-get, pip)

# Lint: ruff's default rules and the bandit rules (S), configured in pyproject.toml
# ([tool.ruff.lint], with the per-file ignores and why). Any finding fails the run.
if ! .venv/bin/ruff check --no-cache .; then
  echo "test: FAILED: ruff found the problems above (pyproject.toml [tool.ruff.lint])." >&2
  exit 1
fi

# Known vulnerabilities in the pinned packages (constraints.txt: every package, pinned), from
# PyPI's advisory data. Found ones fail the run. Where the advisory service cannot be reached
# (machines that reach only a package mirror: PyPI's JSON API answers "not found" for every
# package, or the connection fails), it says so and the tests go on.
if [[ "${DOORSTEP_PIP_AUDIT:-1}" != 0 ]]; then
  audit_json=$(mktemp -t doorstep-audit.XXXXXX)
  audit_rc=0
  timeout 600 .venv/bin/pip-audit --requirement constraints.txt --no-deps --progress-spinner off \
    --format json --output "$audit_json" 2>"$audit_json.err" || audit_rc=$?
  verdict=0
  .venv/bin/python - "$audit_json" "$audit_rc" "$audit_json.err" <<'PY' || verdict=$?
import json, sys
path, rc, err = sys.argv[1], int(sys.argv[2]), sys.argv[3]
try:
    with open(path, encoding="utf-8") as f:
        deps = json.load(f)["dependencies"]
except (OSError, ValueError, KeyError):
    last = (open(err, encoding="utf-8", errors="replace").read().strip().splitlines() or ["no output"])[-1]
    print(f"test: pip-audit could not reach its advisory service (exit {rc}: {last[:200]}); "
          "the pinned requirements were NOT audited. The tests go on.")
    sys.exit(0)
vulnerable = [d for d in deps if d.get("vulns")]
skipped = [d for d in deps if d.get("skip_reason")]
for d in vulnerable:
    ids = ", ".join(v["id"] + (f" (fixed in {', '.join(v['fix_versions'])})" if v.get("fix_versions") else "")
                    for v in d["vulns"])
    print(f"test: pip-audit: {d['name']} {d['version']}: {ids}", file=sys.stderr)
if vulnerable:
    print(f"test: FAILED: pip-audit found known vulnerabilities in {len(vulnerable)} pinned packages "
          "(constraints.txt).", file=sys.stderr)
    sys.exit(1)
if deps and len(skipped) == len(deps):
    print(f"test: pip-audit could not reach its advisory service: none of the {len(deps)} pinned packages "
          f"was found there ({skipped[0]['skip_reason']}); they were NOT audited. The tests go on.")
elif skipped:
    print(f"test: pip-audit: no known vulnerabilities in {len(deps) - len(skipped)} pinned packages; "
          f"{len(skipped)} could not be audited: {', '.join(d['name'] for d in skipped)}.")
else:
    print(f"test: pip-audit: no known vulnerabilities in the {len(deps)} pinned packages.")
PY
  rm -f "$audit_json" "$audit_json.err"
  ((verdict == 0)) || exit 1
fi

# PostgreSQL: the tests create and drop their own databases on the server at DOORSTEP_TEST_PG
# (default postgresql://root@127.0.0.1:5432/test). Set it yourself, and it is used as it is.
# Otherwise the server on 127.0.0.1:5432 is used when it answers (as root, a stopped local
# cluster is started first); when none answers, or it refuses the tests' login, the tests run
# on a throwaway cluster made in a temporary folder on a free port (scripts/pg_throwaway.sh),
# after installing the Debian package postgresql if needed (as root), and removed at exit.
pg_login_ok() {
  .venv/bin/python - "$1" <<'PY' 2>/dev/null
import sys, psycopg
psycopg.connect(sys.argv[1], connect_timeout=3).close()
PY
}
pg_answers() { command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432; }

if [[ -z "${DOORSTEP_TEST_PG:-}" ]]; then
  default_pg=postgresql://root@127.0.0.1:5432/test
  if ! pg_answers && [[ $(id -u) -eq 0 ]] && [[ -d /etc/postgresql ]] && command -v pg_ctlcluster >/dev/null \
      && [[ -n "$(ls /etc/postgresql 2>/dev/null)" ]]; then
    echo "test: starting the local PostgreSQL cluster"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n1)" main start || true
    for _ in $(seq 1 20); do pg_answers && break; sleep 0.5; done
  fi
  if pg_login_ok "$default_pg"; then
    :  # the server on 5432, as always
  else
    if pg_answers; then
      echo "test: PostgreSQL answers on 127.0.0.1:5432 but refuses $default_pg; using a throwaway cluster instead."
    else
      echo "test: no PostgreSQL answers on 127.0.0.1:5432; using a throwaway cluster instead."
    fi
    if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
      if [[ $(id -u) -eq 0 ]]; then
        echo "test: installing the Debian package postgresql"
        bash scripts/install.sh --debian postgresql </dev/null || true
      else
        echo "test: PostgreSQL is not installed and this is not root, so it cannot be installed here:"
        echo "test:   sudo apt-get install -y postgresql    (then run ./scripts/test.sh again)"
      fi
    fi
    pg_dir=$(mktemp -d -t doorstep-pg.XXXXXX)
    trap 'bash scripts/pg_throwaway.sh stop "$pg_dir"' EXIT
    if pg_url=$(bash scripts/pg_throwaway.sh start "$pg_dir"); then
      export DOORSTEP_TEST_PG=$pg_url
      echo "test: PostgreSQL tests run on a throwaway cluster at ${pg_url#*@} (in $pg_dir, removed at the end)."
    else
      echo "test: could not start a throwaway PostgreSQL cluster (see above); the PostgreSQL tests will be" \
           "skipped (failed under CI=true)."
    fi
  fi
fi

rc=0
.venv/bin/pytest "$@" || rc=$?
if ((rc == 5)); then
  echo "test: FAILED: pytest collected no tests (arguments: ${*:-none})." >&2
  exit 1
fi
exit "$rc"
