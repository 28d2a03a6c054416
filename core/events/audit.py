"""Parse Azure Databricks diagnostic (audit) records from Event Hubs and route each to rule families.

Wire shape (what a workspace's diagnostic setting streams to Event Hubs; Azure Monitor resource-log
schema, Microsoft Learn "Diagnostic logging in Azure Databricks" > Diagnostic log schema / sample):

    {"records": [{"time": "2026-12-01T09:12:03Z",
                  "resourceId": "/SUBSCRIPTIONS/<s>/RESOURCEGROUPS/<rg>/PROVIDERS/MICROSOFT.DATABRICKS/WORKSPACES/<w>",
                  "category": "workspace", "operationName": "Microsoft.Databricks/workspace/workspaceConfEdit",
                  "operationVersion": "1.0.0",
                  "identity": "{\\"email\\":\\"jane@contoso.com\\",\\"subjectName\\":null}",
                  "properties": {"sourceIPAddress": "203.0.113.9", "logId": "...", "serviceName": "workspace",
                                 "actionName": "workspaceConfEdit", "requestId": "...", "userAgent": "...",
                                 "requestParams": "{\\"workspaceConfKeys\\":\\"enableIpAccessLists\\", ...}",
                                 "response": "{\\"statusCode\\":204}"}}]}

Event Hubs payloads carry `identity`, `requestParams` and `response` (and sometimes `properties`)
as JSON *strings*; Log Analytics shows them as objects. Both are accepted. `sourceIPAddress` can be
`null` or carry a port (`"18.193.11.166:0"`).

Each record becomes one decision: `scan` (a coalesced scan of only the affected families),
`ignore` (failed action, read-only action, unknown action, or families without rules yet; with the
reason) or `reject` (not a usable record; the rest of the batch still routes). Attribution keeps
names and addresses only: request parameters and response bodies are read, never stored.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from core.arm_ids import parse_arm_id_lower
from core.events.audit_table import AuditTable, load_audit_table
from core.findings.model import ChangeAttribution

AuditAction = Literal["scan", "ignore", "reject"]
AUDIT_ROUTING_SCHEMA = "driftwatch.audit-routing/v1"
MAX_BODY_BYTES = 16 * 1024 * 1024
"""Event Hubs caps an event at 1 MB (Standard) / 20 MB (Premium, Dedicated); anything bigger is refused."""
_WORKSPACE_RE = re.compile(r"/providers/microsoft\.databricks/workspaces/[^/]+", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_KEY_NAME = re.compile(r"[^A-Za-z0-9_.-]")


class AuditParseError(ValueError):
    """One record (or event body) that is not a usable Databricks diagnostic record."""


@dataclass(frozen=True, slots=True)
class AuditDecision:
    """What one audit record routes to (a plain dataclass: a batch holds thousands of them)."""

    event_id: str | None
    action: AuditAction
    workspaces: list[str]
    reason: str
    families: list[str] = field(default_factory=list)
    event_time: str | None = None
    service: str | None = None
    action_name: str | None = None
    unknown: bool = False
    attribution: ChangeAttribution | None = None

    def contract_dict(self) -> dict[str, object]:
        return {"event_id": self.event_id, "action": self.action, "workspaces": self.workspaces,
                "families": self.families, "reason": self.reason}


@dataclass
class AuditRouting:
    decisions: list[AuditDecision] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    """scan / ignore / reject, plus `unknown` (ignored because the action is not in the table)."""


def _clean(text: Any, limit: int) -> str | None:
    """Estate text for a finding or card: one line, no control characters, bounded."""
    if not isinstance(text, str):
        return None
    if len(text) <= limit and text.isprintable() and " " not in text and text.lower() not in ("null", "none"):
        return text or None  # the common case (ids, e-mail addresses): nothing to clean
    # Not only control characters: anything Python deems unprintable (unassigned, format, surrogates).
    value = " ".join("".join(c if c.isprintable() else " " for c in _CONTROL.sub(" ", text)).split())
    if not value or value.lower() in ("null", "none"):
        return None
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _decoded(value: Any, name: str, *, required: bool = False) -> Any:
    """A field that may arrive as an object or as a JSON string of one."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            value = None
        else:
            try:
                value = json.loads(text)
            except (ValueError, RecursionError):
                raise AuditParseError(f"{name} is a string but not JSON") from None
    if value is None:
        if required:
            raise AuditParseError(f"{name} missing")
        return None
    if not isinstance(value, Mapping):
        raise AuditParseError(f"{name} must be an object, got {type(value).__name__}")
    return value


def source_ip(value: Any) -> str | None:
    """The client address of a record: IPv4/IPv6, with a `:port` / `[v6]:port` suffix dropped."""
    if not isinstance(value, str) or not value.strip():
        return None
    return _source_ip(value.strip())


@lru_cache(maxsize=4096)
def _source_ip(text: str) -> str | None:
    candidates = [text]
    if text.startswith("[") and "]" in text:
        candidates.append(text[1:text.index("]")])
    elif text.count(":") == 1:
        candidates.append(text.split(":", 1)[0])
    for c in candidates:
        try:
            return str(ipaddress.ip_address(c))
        except ValueError:
            continue
    return None


@lru_cache(maxsize=4096)
def workspace_of(resource_id: str) -> str | None:
    """The workspace ARM id a record's `resourceId` names (records use upper-case ids), or None."""
    found = _WORKSPACE_RE.search(resource_id)
    if not found:
        return None
    ws = resource_id[: found.end()]
    try:
        parts = parse_arm_id_lower(ws)
    except Exception:  # the parser raises on some garbage; any failure is a bad id
        return None
    if not parts.get("subscription") or not parts.get("resource_group") or not parts.get("name"):
        return None
    return ws


def _status_code(response: Mapping[str, Any] | None) -> int | None:
    if response is None:
        return None
    code = response.get("statusCode")
    if isinstance(code, bool):
        return None
    if isinstance(code, int):
        return code
    if isinstance(code, str) and code.strip().isdigit():
        return int(code.strip())
    return None


def _who(identity: Mapping[str, Any] | None) -> str | None:
    if identity is None:
        return None
    who = _clean(identity.get("email"), 256) or _clean(identity.get("subjectName"), 256)
    if who and who.lower().startswith("dapi"):  # never let something token-shaped through
        return None
    return who


def _conf_change(table: AuditTable, params: Mapping[str, Any] | None) -> tuple[frozenset[str], str | None]:
    """Families and summary of a workspaceConfEdit from its key names (values only for true/false)."""
    if params is None:
        every = frozenset().union(*(k.families for k in table.conf_keys.values()))
        return every, None
    raw_keys = params.get("workspaceConfKeys")
    keys = [k.strip() for k in raw_keys.split(",") if k.strip()] if isinstance(raw_keys, str) else []
    raw_values = params.get("workspaceConfValues")
    values = [v.strip() for v in raw_values.split(",")] if isinstance(raw_values, str) else []
    families: set[str] = set()
    for k in keys:
        known = table.conf_keys.get(k.lower())
        if known:
            families |= known.families
    summary = None
    if len(keys) == 1:
        known = table.conf_keys.get(keys[0].lower())
        value = values[0].lower() if len(values) == 1 else None
        if known and value in ("true", "false"):
            summary = f"{'enabled' if value == 'true' else 'disabled'} {known.label}"
    if summary is None and keys:
        names = ", ".join(_KEY_NAME.sub("", k)[:60] for k in keys[:3]) + (" ..." if len(keys) > 3 else "")
        summary = f"changed workspace setting {names}"
    return frozenset(families), summary


def route_record(raw: Any, index: int, table: AuditTable, existing_families: frozenset[str]) -> AuditDecision:
    """Route one record; never raises (a malformed record is a `reject` decision)."""
    where = f"record[{index}]"
    event_id = None
    try:
        if not isinstance(raw, Mapping):
            raise AuditParseError(f"expected a JSON object, got {type(raw).__name__}")
        props = _decoded(raw.get("properties"), "properties", required=True)
        event_id = _clean(props.get("logId"), 256) or _clean(props.get("requestId"), 256)
        service = props.get("serviceName")
        action = props.get("actionName")
        if not isinstance(service, str) or not service.strip():
            raise AuditParseError("properties.serviceName missing or not a string")
        if not isinstance(action, str) or not action.strip():
            raise AuditParseError("properties.actionName missing or not a string")
        rid = raw.get("resourceId")
        if not isinstance(rid, str) or not rid.strip():
            raise AuditParseError("resourceId missing or not a string")
        ws = workspace_of(rid.strip())
        if ws is None:
            raise AuditParseError(f"resourceId {rid[:200]!r} is not an Azure Databricks workspace id")
    except AuditParseError as exc:
        return AuditDecision(event_id=event_id, action="reject", workspaces=[], reason=f"{where}: {exc}")
    return _route_known(raw, props, ws, service, action, event_id, table, existing_families)


_decision = AuditDecision


def _route_known(raw: Mapping[str, Any], props: Mapping[str, Any], ws: str, service: str, action: str,
                 event_id: str | None, table: AuditTable, existing_families: frozenset[str]) -> AuditDecision:
    time = raw.get("time") if isinstance(raw.get("time"), str) else None
    name = f"{_clean(service, 60)}.{_clean(action, 80)}"
    base: dict[str, Any] = {"event_id": event_id, "event_time": time, "service": service, "action_name": action}
    known = table.actions.get((service.lower(), action.lower()))
    if known is None:
        reason = table.is_read_only(service, action)
        if reason:
            return _decision(action="ignore", workspaces=[ws], reason=f"{name}: {reason}", **base)
        return _decision(action="ignore", workspaces=[ws], unknown=True,
                         reason=f"{name} is not an action driftwatch routes", **base)
    try:
        response = _decoded(props.get("response"), "properties.response")
    except AuditParseError:
        response = None  # status unknown: scanning is harmless, missing it is not
    status = _status_code(response)
    if status is not None and status >= 400:
        return _decision(action="ignore", workspaces=[ws],
                         reason=f"{name} failed (statusCode {status}): nothing changed", **base)
    families = set(known.families)
    summary: str | None = known.summary
    if known.by_conf_key:
        try:
            params = _decoded(props.get("requestParams"), "properties.requestParams")
        except AuditParseError:
            params = None
        extra, conf_summary = _conf_change(table, params)
        families |= extra
        summary = conf_summary or known.summary.replace(" {keys}", "s")
    active = sorted(families & existing_families)
    if not active:
        return _decision(action="ignore", workspaces=[ws], families=sorted(families),
                         reason=f"{name} affects {', '.join(sorted(families))}: no driftwatch rules "
                                "for those families yet", **base)
    try:
        identity = _decoded(raw.get("identity"), "identity")
    except AuditParseError:
        identity = None
    attribution = ChangeAttribution.model_construct(changed_by=_who(identity),
                                                    changed_from=source_ip(props.get("sourceIPAddress")),
                                                    change_event_id=event_id, change_summary=_clean(summary, 200))
    later = sorted(families - existing_families)
    note = f" ({', '.join(later)} have no rules yet)" if later else ""
    return _decision(action="scan", workspaces=[ws], families=active, attribution=attribution,
                     reason=f"{name}: scan {', '.join(active)}{note}", **base)


def parse_event_body(body: bytes | str | Any) -> list[Any]:
    """One Event Hubs event body: `{"records": [...]}`; returns the raw records."""
    if isinstance(body, bytes | bytearray):
        if len(body) > MAX_BODY_BYTES:
            raise AuditParseError(f"event body is {len(body)} bytes, over the {MAX_BODY_BYTES} limit")
        try:
            body = body.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise AuditParseError(f"event body is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except json.JSONDecodeError as exc:
            raise AuditParseError(f"event body is not JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
        except (RecursionError, ValueError):
            raise AuditParseError("event body is not usable JSON (too deep or too large a number)") from None
    if not isinstance(body, Mapping) or not isinstance(body.get("records"), list):
        raise AuditParseError('event body must be an object with a "records" array (Azure diagnostic format)')
    return list(body["records"])


def existing_rule_families() -> frozenset[str]:
    from core.catalogue import load_catalogue

    return frozenset(r.family for r in load_catalogue().rules)


def route_audit_batch(bodies: Iterable[bytes | str | Any], table: AuditTable | None = None,
                      existing_families: frozenset[str] | None = None) -> AuditRouting:
    """Route every record of every event body; a bad body or record is rejected, the rest still route."""
    table = table or load_audit_table()
    existing = existing_families if existing_families is not None else existing_rule_families()
    out = AuditRouting()
    n = 0
    for b, body in enumerate(bodies):
        try:
            records = parse_event_body(body)
        except AuditParseError as exc:
            out.decisions.append(AuditDecision(event_id=None, action="reject", workspaces=[],
                                               reason=f"event[{b}]: {exc}"))
            out.counts["reject"] += 1
            continue
        for raw in records:
            d = route_record(raw, n, table, existing)
            n += 1
            out.decisions.append(d)
            out.counts[d.action] += 1
            if d.unknown:
                out.counts["unknown"] += 1
    out.counts["records"] = n
    return out
