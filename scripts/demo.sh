#!/usr/bin/env bash
# The demo command: run driftwatch against the bundled emulated estate.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m samples.demo
