#!/usr/bin/env bash
# The test command: lint, type-check and the whole pytest suite (unit, emulator, Functions, infra).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/python -m pytest -n 2 -q "$@"
