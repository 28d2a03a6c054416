"""Observed state: WorkspaceState and the parsers that build it from raw payloads (no I/O)."""

from core.state.estate import ESTATE_SCHEMA, Estate, SnapshotError, load_estate, parse_estate
from core.state.model import CollectionError, WorkspaceApiState, WorkspaceState
from core.state.parse import StateError, build_workspace_state, parse_workspace_api

__all__ = [
    "ESTATE_SCHEMA",
    "CollectionError",
    "Estate",
    "SnapshotError",
    "StateError",
    "WorkspaceApiState",
    "WorkspaceState",
    "build_workspace_state",
    "load_estate",
    "parse_estate",
    "parse_workspace_api",
]
