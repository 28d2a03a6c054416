"""When a rule cannot apply to a workspace at all (ARCHITECTURE 4.2 "not applicable").

Two cases, both read from the workspace's own ARM document:

- `computeMode: Serverless` (Databricks ARM 2026-01-01). azure-rest-api-specs
  `specification/databricks/resource-manager/Microsoft.Databricks/Databricks/stable/2026-01-01/databricks.json`
  marks `parameters` (enableNoPublicIp, the custom* VNet fields, requireInfrastructureEncryption, the DBFS
  root `encryption`), `requiredNsgRules`, `managedResourceGroupId` and `encryption.entities.managedDisk`
  "Not allowed in Serverless ComputeMode workspace"; its example `examples/WorkspaceCreateServerless.json`
  is a workspace with none of them. Rules about the classic compute plane cannot apply there.
- `publicNetworkAccess: Disabled`: "IP access lists apply only to requests over the internet" (Microsoft
  Learn, Azure Databricks "Configure IP access lists for workspaces"), so with no public access they have
  nothing to filter; `ip_access_lists.when_private: check` keeps them as defence in depth.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from core.baseline.load import EffectiveBaseline
from core.rules.registry import Inapplicable
from core.state.model import WorkspaceState

SERVERLESS_REASON = ("not applicable: computeMode Serverless has no classic compute plane "
                     "(the setting is not allowed on Serverless workspaces)")
PRIVATE_REASON = ("not applicable: publicNetworkAccess Disabled, so no request comes over the Internet "
                  "(set ip_access_lists.when_private: check to keep this check)")


def _labelled(label: str) -> Callable[[Inapplicable], Inapplicable]:
    def mark(fn: Inapplicable) -> Inapplicable:
        fn.label = label  # type: ignore[attr-defined]  # shown in `driftwatch rules` and docs/rules.md
        return fn
    return mark


@_labelled("computeMode Serverless")
def classic_compute_only(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[tuple[str | None, str]]:
    """The whole rule is about classic compute (VNet, NSGs, no-public-IP, infrastructure encryption)."""
    if ws.arm is not None and ws.arm.serverless:
        yield None, SERVERLESS_REASON


SERVERLESS_CMK_ENTITIES = ("managed_disk", "dbfs_root")
"""CMK entities that live in the classic compute plane: `encryption.entities.managedDisk` and
`parameters.encryption` (DBFS root) are both "Not allowed in Serverless ComputeMode workspace";
`managedServices` is "Supported in both Serverless and Hybrid ComputeMode"."""


@_labelled("computeMode Serverless (managed_disk, dbfs_root)")
def classic_cmk_entities(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[tuple[str | None, str]]:
    if ws.arm is None or not ws.arm.serverless:
        return
    for entity in b.settings.customer_managed_keys or ():
        if entity in SERVERLESS_CMK_ENTITIES:
            yield entity, SERVERLESS_REASON


@_labelled("publicNetworkAccess Disabled, unless ip_access_lists.when_private: check")
def public_access_only(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[tuple[str | None, str]]:
    """IP access lists on a private-only workspace, unless the baseline asks to check them anyway."""
    ipacl = b.settings.ip_access_lists
    if ws.arm is None or (ipacl is not None and ipacl.when_private == "check"):
        return
    if (ws.arm.public_network_access or "Enabled").lower() == "disabled":
        yield None, PRIVATE_REASON
