"""Store-test builders: workspace ids, findings as the rules engine builds them, an emptied account."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from core.findings.model import Finding, finding_id
from core.store import StorageConnection
from core.store.connection import QUEUES, TABLES
from tests.azurite import AzuriteProcess, azurite  # noqa: F401  (re-exported fixture)

SUB = "11111111-1111-4111-8111-111111111111"
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)



def ws_id(name: str = "ws-prod", sub: str = SUB, rg: str = "rg-data") -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Databricks/workspaces/{name}"


def make_finding(resource_id: str, rule_id: str = "DBX-WS-001", subject: str | None = None, *,
                 status: str = "open", severity: str = "high", now: datetime = T0, **extra: Any) -> Finding:
    """A finding as the rules engine would build it (first_seen = last_seen = now)."""
    parts = resource_id.split("/")
    data: dict[str, Any] = {
        "id": finding_id(resource_id, rule_id, subject), "rule_id": rule_id, "title": f"title of {rule_id}",
        "severity": severity, "status": status, "resource_id": resource_id, "subscription_id": parts[2],
        "workspace_name": parts[-1], "subject": subject, "expected": True, "actual": False,
        "message": f"{rule_id} drifted", "remediation": "fix it", "first_seen": now, "last_seen": now,
        "source": "sweep", "baseline_sha256": "0" * 64,
        "exemption": {"reason": "vendor", "expires": "2027-03-31"} if status == "exempted" else None,
    }
    data.update(extra)
    return Finding.model_validate(data)


def reset_storage(conn: StorageConnection) -> None:
    """Drop and recreate every table/queue so each test sees an empty account."""
    svc = conn.table_service
    for name in TABLES:
        svc.delete_table(name)
    for q in QUEUES:
        with contextlib.suppress(ResourceNotFoundError):
            conn.queue_service.delete_queue(q)
    conn.ensure()


HISTORY_RULES = ("DBX-WS-001", "DBX-WS-003", "DBX-NET-005")
"""The rules the random-history store tests evaluate (one finding each per workspace)."""
HISTORY_EXEMPTION = {"reason": "vendor <b>ssh</b>", "approved_by": "sec-team", "expires": "2027-03-31"}


def reconcile_step(store: Any, ws: str, i: int, states: tuple[str, ...], *, step: timedelta = timedelta(hours=1),
                   deliver: bool = True) -> None:
    """One evaluation at T0 + i * step: each rule's finding absent (resolves), open (opens/reopens) or exempted."""
    now = T0 + i * step
    found = [make_finding(ws, rule, "s", now=now, status=s, severity="high",
                          exemption=HISTORY_EXEMPTION if s == "exempted" else None)
             for rule, s in zip(HISTORY_RULES, states, strict=True) if s != "absent"]
    ts = store.reconcile(found, resource_id=ws, evaluated_rules=frozenset(HISTORY_RULES), now=now, source="sweep")
    if deliver:
        store.outbox_delivered(ts)  # as the scan use case does once history and message are written


def write_histories(store: Any, workspaces: list[str], histories: list[list[tuple[str, ...]]], *,
                    step: timedelta) -> None:
    """What `reconcile_step` per evaluation would leave behind (the same lifecycle decision, the same three
    history rows per transition, the same current rows), written in a few entity-group transactions instead:
    random-history properties stay fast."""
    from core.findings.lifecycle import decide
    from core.findings.transition import Transition
    from core.store.outbox import history_entities
    from core.store.rows import _Row

    evaluated = frozenset(HISTORY_RULES)
    partitions: dict[str, list[dict[str, Any]]] = {}
    for ws, history in zip(workspaces, histories, strict=True):
        rows: dict[str, _Row] = {}
        for i, states in enumerate(history):
            now = T0 + i * step
            new = {f.id: f for f in (make_finding(ws, rule, "s", now=now, status=st_, severity="high",
                                                  exemption=HISTORY_EXEMPTION if st_ == "exempted" else None)
                                     for rule, st_ in zip(HISTORY_RULES, states, strict=True) if st_ != "absent")}
            for fid in sorted(set(new) | set(rows)):
                old = rows.get(fid)
                merged, kind = decide(old.finding if old else None, new.get(fid), evaluated_rules=evaluated,
                                      now=now, source="sweep")
                if merged is None:
                    continue
                seq = (old.seq if old else 0) + (kind is not None)
                last = (kind, now) if kind is not None else ((old.last_transition, old.last_transition_at)
                                                             if old else (None, None))
                rows[fid] = _Row(merged, "", seq, "notified", None, None, *last)
                if kind is not None:
                    for e in history_entities(Transition(kind, now, merged), seq):
                        partitions.setdefault(e["PartitionKey"], []).append(e)
        if rows:  # a workspace whose findings were all absent has none
            store.findings_table.submit_transaction([("upsert", store._entity(r)) for r in rows.values()])
    for entities in partitions.values():
        for i in range(0, len(entities), 25):  # a transaction's body is at most 4 MB (each row ~6 KB here)
            store.history_table.submit_transaction([("create", e) for e in entities[i:i + 25]])
