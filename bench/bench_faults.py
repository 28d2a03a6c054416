"""Fault figures (issue 6): per fault, events injected / findings expected / findings stored / alerts sent.

Runs the scenarios of tests/faults/scenarios.py (the fault suite asserts on the same figures) over a
real Azurite and the estate emulator, and prints one row per fault. Asserts nothing.
"""

from __future__ import annotations

import time
from typing import Any

from samples.azurite import AzuriteProcess
from tests.faults import scenarios as sc
from tests.support.app import make_app


def run(name: str, fn: Any, *args: Any, persistent: bool = False) -> None:
    t0 = time.perf_counter()
    with AzuriteProcess(persistent=persistent) as az, make_app(az.connection_string) as app:
        fig = fn(app, az, *args) if persistent else fn(app, *args)
    notes = ", ".join(f"{k}={v}" for k, v in fig.notes.items())
    print(f"{fig.fault:42} {fig.events_injected:>6} {fig.findings_expected:>9} {fig.findings_stored:>7} "
          f"{fig.alerts_sent:>6}  {time.perf_counter() - t0:5.1f}s  {notes}", flush=True)


def main() -> None:
    print(f"{'fault':42} {'events':>6} {'expected':>9} {'stored':>7} {'alerts':>6}  {'time':>6}  notes")
    run("storms", sc.arm_faults_during_sweep)
    run("403", sc.workspace_turns_403)
    run("hang", sc.arm_hang)
    run("storage", sc.storage_outage_mid_sweep, persistent=True)
    for action, rule in (("429", {"count": 1, "retry_after": 1}), ("500", {}), ("404", {}),
                         ("hang", {"hang_seconds": 10})):
        run_teams(action, rule)
    run("eventgrid", sc.event_grid_semantics)


def run_teams(action: str, rule: dict[str, Any]) -> None:
    def fn(app: Any) -> Any:
        return sc.teams_faults(app, action, **rule)

    run(f"teams {action}", fn)


if __name__ == "__main__":
    main()
