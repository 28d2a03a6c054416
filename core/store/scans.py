"""A log of scans in the `scans` table: when, what kind, how many workspaces, which errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from core.store.connection import SCANS_TABLE, TableBound, storage_call
from core.store.keys import get_json, put_json, utc

if TYPE_CHECKING:
    pass


class ScanLog(TableBound):
    """PartitionKey = `scan-YYYYMMDD` of the start (keeps days together), RowKey = scan id."""

    table_name = SCANS_TABLE

    def record(self, scan_id: str, started_at: datetime, finished_at: datetime, kind: str,
               workspaces: int | Sequence[str], errors: Sequence[Mapping[str, Any]], baseline_sha256: str,
               skipped: Sequence[Mapping[str, Any]] = ()) -> None:
        """Record one scan; `skipped` are `{resource_id, reason}` not evaluated on purpose (ARCHITECTURE 4.1)."""
        from azure.data.tables import UpdateMode

        started = utc(started_at)
        entity: dict[str, Any] = {
            "PartitionKey": f"scan-{started:%Y%m%d}",
            "RowKey": scan_id,
            "started_at": started,
            "finished_at": utc(finished_at),
            "kind": kind,
            "workspaces": workspaces if isinstance(workspaces, int) else len(workspaces),
            "error_count": len(errors),
            "skipped_count": len(skipped),
            "baseline_sha256": baseline_sha256,
        }
        put_json(entity, "errors", [dict(e) for e in errors])
        put_json(entity, "skipped", [dict(s) for s in skipped])
        with storage_call("record", SCANS_TABLE):
            self.table.upsert_entity(entity, mode=UpdateMode.REPLACE)

    def get(self, scan_id: str, started_at: datetime) -> dict[str, Any] | None:
        from azure.core.exceptions import ResourceNotFoundError

        with storage_call("get", SCANS_TABLE):
            try:
                e = self.table.get_entity(f"scan-{utc(started_at):%Y%m%d}", scan_id)
            except ResourceNotFoundError:
                return None
        return {"scan_id": scan_id, "started_at": e["started_at"], "finished_at": e["finished_at"],
                "kind": e["kind"], "workspaces": e["workspaces"], "errors": get_json(e, "errors"),
                "skipped": get_json(e, "skipped") if "skipped" in e or "skipped_parts" in e else [],
                "baseline_sha256": e["baseline_sha256"]}
