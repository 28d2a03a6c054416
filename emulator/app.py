"""The aiohttp application: ARM, the Databricks workspace API, a Teams sink and `/_emulator/`.

One catch-all route and hand-written dispatch, because ARM paths are case-insensitive and of
arbitrary depth, and workspaces are told apart by a `/ws/{host}` path prefix. Every piece of
mutable state lives on `EmulatorApp`; handlers run on one event loop, so nothing is locked
and the latency sleep never serializes concurrent callers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket
import struct
import time
import uuid
from collections import Counter, deque
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web

from emulator import arm_rules
from emulator.arm_rules import ArmRuleError, Operation
from emulator.events import make_event
from emulator.faults import FaultError, FaultRule, FaultSet, parse_spec
from emulator.seed import SeedError, load_seed
from emulator.state import ApiError, Estate
from emulator.workspace_conf_keys import KNOWN_WORKSPACE_CONF_KEYS, invalid_keys_message
from emulator.workspace_families import (
    SCIM_RESOURCES,
    handle_settings,
    scim_list,
    secret_acls_answer,
    secret_scopes_answer,
    token_permissions_answer,
)

RECENT_REQUESTS = 500
DELIVERY_TIMEOUT_S = 10.0
MAX_TEAMS_POSTS = 10_000
WORKSPACES_TYPE = "microsoft.databricks/workspaces"
DROPPED_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})


class _Reset(Exception):
    """Raised by the `reset` fault: the connection is dropped without a response."""


def _segments(path: str) -> list[str]:
    return [p for p in path.split("/") if p]


def classify(method: str, path: str) -> str:
    """A small, stable endpoint key for the request log (never the full path)."""
    segs = _segments(path)
    low = [s.lower() for s in segs]
    if not segs:
        name = "other"
    elif low[0] == "subscriptions":
        if len(segs) == 1:
            name = "arm:subscriptions.list"
        elif len(segs) == 2:
            name = "arm:subscription"
        elif len(segs) % 2 == 0:
            name = "arm:resource"
        elif low[-2:] == ["microsoft.databricks", "workspaces"]:
            name = "arm:workspaces.list"
        elif low[-1] == "diagnosticsettings":
            name = "arm:diagnosticSettings.list"
        elif low[-2:] == ["microsoft.authorization", "roleassignments"]:
            name = "arm:roleAssignments.list"
        elif low[-2:] == ["microsoft.authorization", "roledefinitions"]:
            name = "arm:roleDefinitions.list"
        elif low[-2:] == ["microsoft.authorization", "locks"]:
            name = "arm:locks.list"
        elif low[-1] == "privatednszonegroups":
            name = "arm:privateDnsZoneGroups.list"
        else:
            name = "arm:resources.list"
    elif low[0] == "ws" and len(segs) >= 2:
        rest = low[2:]
        if rest[:1] == [".well-known"]:
            name = "ws:well-known"
        elif rest[:3] == ["api", "2.0", "ip-access-lists"]:
            name = "ws:ip-access-lists" if len(rest) == 3 else "ws:ip-access-list"
        elif rest[:3] == ["api", "2.0", "workspace-conf"]:
            name = "ws:workspace-conf"
        elif rest[:4] == ["api", "2.0", "token-management", "tokens"]:
            name = "ws:tokens" if len(rest) == 4 else "ws:token"
        elif rest[:5] == ["api", "2.0", "permissions", "authorization", "tokens"]:
            name = "ws:token-permissions"
        elif rest[:4] == ["api", "2.0", "settings", "types"]:
            name = "ws:settings"
        elif rest[:4] == ["api", "2.0", "preview", "scim"]:
            name = "ws:scim"
        elif rest[:4] == ["api", "2.0", "secrets", "scopes"]:
            name = "ws:secret-scopes"
        elif rest[:4] == ["api", "2.0", "secrets", "acls"]:
            name = "ws:secret-acls"
        elif rest[:3] == ["api", "2.0", "global-init-scripts"]:
            name = "ws:global-init-scripts" if len(rest) == 3 else "ws:global-init-script"
        elif rest[:4] == ["api", "2.1", "clusters", "list"]:
            name = "ws:clusters"
        elif rest[:4] == ["api", "2.1", "clusters", "spark-versions"]:
            name = "ws:spark-versions"
        elif rest[:5] == ["api", "2.0", "policies", "clusters", "list"]:
            name = "ws:cluster-policies"
        elif rest[:5] == ["api", "2.0", "policies", "clusters", "list-compliance"]:
            name = "ws:policy-compliance"
        elif rest[:4] == ["api", "2.0", "permissions", "cluster-policies"]:
            name = "ws:policy-permissions"
        elif rest[:3] == ["api", "2.1", "unity-catalog"]:
            name = "ws:uc:" + (rest[3] if len(rest) > 3 and rest[3] != "metastores" else "systemschemas")
        elif rest[:5] == ["api", "2.0", "preview", "scim", "v2"] and rest[5:6] == ["me"]:
            name = "ws:scim-me"
        else:
            name = "ws:other"
    elif low[0] == "teams":
        name = "teams"
    elif low[0] == ".well-known":
        name = "well-known"
    else:
        name = "other"
    return f"{method.upper()} {name}"


def _arm_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status, headers=headers)


def _dbx_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error_code": code, "message": message}, status=status, headers=headers)


def _has_bearer(request: web.Request) -> bool:
    value = request.headers.get("Authorization", "")
    scheme, _, token = value.partition(" ")
    return scheme.lower() == "bearer" and bool(token.strip())


async def _json_body(request: web.Request) -> Any:
    text = await request.text()
    if not text.strip():
        return None
    return json.loads(text)


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class EmulatorApp:
    """All emulator state and the request handlers."""

    def __init__(
        self,
        seed: dict[str, Any],
        *,
        latency_ms: int = 0,
        event_target: str | None = None,
        page_size: int = 50,
        faults: list[FaultRule] | None = None,
        lro_delay_s: float = 0.0,
        audit_target: str | None = None,
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        if lro_delay_s < 0:
            raise ValueError("lro_delay_s must not be negative")
        self.estate = Estate(seed)
        self.latency_ms = latency_ms
        self.base_latency_ms = latency_ms
        self.event_target = event_target
        self.audit_target = audit_target
        self.audit_records: list[dict[str, Any]] = []
        self.audit_deliveries: list[dict[str, Any]] = []
        self.page_size = page_size
        self.faults = FaultSet()
        if faults:
            self.faults.set(faults)
        self.counts: Counter[str] = Counter()
        self.total = 0
        self.recent: deque[dict[str, Any]] = deque(maxlen=RECENT_REQUESTS)
        self.in_flight = 0
        self.in_flight_peak = 0
        """Most requests served at once: shows that latency overlaps instead of queueing."""
        self.events: list[dict[str, Any]] = []
        self.deliveries: list[dict[str, Any]] = []
        self.teams_posts: list[dict[str, Any]] = []
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.lro_delay_s = lro_delay_s
        """How long a workspace PUT/DELETE stays Accepted/Updating/Deleting before it completes."""
        self.operations: dict[str, Operation] = {}
        self._rng = random.Random(4242)

    # ---- lifecycle -----------------------------------------------------------------------
    def build(self) -> web.Application:
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        app.on_cleanup.append(self._cleanup)
        return app

    async def _cleanup(self, _app: web.Application) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    # ---- inspection helpers (run on the loop) --------------------------------------------
    def request_counts(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "by_endpoint": dict(self.counts),
            "recent": list(self.recent),
            "in_flight_peak": self.in_flight_peak,
        }

    def reset_requests(self) -> None:
        self.counts.clear()
        self.total = 0
        self.recent.clear()
        self.in_flight_peak = self.in_flight

    def clear_faults(self) -> None:
        """Drop every rule and go back to the latency the server was started with."""
        self.faults.clear()
        self.latency_ms = self.base_latency_ms

    def faults_view(self) -> dict[str, Any]:
        return {"latency_ms": self.latency_ms, "rules": [r.as_dict() for r in self.faults.rules]}

    def apply_fault_spec(self, spec: dict[str, Any]) -> None:
        rules, latency = parse_spec(spec)
        if rules is not None:
            self.faults.set(rules, append=bool(spec.get("append")))
        if latency is not None:
            self.latency_ms = latency

    # ---- entry point ---------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith("/_emulator/") or path == "/_emulator":
            return await self._control(request)
        started = time.perf_counter()
        status = 0
        self.in_flight += 1
        self.in_flight_peak = max(self.in_flight_peak, self.in_flight)
        try:
            response = await self._serve(request)
            status = response.status
            return response
        except _Reset:
            self._reset_connection(request)
            raise asyncio.CancelledError() from None
        finally:
            self.in_flight -= 1
            self.total += 1
            self.counts[classify(request.method, path)] += 1
            self.recent.append(
                {
                    "method": request.method,
                    "path": path,
                    "status": status,
                    "ms": round((time.perf_counter() - started) * 1000, 2),
                }
            )

    @staticmethod
    def _reset_connection(request: web.Request) -> None:
        transport = request.transport
        if transport is None:
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        segs = _segments(request.path)
        head = segs[0].lower() if segs else ""
        if head == "teams":
            return await self._with_faults(request, "teams", self._teams)
        if head == ".well-known":
            return _dbx_error(404, "ENDPOINT_NOT_FOUND", "No host metadata here.")
        if head == "ws" and len(segs) >= 2:
            if len(segs) >= 3 and segs[2].lower() == ".well-known":
                return _dbx_error(404, "ENDPOINT_NOT_FOUND", "No host metadata here.")
            return await self._with_faults(request, "ws", self._workspace_api, latency=True)
        if head == "subscriptions":
            return await self._with_faults(request, "arm", self._arm, latency=True)
        return _arm_error(404, "NotFound", f"No route for {request.method} {request.path}.")

    async def _with_faults(self, request: web.Request, kind: str, handler: Any, latency: bool = False) -> Any:
        if latency and self.latency_ms > 0:
            await asyncio.sleep(self.latency_ms / 1000)
        rule = self.faults.take(request.method, request.path)
        if rule is not None:
            response = await self._fault_response(rule, kind)
        else:
            response = await handler(request)
        if kind == "arm":
            self._arm_headers(request, response)
        return response

    def _arm_headers(self, request: web.Request, response: web.StreamResponse) -> None:
        """Headers ARM sends on every response, and the Bearer challenge on a 401 (RFC 6750).

        `x-ms-correlation-request-id` echoes the caller's when it sent one, as ARM does.
        """
        response.headers.setdefault("x-ms-request-id", str(uuid.uuid4()))
        response.headers.setdefault("x-ms-correlation-request-id",
                                    request.headers.get("x-ms-correlation-request-id") or str(uuid.uuid4()))
        if response.status == 401:
            segs = _segments(request.path)
            tenant = self.estate.tenant_of(segs[1]) if len(segs) > 1 else "common"
            response.headers["WWW-Authenticate"] = (
                f'Bearer authorization_uri="https://login.microsoftonline.com/{tenant}", error="invalid_token", '
                'error_description="The access token is missing or invalid."')

    async def _fault_response(self, rule: FaultRule, kind: str) -> web.Response:
        err = _dbx_error if kind == "ws" else _arm_error
        action = rule.action
        if action == "reset":
            raise _Reset()
        if action == "hang":
            await asyncio.sleep(rule.hang_seconds)
            return err(504, "GatewayTimeout" if kind != "ws" else "TEMPORARILY_UNAVAILABLE", "Hung request.")
        if action == "429":
            retry_after = rule.retry_after if rule.retry_after is not None else 1
            shown = int(retry_after) if float(retry_after).is_integer() else retry_after
            headers = {"Retry-After": str(shown)}
            if kind == "ws":
                return err(429, "REQUEST_LIMIT_EXCEEDED", "Too many requests (injected).", headers)
            return err(429, "TooManyRequests", "Too many requests (injected).", headers)
        if action == "500":
            code = "INTERNAL_ERROR" if kind == "ws" else "InternalServerError"
            return err(500, code, "Internal error (injected).")
        if action == "401":
            code = "UNAUTHENTICATED" if kind == "ws" else "AuthenticationFailed"
            return err(401, code, "Authentication failed (injected).")
        if action == "404":  # e.g. a Teams webhook that was deleted
            code = "RESOURCE_DOES_NOT_EXIST" if kind == "ws" else "ResourceNotFound"
            return err(404, code, "Not found (injected).")
        code = "PERMISSION_DENIED" if kind == "ws" else "AuthorizationFailed"
        return err(403, code, "Permission denied (injected).")

    # ---- ARM -----------------------------------------------------------------------------
    async def _arm(self, request: web.Request) -> web.Response:
        if not _has_bearer(request):
            return _arm_error(
                401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing."
            )
        if "api-version" not in request.query:
            return _arm_error(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
        self.advance_operations()
        try:
            arm_rules.check_api_version(request.path, request.query["api-version"], self._location_of(request.path))
            return await self._arm_route(request)
        except (ApiError, ArmRuleError) as exc:
            return _arm_error(exc.status, exc.code, exc.message)

    def _location_of(self, path: str) -> str | None:
        """The location of the resource a path addresses (or of its top-level parent), if known."""
        segs = _segments(path)
        for n in range(len(segs), 7, -2):
            with contextlib.suppress(ApiError):
                loc = self.estate.get("/" + "/".join(segs[:n])).get("location")
                if isinstance(loc, str) and loc:
                    return loc.replace(" ", "").lower()
        return None

    # ---- long-running workspace operations ---------------------------------------------------
    def advance_operations(self) -> None:
        """Complete every operation whose delay has passed (lazily, on the next request)."""
        now = time.monotonic()
        for op in self.operations.values():
            if op.status == "InProgress" and op.due_at <= now:
                self._complete(op)

    def finish_operations(self) -> int:
        """Complete every operation still in flight now, whatever its delay (tests hold one open this way)."""
        running = [op for op in self.operations.values() if op.status == "InProgress"]
        for op in running:
            self._complete(op)
        return len(running)

    def _complete(self, op: Operation) -> None:
        op.status, op.ended_at = "Succeeded", datetime.now(UTC)
        if op.kind == "delete":
            host = None
            with contextlib.suppress(ApiError):
                host = (self.estate.get(op.resource_id).get("properties") or {}).get("workspaceUrl")
            self.estate.delete(op.resource_id)
            if isinstance(host, str):
                self.estate.workspaces.pop(host.lower(), None)
            return
        try:
            doc = self.estate.get(op.resource_id)
        except ApiError:
            return  # deleted meanwhile
        host = arm_rules.fill_created_workspace(doc, self._rng)
        doc["properties"]["provisioningState"] = "Succeeded"
        self.estate.ensure_workspace_api(host)

    def _start_operation(self, resource_id: str, kind: str, api_version: str) -> Operation:
        op = Operation(op_id=str(uuid.uuid4()), resource_id=resource_id, kind=kind, api_version=api_version,
                       started_at=datetime.now(UTC), due_at=time.monotonic() + self.lro_delay_s)
        self.operations[op.op_id] = op
        return op

    def _lro_headers(self, request: web.Request, op: Operation, *, location: bool) -> dict[str, str]:
        base = f"{request.scheme}://{request.host}{op.resource_id}"
        query = f"?api-version={op.api_version}"
        headers = {"Azure-AsyncOperation": f"{base}/operationStatus/{op.op_id}{query}",
                   "Retry-After": str(max(1, int(self.lro_delay_s + 0.999)) if self.lro_delay_s else 0)}
        if location:
            headers["Location"] = f"{base}/operationResults/{op.op_id}{query}"
        return headers

    async def _workspace_put(self, request: web.Request, path: str, body: dict[str, Any]) -> web.Response:
        api_version = request.query["api-version"]
        existing = self._maybe_get(path)
        self._refuse_if_busy(existing)
        arm_rules.validate_workspace_put(body, api_version, existing)
        state = "Updating" if existing is not None else "Accepted"
        doc, created = self.estate.put(path, arm_rules.workspace_document(body, existing, state))
        op = self._start_operation(doc["id"], "create" if created else "update", api_version)
        self._record_event(doc["id"], "PUT", request)  # ARM reports the write once it is accepted
        if self.lro_delay_s == 0:
            self._complete(op)
            doc = self.estate.get(doc["id"])
            shown = json.loads(json.dumps(doc))
            shown["properties"]["provisioningState"] = state  # the response still says it was just accepted
            return web.json_response(shown, status=201 if created else 200,
                                     headers=self._lro_headers(request, op, location=False))
        return web.json_response(doc, status=201 if created else 200,
                                 headers=self._lro_headers(request, op, location=False))

    def _running(self, resource_id: str) -> Operation | None:
        return next((o for o in self.operations.values()
                     if o.status == "InProgress" and o.resource_id.lower() == resource_id.lower()), None)

    def _refuse_if_busy(self, existing: dict[str, Any] | None, allow: str | None = None) -> None:
        """One operation at a time per workspace (a repeated DELETE joins the running delete)."""
        running = self._running(existing["id"]) if existing is not None else None
        if running is not None and running.kind != allow:
            raise ApiError(409, "AnotherOperationInProgress",
                           f"Operation '{running.kind}' is in progress on the workspace; retry when it completes.")

    def _workspace_delete(self, request: web.Request, path: str) -> web.Response:
        existing = self._maybe_get(path)
        if existing is None:
            return web.Response(status=204)
        self._refuse_if_busy(existing, allow="delete")
        props = existing.setdefault("properties", {})
        running = self._running(existing["id"])
        if running is None:
            props["provisioningState"] = "Deleting"
            running = self._start_operation(existing["id"], "delete", request.query["api-version"])
            self._record_event(existing["id"], "DELETE", request)
            if self.lro_delay_s == 0:
                self._complete(running)
        return web.Response(status=202, headers=self._lro_headers(request, running, location=True))

    def _operation(self, request: web.Request, segs: list[str]) -> web.Response:
        op = self.operations.get(segs[-1])
        if op is None or "/".join(_segments(op.resource_id)).lower() != "/".join(segs[:-2]).lower():
            raise ApiError(404, "ResourceNotFound", f"The operation '{segs[-1]}' was not found.")
        if segs[-2].lower() == "operationstatus":
            retry = self._lro_headers(request, op, location=False)["Retry-After"]
            return web.json_response(op.status_body(), headers={"Retry-After": retry} if op.status == "InProgress"
                                     else None)
        if op.status == "InProgress":  # operationResults: 202 until done, then the final answer
            return web.Response(status=202, headers=self._lro_headers(request, op, location=True))
        if op.kind == "delete":
            return web.Response(status=204)
        return web.json_response(self.estate.get(op.resource_id))

    async def _arm_route(self, request: web.Request) -> web.Response:
        path = request.path.rstrip("/")
        segs = _segments(path)
        method = request.method.upper()
        estate = self.estate
        if len(segs) == 1:
            if method != "GET":
                raise ApiError(405, "MethodNotAllowed", f"{method} is not supported here.")
            subs = [estate.subscription_view(s) for s in estate.subscriptions.values()]
            return web.json_response({"value": subs})
        sub = estate.subscriptions.get(segs[1].lower())
        sub_state = str((sub or {}).get("state") or "Enabled").lower()
        if sub is None or (sub_state == "deleted" and len(segs) > 2):
            raise ApiError(404, "SubscriptionNotFound", f"The subscription '{segs[1]}' could not be found.")
        if sub_state in ("disabled", "warned") and method not in ("GET", "DELETE"):
            # Microsoft Learn "Azure subscription states": Disabled and Warned subscriptions serve GET and
            # DELETE only (create/update/action are refused).
            raise ApiError(409, "ReadOnlyDisabledSubscription",
                           f"The subscription '{segs[1]}' is {sub.get('state')} and therefore marked as read only. "
                           "You cannot perform any write actions on this subscription until it is re-enabled.")
        if len(segs) == 2:
            if method != "GET":
                raise ApiError(405, "MethodNotAllowed", f"{method} is not supported here.")
            return web.json_response(estate.subscription_view(sub))
        if len(segs) % 2 == 1:
            if method != "GET":
                raise ApiError(405, "MethodNotAllowed", f"{method} is not supported on a collection.")
            return self._arm_list(request, segs)
        if len(segs) == 4 and segs[2].lower() == "resourcegroups":
            if method == "PUT":
                body = await _json_body(request)
                group, created = estate.put_group(path, body if isinstance(body, dict) else {})
                return web.json_response(group, status=201 if created else 200)
            if method != "GET":
                raise ApiError(405, "MethodNotAllowed", f"{method} on resource groups is not supported here.")
            for group in estate.resource_groups(segs[1]):
                if group["name"].lower() == segs[3].lower():
                    return web.json_response(group)
            raise ApiError(404, "ResourceGroupNotFound", f"Resource group '{segs[3]}' could not be found.")
        if len(segs) == 10 and segs[-2].lower() in ("operationstatus", "operationresults") and method == "GET":
            return self._operation(request, segs)
        if method == "GET":
            return web.json_response(estate.get(path))
        if method == "DELETE" and arm_rules.is_workspace(path):
            return self._workspace_delete(request, path)
        if method == "DELETE":
            existing = self._maybe_get(path)
            if not estate.delete(path):
                return web.Response(status=204)
            self._record_event(existing["id"] if existing else path, method, request)
            return web.Response(status=200)
        if method in ("PUT", "PATCH"):
            try:
                body = await _json_body(request)
            except ValueError:
                raise ApiError(400, "InvalidRequestContent", "The request content is not JSON.") from None
            if not isinstance(body, dict):
                raise ApiError(400, "InvalidRequestContent", "The request content must be a JSON object.")
            if method == "PUT" and arm_rules.is_workspace(path):
                return await self._workspace_put(request, path, body)
            if method == "PUT" and arm_rules.is_role_assignment(path):
                body = arm_rules.role_assignment_document(path, body)
            if method == "PUT":
                doc, created = estate.put(path, body)
                self._record_event(doc["id"], method, request)
                return web.json_response(doc, status=201 if created else 200)
            doc = estate.patch(path, body)
            self._record_event(doc["id"], method, request)
            return web.json_response(doc)
        raise ApiError(405, "MethodNotAllowed", f"{method} is not supported here.")

    def _maybe_get(self, path: str) -> dict[str, Any] | None:
        try:
            return self.estate.get(path)
        except ApiError:
            return None

    def _arm_list(self, request: web.Request, segs: list[str]) -> web.Response:
        low = [s.lower() for s in segs]
        estate = self.estate
        if len(low) >= 5 and low[-3:-1] == ["providers", "microsoft.authorization"] and low[-1] in (
                "roleassignments", "roledefinitions"):
            # ARM RoleAssignments_ListForScope / RoleDefinitions_List (2022-04-01): `{value, nextLink}` pages.
            flt = request.query.get("$filter")
            if flt is not None and (low[-1] != "roleassignments" or flt.replace(" ", "").lower() != "atscope()"):
                # Only atScope() is served (the spec's `principalId eq` filter is not needed here); the error
                # code ARM uses for an unsupported filter is not in the spec (unverified).
                raise ApiError(400, "BadRequest", f"The emulator does not serve the filter '{flt}'.")
            scope = "/" + "/".join(segs[:-3])
            return self._page(request, estate.list_authorization(scope, segs[-1], flt))
        in_group = len(low) == 5 and low[2] == "resourcegroups" and low[4] == "resources"
        if low[2:] == ["resources"] or in_group:
            items = estate.list_subscription(segs[1], segs[3] if len(segs) == 5 else None)
            flt = request.query.get("$filter", "")
            if flt:
                items = _filter_by_type(items, flt)
            return self._page(request, items)
        if low[2:] == ["resourcegroups"]:
            return self._page(request, estate.resource_groups(segs[1]))
        if len(segs) == 5 and low[2] == "providers":
            return self._page(request, estate.list_by_type(segs[1], f"{segs[3]}/{segs[4]}"))
        if low[-2:] == ["microsoft.authorization", "locks"]:
            return self._page(request, self._locks_applying(request.path))
        items_or_none = estate.list_collection(request.path)
        if items_or_none is None:
            raise ApiError(404, "ResourceNotFound", f"The parent of '{request.path}' was not found.")
        if len(segs) == 7 and low[2] == "resourcegroups" and low[4] == "providers":
            return self._page(request, items_or_none)
        return web.json_response({"value": items_or_none})

    def _locks_applying(self, path: str) -> list[dict[str, Any]]:
        """`{scope}/providers/Microsoft.Authorization/locks` (locks.json 2020-05-01, ManagementLocks_List*):
        the locks on the scope and on every parent scope, as example ManagementLocks_ListAtResourceLevel.json
        lists a resource group's lock for a storage account. An unknown resource answers 404."""
        scope_segs = _segments(path)[:-3]
        scope = "/" + "/".join(scope_segs)
        if len(scope_segs) > 4:
            self.estate.get(scope)  # ResourceNotFound / ResourceGroupNotFound as ARM answers
        elif len(scope_segs) == 4 and not self.estate.group_exists(scope + "/x"):
            raise ApiError(404, "ResourceGroupNotFound", f"Resource group '{scope_segs[3]}' could not be found.")
        scopes = [scope_segs]
        if len(scope_segs) > 4:
            scopes.append(scope_segs[:4])  # the resource group
        if len(scope_segs) > 2:
            scopes.append(scope_segs[:2])  # the subscription
        out: list[dict[str, Any]] = []
        for segs in scopes:
            out.extend(self.estate.list_collection("/" + "/".join(segs) + "/providers/Microsoft.Authorization/locks")
                       or [])
        return out

    def _page(self, request: web.Request, items: list[dict[str, Any]]) -> web.Response:
        raw = request.query.get("$skiptoken", "0")
        try:
            skip = int(raw)
            if skip < 0:
                raise ValueError
        except ValueError:
            raise ApiError(400, "InvalidSkipToken", f"The skip token '{raw}' is not valid.") from None
        page = items[skip : skip + self.page_size]
        body: dict[str, Any] = {"value": page}
        if skip + self.page_size < len(items):
            query = dict(request.query)
            query["$skiptoken"] = str(skip + self.page_size)
            body["nextLink"] = str(request.url.with_query(query))
        return web.json_response(body)

    def _record_event(self, resource_id: str, method: str, request: web.Request) -> None:
        sub = _segments(resource_id)[1]
        from emulator.audit import USER_HEADER

        forwarded = request.headers.get("X-Forwarded-For", "").split(",")[0].strip()
        event = make_event(
            resource_id,
            method,
            tenant_id=self.estate.tenant_of(sub),
            url=str(request.url),
            caller=request.headers.get(USER_HEADER),
            caller_ip=forwarded or None,
        )
        self.events.append(event)
        delivery: dict[str, Any] = {"event_id": event["id"], "target": self.event_target}
        delivery["status"] = "not_sent"
        self.deliveries.append(delivery)
        if self.event_target:
            delivery["status"] = "pending"
            task = asyncio.get_running_loop().create_task(self._deliver(event, delivery))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _deliver(self, event: dict[str, Any], delivery: dict[str, Any]) -> None:
        """POST one event to the target as Event Grid does; failures are recorded, never raised."""
        assert self.event_target is not None
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=DELIVERY_TIMEOUT_S))
        delivery["attempted_at"] = _now_iso()
        await self._post_delivery(self.event_target, json.dumps([event]),
                                  {"Content-Type": "application/json", "aeg-event-type": "Notification"}, delivery)

    async def _post_delivery(self, url: str, data: str | bytes, headers: dict[str, str],
                             delivery: dict[str, Any]) -> None:
        """POST one delivery (Event Grid or Event Hubs stand-in); the outcome goes into `delivery`, never raised."""
        assert self._session is not None
        try:
            async with self._session.post(url, data=data, headers=headers) as resp:
                await resp.read()
                delivery["http_status"] = resp.status
                delivery["status"] = "delivered" if resp.status < 300 else "failed"
        except asyncio.CancelledError:
            delivery["status"] = "cancelled"
            raise
        except Exception as exc:
            delivery["status"] = "failed"
            delivery["error"] = f"{type(exc).__name__}: {exc}"

    # ---- Databricks audit records (diagnostic setting -> Event Hubs) ----------------------
    async def _audit_write(self, request: web.Request, response: web.Response) -> None:
        """Record (and send to --audit-target) the audit records of one workspace-API write."""
        from emulator.audit import USER_HEADER, records_for_write

        segs = _segments(request.path)
        workspace_id = self.estate.workspace_resource_id(segs[1]) if len(segs) > 1 else None
        if workspace_id is None:
            return  # an unknown host: Databricks has no workspace to log for
        try:
            body = json.loads(await request.read() or b"null")
        except ValueError:
            body = None
        error = None
        if response.status >= 400 and response.body is not None:
            try:
                error = json.loads(bytes(response.body)).get("message")  # type: ignore[arg-type]
            except (ValueError, AttributeError, TypeError):
                error = None
        forwarded = request.headers.get("X-Forwarded-For", "").split(",")[0].strip()
        records = records_for_write(workspace_id, request.method, [s.lower() for s in segs[2:]], body,
                                    response.status, error, source_ip=forwarded or request.remote,
                                    user=request.headers.get(USER_HEADER) or "admin@emulator.local")
        if not records:
            return
        self.audit_records.extend(records)
        delivery: dict[str, Any] = {"log_ids": [r["properties"]["logId"] for r in records],
                                    "target": self.audit_target, "status": "not_sent"}
        self.audit_deliveries.append(delivery)
        if self.audit_target:
            delivery["status"] = "pending"
            task = asyncio.get_running_loop().create_task(self._deliver_audit(records, delivery))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _deliver_audit(self, records: list[dict[str, Any]], delivery: dict[str, Any]) -> None:
        """POST one Event Hubs body `{"records": [...]}`; failures are recorded, never raised."""
        from emulator.audit import event_body

        assert self.audit_target is not None
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=DELIVERY_TIMEOUT_S))
        await self._post_delivery(self.audit_target, event_body(records), {"Content-Type": "application/json"},
                                  delivery)

    # ---- Databricks workspace API --------------------------------------------------------
    async def _workspace_api(self, request: web.Request) -> web.Response:
        response = await self._workspace_api_route(request)
        if request.method.upper() in ("POST", "PUT", "PATCH", "DELETE") and response.status != 401:
            await self._audit_write(request, response)
        return response

    async def _workspace_api_route(self, request: web.Request) -> web.Response:
        if not _has_bearer(request):
            return _dbx_error(401, "UNAUTHENTICATED", "Credential was not sent or is of an unsupported type.")
        segs = _segments(request.path)
        host = segs[1]
        ws = self.estate.workspaces.get(host.lower())
        if ws is None:
            return _dbx_error(404, "RESOURCE_DOES_NOT_EXIST", f"Workspace {host} does not exist.")
        rest = segs[2:]
        low = [s.lower() for s in rest]
        method = request.method.upper()
        try:
            body: Any = None
            if method in ("POST", "PUT", "PATCH"):
                try:
                    body = await _json_body(request)
                except ValueError:
                    raise ApiError(400, "MALFORMED_REQUEST", "Request body is not valid JSON.") from None
                if body is not None and not isinstance(body, dict):
                    raise ApiError(400, "MALFORMED_REQUEST", "Request body must be a JSON object.")
                body = body or {}
            if low[:3] == ["api", "2.0", "ip-access-lists"]:
                return self._ip_access_lists(ws, method, rest[3:], body)
            if low == ["api", "2.0", "workspace-conf"]:
                return self._workspace_conf(ws, method, request, body)
            if low[:4] == ["api", "2.0", "token-management", "tokens"]:
                return self._tokens(ws, method, rest[4:], request)
            if low == ["api", "2.0", "permissions", "authorization", "tokens"] and method == "GET":
                return web.json_response(token_permissions_answer(ws.token_permissions))
            if method == "GET":
                answer = self._compute_uc(ws, low, rest, request.query)
                if answer is not None:
                    return web.json_response(answer)
            if low[:4] == ["api", "2.0", "settings", "types"]:
                return web.json_response(handle_settings(ws.settings, method, rest[4:], body))
            if low[:5] == ["api", "2.0", "preview", "scim", "v2"] and len(rest) == 6 and method == "GET" \
                    and rest[5] in SCIM_RESOURCES:
                return web.json_response(scim_list(ws.scim, rest[5], request.query))
            if low == ["api", "2.0", "secrets", "scopes", "list"] and method == "GET":
                return web.json_response(secret_scopes_answer(ws.secret_scopes))
            if low == ["api", "2.0", "secrets", "acls", "list"] and method == "GET":
                return web.json_response(secret_acls_answer(ws.secret_scopes, ws.secret_acls,
                                                            request.query.get("scope")))
            raise ApiError(404, "ENDPOINT_NOT_FOUND", f"No API found for '{method} /{'/'.join(rest)}'")
        except ApiError as exc:
            return _dbx_error(exc.status, exc.code, exc.message)

    @staticmethod
    def _compute_uc(ws: Any, low: list[str], rest: list[str], query: Any) -> dict[str, Any] | None:
        """GET endpoints of emulator/compute_uc.py; None = not one of them."""
        from emulator import compute_uc as cu

        seed = ws.compute_uc
        clusters = seed.get("clusters") or []
        policies = seed.get("cluster_policies") or []
        assignment = seed.get("metastore_assignment")
        if low[:3] == ["api", "2.0", "global-init-scripts"] and len(low) <= 4:
            return cu.global_init_scripts(seed.get("global_init_scripts") or [], rest[3:])
        if low == ["api", "2.1", "clusters", "list"]:
            return cu.clusters_list(clusters, query)
        if low == ["api", "2.1", "clusters", "spark-versions"]:
            return {"versions": list(seed.get("spark_versions") or [])}
        if low == ["api", "2.0", "policies", "clusters", "list"]:
            return {"policies": list(policies)}
        if low == ["api", "2.0", "policies", "clusters", "list-compliance"]:
            return cu.list_compliance(clusters, seed.get("policy_compliance") or {}, policies, query)
        if low[:4] == ["api", "2.0", "permissions", "cluster-policies"] and len(low) == 5:
            return cu.policy_permissions(policies, seed.get("policy_permissions") or {}, rest[4])
        if low == ["api", "2.1", "unity-catalog", "current-metastore-assignment"]:
            return cu.metastore_assignment(assignment)
        if low == ["api", "2.1", "unity-catalog", "metastore_summary"]:
            return cu.metastore_summary(assignment, seed.get("metastore_summary") or {})
        if low == ["api", "2.1", "unity-catalog", "storage-credentials"]:
            return cu.uc_paged("storage_credentials", seed.get("storage_credentials") or [], query)
        if low[:4] == ["api", "2.1", "unity-catalog", "metastores"] and len(low) == 6 and low[5] == "systemschemas":
            return cu.system_schemas(assignment, seed.get("system_schemas"), rest[4], query)
        if low == ["api", "2.0", "preview", "scim", "v2", "me"]:
            return dict(seed.get("current_user") or cu.DEFAULT_CURRENT_USER)
        if low == ["api", "2.0", "settings", "types", "default_namespace_ws", "names", "default"]:
            return cu.default_namespace(seed.get("default_namespace"))
        return None

    @staticmethod
    def _ip_access_lists(ws: Any, method: str, rest: list[str], body: Any) -> web.Response:
        if not rest:
            if method == "GET":
                return web.json_response({"ip_access_lists": list(ws.ip_lists.values())})
            if method == "POST":
                return web.json_response({"ip_access_list": ws.add_list(body)})
        elif len(rest) == 1:
            list_id = rest[0]
            if method == "GET":
                return web.json_response({"ip_access_list": ws.get_list(list_id)})
            if method in ("PATCH", "PUT"):
                return web.json_response({"ip_access_list": ws.update_list(list_id, body, replace=method == "PUT")})
            if method == "DELETE":
                ws.get_list(list_id)
                del ws.ip_lists[list_id]
                return web.json_response({})
        raise ApiError(405, "ENDPOINT_NOT_FOUND", f"{method} is not supported on ip-access-lists here.")

    @staticmethod
    def _workspace_conf(ws: Any, method: str, request: web.Request, body: Any) -> web.Response:
        if method == "GET":
            keys = [k.strip() for k in request.query.get("keys", "").split(",") if k.strip()]
            if not keys:
                raise ApiError(400, "INVALID_PARAMETER_VALUE", "Missing required parameter: keys")
            unknown = [k for k in dict.fromkeys(keys) if k not in KNOWN_WORKSPACE_CONF_KEYS]
            if unknown:  # one unsupported key fails the whole read, as on Databricks
                raise ApiError(400, "INVALID_PARAMETER_VALUE", invalid_keys_message(unknown))
            return web.json_response({k: ws.conf.get(k) for k in keys})
        if method == "PATCH":
            # No key check here: in terraform-provider-databricks issue #1769 the PATCH with an unsupported key
            # went through and only the read-back GET failed with "Invalid keys".
            bad = [k for k, v in body.items() if not isinstance(v, str)]
            if bad:
                raise ApiError(400, "INVALID_PARAMETER_VALUE", f"Values must be strings: {', '.join(bad)}")
            ws.conf.update(body)
            return web.Response(status=204)
        raise ApiError(405, "ENDPOINT_NOT_FOUND", f"{method} is not supported on workspace-conf.")

    @staticmethod
    def _tokens(ws: Any, method: str, rest: list[str], request: web.Request) -> web.Response:
        if not rest and method == "GET":
            infos = ws.tokens
            by_id = request.query.get("created_by_id")
            by_name = request.query.get("created_by_username")
            if by_id:
                infos = [t for t in infos if str(t.get("created_by_id")) == by_id]
            if by_name:
                infos = [t for t in infos if t.get("created_by_username") == by_name]
            return web.json_response({"token_infos": infos})
        if len(rest) == 1 and method in ("GET", "DELETE"):
            for i, info in enumerate(ws.tokens):
                if info.get("token_id") == rest[0]:
                    if method == "DELETE":
                        del ws.tokens[i]
                        return web.json_response({})
                    return web.json_response({"token_info": info})
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Token {rest[0]} does not exist.")
        raise ApiError(405, "ENDPOINT_NOT_FOUND", f"{method} is not supported on token-management here.")

    # ---- Teams ---------------------------------------------------------------------------
    async def _teams(self, request: web.Request) -> web.Response:
        segs = _segments(request.path)
        if request.method.upper() != "POST" or len(segs) != 2:
            return web.json_response({"error": {"code": "MethodNotAllowed"}}, status=405)
        try:
            body = await _json_body(request)
        except ValueError:
            return web.json_response({"error": {"code": "InvalidRequestContent"}}, status=400)
        if not isinstance(body, dict):
            return web.json_response({"error": {"code": "InvalidRequestContent"}}, status=400)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in DROPPED_HEADERS}
        if len(self.teams_posts) >= MAX_TEAMS_POSTS:
            del self.teams_posts[0]
        post = {"name": segs[1], "body": body, "received_at": _now_iso(), "headers": headers}
        self.teams_posts.append(post)
        return web.Response(status=202)

    # ---- control API ---------------------------------------------------------------------
    async def _control(self, request: web.Request) -> web.Response:
        what = request.path.rstrip("/").removeprefix("/_emulator").strip("/")
        method = request.method.upper()
        if what == "health" and method == "GET":
            return web.json_response({"status": "ok"})
        if what == "state":
            if method == "GET":
                self.advance_operations()
                return web.json_response(self.estate.snapshot())
            if method == "PUT":
                try:
                    self.estate = Estate(load_seed(await _json_body(request) or {}))
                    self.operations.clear()
                except (SeedError, ValueError) as exc:
                    return web.json_response({"error": str(exc)}, status=400)
                return web.json_response({"status": "ok"})
        if what == "faults":
            if method == "GET":
                return web.json_response(self.faults_view())
            if method == "DELETE":
                self.clear_faults()
                return web.json_response(self.faults_view())
            if method == "POST":
                try:
                    self.apply_fault_spec(await _json_body(request) or {})
                except (FaultError, ValueError) as exc:
                    return web.json_response({"error": str(exc)}, status=400)
                return web.json_response(self.faults_view())
        if what == "requests":
            if method == "GET":
                return web.json_response(self.request_counts())
            if method == "DELETE":
                self.reset_requests()
                return web.json_response({"status": "ok"})
        if what == "events":
            if method == "GET":
                return web.json_response({"events": self.events, "deliveries": self.deliveries})
            if method == "DELETE":
                self.events.clear()
                self.deliveries.clear()
                return web.json_response({"status": "ok"})
        if what == "audit":
            if method == "GET":
                return web.json_response({"records": self.audit_records, "deliveries": self.audit_deliveries})
            if method == "DELETE":
                self.audit_records.clear()
                self.audit_deliveries.clear()
                return web.json_response({"status": "ok"})
        if what == "teams":
            if method == "GET":
                return web.json_response({"posts": self.teams_posts})
            if method == "DELETE":
                self.teams_posts.clear()
                return web.json_response({"status": "ok"})
        return web.json_response({"error": f"no control endpoint {method} /_emulator/{what}"}, status=404)


def _filter_by_type(items: list[dict[str, Any]], flt: str) -> list[dict[str, Any]]:
    """Support the one `$filter` form collectors use: `resourceType eq 'X'`."""
    text = flt.strip()
    prefix = "resourcetype eq "
    if text.lower().startswith(prefix):
        wanted = text[len(prefix) :].strip().strip("'").lower()
        return [i for i in items if str(i.get("type", "")).lower() == wanted]
    raise ApiError(400, "InvalidFilterInQueryString", f"Unsupported $filter: {flt}")
