#!/usr/bin/env bash
# The test command: lint, type-check, dependency audit and the whole pytest suite
# (unit, integration over the emulator, Functions over Azurite, faults, fuzz, security, infra).
set -euo pipefail
cd "$(dirname "$0")/.."
# checkov's own virtualenv (a minute of pip on a fresh machine) installs beside the linters; its test waits
# for nothing then. A failed install is not fatal here: the checkov test runs the script again and reports it.
mkdir -p build
bash scripts/checkov.sh --install-only > build/checkov-install.log 2>&1 &
checkov_install=$!
.venv/bin/ruff check .
.venv/bin/mypy
# ARCHITECTURE §5 as import-linter contracts (pyproject.toml); finer rules in tests/unit/test_boundaries.py.
.venv/bin/lint-imports --no-cache
# Known vulnerabilities in the pinned runtime dependencies. Exit 3 means the vulnerability service
# could not be reached (as on this project's offline CI machines): warn loudly, never fake a pass.
bash scripts/audit.sh || { rc=$?; if [ "$rc" -eq 3 ]; then
  echo "WARNING: dependency audit incomplete (vulnerability service unreachable); nothing was audited" >&2
else exit "$rc"; fi; }
wait "$checkov_install" || echo "WARNING: checkov install failed (build/checkov-install.log); its test will say why" >&2
# The suite starts many Python subprocesses (CLI, workers, emulators): compile once so that each does not
# compile driftwatch again (some machines set PYTHONDONTWRITEBYTECODE=1).
unset PYTHONDONTWRITEBYTECODE
.venv/bin/python -m compileall -q -j 2 core functions emulator samples tests bench function_app.py > /dev/null
# Four workers on two cores: most suite time is waiting (emulator latency, retries, Azurite), not CPU.
.venv/bin/python -m pytest -n 4 --dist worksteal -q "$@"
