"""Reconcile lifecycle against a real Azurite: open, unchanged, resolved, reopened, exempted."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.store import TableFindingsStore
from core.store.keys import resource_key
from core.terms import TRANSITION_SCHEMA
from tests.support.store import T0, make_finding, ws_id

pytestmark = pytest.mark.integration

WS = ws_id()
ALL = frozenset({"DBX-WS-001", "DBX-WS-002", "DBX-NET-005", "DBX-IPACL-001"})


def kinds(ts):
    return [(t.transition, t.finding.rule_id) for t in ts]


def test_open_unchanged_resolved_reopened(store: TableFindingsStore) -> None:
    f = make_finding(WS, "DBX-WS-001")
    t1 = store.reconcile([f], resource_id=WS, evaluated_rules=ALL, now=T0, source="sweep")
    assert kinds(t1) == [("opened", "DBX-WS-001")]
    msg = t1[0].message()
    assert msg["schema"] == TRANSITION_SCHEMA and msg["at"] == "2026-03-01T08:00:00Z"
    assert msg["finding"]["id"] == f.id and msg["finding"]["status"] == "open"

    t2 = T0 + timedelta(hours=6)
    f2 = make_finding(WS, "DBX-WS-001", now=t2, message="still drifted")
    assert store.reconcile([f2], resource_id=WS, evaluated_rules=ALL, now=t2, source="sweep") == []
    cur, hist = store.get(f.id)
    assert cur.last_seen == t2 and cur.first_seen == T0 and cur.message == "still drifted"
    assert [h.transition for h in hist] == ["opened"]

    t3 = t2 + timedelta(hours=6)
    res = store.reconcile([], resource_id=WS, evaluated_rules=ALL, now=t3, source="event")
    assert kinds(res) == [("resolved", "DBX-WS-001")]
    assert res[0].finding.status == "resolved" and res[0].finding.resolved_at == t3
    cur, _ = store.get(f.id)
    assert cur.status == "resolved" and cur.resolved_at == t3 and cur.last_seen == t2

    t4 = t3 + timedelta(hours=6)
    back = store.reconcile([make_finding(WS, "DBX-WS-001", now=t4)], resource_id=WS, evaluated_rules=ALL,
                           now=t4, source="sweep")
    assert kinds(back) == [("reopened", "DBX-WS-001")]
    cur, hist = store.get(f.id)
    assert cur.status == "open" and cur.first_seen == T0 and cur.resolved_at is None and cur.last_seen == t4
    assert [h.transition for h in hist] == ["opened", "resolved", "reopened"]
    assert [h.at for h in hist] == [T0, t3, t4]


def test_new_exempted_then_expired_then_exempted_again(store: TableFindingsStore) -> None:
    ex = make_finding(WS, "DBX-NET-005", "allow-ssh", status="exempted", severity="critical")
    assert kinds(store.reconcile([ex], resource_id=WS, evaluated_rules=ALL, now=T0, source="sweep")) == [
        ("exempted", "DBX-NET-005")]
    t1 = T0 + timedelta(days=1)
    expired = make_finding(WS, "DBX-NET-005", "allow-ssh", status="open", severity="critical", now=t1)
    out = store.reconcile([expired], resource_id=WS, evaluated_rules=ALL, now=t1, source="sweep")
    assert kinds(out) == [("reopened", "DBX-NET-005")]
    t2 = t1 + timedelta(days=1)
    again = make_finding(WS, "DBX-NET-005", "allow-ssh", status="exempted", severity="critical", now=t2)
    out = store.reconcile([again], resource_id=WS, evaluated_rules=ALL, now=t2, source="sweep")
    assert kinds(out) == [("exempted", "DBX-NET-005")]
    cur, hist = store.get(ex.id)
    assert cur.status == "exempted" and cur.exemption is not None
    assert [h.transition for h in hist] == ["exempted", "reopened", "exempted"]


def test_resolved_comes_back_exempted(store: TableFindingsStore) -> None:
    f = make_finding(WS, "DBX-NET-005", "r1")
    store.reconcile([f], resource_id=WS, evaluated_rules=ALL, now=T0, source="sweep")
    store.reconcile([], resource_id=WS, evaluated_rules=ALL, now=T0 + timedelta(1), source="sweep")
    out = store.reconcile([make_finding(WS, "DBX-NET-005", "r1", status="exempted")], resource_id=WS,
                          evaluated_rules=ALL, now=T0 + timedelta(2), source="sweep")
    assert kinds(out) == [("exempted", "DBX-NET-005")]


def test_exempted_absent_resolves(store: TableFindingsStore) -> None:
    store.reconcile([make_finding(WS, "DBX-NET-005", "r1", status="exempted")], resource_id=WS,
                    evaluated_rules=ALL, now=T0, source="sweep")
    out = store.reconcile([], resource_id=WS, evaluated_rules=ALL, now=T0 + timedelta(1), source="sweep")
    assert kinds(out) == [("resolved", "DBX-NET-005")]


def test_nothing_resolves_when_rule_not_evaluated(store: TableFindingsStore) -> None:
    api = make_finding(WS, "DBX-IPACL-001")
    arm = make_finding(WS, "DBX-WS-001")
    store.reconcile([api, arm], resource_id=WS, evaluated_rules=ALL, now=T0, source="sweep")
    # Workspace API unreadable: IPACL not evaluated, WS-001 evaluated and now fine.
    out = store.reconcile([], resource_id=WS, evaluated_rules=frozenset({"DBX-WS-001"}),
                          now=T0 + timedelta(1), source="sweep")
    assert kinds(out) == [("resolved", "DBX-WS-001")]
    assert store.get(api.id)[0].status == "open"


def test_duplicate_reconcile_yields_no_new_transitions(store: TableFindingsStore) -> None:
    fs = [make_finding(WS, "DBX-WS-001"), make_finding(WS, "DBX-NET-005", "a"), make_finding(WS, "DBX-NET-005", "b")]
    assert len(store.reconcile(fs, resource_id=WS, evaluated_rules=ALL, now=T0, source="sweep")) == 3
    assert store.reconcile(fs, resource_id=WS, evaluated_rules=ALL, now=T0, source="sweep") == []
    assert store.reconcile(fs, resource_id=WS, evaluated_rules=ALL, now=T0, source="event") == []
    for f in fs:
        assert [h.transition for h in store.get(f.id)[1]] == ["opened"]


def test_late_older_evaluation_does_not_undo_newer_state(store: TableFindingsStore) -> None:
    f = make_finding(WS, "DBX-WS-001")
    store.reconcile([f], resource_id=WS, evaluated_rules=ALL, now=T0 + timedelta(hours=2), source="sweep")
    # An evaluation taken earlier (it saw nothing) finishes later: it must not resolve the newer observation.
    assert store.reconcile([], resource_id=WS, evaluated_rules=ALL, now=T0, source="sweep") == []
    assert store.get(f.id)[0].status == "open"


def test_resolve_workspace(store: TableFindingsStore) -> None:
    fs = [make_finding(WS, "DBX-WS-001"), make_finding(WS, "DBX-NET-005", "x", status="exempted"),
          make_finding(WS, "DBX-IPACL-001")]
    other = ws_id("ws-other")
    store.reconcile(fs, resource_id=WS, evaluated_rules=ALL, now=T0, source="sweep")
    store.reconcile([make_finding(other)], resource_id=other, evaluated_rules=ALL, now=T0, source="sweep")
    out = store.resolve_workspace(WS.upper(), T0 + timedelta(1), "event")
    assert sorted(t.finding.rule_id for t in out) == ["DBX-IPACL-001", "DBX-NET-005", "DBX-WS-001"]
    assert {t.transition for t in out} == {"resolved"} and {t.finding.source for t in out} == {"event"}
    assert store.resolve_workspace(WS, T0 + timedelta(2), "event") == []
    assert store.query(workspace=other)[0][0].status == "open"


def test_history_is_append_only(store: TableFindingsStore) -> None:
    f = make_finding(WS)
    store.reconcile([f], resource_id=WS, evaluated_rules=ALL, now=T0, source="sweep")
    before = {e["RowKey"]: (e.metadata["etag"], dict(e)) for e in store.history_table.query_entities(
        "PartitionKey eq @p", parameters={"p": f.id})}
    store.reconcile([], resource_id=WS, evaluated_rules=ALL, now=T0 + timedelta(1), source="sweep")
    store.reconcile([f], resource_id=WS, evaluated_rules=ALL, now=T0 + timedelta(2), source="sweep")
    after = {e["RowKey"]: (e.metadata["etag"], dict(e)) for e in store.history_table.query_entities(
        "PartitionKey eq @p", parameters={"p": f.id})}
    assert len(after) == 3
    for key, (etag, body) in before.items():
        assert after[key][0] == etag and after[key][1] == body  # earlier entries untouched
    assert sorted(after) == [k for k in sorted(after)]  # RowKeys sort by time
    assert [k.rsplit("-", 1)[1] for k in sorted(after)] == ["opened", "resolved", "reopened"]


def test_large_finding_round_trips(store: TableFindingsStore) -> None:
    big = [f"10.{i // 256}.{i % 256}.0/24" for i in range(12000)]  # ~200k chars of JSON
    f = make_finding(WS, "DBX-IPACL-002", "big", actual=big, message="é" * 20000)
    store.reconcile([f], resource_id=WS, evaluated_rules=ALL, now=T0, source="sweep")
    cur, hist = store.get(f.id)
    assert cur.actual == big and cur.message == "é" * 20000 and hist[0].finding.actual == big


def test_foreign_finding_rejected(store: TableFindingsStore) -> None:
    with pytest.raises(ValueError, match="belongs to"):
        store.reconcile([make_finding(ws_id("other"))], resource_id=WS, evaluated_rules=ALL, now=T0,
                        source="sweep")


def test_not_applicable_resolves_with_reason_in_history(store: TableFindingsStore) -> None:
    """A Serverless workspace (computeMode cannot change) resolves its old classic-compute findings as
    "not applicable", with the reason in history; findings of other rules that were not evaluated stay open."""
    from core.rules.applicability import SERVERLESS_REASON
    from core.rules.registry import NotApplicable

    old = [make_finding(WS, "DBX-WS-002"), make_finding(WS, "DBX-NET-005", "allow-ssh", severity="critical"),
           make_finding(WS, "DBX-WS-006", "managed_disk"), make_finding(WS, "DBX-WS-006", "managed_services"),
           make_finding(WS, "DBX-IPACL-001")]
    store.reconcile(old, resource_id=WS, evaluated_rules=ALL | {"DBX-WS-006"}, now=T0, source="sweep")
    t1 = T0 + timedelta(hours=1)
    na = [NotApplicable("DBX-WS-002", SERVERLESS_REASON), NotApplicable("DBX-NET-005", SERVERLESS_REASON),
          NotApplicable("DBX-WS-006", SERVERLESS_REASON, "managed_disk")]
    still = make_finding(WS, "DBX-WS-006", "managed_services", now=t1)
    out = store.reconcile([still], resource_id=WS, evaluated_rules=frozenset({"DBX-WS-006"}), now=t1,
                          source="sweep", not_applicable=na)
    assert sorted((t.transition, t.finding.rule_id, t.finding.subject) for t in out) == [
        ("resolved", "DBX-NET-005", "allow-ssh"), ("resolved", "DBX-WS-002", None),
        ("resolved", "DBX-WS-006", "managed_disk")]
    assert {t.reason for t in out} == {SERVERLESS_REASON}
    assert out[0].message()["reason"] == SERVERLESS_REASON
    _, hist = store.get(old[0].id)
    assert [(h.transition, h.reason) for h in hist] == [("opened", None), ("resolved", SERVERLESS_REASON)]
    # IPACL-001 was neither evaluated nor not-applicable: missing data never resolves
    cur, _ = store.get(old[4].id)
    assert cur.status == "open"
    cur, _ = store.get(old[3].id)
    assert cur.status == "open"


def test_still_open_findings_are_refreshed_together_and_a_row_changed_meanwhile_is_decided_again(
        store: TableFindingsStore) -> None:
    """A sweep of a stable workspace only moves `last_seen`: those rows are written in one ETag-checked
    transaction per 100. When one of them changed after reconcile read the partition (here: another
    instance resolved it), the transaction writes nothing and each row is decided again on fresh data."""
    ws = ws_id("ws-refresh")
    fs = [make_finding(ws, "DBX-NET-005", f"rule-{i}") for i in range(120)]
    rules = frozenset({"DBX-NET-005"})
    store.reconcile(fs, resource_id=ws, evaluated_rules=rules, now=T0, source="sweep")
    assert store.reconcile(fs, resource_id=ws, evaluated_rules=rules, now=T0 + timedelta(hours=1),
                           source="sweep") == []
    found, _ = store.query(workspace=ws, top=1000)
    assert {f.last_seen for f in found} == {T0 + timedelta(hours=1)} and len(found) == 120
    read_before = store._load_partition(resource_key(ws))
    # Another instance resolves one finding after this reconcile's read:
    store.reconcile(fs[1:], resource_id=ws, evaluated_rules=rules, now=T0 + timedelta(hours=2), source="event")
    store._load_partition = lambda pk: read_before  # type: ignore[method-assign]
    out = store.reconcile(fs, resource_id=ws, evaluated_rules=rules, now=T0 + timedelta(hours=3), source="sweep")
    del store._load_partition
    assert [(t.transition, t.finding.id) for t in out] == [("reopened", fs[0].id)]
    found, _ = store.query(workspace=ws, status="open", top=1000)
    assert len(found) == 120 and {f.last_seen for f in found} == {T0 + timedelta(hours=3)}
