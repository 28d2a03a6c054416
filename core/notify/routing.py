"""Which Teams channel a workspace's digest goes to (pure: no I/O).

The baseline's `notifications.routes` is an ordered list of `{match, min_severity, webhook}`; the first
route whose `match` fits the workspace wins. `webhook` names an app setting (`TEAMS_WEBHOOK_URL` or
`TEAMS_WEBHOOK_URL_<NAME>`) that holds the Workflows webhook URL, so a baseline never contains a
secret. Without a matching route the default applies: `TEAMS_WEBHOOK_URL` at
`DRIFTWATCH_NOTIFY_MIN_SEVERITY`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from core.baseline.model import NotificationRoute
from core.settings import TEAMS_WEBHOOK_URL


@dataclass(frozen=True)
class WorkspacePlace:
    """What a route's `match` looks at. `tags` is None when they are not known (not read yet)."""

    resource_id: str
    name: str
    subscription_id: str
    resource_group: str
    tags: Mapping[str, str] | None = None

    @classmethod
    def from_resource_id(cls, resource_id: str, name: str | None = None,
                         tags: Mapping[str, str] | None = None) -> WorkspacePlace:
        parts = resource_id.strip("/").split("/")
        sub = parts[1] if len(parts) > 1 and parts[0].lower() == "subscriptions" else ""
        rg = parts[3] if len(parts) > 3 and parts[2].lower() == "resourcegroups" else ""
        return cls(resource_id, name or parts[-1], sub, rg, tags)


@dataclass(frozen=True)
class Route:
    """The chosen channel: the app setting naming its webhook and the lowest severity posted."""

    webhook_setting: str
    min_severity: str
    index: int | None = None
    """Position in `notifications.routes`; None for the default route."""

    @property
    def label(self) -> str:
        """How logs and errors name the route (never the URL)."""
        where = "default route" if self.index is None else f"notifications.routes[{self.index}]"
        return f"{where} ({self.webhook_setting})"


class TagsNeeded(Exception):
    """A route before the decision matches on tags and the workspace's tags are not known."""


def needs_tags(routes: Sequence[NotificationRoute], place: WorkspacePlace) -> bool:
    """True when deciding needs the tags: some route that could match on everything else uses tags."""
    try:
        choose_route(routes, place, "info")
    except TagsNeeded:
        return True
    return False


def choose_route(routes: Sequence[NotificationRoute], place: WorkspacePlace, default_min_severity: str) -> Route:
    """The first route matching `place`, else the default. Raises TagsNeeded when tags decide it."""
    for i, r in enumerate(routes):
        m = r.match
        others = m.model_copy(update={"tags": {}})
        if not others.matches(subscription_id=place.subscription_id, resource_group=place.resource_group,
                              name=place.name, tags={}):
            continue
        if m.tags:
            if place.tags is None:
                raise TagsNeeded(f"notifications.routes[{i}] matches on tags")
            if not m.matches(subscription_id=place.subscription_id, resource_group=place.resource_group,
                             name=place.name, tags=place.tags):
                continue
        return Route(r.webhook, r.min_severity or default_min_severity, i)
    return Route(TEAMS_WEBHOOK_URL, default_min_severity, None)
