"""The Databricks workspace API under `/ws/{workspaceUrl host}/api/...`, as databricks-sdk calls it.

Served here: `ip-access-lists[/{id}]`, `workspace-conf` (only the keys in emulator/workspace_conf_keys.py),
`token-management/tokens[/{id}]`; the settings, SCIM, secrets and token-permission families of
emulator/workspace_families.py; the compute and Unity Catalog reads of emulator/compute_uc.py. Errors
have Databricks' shape `{"error_code", "message"}`. Every write (POST/PUT/PATCH/DELETE that got past
authentication) leaves Databricks audit records (emulator/audit.py), sent by emulator/outbox.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from emulator import compute_uc as cu
from emulator.audit import USER_HEADER, records_for_write
from emulator.http_common import ApiError, dbx_error, has_bearer, json_body, segments
from emulator.workspace_conf_keys import KNOWN_WORKSPACE_CONF_KEYS, invalid_keys_message
from emulator.workspace_families import (
    SCIM_RESOURCES,
    handle_settings,
    scim_list,
    secret_acls_answer,
    secret_scopes_answer,
    token_permissions_answer,
)
from emulator.workspace_state import WorkspaceApi

if TYPE_CHECKING:
    from emulator.app import EmulatorApp

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")

ComputeUcRead = Callable[[dict[str, Any], Any], dict[str, Any]]
"""(the workspace's compute/UC seed, the query) -> the answer."""

COMPUTE_UC_READS: dict[tuple[str, ...], ComputeUcRead] = {
    ("api", "2.1", "clusters", "list"): lambda seed, query: cu.clusters_list(seed.get("clusters") or [], query),
    ("api", "2.1", "clusters", "spark-versions"): lambda seed, _q: {
        "versions": list(seed.get("spark_versions") or [])},
    ("api", "2.0", "policies", "clusters", "list"): lambda seed, _q: {
        "policies": list(seed.get("cluster_policies") or [])},
    ("api", "2.0", "policies", "clusters", "list-compliance"): lambda seed, query: cu.list_compliance(
        seed.get("clusters") or [], seed.get("policy_compliance") or {}, seed.get("cluster_policies") or [], query),
    ("api", "2.1", "unity-catalog", "current-metastore-assignment"): lambda seed, _q: cu.metastore_assignment(
        seed.get("metastore_assignment")),
    ("api", "2.1", "unity-catalog", "metastore_summary"): lambda seed, _q: cu.metastore_summary(
        seed.get("metastore_assignment"), seed.get("metastore_summary") or {}),
    ("api", "2.1", "unity-catalog", "storage-credentials"): lambda seed, query: cu.uc_paged(
        "storage_credentials", seed.get("storage_credentials") or [], query),
    ("api", "2.0", "preview", "scim", "v2", "me"): lambda seed, _q: dict(
        seed.get("current_user") or cu.DEFAULT_CURRENT_USER),
    ("api", "2.0", "settings", "types", "default_namespace_ws", "names", "default"): lambda seed, _q: (
        cu.default_namespace(seed.get("default_namespace"))),
}
"""GET endpoints of emulator/compute_uc.py at a fixed (lower-cased) path; the three with an id are in
`_compute_uc`."""


def _compute_uc(ws: WorkspaceApi, low: list[str], rest: list[str], query: Any) -> dict[str, Any] | None:
    """GET endpoints of emulator/compute_uc.py; None = not one of them."""
    seed = ws.compute_uc
    read = COMPUTE_UC_READS.get(tuple(low))
    if read is not None:
        return read(seed, query)
    if low[:3] == ["api", "2.0", "global-init-scripts"] and len(low) <= 4:
        return cu.global_init_scripts(seed.get("global_init_scripts") or [], rest[3:])
    if low[:4] == ["api", "2.0", "permissions", "cluster-policies"] and len(low) == 5:
        return cu.policy_permissions(seed.get("cluster_policies") or [], seed.get("policy_permissions") or {},
                                     rest[4])
    if low[:4] == ["api", "2.1", "unity-catalog", "metastores"] and len(low) == 6 and low[5] == "systemschemas":
        return cu.system_schemas(seed.get("metastore_assignment"), seed.get("system_schemas"), rest[4], query)
    return None


def _ip_access_lists(ws: WorkspaceApi, method: str, rest: list[str], body: Any) -> web.Response:
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


def _workspace_conf(ws: WorkspaceApi, method: str, query: Any, body: Any) -> web.Response:
    if method == "GET":
        keys = [k.strip() for k in query.get("keys", "").split(",") if k.strip()]
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


def _tokens(ws: WorkspaceApi, method: str, rest: list[str], query: Any) -> web.Response:
    if not rest and method == "GET":
        infos = ws.tokens
        by_id = query.get("created_by_id")
        by_name = query.get("created_by_username")
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


def _dispatch(ws: WorkspaceApi, method: str, rest: list[str], body: Any, query: Any) -> web.Response:
    """The endpoint a path (after `/ws/{host}`) names, in the order Databricks' paths overlap."""
    low = [s.lower() for s in rest]
    if low[:3] == ["api", "2.0", "ip-access-lists"]:
        return _ip_access_lists(ws, method, rest[3:], body)
    if low == ["api", "2.0", "workspace-conf"]:
        return _workspace_conf(ws, method, query, body)
    if low[:4] == ["api", "2.0", "token-management", "tokens"]:
        return _tokens(ws, method, rest[4:], query)
    if low == ["api", "2.0", "permissions", "authorization", "tokens"] and method == "GET":
        return web.json_response(token_permissions_answer(ws.token_permissions))
    if method == "GET":
        answer = _compute_uc(ws, low, rest, query)
        if answer is not None:
            return web.json_response(answer)
    if low[:4] == ["api", "2.0", "settings", "types"]:
        return web.json_response(handle_settings(ws.settings, method, rest[4:], body))
    if low[:5] == ["api", "2.0", "preview", "scim", "v2"] and len(rest) == 6 and method == "GET" \
            and rest[5] in SCIM_RESOURCES:
        return web.json_response(scim_list(ws.scim, rest[5], query))
    if low == ["api", "2.0", "secrets", "scopes", "list"] and method == "GET":
        return web.json_response(secret_scopes_answer(ws.secret_scopes))
    if low == ["api", "2.0", "secrets", "acls", "list"] and method == "GET":
        return web.json_response(secret_acls_answer(ws.secret_scopes, ws.secret_acls, query.get("scope")))
    raise ApiError(404, "ENDPOINT_NOT_FOUND", f"No API found for '{method} /{'/'.join(rest)}'")


async def _request_body(request: web.Request, method: str) -> Any:
    """The JSON object a POST/PUT/PATCH sends (`{}` when empty); None for other methods."""
    if method not in ("POST", "PUT", "PATCH"):
        return None
    try:
        body = await json_body(request)
    except ValueError:
        raise ApiError(400, "MALFORMED_REQUEST", "Request body is not valid JSON.") from None
    if body is not None and not isinstance(body, dict):
        raise ApiError(400, "MALFORMED_REQUEST", "Request body must be a JSON object.")
    return body or {}


class WorkspaceApiRoutes:
    """The workspace-API surface; reads the app's current estate on every call."""

    def __init__(self, app: EmulatorApp) -> None:
        self.app = app

    async def serve(self, request: web.Request) -> web.Response:
        response = await self._route(request)
        if request.method.upper() in WRITE_METHODS and response.status != 401:
            await self._audit_write(request, response)
        return response

    async def _route(self, request: web.Request) -> web.Response:
        if not has_bearer(request):
            return dbx_error(401, "UNAUTHENTICATED", "Credential was not sent or is of an unsupported type.")
        segs = segments(request.path)
        host = segs[1]
        ws = self.app.estate.workspaces.get(host.lower())
        if ws is None:
            return dbx_error(404, "RESOURCE_DOES_NOT_EXIST", f"Workspace {host} does not exist.")
        method = request.method.upper()
        try:
            body = await _request_body(request, method)
            return _dispatch(ws, method, segs[2:], body, request.query)
        except ApiError as exc:
            return dbx_error(exc.status, exc.code, exc.message)

    # ---- Databricks audit records (diagnostic setting -> Event Hubs) ----------------------
    async def _audit_write(self, request: web.Request, response: web.Response) -> None:
        """Record (and send to --audit-target) the audit records of one workspace-API write."""
        segs = segments(request.path)
        workspace_id = self.app.estate.arm.workspace_resource_id(segs[1]) if len(segs) > 1 else None
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
        if records:
            self.app.outbox.record_audit(records)
