"""HTTP API for auditors (ARCHITECTURE 4.1b): findings (now, as of T, changed in a period, per control),
one finding with its history, summaries, the evidence report, the OpenAPI document; health probe.

Thin adapter: validate query parameters with the `core.http_api` models (the same models the OpenAPI
document is generated from), call `core.posture` / `core.evidence_report`, map errors to status codes. The store
is created lazily once per process so `import function_app` stays cheap on cold start.

Who may call (core/api_access.py): function keys, or, when `DRIFTWATCH_AUDITORS_GROUP_ID` is set and App
Service authentication is on, a signed-in member of that Entra group. The auth level of the API routes is
fixed here at import (the host reads it when it indexes the app); every API handler checks the caller first.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import TYPE_CHECKING, Any

import azure.functions as func

from core.api_access import ApiAccess, ApiAccessError, api_access

if TYPE_CHECKING:
    from core.http_api import FindingsQuery
    from core.store import TableFindingsStore

log = logging.getLogger("driftwatch.findings_api")

bp = func.Blueprint()

PAGE_SCHEMA = "driftwatch.findings-page/v1"
__all__ = ["API_AUTH_LEVEL", "FindingsQuery", "bp", "get_store", "parse_findings_query", "set_api_access",
           "set_store"]
CONTINUATION_HEADER = "x-driftwatch-continuation"
IGNORED_PARAMS = frozenset({"code"})
"""`code` carries the function key when it is not sent as a header; the host checks it, not us."""


_store: TableFindingsStore | None = None
_store_lock = threading.Lock()


def _access_from_settings() -> ApiAccess:
    """The access mode of this process. A bad group id or a group without App Service authentication keeps
    function keys (never anonymous routes) and says why in the log."""
    from core.settings import load_settings

    try:
        access = api_access(load_settings())
    except ApiAccessError as exc:
        log.error("API access: %s; the API routes keep function keys", exc)
        return ApiAccess("keys")
    if access.group_without_easy_auth:
        log.warning("API access: DRIFTWATCH_AUDITORS_GROUP_ID is set but App Service authentication is not on "
                    "(WEBSITE_AUTH_ENABLED); the API routes keep function keys and ignore X-MS-CLIENT-PRINCIPAL")
    return access


_access = _access_from_settings()
API_AUTH_LEVEL = func.AuthLevel.ANONYMOUS if _access.anonymous_routes else func.AuthLevel.FUNCTION
"""The auth level of every API route but health: ANONYMOUS only when Easy Auth fronts the app (entra mode)."""


def set_api_access(access: ApiAccess | None) -> None:
    """Swap the access mode the handlers check (tests); None reads it from the settings again. The routes'
    auth level stays what it was at import."""
    global _access
    _access = _access_from_settings() if access is None else access


def _refused(req: func.HttpRequest) -> func.HttpResponse | None:
    """The caller check every API handler runs first (None = go on); App Service must still be on now."""
    from core.settings import load_settings

    denied = _access.authorize(req.headers, easy_auth_on=load_settings().easy_auth_enabled)
    if denied is None:
        return None
    log.info("API request refused: %s %s", denied.status, denied.code)
    return _json({"error": {"code": denied.code, "message": denied.message}}, denied.status)


def get_store() -> TableFindingsStore:
    """The process-wide store, built on first use from the app settings."""
    global _store
    with _store_lock:
        if _store is None:
            from core.settings import load_settings
            from core.store import StorageConnection, TableFindingsStore

            _store = TableFindingsStore(StorageConnection.from_settings(load_settings(), retry_total=2))
        return _store


def set_store(store: TableFindingsStore | None) -> None:
    """Swap the store (tests, local tools); None rebuilds it from settings on next use."""
    global _store
    with _store_lock:
        _store = store


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body, separators=(",", ":")), status_code=status,
                             mimetype="application/json", charset="utf-8", headers=headers)


def _bad_request(parameter: str, message: str) -> func.HttpResponse:
    return _json({"error": {"code": "BadRequest", "parameter": parameter, "message": message}}, 400)


def _param_name(name: str, limit: int = 40) -> str:
    """A short, printable excerpt of a client-supplied parameter name (it is echoed in the 400)."""
    text = "".join(c if c.isprintable() and c not in "<>&\"'`" else "?" for c in name[:limit])
    return (text + ("..." if len(name) > limit else "")) or "(empty name)"


def _unknown_params(unknown: list[str]) -> func.HttpResponse:
    shown = [_param_name(k) for k in unknown[:5]]
    more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
    return _bad_request(shown[0], f"unknown query parameter(s): {', '.join(shown)}{more}")


def _unavailable(exc: Exception) -> func.HttpResponse:
    # StoreError text names operation + table only; still, the client gets a fixed message.
    log.warning("findings store unavailable: %s", exc)
    return _json({"error": {"code": "ServiceUnavailable", "message": "the findings store is unavailable; retry later"}},
                 503, headers={"Retry-After": "5"})


def __getattr__(name: str) -> Any:
    """`FindingsQuery` is re-exported lazily: pydantic and the API models load on the first request, not
    on `import function_app` (cold start)."""
    if name == "FindingsQuery":
        from core import http_api

        return http_api.FindingsQuery
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def parse_query(params: Any, model_name: str) -> Any:
    """Validate the query string against the `core.http_api` model `model_name`; a 400 response names the
    first offending parameter."""
    from pydantic import ValidationError

    from core import http_api

    model = getattr(http_api, model_name)
    given = {k: v for k, v in dict(params).items() if k not in IGNORED_PARAMS}
    unknown = sorted(k for k in given if k not in model.model_fields)
    if unknown:
        return _unknown_params(unknown)
    try:
        return model.model_validate(given)
    except ValidationError as exc:
        err = exc.errors(include_url=False, include_input=False)[0]
        param = str(err["loc"][0]) if err["loc"] else _param_from_message(str(err["msg"]))
        return _bad_request(param, f"{param}: {err['msg']}" if err["loc"] else str(err["msg"]))


def _param_from_message(msg: str) -> str:
    """Cross-field checks say `Value error, until: ...`: the parameter is the word before the colon."""
    text = msg.split("Value error, ", 1)[-1]
    head = text.split(":", 1)[0].strip()
    return head if head.replace("_", "").isalnum() else "query"


def parse_findings_query(params: Any) -> FindingsQuery | func.HttpResponse:
    """Validate the query string of `GET /api/findings`."""
    return parse_query(params, "FindingsQuery")


@bp.function_name("findings_list")
@bp.route(route="findings", methods=["GET"], auth_level=API_AUTH_LEVEL)
def findings_list(req: func.HttpRequest) -> func.HttpResponse:
    """`GET /api/findings`: one page of findings (JSON or CSV) and an opaque continuation token."""
    if (refused := _refused(req)) is not None:
        return refused
    from core.store import InvalidQuery, StoreError

    q = parse_findings_query(req.params)
    if isinstance(q, func.HttpResponse):
        return q
    from core.posture import query_findings

    try:
        findings, token = query_findings(get_store(), q)
    except InvalidQuery as exc:
        return _bad_request(exc.parameter, str(exc))
    except StoreError as exc:
        return _unavailable(exc)
    if q.format == "csv":
        from core.report import findings_csv

        headers = {CONTINUATION_HEADER: token} if token else None
        return func.HttpResponse(findings_csv(findings), status_code=200, mimetype="text/csv", charset="utf-8",
                                 headers=headers)
    from core.posture import finding_out

    page: dict[str, Any] = {"schema": PAGE_SCHEMA, "findings": [finding_out(f) for f in findings],
                            "continuation": token}
    for name in ("as_of", "since", "until"):
        if getattr(q, name) is not None:
            page[name] = _iso(getattr(q, name))
    return _json(page)


def _iso(dt: Any) -> str:
    from core.store.keys import iso_z

    return iso_z(dt)


@bp.function_name("findings_get")
@bp.route(route="findings/{id}", methods=["GET"], auth_level=API_AUTH_LEVEL)
def findings_get(req: func.HttpRequest) -> func.HttpResponse:
    """`GET /api/findings/{id}`: the finding plus its transitions, oldest first."""
    if (refused := _refused(req)) is not None:
        return refused
    from core.store import FindingNotFound, StoreError

    q = parse_query(req.params, "FindingQuery")
    if isinstance(q, func.HttpResponse):
        return q
    from core.posture import finding_detail

    fid = req.route_params.get("id", "")
    try:
        detail = finding_detail(get_store(), fid, q)
    except FindingNotFound:
        return _json({"error": {"code": "NotFound", "message": "no finding with that id"
                                + (" at that time" if q.as_of else "")}}, 404)
    except StoreError as exc:
        return _unavailable(exc)
    return _json(detail)


@bp.function_name("findings_summary")
@bp.route(route="summary", methods=["GET"], auth_level=API_AUTH_LEVEL)
def findings_summary(req: func.HttpRequest) -> func.HttpResponse:
    """`GET /api/summary`: counts by status, severity, rule and workspace (and control, with framework)."""
    if (refused := _refused(req)) is not None:
        return refused
    from core.store import InvalidQuery, StoreError

    q = parse_query(req.params, "SummaryQuery")
    if isinstance(q, func.HttpResponse):
        return q
    from core.posture import summary

    try:
        return _json(summary(get_store(), q))
    except InvalidQuery as exc:
        return _bad_request(exc.parameter, str(exc))
    except StoreError as exc:
        return _unavailable(exc)


@bp.function_name("evidence_report")
@bp.route(route="report", methods=["GET"], auth_level=API_AUTH_LEVEL)
def evidence_report(req: func.HttpRequest) -> func.HttpResponse:
    """`GET /api/report`: the evidence report, one self-contained HTML file (or its JSON)."""
    if (refused := _refused(req)) is not None:
        return refused
    from core.store import StoreError

    q = parse_query(req.params, "ReportQuery")
    if isinstance(q, func.HttpResponse):
        return q
    from core.evidence_report import build_report, render_html, report_json

    try:
        report = build_report(get_store(), as_of=q.as_of, since=q.since, framework_name=q.framework,
                              subscriptions=q.subscriptions(), baseline=_baseline())
    except StoreError as exc:
        return _unavailable(exc)
    if q.format == "json":
        return func.HttpResponse(report_json(report), status_code=200, mimetype="application/json", charset="utf-8")
    name = f"driftwatch-evidence-{q.framework}-{report.as_of:%Y%m%dT%H%M%SZ}.html"
    return func.HttpResponse(render_html(report), status_code=200, mimetype="text/html", charset="utf-8",
                             headers={"Content-Disposition": f'inline; filename="{name}"',
                                      "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
                                      "X-Content-Type-Options": "nosniff"})


def _baseline() -> Any:
    """The deployed baseline (DRIFTWATCH_BASELINE), for the report's list of exemptions; None if unavailable."""
    from core.settings import load_settings

    path = load_settings().baseline
    if not path:
        return None
    try:
        from core.baseline import load_baseline

        return load_baseline(path)
    except Exception as exc:  # the report says the baseline was not available rather than failing
        log.warning("evidence report: baseline %s not loaded (%s)", path, exc.__class__.__name__)
        return None


@bp.function_name("openapi")
@bp.route(route="openapi.json", methods=["GET"], auth_level=API_AUTH_LEVEL)
def openapi(req: func.HttpRequest) -> func.HttpResponse:
    """`GET /api/openapi.json`: the API described, generated from the models the handlers use."""
    if (refused := _refused(req)) is not None:
        return refused
    q = parse_query(req.params, "NoQuery")
    if isinstance(q, func.HttpResponse):
        return q
    from core.http_api import openapi_json

    return func.HttpResponse(openapi_json(sign_in=_access.mode == "entra"), status_code=200,
                             mimetype="application/json", charset="utf-8")


@bp.function_name("health")
@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    """`GET /api/health`: liveness only (no storage call, so probes stay cheap and anonymous)."""
    return _json({"status": "ok"})
