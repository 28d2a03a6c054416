"""What a sweep listed, handed to its workers through the `scans` table (issue 14 §3).

A scan request is untrusted (anyone who may send to `scan-requests` can write one), so a sweep embeds no
document in it. Instead the sweep writes, per workspace, the documents it listed: the workspace itself and
the VNet (with its subnets) and NSGs its subnets name, from one paged list per subscription. Only the app
identity can write the `scans` table (Storage Table Data Contributor on that table alone,
infra/modules/rbac.bicep), so a row here is as trustworthy as the sweep that wrote it.

Layout: PartitionKey `sweep-listed`, RowKey = key of the workspace id, one row per workspace, replaced by
each sweep (so nothing accumulates; rows of workspaces a later sweep no longer lists are deleted by it).
Columns: `workspace_id`, `scan_id` (the sweep that wrote it), `listed_at` (the store's time before the
listing began, so a document is never older than it claims), `workspace` and `network` as JSON (compressed
and split across columns when large, core/store/keys.py: 64 KB per property, 1 MB per entity), and
`subnet_users`, the workspaces sharing its subnets (DBX-NET-006) from the listing and the topology table,
and `topology_index`, the workspace's topology index row with its ETag, so that its worker makes no
topology read at all.

A reader gets None for anything it cannot use (no row, another sweep's row, too old, unreadable,
not the workspace asked for): the caller then reads ARM itself. Missing here never means missing in Azure.
"""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from core.arm_ids import same_arm_id
from core.store.connection import SCANS_TABLE, TableBound, storage_call
from core.store.keys import get_json, put_json, resource_key
from core.store.topology import IndexRow

log = logging.getLogger("driftwatch")

LISTED_PARTITION = "sweep-listed"
BATCH_ROWS = 100
"""Entities per entity-group transaction (the Table service's limit)."""
BATCH_CHARS = 1_500_000
"""Characters per transaction: strings count twice (UTF-16), under the service's 4 MB payload limit."""
ENTITY_CHARS = 450_000
"""Above this a row would not fit one entity (1 MB, strings in UTF-16): the network part is left out (the
worker GETs it) or, when the workspace alone is that large, the row is not written."""


@dataclass(frozen=True)
class ListedWorkspace:
    """One workspace as a sweep listed it: its document and the network documents its subnets use."""

    workspace: dict[str, Any]
    network: list[dict[str, Any]] = field(default_factory=list)
    listed_at: datetime | None = None
    subnet_users: dict[str, list[str]] | None = None
    """Folded subnet id -> the workspaces injected into it (DBX-NET-006), as the sweep saw them: its listing
    together with the topology table read after it. None: not known (the worker queries the topology)."""
    topology_index: IndexRow | None = None
    """The workspace's topology index row as the sweep read it. Its worker's topology save starts from it
    instead of reading the row (core/store/topology.py `save_workspace`)."""


def valid_scan_id(scan_id: str | None) -> bool:
    """Sweep ids are UUIDs; anything else (a forged or foreign message) is never looked up."""
    if not scan_id or len(scan_id) > 64:
        return False
    try:
        uuid.UUID(scan_id)
    except ValueError:
        return False
    return True


class ListedDocuments(TableBound):
    """The sweep's hand-off of listed documents to its workers (one point read per worker)."""

    table_name = SCANS_TABLE

    def write(self, scan_id: str, listed_at: datetime, rows: Iterable[ListedWorkspace]) -> int:
        """Replace the rows of these workspaces with this sweep's documents; returns the rows written."""
        batch: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
        size = written = 0
        for row in rows:
            entity = self._entity(scan_id, listed_at, row)
            if entity is None:
                continue
            chars = _chars(entity)
            if batch and (len(batch) >= BATCH_ROWS or size + chars > BATCH_CHARS):
                written += self._submit(batch)
                batch, size = [], 0
            batch.append(("upsert", entity, {"mode": _replace()}))
            size += chars
        if batch:
            written += self._submit(batch)
        return written

    def _submit(self, batch: list[tuple[str, dict[str, Any], dict[str, Any]]]) -> int:
        with storage_call("upsert", SCANS_TABLE):
            self.table.submit_transaction(batch)
        return len(batch)

    @staticmethod
    def _entity(scan_id: str, listed_at: datetime, row: ListedWorkspace) -> dict[str, Any] | None:
        wid = row.workspace.get("id")
        if not isinstance(wid, str) or not wid:
            return None
        entity: dict[str, Any] = {"PartitionKey": LISTED_PARTITION, "RowKey": resource_key(wid), "workspace_id": wid,
                                  "scan_id": scan_id, "listed_at": listed_at.astimezone(UTC)}
        try:
            put_json(entity, "workspace", row.workspace)
        except ValueError:
            return None  # too large for one entity: the worker reads it from ARM
        if _chars(entity) > ENTITY_CHARS:
            return None
        if row.subnet_users is not None:
            with contextlib.suppress(ValueError):  # too large: left out, the worker queries the topology
                put_json(entity, "subnet_users", row.subnet_users)
        if row.topology_index is not None:
            with contextlib.suppress(ValueError):  # too large: left out, the worker reads the index row
                put_json(entity, "topology_index", row.topology_index._asdict())
        with_network = dict(entity)
        try:
            put_json(with_network, "network", row.network)
        except ValueError:
            with_network = {}
        if with_network and _chars(with_network) <= ENTITY_CHARS:
            return with_network
        put_json(entity, "network", [])  # the worker GETs its VNet and NSGs
        return entity

    def read(self, workspace_id: str, scan_id: str | None, *, now: datetime, max_age_s: float
             ) -> ListedWorkspace | None:
        """The row this sweep wrote for `workspace_id`, or None when there is none usable (then read ARM)."""
        from azure.core.exceptions import ResourceNotFoundError

        if not valid_scan_id(scan_id):
            return None
        with storage_call("read", SCANS_TABLE):
            try:
                entity = self.table.get_entity(LISTED_PARTITION, resource_key(workspace_id))
            except ResourceNotFoundError:
                return None
        return parse_row(entity, workspace_id, scan_id, now=now, max_age_s=max_age_s)

    def event_since(self, workspace_id: str, since: datetime) -> bool:
        """Whether an event-driven scan of the workspace was claimed or started at or after `since`: its
        marker (core/store/pending.py) was written then. A listed document may predate that change, so the
        worker reads ARM instead. Unknown (no timestamp) counts as yes."""
        from azure.core.exceptions import ResourceNotFoundError

        from core.store.pending import PENDING_PARTITION

        with storage_call("read", SCANS_TABLE):
            try:
                marker = self.table.get_entity(PENDING_PARTITION, resource_key(workspace_id))
            except ResourceNotFoundError:
                return False
        written = marker.metadata.get("timestamp")
        return not isinstance(written, datetime) or written.astimezone(UTC) >= since.astimezone(UTC)

    def remove_other_sweeps(self, scan_id: str) -> int:
        """Delete rows no sweep after `scan_id`'s wrote (workspaces it no longer listed); returns how many."""
        with storage_call("query", SCANS_TABLE):
            stale = [e["RowKey"] for e in self.table.query_entities(
                "PartitionKey eq @pk and scan_id ne @scan", parameters={"pk": LISTED_PARTITION, "scan": scan_id},
                select=["RowKey"])]
        for i in range(0, len(stale), BATCH_ROWS):
            with storage_call("delete", SCANS_TABLE):
                self.table.submit_transaction([("delete", {"PartitionKey": LISTED_PARTITION, "RowKey": rk})
                                               for rk in stale[i:i + BATCH_ROWS]])
        return len(stale)


def parse_row(entity: Mapping[str, Any], workspace_id: str, scan_id: str | None, *, now: datetime,
              max_age_s: float) -> ListedWorkspace | None:
    """Check one stored row; None (with the reason logged) unless it is this sweep's fresh, intact row for the
    workspace asked for."""
    if entity.get("scan_id") != scan_id:
        return None  # another sweep's row (a newer sweep replaced it, or the message is old or forged)
    stored_id = entity.get("workspace_id")
    listed_at = entity.get("listed_at")
    if not isinstance(stored_id, str) or not same_arm_id(stored_id, workspace_id):
        log.warning("listed row for %s names another workspace; reading ARM", workspace_id)
        return None
    if not isinstance(listed_at, datetime):
        log.warning("listed row for %s has no listed_at; reading ARM", workspace_id)
        return None
    age = now.astimezone(UTC) - listed_at.astimezone(UTC)
    if age > timedelta(seconds=max_age_s) or age < -timedelta(seconds=max_age_s):
        return None  # too old to stand for the current state
    try:
        doc = get_json(entity, "workspace")
        network = get_json(entity, "network")
    except (KeyError, ValueError, TypeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        log.warning("listed row for %s is unreadable (%s); reading ARM", workspace_id, type(exc).__name__)
        return None
    except Exception as exc:  # zlib.error, binascii.Error: a damaged row is a miss, never a crash
        log.warning("listed row for %s is unreadable (%s); reading ARM", workspace_id, type(exc).__name__)
        return None
    if not isinstance(doc, dict) or not same_arm_id(str(doc.get("id") or ""), workspace_id):
        log.warning("listed row for %s holds another document; reading ARM", workspace_id)
        return None
    if not isinstance(network, list):
        network = []
    return ListedWorkspace(workspace=doc, network=[d for d in network if isinstance(d, dict)
                                                   and isinstance(d.get("id"), str)], listed_at=listed_at,
                           subnet_users=_subnet_users(entity), topology_index=_topology_index(entity))


def _optional_json(entity: Mapping[str, Any], name: str) -> Any:
    """An optional JSON column, or None when it is absent or damaged (a miss, never a crash)."""
    if entity.get(name) is None and not entity.get(f"{name}_parts"):
        return None
    try:
        return get_json(entity, name)
    except Exception:  # zlib, base64, JSON or a missing part
        return None


def _topology_index(entity: Mapping[str, Any]) -> IndexRow | None:
    """The row's copy of the topology index row, or None (the worker reads the index row itself)."""
    doc = _optional_json(entity, "topology_index")
    if not isinstance(doc, dict):
        return None
    edges, etag, api = doc.get("edges"), doc.get("etag"), doc.get("workspace_api")
    if not isinstance(edges, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in edges.items()):
        return None
    if (etag is not None and not isinstance(etag, str)) or (api is not None and not isinstance(api, dict)):
        return None
    return IndexRow(edges, etag, api)


def _subnet_users(entity: Mapping[str, Any]) -> dict[str, list[str]] | None:
    """The row's subnet sharing, or None when it has none or it is not a map of id lists (then the worker
    queries the topology: unknown is never "shared with nobody")."""
    users = _optional_json(entity, "subnet_users")
    if not isinstance(users, dict) or not all(isinstance(k, str) and isinstance(v, list)
                                              and all(isinstance(w, str) for w in v) for k, v in users.items()):
        return None
    return users


def _chars(entity: Mapping[str, Any]) -> int:
    return sum(len(v) for v in entity.values() if isinstance(v, str))


def _replace() -> Any:
    from azure.data.tables import UpdateMode

    return UpdateMode.REPLACE
