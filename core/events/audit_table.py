"""The audit routing table (core/events/audit_actions.json): (serviceName, actionName) -> rule families.

Data, not code, so a new Databricks audit action is one line with its documentation source. The
loader validates every entry and names the file and field of a mistake; family names must be ones
driftwatch has rules for or has reserved (ARCHITECTURE 4.4: IAM, SEC, SET, CLU from issues 12/13).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

TABLE_PATH = Path(__file__).with_name("audit_actions.json")
TABLE_SCHEMA = "driftwatch.audit-routing/v1"
KNOWN_FAMILIES = frozenset({"WS", "NET", "IPACL", "CONF", "TOKEN", "EVAL", "IAM", "SEC", "SET", "CLU", "UC"})
"""Rule families that exist (core/rules) or whose ids ARCHITECTURE 4.4 reserves for later issues."""


class AuditTableError(ValueError):
    """The routing table is malformed (names the file and the field)."""


@dataclass(frozen=True)
class AuditAction:
    service: str
    action: str
    families: frozenset[str]
    summary: str
    by_conf_key: bool = False


@dataclass(frozen=True)
class ConfKey:
    families: frozenset[str]
    label: str


@dataclass(frozen=True)
class AuditTable:
    actions: dict[tuple[str, str], AuditAction]
    """Keyed by (service.lower(), action.lower())."""
    conf_keys: dict[str, ConfKey]
    """workspace-conf key (lower) -> the families an edit of it affects."""
    read_only: dict[tuple[str, str], str]
    """(service.lower(), action.lower()) -> why it changes nothing driftwatch checks."""
    read_only_prefixes: tuple[str, ...]
    families: dict[str, str]

    def is_read_only(self, service: str, action: str) -> str | None:
        reason = self.read_only.get((service.lower(), action.lower()))
        if reason:
            return reason
        for prefix in self.read_only_prefixes:
            if action.startswith(prefix) and len(action) > len(prefix) and action[len(prefix)].isupper():
                return f"read-only action ({prefix}...)"
        return None


def _families(value: Any, where: str) -> frozenset[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise AuditTableError(f"{where}: 'families' must be a non-empty list of family names")
    unknown = sorted(set(value) - KNOWN_FAMILIES)
    if unknown:
        raise AuditTableError(f"{where}: unknown rule family {', '.join(unknown)} "
                              f"(known: {', '.join(sorted(KNOWN_FAMILIES))})")
    return frozenset(value)


def _text(entry: dict[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise AuditTableError(f"{where}: field {key!r} must be a non-empty string")
    return value


def parse_audit_table(doc: Any, source: str = str(TABLE_PATH)) -> AuditTable:
    if not isinstance(doc, dict) or doc.get("schema") != TABLE_SCHEMA:
        raise AuditTableError(f"{source}: 'schema' must be {TABLE_SCHEMA!r}")
    if not isinstance(doc.get("sources"), list) or not doc["sources"]:
        raise AuditTableError(f"{source}: 'sources' must list the documentation the table follows")
    actions: dict[tuple[str, str], AuditAction] = {}
    for i, entry in enumerate(doc.get("actions") or []):
        where = f"{source}: actions[{i}]"
        if not isinstance(entry, dict):
            raise AuditTableError(f"{where}: must be an object")
        extra = sorted(set(entry) - {"service", "action", "families", "summary", "by_conf_key"})
        if extra:
            raise AuditTableError(f"{where}: unknown field(s) {', '.join(extra)}")
        act = AuditAction(service=_text(entry, "service", where), action=_text(entry, "action", where),
                          families=_families(entry.get("families"), where), summary=_text(entry, "summary", where),
                          by_conf_key=bool(entry.get("by_conf_key", False)))
        key = (act.service.lower(), act.action.lower())
        if key in actions:
            raise AuditTableError(f"{where}: {act.service}.{act.action} is listed twice")
        actions[key] = act
    conf_keys = {}
    for name, entry in (doc.get("workspace_conf_keys") or {}).items():
        where = f"{source}: workspace_conf_keys.{name}"
        if not isinstance(entry, dict):
            raise AuditTableError(f"{where}: must be an object")
        conf_keys[name.lower()] = ConfKey(families=_families(entry.get("families"), where),
                                          label=_text(entry, "label", where))
    read_only: dict[tuple[str, str], str] = {}
    for i, entry in enumerate(doc.get("read_only") or []):
        where = f"{source}: read_only[{i}]"
        if not isinstance(entry, dict):
            raise AuditTableError(f"{where}: must be an object")
        key = (_text(entry, "service", where).lower(), _text(entry, "action", where).lower())
        if key in actions:
            raise AuditTableError(f"{where}: {key[0]}.{key[1]} is both routed and read-only")
        read_only[key] = str(entry.get("reason") or "read-only action")
    prefixes = doc.get("read_only_prefixes") or []
    if not isinstance(prefixes, list) or not all(isinstance(p, str) and p for p in prefixes):
        raise AuditTableError(f"{source}: 'read_only_prefixes' must be a list of strings")
    families = doc.get("families") or {}
    if not isinstance(families, dict):
        raise AuditTableError(f"{source}: 'families' must be an object")
    _families(list(families), f"{source}: families")
    return AuditTable(actions=actions, conf_keys=conf_keys, read_only=read_only,
                      read_only_prefixes=tuple(prefixes), families={str(k): str(v) for k, v in families.items()})


@lru_cache(maxsize=4)
def load_audit_table(path: str | None = None) -> AuditTable:
    """The routing table (cached per path); AuditTableError names the file and field of a mistake."""
    p = Path(path) if path else TABLE_PATH
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AuditTableError(f"{p}: cannot be read as JSON ({exc})") from None
    return parse_audit_table(doc, str(p))
