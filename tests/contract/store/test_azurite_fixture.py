"""The Azurite helper itself: restart on the same ports; persistent mode keeps data across a restart."""

from __future__ import annotations

import pytest

from core.store import StoreError, TableFindingsStore
from tests.azurite import AzuriteProcess
from tests.support.store import T0, make_finding, ws_id

pytestmark = pytest.mark.integration


def test_persistent_restart_keeps_data_and_outage_is_store_error() -> None:
    ws = ws_id("ws-restart")
    with AzuriteProcess(persistent=True) as az:
        ports = (az.blob_port, az.queue_port, az.table_port)
        store = TableFindingsStore.from_connection_string(az.connection_string, retry_total=0)
        store.connection.ensure()
        store.reconcile([make_finding(ws)], resource_id=ws, evaluated_rules=frozenset({"DBX-WS-001"}), now=T0,
                        source="sweep")
        pid = az.pid
        az.stop()
        assert not az.running
        with pytest.raises(StoreError):
            store.query()
        az.start()
        assert az.pid != pid and (az.blob_port, az.queue_port, az.table_port) == ports
        assert [f.workspace_name for f in store.query()[0]] == ["ws-restart"]
