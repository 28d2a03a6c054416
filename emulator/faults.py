"""Fault rules: make chosen requests fail the way Azure and Databricks fail.

The collectors' retry, timeout and "could not evaluate" paths (DBX-EVAL-001/002) can only
be tested if the emulator can throttle, error, hang, reset and deny on demand.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from emulator.http_common import arm_error, dbx_error

Action = Literal["429", "500", "502", "504", "hang", "401", "403", "404", "reset"]


class FaultError(ValueError):
    """A fault specification that cannot be used (bad JSON shape, unknown action...)."""


class ConnectionReset(Exception):
    """Raised by the `reset` fault: the connection is dropped without a response."""


class FaultRule(BaseModel):
    """One rule; `match` is a case-insensitive substring or regex of the request path."""

    model_config = ConfigDict(extra="forbid")

    match: str = Field(min_length=1)
    method: str | None = None
    action: Action
    count: int | None = Field(default=None, ge=1)
    retry_after: float | None = Field(default=None, ge=0)
    hang_seconds: float = Field(default=3600.0, ge=0)

    @field_validator("action", mode="before")
    @classmethod
    def _action_text(cls, v: Any) -> Any:
        return str(v).lower() if isinstance(v, (int, str)) else v

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        if self.match.lower() in path.lower():
            return True
        try:
            return re.search(self.match, path, re.IGNORECASE) is not None
        except re.error:
            return False


@dataclass
class ActiveRule:
    """A rule plus how many more times it fires (None = unlimited)."""

    rule: FaultRule
    remaining: int | None

    def as_dict(self) -> dict[str, Any]:
        return {**self.rule.model_dump(exclude_none=True), "remaining": self.remaining}


def parse_rule(raw: Any) -> FaultRule:
    try:
        return FaultRule.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "rule"
        raise FaultError(f"fault rule {where}: {first['msg']} (value {first.get('input')!r})") from None


def deny_rule(host: str, status: int = 403) -> FaultRule:
    """Every workspace-API call for `host` fails with 403 (or 401)."""
    if status not in (401, 403):
        raise FaultError(f"deny_workspace status must be 401 or 403 (value {status!r})")
    if not host or "/" in host:
        raise FaultError(f"deny_workspace must be a workspace host (value {host!r})")
    return FaultRule(match=f"^/ws/{re.escape(host)}/api/", action=str(status))


def parse_spec(spec: dict[str, Any]) -> tuple[list[FaultRule] | None, int | None]:
    """Read a `POST /_emulator/faults` body: (rules or None if not given, latency_ms or None)."""
    if not isinstance(spec, dict):
        raise FaultError("faults: expected a JSON object")
    unknown = set(spec) - {"rules", "deny_workspace", "status", "latency_ms", "append"}
    if unknown:
        raise FaultError(f"faults: unknown field(s) {sorted(unknown)}")
    rules: list[FaultRule] | None = None
    if "rules" in spec or "deny_workspace" in spec:
        raw_rules = spec.get("rules") or []
        if not isinstance(raw_rules, list):
            raise FaultError("faults: rules must be a list")
        rules = [parse_rule(r) for r in raw_rules]
        if spec.get("deny_workspace"):
            status = spec.get("status", 403)
            if not isinstance(status, int):
                raise FaultError(f"faults: status must be 401 or 403 (value {status!r})")
            rules.append(deny_rule(str(spec["deny_workspace"]), status))
    latency = spec.get("latency_ms")
    if latency is not None and (not isinstance(latency, (int, float)) or latency < 0):
        raise FaultError(f"faults: latency_ms must be a non-negative number (value {latency!r})")
    return rules, None if latency is None else int(latency)


class FaultSet:
    """The active rules, consulted once per request (first matching rule wins)."""

    def __init__(self) -> None:
        self.rules: list[ActiveRule] = []

    def set(self, rules: list[FaultRule], *, append: bool = False) -> None:
        new = [ActiveRule(r, r.count) for r in rules]
        self.rules = [*self.rules, *new] if append else new

    def clear(self) -> None:
        self.rules = []

    def take(self, method: str, path: str) -> FaultRule | None:
        """The rule that fires for this request, counting it down."""
        for active in self.rules:
            if active.remaining == 0 or not active.rule.matches(method, path):
                continue
            if active.remaining is not None:
                active.remaining -= 1
            return active.rule
        return None


FAULT_ANSWERS: dict[str, tuple[int, str, str, str]] = {
    "hang": (504, "TEMPORARILY_UNAVAILABLE", "GatewayTimeout", "Hung request."),
    "429": (429, "REQUEST_LIMIT_EXCEEDED", "TooManyRequests", "Too many requests (injected)."),
    "500": (500, "INTERNAL_ERROR", "InternalServerError", "Internal error (injected)."),
    # 502/504 come from the gateway in front of the service, not from it: see `gateway_page`
    "502": (502, "", "BadGateway", "Bad gateway (injected)."),
    "504": (504, "", "GatewayTimeout", "Gateway timeout (injected)."),
    "401": (401, "UNAUTHENTICATED", "AuthenticationFailed", "Authentication failed (injected)."),
    # 404: e.g. a Teams webhook that was deleted
    "404": (404, "RESOURCE_DOES_NOT_EXIST", "ResourceNotFound", "Not found (injected)."),
    "403": (403, "PERMISSION_DENIED", "AuthorizationFailed", "Permission denied (injected)."),
}
"""Action -> (status, Databricks `error_code`, ARM / Teams `code`, message) of the injected answer."""


def gateway_page(status: int, message: str) -> web.Response:
    """A 502/504 as a reverse proxy in front of a workspace answers it: an HTML page, not a Databricks error
    body. databricks-sdk-py 0.162.0 parses it with errors/deserializer.py `_HtmlErrorDeserializer` (the
    `<pre>` or `<title>` text as message, the HTTP reason phrase as `error_code`, e.g. `BAD_GATEWAY`)."""
    reason = {502: "Bad Gateway", 504: "Gateway Timeout"}[status]
    body = f"<html><head><title>{status} {reason}</title></head><body><pre>{message}</pre></body></html>"
    return web.Response(status=status, reason=reason, text=body, content_type="text/html")


async def fault_response(rule: FaultRule, kind: str) -> web.Response:
    """The answer an injected fault gives, in the error shape of the surface (`kind`: arm, ws or teams)."""
    if rule.action == "reset":
        raise ConnectionReset()
    if rule.action == "hang":
        await asyncio.sleep(rule.hang_seconds)
    status, ws_code, arm_code, message = FAULT_ANSWERS[rule.action]
    headers = None
    if rule.action == "429":
        retry_after = rule.retry_after if rule.retry_after is not None else 1
        shown = int(retry_after) if float(retry_after).is_integer() else retry_after
        headers = {"Retry-After": str(shown)}
    if kind == "ws" and rule.action in ("502", "504"):
        return gateway_page(status, message)
    if kind == "ws":
        return dbx_error(status, ws_code, message, headers)
    return arm_error(status, arm_code, message, headers)
