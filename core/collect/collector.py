"""Collect WorkspaceState for many workspaces, reading only what the baseline needs.

- Discovery lists workspaces per subscription; each page already carries full properties, so there
  is no GET per workspace after it.
- What else is read comes from the rules: each declares the parts of the state it reads (`core.state.reads`),
  the shell passes in a planner that unions them for the rules that are on (`core.rules.read_plan`), and
  this module maps each part to its calls (VNet and NSGs, diagnostic settings, role assignments, the
  workspace-API families). It names no rule.
- A VNet or NSG shared by several workspaces is read once per scan (single-flight cache).
- An estate scan (`core.scan.run_scan` without workspace ids) lists the VNets (with their subnets) and
  NSGs of the subscriptions its workspaces use, one paged list each instead of a GET per resource
  (`prefetch_network`); its collection threads read them from the cache. Anything a list did not
  return (failed, another subscription, created since) is read with its own GET, so missing list data
  never resolves anything. A scan of one workspace reads only its own resources.
- Concurrency is bounded overall and per subscription.
- Failures become CollectionErrors (-> DBX-EVAL-001/002), never silence. Whether a workspace was
  deleted is decided only from the workspace resource itself (a 404 on one of its extension
  resources is not proof), and a deleted one is reported as deleted, not as an error.
- Subscriptions ARM does not serve and workspaces whose ARM operation is still in flight are
  *skipped* with a reason (`core.state.lifecycle`), never silently dropped.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from core.arm_ids import parse_arm_id
from core.baseline.load import Baseline, EffectiveBaseline, WorkspaceIdentity
from core.collect.arm import ArmReader, ArmReadError
from core.collect.compute_uc import ComputeUcNeeds
from core.collect.config import CollectConfig
from core.collect.parallel import run_all
from core.collect.workspace_api import ApiNeeds, ApiRead, WorkspaceApiError, read_workspace_api
from core.collect.workspace_families import FamilyNeeds
from core.state.footprint import subnet_ids, subnet_users
from core.state.lifecycle import failed_reason, not_settled_reason, subscription_skip_reason
from core.state.model import (
    AccessConnectorState,
    ArmExtrasState,
    CollectionError,
    RbacState,
    WorkspaceApiState,
    WorkspaceArm,
    WorkspaceState,
)
from core.state.parse import (
    StateError,
    build_workspace_state,
    parse_access_connector,
    parse_dns_zone_groups,
    parse_locks,
    parse_workspace_arm,
    workspace_identity_fields,
)
from core.state.rbac import parse_rbac
from core.state.reads import ARM_EXTRAS, Read, ReadPlan


class ReadPlanner(Protocol):
    """What the rules that are on read for a workspace (`core.rules.read_plan`); the shell passes it in, so the
    collector fetches from the rules' declarations without knowing any rule."""

    def __call__(self, eff: EffectiveBaseline, *, arm: WorkspaceArm | None = None,
                 families: frozenset[str] | None = None) -> ReadPlan: ...


def api_needs(plan: ReadPlan) -> ApiNeeds:
    """The workspace-API calls that serve `plan` (nothing in it for the workspace API -> no call at all)."""
    parts = plan.parts
    return ApiNeeds(
        conf_keys=plan.conf_keys if Read.WORKSPACE_CONF in parts else (),
        ip_access_lists=Read.IP_ACCESS_LISTS in parts,
        tokens=Read.TOKENS in parts,
        families=FamilyNeeds(
            token_permissions=Read.TOKEN_PERMISSIONS in parts,
            settings_types=plan.settings_types if Read.WORKSPACE_SETTINGS in parts else (),
            secret_scopes=Read.SECRET_SCOPES in parts, secret_acls=Read.SECRET_ACLS in parts,
            scim=Read.SCIM in parts),
        compute_uc=ComputeUcNeeds(**{name: Read(name) in parts for name in ComputeUcNeeds.__dataclass_fields__}))


def arm_part_needs(plan: ReadPlan) -> frozenset[str]:
    """The extra ARM reads (`WorkspaceState.arm_extras` parts) that serve `plan`."""
    return frozenset(r.value for r in plan.parts & ARM_EXTRAS)


@dataclass
class CollectResult:
    states: list[WorkspaceState] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    """Subscriptions or workspaces that could not be collected at all (ARCHITECTURE 4.1 `errors`)."""
    deleted: list[str] = field(default_factory=list)
    """Workspaces that disappeared between listing and reading (skipped, not errors)."""
    subscriptions: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    """`{resource_id, reason}`: subscriptions ARM does not serve, workspaces not settled (ARCHITECTURE 4.1)."""


@dataclass(frozen=True)
class Skipped:
    """A workspace that is not evaluated this round, and why (e.g. `provisioningState Updating`)."""

    resource_id: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"resource_id": self.resource_id, "reason": self.reason}


def identity_from_doc(doc: dict[str, Any]) -> WorkspaceIdentity:
    f = workspace_identity_fields(doc)
    return WorkspaceIdentity(resource_id=f["resource_id"], name=f["name"], subscription_id=f["subscription_id"],
                             resource_group=f["resource_group"], tags=f["tags"])


def identity_from_id(resource_id: str) -> WorkspaceIdentity:
    """What a workspace's id alone tells of its identity (no tags: those come with its document)."""
    parts = parse_arm_id(resource_id)
    return WorkspaceIdentity(resource_id=resource_id, name=str(parts.get("name") or ""),
                             subscription_id=str(parts.get("subscription") or ""),
                             resource_group=str(parts.get("resource_group") or ""))


def unreadable_state(resource_id: str, cause: str) -> WorkspaceState:
    """A workspace whose own ARM document could not be read: DBX-EVAL-001, nothing else evaluated."""
    parts = parse_arm_id(resource_id)
    return WorkspaceState(resource_id=resource_id, name=str(parts.get("name") or resource_id),
                          subscription_id=str(parts.get("subscription") or ""),
                          resource_group=str(parts.get("resource_group") or ""), arm=None,
                          errors=(CollectionError(stage="arm", message=cause, related_resource_id=resource_id),))


class EstateCollector:
    """One scan's collector: owns the ARM client, the shared-resource cache and the thread pool."""

    def __init__(self, config: CollectConfig, baseline: Baseline, arm: ArmReader | None = None, *,
                 plan: ReadPlanner) -> None:
        self.config = config
        self.baseline = baseline
        self.plan = plan
        """Decides what is read for each workspace (from the rules' declared inputs)."""
        self.arm = arm or ArmReader(config)
        self._cache: dict[str, Future[dict[str, Any] | None]] = {}
        self._cache_lock = threading.Lock()
        self._sub_limits: dict[str, threading.Semaphore] = defaultdict(
            lambda: threading.Semaphore(config.per_subscription_concurrency))
        self._sub_lock = threading.Lock()
        self._early: dict[tuple[str, str], tuple[object, Future[Any]]] = {}
        """(part, folded workspace id) -> (what the read was for, its future): `speculate`'s reads."""
        self._early_lock = threading.Lock()
        self._api_reads: dict[str, ApiRead] = {}
        """Folded workspace id -> how a full collection of it read the workspace API (`api_read`)."""

    def close(self) -> None:
        self.arm.close()

    def __enter__(self) -> EstateCollector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- discovery -------------------------------------------------------------------------------
    def discover(self, subscriptions: Sequence[str] | None = None) -> tuple[list[dict[str, Any]], CollectResult]:
        """Every workspace document of the given subscriptions (default: every one ARM serves)."""
        result = CollectResult()
        if subscriptions:
            subs = list(dict.fromkeys(subscriptions))
        else:
            try:
                listed = self.arm.list_subscriptions()
            except ArmReadError as exc:
                result.errors.append({"resource_id": "/subscriptions", "stage": "discovery", "message": exc.cause})
                return [], result
            subs = []
            for s in listed:
                reason = subscription_skip_reason(s.get("state"))
                if reason is None:
                    subs.append(s["subscriptionId"])
                else:
                    result.skipped.append({"resource_id": f"/subscriptions/{s['subscriptionId']}", "reason": reason})
        result.subscriptions = subs
        docs: list[dict[str, Any]] = []

        def list_one(sub: str) -> list[dict[str, Any]]:
            return [d for page in self.arm.list_workspaces(sub) for d in page]

        with ThreadPoolExecutor(max_workers=min(self.config.concurrency, max(len(subs), 1))) as pool:
            futures = {sub: pool.submit(list_one, sub) for sub in subs}
            for sub, fut in futures.items():
                try:
                    docs.extend(fut.result())
                except ArmReadError as exc:
                    result.errors.append({"resource_id": f"/subscriptions/{sub}", "stage": "discovery",
                                          "message": exc.cause})
        return docs, result

    # -- shared reads ------------------------------------------------------------------------------
    def prime(self, docs: Iterable[dict[str, Any]]) -> None:
        """Seed the shared-read cache with documents read by someone else (a sweep's lists)."""
        with self._cache_lock:
            for doc in docs:
                rid = doc.get("id") if isinstance(doc, dict) else None
                if isinstance(rid, str) and rid and rid.lower() not in self._cache:
                    fut: Future[dict[str, Any] | None] = Future()
                    fut.set_result(doc)
                    self._cache[rid.lower()] = fut

    def prefetch(self, resource_ids: Iterable[str]) -> None:
        """Start GETs this scan will probably make (e.g. the network an event's workspace used last time)
        while something else is read; `_get_shared` joins a GET in flight, so each document is still read
        once per scan, and an id the workspace no longer names is one unused read. Returns at once."""
        from core.collect.parallel import submit

        def get(rid: str) -> None:
            with contextlib.suppress(ArmReadError):  # kept in the cache: whoever needs the document sees it
                self._get_shared(rid)

        for rid in dict.fromkeys(r.lower() for r in resource_ids if r):
            submit(functools.partial(get, rid))

    def speculate(self, workspace_id: str, recorded: ApiRead | None, families: frozenset[str] | None) -> None:
        """Start the reads of an event-driven scan that do not need its document, while the document is read:
        the diagnostic settings and role assignments (by id) and, for a full scan, the workspace-API reads
        its last full scan made (`recorded`: host and calls, from its topology index row). Otherwise they
        wait for the document: one more round trip of event latency.

        `collect_workspace` takes such a read only when it is the one the document and the plan ask for (the
        same workspace, host and calls: the plan here lacks the tags, and a document can make a rule
        inapplicable); anything else it reads again, so a wrong guess costs calls, never data. The host
        passes the same allow-list before any token is sent (`read_workspace_api`)."""
        plan = self.plan(self.baseline.effective_for(identity_from_id(workspace_id)), families=families)
        key = workspace_id.lower()
        early: dict[str, tuple[object, Callable[[], Any]]] = {}
        if Read.DIAGNOSTICS in plan.parts:
            early["diagnostics"] = (None, functools.partial(self._read_diagnostics, workspace_id))
        if Read.RBAC in plan.parts:
            early["rbac"] = (None, functools.partial(self._read_rbac, workspace_id))
        if recorded is not None and families is None and recorded.needs.any:
            early["workspace_api"] = (recorded, functools.partial(read_workspace_api, recorded.host, recorded.needs,
                                                                  self.config))
        with self._early_lock:
            for part, (what, fn) in early.items():
                self._early[(part, key)] = (what, _start_part(fn))

    def api_read(self, workspace_id: str) -> ApiRead | None:
        """How this collector's full collection of the workspace read its workspace API (None: it did not)."""
        return self._api_reads.get(workspace_id.lower())

    def _speculated(self, part: str, workspace_id: str, what: object = None) -> Callable[[], Any] | None:
        """The result of `speculate`'s read of `part` when it was for `what`; it is taken (used once)."""
        with self._early_lock:
            got = self._early.pop((part, workspace_id.lower()), None)
        return got[1].result if got is not None and got[0] == what else None

    def _list_into_cache(self, kind: str, subscriptions: Iterable[str]) -> None:
        """List `kind` per subscription (concurrently) into the cache; a failed list primes nothing."""
        subs = list(dict.fromkeys(s.lower() for s in subscriptions))
        if not subs:
            return

        def one(sub: str) -> None:
            try:
                for page in self.arm.list_network(sub, kind):
                    self.prime(page)
            except ArmReadError:
                pass  # the workspaces that need these documents GET them one by one

        with ThreadPoolExecutor(max_workers=min(self.config.concurrency, len(subs))) as pool:
            list(pool.map(one, subs))

    def prefetch_network(self, docs: Iterable[dict[str, Any]], *, min_per_subscription: int = 2) -> None:
        """Sweeps: list VNets, then NSGs, in each subscription where this saves GETs.

        A subscription is listed when at least `min_per_subscription` distinct VNets (NSGs) the network
        rules will read live in it; fewer are cheaper as GETs. Only workspaces whose effective baseline
        has a network rule on count.
        """
        vnets: dict[str, set[str]] = defaultdict(set)
        wanted: list[WorkspaceArm] = []
        for doc in docs:
            try:
                arm = parse_workspace_arm(doc)
            except StateError:
                continue
            eff = self.baseline.effective_for(identity_from_doc(doc))
            if not arm.vnet_id or Read.NETWORK not in self.plan(eff).parts:
                continue
            wanted.append(arm)
            sub = parse_arm_id(arm.vnet_id).get("subscription")
            if sub:
                vnets[str(sub).lower()].add(arm.vnet_id.lower())
        self._list_into_cache("virtualNetworks", [s for s, ids in vnets.items() if len(ids) >= min_per_subscription])
        nsgs: dict[str, set[str]] = defaultdict(set)
        for arm in wanted:
            for nsg_id in self._nsg_ids(arm, self._cached(arm.vnet_id or "")):
                sub = parse_arm_id(nsg_id).get("subscription")
                if sub:
                    nsgs[str(sub).lower()].add(nsg_id)
        self._list_into_cache("networkSecurityGroups",
                              [s for s, ids in nsgs.items() if len(ids) >= min_per_subscription])

    def listed_network(self, arm: WorkspaceArm) -> list[dict[str, Any]]:
        """The VNet and NSG documents of this workspace that are already in the cache (a sweep's lists),
        VNet first; what is not there is left out (its reader GETs it)."""
        vnet = self._cached(arm.vnet_id) if arm.vnet_id else None
        if vnet is None:
            return []
        nsgs = [self._cached(n) for n in self._nsg_ids(arm, vnet)]
        return [vnet, *(n for n in nsgs if n is not None)]

    @staticmethod
    def _nsg_ids(arm: WorkspaceArm, vnet: dict[str, Any] | None) -> list[str]:
        """Lower ids of the NSGs the workspace's two subnets name in the VNet document."""
        if vnet is None:
            return []
        names = {n.lower() for _, n, _ in subnet_ids(arm)}
        nsg_ids: list[str] = []
        for sub in (vnet.get("properties") or {}).get("subnets") or []:
            if isinstance(sub, dict) and str(sub.get("name", "")).lower() in names:
                nsg = ((sub.get("properties") or {}).get("networkSecurityGroup") or {}).get("id")
                if isinstance(nsg, str) and nsg:
                    nsg_ids.append(nsg.lower())
        return list(dict.fromkeys(nsg_ids))

    def _get_shared(self, resource_id: str) -> dict[str, Any] | None:
        """GET once per scan, whoever asks first; concurrent askers wait for the same answer."""
        key = resource_id.lower()
        with self._cache_lock:
            fut = self._cache.get(key)
            owner = fut is None
            if owner:
                fut = Future()
                self._cache[key] = fut
        assert fut is not None
        if owner:
            try:
                fut.set_result(self.arm.get(resource_id))
            except BaseException as exc:
                fut.set_exception(exc)
        return fut.result()

    def _cached(self, resource_id: str) -> dict[str, Any] | None:
        fut = self._cache.get(resource_id.lower())
        if fut is None or not fut.done() or fut.exception() is not None:
            return None
        return fut.result()

    def _semaphore(self, subscription_id: str) -> threading.Semaphore:
        with self._sub_lock:
            return self._sub_limits[subscription_id.lower()]

    # -- one workspace -----------------------------------------------------------------------------
    def _read_network(self, arm: WorkspaceArm) -> list[CollectionError]:
        """GET the VNet and the NSGs its subnets name (cached per scan); failures become errors."""
        if not arm.vnet_id:
            return []
        try:
            vnet = self._get_shared(arm.vnet_id)
        except ArmReadError as exc:
            return [CollectionError(stage="network", message=exc.cause, related_resource_id=exc.resource_id)]
        nsg_ids = list(dict.fromkeys(n.lower() for n in self._nsg_ids(arm, vnet)))
        # The NSGs do not depend on each other: GET them at once; errors keep the subnets' order.
        failures: dict[str, ArmReadError] = {}

        def read(nsg_id: str) -> None:
            try:
                self._get_shared(nsg_id)
            except ArmReadError as exc:
                failures[nsg_id] = exc

        run_all([functools.partial(read, n) for n in nsg_ids])
        return [CollectionError(stage="network", message=exc.cause, related_resource_id=exc.resource_id)
                for exc in (failures[n] for n in nsg_ids if n in failures)]

    def _read_diagnostics(self, workspace_id: str) -> tuple[list[dict[str, Any]] | None, list[CollectionError]]:
        """(diagnostic settings, errors); ([...], []) when read. A 404 is not proof the workspace is gone.

        Only the workspace resource decides deletion: on a 404 the workspace is read again, and if it
        is still there the missing settings are an evaluation problem (stage `diagnostics`).
        """
        try:
            diagnostics = self.arm.list_diagnostic_settings(workspace_id)
        except ArmReadError as exc:
            return None, [CollectionError(stage="diagnostics", message=exc.cause, related_resource_id=exc.resource_id)]
        if diagnostics is not None:
            return diagnostics, []
        where = f"{workspace_id}/providers/Microsoft.Insights/diagnosticSettings"
        try:
            still_there = self.arm.get(workspace_id)
        except ArmReadError as exc:
            still_there, detail = {}, f"; the workspace itself could not be re-read ({exc.cause})"
        else:
            detail = ""
        if still_there is None:
            raise WorkspaceGone(workspace_id)
        return None, [CollectionError(stage="diagnostics", related_resource_id=where,
                                      message=f"diagnostic settings answered HTTP 404 ResourceNotFound{detail}")]

    def _read_rbac(self, workspace_id: str) -> tuple[RbacState | None, list[CollectionError]]:
        """(role assignments at/above the workspace + role definitions, errors). Needs Reader (it includes
        `Microsoft.Authorization/*/read`); a 403, 404 or timeout leaves only the rules reading `rbac` unevaluated."""
        try:
            assignments = self.arm.list_role_assignments(workspace_id)
            definitions = self.arm.list_role_definitions(workspace_id)
            return parse_rbac(assignments, definitions, workspace_id), []
        except ArmReadError as exc:
            return None, [CollectionError(stage="rbac", message=exc.cause, related_resource_id=exc.resource_id)]
        except StateError as exc:
            return None, [CollectionError(stage="rbac", message=f"malformed answer: {exc}",
                                          related_resource_id=workspace_id)]

    def _read_arm_extras(self, workspace_id: str, arm: WorkspaceArm, parts: frozenset[str]) -> ArmExtrasState:
        """The extra ARM reads `parts` names; each failure is that part's error only (nothing else is lost)."""
        # The parts do not depend on each other and one's failure never skips another: they run at once
        # (the same calls as one after the other), and each records only its own value or error.
        errors: dict[str, str] = {}
        got: dict[str, Any] = {}

        def connector() -> None:
            cid = arm.access_connector_id
            try:
                got["access_connector"] = (parse_access_connector(cid, self._get_shared(cid)) if cid
                                           else AccessConnectorState(id="", found=False))
            except (ArmReadError, StateError) as exc:
                errors["access_connector"] = _cause(exc)

        def locks() -> None:
            where = f"{workspace_id}/providers/Microsoft.Authorization/locks"
            try:
                items = self.arm.list_locks(workspace_id)
                if items is None:
                    raise ArmReadError(where, "HTTP 404 (the lock list of an existing workspace)")
                got["locks"] = parse_locks(items, where)
            except (ArmReadError, StateError) as exc:
                errors["locks"] = _cause(exc)

        def private_dns() -> None:
            try:
                found: dict[str, tuple[str, ...]] = {}
                for pe in dict.fromkeys(p.private_endpoint_id for p in arm.private_endpoint_connections
                                        if p.private_endpoint_id):
                    groups = self.arm.list_private_dns_zone_groups(pe)
                    found[pe.casefold()] = parse_dns_zone_groups(groups or [], f"{pe}/privateDnsZoneGroups")
                got["private_dns"] = found
            except (ArmReadError, StateError) as exc:
                errors["private_dns"] = _cause(exc)

        readers = {"access_connector": connector, "locks": locks, "private_dns": private_dns}
        run_all([fn for name, fn in readers.items() if name in parts])
        return ArmExtrasState(access_connector=got.get("access_connector"), locks=got.get("locks"),
                              private_dns=got.get("private_dns"),
                              part_errors={name: errors[name] for name in readers if name in errors})

    def collect_workspace(self, doc: dict[str, Any], subnet_users: dict[str, list[str]] | None = None,
                          *, families: frozenset[str] | None = None) -> WorkspaceState | Skipped | None:
        """State for one listed workspace; Skipped while an ARM operation on it is in flight; None when gone.

        `families` (audit-driven scans) reads only what those rule families need; None = everything.
        """
        ident = identity_from_doc(doc)
        with self._semaphore(ident.subscription_id):
            eff = self.baseline.effective_for(ident)
            try:
                arm = parse_workspace_arm(doc)
            except StateError as exc:
                return unreadable_state(ident.resource_id, f"malformed ARM document: {exc}")
            reason = not_settled_reason(arm)
            if reason is not None:
                return Skipped(ident.resource_id, reason)
            failed = failed_reason(arm)
            if failed is not None:
                return build_workspace_state(doc, self._cached, diagnostics=None, workspace_api=None,
                                             read_network=False, arm=arm, errors=[CollectionError(
                                                 stage="arm", message=failed, related_resource_id=ident.resource_id)])
            errors: list[CollectionError] = []
            plan = self.plan(eff, arm=arm, families=families)
            read_network = Read.NETWORK in plan.parts
            read_diagnostics = Read.DIAGNOSTICS in plan.parts
            needs = api_needs(plan)
            read_api = needs.any and bool(arm.workspace_url)
            read_rbac = Read.RBAC in plan.parts
            arm_parts = arm_part_needs(plan)
            # The reads do not depend on each other: run them at once (event latency is their maximum,
            # not their sum). Results are merged in the same order as before. A read `speculate` started
            # for exactly this is taken as it is.
            api_read = ApiRead(arm.workspace_url or "", needs) if read_api else None
            started = {"diagnostics": self._speculated("diagnostics", ident.resource_id) if read_diagnostics else None,
                       "rbac": self._speculated("rbac", ident.resource_id) if read_rbac else None,
                       "workspace_api": self._speculated("workspace_api", ident.resource_id, api_read)
                       if api_read is not None else None}
            if api_read is not None and families is None:
                self._api_reads[ident.resource_id.lower()] = api_read
            parts = _run_parts({
                "network": (lambda: self._read_network(arm)) if read_network else None,
                "diagnostics": (lambda: self._read_diagnostics(ident.resource_id))
                if read_diagnostics and not started["diagnostics"] else None,
                "workspace_api": (lambda: read_workspace_api(arm.workspace_url or "", needs, self.config))
                if read_api and not started["workspace_api"] else None,
                "rbac": (lambda: self._read_rbac(ident.resource_id)) if read_rbac and not started["rbac"] else None,
                "arm_extras": (lambda: self._read_arm_extras(ident.resource_id, arm, arm_parts))
                if arm_parts else None})
            parts.update({k: fn for k, fn in started.items() if fn is not None})
            if read_network:
                errors += parts["network"]()
            diagnostics: list[dict[str, Any]] | None = None
            if read_diagnostics:
                try:
                    diagnostics, diag_errors = parts["diagnostics"]()
                except WorkspaceGone:
                    return None
                errors += diag_errors
            rbac: RbacState | None = None
            if read_rbac:
                rbac, rbac_errors = parts["rbac"]()
                errors += rbac_errors
            extras: ArmExtrasState | None = parts["arm_extras"]() if arm_parts else None
            api_state: WorkspaceApiState | None = None
            if needs.any and not arm.workspace_url:
                errors.append(CollectionError(stage="workspace_api", message="workspace has no workspaceUrl"))
            elif read_api:
                try:
                    api_state = parts["workspace_api"]()
                except WorkspaceApiError as exc:
                    errors.append(CollectionError(stage="workspace_api", message=str(exc)))
            # The network is built from whatever was read even when a part failed: the stage error
            # keeps the network rules from being evaluated, but the subnets' NSG associations still
            # name the NSGs for event routing (core/state/footprint.py).
            state = build_workspace_state(doc, self._cached, diagnostics=diagnostics, workspace_api=api_state,
                                          read_network=read_network, subnet_users=subnet_users, errors=errors,
                                          arm=arm)
            updates: dict[str, Any] = {}
            if rbac is not None:
                updates["rbac"] = rbac
            if extras is not None:
                updates["arm_extras"] = extras
            return state.model_copy(update=updates) if updates else state

    def collect(self, docs: Iterable[dict[str, Any]], result: CollectResult | None = None,
                progress: Progress | None = None) -> CollectResult:
        """Collect every listed workspace concurrently; `progress(failed)` is called as each one finishes."""
        result = result or CollectResult()
        docs = list(docs)
        pairs = []
        for d in docs:
            try:
                pairs.append((str(d.get("id")), parse_workspace_arm(d)))
            except StateError:
                continue
        users = subnet_users(pairs)
        with ThreadPoolExecutor(max_workers=self.config.concurrency) as pool:
            futures = [(d, pool.submit(self.collect_workspace, d, users)) for d in docs]
            if progress is not None:
                for _, fut in futures:
                    fut.add_done_callback(lambda f: progress(f.exception() is not None or _failed(f.result())))
            for d, fut in futures:
                rid = str(d.get("id"))
                try:
                    state = fut.result()
                except StateError as exc:
                    result.errors.append({"resource_id": rid, "stage": "parse", "message": str(exc)})
                    continue
                if state is None:
                    result.deleted.append(rid)
                elif isinstance(state, Skipped):
                    result.skipped.append(state.as_dict())
                else:
                    result.states.append(state)
        return result

    def collect_by_id(self, workspace_id: str, subnet_users: dict[str, list[str]] | None = None
                      ) -> WorkspaceState | Skipped | None:
        """One workspace by id (event-driven scans): GET it, then collect; None when it no longer exists.

        Subnet sharing is estate-wide knowledge: pass `subnet_users` (lower subnet id -> workspace ids,
        e.g. from the topology table) or sharing is judged from this workspace alone.
        """
        try:
            doc = self.arm.get(workspace_id)
        except ArmReadError as exc:
            return unreadable_state(workspace_id, exc.cause)
        if doc is None:
            return None
        return self.collect_workspace(doc, subnet_users)


_parts_pool: ThreadPoolExecutor | None = None
_parts_lock = threading.Lock()
PART_READERS = 64
"""Threads shared by every collector for the independent reads of one workspace (leaf tasks only:
none of them submits to this pool, so callers waiting on it cannot deadlock)."""


def _run_parts(parts: dict[str, Callable[[], Any] | None]) -> dict[str, Callable[[], Any]]:
    """Start the given reads (two or more at once on the shared pool, a single one inline); each result is a
    callable that returns the value or raises what the read raised."""
    wanted = {k: fn for k, fn in parts.items() if fn is not None}
    if len(wanted) < 2:
        out: dict[str, Callable[[], Any]] = {}
        for key, fn in wanted.items():
            try:
                value = fn()
            except Exception as exc:  # re-raised where the caller asks for it
                out[key] = functools.partial(_raise, exc)
            else:
                out[key] = functools.partial(lambda v: v, value)
        return out
    futures = {k: _start_part(fn) for k, fn in wanted.items()}
    return {k: f.result for k, f in futures.items()}


def _start_part(fn: Callable[[], Any]) -> Future[Any]:
    """Run one part's read on the shared pool (`_run_parts`, `EstateCollector.speculate`)."""
    global _parts_pool
    with _parts_lock:
        if _parts_pool is None:
            _parts_pool = ThreadPoolExecutor(max_workers=PART_READERS, thread_name_prefix="driftwatch-read")
    return _parts_pool.submit(fn)


def _raise(exc: BaseException) -> Any:
    raise exc


Progress = Callable[[bool], None]
"""Called once per workspace as its collection ends: True when it failed (a collection error or no state)."""


def _failed(state: WorkspaceState | Skipped | None) -> bool:
    return isinstance(state, WorkspaceState) and bool(state.errors)


def _cause(exc: Exception) -> str:
    """What went wrong and where, without secrets (ArmReadError carries the id and a short cause)."""
    if isinstance(exc, ArmReadError):
        return f"{exc.resource_id}: {exc.cause}"
    return str(exc)


class WorkspaceGone(Exception):
    """The workspace resource itself answered 404 while its parts were being read."""
