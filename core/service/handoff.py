"""The sweep's hand-off of listed documents to its workers (issue 14 §3), through the `scans` table.

A sweep lists workspaces per subscription and, where network rules are on, VNets (with their subnets) and
NSGs per subscription (paged), instead of a GET per workspace. A scan request is untrusted, so those
documents travel through a table only the app can write (core/store/listed.py); the worker of that sweep
reads its row with one point read instead of GETting its workspace, VNet and NSGs from ARM.

The worker reads ARM as before whenever the row cannot stand for the current state: not a sweep's first
attempt (re-checks, events), another sweep's row, older than `Runtime.listed_max_age_s`, unreadable, or an
event touched the workspace since the listing (its coalescing marker was written after it). Anything the
row lacks (a list that failed, a resource created since) the collector GETs. An event-driven scan never
uses it and reads only its own workspace's resources.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from core.arm_ids import arm_fold
from core.service.messages import ScanRequest
from core.service.runtime import Runtime
from core.state.footprint import subnet_ids

if TYPE_CHECKING:
    from core.collect import EstateCollector
    from core.events.topology import Topology
    from core.state.model import WorkspaceArm
    from core.store.listed import ListedWorkspace
    from core.store.topology import IndexRow

log = logging.getLogger("driftwatch")


def hand_off(rt: Runtime, collector: EstateCollector, scan_id: str, listed_at: datetime,
             parsed: list[tuple[dict[str, Any], WorkspaceArm]]) -> int:
    """List the network the workers will read, then write one row per workspace; returns the rows written.

    A failure here costs only calls: the workers then read ARM themselves.
    """
    from core.store import StoreError
    from core.store.listed import ListedDocuments, ListedWorkspace

    collector.prefetch_network([doc for doc, _ in parsed], min_per_subscription=1)
    snapshot = _topology_snapshot(rt)
    sharing = None if snapshot is None else subnet_sharing(snapshot[0], parsed)
    rows = [ListedWorkspace(workspace=doc, network=collector.listed_network(arm),
                            subnet_users=None if sharing is None else
                            {arm_fold(sid): sharing.get(arm_fold(sid), []) for sid, _, _ in subnet_ids(arm)},
                            # None for a workspace without an index row yet: this sweep's own topology
                            # save creates it after this, so its worker reads the row as before.
                            topology_index=None if snapshot is None else
                            snapshot[1].get(arm_fold(str(doc.get("id") or ""))))
            for doc, arm in parsed]
    listed = ListedDocuments(rt.connection)
    try:
        return listed.write(scan_id, listed_at, rows)
    except StoreError as exc:
        log.warning("sweep %s could not hand its listed documents to the workers (%s); they read ARM", scan_id, exc)
        return 0


def _topology_snapshot(rt: Runtime) -> tuple[Topology, dict[str, IndexRow]] | None:
    """The topology table in one paged read (core/store/topology.py `snapshot`), or None when it cannot be
    read: then each worker reads the topology itself, as before."""
    from core.store import StoreError

    try:
        return rt.topology().snapshot()
    except StoreError as exc:
        log.warning("sweep could not read the topology (%s); workers read it themselves", exc)
        return None


def subnet_sharing(known: Topology, parsed: list[tuple[dict[str, Any], WorkspaceArm]]) -> dict[str, list[str]]:
    """Folded subnet id -> every workspace injected into it: those this sweep listed, with those the topology
    table records (one paged read of the table instead of two queries per worker).

    A worker uses this only through its sweep row, which it ignores when an event touched its workspace
    after the listing; otherwise sharing as of the sweep is what a worker would have found right after it
    (the sweep records every listed workspace's subnets before any worker runs)."""
    users: dict[str, dict[str, str]] = {}
    for doc, arm in parsed:
        wid = str(doc.get("id") or "")
        for sid, _, _ in subnet_ids(arm):
            key = arm_fold(sid)
            found = users.setdefault(key, {arm_fold(w): w for w in known.workspaces_for(sid)})
            found.setdefault(arm_fold(wid), wid)
    return {sid: sorted(by_id.values(), key=str.lower) for sid, by_id in users.items()}


def remove_stale(rt: Runtime, scan_id: str) -> None:
    """Drop the rows of workspaces this sweep no longer listed (best effort: a stale row is never used)."""
    from core.store import StoreError
    from core.store.listed import ListedDocuments

    try:
        ListedDocuments(rt.connection).remove_other_sweeps(scan_id)
    except StoreError as exc:
        log.warning("sweep %s could not remove older listed rows (%s)", scan_id, exc)


def listed_for(rt: Runtime, req: ScanRequest, families: frozenset[str] | None, now: datetime
               ) -> ListedWorkspace | None:
    """The sweep's row for this request when it may stand for the current state, else None (read ARM)."""
    from core.store import StoreError
    from core.store.listed import ListedDocuments, valid_scan_id

    if req.source != "sweep" or req.settle_attempt or req.coalesced or families is not None \
            or not valid_scan_id(req.scan_id):
        return None
    listed = ListedDocuments(rt.connection)
    try:
        row = listed.read(req.workspace_id, req.scan_id, now=now, max_age_s=rt.listed_max_age_s)
        if row is None or row.listed_at is None or listed.event_since(req.workspace_id, row.listed_at):
            return None
    except StoreError as exc:
        log.warning("listed row for %s could not be read (%s); reading ARM", req.workspace_id, exc)
        return None
    return row
