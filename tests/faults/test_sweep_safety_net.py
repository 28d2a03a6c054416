"""Issue 10 §5: the sweep is the safety net, and blind spots are loud.

A workspace whose delete event was lost is resolved by the next sweep, with the reason "workspace
deleted", once a complete listing misses it and a GET on the workspace itself answers 404; a failed
listing removes nothing. A subscription that cannot be listed, or a sweep that sees no subscription at
all (ARM answering 401 to everything, as when deployed in emulator mode by accident), opens DBX-EVAL-001
on that subscription and alerts. On e5fde5c every assertion below about resolving or alerting fails: the
lost delete keeps its findings open and the 401 sweep stores nothing and posts nothing.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from core.sweep_safety import NO_SUBSCRIPTION, WORKSPACE_DELETED
from samples import factory as f
from tests.faults import scenarios as sc
from tests.support.app import App

GONE = "dbw-bi-prod"


def _delete_and_lose_the_event(app: App, name: str) -> None:
    r = requests.delete(f"{app.emulator.url}{sc.WS[name]}?api-version=2026-01-01",
                        headers={"Authorization": "Bearer x"}, timeout=5)
    assert r.status_code in (200, 202, 204), r.text
    app.emulator.clear_events()  # the delete event never reaches driftwatch


def _open_of(app: App, name: str) -> list[str]:
    return [x.id for x in app.open_findings() if x.workspace_name == name]


def test_a_lost_delete_is_resolved_only_after_a_complete_listing_and_a_404(app: App) -> None:
    sc.sweep(app)
    gone_before = _open_of(app, GONE)
    others_before = {x.id for x in app.open_findings()} - set(gone_before)
    assert gone_before
    _delete_and_lose_the_event(app, GONE)

    # The prod subscription's listing fails: nothing is removed, the blind spot opens and alerts.
    listing = f"/subscriptions/{f.SUB_PROD}/providers/Microsoft.Databricks/workspaces"
    app.emulator.set_faults([{"match": f"^{listing}$", "method": "GET", "action": "500"}])
    posts = len(app.emulator.teams_posts())
    sc.sweep(app)
    assert set(_open_of(app, GONE)) == set(gone_before), "a failed listing resolved findings"
    blind = [x for x in app.open_findings() if x.rule_id == "DBX-EVAL-001"
             and x.resource_id == f"/subscriptions/{f.SUB_PROD}"]
    assert len(blind) == 1 and "500" in (blind[0].actual or "")
    assert any(f.SUB_PROD in json.dumps(p["body"]) for p in app.emulator.teams_posts()[posts:]), "blind spot not alerted"

    # The listing is complete again: the workspace is confirmed gone and resolved, the blind spot closes.
    app.emulator.set_faults([])
    sc.sweep(app)
    assert not _open_of(app, GONE)
    assert not [x for x in app.open_findings() if x.resource_id == f"/subscriptions/{f.SUB_PROD}"]
    history = app.store().get(gone_before[0])[1]
    assert history[-1].transition == "resolved" and history[-1].reason == WORKSPACE_DELETED
    assert others_before <= {x.id for x in app.open_findings()}, "a live workspace lost findings"


def test_a_workspace_the_listing_misses_but_arm_still_serves_is_not_resolved(
        app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    """Not listed is not gone: only a 404 on the workspace itself confirms a delete. The listing here
    drops the workspace; its own GET first fails (unconfirmed), then answers 200 (scanned, not resolved)."""
    sc.sweep(app)
    before = set(_open_of(app, GONE))
    real = app.rt.collector

    def collector() -> Any:
        c = real()
        discover = c.discover
        monkeypatch.setattr(c, "discover", lambda subs=None: (
            lambda found: ([d for d in found[0] if d.get("name") != GONE], found[1]))(discover(subs)))
        return c

    monkeypatch.setattr(app.rt, "collector", collector)
    app.emulator.set_faults([{"match": sc.WS[GONE], "method": "GET", "action": "500"}])
    app.rt.collect = type(app.rt.collect)(**{**app.rt.collect.__dict__, "arm_retries": 0})
    app.rt._arm = None
    sc.sweep(app)
    assert set(_open_of(app, GONE)) == before
    app.emulator.set_faults([])
    sc.sweep(app)
    assert set(_open_of(app, GONE)) == before


def test_arm_401_to_everything_opens_a_blind_spot_finding_and_alerts(app: App) -> None:
    app.emulator.set_faults([{"match": "/subscriptions", "action": "401"}])
    app.rt.collect = type(app.rt.collect)(**{**app.rt.collect.__dict__, "arm_retries": 0})
    app.rt._arm = None
    sc.sweep(app)
    (blind,) = app.open_findings()
    assert (blind.rule_id, blind.resource_id) == ("DBX-EVAL-001", NO_SUBSCRIPTION)
    assert "401" in (blind.actual or "") or "authentication" in (blind.actual or "")
    assert len(app.emulator.teams_posts()) == 1
    app.emulator.set_faults([])
    sc.sweep(app)
    assert not [x for x in app.open_findings() if x.resource_id == NO_SUBSCRIPTION]
