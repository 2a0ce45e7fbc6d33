#!/usr/bin/env bash
# Run the whole test suite: install, make sure PostgreSQL is up, then pytest.
#
#   ./scripts/test.sh                 everything (SQLite, PostgreSQL, browser tests)
#   ./scripts/test.sh -x tests/test_auth.py -k login      arguments go to pytest
#
# Locally, tests whose tools are missing (PostgreSQL, Chromium) are skipped with a reason;
# with CI=true they fail instead.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install.sh </dev/null  # never waits for input (apt-get, pip)

# PostgreSQL on 127.0.0.1:5432 (the tests create and drop their own databases there).
if command -v pg_isready >/dev/null; then
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    if [[ $(id -u) -eq 0 ]] && [[ -d /etc/postgresql ]] && command -v pg_ctlcluster >/dev/null; then
      echo "test: starting PostgreSQL"
      pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
      for _ in $(seq 1 20); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
    fi
    pg_isready -q -h 127.0.0.1 -p 5432 ||
      echo "test: PostgreSQL is not answering on 127.0.0.1:5432; its tests will be skipped (failed under CI=true)."
  fi
else
  echo "test: pg_isready not found; cannot check PostgreSQL (its tests skip if it is unreachable, fail under CI=true)."
fi

rc=0
.venv/bin/pytest "$@" || rc=$?
if ((rc == 5)); then
  echo "test: FAILED: pytest collected no tests (arguments: ${*:-none})." >&2
  exit 1
fi
exit "$rc"
