"""Which network resources each workspace uses: the routing map for network events.

The Functions app keeps it in the `topology` table (`core.store.TopologyStore`); the CLI builds an
in-memory `Topology` from a snapshot. Routing only needs `TopologyLookup`, which both satisfy.
What a workspace uses is `core.state.footprint.footprint`, the one definition shared with the store.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Protocol

from core.arm_ids import arm_fold
from core.state.footprint import NetworkFootprint, footprint
from core.state.model import WorkspaceState


class TopologyLookup(Protocol):
    """Network resource id (any casing) -> ARM ids of the workspaces that use it."""

    def workspaces_for(self, network_resource_id: str) -> list[str]: ...


class Topology:
    """Lower-cased network resource id -> ARM ids of the workspaces that use it."""

    def __init__(self, edges: Mapping[str, Iterable[str]] | None = None) -> None:
        self._map: dict[str, set[str]] = defaultdict(set)
        for key, workspaces in (edges or {}).items():
            self._map[arm_fold(key)].update(workspaces)

    def add(self, network_resource_id: str, workspace_id: str) -> None:
        self._map[arm_fold(network_resource_id)].add(workspace_id)

    def workspaces_for(self, network_resource_id: str) -> list[str]:
        return sorted(self._map.get(arm_fold(network_resource_id), ()), key=arm_fold)

    def edges(self) -> dict[str, list[str]]:
        return {k: sorted(v) for k, v in self._map.items()}

    def __len__(self) -> int:
        return len(self._map)

    @classmethod
    def from_footprints(cls, footprints: Iterable[tuple[str, NetworkFootprint]]) -> Topology:
        topo = cls()
        for workspace_id, fp in footprints:
            for rid in fp.resource_ids():
                topo.add(rid, workspace_id)
        return topo

    @classmethod
    def from_states(cls, states: Iterable[WorkspaceState]) -> Topology:
        return cls.from_footprints((ws.resource_id, footprint(ws.arm, ws.network)) for ws in states)
