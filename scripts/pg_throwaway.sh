#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests, when no server answers on 127.0.0.1:5432.
#
#   scripts/pg_throwaway.sh start DIR   make a cluster in the empty folder DIR (created if missing),
#                                       start it on a free port on 127.0.0.1 and print its URL,
#                                       e.g. postgresql://postgres@127.0.0.1:40123/postgres
#   scripts/pg_throwaway.sh stop DIR    stop that cluster and remove DIR
#
# initdb and pg_ctl come from the newest /usr/lib/postgresql/*/bin (Debian's package
# postgresql; PG_BIN=/path/to/bin to choose). Run as root, they run as the `postgres` system
# user (PostgreSQL refuses to run as root). Trust authentication, listening on 127.0.0.1 only,
# its socket in DIR, fsync off: it holds test data for one run, nothing else. `stop` acts only
# on a folder that `start` marked, so it never touches another cluster (the one on 5432).
set -euo pipefail

say() { printf 'pg_throwaway: %s\n' "$*" >&2; }
MARK=.doorstep-throwaway-cluster

pg_bin() {
  if [[ -n "${PG_BIN:-}" ]]; then
    echo "$PG_BIN"
    return
  fi
  local newest
  newest=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
  if [[ -n "$newest" && -x "$newest/initdb" ]]; then
    echo "$newest"
  elif command -v initdb >/dev/null; then
    dirname "$(command -v initdb)"
  else
    return 1
  fi
}

# Run a PostgreSQL program as the postgres system user when we are root, else as ourselves.
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
PY
}

start() {
  local dir=$1 bin port
  if ! bin=$(pg_bin); then
    say "initdb not found (no /usr/lib/postgresql/*/bin; install the Debian package postgresql)"
    return 1
  fi
  mkdir -p "$dir"
  if [[ -n "$(ls -A "$dir")" ]]; then
    say "$dir is not empty; refusing to make a cluster there"
    return 1
  fi
  touch "$dir/$MARK"
  if [[ $(id -u) -eq 0 ]]; then
    if ! id postgres >/dev/null 2>&1; then
      say "run as root, but there is no postgres system user to run PostgreSQL as"
      return 1
    fi
    chown postgres: "$dir"
  fi
  if ! as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync \
      >"$dir/initdb.log" 2>&1; then
    say "initdb failed:"
    cat "$dir/initdb.log" >&2
    return 1
  fi
  # The port is free when chosen; another program may take it before PostgreSQL does: try again.
  for _ in 1 2 3; do
    port=$(free_port)
    if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -s start \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        >&2; then
      echo "postgresql://postgres@127.0.0.1:$port/postgres"
      return 0
    fi
  done
  say "PostgreSQL did not start; its log:"
  tail -n 20 "$dir/server.log" >&2 || true
  return 1
}

stop() {
  local dir=$1 bin
  [[ -d "$dir" ]] || return 0
  if [[ ! -e "$dir/$MARK" ]]; then
    say "$dir was not made by 'pg_throwaway.sh start'; leaving it alone"
    return 1
  fi
  if [[ -e "$dir/data/postmaster.pid" ]] && bin=$(pg_bin); then
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 -s stop >&2 || say "pg_ctl stop failed"
  fi
  rm -rf -- "$dir"
}

case "${1:-}" in
  start) [[ $# -eq 2 ]] || { say "usage: $0 start DIR"; exit 2; }; start "$2" ;;
  stop) [[ $# -eq 2 ]] || { say "usage: $0 stop DIR"; exit 2; }; stop "$2" ;;
  *) say "usage: $0 start|stop DIR"; exit 2 ;;
esac
