"""Azure Resource Manager under `/subscriptions...`: what the real azure-mgmt clients call.

Every call needs a bearer token and an `api-version` the provider publishes (emulator/arm_rules.py).
Served: the subscription list and each subscription (with its state's write restrictions), resource
groups, GET/PUT/PATCH/DELETE on any resource id (subnets and NSG rules included, extension resources
such as diagnostic settings, role assignments, locks and private endpoint connections too), and the
collections over them, paged with `$skiptoken`. Workspace PUT/DELETE are long-running
(routes/arm_operations.py). Every ARM write is recorded as an Event Grid event (emulator/outbox.py).
"""

from __future__ import annotations

import contextlib
import uuid
from typing import TYPE_CHECKING, Any

from aiohttp import web

from emulator import arm_rules, network_rules
from emulator.arm_rules import ArmRuleError
from emulator.http_common import ApiError, arm_error, has_bearer, json_body, segments

if TYPE_CHECKING:
    from emulator.app import EmulatorApp


def record_arm_write(app: EmulatorApp, resource_id: str, method: str, request: web.Request) -> None:
    """The Event Grid event of one ARM write, with the tenant of the resource's subscription."""
    tenant = app.estate.arm.tenant_of(segments(resource_id)[1])
    app.outbox.record_event(resource_id, method, request, tenant_id=tenant)


def _filter_by_type(items: list[dict[str, Any]], flt: str) -> list[dict[str, Any]]:
    """Support the one `$filter` form collectors use: `resourceType eq 'X'`."""
    text = flt.strip()
    prefix = "resourcetype eq "
    if text.lower().startswith(prefix):
        wanted = text[len(prefix) :].strip().strip("'").lower()
        return [i for i in items if str(i.get("type", "")).lower() == wanted]
    raise ApiError(400, "InvalidFilterInQueryString", f"Unsupported $filter: {flt}")


def _is_network_operation(low: list[str]) -> bool:
    """`/subscriptions/{sub}/providers/Microsoft.Network/locations/{region}/operations/{id}`."""
    return len(low) == 8 and low[2:5] == ["providers", "microsoft.network", "locations"] and low[6] == "operations"


def _not_allowed(method: str, where: str = "here") -> ApiError:
    return ApiError(405, "MethodNotAllowed", f"{method} is not supported {where}.")


class ArmRoutes:
    """The ARM surface; reads the app's current estate on every call (a control PUT may replace it)."""

    def __init__(self, app: EmulatorApp, *, page_size: int) -> None:
        self.app = app
        self.page_size = page_size

    async def serve(self, request: web.Request) -> web.Response:
        if not has_bearer(request):
            return arm_error(
                401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing."
            )
        if "api-version" not in request.query:
            return arm_error(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
        self.app.lro.advance()
        try:
            arm_rules.check_api_version(request.path, request.query["api-version"], self._location_of(request.path))
            return await self._route(request)
        except (ApiError, ArmRuleError) as exc:
            return arm_error(exc.status, exc.code, exc.message)

    def add_headers(self, request: web.Request, response: web.StreamResponse) -> None:
        """Headers ARM sends on every response, and the Bearer challenge on a 401 (RFC 6750).

        `x-ms-correlation-request-id` echoes the caller's when it sent one, as ARM does.
        """
        response.headers.setdefault("x-ms-request-id", str(uuid.uuid4()))
        response.headers.setdefault("x-ms-correlation-request-id",
                                    request.headers.get("x-ms-correlation-request-id") or str(uuid.uuid4()))
        if response.status == 401:
            segs = segments(request.path)
            tenant = self.app.estate.arm.tenant_of(segs[1]) if len(segs) > 1 else "common"
            response.headers["WWW-Authenticate"] = (
                f'Bearer authorization_uri="https://login.microsoftonline.com/{tenant}", error="invalid_token", '
                'error_description="The access token is missing or invalid."')

    def _location_of(self, path: str) -> str | None:
        """The location of the resource a path addresses (or of its top-level parent), if known."""
        segs = segments(path)
        for n in range(len(segs), 7, -2):
            with contextlib.suppress(ApiError):
                loc = self.app.estate.arm.get("/" + "/".join(segs[:n])).get("location")
                if isinstance(loc, str) and loc:
                    return loc.replace(" ", "").lower()
        return None

    # ---- routing -------------------------------------------------------------------------
    async def _route(self, request: web.Request) -> web.Response:
        path = request.path.rstrip("/")
        segs = segments(path)
        method = request.method.upper()
        arm = self.app.estate.arm
        if len(segs) == 1:
            if method != "GET":
                raise _not_allowed(method)
            return web.json_response({"value": [arm.subscription_view(s) for s in arm.subscriptions.values()]})
        sub = self._subscription(segs, method)
        if len(segs) == 2:
            if method != "GET":
                raise _not_allowed(method)
            return web.json_response(arm.subscription_view(sub))
        if len(segs) % 2 == 1:
            if method != "GET":
                raise _not_allowed(method, "on a collection")
            return self._list(request, segs)
        if len(segs) == 4 and segs[2].lower() == "resourcegroups":
            return await self._resource_group(request, path, segs, method)
        if len(segs) == 10 and segs[-2].lower() in ("operationstatus", "operationresults") and method == "GET":
            return self.app.lro.answer(request, segs)
        if method == "GET" and _is_network_operation([s.lower() for s in segs]):
            return self.app.lro.network_answer(segs)
        if method == "GET":
            return web.json_response(arm.get(path))
        if method == "DELETE":
            return self._delete(request, path)
        if method in ("PUT", "PATCH"):
            return await self._write(request, path, method)
        raise _not_allowed(method)

    def _subscription(self, segs: list[str], method: str) -> dict[str, Any]:
        """The subscription a path is under; refused when it does not exist or its state forbids `method`."""
        sub = self.app.estate.arm.subscriptions.get(segs[1].lower())
        sub_state = str((sub or {}).get("state") or "Enabled").lower()
        if sub is None or (sub_state == "deleted" and len(segs) > 2):
            raise ApiError(404, "SubscriptionNotFound", f"The subscription '{segs[1]}' could not be found.")
        if sub_state in ("disabled", "warned") and method not in ("GET", "DELETE"):
            # Microsoft Learn "Azure subscription states": Disabled and Warned subscriptions serve GET and
            # DELETE only (create/update/action are refused).
            raise ApiError(409, "ReadOnlyDisabledSubscription",
                           f"The subscription '{segs[1]}' is {sub.get('state')} and therefore marked as read only. "
                           "You cannot perform any write actions on this subscription until it is re-enabled.")
        return sub

    async def _resource_group(self, request: web.Request, path: str, segs: list[str], method: str) -> web.Response:
        arm = self.app.estate.arm
        if method == "PUT":
            body = await json_body(request)
            group, created = arm.put_group(path, body if isinstance(body, dict) else {})
            return web.json_response(group, status=201 if created else 200)
        if method != "GET":
            raise ApiError(405, "MethodNotAllowed", f"{method} on resource groups is not supported here.")
        for group in arm.resource_groups(segs[1]):
            if group["name"].lower() == segs[3].lower():
                return web.json_response(group)
        raise ApiError(404, "ResourceGroupNotFound", f"Resource group '{segs[3]}' could not be found.")

    def _delete(self, request: web.Request, path: str) -> web.Response:
        if arm_rules.is_workspace(path):
            return self.app.lro.workspace_delete(request, path)
        arm = self.app.estate.arm
        existing = arm.find(path)
        if not arm.delete(path):
            return web.Response(status=204)
        record_arm_write(self.app, existing["id"] if existing else path, "DELETE", request)
        return web.Response(status=200)

    async def _write(self, request: web.Request, path: str, method: str) -> web.Response:
        try:
            body = await json_body(request)
        except ValueError:
            raise ApiError(400, "InvalidRequestContent", "The request content is not JSON.") from None
        if not isinstance(body, dict):
            raise ApiError(400, "InvalidRequestContent", "The request content must be a JSON object.")
        if method == "PUT" and arm_rules.is_workspace(path):
            return await self.app.lro.workspace_put(request, path, body)
        if method == "PATCH" and arm_rules.is_workspace(path):
            arm_rules.check_workspace_patch(body)
        if method == "PUT" and network_rules.is_long_running_put(path):
            return await self.app.lro.network_put(request, path, body)
        if method == "PUT" and arm_rules.is_role_assignment(path):
            body = arm_rules.role_assignment_document(path, body)
        arm = self.app.estate.arm
        if method == "PUT":
            doc, created = arm.put(path, body)
            record_arm_write(self.app, doc["id"], method, request)
            return web.json_response(doc, status=201 if created else 200)
        doc = arm.patch(path, body)
        record_arm_write(self.app, doc["id"], method, request)
        return web.json_response(doc)

    # ---- collections ---------------------------------------------------------------------
    def _list(self, request: web.Request, segs: list[str]) -> web.Response:
        low = [s.lower() for s in segs]
        arm = self.app.estate.arm
        if len(low) >= 5 and low[-3:-1] == ["providers", "microsoft.authorization"] and low[-1] in (
                "roleassignments", "roledefinitions"):
            return self._list_rbac(request, segs)
        in_group = len(low) == 5 and low[2] == "resourcegroups" and low[4] == "resources"
        if low[2:] == ["resources"] or in_group:
            items = arm.list_subscription(segs[1], segs[3] if len(segs) == 5 else None)
            flt = request.query.get("$filter", "")
            if flt:
                items = _filter_by_type(items, flt)
            return self._page(request, items)
        if low[2:] == ["resourcegroups"]:
            return self._page(request, arm.resource_groups(segs[1]))
        if len(segs) == 5 and low[2] == "providers":
            return self._page(request, arm.list_by_type(segs[1], f"{segs[3]}/{segs[4]}"))
        if low[-2:] == ["microsoft.authorization", "locks"]:
            return self._page(request, self._locks_applying(request.path))
        items_or_none = arm.list_collection(request.path)
        if items_or_none is None:
            raise ApiError(404, "ResourceNotFound", f"The parent of '{request.path}' was not found.")
        if len(segs) == 7 and low[2] == "resourcegroups" and low[4] == "providers":
            return self._page(request, items_or_none)
        return web.json_response({"value": items_or_none})

    def _list_rbac(self, request: web.Request, segs: list[str]) -> web.Response:
        """Role assignments or role definitions at a scope."""
        # ARM RoleAssignments_ListForScope / RoleDefinitions_List (2022-04-01): `{value, nextLink}` pages.
        flt = request.query.get("$filter")
        if flt is not None and (segs[-1].lower() != "roleassignments" or flt.replace(" ", "").lower() != "atscope()"):
            # Only atScope() is served (the spec's `principalId eq` filter is not needed here); the error
            # code ARM uses for an unsupported filter is not in the spec (unverified).
            raise ApiError(400, "BadRequest", f"The emulator does not serve the filter '{flt}'.")
        scope = "/" + "/".join(segs[:-3])
        return self._page(request, self.app.estate.arm.list_authorization(scope, segs[-1], flt))

    def _locks_applying(self, path: str) -> list[dict[str, Any]]:
        """`{scope}/providers/Microsoft.Authorization/locks` (locks.json 2020-05-01, ManagementLocks_List*):
        the locks on the scope and on every parent scope, as example ManagementLocks_ListAtResourceLevel.json
        lists a resource group's lock for a storage account. An unknown resource answers 404."""
        arm = self.app.estate.arm
        scope_segs = segments(path)[:-3]
        scope = "/" + "/".join(scope_segs)
        if len(scope_segs) > 4:
            arm.get(scope)  # ResourceNotFound / ResourceGroupNotFound as ARM answers
        elif len(scope_segs) == 4 and not arm.group_exists(scope + "/x"):
            raise ApiError(404, "ResourceGroupNotFound", f"Resource group '{scope_segs[3]}' could not be found.")
        scopes = [scope_segs]
        if len(scope_segs) > 4:
            scopes.append(scope_segs[:4])  # the resource group
        if len(scope_segs) > 2:
            scopes.append(scope_segs[:2])  # the subscription
        out: list[dict[str, Any]] = []
        for segs in scopes:
            out.extend(arm.list_collection("/" + "/".join(segs) + "/providers/Microsoft.Authorization/locks") or [])
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
