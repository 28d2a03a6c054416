"""The request log behind `GET /_emulator/requests`: counts per endpoint key and the recent requests.

Tests assert how many calls a scan makes per endpoint, so every request gets a small, stable key
(`classify`), never its full path.
"""

from __future__ import annotations

from collections import Counter, deque
from typing import Any

from emulator.http_common import segments

RECENT_REQUESTS = 500

_ARM_COLLECTIONS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("microsoft.databricks", "workspaces"), "arm:workspaces.list"),
    (("diagnosticsettings",), "arm:diagnosticSettings.list"),
    (("microsoft.authorization", "roleassignments"), "arm:roleAssignments.list"),
    (("microsoft.authorization", "roledefinitions"), "arm:roleDefinitions.list"),
    (("microsoft.authorization", "locks"), "arm:locks.list"),
    (("privatednszonegroups",), "arm:privateDnsZoneGroups.list"),
)
"""Path suffix (lower) of an ARM collection -> its key; the first match wins, anything else `arm:resources.list`."""

_WORKSPACE_ENDPOINTS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    ((".well-known",), "ws:well-known", "ws:well-known"),
    (("api", "2.0", "ip-access-lists"), "ws:ip-access-lists", "ws:ip-access-list"),
    (("api", "2.0", "workspace-conf"), "ws:workspace-conf", "ws:workspace-conf"),
    (("api", "2.0", "token-management", "tokens"), "ws:tokens", "ws:token"),
    (("api", "2.0", "permissions", "authorization", "tokens"), "ws:token-permissions", "ws:token-permissions"),
    (("api", "2.0", "settings", "types"), "ws:settings", "ws:settings"),
    (("api", "2.0", "preview", "scim"), "ws:scim", "ws:scim"),  # includes /scim/v2/Me
    (("api", "2.0", "secrets", "scopes"), "ws:secret-scopes", "ws:secret-scopes"),
    (("api", "2.0", "secrets", "acls"), "ws:secret-acls", "ws:secret-acls"),
    (("api", "2.0", "global-init-scripts"), "ws:global-init-scripts", "ws:global-init-script"),
    (("api", "2.1", "clusters", "list"), "ws:clusters", "ws:clusters"),
    (("api", "2.1", "clusters", "spark-versions"), "ws:spark-versions", "ws:spark-versions"),
    (("api", "2.0", "policies", "clusters", "list"), "ws:cluster-policies", "ws:cluster-policies"),
    (("api", "2.0", "policies", "clusters", "list-compliance"), "ws:policy-compliance", "ws:policy-compliance"),
    (("api", "2.0", "permissions", "cluster-policies"), "ws:policy-permissions", "ws:policy-permissions"),
)
"""Path prefix (lower, after `/ws/{host}`) -> (key for the prefix itself, key for a path below it); first match wins."""


def _arm_key(low: list[str]) -> str:
    if len(low) == 1:
        return "arm:subscriptions.list"
    if len(low) == 2:
        return "arm:subscription"
    if len(low) % 2 == 0:
        return "arm:resource"
    for suffix, name in _ARM_COLLECTIONS:
        if tuple(low[-len(suffix) :]) == suffix:
            return name
    return "arm:resources.list"


def _workspace_key(rest: list[str]) -> str:
    for prefix, exact, deeper in _WORKSPACE_ENDPOINTS:
        if tuple(rest[: len(prefix)]) == prefix:
            return exact if len(rest) == len(prefix) else deeper
    if rest[:3] == ["api", "2.1", "unity-catalog"]:
        return "ws:uc:" + (rest[3] if len(rest) > 3 and rest[3] != "metastores" else "systemschemas")
    return "ws:other"


def arm_resource_type(method: str, path: str) -> str | None:
    """`GET microsoft.network/virtualnetworks` for a resource read, `... list` for a collection read (ARM paths
    only, else None): tells the workspace, VNet and NSG reads apart, which `classify` lumps as `arm:resource`."""
    low = [s.lower() for s in segments(path)]
    if len(low) < 3 or low[0] != "subscriptions" or "providers" not in low:
        return None
    at = len(low) - 1 - low[::-1].index("providers")
    rest = low[at + 1:]
    if not rest:
        return None
    namespace, tail = rest[0], rest[1:]
    types = tail[0::2]
    kind = "list" if len(tail) % 2 == 1 else "get"
    return f"{method.upper()} {namespace}/{'/'.join(types)} {kind}" if types else None


def classify(method: str, path: str) -> str:
    """A small, stable endpoint key for the request log (never the full path)."""
    low = [s.lower() for s in segments(path)]
    if not low:
        name = "other"
    elif low[0] == "subscriptions":
        name = _arm_key(low)
    elif low[0] == "ws" and len(low) >= 2:
        name = _workspace_key(low[2:])
    elif low[0] == "teams":
        name = "teams"
    elif low[0] == ".well-known":
        name = "well-known"
    else:
        name = "other"
    return f"{method.upper()} {name}"


class RequestLog:
    """Counts by endpoint key, the last RECENT_REQUESTS requests, and how many were served at once."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.by_type: Counter[str] = Counter()
        """ARM calls by resource type and get/list (`arm_resource_type`)."""
        self.total = 0
        self.recent: deque[dict[str, Any]] = deque(maxlen=RECENT_REQUESTS)
        self.in_flight = 0
        self.in_flight_peak = 0
        """Most requests served at once: shows that latency overlaps instead of queueing."""
        self.tick = 0
        """A logical clock, one step per request start and per request end: a recent request's `started` and
        `finished` ticks tell which requests overlapped and which waited for another (tests read the order
        of a client's calls from them, not from wall time)."""

    def started(self) -> int:
        """A request arrived: its start tick."""
        self.in_flight += 1
        self.in_flight_peak = max(self.in_flight_peak, self.in_flight)
        self.tick += 1
        return self.tick

    def finished(self, method: str, path: str, status: int, ms: float, started: int = 0) -> None:
        self.in_flight -= 1
        self.total += 1
        self.tick += 1
        self.counts[classify(method, path)] += 1
        rtype = arm_resource_type(method, path)
        if rtype is not None:
            self.by_type[rtype] += 1
        self.recent.append({"method": method, "path": path, "status": status, "ms": ms,
                            "started": started, "finished": self.tick})

    def view(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "by_endpoint": dict(self.counts),
            "by_resource_type": dict(self.by_type),
            "recent": list(self.recent),
            "in_flight_peak": self.in_flight_peak,
        }

    def reset(self) -> None:
        self.counts.clear()
        self.by_type.clear()
        self.total = 0
        self.recent.clear()
        self.in_flight_peak = self.in_flight
