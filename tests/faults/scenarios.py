"""Fault scenarios over Azurite + the estate emulator + the registered functions.

Each returns its figures (events injected / findings expected / findings stored / alerts sent) so the
tests can assert on them and `bench/bench_faults.py` can print them.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from typing import Any

import requests

from samples import factory as f
from tests.support.app import App

EXPECTED_OPEN = 104  # the sample estate with the example baseline (issues 12 and 13 rules included)
EXPECTED_EXEMPTED = 1
WS = {r["name"]: r["id"] for r in f.sample_estate()["resources"] if r["type"] == "Microsoft.Databricks/workspaces"}
NSG = {r["name"]: r["id"] for r in f.sample_estate()["resources"] if r["type"].endswith("networkSecurityGroups")}


@dataclass
class Figures:
    fault: str
    events_injected: int = 0
    findings_expected: int = 0
    findings_stored: int = 0
    alerts_sent: int = 0
    notes: dict[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        return asdict(self)


def arm(app: App, method: str, resource_id: str, body: dict[str, Any] | None = None,
        api: str = "2025-07-01") -> None:
    r = requests.request(method, f"{app.emulator.url}{resource_id}?api-version={api}", json=body,
                         headers={"Authorization": "Bearer x"}, timeout=10)
    assert r.status_code < 300, r.text


def open_count(app: App) -> int:
    return len(app.store().query(status="open", top=1000)[0])


def histories(app: App) -> dict[str, list[str]]:
    out = {}
    for status in ("open", "resolved", "exempted"):
        for fd in app.store().query(status=status, top=1000)[0]:
            out[fd.id] = [t.transition for t in app.store().get(fd.id)[1]]
    return out


def alerted_subjects(app: App) -> list[str]:
    """Every (rule, subject) mention across all Teams posts, to detect double notifications."""
    seen = []
    for post in app.emulator.teams_posts():
        text = json.dumps(post["body"])
        for fd in app.store().query(top=1000)[0]:
            if fd.rule_id in text and (fd.subject or "") and f"Subject: {fd.subject}" in text.replace('"', ""):
                seen.append(f"{fd.rule_id}/{fd.subject}")
    return seen


def sweep(app: App) -> None:
    app.host.fire_timer()
    app.run_queues()


def arm_faults_during_sweep(app: App) -> Figures:
    """429 storms with Retry-After, 500s and connection resets on ARM and the workspace API."""
    app.emulator.set_faults([
        {"match": "/providers/Microsoft.Databricks/workspaces", "method": "GET", "action": "429", "count": 2,
         "retry_after": 1},
        {"match": "virtualNetworks", "action": "500", "count": 3},
        {"match": "diagnosticSettings", "action": "reset", "count": 2},
        {"match": "/api/2.0/ip-access-lists", "action": "429", "count": 3, "retry_after": 1},
        {"match": "/api/2.0/workspace-conf", "action": "500", "count": 2},
    ])
    sweep(app)
    return Figures("ARM/API 429 storm + 500s + resets", findings_expected=EXPECTED_OPEN,
                   findings_stored=open_count(app), alerts_sent=len(app.emulator.teams_posts()),
                   notes={"eval_findings": [x.rule_id for x in app.store().query(top=1000)[0]
                                            if x.rule_id.startswith("DBX-EVAL") and x.workspace_name != "dev-shared"]})


def workspace_turns_403(app: App) -> Figures:
    """After a good sweep a workspace answers 403: its in-workspace findings stay open, EVAL-002 opens."""
    sweep(app)
    before = {x.id for x in app.store().query(status="open", workspace=WS["dbw-bi-prod"], top=1000)[0]}
    app.emulator.set_faults(deny_workspace="adb-0000000000001005.5.azuredatabricks.net", status=403)
    sweep(app)
    after = app.store().query(status="open", workspace=WS["dbw-bi-prod"], top=1000)[0]
    resolved = app.store().query(status="resolved", top=1000)[0]
    return Figures("workspace API turns 403", findings_expected=len(before) + 1, findings_stored=len(after),
                   alerts_sent=len(app.emulator.teams_posts()),
                   notes={"kept_open": before <= {x.id for x in after}, "resolved": len(resolved),
                          "eval_002": [x.rule_id for x in after if x.rule_id == "DBX-EVAL-002"]})


def arm_hang(app: App) -> Figures:
    """VNet reads hang: bounded by timeouts, DBX-EVAL-001 opens, network findings are kept.

    A sweep lists VNets per subscription and hands them to its workers (core/service/handoff.py), so the
    subscription list hangs first (the sweep hands off no network and the workers GET it), then the one
    VNet's GET does."""
    sweep(app)
    ml_before = {x.id for x in app.store().query(status="open", workspace=WS["dbw-ml-prod"], top=1000)[0]}
    app.emulator.set_faults([
        {"match": r"/providers/Microsoft\.Network/virtualNetworks$", "action": "hang", "hang_seconds": 60},
        {"match": "virtualNetworks/vnet-ml", "action": "hang", "hang_seconds": 60}])
    app.rt.collect = type(app.rt.collect)(**{**app.rt.collect.__dict__, "read_timeout_s": 1.0, "arm_retries": 1})
    app.rt._arm = None
    sweep(app)
    after = app.store().query(status="open", workspace=WS["dbw-ml-prod"], top=1000)[0]
    return Figures("ARM hang on a VNet", findings_expected=len(ml_before) + 1, findings_stored=len(after),
                   alerts_sent=len(app.emulator.teams_posts()),
                   notes={"kept_open": ml_before <= {x.id for x in after},
                          "eval_001": [x.rule_id for x in after if x.rule_id == "DBX-EVAL-001"]})


def storage_outage_mid_sweep(app: App, azurite: Any) -> Figures:
    """Azurite stops after a few workspaces and comes back: re-running converges, nothing doubles."""
    app.host.fire_timer()
    processed = {"n": 0}

    def maybe_stop(_: str) -> None:
        processed["n"] += 1
        if processed["n"] == 3:
            azurite.stop()
            import threading

            threading.Timer(2.0, azurite.start).start()

    scans = app.host.drain("scan-requests", "scan_workspace", workers=1, on_message=maybe_stop, max_s=90)
    notes = app.host.drain("drift-findings", "notify_drift", workers=1, max_s=90)
    # Re-running the sweep converges to the same state; nothing opens twice, nothing is notified twice.
    sweep(app)
    hist = histories(app)
    doubles = {k: v for k, v in hist.items() if v.count("opened") > 1}
    mentions = alerted_subjects(app)
    return Figures("Azurite stopped mid-sweep and restarted", findings_expected=EXPECTED_OPEN,
                   findings_stored=open_count(app), alerts_sent=len(app.emulator.teams_posts()),
                   notes={"scan_errors": len(scans.errors), "notify_errors": len(notes.errors),
                          "double_opens": len(doubles), "double_alerts": len(mentions) - len(set(mentions))})


def teams_faults(app: App, action: str, **rule: Any) -> Figures:
    """Teams misbehaves for one drift: retried, then poison; the store says not notified; replay once."""
    from core.store.poison import replay_poison

    sweep(app)
    app.emulator.clear_teams()
    app.emulator.set_faults([{"match": "/teams/", "action": action, **rule}])
    arm(app, "PUT", f"{NSG['nsg-analytics']}/securityRules/dbg", f.nsg_rule(
        NSG["nsg-analytics"], "dbg", "Inbound", 150, "Tcp", "Internet", "*", "22"))
    app.host.deliver_event_grid(app.emulator.events()[-1:])
    _, notes = app.run_queues()
    row = next(x for x in app.store().query(status="open", workspace=WS["dbw-analytics-prod"], top=100)[0])
    pk = __import__("core.store", fromlist=["resource_key"]).resource_key(row.resource_id)
    state_after_fault = app.store().findings_table.get_entity(pk, row.id)["notify_state"]
    app.emulator.clear_faults()
    replay = replay_poison(app.rt.connection, "drift-findings")
    app.host.drain("drift-findings", "notify_drift")
    replay_again = replay_poison(app.rt.connection, "drift-findings")
    app.host.drain("drift-findings", "notify_drift")
    return Figures(f"Teams {action}", events_injected=1, findings_expected=1,
                   findings_stored=len(app.store().query(status="open", workspace=WS["dbw-analytics-prod"])[0]),
                   alerts_sent=len(app.emulator.teams_posts()),
                   notes={"poisoned": notes.poisoned, "notify_state_after_fault": state_after_fault,
                          "replayed": replay.replayed, "replayed_again": replay_again.replayed})


def event_grid_semantics(app: App) -> Figures:
    """Every event twice, shuffled, a stale one last: the end state equals in-order delivery."""
    sweep(app)
    app.emulator.clear_events()
    nsg = NSG["nsg-analytics"]
    arm(app, "PUT", f"{nsg}/securityRules/a", f.nsg_rule(nsg, "a", "Inbound", 150, "Tcp", "Internet", "*", "22"))
    arm(app, "PUT", f"{nsg}/securityRules/b", f.nsg_rule(nsg, "b", "Inbound", 151, "Tcp", "Internet", "*", "23"))
    arm(app, "DELETE", f"{nsg}/securityRules/a")
    ws_doc = next(r for r in f.sample_estate()["resources"] if r.get("name") == "dbw-finance-prod")
    arm(app, "DELETE", ws_doc["id"], api="2026-01-01")
    events = app.emulator.events()
    delivery = events * 2
    random.Random(11).shuffle(delivery)
    delivery.append(events[0])  # a stale event (rule a created) after the newer delete of rule a
    app.host.deliver_event_grid(delivery)
    app.run_queues()
    open_now = {(x.workspace_name, x.rule_id, x.subject) for x in app.store().query(status="open", top=1000)[0]}
    finance_open = [x for x in open_now if x[0] == "dbw-finance-prod"]
    return Figures("Event Grid: duplicates, shuffled, stale", events_injected=len(delivery),
                   findings_expected=EXPECTED_OPEN + 1, findings_stored=len(open_now),
                   alerts_sent=len(app.emulator.teams_posts()),
                   notes={"rule_b_open": ("dbw-analytics-prod", "DBX-NET-005", "b") in open_now,
                          "rule_a_open": ("dbw-analytics-prod", "DBX-NET-005", "a") in open_now,
                          "finance_open_after_delete": len(finance_open)})
