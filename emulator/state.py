"""The in-memory estate the emulator serves: the ARM side and each workspace's API state.

A mutable store, touched only from the server's event loop (`core.state.Estate` is a parsed,
read-only snapshot of the same format). ARM lives in `emulator/arm_state.py`, workspace-API state
in `emulator/workspace_state.py`; this module loads both from one seed and snapshots them back.
"""

from __future__ import annotations

from typing import Any

from emulator.arm_state import ArmStore
from emulator.seed import SCHEMA
from emulator.workspace_state import WorkspaceApi


class Estate:
    """Subscriptions, ARM resources and workspace API states, as loaded from a validated seed."""

    def __init__(self, seed: dict[str, Any]) -> None:
        self.arm = ArmStore(seed.get("subscriptions", []), seed.get("resources", []))
        self.workspaces: dict[str, WorkspaceApi] = {
            host.lower(): WorkspaceApi.from_seed(host, ws) for host, ws in seed.get("databricks", {}).items()
        }

    def ensure_workspace_api(self, host: str) -> WorkspaceApi:
        """The workspace API of a workspace created through ARM (empty until someone configures it)."""
        api = self.workspaces.get(host.lower())
        if api is None:
            api = self.workspaces[host.lower()] = WorkspaceApi(host=host)
        return api

    def snapshot(self) -> dict[str, Any]:
        """The whole estate in the seed format, so a test can save and reload it."""
        return {
            "schema": SCHEMA,
            "subscriptions": self.arm.snapshot_subscriptions(),
            "resources": self.arm.snapshot_resources(),
            "databricks": {ws.host: ws.snapshot() for ws in self.workspaces.values()},
        }
