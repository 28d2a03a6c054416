"""Which workspace uses which subnet/NSG/VNet, in the `topology` table (for routing network events).

PartitionKey = key of the lower-cased network resource id, so routing an event is one partition
query; RowKey = key of the workspace id. The original ids are kept as columns. Each workspace also
has an index row (PartitionKey `ws-{key}`) listing its edges, so saving or removing them is a point
read instead of a scan across partitions.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from core.state.footprint import NetworkFootprint
from core.store.connection import TOPOLOGY_TABLE, TableBound, storage_call
from core.store.errors import StoreError
from core.store.keys import resource_key

if TYPE_CHECKING:
    from core.events.topology import Topology

_NSG_SEGMENT = "/providers/microsoft.network/networksecuritygroups/"


def is_nsg_id(network_resource_id: str) -> bool:
    return _NSG_SEGMENT in network_resource_id.lower()


INDEX_PREFIX = "ws-"
INDEX_ROW = "edges"


class TopologyStore(TableBound):
    """Edges network resource -> workspace, updated per workspace from each observation of it."""

    table_name = TOPOLOGY_TABLE

    def _index(self, workspace_id: str) -> dict[str, str] | None:
        """network key -> network id for one workspace: a point read of its index row.

        Without it, finding a workspace's edges is a `RowKey eq` query across every partition, a full
        table scan in Table Storage.
        """
        edges, etag = self._index_row(workspace_id)
        return None if etag is None else edges

    def index_row(self, workspace_id: str) -> tuple[dict[str, str], str | None]:
        """(network key -> network id, ETag) of the workspace's index row; ({}, None) when it has none: what
        `save_workspace(known=...)` can start from."""
        return self._index_row(workspace_id)

    def edges_of(self, workspace_id: str) -> list[str]:
        """The network resource ids recorded for one workspace (for tools and tests)."""
        return sorted((self._index(workspace_id) or {}).values(), key=str.lower)

    def _index_row(self, workspace_id: str) -> tuple[dict[str, str], str | None]:
        """(network key -> network id, ETag) of the workspace's index row; ({}, None) when it has none."""
        import json

        from azure.core.exceptions import ResourceNotFoundError

        with storage_call("read", TOPOLOGY_TABLE):
            try:
                row = self.table.get_entity(INDEX_PREFIX + resource_key(workspace_id), INDEX_ROW)
            except ResourceNotFoundError:
                return {}, None
        edges = json.loads(row.get("edges") or "{}")
        return (edges if isinstance(edges, dict) else {}), row.metadata.get("etag")

    @staticmethod
    def wanted_edges(fp: NetworkFootprint, current: Mapping[str, str]) -> dict[str, str]:
        """The edges to keep after an observation: replace what it saw, keep what it could not see.

        The VNet and subnets come from the workspace document, so they are always observed. NSG
        edges are replaced only when the subnets' NSG associations were read (`fp.nsgs_observed`);
        otherwise the current NSG edges stay, plus any NSG the footprint names.
        """
        wanted = {resource_key(n): n for n in fp.resource_ids()}
        if not fp.nsgs_observed:
            for pk, nid in current.items():
                if is_nsg_id(nid):
                    wanted.setdefault(pk, nid)
        return wanted

    def save_workspace(self, workspace_id: str, fp: NetworkFootprint, *, attempts: int = 5,
                       known: tuple[dict[str, str], str | None] | None = None) -> None:
        """Record what this observation says the workspace uses; never drops an edge on missing data.

        Writes only what changed (one point read when nothing did). The index row is replaced with
        an ETag condition, so a sweep and a worker saving the same workspace at once do not lose each
        other's edges: the loser re-reads and merges again.

        `known`: the index row (edges, ETag; None ETag = no row) as read earlier (its sweep's `snapshot`, or
        the event-driven scan's network prefetch, `index_row`), tried instead of the first read. An old copy
        never loses an edge: when the observation needs a change, the ETag-checked write fails and the row
        is read again; when the copy already matches the observation nothing is written, so an edge someone
        added since stays until the next save (an extra routing edge, not a lost one). A sweep worker gets a
        copy only from its own sweep's row, which it ignores once an event touched the workspace
        (core/service/handoff.py).
        """
        import json

        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError
        from azure.data.tables import UpdateMode

        wk = resource_key(workspace_id)
        touched: set[str] = set()
        for attempt in range(attempts):
            current, etag = (dict(known[0]), known[1]) if attempt == 0 and known is not None \
                else self._index_row(workspace_id)
            wanted = self.wanted_edges(fp, current)
            if current == wanted and not touched - set(wanted):
                return
            with storage_call("upsert", TOPOLOGY_TABLE):
                for pk, nid in wanted.items():
                    if pk not in current or touched:
                        self.table.upsert_entity({"PartitionKey": pk, "RowKey": wk, "network_resource_id": nid,
                                                  "workspace_id": workspace_id}, mode=UpdateMode.REPLACE)
            touched |= set(wanted)
            self._delete([(pk, wk) for pk in (set(current) | touched) - set(wanted)])
            index = {"PartitionKey": INDEX_PREFIX + wk, "RowKey": INDEX_ROW, "workspace_id": workspace_id,
                     "edges": json.dumps(wanted)}
            with storage_call("upsert", TOPOLOGY_TABLE):
                try:
                    if etag is None:
                        self.table.create_entity(index)
                    else:
                        self.table.update_entity(index, mode=UpdateMode.REPLACE, etag=etag,
                                                 match_condition=MatchConditions.IfNotModified)
                except (ResourceExistsError, ResourceModifiedError):
                    continue  # another save won the race: merge with what it wrote
            return
        raise StoreError("upsert", TOPOLOGY_TABLE, f"topology of {workspace_id} kept changing under concurrent saves")

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
        """Every edge (one paged read of the table)."""
        return self.snapshot()[0]

    def snapshot(self) -> tuple[Topology, dict[str, tuple[dict[str, str], str | None]]]:
        """Every edge, and every workspace's index row (folded workspace id -> (edges, ETag)), in one paged
        read of the table: what a sweep hands its workers (`save_workspace(known=...)`)."""
        import json

        from core.arm_ids import arm_fold
        from core.events.topology import Topology

        topo = Topology()
        index: dict[str, tuple[dict[str, str], str | None]] = {}
        with storage_call("query", TOPOLOGY_TABLE):
            for e in self.table.list_entities(select=["PartitionKey", "network_resource_id", "workspace_id",
                                                      "edges"]):
                if e.get("network_resource_id"):
                    topo.add(e["network_resource_id"], e["workspace_id"])
                elif str(e.get("PartitionKey") or "").startswith(INDEX_PREFIX) and e.get("workspace_id"):
                    try:
                        edges = json.loads(e.get("edges") or "{}")
                    except ValueError:
                        continue  # unreadable: that workspace's worker reads its row itself
                    if isinstance(edges, dict) and all(isinstance(k, str) and isinstance(v, str)
                                                       for k, v in edges.items()):
                        index[arm_fold(str(e["workspace_id"]))] = (edges, e.metadata.get("etag"))
        return topo, index
