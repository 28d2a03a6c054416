"""Adaptive Card digests for Teams Workflows webhooks (pure: no I/O).

One card per workspace keeps a sweep that touches 2,000 workspaces from flooding a channel
with one post per finding, and keeps each post under the ~28 KB Teams message limit. Every
value shown comes from a finding (4.2), which carries no secrets; free text is still cleaned
(query strings cut from URLs, markdown links defused) because it may echo Azure resource
names that anyone with write access to a resource can choose.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from pydantic import ValidationError

from core.findings.model import SEVERITY_ORDER, Finding, severity_at_least

MAX_CARD_BYTES = 28_000
"""Teams rejects messages above about 28 KB; digests and posts are kept at or under this."""

TRANSITION_SCHEMA = "driftwatch.transition/v1"
TRANSITIONS = ("opened", "reopened", "resolved", "exempted")
ADAPTIVE_CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
ADAPTIVE_CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
ADAPTIVE_CARD_VERSION = "1.5"
PORTAL_RESOURCE_URL = "https://portal.azure.com/#@/resource{resource_id}/overview"
MAX_ACTIONS = 6
"""Teams renders at most six card actions; the workspace link always takes the first slot."""

_VALUE_CHARS = 240
_TEXT_CHARS = 300
_REMEDIATION_CHARS = 600
_TITLE_CHARS = 200
_NAME_CHARS = 200

# Attention for what needs action now, warning for what should be planned, accent for the rest.
_SEVERITY_COLOR = {
    "critical": "attention", "high": "attention", "medium": "warning", "low": "accent", "info": "default"
}
# Opened/reopened first (they need action), then exemptions, then resolved notices.
_TRANSITION_RANK = {"opened": 0, "reopened": 0, "exempted": 1, "resolved": 2}
_URL_RE = re.compile(r"(?i)\b((?:https?|wss?)://[^\s?#<>\"'()\[\]]*)[?#][^\s<>\"'()\[\]]*")


@dataclass(frozen=True)
class Transition:
    """A parsed `driftwatch.transition/v1` queue message."""

    transition: str
    at: str | None
    finding: Finding

    @classmethod
    def parse(cls, message: dict[str, Any]) -> Transition:
        """Validate one queue message; raises ValueError naming the bad field (never its value)."""
        if not isinstance(message, dict):
            raise ValueError("transition message: expected a JSON object")
        if message.get("schema") != TRANSITION_SCHEMA:
            raise ValueError(f"transition message: schema must be {TRANSITION_SCHEMA}")
        kind = message.get("transition")
        if kind not in TRANSITIONS:
            raise ValueError(f"transition message: transition must be one of {', '.join(TRANSITIONS)}")
        finding = message.get("finding")
        if not isinstance(finding, dict):
            raise ValueError("transition message: finding must be an object")
        at = message.get("at")
        try:
            parsed = Finding.from_json_dict(finding)
        except ValidationError as exc:
            fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})
            raise ValueError(f"transition message: invalid finding field(s) {', '.join(fields)}") from None
        return cls(str(kind), None if at is None else str(at), parsed)


def serialize_card(body: dict[str, Any]) -> bytes:
    """The exact bytes posted: compact separators, UTF-8 (size limits are measured on this)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# ---- text helpers -------------------------------------------------------------------------
def strip_url_secrets(text: str) -> str:
    """Cut query strings and fragments from any URL in `text` (SAS tokens, `sig=` live there)."""
    return _URL_RE.sub(r"\1", text)


def clean_text(value: object, limit: int) -> str:
    """Printable, secret-free, bounded text for a card field.

    Lone surrogates become U+FFFD so the UTF-8 body always encodes; `](` is broken up so a
    resource name cannot smuggle a markdown link into the channel.
    """
    text = str(value).encode("utf-8", "replace").decode("utf-8", "replace")
    text = strip_url_secrets(text).replace("](", "]\u200b(")
    return truncate(text, limit)


def truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)] + "…"


def compact_value(value: Any, limit: int = _VALUE_CHARS) -> str:
    """Expected/actual values on one line: JSON for structures, `(not set)` for null."""
    if value is None:
        text = "(not set)"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = value if value else '""'
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
        except (TypeError, ValueError):
            text = str(value)
    return clean_text(text, limit)


def _when(value: datetime | str | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            return clean_text(value, 40)
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M UTC")


def portal_url(resource_id: str) -> str | None:
    """Azure portal link for an ARM id, or None when the value is not an ARM id."""
    rid = resource_id.strip().split("?", 1)[0].split("#", 1)[0]
    if not rid.lower().startswith("/subscriptions/"):
        return None
    return PORTAL_RESOURCE_URL.format(resource_id=quote(rid, safe="/-_.~()"))


def _subscription_of(resource_id: str) -> str | None:
    parts = resource_id.strip("/").split("/")
    if len(parts) >= 2 and parts[0].lower() == "subscriptions":
        return parts[1]
    return None


# ---- card pieces --------------------------------------------------------------------------
def _text(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **extra}


def _sort_key(t: Transition) -> tuple[int, int, str, str]:
    f = t.finding
    return (_TRANSITION_RANK[t.transition], -SEVERITY_ORDER[f.severity], f.rule_id, (f.subject or "").casefold())


def _status_line(t: Transition) -> dict[str, Any]:
    f = t.finding
    when = _when(t.at) if t.at else None
    if t.transition == "resolved":
        at = _when(f.resolved_at) if f.resolved_at else when
        return _text(f"✔ RESOLVED{f' at {at}' if at else ''} — no action needed", color="good", weight="Bolder")
    if t.transition == "exempted":
        ex = f.exemption or {}
        reason = clean_text(ex.get("reason") or "no reason given", _TEXT_CHARS)
        expires = clean_text(ex.get("expires") or "no expiry", 40)
        approver = ex.get("approved_by")
        by = f", approved by {clean_text(approver, 80)}" if approver else ""
        return _text(f"EXEMPTED until {expires}{by}: {reason}", color="accent", weight="Bolder")
    label = "REOPENED" if t.transition == "reopened" else "OPENED"
    return _text(f"{label}{f' at {when}' if when else ''}", color=_SEVERITY_COLOR[f.severity], weight="Bolder")


# -- attribution (issue 17) ----------------------------------------------------------------------
def attribution_line(t: Transition) -> dict[str, Any] | None:
    """"opened after jane@contoso.com disabled IP access lists from 203.0.113.9" when the event said who.

    Names and addresses come from the estate (Event Grid claims, audit records): plain text, bounded.
    """
    att = t.finding.attribution()
    sentence = att.sentence(t.transition) if att is not None else None
    if not sentence:
        return None
    return _text(clean_text(sentence, _TEXT_CHARS), spacing="Small", isSubtle=True)


def finding_block(t: Transition) -> dict[str, Any]:
    """The compact per-finding container: what, where, expected vs actual, what to do."""
    f = t.finding
    resolved = t.transition == "resolved"
    head_color = "good" if resolved else _SEVERITY_COLOR[f.severity]
    items: list[dict[str, Any]] = [
        _text(
            f"{f.severity.upper()} · {clean_text(f.rule_id, 40)} · {clean_text(f.title, _TITLE_CHARS)}",
            weight="Bolder",
            color=head_color,
            isSubtle=resolved,
        ),
        _status_line(t),
    ]
    who = attribution_line(t)
    if who is not None:
        items.append(who)
    facts: list[dict[str, str]] = []
    if f.subject:
        facts.append({"title": "Subject", "value": clean_text(f.subject, _NAME_CHARS)})
    facts.append({"title": "Expected", "value": compact_value(f.expected)})
    facts.append({"title": "Actual", "value": compact_value(f.actual)})
    facts.append({"title": "First seen", "value": _when(f.first_seen)})
    facts.append({"title": "Last seen", "value": _when(f.last_seen)})
    items.append({"type": "FactSet", "facts": facts})
    items.append(_text(clean_text(f.message, _TEXT_CHARS), isSubtle=True, spacing="Small"))
    if not resolved:
        items.append(_text(f"Remediation: {clean_text(f.remediation, _REMEDIATION_CHARS)}", spacing="Small"))
    return {"type": "Container", "separator": True, "spacing": "Medium", "items": items}


def _counts_text(transitions: Sequence[Transition]) -> str:
    parts = []
    for kind in ("opened", "reopened", "resolved", "exempted"):
        n = sum(1 for t in transitions if t.transition == kind)
        if n:
            parts.append(f"{n} {kind}")
    return " / ".join(parts) if parts else "no changes"


def _severity_banner(transitions: Sequence[Transition]) -> dict[str, Any]:
    """Colour by what still needs action: opened/reopened first, then exemptions."""
    pending = [t for t in transitions if t.transition in ("opened", "reopened")] or [
        t for t in transitions if t.transition == "exempted"
    ]
    if not pending:
        return _text("All reported findings are resolved", color="good", weight="Bolder")
    top = max(pending, key=lambda t: SEVERITY_ORDER[t.finding.severity]).finding.severity
    return _text(f"Highest severity: {top.upper()}", color=_SEVERITY_COLOR[top], weight="Bolder")


def _header(resource_id: str, workspace_name: str, transitions: Sequence[Transition]) -> list[dict[str, Any]]:
    sub = _subscription_of(resource_id) or (transitions[0].finding.subscription_id if transitions else None)
    return [
        _text(f"driftwatch · {clean_text(workspace_name, _NAME_CHARS)}", size="Large", weight="Bolder"),
        _text(f"Subscription {clean_text(sub or 'unknown', 80)}", isSubtle=True, spacing="None"),
        _text(_counts_text(transitions), spacing="Small"),
        _severity_banner(transitions),
    ]


def _related_label(resource_id: str) -> str:
    parts = resource_id.strip("/").split("/")
    kind = parts[-2] if len(parts) >= 2 else "resource"
    return clean_text(f"Open {kind} {parts[-1]}", 60)


def _actions(resource_id: str, shown: Iterable[Transition]) -> list[dict[str, Any]]:
    actions: list[dict[str, Any]] = []
    seen: set[str] = set()
    ws_url = portal_url(resource_id)
    if ws_url:
        actions.append({"type": "Action.OpenUrl", "title": "Open workspace in Azure portal", "url": ws_url})
        seen.add(resource_id.casefold())
    for t in shown:
        rid = t.finding.related_resource_id
        if not rid or rid.casefold() in seen or len(actions) >= MAX_ACTIONS:
            continue
        url = portal_url(rid)
        if url:
            seen.add(rid.casefold())
            actions.append({"type": "Action.OpenUrl", "title": _related_label(rid), "url": url})
    return actions


def _more_block(n: int, workspace_name: str) -> dict[str, Any]:
    ws = clean_text(workspace_name, _NAME_CHARS)
    noun = "finding" if n == 1 else "findings"
    return _text(
        f"…and {n} more {noun} (see the findings API / `driftwatch findings list --workspace {ws}`)",
        isSubtle=True,
        separator=True,
    )


def _envelope(body: list[dict[str, Any]], actions: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": ADAPTIVE_CARD_CONTENT_TYPE,
                "contentUrl": None,
                "content": {
                    "$schema": ADAPTIVE_CARD_SCHEMA,
                    "type": "AdaptiveCard",
                    "version": ADAPTIVE_CARD_VERSION,
                    "msteams": {"width": "Full"},
                    "body": body,
                    "actions": actions,
                },
            }
        ],
    }


def _size(obj: Any) -> int:
    return len(serialize_card(obj))


# ---- public builders ----------------------------------------------------------------------
def build_digest(
    resource_id: str,
    workspace_name: str,
    transitions: list[dict[str, Any]],
    *,
    max_bytes: int = MAX_CARD_BYTES,
) -> dict[str, Any]:
    """One Teams Workflows message for one workspace's transitions, at most `max_bytes`.

    Most severe and still-open changes come first; what does not fit is summarised in a final
    "…and N more findings" line rather than cutting the card (a truncated JSON is rejected).
    """
    parsed = sorted((Transition.parse(m) for m in transitions), key=_sort_key)
    header = _header(resource_id, workspace_name, parsed)
    blocks = [finding_block(t) for t in parsed]

    def assemble(count: int) -> dict[str, Any]:
        shown = parsed[:count]
        body = header + blocks[:count]
        if count < len(parsed):
            body = [*body, _more_block(len(parsed) - count, workspace_name)]
        return _envelope(body, _actions(resource_id, shown))

    # Upper bound on everything but the finding blocks: all related-resource actions and the
    # widest "more" line; then add blocks greedily in order and verify the real size at the end.
    fixed = _size(_envelope([*header, _more_block(len(parsed), workspace_name)], _actions(resource_id, parsed)))
    full = assemble(len(parsed))
    if _size(full) <= max_bytes:
        return full
    count, used = 0, fixed
    for block in blocks:
        cost = _size(block) + 1  # the comma before it
        if used + cost > max_bytes:
            break
        used += cost
        count += 1
    card = assemble(count)
    while _size(card) > max_bytes and count > 0:  # defensive: never exceed the limit
        count -= 1
        card = assemble(count)
    if _size(card) > max_bytes:
        raise ValueError(f"max_bytes={max_bytes} is too small for even the digest header")
    return card


def build_digests(
    transitions: list[dict[str, Any]], *, max_bytes: int = MAX_CARD_BYTES
) -> list[dict[str, Any]]:
    """One digest per workspace (ARM ids compared case-insensitively), in first-seen order."""
    groups: dict[str, list[dict[str, Any]]] = {}
    names: dict[str, tuple[str, str]] = {}
    for message in transitions:
        t = Transition.parse(message)
        key = t.finding.resource_id.casefold()
        groups.setdefault(key, []).append(message)
        names.setdefault(key, (t.finding.resource_id, t.finding.workspace_name))
    return [build_digest(*names[key], msgs, max_bytes=max_bytes) for key, msgs in groups.items()]


def severity_filter(transitions: list[dict[str, Any]], min_severity: str) -> list[dict[str, Any]]:
    """Transitions whose finding is at least `min_severity` (DRIFTWATCH_NOTIFY_MIN_SEVERITY).

    Resolved and exempted notices pass on the finding's own severity, so a channel that saw
    a finding open also sees it close.
    """
    threshold = min_severity.strip().lower()
    if threshold not in SEVERITY_ORDER:
        raise ValueError(f"min_severity must be one of {', '.join(SEVERITY_ORDER)}")
    return [m for m in transitions if severity_at_least(Transition.parse(m).finding.severity, threshold)]
