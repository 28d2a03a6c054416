"""One scan: discovery -> collection -> the same evaluation as `evaluate`. Used by the CLI and Functions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from core.baseline.load import Baseline
from core.collect import CollectConfig, CollectResult, EstateCollector
from core.collect.collector import Skipped
from core.evaluate import ScanResult, evaluate_states
from core.findings.model import Source
from core.state.model import WorkspaceState


@dataclass
class ScanOutcome:
    result: ScanResult
    states: list[WorkspaceState] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    subscriptions: list[str] = field(default_factory=list)


def run_scan(config: CollectConfig, baseline: Baseline, *, subscriptions: Sequence[str] = (),
             workspace_ids: Sequence[str] = (), source: Source = "cli",
             subnet_users: dict[str, list[str]] | None = None) -> ScanOutcome:
    started = datetime.now(UTC)
    with EstateCollector(config, baseline) as collector:
        if workspace_ids:
            collected = CollectResult()
            for wid in dict.fromkeys(workspace_ids):
                state = collector.collect_by_id(wid, subnet_users)
                if state is None:
                    collected.deleted.append(wid)
                elif isinstance(state, Skipped):
                    collected.skipped.append(state.as_dict())
                else:
                    collected.states.append(state)
        else:
            docs, collected = collector.discover(subscriptions or None)
            collector.collect(docs, collected)
    result = evaluate_states(collected.states, baseline, source=source, now=started, errors=collected.errors,
                             skipped=collected.skipped)
    result.finished_at = datetime.now(UTC)
    return ScanOutcome(result=result, states=collected.states, deleted=collected.deleted,
                       subscriptions=collected.subscriptions)
