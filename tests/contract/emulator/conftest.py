"""Fixtures for the estate emulator tests: a small realistic estate and a running server.

The seed and its well-known ids are in tests/support/seed.py (test modules read them from the `ids`
fixture or import that module, never this file).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from emulator.server import EmulatorServer
from tests.support.seed import (
    DIAG_ID,
    HOST,
    HOST2,
    NSG_ID,
    RG,
    SUB,
    SUB2,
    TENANT,
    VNET_ID,
    WS2_ID,
    WS_ID,
    BearerOverHttp,
    StaticToken,
    make_seed,
    workspace_doc,
)


@pytest.fixture
def seed() -> dict[str, Any]:
    return make_seed()


@pytest.fixture
def emulator(seed: dict[str, Any]) -> Iterator[EmulatorServer]:
    with EmulatorServer(copy.deepcopy(seed)) as server:
        yield server


@pytest.fixture
def arm_headers() -> dict[str, str]:
    return {"Authorization": "Bearer test"}


@pytest.fixture
def ids() -> SimpleNamespace:
    """The seed's well-known ids, so test modules never import conftest."""
    return SimpleNamespace(
        SUB=SUB,
        SUB2=SUB2,
        TENANT=TENANT,
        RG=RG,
        WS_ID=WS_ID,
        WS2_ID=WS2_ID,
        VNET_ID=VNET_ID,
        NSG_ID=NSG_ID,
        DIAG_ID=DIAG_ID,
        HOST=HOST,
        HOST2=HOST2,
    )


@pytest.fixture
def make_workspace_doc() -> Callable[..., dict[str, Any]]:
    return workspace_doc


@pytest.fixture
def arm_client() -> Callable[[EmulatorServer], Any]:
    """Build the real ResourceManagementClient against an emulator (static token over http)."""
    from azure.mgmt.resource.resources import ResourceManagementClient

    def _make(server: EmulatorServer) -> ResourceManagementClient:
        return ResourceManagementClient(StaticToken(), SUB, base_url=server.url, authentication_policy=BearerOverHttp())

    return _make


@pytest.fixture
def workspace_client() -> Callable[..., Any]:
    """Build the real databricks-sdk WorkspaceClient for one workspace served by an emulator."""
    from databricks.sdk import WorkspaceClient

    def _make(server: EmulatorServer, host: str = HOST, **kwargs: Any) -> WorkspaceClient:
        return WorkspaceClient(host=f"{server.url}/ws/{host}", token="x", auth_type="pat", **kwargs)

    return _make
