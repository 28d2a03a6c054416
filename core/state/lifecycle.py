"""Whether a subscription or a workspace is in a state driftwatch can evaluate at all.

Pure decisions shared by the sweep, the scan worker, `driftwatch scan` and `driftwatch evaluate`:

- Subscription states are the `SubscriptionState` enum of the Microsoft.Resources subscriptions
  API (azure-rest-api-specs `specification/resources/resource-manager/Microsoft.Resources/
  subscriptions/stable/2022-12-01/subscriptions.json`, `definitions.SubscriptionState`: Enabled,
  Warned, PastDue, Disabled, Deleted). Microsoft Learn "Azure subscription states"
  (learn.microsoft.com/azure/cost-management-billing/manage/subscription-states) says every
  operation works on Enabled and PastDue, and Warned still serves GET. Those are swept. A Deleted
  subscription serves nothing; a Disabled one has its services stopped and can only be read or
  deleted (its resources are deallocated, nothing in it runs), so both are reported as *skipped*
  with the state as reason rather than dropped. A state this table does not know is swept:
  unknown is not a reason to stop looking.
- Workspace `provisioningState` is the `ProvisioningState` enum of Microsoft.Databricks
  (`specification/databricks/resource-manager/Microsoft.Databricks/Databricks/stable/2026-01-01/
  databricks.json`, `definitions.ProvisioningState`). While an ARM operation is in flight the
  document is not the workspace's settled configuration, so it is not evaluated (nothing opens or
  resolves) and is re-checked later; `Failed`/`Canceled` mean the last operation did not complete,
  which is an evaluation problem of its own.
"""

from __future__ import annotations

from core.state.model import WorkspaceArm

SWEPT_SUBSCRIPTION_STATES = frozenset({"enabled", "warned", "pastdue"})
SKIPPED_SUBSCRIPTION_STATES = {
    "disabled": "subscription is Disabled: its services are stopped and it can only be read or deleted",
    "deleted": "subscription is Deleted: ARM serves no operations on it",
}
TRANSIENT_PROVISIONING_STATES = frozenset({"accepted", "creating", "updating", "deleting", "running", "deleted"})
FAILED_PROVISIONING_STATES = frozenset({"failed", "canceled"})

SETTLE_RECHECKS_S = (60, 120, 180, 240, 300)
"""Visibility delays of the re-queued scans of a workspace that is not settled: 5 re-checks, 15 minutes."""


def _norm(state: object) -> str:
    """`SubscriptionState.PAST_DUE`, "PastDue" and "pastdue" are the same state."""
    value = getattr(state, "value", state)
    return str(value or "").replace("_", "").replace(" ", "").lower().removeprefix("subscriptionstate.")


def subscription_skip_reason(state: object) -> str | None:
    """Why a subscription in this state is not swept, or None when it is swept (unknown states are)."""
    return SKIPPED_SUBSCRIPTION_STATES.get(_norm(state))


def not_settled_reason(arm: WorkspaceArm | None) -> str | None:
    """Why this workspace document is not evaluated now (an ARM operation on it is in flight), or None."""
    state = (arm.provisioning_state or "") if arm is not None else ""
    if state.lower() in TRANSIENT_PROVISIONING_STATES:
        return f"provisioningState {state}: not evaluated until the ARM operation on it settles"
    return None


def failed_reason(arm: WorkspaceArm | None) -> str | None:
    """The evaluation problem of a workspace whose last ARM operation failed, or None."""
    state = (arm.provisioning_state or "") if arm is not None else ""
    if state.lower() in FAILED_PROVISIONING_STATES:
        return (f"provisioningState is {state}: the last ARM operation on the workspace did not complete, "
                "so its settings are not evaluated until one succeeds")
    return None
