"""A proxy in front of Azurite's Table endpoint that enforces Azure RBAC data actions per table.

Azurite authorizes everything; Azure Storage checks each request against the caller's role on the table
(or the account). This proxy does that check for the Table operations, with the mapping Microsoft
documents in "Authorize with Microsoft Entra ID", *Permissions for Table service operations*
(learn.microsoft.com/rest/api/storageservices/authorize-with-azure-active-directory):

| operation | request | needs |
| --- | --- | --- |
| Query Tables | GET /Tables | tables/read on the account (no table-scoped role grants it) |
| Create Table | POST /Tables {"TableName"} | tables/write |
| Delete Table | DELETE /Tables('t') | tables/delete |
| Query Entities | GET /t() , /t(PartitionKey=..,RowKey=..) | entities/read |
| Insert Entity | POST /t | entities/write or entities/add/action |
| Insert Or Replace / Insert Or Merge | PUT / MERGE / PATCH /t(..) without If-Match | entities/write or (add/action and update/action) |
| Update / Merge Entity | PUT / MERGE / PATCH /t(..) with If-Match | entities/write or entities/update/action |
| Delete Entity | DELETE /t(..) | entities/delete |
| Entity Group Transaction | POST /$batch | each sub-operation, authorized separately |

A denied request gets what Azure answers: 403 with error code `AuthorizationPermissionMismatch` ("This
request is not authorized to perform this operation using this permission.", Azure Storage common error
codes). Create Table is checked at the table it names: whether Azure evaluates it there or at the account
is not documented, and code that needs it at runtime must cope with a 403 either way.
Every decision is recorded in `decisions` as (table, operation, allowed).
"""

from __future__ import annotations

import http.client
import json
import re
import threading
from collections.abc import Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

TABLES_PREFIX = "Microsoft.Storage/storageAccounts/tableServices/tables"
ENTITIES = f"{TABLES_PREFIX}/entities"
ACCOUNT = "*account*"

# Built-in "Storage Table Data Contributor" (0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3), Microsoft Learn
# built-in roles > Storage: actions tables/read, write, delete; dataActions entities/read, write, delete,
# add/action, update/action.
TABLE_DATA_CONTRIBUTOR = frozenset({
    f"{TABLES_PREFIX}/read", f"{TABLES_PREFIX}/write", f"{TABLES_PREFIX}/delete",
    f"{ENTITIES}/read", f"{ENTITIES}/write", f"{ENTITIES}/delete", f"{ENTITIES}/add/action",
    f"{ENTITIES}/update/action",
})

_WRITE, _ADD, _UPDATE = f"{ENTITIES}/write", f"{ENTITIES}/add/action", f"{ENTITIES}/update/action"
_UPSERT = [{_WRITE}, {_ADD, _UPDATE}]
_SUB_REQUEST = re.compile(r"^(GET|POST|PUT|MERGE|PATCH|DELETE) (\S+) HTTP/1\.1\r?$", re.M)


def operation(method: str, resource: str, if_match: bool, body: bytes) -> tuple[str, str, list[set[str]]]:
    """(table, operation name, alternatives of required actions) for one Table request on `resource`
    (the path after the account, e.g. `findings(PartitionKey='a',RowKey='b')`)."""
    name, _, keys = resource.partition("(")
    if name == "Tables":
        if method == "POST":
            return json.loads(body or b"{}").get("TableName", "?"), "Create Table", [{f"{TABLES_PREFIX}/write"}]
        if method == "DELETE":
            return unquote(keys).strip("')"), "Delete Table", [{f"{TABLES_PREFIX}/delete"}]
        return ACCOUNT, "Query Tables", [{f"{TABLES_PREFIX}/read"}]
    if method == "GET":
        return name, "Query Entities", [{f"{ENTITIES}/read"}]
    if method == "POST":
        return name, "Insert Entity", [{_WRITE}, {_ADD}]
    if method in ("PUT", "MERGE", "PATCH"):
        if if_match:
            return name, "Update Entity", [{_WRITE}, {_UPDATE}]
        return name, "Insert Or Replace Entity" if method == "PUT" else "Insert Or Merge Entity", _UPSERT
    if method == "DELETE":
        return name, "Delete Entity", [{f"{ENTITIES}/delete"}]
    raise ValueError(f"unmodelled Table request {method} {resource}")


def batch_operations(body: bytes, account: str) -> list[tuple[str, str, list[set[str]]]]:
    """The sub-operations of an entity group transaction (multipart/mixed changesets)."""
    text = body.decode("utf-8", "replace")
    ops = []
    for match in _SUB_REQUEST.finditer(text):
        method, url = match.groups()
        headers = text[match.end():].split("\r\n\r\n", 1)[0]
        resource = urlsplit(url).path.split(f"/{account}/", 1)[-1]
        ops.append(operation(method, resource, "if-match:" in headers.lower(), b""))
    return ops


class TableRbacProxy:
    """`with TableRbacProxy(azurite_table_port, grants) as proxy:` then use `proxy.connection_string(cs)`."""

    def __init__(self, target_port: int, grants: Mapping[str, frozenset[str]], account: str = "devstoreaccount1"):
        self.target_port = target_port
        self.grants = {k.lower(): set(v) for k, v in grants.items()}
        self.account = account
        self.decisions: list[tuple[str, str, bool]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def connection_string(self, azurite_connection_string: str) -> str:
        """The Azurite connection string with its Table endpoint pointing at this proxy."""
        return re.sub(r"TableEndpoint=http://127\.0\.0\.1:\d+/", f"TableEndpoint=http://127.0.0.1:{self.port}/",
                      azurite_connection_string)

    def __enter__(self) -> TableRbacProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def allowed(self, table: str, alternatives: Sequence[set[str]]) -> bool:
        held = self.grants.get(table.lower(), set())
        return any(need <= held for need in alternatives)

    def _decide(self, ops: list[tuple[str, str, list[set[str]]]]) -> bool:
        verdicts = [(t, name, self.allowed(t, alts)) for t, name, alts in ops]
        with self._lock:
            self.decisions += verdicts
        return all(ok for _t, _n, ok in verdicts)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = urlsplit(self.path).path
                resource = path.split(f"/{proxy.account}/", 1)[-1]
                if resource == "$batch":
                    ops = batch_operations(body, proxy.account)
                else:
                    ops = [operation(self.command, resource, "If-Match" in self.headers, body)]
                if not proxy._decide(ops):
                    self._deny()
                    return
                conn = http.client.HTTPConnection("127.0.0.1", proxy.target_port, timeout=30)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                    conn.request(self.command, self.path, body=body or None, headers=headers)
                    reply = conn.getresponse()
                    data = reply.read()
                    self.send_response(reply.status, reply.reason)
                    for key, value in reply.getheaders():
                        if key.lower() not in ("transfer-encoding", "content-length", "connection"):
                            self.send_header(key, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                finally:
                    conn.close()

            def _deny(self) -> None:
                data = json.dumps({"odata.error": {"code": "AuthorizationPermissionMismatch", "message": {
                    "lang": "en-US",
                    "value": "This request is not authorized to perform this operation using this permission."}}}
                                  ).encode()
                self.send_response(403, "This request is not authorized to perform this operation using this "
                                        "permission.")
                self.send_header("x-ms-error-code", "AuthorizationPermissionMismatch")
                self.send_header("Content-Type", "application/json;odata=minimalmetadata")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_MERGE = do_PATCH = do_DELETE = _serve

        return Handler
