"""Issue 10 §8: the store works with the table-scoped roles infra/ grants, and findinghistory is append-only.

The app identity holds Storage Table Data Contributor on findings, scans and topology, and driftwatch's
"history appender" (query + insert, infra/modules/custom-roles.bicep, read from the template here) on
findinghistory; nothing on the account. tests/contract/store/rbac_proxy.py enforces exactly that in front of Azurite,
with Microsoft's operation -> data action mapping, and the store's runtime paths run through it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from core.store import StorageConnection, TableFindingsStore
from core.store.checkpoints import extend_checkpoints
from core.store.connection import HISTORY_TABLE, TABLES
from core.store.errors import StoreError
from core.store.scans import ScanLog
from tests.azurite import AzuriteProcess
from tests.contract.store.rbac_proxy import TABLE_DATA_CONTRIBUTOR, TableRbacProxy
from tests.support.store import T0, make_finding, reset_storage, ws_id

ROOT = Path(__file__).resolve().parents[3]
H = timedelta(hours=1)


def history_appender_actions() -> frozenset[str]:
    """The dataActions of the history appender role, as the Bicep defines them."""
    from pycep import BicepParser

    template = BicepParser().parse(file_path=ROOT / "infra/modules/custom-roles.bicep")
    config = template["resources"]["historyAppender"]["config"]
    (permissions,) = config["properties"]["permissions"]
    assert permissions["actions"] == []
    return frozenset(permissions["dataActions"])


def deployed_grants() -> dict[str, frozenset[str]]:
    grants = {t: TABLE_DATA_CONTRIBUTOR for t in TABLES if t != HISTORY_TABLE}
    grants[HISTORY_TABLE] = history_appender_actions()
    return grants


@pytest.fixture
def proxy(azurite: AzuriteProcess, connection: StorageConnection) -> Iterator[TableRbacProxy]:
    reset_storage(connection)  # the tables exist, as the deployment creates them
    with TableRbacProxy(azurite.table_port, deployed_grants()) as p:
        yield p


def test_the_store_runs_on_table_scoped_roles_and_only_inserts_history(proxy: TableRbacProxy,
                                                                        azurite: AzuriteProcess) -> None:
    conn = StorageConnection.from_connection_string(proxy.connection_string(azurite.connection_string))
    conn.ensure()  # Create Table is refused on findinghistory: the store must start anyway
    store = TableFindingsStore(conn)
    ws = ws_id("ws-rbac")
    a, b = make_finding(ws, "DBX-WS-001"), make_finding(ws, "DBX-WS-003")
    rules = frozenset({a.rule_id, b.rule_id})
    opened = store.reconcile([a, b], resource_id=ws, evaluated_rules=rules, now=T0, source="sweep",
                             checked_rules=rules, baseline_sha256="a" * 64)
    store.reconcile([a], resource_id=ws, evaluated_rules=rules, now=T0 + H, source="sweep",
                    checked_rules=rules, baseline_sha256="b" * 64)  # b resolves, coverage changes
    store.reconcile([a, b], resource_id=ws, evaluated_rules=rules, now=T0 + 2 * H, source="event",
                    checked_rules=frozenset({a.rule_id}), baseline_sha256="b" * 64,
                    coverage_scope=frozenset({a.rule_id}))  # b reopens; a partial scan's coverage
    store.undelivered(0)  # the re-driver rewrites history rows it already has: inserts that meet 409
    store.outbox_delivered(opened)
    store.resolve_workspace(ws, T0 + 3 * H, "sweep", reason="workspace deleted")
    assert extend_checkpoints(store, ws, T0 + 4 * H, every=1) >= 1  # history checkpoints are inserts too
    assert store.write_checkpoints() == 0  # nothing left to checkpoint before the undelivered transitions
    assert store.write_estate_snapshot() is not None and store.backfill_estate_index() == 0  # inserts too

    assert [t.transition for t in store.get(b.id)[1]] == ["opened", "resolved", "reopened", "resolved"]
    assert store.coverage()[ws.lower()]["baseline_sha256"] == "b" * 64
    assert {f.id for f in store.findings_as_of(T0 + H + timedelta(minutes=1))} == {a.id, b.id}
    assert len(store.changes(T0, T0 + 3 * H)) == 6
    # the other tables' runtime writes: notify lock and state, scan log, an import (entity group transaction)
    assert store.claim_notify_lock(ws, "worker-1", 30)
    store.mark_notified([a.id], T0 + 3 * H, resource_id=ws)
    assert store.release_notify_lock(ws, "worker-1")
    ScanLog(conn).record("scan-1", T0, T0 + H, "sweep", 1, [], "b" * 64)
    store.import_findings([make_finding(ws_id("ws-imported"), "DBX-WS-009")])

    denied = [(t, op) for t, op, ok in proxy.decisions if not ok]
    assert denied == [(HISTORY_TABLE, "Create Table")], denied
    on_history = {op for t, op, _ok in proxy.decisions if t == HISTORY_TABLE}
    assert on_history == {"Create Table", "Query Entities", "Insert Entity"}, on_history


def test_a_history_update_is_refused_by_the_role(proxy: TableRbacProxy, azurite: AzuriteProcess) -> None:
    """The proxy is no fiction: replacing or deleting a history row is refused, as Azure refuses it."""
    from azure.core.exceptions import HttpResponseError

    table = StorageConnection.from_connection_string(proxy.connection_string(azurite.connection_string)).table(
        HISTORY_TABLE)
    table.create_entity({"PartitionKey": "p", "RowKey": "r", "v": 1})
    for write in (lambda: table.upsert_entity({"PartitionKey": "p", "RowKey": "r", "v": 2}),
                  lambda: table.delete_entity("p", "r")):
        with pytest.raises(HttpResponseError) as caught:
            write()
        assert caught.value.status_code == 403 and caught.value.error_code == "AuthorizationPermissionMismatch"
    assert table.get_entity("p", "r")["v"] == 1


def test_ensure_still_fails_for_a_table_that_does_not_exist(proxy: TableRbacProxy, azurite: AzuriteProcess,
                                                            connection: StorageConnection) -> None:
    connection.table_service.delete_table(HISTORY_TABLE)
    conn = StorageConnection.from_connection_string(proxy.connection_string(azurite.connection_string))
    with pytest.raises(StoreError) as caught:
        conn.ensure()
    assert HISTORY_TABLE in str(caught.value)
