"""Which workspace uses which subnet/NSG/VNet, in the `topology` table (for routing network events).

PartitionKey = key of the lower-cased network resource id, so routing an event is one partition
query; RowKey = key of the workspace id. The original ids are kept as columns. Each workspace also
has an index row (PartitionKey `ws-{key}`) listing its edges, so saving or removing them is a point
read instead of a scan across partitions.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

from core.store.connection import TOPOLOGY_TABLE, TableBound, storage_call
from core.store.keys import resource_key

if TYPE_CHECKING:

    from core.events.topology import Topology


INDEX_PREFIX = "ws-"
INDEX_ROW = "edges"


class TopologyStore(TableBound):
    """Edges network resource -> workspace, replaced per workspace on every scan."""

    table_name = TOPOLOGY_TABLE

    def _index(self, workspace_id: str) -> dict[str, str] | None:
        """network key -> network id for one workspace: a point read of its index row.

        Without it, finding a workspace's edges is a `RowKey eq` query across every partition, a full
        table scan in Table Storage.
        """
        import json

        from azure.core.exceptions import ResourceNotFoundError

        with storage_call("read", TOPOLOGY_TABLE):
            try:
                row = self.table.get_entity(INDEX_PREFIX + resource_key(workspace_id), INDEX_ROW)
            except ResourceNotFoundError:
                return None
        edges = json.loads(row.get("edges") or "{}")
        return edges if isinstance(edges, dict) else {}

    def save_workspace(self, workspace_id: str, network_resource_ids: Iterable[str]) -> None:
        """Replace this workspace's edges; writes only what changed (one point read when nothing did)."""
        import json

        from azure.data.tables import UpdateMode

        wk = resource_key(workspace_id)
        wanted = {resource_key(n): n for n in network_resource_ids}
        current = self._index(workspace_id) or {}
        if current == wanted:
            return
        with storage_call("upsert", TOPOLOGY_TABLE):
            for pk, nid in wanted.items():
                if pk not in current:
                    self.table.upsert_entity({"PartitionKey": pk, "RowKey": wk, "network_resource_id": nid,
                                              "workspace_id": workspace_id}, mode=UpdateMode.REPLACE)
        self._delete([(pk, wk) for pk in current if pk not in wanted])
        with storage_call("upsert", TOPOLOGY_TABLE):
            self.table.upsert_entity({"PartitionKey": INDEX_PREFIX + wk, "RowKey": INDEX_ROW,
                                      "workspace_id": workspace_id, "edges": json.dumps(wanted)},
                                     mode=UpdateMode.REPLACE)

    def _delete(self, keys: Iterable[tuple[str, str]]) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        with storage_call("delete", TOPOLOGY_TABLE):
            for pk, rk in keys:
                with contextlib.suppress(ResourceNotFoundError):
                    self.table.delete_entity(pk, rk)

    def remove_workspace(self, workspace_id: str) -> None:
        wk = resource_key(workspace_id)
        edges = self._index(workspace_id) or {}
        self._delete([(pk, wk) for pk in edges] + [(INDEX_PREFIX + wk, INDEX_ROW)])

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
                if e.get("network_resource_id"):
                    topo.add(e["network_resource_id"], e["workspace_id"])
        return topo
