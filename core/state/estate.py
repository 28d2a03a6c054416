"""The `driftwatch.estate/v1` document (ARCHITECTURE 4.3): emulator seed and offline snapshot."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.arm_ids import arm_fold, parse_arm_id_lower
from core.contracts import ESTATE_SCHEMA
from core.state.compute_uc import snapshot_compute_uc
from core.state.families import snapshot_families
from core.state.footprint import NetworkFootprint, footprint, subnet_users
from core.state.lifecycle import failed_reason, not_settled_reason, subscription_skip_reason
from core.state.model import (
    AccessConnectorState,
    ArmExtrasState,
    CollectionError,
    NsgState,
    RbacState,
    WorkspaceArm,
    WorkspaceState,
)
from core.state.parse import (
    LOCKS_MARKER,
    StateError,
    build_network,
    build_workspace_state,
    parse_access_connector,
    parse_dns_zone_groups,
    parse_locks,
    parse_workspace_api,
    parse_workspace_arm,
)
from core.state.rbac import (
    ROLE_ASSIGNMENT_TYPE,
    ROLE_DEFINITION_TYPE,
    is_at_or_above,
    parse_role_assignment,
    parse_role_definition,
    scope_of_assignment,
    scope_of_definition,
)

WORKSPACE_TYPE = "microsoft.databricks/workspaces"
DIAG_MARKER = "/providers/microsoft.insights/diagnosticsettings/"
ZONE_GROUP_MARKER = "/privatednszonegroups/"


class SnapshotError(StateError):
    """A snapshot/seed file that cannot be used; names the file and field."""


@dataclass
class Estate:
    """A parsed estate: raw documents indexed by lower-cased id, plus workspace-API payloads."""

    subscriptions: list[dict[str, Any]]
    resources: dict[str, dict[str, Any]]
    databricks: dict[str, dict[str, Any]]
    source: str = "<estate>"
    observed_at_ms: int | None = None
    """The "now" of time-relative checks (DBX-TOKEN-004 staleness): when the snapshot is evaluated."""
    _diag: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _locks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Lower-cased scope id -> the Microsoft.Authorization/locks documents on it."""
    _zone_groups: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Lower-cased private endpoint id -> its privateDnsZoneGroups documents."""
    skipped: list[dict[str, str]] = field(default_factory=list)
    """Filled by `workspace_states`: `{resource_id, reason}` not evaluated, as `driftwatch scan` would skip them."""

    def lookup(self, resource_id: str) -> dict[str, Any] | None:
        return self.resources.get(arm_fold(resource_id))

    def workspace_docs(self) -> list[dict[str, Any]]:
        return [d for d in self.resources.values() if str(d.get("type", "")).lower() == WORKSPACE_TYPE]

    def diagnostics_for(self, workspace_id: str) -> list[dict[str, Any]]:
        return self._diag.get(arm_fold(workspace_id), [])

    def rbac_for(self, workspace_id: str) -> RbacState:
        """What ARM would list for the workspace: role assignments at or above it (`$filter=atScope()`) and
        the role definitions at or above it (RoleDefinitions_List at the workspace scope)."""
        assignments = [d for d in self.resources.values()
                       if str(d.get("type", "")).lower() == ROLE_ASSIGNMENT_TYPE
                       and is_at_or_above(scope_of_assignment(d) or "//", workspace_id)]
        definitions = [d for d in self.resources.values() if str(d.get("type", "")).lower() == ROLE_DEFINITION_TYPE
                       and is_at_or_above(scope_of_definition(str(d["id"])), workspace_id)]
        where = f"{self.source}: resources"
        return RbacState(assignments=tuple(parse_role_assignment(d, f"{where}: {d.get('id')}") for d in assignments),
                         definitions=tuple(parse_role_definition(d, f"{where}: {d.get('id')}") for d in definitions))

    def arm_extras_for(self, workspace_id: str, arm: WorkspaceArm) -> ArmExtrasState:
        """The extra ARM parts as the live collector reads them, from the snapshot's documents: the access
        connector, the locks on the workspace and its parents (as ManagementLocks_ListAtResourceLevel lists
        them) and each private endpoint's DNS zone groups."""
        cid = arm.access_connector_id
        connector = (parse_access_connector(cid, self.lookup(cid)) if cid
                     else AccessConnectorState(id="", found=False))
        parts = workspace_id.split("/")
        scopes = [workspace_id, "/".join(parts[:5]), "/".join(parts[:3])]
        where = f"{self.source}: resources"
        locks = parse_locks([d for sc in scopes for d in self._locks.get(sc.lower(), [])], where)
        dns = {pe.casefold(): parse_dns_zone_groups(self._zone_groups.get(pe.lower(), []), where)
               for pe in dict.fromkeys(p.private_endpoint_id for p in arm.private_endpoint_connections
                                       if p.private_endpoint_id)}
        return ArmExtrasState(access_connector=connector, locks=locks, private_dns=dns)

    def parsed_workspaces(self) -> list[tuple[dict[str, Any], WorkspaceArm | StateError]]:
        out: list[tuple[dict[str, Any], WorkspaceArm | StateError]] = []
        for doc in self.workspace_docs():
            try:
                out.append((doc, parse_workspace_arm(doc)))
            except StateError as exc:
                out.append((doc, exc))
        return out

    @staticmethod
    def subnet_users(parsed: list[tuple[dict[str, Any], WorkspaceArm | StateError]]) -> dict[str, list[str]]:
        """Lower-cased subnet id -> the workspaces injected into it (for DBX-NET-006 sharing)."""
        return subnet_users((str(doc["id"]), arm) for doc, arm in parsed if isinstance(arm, WorkspaceArm))

    def _subscription_skips(self) -> dict[str, str]:
        out = {}
        for sub in self.subscriptions:
            reason = subscription_skip_reason(sub.get("state"))
            if reason is not None:
                out[str(sub.get("subscriptionId", "")).lower()] = reason
        return out

    def network_footprints(self) -> list[tuple[str, NetworkFootprint]]:
        """(workspace id, footprint) of every parseable workspace, settled or not: the routing map."""
        out = []
        nsg_cache: dict[str, NsgState] = {}
        for doc, arm in self.parsed_workspaces():
            if isinstance(arm, WorkspaceArm):
                rid = str(doc["id"])
                out.append((rid, footprint(arm, build_network(arm, rid, self.lookup, nsg_cache=nsg_cache), rid)))
        return out

    def workspace_states(self) -> tuple[list[WorkspaceState], list[dict[str, str]]]:
        """Every workspace's state; a workspace whose API payload is absent gets no workspace_api.

        Returns (states, errors) where errors name workspaces that could not be built at all.
        """
        states: list[WorkspaceState] = []
        errors: list[dict[str, str]] = []
        self.skipped = []
        parsed = self.parsed_workspaces()
        users = self.subnet_users(parsed)
        nsg_cache: dict[str, NsgState] = {}
        sub_skips = self._subscription_skips()
        for doc, arm in parsed:
            rid = str(doc.get("id"))
            sub_reason = sub_skips.get([*rid.split("/"), "", "", ""][2].lower())
            if sub_reason is not None:
                self.skipped.append({"resource_id": rid, "reason": sub_reason})
                continue
            try:
                if isinstance(arm, StateError):
                    raise arm
                reason = not_settled_reason(arm)
                if reason is not None:
                    self.skipped.append({"resource_id": rid, "reason": reason})
                    continue
                failed = failed_reason(arm)
                if failed is not None:
                    states.append(build_workspace_state(doc, self.lookup, diagnostics=None, workspace_api=None,
                                                        read_network=False, arm=arm, errors=[CollectionError(
                                                            stage="arm", message=failed, related_resource_id=rid)]))
                    continue
                api = None
                errs: list[CollectionError] = []
                host = (arm.workspace_url or "").lower()
                payload = self.databricks.get(host) if host else None
                if payload is not None:
                    where = f"{self.source}: databricks.{host}"
                    api = parse_workspace_api(payload.get("workspace_conf"), payload.get("ip_access_lists"),
                                              payload.get("tokens"), where=where)
                    api = api.model_copy(update={**snapshot_families(payload, where),
                                                 **snapshot_compute_uc(payload, where),
                                                 "observed_at_ms": payload.get("observed_at") or self.observed_at_ms})
                else:
                    errs.append(CollectionError(
                        stage="workspace_api",
                        message=(f"no workspace API state for {host or '(no workspaceUrl)'} in the snapshot"),
                    ))
                rbac: RbacState | None = None
                try:
                    rbac = self.rbac_for(rid)
                except StateError as exc:  # only DBX-IAM-002 goes unevaluated (DBX-EVAL-001 role_assignments)
                    errs.append(CollectionError(stage="rbac", message=f"malformed: {exc}", related_resource_id=rid))
                state = build_workspace_state(
                    doc, self.lookup, diagnostics=self.diagnostics_for(rid), workspace_api=api,
                    subnet_users=users, errors=errs, arm=arm, nsg_cache=nsg_cache,
                )
                states.append(state.model_copy(update={"rbac": rbac, "arm_extras": self.arm_extras_for(rid, arm)}))
            except StateError as exc:
                errors.append({"resource_id": rid, "stage": "parse", "message": str(exc)})
        return states, errors


def _merge_children(resources: dict[str, dict[str, Any]], source: str) -> None:
    """Fold standalone subnets / security rules into their parent's embedded list (standalone wins)."""
    child_types = {"microsoft.network/virtualnetworks/subnets": "subnets",
                   "microsoft.network/networksecuritygroups/securityrules": "securityRules"}
    for rid, doc in list(resources.items()):
        key = child_types.get(str(doc.get("type", "")).lower())
        if not key or parse_arm_id_lower(rid).get("last_child_num") != 1:
            continue
        parent_id = rid.rsplit("/", 2)[0]
        parent = resources.get(parent_id)
        if parent is None:
            continue
        raw_props = parent.get("properties") or {}
        if not isinstance(raw_props, Mapping):
            raise SnapshotError(f"{source}: resources: {parent_id}: properties: expected an object, "
                                f"got {type(raw_props).__name__}")
        props = dict(raw_props)
        parent["properties"] = props
        raw_children = props.get(key) or []
        if not isinstance(raw_children, list):
            raise SnapshotError(f"{source}: resources: {parent_id}: properties.{key}: expected a list, "
                                f"got {type(raw_children).__name__}")
        embedded = [c for c in raw_children
                    if not (isinstance(c, Mapping)
                            and str(c.get("name", "")).lower() == str(doc.get("name", "")).lower())]
        embedded.append(doc)
        props[key] = embedded


def parse_estate(data: Any, source: str = "<estate>") -> Estate:
    """Validate a driftwatch.estate/v1 document and index it; SnapshotError names the field.

    The schema is `core/contracts/estate_v1.py`, the one the emulator validates its seeds with.
    """
    if not isinstance(data, Mapping):
        raise SnapshotError(f"{source}: (document): expected an object with schema {ESTATE_SCHEMA}, "
                            f"got {type(data).__name__}")
    # Built on first use: a live scan never reads a snapshot, and the models cost ~0.1 s CPU to build.
    from core.contracts.estate_v1 import EstateError, validate_estate

    try:
        validate_estate(dict(data), source)
    except EstateError as exc:
        raise SnapshotError(str(exc)) from None
    resources: dict[str, dict[str, Any]] = {}
    diag: dict[str, list[dict[str, Any]]] = defaultdict(list)
    locks: dict[str, list[dict[str, Any]]] = defaultdict(list)
    zone_groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for raw in data.get("resources") or []:
        d = dict(raw)  # validated above; shallow copy so folding children never edits the caller's data
        d.setdefault("name", str(d["id"]).rstrip("/").rsplit("/", 1)[1])  # ARM always returns it
        lid = arm_fold(str(d["id"]))
        resources[lid] = d
        if DIAG_MARKER in lid:
            diag[lid.split(DIAG_MARKER, 1)[0]].append(d)
        elif LOCKS_MARKER in lid:
            locks[lid.rsplit(LOCKS_MARKER, 1)[0]].append(d)
        elif ZONE_GROUP_MARKER in lid and "/providers/microsoft.network/privateendpoints/" in lid:
            zone_groups[lid.rsplit(ZONE_GROUP_MARKER, 1)[0]].append(d)
    _merge_children(resources, source)
    return Estate(
        subscriptions=[dict(s) for s in data.get("subscriptions") or []],
        resources=resources,
        databricks={h.lower(): dict(v) for h, v in (data.get("databricks") or {}).items()},
        source=source,
        observed_at_ms=int(time.time() * 1000),  # a snapshot is judged as of when it is evaluated
        _diag=dict(diag),
        _locks=dict(locks),
        _zone_groups=dict(zone_groups),
    )


def load_estate(path: str | Path) -> Estate:
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SnapshotError(f"{p}: file not found") from None
    except UnicodeDecodeError as exc:
        raise SnapshotError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise SnapshotError(f"{p}: line {exc.lineno}, column {exc.colno}: not valid JSON ({exc.msg})") from None
    except ValueError as exc:  # e.g. an integer literal over Python's 4300-digit conversion limit
        raise SnapshotError(f"{p}: not valid JSON ({str(exc)[:200]})") from None
    except (OSError, RecursionError) as exc:
        raise SnapshotError(f"{p}: cannot read ({exc.__class__.__name__})") from None
    return parse_estate(data, str(p))
