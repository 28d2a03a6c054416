"""Auditor queries: each filter, paging, continuation tokens, OData injection, summary, export."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest

from core.store import InvalidContinuation, InvalidQuery, TableFindingsStore
from core.store.errors import FindingNotFound
from tests.support.store import T0, make_finding, ws_id

pytestmark = pytest.mark.integration

SUB2 = "22222222-2222-4222-8222-222222222222"
A, B = ws_id("ws-a"), ws_id("ws-b", sub=SUB2, rg="rg-dev")
EVAL = frozenset({"DBX-WS-001", "DBX-WS-002", "DBX-NET-005", "DBX-IPACL-003"})


@pytest.fixture
def seeded(store: TableFindingsStore) -> TableFindingsStore:
    store.reconcile([make_finding(A, "DBX-WS-001", severity="high"),
                     make_finding(A, "DBX-WS-002", severity="critical"),
                     make_finding(A, "DBX-NET-005", "ssh", status="exempted", severity="critical")],
                    resource_id=A, evaluated_rules=EVAL, now=T0, source="sweep")
    later = T0 + timedelta(days=2)
    store.reconcile([make_finding(B, "DBX-WS-001", severity="high", now=later),
                     make_finding(B, "DBX-IPACL-003", "0.0.0.0/0", severity="critical", now=later)],
                    resource_id=B, evaluated_rules=EVAL, now=later, source="sweep")
    store.reconcile([make_finding(A, "DBX-WS-001"), make_finding(A, "DBX-NET-005", "ssh", status="exempted",
                                                                 severity="critical")],
                    resource_id=A, evaluated_rules=EVAL, now=T0 + timedelta(hours=1), source="sweep")  # resolves WS-002
    return store


def ids(findings) -> set[tuple[str, str]]:
    return {(f.workspace_name, f.rule_id) for f in findings}


def test_each_filter(seeded: TableFindingsStore) -> None:
    q = seeded.query
    assert len(q()[0]) == 5
    assert ids(q(status="open")[0]) == {("ws-a", "DBX-WS-001"), ("ws-b", "DBX-WS-001"), ("ws-b", "DBX-IPACL-003")}
    assert ids(q(status="resolved")[0]) == {("ws-a", "DBX-WS-002")}
    assert ids(q(status="exempted")[0]) == {("ws-a", "DBX-NET-005")}
    assert ids(q(severity="critical", status="open")[0]) == {("ws-b", "DBX-IPACL-003")}
    assert ids(q(rule="DBX-WS-001")[0]) == {("ws-a", "DBX-WS-001"), ("ws-b", "DBX-WS-001")}
    assert len(q(workspace=A.upper())[0]) == 3
    assert len(q(workspace="WS-B")[0]) == 2  # by name, case-insensitive
    assert len(q(subscription=SUB2.upper())[0]) == 2
    assert ids(q(since=T0 + timedelta(days=1))[0]) == {("ws-b", "DBX-WS-001"), ("ws-b", "DBX-IPACL-003")}
    assert q(status="open", workspace=A, rule="DBX-WS-002")[0] == []


@pytest.mark.parametrize("value", ["open' or '1' eq '1", "x' or PartitionKey ne '", "'", "''", "open or true",
                                   "$filter=PartitionKey ne ''", "open) or (1 eq 1", "@status"])
def test_injection_values_do_not_widen(seeded: TableFindingsStore, value: str) -> None:
    for param in ("status", "severity", "rule"):
        with pytest.raises(InvalidQuery) as info:
            seeded.query(**{param: value})
        assert info.value.parameter == param
    # free-text filters are bound parameters: they match nothing rather than everything
    assert seeded.query(workspace=value)[0] == []
    assert seeded.query(subscription=value)[0] == []
    assert seeded.query(workspace="/subscriptions/x' or '1' eq '1")[0] == []


def test_paging_250_by_100(store: TableFindingsStore) -> None:
    ws = [ws_id(f"ws-{i}") for i in range(5)]
    for w in ws:
        store.reconcile([make_finding(w, "DBX-NET-005", f"r{j}") for j in range(50)], resource_id=w,
                        evaluated_rules=EVAL, now=T0, source="sweep")
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page, token = store.query(status="open", top=100, continuation=token)
        pages += 1
        seen.extend(f.id for f in page)
        if token is None:
            break
        assert len(page) == 100
    assert pages == 3 and len(seen) == 250 and len(set(seen)) == 250
    assert len(list(store.export(status="open"))) == 250


def test_tampered_and_foreign_tokens(seeded: TableFindingsStore) -> None:
    _, token = seeded.query(top=2)
    assert token is not None
    for bad in ["garbage", token[:-4], token + "x", base64.urlsafe_b64encode(b'{"d":{"v":1}}').decode(), "%%%"]:
        with pytest.raises(InvalidContinuation):
            seeded.query(top=2, continuation=bad)
    doc = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    doc["d"]["t"]["PartitionKey"] = "0"
    with pytest.raises(InvalidContinuation):
        seeded.query(top=2, continuation=base64.urlsafe_b64encode(json.dumps(doc).encode()).decode())
    with pytest.raises(InvalidContinuation, match="different query"):
        seeded.query(top=2, status="open", continuation=token)
    page2, _ = seeded.query(top=2, continuation=token)
    assert len(page2) == 2


def test_top_bounds(seeded: TableFindingsStore) -> None:
    for bad in (0, 1001, -5):
        with pytest.raises(InvalidQuery) as info:
            seeded.query(top=bad)
        assert info.value.parameter == "top"


def test_get_with_history_and_unknown(seeded: TableFindingsStore) -> None:
    f = seeded.query(rule="DBX-WS-002")[0][0]
    got, hist = seeded.get(f.id)
    assert got == f and [h.transition for h in hist] == ["opened", "resolved"]
    for bad in ("0" * 32, "x' or '1' eq '1", "", "a/b"):
        with pytest.raises(FindingNotFound):
            seeded.get(bad)


def test_summary(seeded: TableFindingsStore) -> None:
    s = seeded.summary()
    assert s["total"] == 5
    assert s["by_status"] == {"open": 3, "resolved": 1, "exempted": 1}
    assert s["by_severity"]["critical"] == 3 and s["open_by_severity"]["critical"] == 1
    assert s["by_rule"]["DBX-WS-001"] == 2
    assert s["by_workspace"] == {A.lower(): 3, B.lower(): 2}


def test_import_findings_bulk(store: TableFindingsStore) -> None:
    fs = [make_finding(ws_id(f"ws-bulk-{i % 3}"), "DBX-NET-005", f"r{i}") for i in range(250)]
    assert store.import_findings(fs) == 250
    assert len(list(store.export(status="open"))) == 250
    assert store.get(fs[7].id)[0] == fs[7]
