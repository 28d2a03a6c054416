"""Event Grid routing (ResourceWrite/Delete/Action): which workspaces a change affects."""

from core.events.model import ROUTING_SCHEMA, ResourceEvent, RoutingDecision
from core.events.route import EventParseError, parse_delivery, parse_event, route_delivery, route_event
from core.events.topology import Topology, TopologyLookup

__all__ = [
    "ROUTING_SCHEMA",
    "EventParseError",
    "ResourceEvent",
    "RoutingDecision",
    "Topology",
    "TopologyLookup",
    "parse_delivery",
    "parse_event",
    "route_delivery",
    "route_event",
]
