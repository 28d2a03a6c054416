"""The only module that talks to Table Storage and queues (ARCHITECTURE 4.6).

Importing this package does not import the Azure SDKs; they load on first use.
"""

from core.findings.transition import Transition
from core.store.connection import (
    DRIFT_FINDINGS_QUEUE,
    FINDINGS_TABLE,
    HISTORY_TABLE,
    SCAN_REQUESTS_QUEUE,
    SCANS_TABLE,
    TOPOLOGY_TABLE,
    StorageConnection,
)
from core.store.errors import FindingNotFound, InvalidContinuation, InvalidQuery, StoreError
from core.store.findings import TableFindingsStore
from core.store.keys import resource_key
from core.store.queues import QueueBus
from core.store.scans import ScanLog
from core.store.topology import TopologyStore
from core.terms import TRANSITION_SCHEMA

__all__ = [
    "DRIFT_FINDINGS_QUEUE",
    "FINDINGS_TABLE",
    "HISTORY_TABLE",
    "SCANS_TABLE",
    "SCAN_REQUESTS_QUEUE",
    "TOPOLOGY_TABLE",
    "TRANSITION_SCHEMA",
    "FindingNotFound",
    "InvalidContinuation",
    "InvalidQuery",
    "QueueBus",
    "ScanLog",
    "StorageConnection",
    "StoreError",
    "TableFindingsStore",
    "TopologyStore",
    "Transition",
    "resource_key",
]
