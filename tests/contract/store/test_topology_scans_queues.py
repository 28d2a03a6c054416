"""Topology edges, the scan log and the queues (base64 JSON messages)."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from azure.data.tables import UpdateMode

from core.settings import load_settings
from core.state.footprint import NetworkFootprint
from core.store import QueueBus, ScanLog, StorageConnection, StoreError, TableFindingsStore, TopologyStore
from core.store.keys import resource_key
from core.store.topology import NO_INDEX_ROW
from tests.support.spies import record_calls
from tests.support.store import SUB, T0, make_finding, ws_id

pytestmark = pytest.mark.integration

VNET = f"/subscriptions/{SUB}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet-a"
SNET = VNET + "/subnets/snet-host"
NSG = f"/subscriptions/{SUB}/resourceGroups/rg-net/providers/Microsoft.Network/networkSecurityGroups/nsg"


def _fp(*, nsgs: tuple[str, ...] = (), observed: bool = True, subnets: tuple[str, ...] = (SNET,)) -> NetworkFootprint:
    return NetworkFootprint(vnet_id=VNET, subnet_ids=subnets, nsg_ids=nsgs, nsgs_observed=observed)


def test_topology_save_replace_load_remove(store: TableFindingsStore) -> None:
    topo = TopologyStore(store.connection)
    a, b = ws_id("ws-a"), ws_id("ws-b")
    topo.save_workspace(a, _fp(nsgs=(NSG,)))
    topo.save_workspace(b, _fp(subnets=()))
    assert topo.workspaces_for(VNET.upper()) == [a, b]
    topo.save_workspace(a, _fp())  # an observation: the NSG was detached from the subnet
    assert topo.workspaces_for(NSG) == []
    loaded = topo.load()
    assert loaded.workspaces_for(SNET) == [a] and loaded.workspaces_for(VNET) == [a, b]
    topo.remove_workspace(a)  # the workspace was deleted
    assert topo.workspaces_for(VNET) == [b] and topo.workspaces_for(SNET) == []


def test_topology_keeps_nsg_edges_when_nsgs_were_not_observed(store: TableFindingsStore) -> None:
    """A sweep (or a scan whose VNet read failed) saw only the workspace document: NSG edges stay."""
    topo = TopologyStore(store.connection)
    a = ws_id("ws-a")
    topo.save_workspace(a, _fp(nsgs=(NSG,)))
    topo.save_workspace(a, _fp(observed=False))
    assert topo.workspaces_for(NSG) == [a]
    other = SNET.replace("snet-host", "snet-new")
    topo.save_workspace(a, _fp(observed=False, subnets=(other,)))  # the document itself re-pointed the subnet
    assert topo.workspaces_for(other) == [a] and topo.workspaces_for(SNET) == [] and topo.workspaces_for(NSG) == [a]
    assert topo.edges_of(a) == sorted([VNET, other, NSG], key=str.lower)


def test_topology_concurrent_saves_lose_no_edge(store: TableFindingsStore) -> None:
    """A sweep and a worker saving the same workspace at once: the ETag-guarded index merges both."""
    from concurrent.futures import ThreadPoolExecutor

    topo = TopologyStore(store.connection)
    a = ws_id("ws-a")
    nsg2 = NSG + "-2"
    topo.save_workspace(a, _fp(nsgs=(NSG,)))
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda i: topo.save_workspace(a, _fp(observed=False) if i % 2 else _fp(nsgs=(NSG, nsg2))),
                      range(16)))
    assert topo.workspaces_for(NSG) == [a] and topo.workspaces_for(nsg2) == [a]
    assert set(topo.edges_of(a)) == {VNET, SNET, NSG, nsg2}


def test_scan_log(store: TableFindingsStore) -> None:
    log = ScanLog(store.connection)
    errs = [{"resource_id": ws_id(), "stage": "workspace_api", "message": "timeout"}]
    skipped = [{"resource_id": f"/subscriptions/{SUB}", "reason": "subscription is Disabled"}]
    log.record("scan-1", T0, T0 + timedelta(seconds=5), "sweep", 12, errs, "a" * 64, skipped=skipped)
    got = log.get("scan-1", T0)
    assert got is not None and got["workspaces"] == 12 and got["errors"] == errs and got["kind"] == "sweep"
    assert got["skipped"] == skipped


def test_queues_base64_json(store: TableFindingsStore) -> None:
    bus = QueueBus(store.connection)
    bus.send_scan_request({"resource_id": ws_id(), "reason": "event"})
    [t] = store.reconcile([make_finding(ws_id())], resource_id=ws_id(), evaluated_rules=frozenset({"DBX-WS-001"}),
                          now=T0, source="sweep")
    bus.send_transition(t)
    # Read raw (no decode policy): the Functions host sees base64 text.
    raw_scan = store.connection.queue_service.get_queue_client("scan-requests").receive_message()
    assert raw_scan is not None
    assert json.loads(base64.b64decode(raw_scan.content)) == {"resource_id": ws_id(), "reason": "event"}
    msg = bus.drift_findings.receive_message()
    assert msg is not None
    doc = json.loads(msg.content)
    assert doc["schema"] == "driftwatch.transition/v1" and doc["transition"] == "opened"
    assert doc["finding"]["id"] == t.finding.id


def test_from_settings_connection_string_and_identity(azurite) -> None:
    conn = StorageConnection.from_settings(load_settings({"AzureWebJobsStorage": azurite.connection_string}))
    conn.ensure()
    conn.ensure()  # idempotent
    assert "AccountKey" not in repr(conn)
    ident = StorageConnection.from_settings(load_settings({"AzureWebJobsStorage__accountName": "acct",
                                                           "AzureWebJobsStorage__clientId": "cid"}))
    assert ident.table_service.url.startswith("https://acct.table.core.windows.net")
    assert ident.queue_service.url.startswith("https://acct.queue.core.windows.net")
    with pytest.raises(StoreError, match="no storage configured"):
        StorageConnection.from_settings(load_settings({}))


def test_storage_down_raises_store_error_without_secrets() -> None:
    from tests.azurite import ACCOUNT_KEY, free_port

    port = free_port()
    cs = (f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={ACCOUNT_KEY};"
          f"TableEndpoint=http://127.0.0.1:{port}/devstoreaccount1;QueueEndpoint=http://127.0.0.1:{port}/devstoreaccount1;")
    store = TableFindingsStore.from_connection_string(cs, retry_total=0)
    with pytest.raises(StoreError) as info:
        store.query(status="open")
    text = str(info.value)
    assert ACCOUNT_KEY not in text and "AccountKey" not in text and str(port) not in text
    assert info.value.table == "findings"


def test_a_save_from_the_sweeps_copy_of_the_index_row_reads_nothing_and_an_old_copy_loses_no_edge(
        store: TableFindingsStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sweep hands each worker the workspace's index row with its ETag (`snapshot`); the worker's save starts
    from it instead of reading the row. Unchanged: no read and no write. An old copy never loses an edge:
    when the observation needs a change, the ETag-checked write fails and the row is read again; when the
    copy already matches the observation, nothing is written and an edge added since stays."""
    topo = TopologyStore(store.connection)
    a, b = ws_id("ws-a"), ws_id("ws-b")
    topo.save_workspace(a, _fp(nsgs=(NSG,)))
    topo.save_workspace(b, _fp())
    edges, index = topo.snapshot()
    assert edges.workspaces_for(SNET) == sorted([a, b], key=str.lower)
    copy_of_a = index[a.lower()]
    reads = record_calls(monkeypatch, TopologyStore, "_index_row")
    topo.save_workspace(a, _fp(nsgs=(NSG,)), known=copy_of_a)
    assert reads == [] and index == topo.snapshot()[1]  # same edges, same ETag: nothing was written
    nsg2, nsg3 = NSG + "-2", NSG + "-3"
    topo.save_workspace(a, _fp(nsgs=(NSG, nsg2)))  # someone saved after the copy was taken
    reads.clear()
    topo.save_workspace(a, _fp(nsgs=(NSG,)), known=copy_of_a)  # the copy matches this observation
    assert reads == [] and topo.workspaces_for(nsg2) == [a]  # nothing written: the newer edge stays
    topo.save_workspace(a, _fp(nsgs=(nsg3,)), known=copy_of_a)  # a change: the old ETag loses, re-read
    assert reads == [a]
    assert set(topo.edges_of(a)) == {VNET, SNET, nsg3} and topo.workspaces_for(nsg3) == [a]
    unknown_ws = ws_id("ws-new")
    topo.save_workspace(unknown_ws, _fp(), known=NO_INDEX_ROW)  # "no row yet", as the sweep saw it
    assert set(topo.edges_of(unknown_ws)) == {VNET, SNET}


def test_the_index_row_keeps_the_last_workspace_api_read_written_only_when_it_changes(
        store: TableFindingsStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """The index row keeps how the last full scan read the workspace API (host and calls: an event-driven
    scan starts the same reads beside its ARM GET). The same read again writes nothing (same ETag); a save
    without one (a scan that did not read the API) keeps the recorded one; a changed one is written, the
    edges kept; the sweep's `snapshot` carries it too; a damaged column reads as none."""
    topo = TopologyStore(store.connection)
    a = ws_id("ws-api")
    read = {"host": "adb-1111111111111111.11.azuredatabricks.net", "needs": {"conf_keys": ("a", "b"), "tokens": True}}
    moved = {**read, "host": "adb-1111111111111111.12.azuredatabricks.net"}
    topo.save_workspace(a, _fp(nsgs=(NSG,)), workspace_api=read)
    first = topo.index_row(a)
    assert first.workspace_api == {**read, "needs": {"conf_keys": ["a", "b"], "tokens": True}}  # as JSON has it
    assert set(first.edges.values()) == {VNET, SNET, NSG}
    topo.save_workspace(a, _fp(nsgs=(NSG,)), workspace_api=read)
    topo.save_workspace(a, _fp(nsgs=(NSG,)))
    assert topo.index_row(a) == first  # nothing written: same ETag, the read kept
    assert topo.snapshot()[1][a.lower()] == first
    topo.save_workspace(a, _fp(nsgs=(NSG,)), known=first, workspace_api=moved)
    again = topo.index_row(a)
    assert again.workspace_api is not None and again.workspace_api["host"] == moved["host"] and again.edges == first.edges and again.etag != first.etag
    entity = topo.table.get_entity(f"ws-{resource_key(a)}", "edges")
    topo.table.update_entity({**entity, "workspace_api": "{not json"}, mode=UpdateMode.REPLACE)
    damaged = topo.index_row(a)
    assert damaged.workspace_api is None and damaged.edges == first.edges
