"""How deep each workspace-API call of a scan was, from the emulator's logical clock (not wall time)."""

from __future__ import annotations

from typing import Any

from emulator.server import EmulatorServer


def workspace_api_depths(emulator: EmulatorServer, host: str) -> list[tuple[str, int]]:
    """(path without the query, depth) of each recent request to the workspace `host`, in the order they
    started. Depth is one more than the deepest call to that host that had finished when this one started
    (`started`/`finished` ticks of the request log): calls started together are one deep, a call that waited
    for one of them two, and so on."""
    calls: list[dict[str, Any]] = sorted((r for r in emulator.request_counts()["recent"]
                                          if f"/ws/{host}/" in r["path"]), key=lambda r: r["started"])
    depth: dict[int, int] = {}
    for r in calls:
        depth[r["started"]] = 1 + max((depth[p["started"]] for p in calls if p["finished"] < r["started"]), default=0)
    return [(r["path"].split(host, 1)[1].split("?")[0], depth[r["started"]]) for r in calls]
