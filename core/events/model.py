"""Event models: the normalised resource event and the routing decision (driftwatch.routing/v1)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from core.findings.model import ChangeAttribution

ROUTING_SCHEMA = "driftwatch.routing/v1"
Action = Literal["scan", "resolve", "ignore", "reject"]


class ResourceEvent(BaseModel):
    """An Azure Resource Manager event from either wire schema, reduced to what routing needs."""

    model_config = ConfigDict(frozen=True)

    id: str
    event_type: str
    subject: str
    event_time: str | None = None
    operation_name: str | None = None
    resource_uri: str | None = None
    status: str | None = None
    subscription_id: str | None = None
    wire_schema: Literal["eventgrid", "cloudevents"]
    attribution: ChangeAttribution | None = None
    """Who/where from `data.claims`, `data.httpRequest` and `data.authorization` (names and addresses only)."""

    @property
    def resource_id(self) -> str:
        return self.resource_uri or self.subject


class RoutingDecision(BaseModel):
    model_config = ConfigDict(frozen=True)

    event_id: str | None
    action: Action
    workspaces: list[str]
    reason: str
    event_time: str | None = None
    resource_id: str | None = None
    attribution: ChangeAttribution | None = None
    attribution_families: list[str] | None = None
    """The rule families this change can explain (its findings get `changed_by`...); None = any."""

    def contract_dict(self) -> dict[str, object]:
        """The fields ARCHITECTURE 4.1 names for `driftwatch route-event`."""
        return {"event_id": self.event_id, "action": self.action, "workspaces": self.workspaces,
                "reason": self.reason}
