"""DBX-IPACL-*: the workspace's IP access lists (workspace API, Premium SKU feature)."""

from __future__ import annotations

from collections.abc import Iterator

from core.baseline.load import EffectiveBaseline
from core.baseline.model import IPNetwork
from core.rules.applicability import public_access_only
from core.rules.registry import Violation, rule
from core.state.model import IpAccessEntry, WorkspaceApiState, WorkspaceState
from core.state.reads import Read, ReadPlan


def _api(ws: WorkspaceState) -> WorkspaceApiState:
    assert ws.workspace_api is not None  # the engine runs these rules only when the API was read
    return ws.workspace_api


def _enabled_entries(api: WorkspaceApiState, list_type: str) -> Iterator[tuple[IpAccessEntry, str | None]]:
    for lst in api.ip_access_lists:
        if lst.enabled and lst.list_type == list_type:
            for entry in lst.entries:
                yield entry, lst.label


@rule(id="DBX-IPACL-001", inputs=ReadPlan.of(conf_keys=("enableIpAccessLists",)),
      remediation="Turn on IP access lists: PATCH /api/2.0/workspace-conf {\"enableIpAccessLists\": \"true\"} "
                  "(after the ALLOW list contains your own addresses).",
      applies=lambda s: s.ip_access_lists is not None and s.ip_access_lists.enforced is not None,
      inapplicable=public_access_only)
def ip_access_lists_enforced(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads workspace-conf `enableIpAccessLists` ("true" when enforced; unset means the platform default,
    off). Not applicable when `publicNetworkAccess` is Disabled, unless `ip_access_lists.when_private: check`."""
    api = _api(ws)
    if "enableIpAccessLists" in api.unsupported_conf_keys:
        yield Violation("The workspace does not support the workspace-conf key enableIpAccessLists, so IP access "
                        "list enforcement cannot be confirmed.", expected="true", actual="unsupported key")
        return
    actual = api.conf.get("enableIpAccessLists")
    want = b.settings.ip_access_lists.enforced if b.settings.ip_access_lists else None
    is_on = (actual or "").strip().lower() == "true"
    if is_on != want:
        yield Violation(f"enableIpAccessLists is {actual!r}, baseline requires {str(want).lower()!r}.",
                        expected=str(want).lower(), actual=actual)


@rule(id="DBX-IPACL-002", inputs=ReadPlan.of(Read.IP_ACCESS_LISTS),
      remediation="Make the enabled ALLOW lists contain exactly the baseline CIDRs (add the missing ones, "
                  "remove or disable the unexpected ones).",
      applies=lambda s: s.ip_access_lists is not None and s.ip_access_lists.allow is not None,
      inapplicable=public_access_only)
def allow_entries_match(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads GET /api/2.0/ip-access-lists: `ip_addresses` of enabled lists with list_type ALLOW (a bare
    address equals its /32 or /128); one finding per missing and per unexpected CIDR."""
    want = b.allow_networks or frozenset()
    seen: dict[str, tuple[IpAccessEntry, str | None]] = {}
    for entry, label in _enabled_entries(_api(ws), "ALLOW"):
        key = str(entry.network) if entry.network is not None else entry.raw
        seen.setdefault(key, (entry, label))
    for net in sorted(want, key=lambda n: (n.version, n)):
        if str(net) not in seen:
            yield Violation(f"Baseline ALLOW entry {net} is missing from the enabled ALLOW lists.",
                            expected=str(net), actual=None, subject=str(net))
    want_str = {str(n) for n in want}
    for key, (entry, label) in seen.items():
        if key not in want_str:
            yield Violation(f"Unexpected ALLOW entry {entry.raw} (list {label!r}) is not in the baseline.",
                            expected=None, actual=entry.raw, subject=key)


def _too_broad(net: IPNetwork, b: EffectiveBaseline) -> int | None:
    """The widest prefix allowed for this address family, or None when it is within bounds."""
    if net.prefixlen == 0:
        return 1
    ipacl = b.settings.ip_access_lists
    limit = (ipacl.widest_allow_prefix if net.version == 4 else ipacl.widest_allow_prefix_v6) if ipacl else None
    if limit is not None and net.prefixlen < limit:
        return limit
    return None


@rule(id="DBX-IPACL-003", inputs=ReadPlan.of(Read.IP_ACCESS_LISTS),
      remediation="Replace the broad entry with the specific ranges you need; 0.0.0.0/0 (or ::/0) in an "
                  "ALLOW list switches the protection off.",
      applies=lambda s: s.ip_access_lists is not None,
      inapplicable=public_access_only)
def allow_entries_not_too_broad(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads GET /api/2.0/ip-access-lists: enabled ALLOW entries wider than `widest_allow_prefix`
    (IPv4; `widest_allow_prefix_v6` for IPv6); 0.0.0.0/0 and ::/0 always."""
    reported: set[str] = set()
    for entry, label in _enabled_entries(_api(ws), "ALLOW"):
        if entry.network is None or str(entry.network) in reported:
            continue
        limit = _too_broad(entry.network, b)
        if limit is not None:
            reported.add(str(entry.network))
            yield Violation(f"ALLOW entry {entry.raw} (list {label!r}) is a /{entry.network.prefixlen}, broader "
                            f"than /{limit}.", expected=f"/{limit} or narrower", actual=entry.raw,
                            subject=str(entry.network))


@rule(id="DBX-IPACL-004", inputs=ReadPlan.of(Read.IP_ACCESS_LISTS),
      remediation="Add the missing addresses to an enabled BLOCK list (POST /api/2.0/ip-access-lists with "
                  "list_type BLOCK).",
      applies=lambda s: s.ip_access_lists is not None and bool(s.ip_access_lists.block),
      inapplicable=public_access_only)
def block_entries_present(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads GET /api/2.0/ip-access-lists: `ip_addresses` of enabled BLOCK lists (an entry counts as
    present when an enabled BLOCK entry covers it)."""
    blocked = [e.network for e, _ in _enabled_entries(_api(ws), "BLOCK") if e.network is not None]
    for net in b.block_networks or ():
        covered = any(net.version == have.version and net.subnet_of(have) for have in blocked)  # type: ignore[arg-type]
        if not covered:
            yield Violation(f"Baseline BLOCK entry {net} is not in any enabled BLOCK list.", expected=str(net),
                            actual=None, subject=str(net))
