"""HTTP API for auditors (ARCHITECTURE 4.1b): list, show and summarise findings; health probe.

Thin adapter: validate query parameters, call `core.store`, map errors to status codes. The store
is created lazily once per process so `import function_app` stays cheap on cold start.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import azure.functions as func
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

if TYPE_CHECKING:
    from core.store import TableFindingsStore

log = logging.getLogger("driftwatch.findings_api")

bp = func.Blueprint()

PAGE_SCHEMA = "driftwatch.findings-page/v1"
CONTINUATION_HEADER = "x-driftwatch-continuation"
IGNORED_PARAMS = frozenset({"code"})
"""`code` carries the function key when it is not sent as a header; the host checks it, not us."""


class FindingsQuery(BaseModel):
    """Query parameters of `GET /api/findings`; anything else is a 400 naming the parameter."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    status: Literal["open", "resolved", "exempted"] | None = None
    severity: Literal["critical", "high", "medium", "low", "info"] | None = None
    rule: str | None = Field(default=None, pattern=r"^DBX-[A-Z]+-\d{3}$")
    workspace: str | None = Field(default=None, min_length=1, max_length=1024)
    subscription: str | None = Field(default=None, min_length=1, max_length=128)
    since: datetime | None = None
    top: int = Field(default=100, ge=1, le=1000)
    continuation: str | None = Field(default=None, min_length=1, max_length=4096)
    format: Literal["json", "csv"] = "json"

    @field_validator("since")
    @classmethod
    def _utc(cls, v: datetime | None) -> datetime | None:
        if v is None:
            return v
        try:
            return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)
        except OverflowError:  # 9999-12-31T23:00-05:00 or 0001-01-01T00:00+01:00 leave the datetime range
            raise ValueError("out of the supported date range once converted to UTC") from None


_store: TableFindingsStore | None = None
_store_lock = threading.Lock()


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


def parse_findings_query(params: Any) -> FindingsQuery | func.HttpResponse:
    """Validate the query string; a 400 response names the first offending parameter."""
    given = {k: v for k, v in dict(params).items() if k not in IGNORED_PARAMS}
    unknown = sorted(k for k in given if k not in FindingsQuery.model_fields)
    if unknown:
        return _unknown_params(unknown)
    try:
        return FindingsQuery.model_validate(given)
    except ValidationError as exc:
        err = exc.errors(include_url=False, include_input=False)[0]
        param = str(err["loc"][0]) if err["loc"] else "query"
        return _bad_request(param, f"{param}: {err['msg']}")


@bp.function_name("findings_list")
@bp.route(route="findings", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def findings_list(req: func.HttpRequest) -> func.HttpResponse:
    """`GET /api/findings`: one page of findings (JSON or CSV) and an opaque continuation token."""
    from core.store import InvalidQuery, StoreError

    q = parse_findings_query(req.params)
    if isinstance(q, func.HttpResponse):
        return q
    try:
        findings, token = get_store().query(status=q.status, severity=q.severity, rule=q.rule, workspace=q.workspace,
                                            subscription=q.subscription, since=q.since, top=q.top,
                                            continuation=q.continuation)
    except InvalidQuery as exc:
        return _bad_request(exc.parameter, str(exc))
    except StoreError as exc:
        return _unavailable(exc)
    if q.format == "csv":
        from core.report import findings_csv

        headers = {CONTINUATION_HEADER: token} if token else None
        return func.HttpResponse(findings_csv(findings), status_code=200, mimetype="text/csv", charset="utf-8",
                                 headers=headers)
    return _json({"schema": PAGE_SCHEMA, "findings": [f.to_json_dict() for f in findings], "continuation": token})


@bp.function_name("findings_get")
@bp.route(route="findings/{id}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def findings_get(req: func.HttpRequest) -> func.HttpResponse:
    """`GET /api/findings/{id}`: the finding plus its transitions, oldest first."""
    from core.store import FindingNotFound, StoreError

    unknown = sorted(k for k in req.params if k not in IGNORED_PARAMS)
    if unknown:
        return _unknown_params(unknown)
    fid = req.route_params.get("id", "")
    try:
        finding, history = get_store().get(fid)
    except FindingNotFound:
        return _json({"error": {"code": "NotFound", "message": "no finding with that id"}}, 404)
    except StoreError as exc:
        return _unavailable(exc)
    return _json({**finding.to_json_dict(), "history": [t.message() for t in history]})


@bp.function_name("findings_summary")
@bp.route(route="summary", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def findings_summary(req: func.HttpRequest) -> func.HttpResponse:
    """`GET /api/summary`: counts by status, severity, rule and workspace."""
    from core.store import StoreError

    unknown = sorted(k for k in req.params if k not in IGNORED_PARAMS)
    if unknown:
        return _unknown_params(unknown)
    try:
        return _json(get_store().summary())
    except StoreError as exc:
        return _unavailable(exc)


@bp.function_name("health")
@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    """`GET /api/health`: liveness only (no storage call, so probes stay cheap and anonymous)."""
    return _json({"status": "ok"})
