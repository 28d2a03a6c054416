"""The Databricks workspace API under `/ws/{workspaceUrl host}/api/...`, as databricks-sdk calls it.

Served here: `ip-access-lists[/{id}]`, `workspace-conf` (only the keys in emulator/workspace_conf_keys.py),
`token-management/tokens[/{id}]`; the settings, SCIM, secrets and token-permission families of
emulator/workspace_families.py; the compute and Unity Catalog reads of emulator/compute_uc.py. Errors
have Databricks' shape `{"error_code", "message"}`. Dispatch is the table WORKSPACE_ROUTES (method + path
pattern -> handler; no two routes match the same request), then the families' 405s (NOT_SUPPORTED_HERE),
then Databricks' unknown-endpoint 404. Every write (POST/PUT/PATCH/DELETE that got past
authentication) leaves Databricks audit records (emulator/audit.py), sent by emulator/outbox.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
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
ANY_METHOD = "*"
"""A route for every method: the handler answers the ones it does not serve itself."""


@dataclass(frozen=True)
class Call:
    """One request as a handler sees it: the workspace, the method, the path after `/ws/{host}` (as sent),
    the named path segments, the JSON body (POST/PUT/PATCH) and the query."""

    ws: WorkspaceApi
    method: str
    rest: list[str]
    params: dict[str, Any]
    body: Any
    query: Any


Handler = Callable[[Call], web.Response]


@dataclass(frozen=True)
class Route:
    """`method` + `pattern` -> handler. Pattern segments: a literal (matched case-insensitively, as the
    emulator has always matched workspace-API paths), `{name}` (any one segment), `{name:A|B}` (one of these
    exact values, case-sensitive) or a final `{name*}` (the remaining segments, possibly none)."""

    method: str
    pattern: str
    handler: Handler

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(self.pattern.split("/"))

    def match(self, method: str, rest: list[str]) -> dict[str, Any] | None:
        if self.method not in (ANY_METHOD, method):
            return None
        return match_pattern(self.segments, rest)


def pattern_param(segment: str) -> tuple[str, tuple[str, ...] | None, bool] | None:
    """(name, allowed exact values or None, takes the rest) for a `{...}` segment; None for a literal."""
    if not (segment.startswith("{") and segment.endswith("}")):
        return None
    inner = segment[1:-1]
    if inner.endswith("*"):
        return inner[:-1], None, True
    name, _, allowed = inner.partition(":")
    return name, (tuple(allowed.split("|")) if allowed else None), False


def match_pattern(pattern: tuple[str, ...], rest: list[str]) -> dict[str, Any] | None:
    """The named segments of `rest` if it matches `pattern`, else None."""
    params: dict[str, Any] = {}
    for i, segment in enumerate(pattern):
        param = pattern_param(segment)
        if param is not None and param[2]:
            params[param[0]] = rest[i:]
            return params
        if i >= len(rest):
            return None
        if param is None:
            if rest[i].lower() != segment:
                return None
        elif param[1] is not None and rest[i] not in param[1]:
            return None
        else:
            params[param[0]] = rest[i]
    return params if len(rest) == len(pattern) else None


def _json(answer: Any) -> web.Response:
    return web.json_response(answer)


# ---- ip-access-lists ------------------------------------------------------------------------------
def _list_ip_lists(c: Call) -> web.Response:
    return _json({"ip_access_lists": list(c.ws.ip_lists.values())})


def _add_ip_list(c: Call) -> web.Response:
    return _json({"ip_access_list": c.ws.add_list(c.body)})


def _get_ip_list(c: Call) -> web.Response:
    return _json({"ip_access_list": c.ws.get_list(c.params["list_id"])})


def _update_ip_list(c: Call) -> web.Response:
    return _json({"ip_access_list": c.ws.update_list(c.params["list_id"], c.body, replace=c.method == "PUT")})


def _delete_ip_list(c: Call) -> web.Response:
    c.ws.get_list(c.params["list_id"])
    del c.ws.ip_lists[c.params["list_id"]]
    return _json({})


# ---- workspace-conf -------------------------------------------------------------------------------
def _get_workspace_conf(c: Call) -> web.Response:
    keys = [k.strip() for k in c.query.get("keys", "").split(",") if k.strip()]
    if not keys:
        raise ApiError(400, "INVALID_PARAMETER_VALUE", "Missing required parameter: keys")
    unknown = [k for k in dict.fromkeys(keys) if k not in KNOWN_WORKSPACE_CONF_KEYS]
    if unknown:  # one unsupported key fails the whole read, as on Databricks
        raise ApiError(400, "INVALID_PARAMETER_VALUE", invalid_keys_message(unknown))
    return _json({k: c.ws.conf.get(k) for k in keys})


def _patch_workspace_conf(c: Call) -> web.Response:
    # No key check here: in terraform-provider-databricks issue #1769 the PATCH with an unsupported key
    # went through and only the read-back GET failed with "Invalid keys".
    bad = [k for k, v in c.body.items() if not isinstance(v, str)]
    if bad:
        raise ApiError(400, "INVALID_PARAMETER_VALUE", f"Values must be strings: {', '.join(bad)}")
    c.ws.conf.update(c.body)
    return web.Response(status=204)


# ---- token-management -----------------------------------------------------------------------------
def _list_tokens(c: Call) -> web.Response:
    infos = c.ws.tokens
    by_id = c.query.get("created_by_id")
    by_name = c.query.get("created_by_username")
    if by_id:
        infos = [t for t in infos if str(t.get("created_by_id")) == by_id]
    if by_name:
        infos = [t for t in infos if t.get("created_by_username") == by_name]
    return _json({"token_infos": infos})


def _token_index(c: Call) -> int:
    for i, info in enumerate(c.ws.tokens):
        if info.get("token_id") == c.params["token_id"]:
            return i
    raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Token {c.params['token_id']} does not exist.")


def _get_token(c: Call) -> web.Response:
    return _json({"token_info": c.ws.tokens[_token_index(c)]})


def _delete_token(c: Call) -> web.Response:
    del c.ws.tokens[_token_index(c)]
    return _json({})


# ---- settings-v2 ----------------------------------------------------------------------------------
DEFAULT_NAMESPACE = ("default_namespace_ws", "names", "default")


def _settings(c: Call) -> web.Response:
    """Every method under `settings/types/`: emulator/workspace_families.py answers the path shape (404),
    the method (405) and unknown types. default_namespace_ws is a Unity Catalog read (emulator/compute_uc.py)
    served on the same path, so its GET is answered from there."""
    tail = c.params["rest"]
    if c.method == "GET" and tuple(s.lower() for s in tail) == DEFAULT_NAMESPACE:
        return _json(cu.default_namespace(c.ws.compute_uc.get("default_namespace")))
    return _json(handle_settings(c.ws.settings, c.method, tail, c.body))


# ---- compute and Unity Catalog reads (emulator/compute_uc.py) -------------------------------------
def _uc(read: Callable[[dict[str, Any], Call], Any]) -> Handler:
    """A GET answered from the workspace's compute/UC seed."""
    return lambda c: _json(read(c.ws.compute_uc, c))


def _route_table() -> tuple[Route, ...]:
    ip_lists, tokens = "api/2.0/ip-access-lists", "api/2.0/token-management/tokens"
    return (
        Route("GET", ip_lists, _list_ip_lists),
        Route("POST", ip_lists, _add_ip_list),
        Route("GET", f"{ip_lists}/{{list_id}}", _get_ip_list),
        Route("PATCH", f"{ip_lists}/{{list_id}}", _update_ip_list),
        Route("PUT", f"{ip_lists}/{{list_id}}", _update_ip_list),
        Route("DELETE", f"{ip_lists}/{{list_id}}", _delete_ip_list),
        Route("GET", "api/2.0/workspace-conf", _get_workspace_conf),
        Route("PATCH", "api/2.0/workspace-conf", _patch_workspace_conf),
        Route("GET", tokens, _list_tokens),
        Route("GET", f"{tokens}/{{token_id}}", _get_token),
        Route("DELETE", f"{tokens}/{{token_id}}", _delete_token),
        Route("GET", "api/2.0/permissions/authorization/tokens",
              lambda c: _json(token_permissions_answer(c.ws.token_permissions))),
        Route("GET", "api/2.1/clusters/list",
              _uc(lambda seed, c: cu.clusters_list(seed.get("clusters") or [], c.query))),
        Route("GET", "api/2.1/clusters/spark-versions",
              _uc(lambda seed, _c: {"versions": list(seed.get("spark_versions") or [])})),
        Route("GET", "api/2.0/policies/clusters/list",
              _uc(lambda seed, _c: {"policies": list(seed.get("cluster_policies") or [])})),
        Route("GET", "api/2.0/policies/clusters/list-compliance", _uc(lambda seed, c: cu.list_compliance(
            seed.get("clusters") or [], seed.get("policy_compliance") or {}, seed.get("cluster_policies") or [],
            c.query))),
        Route("GET", "api/2.0/global-init-scripts",
              _uc(lambda seed, _c: cu.global_init_scripts(seed.get("global_init_scripts") or [], []))),
        Route("GET", "api/2.0/global-init-scripts/{script_id}", _uc(lambda seed, c: cu.global_init_scripts(
            seed.get("global_init_scripts") or [], [c.params["script_id"]]))),
        Route("GET", "api/2.0/permissions/cluster-policies/{policy_id}", _uc(lambda seed, c: cu.policy_permissions(
            seed.get("cluster_policies") or [], seed.get("policy_permissions") or {}, c.params["policy_id"]))),
        Route("GET", "api/2.1/unity-catalog/current-metastore-assignment",
              _uc(lambda seed, _c: cu.metastore_assignment(seed.get("metastore_assignment")))),
        Route("GET", "api/2.1/unity-catalog/metastore_summary", _uc(lambda seed, _c: cu.metastore_summary(
            seed.get("metastore_assignment"), seed.get("metastore_summary") or {}))),
        Route("GET", "api/2.1/unity-catalog/storage-credentials", _uc(lambda seed, c: cu.uc_paged(
            "storage_credentials", seed.get("storage_credentials") or [], c.query))),
        Route("GET", "api/2.1/unity-catalog/metastores/{metastore_id}/systemschemas",
              _uc(lambda seed, c: cu.system_schemas(seed.get("metastore_assignment"), seed.get("system_schemas"),
                                                    c.params["metastore_id"], c.query))),
        Route(ANY_METHOD, "api/2.0/settings/types/{rest*}", _settings),
        Route("GET", "api/2.0/preview/scim/v2/me",
              _uc(lambda seed, _c: dict(seed.get("current_user") or cu.DEFAULT_CURRENT_USER))),
        Route("GET", f"api/2.0/preview/scim/v2/{{resource:{'|'.join(SCIM_RESOURCES)}}}",
              lambda c: _json(scim_list(c.ws.scim, c.params["resource"], c.query))),
        Route("GET", "api/2.0/secrets/scopes/list", lambda c: _json(secret_scopes_answer(c.ws.secret_scopes))),
        Route("GET", "api/2.0/secrets/acls/list", lambda c: _json(secret_acls_answer(
            c.ws.secret_scopes, c.ws.secret_acls, c.query.get("scope")))),
    )


WORKSPACE_ROUTES: tuple[Route, ...] = _route_table()
"""Every workspace-API endpoint the emulator serves; no two match the same method and path
(tests/emulator/test_workspace_route_table.py)."""

NOT_SUPPORTED_HERE: tuple[tuple[str, str], ...] = (
    ("api/2.0/ip-access-lists/{rest*}", "{method} is not supported on ip-access-lists here."),
    ("api/2.0/workspace-conf", "{method} is not supported on workspace-conf."),
    ("api/2.0/token-management/tokens/{rest*}", "{method} is not supported on token-management here."),
)
"""(pattern, message): a request under one of these families that no route serves answers 405
ENDPOINT_NOT_FOUND with that message (another method, or a path deeper than the family has)."""


def _dispatch(ws: WorkspaceApi, method: str, rest: list[str], body: Any, query: Any) -> web.Response:
    """The route for `method` + the path after `/ws/{host}`; a family's 405, or Databricks' unknown-endpoint
    404 `{"error_code": "ENDPOINT_NOT_FOUND", "message": "No API found for '<METHOD> <path>'"}` (the body
    databricks/databricks-cli issue #383 quotes; databricks-sdk-py 0.162.0 errors/deserializer.py reads
    `error_code`/`message` and errors/mapper.py maps the 404 to NotFound)."""
    for route in WORKSPACE_ROUTES:
        params = route.match(method, rest)
        if params is not None:
            return route.handler(Call(ws, method, rest, params, body, query))
    for pattern, message in NOT_SUPPORTED_HERE:
        if match_pattern(tuple(pattern.split("/")), rest) is not None:
            raise ApiError(405, "ENDPOINT_NOT_FOUND", message.format(method=method))
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
