#!/usr/bin/env bash
# Try Doorstep on this machine: install, make a SQLite database in instance/ with a demo
# township and one login per role, and serve the app on http://127.0.0.1:${PORT:-5000}.
# The demo data takes about 45 s the first time on a quiet 2-core machine (over 2 minutes when
# other work keeps it busy), a few seconds later; `flask demo` prints each step as it goes, and
# the logins and their password last, right before the server starts.
#
#   ./scripts/demo.sh                      first run: prints the demo logins and their password
#   ./scripts/demo.sh --reset-passwords    later runs: a new password for the demo users
#   PORT=8080 ./scripts/demo.sh            another port
#
# Arguments are passed to `flask demo` (see `flask demo --help`). Stop the server with Ctrl-C.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install.sh

PORT=${PORT:-5000}
# The demo always uses SQLite in instance/ (or $DOORSTEP_INSTANCE), never a DATABASE_URL
# that may point at real data; its task queue keeps its work in SQLite there too.
unset DATABASE_URL REDIS_URL
export FLASK_APP=wsgi.py
export BASE_URL=${BASE_URL:-http://127.0.0.1:$PORT}

# Fail before the database work if the port is taken, with a message that says so.
if ! .venv/bin/python - "$PORT" <<'PY'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn does: ignore TIME_WAIT
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError as e:
    sys.exit(f"demo: port {sys.argv[1]} on 127.0.0.1 is in use ({e.strerror}); try PORT=5001 ./scripts/demo.sh")
PY
then
  exit 1
fi

echo "demo: migrating the database"
.venv/bin/flask db upgrade

INSTANCE=${DOORSTEP_INSTANCE:-instance}
echo "demo: then Doorstep serves $BASE_URL until Ctrl-C; print jobs log to $INSTANCE/tasks.log"
echo "demo: creating the demo township, users and households (the first time about 45 s on a quiet"
echo "      2-core machine, longer on a busy one; a few seconds later)"
.venv/bin/flask demo "$@"

# Nothing more is printed from here: the logins and the password above stay the last lines
# before the server's own. The task queue's consumer renders print jobs (books, reprints)
# outside the web workers.
.venv/bin/huey_consumer app.jobs.huey --workers 1 --logfile "$INSTANCE/tasks.log" -q &
consumer=$!
trap 'kill "$consumer" 2>/dev/null; wait "$consumer" 2>/dev/null' EXIT

.venv/bin/gunicorn --workers 2 --bind "127.0.0.1:$PORT" --no-control-socket wsgi:app
