"""ARM long-running operations: Databricks workspace PUT/DELETE, network PUT, and their status endpoints.

Workspace rules from emulator/arm_rules.py (`databricks.json` 2026-01-01, `x-ms-long-running-operation:
true`): PUT answers 201/200 with `provisioningState` Accepted/Updating and `Azure-AsyncOperation`; DELETE
answers 202 with `Azure-AsyncOperation`, `Location` and `Retry-After` (examples/WorkspaceDelete.json),
or 204 when there is nothing to delete. Network rules from emulator/network_rules.py: NSG, security
rule, VNet and subnet PUT answer 201/200 with `Azure-AsyncOperation` pointing at the provider's
location-scoped operation. An operation completes lazily, on the first request after its delay
(`--lro-delay-s`), or at once with `finish()` (tests hold one open this way).
"""

from __future__ import annotations

import contextlib
import json
import random
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from emulator import arm_rules, network_rules
from emulator.arm_rules import Operation
from emulator.http_common import ApiError, segments
from emulator.routes.arm import record_arm_write

if TYPE_CHECKING:
    from emulator.app import EmulatorApp


class ArmOperations:
    """The long-running ARM operations in flight or done, by id."""

    def __init__(self, app: EmulatorApp, *, delay_s: float) -> None:
        self.app = app
        self.delay_s = delay_s
        """How long a workspace PUT/DELETE or network PUT stays in flight before it completes."""
        self.operations: dict[str, Operation] = {}
        self._rng = random.Random(4242)

    # ---- bookkeeping ---------------------------------------------------------------------
    def advance(self) -> None:
        """Complete every operation whose delay has passed (lazily, on the next request)."""
        now = time.monotonic()
        for op in self.operations.values():
            if op.status == "InProgress" and op.due_at <= now:
                self._complete(op)

    def finish(self) -> int:
        """Complete every operation still in flight now, whatever its delay (tests hold one open this way)."""
        running = [op for op in self.operations.values() if op.status == "InProgress"]
        for op in running:
            self._complete(op)
        return len(running)

    def _complete(self, op: Operation) -> None:
        estate = self.app.estate
        op.status, op.ended_at = "Succeeded", datetime.now(UTC)
        if op.kind == "delete":
            host = None
            with contextlib.suppress(ApiError):
                host = (estate.arm.get(op.resource_id).get("properties") or {}).get("workspaceUrl")
            estate.arm.delete(op.resource_id)
            if isinstance(host, str):
                estate.workspaces.pop(host.lower(), None)
            return
        if op.kind == "network":
            with contextlib.suppress(ApiError):  # deleted meanwhile: nothing to settle
                _settle_network(estate.arm.get(op.resource_id), "Succeeded")
            return
        try:
            doc = estate.arm.get(op.resource_id)
        except ApiError:
            return  # deleted meanwhile
        host = arm_rules.fill_created_workspace(doc, self._rng)
        doc["properties"]["provisioningState"] = "Succeeded"
        estate.ensure_workspace_api(host)

    def _start(self, resource_id: str, kind: str, api_version: str) -> Operation:
        op = Operation(op_id=str(uuid.uuid4()), resource_id=resource_id, kind=kind, api_version=api_version,
                       started_at=datetime.now(UTC), due_at=time.monotonic() + self.delay_s)
        self.operations[op.op_id] = op
        return op

    def _headers(self, request: web.Request, op: Operation, *, location: bool) -> dict[str, str]:
        base = f"{request.scheme}://{request.host}{op.resource_id}"
        query = f"?api-version={op.api_version}"
        status = f"{base}/operationStatus/{op.op_id}{query}"
        if op.kind == "network":
            sub, region = segments(op.resource_id)[1], op.extra.get("location") or "global"
            status = (f"{request.scheme}://{request.host}/subscriptions/{sub}/providers/Microsoft.Network/"
                      f"locations/{region}/operations/{op.op_id}{query}")
        headers = {"Azure-AsyncOperation": status,
                   "Retry-After": str(max(1, int(self.delay_s + 0.999)) if self.delay_s else 0)}
        if location:
            headers["Location"] = f"{base}/operationResults/{op.op_id}{query}"
        return headers

    def _running(self, resource_id: str) -> Operation | None:
        return next((o for o in self.operations.values()
                     if o.status == "InProgress" and o.resource_id.lower() == resource_id.lower()), None)

    def _refuse_if_busy(self, existing: dict[str, Any] | None, allow: str | None = None) -> None:
        """One operation at a time per workspace (a repeated DELETE joins the running delete)."""
        running = self._running(existing["id"]) if existing is not None else None
        if running is not None and running.kind != allow:
            raise ApiError(409, "AnotherOperationInProgress",
                           f"Operation '{running.kind}' is in progress on the workspace; retry when it completes.")

    # ---- handlers ------------------------------------------------------------------------
    async def workspace_put(self, request: web.Request, path: str, body: dict[str, Any]) -> web.Response:
        arm = self.app.estate.arm
        api_version = request.query["api-version"]
        existing = arm.find(path)
        self._refuse_if_busy(existing)
        arm_rules.validate_workspace_put(body, api_version, existing)
        state = "Updating" if existing is not None else "Accepted"
        doc, created = arm.put(path, arm_rules.workspace_document(body, existing, state))
        op = self._start(doc["id"], "create" if created else "update", api_version)
        record_arm_write(self.app, doc["id"], "PUT", request)  # ARM reports the write once it is accepted
        if self.delay_s == 0:
            self._complete(op)
            doc = arm.get(doc["id"])
            shown = json.loads(json.dumps(doc))
            shown["properties"]["provisioningState"] = state  # the response still says it was just accepted
            return web.json_response(shown, status=201 if created else 200,
                                     headers=self._headers(request, op, location=False))
        return web.json_response(doc, status=201 if created else 200,
                                 headers=self._headers(request, op, location=False))

    async def network_put(self, request: web.Request, path: str, body: dict[str, Any]) -> web.Response:
        """NSG, security rule, VNet or subnet PUT: validated as the network provider does, stored at once
        (a GET shows the new rules while the operation runs, `provisioningState` Updating), settled to
        Succeeded when the operation completes. An immediate completion answers as the spec examples do
        (e.g. NetworkSecurityGroupRuleCreate.json: 201 with `provisioningState` Succeeded)."""
        arm = self.app.estate.arm
        kind = network_rules.resource_type(path)
        if kind == network_rules.NSG_TYPE:
            network_rules.check_nsg_put(body)
        elif kind == network_rules.SECURITY_RULE_TYPE:
            nsg = arm.find("/" + "/".join(segments(path)[:-2]))
            # A missing NSG is left to `arm.put`, which answers ARM's ParentResourceNotFound.
            network_rules.check_rule_put(nsg or {}, segments(path)[-1], body)
        stored = json.loads(json.dumps(body))
        _settle_network(stored, "Updating")
        doc, created = arm.put(path, stored)
        region = self._region_of(doc["id"])
        op = self._start(doc["id"], "network", request.query["api-version"])
        op.extra["location"] = region
        record_arm_write(self.app, doc["id"], "PUT", request)
        if self.delay_s == 0:
            self._complete(op)
            doc = arm.get(doc["id"])
        return web.json_response(doc, status=201 if created else 200,
                                 headers=self._headers(request, op, location=False))

    def _region_of(self, resource_id: str) -> str:
        """The region of a network resource or of its parent (a subnet's VNet, a rule's NSG)."""
        segs = segments(resource_id)
        for n in (len(segs), 8):
            with contextlib.suppress(ApiError):
                loc = self.app.estate.arm.get("/" + "/".join(segs[:n])).get("location")
                if isinstance(loc, str) and loc:
                    return loc.replace(" ", "").lower()
        return "global"

    def network_answer(self, segs: list[str]) -> web.Response:
        """GET `/subscriptions/{sub}/providers/Microsoft.Network/locations/{region}/operations/{id}`."""
        op = self.operations.get(segs[-1])
        if op is None or op.kind != "network" or segments(op.resource_id)[1].lower() != segs[1].lower():
            raise ApiError(404, "ResourceNotFound", f"The operation '{segs[-1]}' was not found.")
        # network.json `AzureAsyncOperationResult`: `status` (InProgress/Succeeded/Failed) and `error`.
        retry = {"Retry-After": str(max(1, int(self.delay_s + 0.999)))} if op.status == "InProgress" else None
        return web.json_response({"status": op.status}, headers=retry)

    def workspace_delete(self, request: web.Request, path: str) -> web.Response:
        existing = self.app.estate.arm.find(path)
        if existing is None:
            return web.Response(status=204)
        self._refuse_if_busy(existing, allow="delete")
        props = existing.setdefault("properties", {})
        running = self._running(existing["id"])
        if running is None:
            props["provisioningState"] = "Deleting"
            running = self._start(existing["id"], "delete", request.query["api-version"])
            record_arm_write(self.app, existing["id"], "DELETE", request)
            if self.delay_s == 0:
                self._complete(running)
        return web.Response(status=202, headers=self._headers(request, running, location=True))

    def answer(self, request: web.Request, segs: list[str]) -> web.Response:
        """GET `{workspace}/operationStatus/{id}` or `{workspace}/operationResults/{id}`."""
        op = self.operations.get(segs[-1])
        if op is None or "/".join(segments(op.resource_id)).lower() != "/".join(segs[:-2]).lower():
            raise ApiError(404, "ResourceNotFound", f"The operation '{segs[-1]}' was not found.")
        if segs[-2].lower() == "operationstatus":
            retry = self._headers(request, op, location=False)["Retry-After"]
            return web.json_response(op.status_body(), headers={"Retry-After": retry} if op.status == "InProgress"
                                     else None)
        if op.status == "InProgress":  # operationResults: 202 until done, then the final answer
            return web.Response(status=202, headers=self._headers(request, op, location=True))
        if op.kind == "delete":
            return web.Response(status=204)
        return web.json_response(self.app.estate.arm.get(op.resource_id))


def _settle_network(doc: dict[str, Any], state: str) -> None:
    """Set `provisioningState` on a network document and on its embedded children (rules, subnets)."""
    props = doc.setdefault("properties", {})
    if not isinstance(props, dict):
        return
    props["provisioningState"] = state
    for key in ("securityRules", "subnets"):
        for child in props.get(key) or []:
            if isinstance(child, dict) and isinstance(child.get("properties"), dict):
                child["properties"]["provisioningState"] = state
