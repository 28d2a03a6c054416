#!/usr/bin/env bash
# Run checkov over the Bicep templates in infra/ (offline: --skip-download, no API key).
#
# checkov pins older libraries and supports Python 3.9-3.12, while the project's .venv is 3.13,
# so it lives in its own virtualenv (.checkov-venv, git-ignored). It is installed once; a stamp
# file holding the pinned version makes later runs reuse it (seconds instead of minutes).
#
# Exit status is checkov's: 0 when no check failed. Every skipped check is justified next to the
# resource in the template with a `#checkov:skip=CKV_...: reason` comment.
set -euo pipefail
cd "$(dirname "$0")/.."

CHECKOV_VERSION="3.2.500"
VENV=".checkov-venv"
STAMP="$VENV/.checkov-installed"

find_python() {
  local candidate
  for candidate in python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 \
      && "$candidate" -c 'import sys; raise SystemExit(0 if (3, 9) <= sys.version_info[:2] <= (3, 12) else 1)' \
        >/dev/null 2>&1; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$CHECKOV_VERSION" ] || [ ! -x "$VENV/bin/checkov" ]; then
  if ! PY=$(find_python); then
    echo "checkov.sh: checkov needs Python 3.9-3.12 (tried python3.12, python3.11, python3)." >&2
    echo "Install one, e.g. 'sudo apt-get install python3.12-venv' or 'pyenv install 3.12'." >&2
    exit 2
  fi
  echo "checkov.sh: installing checkov $CHECKOV_VERSION into $VENV with $PY (one time)" >&2
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION" \
    2> >(grep -v "is ignored: it is neither a file nor a directory" >&2) >&2
  echo "$CHECKOV_VERSION" > "$STAMP"
fi

# `checkov.sh --install-only`: install (or confirm) .checkov-venv and stop; scripts/test.sh runs this
# beside the linters so that the suite's checkov test does not wait a minute for pip.
if [ "${1:-}" = "--install-only" ]; then
  exit 0
fi

# No telemetry, no call home for the latest version or for Prisma Cloud policies.
export BC_SKIP_MAPPING=TRUE
export CHECKOV_RUN_SCA_PACKAGE_SCAN_V2=false
exec "$VENV/bin/checkov" -d infra --framework bicep --skip-download --quiet --compact "$@"
