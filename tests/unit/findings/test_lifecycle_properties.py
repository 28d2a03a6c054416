"""Issue 11 §1: the finding lifecycle's invariants, as properties of the pure `decide` (no storage).

A hypothesis-generated run is a sequence of evaluations of one workspace: at each step a subset of two
rules is evaluated (the others not observed), and each evaluated rule's finding is present (open or
exempted) or absent. The run is folded through `decide` like the store does, keeping the history.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from core.findings.lifecycle import decide, observed_until
from core.findings.model import Finding, finding_id

WS = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Databricks/workspaces/ws"
RULES = ("DBX-WS-001", "DBX-NET-005")
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _finding(rule_id: str, status: str, at: datetime) -> Finding:
    return Finding.model_validate({
        "id": finding_id(WS, rule_id, None), "rule_id": rule_id, "title": rule_id, "severity": "high",
        "status": status, "resource_id": WS, "subscription_id": WS.split("/")[2], "workspace_name": "ws",
        "expected": True, "actual": False, "message": "drifted", "remediation": "fix", "first_seen": at,
        "last_seen": at, "source": "sweep", "baseline_sha256": "0" * 64,
        "exemption": {"reason": "vendor", "expires": "2027-03-31"} if status == "exempted" else None})


# One step: for each rule, None = not evaluated, "absent" = evaluated and compliant, or its finding's status.
step = st.tuples(*[st.sampled_from([None, "absent", "open", "exempted"]) for _ in RULES])


def _run(steps: list[tuple[Any, ...]]) -> tuple[dict[str, Finding], dict[str, list[tuple[str, datetime]]]]:
    stored: dict[str, Finding] = {}
    history: dict[str, list[tuple[str, datetime]]] = {r: [] for r in RULES}
    for i, s in enumerate(steps):
        now = T0 + timedelta(hours=i)
        evaluated = frozenset(r for r, v in zip(RULES, s, strict=True) if v is not None)
        for rule, v in zip(RULES, s, strict=True):
            new = _finding(rule, v, now) if v in ("open", "exempted") else None
            merged, kind = decide(stored.get(rule), new, evaluated_rules=evaluated, now=now, source="sweep")
            if merged is not None:
                stored[rule] = merged
            if kind is not None:
                assert merged is not None, "a transition always writes the finding it records"
                history[rule].append((kind, now))
    return stored, history


@settings(max_examples=200, deadline=None)
@given(st.lists(step, max_size=12))
def test_a_finding_resolves_only_when_its_rule_was_observed(steps: list[tuple[Any, ...]]) -> None:
    _, history = _run(steps)
    for idx, rule in enumerate(RULES):
        for kind, at in history[rule]:
            if kind == "resolved":
                observed = steps[int((at - T0) / timedelta(hours=1))][idx]
                assert observed == "absent", f"{rule} resolved at a step that observed {observed!r}"


@settings(max_examples=200, deadline=None)
@given(st.lists(step, max_size=12))
def test_history_is_a_well_formed_sequence_and_matches_the_stored_status(steps: list[tuple[Any, ...]]) -> None:
    stored, history = _run(steps)
    for rule in RULES:
        kinds = [k for k, _ in history[rule]]
        times = [t for _, t in history[rule]]
        assert times == sorted(times), "history is appended in time order"
        if kinds:
            assert kinds[0] in ("opened", "exempted"), "a finding's history starts with it being found"
        for a, b in itertools.pairwise(kinds):
            assert not (a == "resolved" and b == "resolved"), "resolved twice without coming back"
            assert not (a in ("opened", "reopened") and b in ("opened", "reopened")), "opened twice in a row"
        if rule in stored:
            last = kinds[-1]
            expected = {"opened": "open", "reopened": "open", "resolved": "resolved", "exempted": "exempted"}[last]
            assert stored[rule].status == expected


@settings(max_examples=200, deadline=None)
@given(st.lists(step, min_size=1, max_size=10))
def test_replaying_the_last_evaluation_changes_nothing(steps: list[tuple[Any, ...]]) -> None:
    stored, _ = _run(steps)
    now = T0 + timedelta(hours=len(steps) - 1)
    last = steps[-1]
    evaluated = frozenset(r for r, v in zip(RULES, last, strict=True) if v is not None)
    for rule, v in zip(RULES, last, strict=True):
        new = _finding(rule, v, now) if v in ("open", "exempted") else None
        merged, kind = decide(stored.get(rule), new, evaluated_rules=evaluated, now=now, source="sweep")
        assert kind is None, f"a replay of the same evaluation recorded {kind}"
        assert merged is None or merged == stored.get(rule)


@settings(max_examples=200, deadline=None)
@given(st.lists(step, min_size=1, max_size=10), step)
def test_an_evaluation_older_than_the_row_changes_nothing(steps: list[tuple[Any, ...]], late: tuple[Any, ...]) -> None:
    stored, _ = _run(steps)
    evaluated = frozenset(r for r, v in zip(RULES, late, strict=True) if v is not None)
    for rule, v in zip(RULES, late, strict=True):
        old = stored.get(rule)
        if old is None:
            continue
        at = observed_until(old) - timedelta(minutes=1)
        new = _finding(rule, v, at) if v in ("open", "exempted") else None
        assert decide(old, new, evaluated_rules=evaluated, now=at, source="event") == (None, None)
