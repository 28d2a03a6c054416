"""Which network resources each workspace uses: the routing map for network events.

The Functions app keeps it in the `topology` table; the CLI builds it from a snapshot.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from core.arm_ids import arm_fold
from core.state.model import WorkspaceState
from core.state.parse import subnet_ids


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

    @staticmethod
    def resources_of(ws: WorkspaceState) -> list[str]:
        """The VNet, both subnets and every NSG on them (as observed), for one workspace."""
        out: list[str] = []
        if ws.arm is None or not ws.arm.vnet_id:
            return out
        out.append(ws.arm.vnet_id)
        out.extend(sid for sid, _, _ in subnet_ids(ws.arm))
        if ws.network is not None:
            out.extend(sub.nsg_id for sub in ws.network.subnets if sub.nsg_id)
        return list(dict.fromkeys(out))

    @classmethod
    def from_states(cls, states: Iterable[WorkspaceState]) -> Topology:
        topo = cls()
        for ws in states:
            for rid in cls.resources_of(ws):
                topo.add(rid, ws.resource_id)
        return topo
