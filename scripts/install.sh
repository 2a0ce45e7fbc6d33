#!/usr/bin/env bash
# Set up everything Doorstep needs on this machine; safe to run again (a second run takes
# a few seconds and changes nothing).
#
#   1. Debian packages: installed when run as root, otherwise listed with the command to run.
#   2. .venv with Python >= 3.11 and the pinned packages (requirements-dev.txt, constrained by
#      constraints.txt); reinstalled only when one of those files changed.
#   3. The translation catalogs compiled to .mo files (git-ignored).
#
# Called by scripts/demo.sh and scripts/test.sh; can be run on its own.
#
#   scripts/install.sh --debian PACKAGE...   only these Debian packages (e.g. postgresql, for
#                                            scripts/test.sh); exit status 1 if one is missing after
#
# apt-get waits up to APT_LOCK_WAIT seconds (default 120) for another apt-get or dpkg that holds
# its lock, instead of failing at once.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 DEBIAN_FRONTEND=noninteractive

say() { printf 'install: %s\n' "$*"; }
not_installed=()  # what could not be installed, for the closing summary

# ---------------------------------------------------------------- Debian packages

# package -> what it is for
declare -A DEB_PURPOSE=(
  [postgresql]="PostgreSQL server for the PostgreSQL half of the tests (scripts/test.sh)"
  [chromium]="headless browser for the browser tests (tests/browser)"
  [fonts-noto-cjk]="Chinese font (Noto Sans CJK) for the browser and printed cards"
  [libharfbuzz-subset0]="fast font subsetting for printing (WeasyPrint is 2x slower without it)"
  [libpango-1.0-0]="text layout for printing (WeasyPrint)"
  [libpangoft2-1.0-0]="text layout for printing (WeasyPrint)"
  [poppler-utils]="pdffonts/pdftotext/pdftoppm, used by the printing tests"
)
DEB_PACKAGES=(chromium fonts-noto-cjk libharfbuzz-subset0 libpango-1.0-0 libpangoft2-1.0-0 poppler-utils)
debian_only=0
if [[ "${1:-}" == --debian ]]; then
  shift
  debian_only=1
  DEB_PACKAGES=("$@")
fi

APT_LOCK_WAIT=${APT_LOCK_WAIT:-120}
# apt-get, waiting for a lock that another apt-get or dpkg holds (an unattended upgrade, a
# second terminal) for up to APT_LOCK_WAIT seconds. DPkg::Lock::Timeout makes `install` wait
# for dpkg's lock; `update` takes the package lists' lock, which apt (2.6) does not wait for,
# so it is tried again every few seconds until then.
apt_get() {
  local deadline=$((SECONDS + APT_LOCK_WAIT)) out rc told=0
  while :; do
    rc=0
    out=$(apt-get -o "DPkg::Lock::Timeout=$APT_LOCK_WAIT" "$@" 2>&1) || rc=$?
    if ((rc != 0)) && grep -q "Could not get lock" <<<"$out" && ((SECONDS < deadline)); then
      ((told)) || say "another apt-get or dpkg holds its lock; waiting for it (up to ${APT_LOCK_WAIT} s)"
      told=1
      sleep 3
      continue
    fi
    ((rc == 0)) || printf '%s\n' "$out" >&2  # dpkg's chatter only when something failed
    return "$rc"
  done
}

deb_missing() {
  local p
  command -v dpkg-query >/dev/null || return 0  # not Debian: nothing we can check
  for p in "${DEB_PACKAGES[@]}"; do
    [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" == "install ok installed" ]] || echo "$p"
  done
}

mapfile -t missing < <(deb_missing)
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    say "installing Debian packages: ${missing[*]}"
    if apt_get update -qq && apt_get install -y -qq "${missing[@]}"; then
      :
    else
      say "apt-get failed (see above)"
    fi
    mapfile -t missing < <(deb_missing)
  fi
  if ((${#missing[@]})); then
    say "these Debian packages are missing:"
    for p in "${missing[@]}"; do printf '    %-22s %s\n' "$p" "${DEB_PURPOSE[$p]:-}"; done
    sudo=$([[ $(id -u) -eq 0 ]] || echo "sudo ")
    say "install them with:  ${sudo}apt-get install -y ${missing[*]}"
    ((debian_only)) || say "until then the tests that need them are skipped (under CI=true they fail)."
    not_installed+=("${missing[@]}")
  fi
fi
if ((debian_only)); then
  if ! command -v dpkg-query >/dev/null; then
    say "not a Debian system (no dpkg-query): cannot install ${DEB_PACKAGES[*]}"
    exit 1
  fi
  ((${#not_installed[@]} == 0)) || exit 1
  say "Debian packages present: ${DEB_PACKAGES[*]}"
  exit 0
fi

# ---------------------------------------------------------------- Python virtualenv

PYTHON=${PYTHON:-python3}
python_ok() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; }

if [[ -x .venv/bin/python ]] && ! python_ok .venv/bin/python; then
  say ".venv does not run a Python >= 3.11; making a new one"
  rm -rf .venv
fi
if [[ ! -x .venv/bin/python ]]; then
  if ! command -v "$PYTHON" >/dev/null; then
    say "ERROR: $PYTHON not found. Doorstep needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)."
    exit 1
  fi
  if ! python_ok "$PYTHON"; then
    say "ERROR: $PYTHON is $("$PYTHON" --version 2>&1); Doorstep needs Python 3.11 or newer" \
        "(set PYTHON=/path/to/python3.11)."
    exit 1
  fi
  say "creating .venv with $("$PYTHON" --version 2>&1)"
  "$PYTHON" -m venv .venv
fi

# Reinstall only when the pins (or the interpreter) changed since the last good install.
stamp=.venv/.doorstep-requirements.sha256
want=$( { cat requirements.txt requirements-dev.txt constraints.txt; .venv/bin/python --version; } | sha256sum | cut -d' ' -f1)
if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
  say "installing Python packages (requirements-dev.txt, pinned by constraints.txt)"
  .venv/bin/python -m pip install -q -r requirements-dev.txt -c constraints.txt
  echo "$want" >"$stamp"
fi

# ---------------------------------------------------------------- translations

# Compile when a catalog is newer than its .mo (or has none); no catalogs yet is fine.
need_compile=0
shopt -s nullglob
for po in app/translations/*/LC_MESSAGES/*.po; do
  [[ "${po%.po}.mo" -nt "$po" ]] || need_compile=1
done
shopt -u nullglob
if ((need_compile)); then
  .venv/bin/pybabel -q compile -d app/translations
fi

# ---------------------------------------------------------------- summary

if ((${#not_installed[@]})); then
  say "done, but NOT installed: ${not_installed[*]} (see above)."
else
  say "everything is installed."
fi
