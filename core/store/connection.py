"""How driftwatch reaches its storage account: connection string (Azurite/dev) or managed identity.

SDK imports are lazy so that importing the Functions app stays cheap on cold start.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any

from core.store.errors import StoreError, to_store_error

if TYPE_CHECKING:
    from azure.data.tables import TableClient, TableServiceClient
    from azure.storage.queue import QueueClient, QueueServiceClient

    from core.settings import Settings

FINDINGS_TABLE = "findings"
HISTORY_TABLE = "findinghistory"
SCANS_TABLE = "scans"
TOPOLOGY_TABLE = "topology"
TABLES = (FINDINGS_TABLE, HISTORY_TABLE, SCANS_TABLE, TOPOLOGY_TABLE)
SCAN_REQUESTS_QUEUE = "scan-requests"
DRIFT_FINDINGS_QUEUE = "drift-findings"
QUEUES = (SCAN_REQUESTS_QUEUE, DRIFT_FINDINGS_QUEUE)


@contextmanager
def storage_call(operation: str, table: str) -> Iterator[None]:
    """Turn any Azure SDK/transport failure into StoreError (no URLs, no keys)."""
    from azure.core.exceptions import AzureError

    try:
        yield
    except AzureError as exc:
        raise to_store_error(exc, operation, table) from None


@contextmanager
def _connecting(table: str) -> Iterator[None]:
    """Client construction: a malformed connection string must not echo itself in the error."""
    try:
        with storage_call("connect", table):
            yield
    except (ValueError, TypeError):  # azure-data-tables raises TypeError for an unparseable endpoint
        raise StoreError("connect", table, "malformed storage connection string") from None


class StorageConnection:
    """Table and queue service clients for one storage account, built once and shared."""

    def __init__(self, *, connection_string: str | None = None, account_name: str | None = None,
                 client_id: str | None = None, credential: Any = None,
                 client_options: Mapping[str, Any] | None = None) -> None:
        """`client_options` go to every SDK client (e.g. `retry_total=0` to fail fast in tests/tools)."""
        if not connection_string and not account_name:
            raise StoreError("connect", "*", "no storage configured (set AzureWebJobsStorage or "
                             "AzureWebJobsStorage__accountName)")
        self._connection_string = connection_string
        self._account_name = account_name
        self._client_id = client_id
        self._credential = credential
        self._options = dict(client_options or {})
        self._lock = threading.Lock()
        self._tables: TableServiceClient | None = None
        self._table_clients: dict[str, TableClient] = {}
        self._queues: QueueServiceClient | None = None

    def __repr__(self) -> str:  # never show the connection string
        where = f"account={self._account_name}" if self._account_name else "connection-string"
        return f"StorageConnection({where})"

    @classmethod
    def from_settings(cls, settings: Settings, **client_options: Any) -> StorageConnection:
        """Connection string when `AzureWebJobsStorage` is set, else identity-based (`__accountName`)."""
        if settings.storage:
            return cls(connection_string=settings.storage, client_options=client_options)
        return cls(account_name=settings.storage_account_name, client_id=settings.storage_client_id,
                   client_options=client_options)

    @classmethod
    def from_connection_string(cls, connection_string: str, **client_options: Any) -> StorageConnection:
        return cls(connection_string=connection_string, client_options=client_options)

    def _identity(self) -> Any:
        if self._credential is None:
            if self._client_id:
                from azure.identity import ManagedIdentityCredential

                self._credential = ManagedIdentityCredential(client_id=self._client_id)
            else:
                from azure.identity import DefaultAzureCredential

                self._credential = DefaultAzureCredential()
        return self._credential

    @property
    def table_service(self) -> TableServiceClient:
        with self._lock:
            if self._tables is None:
                from azure.data.tables import TableServiceClient

                with _connecting("tables"):
                    if self._connection_string:
                        self._tables = TableServiceClient.from_connection_string(self._connection_string,
                                                                                  **self._options)
                    else:
                        self._tables = TableServiceClient(
                            endpoint=f"https://{self._account_name}.table.core.windows.net",
                            credential=self._identity(), **self._options)
                # Every table client now, before any request: `get_table_client` re-links the service's
                # shared pipeline policies, which breaks a request another thread has in flight
                # (AttributeError '_SansIOHTTPPolicyRunner' ... 'next').
                self._table_clients = {name: self._tables.get_table_client(name) for name in TABLES}
            return self._tables

    @property
    def queue_service(self) -> QueueServiceClient:
        with self._lock:
            if self._queues is None:
                from azure.storage.queue import QueueServiceClient

                with _connecting("queues"):
                    if self._connection_string:
                        self._queues = QueueServiceClient.from_connection_string(self._connection_string,
                                                                                  **self._options)
                    else:
                        self._queues = QueueServiceClient(
                            account_url=f"https://{self._account_name}.queue.core.windows.net",
                            credential=self._identity(), **self._options)
            return self._queues

    def table(self, name: str) -> TableClient:
        """The connection's one client for `name` (thread-safe; built with the service)."""
        svc = self.table_service
        with self._lock:
            if name not in self._table_clients:
                self._table_clients[name] = svc.get_table_client(name)
            return self._table_clients[name]

    def queue(self, name: str) -> QueueClient:
        """A queue client speaking base64 text, as the Functions host expects."""
        from azure.storage.queue import TextBase64DecodePolicy, TextBase64EncodePolicy

        return self.queue_service.get_queue_client(
            name, message_encode_policy=TextBase64EncodePolicy(), message_decode_policy=TextBase64DecodePolicy())

    def ensure(self) -> None:
        """Create the tables and queues if missing (idempotent; safe to race with other instances)."""
        from azure.core.exceptions import HttpResponseError, ResourceExistsError

        for name in TABLES:
            with storage_call("create table", name):
                try:
                    self.table_service.create_table_if_not_exists(name)
                except HttpResponseError as exc:
                    if exc.status_code != 403:
                        raise
                    # Deployed, the identity's roles sit on each table and may not include Create Table
                    # (findinghistory's is insert-only): the deployment created the table. One query in it
                    # proves it is there and readable; a missing table still fails (404), naming it.
                    next(iter(self.table(name).query_entities(
                        "PartitionKey eq @pk", parameters={"pk": "~ensure"}, results_per_page=1)), None)
        for qname in QUEUES:
            with storage_call("create queue", qname), suppress(ResourceExistsError):
                self.queue(qname).create_queue()


class TableBound:
    """Base for the small stores that each use one table: the client is built on first use."""

    table_name: str

    def __init__(self, connection: StorageConnection) -> None:
        self.connection = connection
        self._table: TableClient | None = None

    @property
    def table(self) -> TableClient:
        if self._table is None:
            self._table = self.connection.table(self.table_name)
        return self._table
