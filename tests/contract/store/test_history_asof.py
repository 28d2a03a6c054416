"""Posture as of an instant and changes in a period, reconstructed from `findinghistory` (issue 16)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.store import TableFindingsStore
from core.store.history import INDEX_PREFIX, index_partition
from core.store.keys import resource_key
from tests.support.store import T0, make_finding, ws_id

pytestmark = pytest.mark.integration

A, B = ws_id("ws-a"), ws_id("ws-b", sub="22222222-2222-4222-8222-222222222222")
EVAL = frozenset({"DBX-WS-001", "DBX-WS-003", "DBX-NET-005"})
H = timedelta(hours=1)


def _timeline(store: TableFindingsStore) -> None:
    """T0 WS-001 + NET-005 open on A; T0+1h NET-005 exempted; T0+2h WS-001 resolved; T0+3h WS-001 back.
    B: WS-003 open at T0+1h."""
    ex = {"reason": "vendor <b>ssh</b>", "approved_by": "sec-team", "expires": "2026-03-02"}
    store.reconcile([make_finding(A, "DBX-WS-001"), make_finding(A, "DBX-NET-005", "r1", severity="critical")],
                    resource_id=A, evaluated_rules=EVAL, now=T0, source="sweep", checked_rules=EVAL,
                    baseline_sha256="a" * 64)
    store.reconcile([make_finding(A, "DBX-WS-001"),
                     make_finding(A, "DBX-NET-005", "r1", severity="critical", status="exempted", exemption=ex)],
                    resource_id=A, evaluated_rules=EVAL, now=T0 + H, source="sweep", checked_rules=EVAL,
                    baseline_sha256="a" * 64)
    store.reconcile([make_finding(B, "DBX-WS-003")], resource_id=B, evaluated_rules=EVAL, now=T0 + H,
                    source="sweep", checked_rules=frozenset({"DBX-WS-003"}), baseline_sha256="a" * 64)
    store.reconcile([make_finding(A, "DBX-NET-005", "r1", severity="critical", status="exempted", exemption=ex)],
                    resource_id=A, evaluated_rules=EVAL, now=T0 + 2 * H, source="sweep", checked_rules=EVAL,
                    baseline_sha256="b" * 64)
    store.reconcile([make_finding(A, "DBX-WS-001"),
                     make_finding(A, "DBX-NET-005", "r1", severity="critical", status="exempted", exemption=ex)],
                    resource_id=A, evaluated_rules=EVAL, now=T0 + 3 * H, source="sweep", checked_rules=EVAL,
                    baseline_sha256="b" * 64)


def _state(findings: list) -> dict[tuple[str, str], str]:
    return {(f.workspace_name, f.rule_id): f.status for f in findings}


def test_as_of_reconstructs_every_instant(store: TableFindingsStore) -> None:
    _timeline(store)
    assert store.findings_as_of(T0 - H) == []
    assert _state(store.findings_as_of(T0)) == {("ws-a", "DBX-WS-001"): "open", ("ws-a", "DBX-NET-005"): "open"}
    at_1h30 = store.findings_as_of(T0 + H + H / 2)
    assert _state(at_1h30) == {("ws-a", "DBX-WS-001"): "open", ("ws-a", "DBX-NET-005"): "exempted",
                               ("ws-b", "DBX-WS-003"): "open"}
    exempted = next(f for f in at_1h30 if f.rule_id == "DBX-NET-005")
    assert exempted.exemption == {"reason": "vendor <b>ssh</b>", "approved_by": "sec-team", "expires": "2026-03-02"}
    assert _state(store.findings_as_of(T0 + 2 * H))[("ws-a", "DBX-WS-001")] == "resolved"
    assert _state(store.findings_as_of(T0 + 3 * H))[("ws-a", "DBX-WS-001")] == "open"
    # one workspace (by ARM id in any case, or by name) and one subscription
    assert _state(store.findings_as_of(T0 + 2 * H, workspace=A.upper())) == {
        ("ws-a", "DBX-WS-001"): "resolved", ("ws-a", "DBX-NET-005"): "exempted"}
    assert set(_state(store.findings_as_of(T0 + 2 * H, workspace="ws-b"))) == {("ws-b", "DBX-WS-003")}
    assert set(_state(store.findings_as_of(T0 + 2 * H, subscription=B.split("/")[2].upper()))) == {
        ("ws-b", "DBX-WS-003")}


def test_changes_in_a_period_and_one_findings_history(store: TableFindingsStore) -> None:
    _timeline(store)
    kinds = [(t.transition, t.finding.rule_id) for t in store.changes(T0 + H, T0 + 2 * H)]
    assert sorted(kinds[:2]) == [("exempted", "DBX-NET-005"), ("opened", "DBX-WS-003")]  # both at T0+1h
    assert kinds[2] == ("resolved", "DBX-WS-001")
    assert [t.transition for t in store.changes(T0 + 2 * H, None, workspace=A)] == ["resolved", "reopened"]
    assert store.changes(T0 + 4 * H, None) == []
    fid = make_finding(A, "DBX-WS-001").id
    assert [t.transition for t in store.finding_history(fid)] == ["opened", "resolved", "reopened"]
    assert [t.transition for t in store.finding_history(fid, until=T0 + 2 * H)] == ["opened", "resolved"]


def test_history_keys_keep_one_workspace_in_one_partition(store: TableFindingsStore) -> None:
    """The layout that lets one workspace's reads stay in its own partition, in time order."""
    _timeline(store)
    rows = list(store.history_table.query_entities("PartitionKey eq @pk", parameters={"pk": index_partition(A)}))
    transitions = [r for r in rows if r.get("kind") == "transition"]
    assert len(transitions) == 5 and all(r["resource_id"] == A.lower() for r in transitions)
    keys = [r["RowKey"] for r in transitions]
    assert keys == sorted(keys) and keys[0].startswith("20260301T080000")
    assert index_partition(A) == INDEX_PREFIX + resource_key(A)
    # the per-finding partition (original layout) is still written
    fid = make_finding(A, "DBX-WS-001").id
    assert len(list(store.history_table.query_entities("PartitionKey eq @id", parameters={"id": fid}))) == 3


def test_coverage_is_recorded_when_it_changes(store: TableFindingsStore) -> None:
    _timeline(store)
    cov = store.coverage()
    assert cov[A.lower()]["rules"] == sorted(EVAL) and cov[A.lower()]["baseline_sha256"] == "b" * 64
    assert cov[B.lower()]["rules"] == ["DBX-WS-003"]
    # changed twice on A (first record, then the baseline hash); later identical scans write nothing
    rows = [r for r in store.history_table.query_entities("PartitionKey eq @pk", parameters={"pk": index_partition(A)})
            if r.get("kind") == "coverage"]
    assert len(rows) == 2  # T0 record, T0+2h new baseline (the current pointer is in the scans table)
    pointer = store.coverage_table.get_entity(index_partition(A), "coverage")
    assert pointer["baseline_sha256"] == "b" * 64
    assert store.coverage(T0 + H)[A.lower()]["baseline_sha256"] == "a" * 64
    assert B.lower() not in store.coverage(T0)


def test_history_written_before_the_index_is_still_read_and_can_be_migrated(store: TableFindingsStore) -> None:
    """Rows of the original layout only (no index row): as-of reads fall back to each changed finding's
    own partition, so nothing is lost; `backfill_workspace_index` (idempotent) adds the index rows."""
    _timeline(store)
    expected = {t: _state(store.findings_as_of(t)) for t in (T0, T0 + H, T0 + 2 * H, T0 + 3 * H)}
    index_rows = [r for r in store.history_table.list_entities() if str(r["PartitionKey"]).startswith("ws-")
                  and r.get("kind") == "transition"]
    for r in index_rows:
        store.history_table.delete_entity(r["PartitionKey"], r["RowKey"])
    assert {t: _state(store.findings_as_of(t)) for t in expected} == expected
    assert store.changes(T0, None) == []  # period queries need the index: that is what the migration is for
    fid = make_finding(A, "DBX-WS-001").id
    assert [t.transition for t in store.finding_history(fid)] == ["opened", "resolved", "reopened"]
    assert store.backfill_workspace_index() == 6
    assert store.backfill_workspace_index() == 0
    assert len(store.changes(T0, None)) == 6
    assert {t: _state(store.findings_as_of(t)) for t in expected} == expected


def test_a_coverage_pointer_an_older_version_left_in_findinghistory_is_still_read(store: TableFindingsStore) -> None:
    """The current-coverage pointer moved to the scans table (findinghistory is insert-only); a pointer an
    older version wrote into findinghistory keeps counting until a newer one exists, and is never rewritten."""
    import json

    from core.arm_ids import arm_fold

    rid = ws_id("ws-legacy-pointer")
    store.history_table.create_entity({"PartitionKey": index_partition(rid), "RowKey": "coverage", "kind": "coverage",
                                       "at": T0, "resource_id": arm_fold(rid), "rules": json.dumps(["DBX-WS-001"]),
                                       "baseline_sha256": "c" * 64})
    assert store.coverage()[arm_fold(rid)]["rules"] == ["DBX-WS-001"]
    assert store.coverage(workspace_ids=[rid])[arm_fold(rid)]["rules"] == ["DBX-WS-001"]
    store.reconcile([], resource_id=rid, evaluated_rules=frozenset({"DBX-WS-003"}), now=T0 + H, source="sweep",
                    checked_rules=frozenset({"DBX-WS-003"}), baseline_sha256="c" * 64)
    assert store.coverage()[arm_fold(rid)]["rules"] == ["DBX-WS-003"]
    assert store.coverage(workspace_ids=[rid])[arm_fold(rid)]["rules"] == ["DBX-WS-003"]
    assert store.history_table.get_entity(index_partition(rid), "coverage")["rules"] == '["DBX-WS-001"]'
