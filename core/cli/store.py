"""`driftwatch scan` with the findings store on: the same reconcile and notify code as the Functions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core.baseline.load import Baseline
from core.collect import CollectConfig
from core.errors import InputError
from core.scan import ScanOutcome
from core.settings import load_settings


def store_and_notify(outcome: ScanOutcome, baseline: Baseline, config: CollectConfig, *, notify: bool,
                     emulator: str | None) -> dict[str, int]:
    """Reconcile every evaluation with the store, resolve deleted workspaces, post digests directly."""
    from dataclasses import replace

    from core import service

    settings = load_settings()
    if not settings.storage and not settings.storage_account_name:
        raise InputError("no findings store configured: set AzureWebJobsStorage (e.g. Azurite) or pass --no-store")
    if emulator and not settings.teams_webhook_url:
        settings = replace(settings, teams_webhook_url=f"{emulator.rstrip('/')}/teams/webhook", auth="emulator")
    rt = service.Runtime(settings=settings, collect=config, baseline_path=baseline.source, _baseline=baseline)
    now = outcome.result.started_at
    by_id = {s.resource_id.lower(): s for s in outcome.states}
    transitions: list[Any] = []
    for ev in outcome.result.evaluations:
        transitions += service.store_evaluation(rt, by_id[ev.resource_id.lower()], ev, "cli", now)
    for wid in outcome.deleted:
        transitions += service.resolve_deleted(rt, wid, "cli", now)
    posted = 0
    if notify:
        for wid in sorted({t.finding.resource_id for t in transitions}):
            posted += service.notify_workspace(rt, wid, datetime.now(UTC)).posted
    return {"transitions": len(transitions), "posts": posted}
