"""Which workspace uses which subnet/NSG/VNet, in the `topology` table (for routing network events).

PartitionKey = key of the lower-cased network resource id, so routing an event is one partition
query; RowKey = key of the workspace id. The original ids are kept as columns.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

from core.store.connection import TOPOLOGY_TABLE, StorageConnection, storage_call
from core.store.keys import resource_key

if TYPE_CHECKING:
    from azure.data.tables import TableClient

    from core.events.topology import Topology


class TopologyStore:
    """Edges network resource -> workspace, replaced per workspace on every scan."""

    def __init__(self, connection: StorageConnection) -> None:
        self.connection = connection
        self._table: TableClient | None = None

    @property
    def table(self) -> TableClient:
        if self._table is None:
            self._table = self.connection.table(TOPOLOGY_TABLE)
        return self._table

    def _edges_of(self, workspace_id: str) -> list[tuple[str, str]]:
        with storage_call("query", TOPOLOGY_TABLE):
            return [(e["PartitionKey"], e["RowKey"]) for e in self.table.query_entities(
                "RowKey eq @wk", parameters={"wk": resource_key(workspace_id)}, select=["PartitionKey", "RowKey"])]

    def save_workspace(self, workspace_id: str, network_resource_ids: Iterable[str]) -> None:
        """Replace this workspace's edges with `network_resource_ids` (upserts, then stale deletes)."""
        from azure.data.tables import UpdateMode

        wk = resource_key(workspace_id)
        wanted = {resource_key(n): n for n in network_resource_ids}
        with storage_call("upsert", TOPOLOGY_TABLE):
            for pk, nid in wanted.items():
                self.table.upsert_entity({"PartitionKey": pk, "RowKey": wk, "network_resource_id": nid,
                                          "workspace_id": workspace_id}, mode=UpdateMode.REPLACE)
        stale = [(pk, rk) for pk, rk in self._edges_of(workspace_id) if pk not in wanted]
        self._delete(stale)

    def _delete(self, keys: Iterable[tuple[str, str]]) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        with storage_call("delete", TOPOLOGY_TABLE):
            for pk, rk in keys:
                with contextlib.suppress(ResourceNotFoundError):
                    self.table.delete_entity(pk, rk)

    def remove_workspace(self, workspace_id: str) -> None:
        self._delete(self._edges_of(workspace_id))

    def workspaces_for(self, network_id: str) -> list[str]:
        with storage_call("query", TOPOLOGY_TABLE):
            ids = [e["workspace_id"] for e in self.table.query_entities(
                "PartitionKey eq @pk", parameters={"pk": resource_key(network_id)}, select=["workspace_id"])]
        return sorted(set(ids), key=str.lower)

    def load(self) -> Topology:
        from core.events.topology import Topology

        topo = Topology()
        with storage_call("query", TOPOLOGY_TABLE):
            for e in self.table.list_entities(select=["network_resource_id", "workspace_id"]):
                topo.add(e["network_resource_id"], e["workspace_id"])
        return topo
