"""The emulator's Databricks audit records for workspace-API writes (emulator/audit.py).

Shapes follow Microsoft Learn "Diagnostic logging in Azure Databricks" (schema and sample) and the
Event Hubs form of Azure resource logs (`{"records": [...]}`, nested JSON as strings); action names
follow Databricks' "Audit log reference" (accounts.createIpAccessList / updateIpAccessList /
deleteIpAccessList / revokeDbToken, workspace.workspaceConfEdit with workspaceConfKeys/Values).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

from emulator.server import EmulatorServer
from tests.support.seed import HOST, WS_ID, make_seed

HEADERS = {"Authorization": "Bearer x", "X-Emulator-User": "jane@contoso.com", "X-Forwarded-For": "203.0.113.9"}


class Sink:
    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                outer.bodies.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/audit"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_writes_emit_records_to_the_audit_target_and_reads_emit_none() -> None:
    sink = Sink()
    try:
        with EmulatorServer(make_seed(), audit_target=sink.url) as emu:
            base = f"{emu.url}/ws/{HOST}/api/2.0"
            assert requests.get(f"{base}/ip-access-lists", headers=HEADERS, timeout=5).status_code == 200
            created = requests.post(f"{base}/ip-access-lists", headers=HEADERS, timeout=5,
                                    json={"label": "vpn", "list_type": "ALLOW", "ip_addresses": ["198.51.100.0/24"]})
            list_id = created.json()["ip_access_list"]["list_id"]
            requests.patch(f"{base}/ip-access-lists/{list_id}", headers=HEADERS, json={"enabled": False}, timeout=5)
            requests.delete(f"{base}/ip-access-lists/{list_id}", headers=HEADERS, timeout=5)
            requests.patch(f"{base}/workspace-conf", headers=HEADERS, timeout=5,
                           json={"enableIpAccessLists": "false", "maxTokenLifetimeDays": "30"})
            deadline = time.monotonic() + 5
            while len(sink.bodies) < 4 and time.monotonic() < deadline:
                time.sleep(0.05)
            records = emu.audit_records()
            assert all(d["status"] == "delivered" for d in emu.audit_deliveries())
    finally:
        sink.server.shutdown()
    names = [(r["properties"]["serviceName"], r["properties"]["actionName"]) for r in records]
    assert names == [("accounts", "createIpAccessList"), ("accounts", "updateIpAccessList"),
                     ("accounts", "deleteIpAccessList"), ("workspace", "workspaceConfEdit"),
                     ("workspace", "workspaceConfEdit")]
    delivered = [r for b in sink.bodies for r in json.loads(b)["records"]]
    assert sorted(r["properties"]["logId"] for r in delivered) == sorted(r["properties"]["logId"] for r in records)
    conf = [json.loads(r["properties"]["requestParams"]) for r in records[3:]]
    assert conf == [{"workspaceConfKeys": "enableIpAccessLists", "workspaceConfValues": "false"},
                    {"workspaceConfKeys": "maxTokenLifetimeDays", "workspaceConfValues": "30"}]
    first = records[0]
    assert first["resourceId"] == WS_ID.upper() and first["operationName"] == "Microsoft.Databricks/accounts/createIpAccessList"
    assert first["category"] == "accounts" and first["operationVersion"] == "1.0.0"
    assert json.loads(first["identity"]) == {"email": "jane@contoso.com", "subjectName": None}
    assert json.loads(first["properties"]["response"]) == {"statusCode": 200}
    assert "198.51.100.0/24" not in json.dumps(records)  # request values beyond names are not logged here


def test_without_a_target_records_are_kept_and_not_sent() -> None:
    with EmulatorServer(make_seed()) as emu:
        requests.patch(f"{emu.url}/ws/{HOST}/api/2.0/workspace-conf", headers=HEADERS,
                       json={"enableIpAccessLists": "true"}, timeout=5)
        assert [d["status"] for d in emu.audit_deliveries()] == ["not_sent"]
        assert requests.get(f"{emu.url}/_emulator/audit", timeout=5).json()["records"][0]["properties"][
            "actionName"] == "workspaceConfEdit"
