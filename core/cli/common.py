"""What every `driftwatch` command shares: exit codes, input errors, the baseline flag, output.

A leaf: it imports nothing from the other CLI modules, so the command modules never import each other.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from core.terms import SEVERITIES

if TYPE_CHECKING:
    from core.baseline import Baseline
    from core.evaluate import ScanResult

__all__ = ["EXIT_FINDINGS", "EXIT_INCOMPLETE", "EXIT_INPUT", "EXIT_OK", "EXIT_UNAVAILABLE", "SEVERITIES",
           "CliInputError", "emit", "exit_for", "load_baseline_flag"]

EXIT_OK, EXIT_FINDINGS, EXIT_INPUT, EXIT_INCOMPLETE = 0, 1, 2, 3
EXIT_UNAVAILABLE = 3
"""The findings commands: storage unavailable (the scan commands use 3 for "some workspaces not evaluated")."""
DEFAULT_BASELINE_NAMES = ("baseline.yaml", "baseline.yml", "baseline.json")


class CliInputError(Exception):
    """Invalid flags or files: exit 2 with this message."""


def _default_baseline() -> str:
    env = os.environ.get("DRIFTWATCH_BASELINE")
    if env:
        return env
    for name in DEFAULT_BASELINE_NAMES:
        if os.path.exists(name):
            return name
    raise CliInputError("no baseline given: pass --baseline FILE or set DRIFTWATCH_BASELINE")


def load_baseline_flag(path: str | None) -> Baseline:
    """The baseline named by `--baseline`, else DRIFTWATCH_BASELINE, else ./baseline.yaml|yml|json."""
    from core.baseline import load_baseline

    return load_baseline(path or _default_baseline())


def emit(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def exit_for(result: ScanResult, fail_on: str | None) -> int:
    from core.terms import severity_at_least

    if result.errors:
        return EXIT_INCOMPLETE
    if fail_on and any(f.status == "open" and severity_at_least(f.severity, fail_on) for f in result.findings):
        return EXIT_FINDINGS
    return EXIT_OK
