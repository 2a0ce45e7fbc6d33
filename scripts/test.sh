#!/usr/bin/env bash
# Run the whole test suite: install, make sure a PostgreSQL server is there, then pytest.
#
#   ./scripts/test.sh                 everything (SQLite, PostgreSQL, browser tests)
#   ./scripts/test.sh -x tests/test_auth.py -k login      arguments go to pytest
#
# Locally, tests whose tools are missing (PostgreSQL, Chromium) are skipped with a reason;
# with CI=true they fail instead. pytest's summary names the databases the tests ran on.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install.sh </dev/null  # never waits for input (apt-get, pip)

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
