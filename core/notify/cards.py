"""Adaptive Card digests for Teams Workflows webhooks (pure: no I/O).

One card per workspace keeps a sweep that touches 2,000 workspaces from flooding a channel, and keeps
each post under the ~28 KB Teams message limit. The card is built for an on-call engineer reading it
at a glance:

- a banner with the workspace's standing *after* this change (what was opened/resolved now, and how
  many findings are still open by severity, from the findings store);
- one line per finding, or per rule when a rule has several findings ("HIGH · DBX-IPACL-002 · 104 x
  0.0.0.0/0, 100.64.1.0/24, …"), sorted by severity, rule and subject (addresses numerically);
- details and remediation once per rule, collapsed behind the line (`Action.ToggleVisibility`);
- a "not shown" line naming, by severity and rule, whatever did not fit;
- actions only to things known to exist now, with short titles, and links into the auditors' API
  when `DRIFTWATCH_PUBLIC_API_URL` is set.

Every string that came from a finding goes into a `TextRun` after `inert()` (see core/notify/text.py):
no Markdown is ever interpreted in it. Severity is shown by word, shape and colour together; the colours
used keep at least 4.5:1 contrast for text (3:1 for the shape) in the Teams light and dark themes.
"""

from __future__ import annotations

import ipaddress
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from core.arm_ids import arm_fold
from core.findings.model import SEVERITY_ORDER, severity_at_least
from core.findings.transition import Transition
from core.notify.text import compact_value, inert, strip_url_secrets, truncate, when
from core.terms import SEVERITIES

__all__ = [
    "MAX_CARD_BYTES",
    "Standing",
    "Transition",
    "build_digest",
    "build_digests",
    "finding_api_url",
    "portal_url",
    "serialize_card",
    "severity_filter",
    "strip_url_secrets",
    "truncate",
]

MAX_CARD_BYTES = 28_000
"""Teams rejects messages above about 28 KB (28,672 bytes); every POST body stays at or under this."""

ADAPTIVE_CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
ADAPTIVE_CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
ADAPTIVE_CARD_VERSION = "1.5"
PORTAL_RESOURCE_URL = "https://portal.azure.com/#@/resource{resource_id}/overview"
MAX_ACTIONS = 5
"""Card-level buttons; Teams shows about five side by side before folding them into a menu."""

# Word + shape + colour: the word is always there (high-contrast themes drop colours), the shape tells
# the levels apart without colour, and the colour is a host colour that stays legible (tested).
SEVERITY_MARK = {"critical": "◆", "high": "▲", "medium": "■", "low": "●", "info": "○"}
SEVERITY_COLOR = {"critical": "attention", "high": "attention", "medium": "accent", "low": "default",
                  "info": "default"}
SECTIONS = (
    ("action", ("opened", "reopened"), "Needs action"),
    ("exempted", ("exempted",), "Exempted"),
    ("resolved", ("resolved",), "Resolved: no action needed"),
)

_NAME_CHARS = 120
_SUBJECT_CHARS = 120
_LINE_SUBJECT_CHARS = 150
_MESSAGE_CHARS = 220
_VALUE_CHARS = 160
_TITLE_CHARS = 140
_REMEDIATION_CHARS = 500
_SUBJECT_LIST_CHARS = 1500
_DETAIL_LINES = 5
"""Rules with at most this many findings list each one in their details; bigger groups list subjects."""
_NOT_SHOWN_RULES = 8
_TIMES = "\u00d7"


# ---- input ----------------------------------------------------------------------------------------
TransitionInput = Transition | Mapping[str, Any]
"""A `Transition` (in process: the notify use case) or its `driftwatch.transition/v1` message (read from
a queue or a file: parsed once here, with errors that name the field, never its value)."""


def _parsed(t: TransitionInput) -> Transition:
    return t if isinstance(t, Transition) else Transition.from_message(t)


@dataclass(frozen=True)
class Standing:
    """The workspace's findings right now, from the findings store (after this change)."""

    open_by_severity: Mapping[str, int] = field(default_factory=dict)
    exempted: int = 0

    @property
    def open_total(self) -> int:
        return sum(self.open_by_severity.get(s, 0) for s in SEVERITIES)

    def worst_open(self) -> str | None:
        return next((s for s in SEVERITIES if self.open_by_severity.get(s, 0) > 0), None)


def serialize_card(body: dict[str, Any]) -> bytes:
    """The exact bytes posted: compact separators, UTF-8 (size limits are measured on this)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _size(obj: Any) -> int:
    return len(serialize_card(obj))


# ---- ordering -------------------------------------------------------------------------------------
def subject_key(subject: str | None) -> tuple[Any, ...]:
    """Addresses and CIDRs numerically (IPv4 before IPv6), everything else case-insensitively after them."""
    text = (subject or "").strip()
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return (1, 0, 0, 0, text.casefold(), text)
    return (0, net.version, int(net.network_address), net.prefixlen, "", text)


def _section_of(t: Transition) -> int:
    return next(i for i, (_, kinds, _) in enumerate(SECTIONS) if t.transition in kinds)


# ---- links ----------------------------------------------------------------------------------------
def portal_url(resource_id: str) -> str | None:
    """Azure portal link for an ARM id, or None when the value is not an ARM id."""
    rid = resource_id.strip().split("?", 1)[0].split("#", 1)[0]
    if not rid.lower().startswith("/subscriptions/") or any(c.isspace() for c in rid):
        return None
    return PORTAL_RESOURCE_URL.format(resource_id=quote(rid, safe="/-_.~()"))


def finding_api_url(api_url: str, finding_id: str) -> str:
    """The finding (with its history) in the auditors' API: `GET {api}/findings/{id}`."""
    return f"{api_url.rstrip('/')}/findings/{quote(finding_id, safe='')}"


def findings_api_url(api_url: str, workspace_id: str, *, rule: str | None = None, status: str | None = None) -> str:
    params = {"workspace": workspace_id}
    if rule:
        params["rule"] = rule
    if status:
        params["status"] = status
    return f"{api_url.rstrip('/')}/findings?{urlencode(params, safe='/')}"


_RESOURCE_TITLES = {
    "networksecuritygroups/securityrules": "NSG rule",
    "networksecuritygroups": "NSG",
    "virtualnetworks/subnets": "subnet",
    "virtualnetworks": "VNet",
    "natgateways": "NAT gateway",
    "routetables": "route table",
    "privateendpoints": "private endpoint",
    "vaults": "key vault",
    "diagnosticsettings": "diagnostic setting",
}


def _resource_kind(resource_id: str) -> str:
    """`networksecuritygroups/securityrules` for an NSG rule id: the types after the provider namespace."""
    parts = resource_id.strip("/").split("/")
    try:
        i = max(i for i, p in enumerate(parts) if p.lower() == "providers")
    except ValueError:
        return ""
    return "/".join(p.lower() for p in parts[i + 2::2])


def _parent_id(resource_id: str) -> str:
    return resource_id.rstrip("/").rsplit("/", 2)[0]


# ---- card elements --------------------------------------------------------------------------------
def _run(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextRun", "text": text, **style}


def _rich(inlines: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"type": "RichTextBlock", "inlines": [i for i in inlines if i.get("text")], **extra}


def _label(text: str, **extra: Any) -> dict[str, Any]:
    """A TextBlock with driftwatch's own fixed words only (never estate text)."""
    return {"type": "TextBlock", "text": text, "wrap": True, **extra}


def _severity_runs(severity: str, *, muted: bool = False) -> list[dict[str, Any]]:
    mark = _run(SEVERITY_MARK[severity] + " ", color="default" if muted else SEVERITY_COLOR[severity])
    word = _run(severity.upper(), weight="Bolder", isSubtle=muted)
    return [mark, word]


@dataclass
class _Group:
    """The findings of one rule in one section (needs action / exempted / resolved)."""

    section: int
    severity: str
    rule_id: str
    items: list[Transition]

    @property
    def resolved(self) -> bool:
        return SECTIONS[self.section][0] == "resolved"

    @property
    def title(self) -> str:
        return self.items[0].finding.title


def _groups(parsed: Sequence[Transition]) -> list[_Group]:
    buckets: dict[tuple[int, str, str], list[Transition]] = {}
    for t in parsed:
        key = (_section_of(t), t.finding.severity, t.finding.rule_id)
        buckets.setdefault(key, []).append(t)
    out = [_Group(s, sev, rule, sorted(items, key=lambda t: subject_key(t.finding.subject)))
           for (s, sev, rule), items in buckets.items()]
    return sorted(out, key=lambda g: (g.section, -SEVERITY_ORDER[g.severity], g.rule_id))


def _subject_of(t: Transition) -> str:
    f = t.finding
    return inert(f.subject, _SUBJECT_CHARS) if f.subject else inert(f.title, _TITLE_CHARS)


def _subject_list(group: _Group, limit: int) -> tuple[str, int]:
    """Comma-separated subjects within `limit` characters, and how many did not fit."""
    shown: list[str] = []
    used = 0
    for t in group.items:
        s = _subject_of(t)
        cost = len(s) + (2 if shown else 0)
        if shown and used + cost > limit:
            break
        shown.append(s)
        used += cost
    return ", ".join(shown), len(group.items) - len(shown)


# -- who made the change (issue 17: Event Grid claims, Databricks audit records) --------------------
def change_sentence(t: Transition) -> str | None:
    """"opened after jane@contoso.com disabled IP access lists from 203.0.113.9", or None when unknown."""
    att = t.finding.attribution()
    return att.sentence(t.transition) if att is not None else None


def _common_change(group: _Group) -> str | None:
    """The change sentence when every finding of the group has the same one (shown on the line)."""
    sentences = {change_sentence(t) for t in group.items}
    return next(iter(sentences)) if len(sentences) == 1 else None


def _change_block(sentence: str) -> dict[str, Any]:
    return _rich([_run(inert(sentence, _MESSAGE_CHARS), isSubtle=True)], spacing="None")


def _line(group: _Group, details_id: str | None) -> dict[str, Any]:
    """The one line of a group: mark + SEVERITY · RULE · subject (or N x subjects, …)."""
    runs = _severity_runs(group.severity, muted=group.resolved)
    runs.append(_run(f" · {inert(group.rule_id, 40)} · ", isSubtle=group.resolved))
    n = len(group.items)
    if n == 1:
        t = group.items[0]
        f = t.finding
        # A subject names the thing; without one the message says what is wrong (the title says
        # what compliant looks like, which reads as good news in a one-line view).
        runs.append(_run(inert(f.subject, _SUBJECT_CHARS) if f.subject else inert(f.message, _MESSAGE_CHARS)))
    else:
        subjects, rest = _subject_list(group, _LINE_SUBJECT_CHARS)
        runs.append(_run(f"{n} {_TIMES} ", weight="Bolder"))
        runs.append(_run(subjects + (f", … +{rest} more" if rest else "")))
    reopened = sum(t.transition == "reopened" for t in group.items)
    if reopened:
        runs.append(_run("  (reopened)" if n == 1 else f"  ({reopened} reopened)", isSubtle=True))
    if details_id:
        runs.append(_run("  ▸ details", color="accent"))
    line: dict[str, Any] = {"type": "Container", "spacing": "Small", "items": [_rich(runs)]}
    common = _common_change(group)
    if common:
        line["items"].append(_change_block(common))
    if details_id:
        line["selectAction"] = {"type": "Action.ToggleVisibility", "title": "Show or hide details",
                                "targetElements": [details_id]}
    return line


def _detail_line(t: Transition, api_url: str | None, show_change: bool = True) -> dict[str, Any]:
    f = t.finding
    runs = [_run("• "), _run(_subject_of(t), weight="Bolder"), _run(": " + inert(f.message, _MESSAGE_CHARS))]
    if f.expected is not None or f.actual is not None:
        runs.append(_run(f" Expected {compact_value(f.expected, _VALUE_CHARS)}; actual "
                         f"{compact_value(f.actual, _VALUE_CHARS)}.", isSubtle=True))
    if t.transition == "exempted" and f.exemption:
        ex = f.exemption
        runs.append(_run(f" Exempted until {inert(ex.get('expires') or 'no expiry', 40)}"
                         f"{', approved by ' + inert(ex['approved_by'], 80) if ex.get('approved_by') else ''}: "
                         f"{inert(ex.get('reason') or 'no reason given', 200)}.", isSubtle=True))
    if t.transition == "resolved" and t.reason:
        runs.append(_run(f" Resolved as {inert(t.reason, _MESSAGE_CHARS)}.", isSubtle=True))
    sentence = change_sentence(t)
    if sentence and show_change:
        runs.append(_run(" " + inert(sentence, _MESSAGE_CHARS) + ".", isSubtle=True))
    runs.append(_run(f" First seen {when(f.first_seen)}" +
                     (f", resolved {when(f.resolved_at)}." if f.resolved_at and t.transition == "resolved" else "."),
                     isSubtle=True))
    if api_url:
        runs.append(_run(" Open finding", color="accent",
                         selectAction={"type": "Action.OpenUrl", "title": "Open finding",
                                       "url": finding_api_url(api_url, f.id)}))
    return _rich(runs, spacing="Small")


def _details(group: _Group, details_id: str, workspace_id: str, api_url: str | None, *,
             full: bool) -> dict[str, Any]:
    """Once per rule: what it checks, the findings, and what to do. Collapsed until the line is clicked."""
    items: list[dict[str, Any]] = [_rich([_run(inert(group.rule_id, 40) + " ", weight="Bolder"),
                                          _run(inert(group.title, _TITLE_CHARS), weight="Bolder")])]
    n = len(group.items)
    if full and n <= _DETAIL_LINES:
        per_finding = _common_change(group) is None  # a shared one is already on the line
        items.extend(_detail_line(t, api_url, per_finding) for t in group.items)
    else:
        subjects, rest = _subject_list(group, _SUBJECT_LIST_CHARS if full else 300)
        items.append(_rich([_run(f"{n} findings: ", weight="Bolder"),
                            _run(subjects + (f", … +{rest} more" if rest else ""))], spacing="Small"))
        first = group.items[0].finding
        items.append(_rich([_run("For example: ", isSubtle=True),
                            _run(inert(first.message, _MESSAGE_CHARS), isSubtle=True)], spacing="Small"))
        if api_url:
            status = {"action": "open", "exempted": "exempted", "resolved": "resolved"}[SECTIONS[group.section][0]]
            items.append(_rich([_run("Open these findings", color="accent", selectAction={
                "type": "Action.OpenUrl", "title": "Open these findings",
                "url": findings_api_url(api_url, workspace_id, rule=group.rule_id, status=status)})],
                spacing="Small"))
    if not group.resolved:
        items.append(_rich([_run("What to do: ", weight="Bolder"),
                            _run(inert(group.items[0].finding.remediation, _REMEDIATION_CHARS))], spacing="Small"))
    return {"type": "Container", "id": details_id, "isVisible": False, "spacing": "Small", "items": items}


def _group_elements(group: _Group, index: int, workspace_id: str, api_url: str | None,
                    level: int) -> list[dict[str, Any]]:
    """level 0: the line only; 1: line + short details; 2: line + full details."""
    if level == 0:
        return [_line(group, None)]
    details_id = f"dw-details-{index}"
    return [_line(group, details_id), _details(group, details_id, workspace_id, api_url, full=level == 2)]


def _counts_phrase(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{counts[s]} {s}" for s in SEVERITIES if counts.get(s, 0))


def _change_phrase(parsed: Sequence[Transition]) -> str:
    c = Counter(t.transition for t in parsed)
    parts = [f"{c[k]} {k}" for k in ("opened", "reopened", "exempted", "resolved") if c[k]]
    return " · ".join(parts) if parts else "no changes"


def _banner(parsed: Sequence[Transition], standing: Standing | None) -> dict[str, Any]:
    """What changed and where the workspace stands now; the container style follows what is still open."""
    change = _change_phrase(parsed)
    if standing is None:
        now = "open findings now: unknown (the findings store was not read)"
        style = "emphasis"
    elif standing.open_total == 0:
        now = "nothing is open any more" if any(t.transition == "resolved" for t in parsed) else "nothing open"
        style = "good"
    else:
        now = f"{standing.open_total} still open ({_counts_phrase(standing.open_by_severity)})"
        worst = standing.worst_open()
        style = "attention" if worst in ("critical", "high") else "emphasis"
    extra = f" · {standing.exempted} exempted" if standing is not None and standing.exempted else ""
    return {"type": "Container", "style": style, "spacing": "Small",
            "items": [_label(f"{change} · {now}{extra}", weight="Bolder")]}


def _header(workspace_id: str, workspace_name: str, subscription_id: str | None) -> list[dict[str, Any]]:
    parts = workspace_id.strip("/").split("/")
    rg = parts[3] if len(parts) > 3 and parts[2].lower() == "resourcegroups" else None
    where = [_run("Resource group ", isSubtle=True), _run(inert(rg, 90), isSubtle=True),
             _run(" · ", isSubtle=True)] if rg else []
    where += [_run("Subscription ", isSubtle=True), _run(inert(subscription_id or "unknown", 60), isSubtle=True)]
    return [
        _rich([_run("driftwatch · ", size="Large", weight="Bolder"),
               _run(inert(workspace_name, _NAME_CHARS), size="Large", weight="Bolder")]),
        _rich(where, spacing="None"),
    ]


def _section_heading(section: int, count: int) -> dict[str, Any]:
    return _label(f"{SECTIONS[section][2]} · {count}", weight="Bolder", separator=True, spacing="Medium")


def _not_shown(hidden: Sequence[_Group], workspace_name: str) -> dict[str, Any] | None:
    """Names, by severity and rule, every finding that is not in the card."""
    if not hidden:
        return None
    total = sum(len(g.items) for g in hidden)
    by_sev: dict[str, Counter[str]] = {}
    for g in hidden:
        by_sev.setdefault(g.severity, Counter())[inert(g.rule_id, 40)] += len(g.items)
    phrases = []
    listed = 0
    for sev in SEVERITIES:
        rules = by_sev.get(sev)
        if not rules:
            continue
        names = []
        for rule, n in sorted(rules.items()):
            if listed < _NOT_SHOWN_RULES:
                names.append(f"{rule} {_TIMES}{n}")
                listed += 1
        others = len(rules) - len(names)
        if others:
            names.append(f"{others} more rule{'s' if others > 1 else ''}")
        phrases.append(f"{sum(rules.values())} {sev} ({', '.join(names)})")
    noun = "finding" if total == 1 else "findings"
    return {"type": "Container", "separator": True, "spacing": "Medium", "items": [_rich([
        _run(f"Not shown: {total} {noun}", weight="Bolder"), _run(" — " + "; ".join(phrases) + ". "),
        _run("Full list: driftwatch findings list --workspace ", isSubtle=True),
        _run(inert(workspace_name, _NAME_CHARS), isSubtle=True),
        _run(" or the findings API.", isSubtle=True)])]}


def _actions(workspace_id: str, parsed: Sequence[Transition], shown: Sequence[Transition],
             standing: Standing | None, api_url: str | None) -> list[dict[str, Any]]:
    """Buttons only to things known to exist now, with short titles.

    The workspace exists when this change opened/reopened/exempted something or findings are still
    open (both observed by the last evaluation). A related resource is linked only from findings that
    are not resolved: a resolved finding may be resolved because its resource was deleted.
    """
    actions: list[dict[str, Any]] = []
    exists = any(t.transition != "resolved" for t in parsed) or bool(standing and standing.open_total)
    ws_url = portal_url(workspace_id) if exists else None
    if ws_url:
        actions.append({"type": "Action.OpenUrl", "title": "Open workspace", "url": ws_url})
    if api_url:
        if len(parsed) == 1:
            actions.append({"type": "Action.OpenUrl", "title": "Open finding",
                            "url": finding_api_url(api_url, parsed[0].finding.id)})
        else:
            actions.append({"type": "Action.OpenUrl", "title": "Open findings",
                            "url": findings_api_url(api_url, workspace_id)})
    related: dict[str, str] = {}  # arm_fold(id) -> id, in card order
    for t in shown:
        rid = t.finding.related_resource_id
        if t.transition == "resolved" or not rid or portal_url(rid) is None:
            continue
        if arm_fold(rid) != arm_fold(workspace_id):
            related.setdefault(arm_fold(rid), rid)
    # Several rules of one NSG (or subnets of one VNet): link the parent once.
    by_parent: dict[str, list[str]] = {}
    for rid in related.values():
        kind = _resource_kind(rid)
        key = arm_fold(_parent_id(rid)) if kind in ("networksecuritygroups/securityrules",
                                                     "virtualnetworks/subnets") else arm_fold(rid)
        by_parent.setdefault(key, []).append(rid)
    titles: Counter[str] = Counter()
    for ids in by_parent.values():
        if len(actions) >= MAX_ACTIONS:
            break
        rid = ids[0] if len(ids) == 1 else _parent_id(ids[0])
        noun = _RESOURCE_TITLES.get(_resource_kind(rid), "resource")
        titles[noun] += 1
        title = f"Open {noun}" + (f" {titles[noun]}" if titles[noun] > 1 else "")
        url = portal_url(rid)
        if url:
            actions.append({"type": "Action.OpenUrl", "title": title, "url": url})
    return actions


def _envelope(body: list[dict[str, Any]], actions: list[dict[str, Any]]) -> dict[str, Any]:
    content: dict[str, Any] = {
        "$schema": ADAPTIVE_CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": ADAPTIVE_CARD_VERSION,
        "msteams": {"width": "Full"},
        "body": body,
    }
    if actions:
        content["actions"] = actions
    return {"type": "message",
            "attachments": [{"contentType": ADAPTIVE_CARD_CONTENT_TYPE, "contentUrl": None, "content": content}]}


# ---- public builders ------------------------------------------------------------------------------
def build_digest(
    resource_id: str,
    workspace_name: str,
    transitions: Sequence[TransitionInput],
    *,
    standing: Standing | None = None,
    api_url: str | None = None,
    max_bytes: int = MAX_CARD_BYTES,
) -> dict[str, Any]:
    """One Teams Workflows message for one workspace's transitions, at most `max_bytes` (UTF-8).

    Lines are added in order (needs action first, most severe first) until the budget is used; then
    details are added to the shown lines, fullest first. What does not fit is named in the
    "not shown" line, never cut off mid-card (a truncated JSON is rejected by Teams).
    """
    parsed = [_parsed(m) for m in transitions]
    groups = _groups(parsed)
    sub = next((t.finding.subscription_id for t in parsed), None)
    if sub is None:
        parts = resource_id.strip("/").split("/")
        sub = parts[1] if len(parts) > 1 and parts[0].lower() == "subscriptions" else None
    head = [*_header(resource_id, workspace_name, sub), _banner(parsed, standing)]

    def assemble(levels: list[int]) -> dict[str, Any]:
        shown_groups = [g for g, lv in zip(groups, levels, strict=True) if lv >= 0]
        hidden = [g for g, lv in zip(groups, levels, strict=True) if lv < 0]
        body = list(head)
        section = -1
        for i, (g, lv) in enumerate(zip(groups, levels, strict=True)):
            if lv < 0:
                continue
            if g.section != section:
                section = g.section
                count = sum(len(x.items) for x in groups if x.section == section)
                body.append(_section_heading(section, count))
            body.extend(_group_elements(g, i, resource_id, api_url, lv))
        more = _not_shown(hidden, workspace_name)
        if more:
            body.append(more)
        shown = [t for g in shown_groups for t in g.items]
        return _envelope(body, _actions(resource_id, parsed, shown, standing, api_url))

    def fits(levels: list[int]) -> bool:
        return _size(assemble(levels)) <= max_bytes

    levels = [2] * len(groups)
    if fits(levels):
        return assemble(levels)
    # Pass 1: as many lines as fit, in order; pass 2: details for the shown lines, in order.
    levels = [-1] * len(groups)
    if not fits(levels):
        raise ValueError(f"max_bytes={max_bytes} is too small for even the digest header")
    for i in range(len(groups)):
        levels[i] = 0
        if not fits(levels):
            levels[i] = -1
            break
    for i in range(len(groups)):
        if levels[i] < 0:
            break
        for lv in (2, 1):
            levels[i] = lv
            if fits(levels):
                break
            levels[i] = 0
    return assemble(levels)


def build_digests(
    transitions: Sequence[TransitionInput], *, standings: Mapping[str, Standing] | None = None,
    api_url: str | None = None, max_bytes: int = MAX_CARD_BYTES
) -> list[dict[str, Any]]:
    """One digest per workspace (ARM ids compared case-insensitively), in first-seen order.

    `standings` maps a lower-cased workspace id to its standing in the findings store.
    """
    grouped: dict[str, tuple[str, str, list[Transition]]] = {}
    for m in transitions:
        t = _parsed(m)
        key = arm_fold(t.finding.resource_id)
        if key not in grouped:
            grouped[key] = (t.finding.resource_id, t.finding.workspace_name, [])
        grouped[key][2].append(t)
    return [
        build_digest(rid, name, ms, standing=(standings or {}).get(key), api_url=api_url, max_bytes=max_bytes)
        for key, (rid, name, ms) in grouped.items()
    ]


def severity_filter(transitions: Sequence[TransitionInput], min_severity: str) -> list[Transition]:
    """Keep transitions whose finding severity is at or above `min_severity` (resolved ones too)."""
    if min_severity not in SEVERITY_ORDER:
        raise ValueError(f"min_severity must be one of {', '.join(SEVERITY_ORDER)}")
    parsed = [_parsed(m) for m in transitions]
    return [t for t in parsed if severity_at_least(t.finding.severity, min_severity)]
