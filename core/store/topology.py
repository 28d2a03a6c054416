"""Which workspace uses which subnet/NSG/VNet, in the `topology` table (for routing network events).

PartitionKey = key of the lower-cased network resource id, so routing an event is one partition
query; RowKey = key of the workspace id. The original ids are kept as columns. Each workspace also
has an index row (PartitionKey `ws-{key}`) listing its edges, so saving or removing them is a point
read instead of a scan across partitions. The index row also keeps how the workspace's last full scan read
its workspace API (the host from its ARM document and the calls), so that an event-driven scan can start
those reads beside its ARM GET (core/service/scanning.py `_prefetch`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

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


class IndexRow(NamedTuple):
    """A workspace's index row: its edges (network key -> network id), the row's ETag (None: no row) and how
    its last full scan read the workspace API (None: not recorded; a JSON object the collector reads back,
    `core.collect.workspace_api.ApiRead`, opaque here)."""

    edges: dict[str, str]
    etag: str | None
    workspace_api: dict[str, Any] | None = None


NO_INDEX_ROW = IndexRow({}, None)


def index_row_of(entity: Mapping[str, Any], etag: str | None) -> IndexRow | None:
    """The index row stored in `entity`, or None when its columns are not what a save writes."""
    import json

    try:
        edges = json.loads(entity.get("edges") or "{}")
    except (TypeError, ValueError):
        return None
    if not isinstance(edges, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in edges.items()):
        return None
    try:
        api = json.loads(entity.get("workspace_api") or "null")
    except (TypeError, ValueError):
        api = None
    return IndexRow(edges, etag, api if isinstance(api, dict) else None)


class TopologyStore(TableBound):
    """Edges network resource -> workspace, updated per workspace from each observation of it."""

    table_name = TOPOLOGY_TABLE

    def _index(self, workspace_id: str) -> dict[str, str] | None:
        """network key -> network id for one workspace: a point read of its index row.

        Without it, finding a workspace's edges is a `RowKey eq` query across every partition, a full
        table scan in Table Storage.
        """
        row = self._index_row(workspace_id)
        return None if row.etag is None else row.edges

    def index_row(self, workspace_id: str) -> IndexRow:
        """The workspace's index row (`NO_INDEX_ROW` when it has none): what `save_workspace(known=...)` can
        start from."""
        return self._index_row(workspace_id)

    def edges_of(self, workspace_id: str) -> list[str]:
        """The network resource ids recorded for one workspace (for tools and tests)."""
        return sorted((self._index(workspace_id) or {}).values(), key=str.lower)

    def _index_row(self, workspace_id: str) -> IndexRow:
        """The workspace's index row; `NO_INDEX_ROW` when it has none (an unreadable one: no edges, its ETag
        kept, so the next save replaces it)."""
        from azure.core.exceptions import ResourceNotFoundError

        with storage_call("read", TOPOLOGY_TABLE):
            try:
                entity = self.table.get_entity(INDEX_PREFIX + resource_key(workspace_id), INDEX_ROW)
            except ResourceNotFoundError:
                return NO_INDEX_ROW
        etag = entity.metadata.get("etag")
        return index_row_of(entity, etag) or IndexRow({}, etag)

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
                       known: IndexRow | None = None, workspace_api: dict[str, Any] | None = None) -> None:
        """Record what this observation says the workspace uses; never drops an edge on missing data.

        Writes only what changed (one point read when nothing did). The index row is replaced with
        an ETag condition, so a sweep and a worker saving the same workspace at once do not lose each
        other's edges: the loser re-reads and merges again.

        `known`: the index row as read earlier (its sweep's `snapshot`, or the event-driven scan's prefetch,
        `index_row`), tried instead of the first read. An old copy never loses an edge: when the
        observation needs a change, the ETag-checked write fails and the row is read again; when the copy
        already matches the observation nothing is written, so an edge someone added since stays until the
        next save (an extra routing edge, not a lost one). A sweep worker gets a copy only from its own
        sweep's row, which it ignores once an event touched the workspace (core/service/handoff.py).

        `workspace_api`: how this scan read the workspace API, kept on the index row (a change is a write);
        None keeps what the row has.
        """
        import json

        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError
        from azure.data.tables import UpdateMode

        wk = resource_key(workspace_id)
        touched: set[str] = set()
        for attempt in range(attempts):
            current = known if attempt == 0 and known is not None else self._index_row(workspace_id)
            wanted = self.wanted_edges(fp, current.edges)
            api = json.loads(json.dumps(workspace_api)) if workspace_api else current.workspace_api  # as read back
            if current.edges == wanted and not touched - set(wanted) and api == current.workspace_api:
                return
            with storage_call("upsert", TOPOLOGY_TABLE):
                for pk, nid in wanted.items():
                    if pk not in current.edges or touched:
                        self.table.upsert_entity({"PartitionKey": pk, "RowKey": wk, "network_resource_id": nid,
                                                  "workspace_id": workspace_id}, mode=UpdateMode.REPLACE)
            touched |= set(wanted)
            self._delete([(pk, wk) for pk in (set(current.edges) | touched) - set(wanted)])
            index = {"PartitionKey": INDEX_PREFIX + wk, "RowKey": INDEX_ROW, "workspace_id": workspace_id,
                     "edges": json.dumps(wanted)}
            if api:
                index["workspace_api"] = json.dumps(api, sort_keys=True)
            with storage_call("upsert", TOPOLOGY_TABLE):
                try:
                    if current.etag is None:
                        self.table.create_entity(index)
                    else:
                        self.table.update_entity(index, mode=UpdateMode.REPLACE, etag=current.etag,
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

    def snapshot(self) -> tuple[Topology, dict[str, IndexRow]]:
        """Every edge, and every workspace's index row (by folded workspace id), in one paged read of the
        table: what a sweep hands its workers (`save_workspace(known=...)`)."""
        from core.arm_ids import arm_fold
        from core.events.topology import Topology

        topo = Topology()
        index: dict[str, IndexRow] = {}
        with storage_call("query", TOPOLOGY_TABLE):
            for e in self.table.list_entities(select=["PartitionKey", "network_resource_id", "workspace_id",
                                                      "edges", "workspace_api"]):
                if e.get("network_resource_id"):
                    topo.add(e["network_resource_id"], e["workspace_id"])
                elif str(e.get("PartitionKey") or "").startswith(INDEX_PREFIX) and e.get("workspace_id"):
                    row = index_row_of(e, e.metadata.get("etag"))
                    if row is not None:  # unreadable: that workspace's worker reads its row itself
                        index[arm_fold(str(e["workspace_id"]))] = row
        return topo, index
