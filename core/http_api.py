"""The HTTP API's models (query parameters and responses) and the OpenAPI 3.1 document built from them.

`functions/findings_api.py` validates requests with these query models and shapes its responses
with these response models; `openapi_document()` describes exactly those models, so the document
served at `GET /api/openapi.json` and written to docs/openapi.json cannot drift from the handlers.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, field_validator

from core.findings.model import Finding
from core.terms import FINDINGS_PAGE_SCHEMA, FINDINGS_SUMMARY_SCHEMA, RULE_ID_PATTERN

API_VERSION = "1.0.0"
PAGE_SCHEMA = FINDINGS_PAGE_SCHEMA
SUMMARY_SCHEMA = FINDINGS_SUMMARY_SCHEMA
RULE_PATTERN = RULE_ID_PATTERN
FINDING_ID_PATTERN = r"^[A-Za-z0-9_-]{1,128}$"
FrameworkName = Literal["cis", "mcsb", "sat"]
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _api_time(value: Any) -> Any:
    """RFC 3339 date-time (with an offset) or a plain date (midnight UTC), exactly as the schema says.

    Numbers, offset-less times and other ISO-8601 spellings pydantic would accept are refused so the
    API accepts what its OpenAPI document describes and nothing else. A leap second (:60) is read as :59.
    """
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError("must be an RFC 3339 date-time (e.g. 2026-09-30T23:59:59Z) or a date (2026-09-30)")
    text = value.strip()
    if _DATE.match(text):
        text += "T00:00:00Z"
    elif not _DATE_TIME.match(text):
        raise ValueError("must be an RFC 3339 date-time with an offset (e.g. 2026-09-30T23:59:59Z) or a date")
    text = text[:17] + ("59" if text[17:19] == "60" else text[17:19]) + text[19:]
    try:
        return datetime.fromisoformat(text.replace("z", "Z").replace("t", "T"))
    except ValueError:
        raise ValueError("is not a valid date/time") from None


ApiTime = Annotated[datetime, BeforeValidator(_api_time), WithJsonSchema(
    {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "string", "format": "date"}]})]


def _known_controls() -> list[str]:
    from core.frameworks import load_frameworks

    return sorted({c for fw in load_frameworks().frameworks.values() for c in fw.controls})


def _check_control(value: str) -> str:
    if value not in _known_controls():
        raise ValueError("is not a control id of any framework driftwatch maps (see `driftwatch rules --framework`)")
    return value


ControlId = Annotated[str, AfterValidator(_check_control),
                      WithJsonSchema({"type": "string", "enum": _known_controls()})]


def _utc(v: datetime | None) -> datetime | None:
    if v is None:
        return v
    try:
        return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00-05:00 or 0001-01-01T00:00+01:00 leave the datetime range
        raise ValueError("out of the supported date range once converted to UTC") from None


class _TimeWindow(BaseModel):
    """`as_of` (posture at that instant) and `since`/`until` (what changed in that period)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    as_of: ApiTime | None = Field(default=None, description="the state as it was at this instant, "
                                                            "reconstructed from findinghistory")
    since: ApiTime | None = Field(default=None, description="only what changed at or after this time")
    until: ApiTime | None = Field(default=None, description="only what changed at or before this time "
                                                            "(until before since = an empty period)")

    @field_validator("as_of", "since", "until")
    @classmethod
    def _to_utc(cls, v: datetime | None) -> datetime | None:
        return _utc(v)


class _ControlFilter(BaseModel):
    framework: FrameworkName | None = Field(default=None, description="only rules mapped to this framework")
    control: ControlId | None = Field(default=None, description="only rules mapped to this control id (in the "
                                                                "given framework, or in any framework)")


class FindingsQuery(_TimeWindow, _ControlFilter):
    """Query parameters of `GET /api/findings`; anything else is a 400 naming the parameter."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    status: Literal["open", "resolved", "exempted"] | None = None
    severity: Literal["critical", "high", "medium", "low", "info"] | None = None
    rule: str | None = Field(default=None, pattern=RULE_PATTERN)
    workspace: str | None = Field(default=None, min_length=1, max_length=1024,
                                  description="workspace ARM id (any case) or name")
    subscription: str | None = Field(default=None, min_length=1, max_length=128)
    top: int = Field(default=100, ge=1, le=1000)
    continuation: str | None = Field(default=None, min_length=1, max_length=4096)
    format: Literal["json", "csv"] = "json"


class FindingQuery(_TimeWindow):
    """Query parameters of `GET /api/findings/{id}`."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SummaryQuery(_TimeWindow, _ControlFilter):
    """Query parameters of `GET /api/summary`."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    workspace: str | None = Field(default=None, min_length=1, max_length=1024)
    subscription: str | None = Field(default=None, min_length=1, max_length=128)


class ReportQuery(BaseModel):
    """Query parameters of `GET /api/report` (the evidence report)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    as_of: ApiTime | None = Field(default=None, description="posture at this instant (default now)")
    since: ApiTime | None = Field(default=None, description="start of the period whose transitions are listed "
                                                            "(default: none listed)")
    framework: FrameworkName = "cis"
    subscription: str | None = Field(default=None, min_length=1, max_length=4096,
                                     description="comma-separated subscription ids (default: all)")
    format: Literal["html", "json"] = "html"

    @field_validator("as_of", "since")
    @classmethod
    def _to_utc(cls, v: datetime | None) -> datetime | None:
        return _utc(v)

    def subscriptions(self) -> list[str] | None:
        if self.subscription is None:
            return None
        subs = [s.strip().lower() for s in self.subscription.split(",") if s.strip()]
        return subs or None


class NoQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------ responses

class ControlRefOut(BaseModel):
    framework: str
    control: str
    version: str
    title: str


class FindingOut(Finding):
    """A finding on the wire (ARCHITECTURE 4.2), `controls` filled from the framework mapping."""

    controls: list[ControlRefOut] | None = None  # type: ignore[assignment]


class TransitionOut(BaseModel):
    """`driftwatch.transition/v1` (ARCHITECTURE 4.6)."""

    model_config = ConfigDict(populate_by_name=True)

    schema_: Literal["driftwatch.transition/v1"] = Field(alias="schema")
    transition: Literal["opened", "resolved", "reopened", "exempted"]
    at: datetime
    finding: FindingOut


class FindingsPage(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    schema_: Literal["driftwatch.findings-page/v1"] = Field(alias="schema")
    findings: list[FindingOut]
    continuation: str | None
    as_of: datetime | None = None
    since: datetime | None = None
    until: datetime | None = None


class FindingDetail(FindingOut):
    history: list[TransitionOut]
    as_of: datetime | None = None


class SummaryOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    schema_: Literal["driftwatch.findings-summary/v1"] = Field(alias="schema")
    total: int
    by_status: dict[str, int]
    by_severity: dict[str, int]
    open_by_severity: dict[str, int]
    by_rule: dict[str, int]
    by_workspace: dict[str, int]
    as_of: datetime | None = None
    since: datetime | None = None
    until: datetime | None = None
    transitions: dict[str, int] | None = Field(default=None, description="transitions by kind in [since, until]")
    by_control: dict[str, dict[str, int]] | None = Field(
        default=None, description="with framework: control -> open/exempted/resolved counts")


class Health(BaseModel):
    status: Literal["ok"]


class ErrorBody(BaseModel):
    code: str
    message: str
    parameter: str | None = None


class ErrorOut(BaseModel):
    error: ErrorBody


# ------------------------------------------------------------------ the document

_ROUTES: list[dict[str, Any]] = [
    {"path": "/findings", "op": "findings_list", "query": FindingsQuery, "summary": "One page of findings",
     "ok": {"application/json": FindingsPage, "text/csv": None}},
    {"path": "/findings/{id}", "op": "findings_get", "query": FindingQuery,
     "summary": "One finding with its history", "ok": {"application/json": FindingDetail}, "not_found": True},
    {"path": "/summary", "op": "findings_summary", "query": SummaryQuery,
     "summary": "Counts by status, severity, rule, workspace (and control)", "ok": {"application/json": SummaryOut}},
    {"path": "/report", "op": "evidence_report", "query": ReportQuery,
     "summary": "The evidence report (self-contained HTML, or its JSON)",
     "ok": {"text/html": None, "application/json": "EvidenceReport"}},
    {"path": "/openapi.json", "op": "openapi", "query": NoQuery, "summary": "This document",
     "ok": {"application/json": "OpenApiDocument"}},
    {"path": "/health", "op": "health", "query": NoQuery, "summary": "Liveness (anonymous)",
     "ok": {"application/json": Health}, "anonymous": True},
]


def _parameters(model: type[BaseModel], defs: dict[str, Any]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    defs.update(schema.pop("$defs", {}))
    out = []
    for name, prop in schema.get("properties", {}).items():
        field = model.model_fields[name]
        prop = dict(prop)
        desc = prop.pop("description", None) or field.description
        prop.pop("title", None)
        p: dict[str, Any] = {"name": name, "in": "query", "required": False, "schema": prop}
        if desc:
            p["description"] = desc
        out.append(p)
    return out


ENTRA_SCHEME = {
    "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
    "description": "Entra ID sign-in (App Service authentication, deployed with auditorsGroupObjectId): an access "
                   "token for the auditors' app registration, of a member of the auditors group. Browsers sign in "
                   "at /.auth/login/aad; function keys are not accepted in this mode (docs/deploy.md step 12).",
}
KEY_SCHEMES = {
    "functionKey": {"type": "apiKey", "in": "header", "name": "x-functions-key"},
    "functionKeyQuery": {"type": "apiKey", "in": "query", "name": "code"},
}


def _caller_refusals(sign_in: bool, error: dict[str, Any]) -> dict[str, Any]:
    """The answers to a caller who may not call (core/api_access.py): the host's bare 401 for a function key,
    or driftwatch's 401/403 with a body when Entra sign-in is on."""
    if not sign_in:
        return {"401": {"description": "missing or wrong function key (the host answers, no body)"}}
    body = {"application/json": {"schema": error}}
    return {"401": {"description": "not signed in with Entra ID (App Service answers, or driftwatch when no "
                                   "client principal reaches it)", "content": body},
            "403": {"description": "signed in, but not a member of the auditors group", "content": body}}


def openapi_document(sign_in: bool = False) -> dict[str, Any]:
    """The OpenAPI 3.1 description of the whole HTTP API, from the models above.

    `sign_in`: the app runs with Entra ID sign-in (core/api_access.py entra mode), so the document names the
    bearer scheme and the 403 a signed-in non-member gets instead of the function-key schemes. The
    default (function keys) is the one written to docs/openapi.json."""
    from core.evidence_report import EvidenceReport

    components: dict[str, Any] = {}
    named: dict[str, type[BaseModel]] = {"EvidenceReport": EvidenceReport}

    def ref(model: type[BaseModel] | str) -> dict[str, Any]:
        if isinstance(model, str):
            if model == "OpenApiDocument":
                return {"type": "object", "required": ["openapi", "info", "paths"],
                        "properties": {"openapi": {"type": "string"}, "info": {"type": "object"},
                                       "paths": {"type": "object"}}}
            model = named[model]
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode="serialization",
                                         by_alias=True)
        components.update(schema.pop("$defs", {}))
        components[model.__name__] = schema
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    error = ref(ErrorOut)
    paths: dict[str, Any] = {}
    for r in _ROUTES:
        content: dict[str, Any] = {}
        for mime, model in r["ok"].items():
            content[mime] = {"schema": ref(model) if model is not None else {"type": "string"}}
        responses: dict[str, Any] = {"200": {"description": "OK", "content": content}}
        responses["400"] = {"description": "a query parameter is invalid or unknown (named in the body)",
                            "content": {"application/json": {"schema": error}}}
        if r.get("not_found"):
            responses["404"] = {"description": "no finding with that id (at that time)",
                                "content": {"application/json": {"schema": error}}}
        if not r.get("anonymous"):
            responses.update(_caller_refusals(sign_in, error))
            if r["op"] != "openapi":
                responses["503"] = {"description": "the findings store is unavailable; retry later",
                                    "headers": {"Retry-After": {"schema": {"type": "string"}}},
                                    "content": {"application/json": {"schema": error}}}
        if r["op"] == "findings_list":
            content["text/csv"]["schema"] = {"type": "string"}
            responses["200"]["headers"] = {"x-driftwatch-continuation": {
                "description": "CSV only: token for the next page", "schema": {"type": "string"}}}
        params = _parameters(r["query"], components)
        if r["path"] == "/findings/{id}":
            params.insert(0, {"name": "id", "in": "path", "required": True,
                              "schema": {"type": "string", "pattern": FINDING_ID_PATTERN}})
        op: dict[str, Any] = {"operationId": r["op"], "summary": r["summary"], "parameters": params,
                              "responses": responses}
        if r.get("anonymous"):
            op["security"] = []
        paths[r["path"]] = {"get": op}
    return {
        "openapi": "3.1.0",
        "info": {"title": "driftwatch API", "version": API_VERSION,
                 "description": "Findings, posture as of any instant, compliance controls and the evidence "
                                "report for Azure Databricks workspaces. Generated from core/http_api.py."},
        "servers": [{"url": "/api"}],
        "security": [{"entraId": []}] if sign_in else [{"functionKey": []}, {"functionKeyQuery": []}],
        "paths": paths,
        "components": {"schemas": dict(sorted(components.items())),
                       "securitySchemes": {"entraId": ENTRA_SCHEME} if sign_in else KEY_SCHEMES},
    }


def openapi_json(sign_in: bool = False) -> str:
    return json.dumps(openapi_document(sign_in), indent=2, sort_keys=False) + "\n"
