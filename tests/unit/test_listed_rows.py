"""Issue 14 §3: a sweep's listed row is used only when it is this sweep's intact, fresh row for the workspace
asked for (core/store/listed.py); anything else is a miss (the worker reads ARM), never a crash."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.store.listed import ENTITY_CHARS, ListedDocuments, ListedWorkspace, parse_row, valid_scan_id
from core.store.topology import NO_INDEX_ROW, IndexRow

SCAN = "0b7e6f1c-0000-4000-8000-000000000001"
WS = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Databricks/workspaces/dbw-1"
VNET = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet-1"
AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def row(network: list[dict[str, Any]] | None = None, **doc: Any) -> dict[str, Any]:
    entity = ListedDocuments._entity(SCAN, AT, ListedWorkspace(
        workspace={"id": WS, "type": "Microsoft.Databricks/workspaces", **doc},
        network=[{"id": VNET, "properties": {"subnets": []}}] if network is None else network))
    assert entity is not None
    return entity


def test_this_sweeps_fresh_row_is_used_case_insensitively() -> None:
    got = parse_row(row(), WS.upper(), SCAN, now=AT + timedelta(minutes=5), max_age_s=900)
    assert got is not None and got.workspace["id"] == WS and [d["id"] for d in got.network] == [VNET]


@pytest.mark.parametrize(("change", "scan_id", "age_s"), [
    ({}, "0b7e6f1c-0000-4000-8000-000000000002", 0),  # another sweep's row
    ({}, SCAN, 901),  # too old
    ({"workspace_id": WS.replace("dbw-1", "dbw-2")}, SCAN, 0),  # names another workspace
    ({"workspace": '{"id": "' + WS.replace("dbw-1", "dbw-2") + '"}'}, SCAN, 0),  # holds another document
    ({"workspace": '{"id": '}, SCAN, 0),  # truncated JSON
    ({"listed_at": "yesterday"}, SCAN, 0),  # no usable time
])
def test_a_row_that_cannot_stand_for_the_workspace_is_a_miss(change: dict[str, Any], scan_id: str, age_s: int) -> None:
    assert parse_row({**row(), **change}, WS, scan_id, now=AT + timedelta(seconds=age_s), max_age_s=900) is None


def test_a_damaged_compressed_row_is_a_miss() -> None:
    big = row(network=[{"id": f"{VNET}-{i}", "properties": {"n": i}} for i in range(3000)])
    assert "network_parts" in big  # large: compressed and split across columns
    assert parse_row(big, WS, SCAN, now=AT, max_age_s=900) is not None
    damaged = {**big, "network_z0": "!!" + big["network_z0"][2:]}
    assert parse_row(damaged, WS, SCAN, now=AT, max_age_s=900) is None


def test_rows_too_large_for_one_entity_leave_out_the_network_or_are_not_written() -> None:
    noise = random.Random(1).randbytes(400_000).hex()  # incompressible: ~550k characters once packed
    slim = row(network=[{"id": VNET, "blob": noise}])
    assert sum(len(v) for v in slim.values() if isinstance(v, str)) <= ENTITY_CHARS
    got = parse_row(slim, WS, SCAN, now=AT, max_age_s=900)
    assert got is not None and got.network == []  # the worker GETs its VNet and NSGs
    huge = ListedWorkspace(workspace={"id": WS, "tags": {"t": noise}})
    assert ListedDocuments._entity(SCAN, AT, huge) is None  # the worker reads the workspace from ARM


def test_only_sweep_ids_are_looked_up() -> None:
    assert valid_scan_id(SCAN)
    assert not any(valid_scan_id(x) for x in (None, "", "x' or 1 eq 1", "a" * 100, "../etc"))


def test_the_rows_subnet_sharing_round_trips_and_anything_unreadable_is_unknown_not_nobody() -> None:
    """A sweep row carries who shares the workspace's subnets (DBX-NET-006), so its worker makes no topology
    query; a row without it, or with one that is not a map of id lists, says "unknown" (None: the worker
    queries the topology), never "shared with nobody"."""
    subnet = f"{VNET}/subnets/host".lower()
    users = {subnet: [WS, WS.replace("dbw-1", "dbw-2")]}
    entity = ListedDocuments._entity(SCAN, AT, ListedWorkspace(workspace={"id": WS}, subnet_users=users))
    assert entity is not None
    got = parse_row(entity, WS, SCAN, now=AT, max_age_s=900)
    assert got is not None and got.subnet_users == users
    assert parse_row(row(), WS, SCAN, now=AT, max_age_s=900).subnet_users is None  # type: ignore[union-attr]
    for bad in ('{"' + subnet + '": "' + WS + '"}', '["x"]', '{"' + subnet + '": [1]}', '{"'):
        got = parse_row({**entity, "subnet_users": bad}, WS, SCAN, now=AT, max_age_s=900)
        assert got is not None and got.subnet_users is None, bad


def test_the_rows_copy_of_the_topology_index_round_trips_and_a_damaged_one_is_a_miss() -> None:
    """The copy of the workspace's topology index row (edges, ETag, last workspace-API read) lets its worker's
    save skip reading the row; anything else than a map of ids with a string (or no) ETag and an object (or
    no) read is a miss: the worker reads the row."""
    edges = {"k1": VNET, "k2": f"{VNET}/subnets/host"}
    for index in (IndexRow(edges, 'W/"datetime\'2026-12-01T12%3A00Z\'"', {"host": "adb-1.1.azuredatabricks.net", "needs": {}}),
                  IndexRow(edges, 'W/"datetime\'2026-12-01T12%3A00Z\'"'), NO_INDEX_ROW):
        entity = ListedDocuments._entity(SCAN, AT, ListedWorkspace(workspace={"id": WS}, topology_index=index))
        assert entity is not None
        got = parse_row(entity, WS, SCAN, now=AT, max_age_s=900)
        assert got is not None and got.topology_index == index
    assert parse_row(row(), WS, SCAN, now=AT, max_age_s=900).topology_index is None  # type: ignore[union-attr]
    for bad in ('{"edges": ["x"], "etag": null}', '{"edges": {}, "etag": 7}', '{"edges": {"k": 1}}', "[]", "{",
                '{"edges": {}, "etag": null, "workspace_api": ["adb-1.1.azuredatabricks.net"]}'):
        got = parse_row({**row(), "topology_index": bad}, WS, SCAN, now=AT, max_age_s=900)
        assert got is not None and got.topology_index is None, bad
