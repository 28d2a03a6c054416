"""One scan: discovery -> collection -> the same evaluation as `evaluate`. Used by the CLI and Functions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from core.baseline.load import Baseline
from core.collect import CollectConfig, CollectResult, EstateCollector
from core.collect.collector import Skipped
from core.evaluate import ScanResult, evaluate_states
from core.findings.model import Source
from core.rules import read_plan
from core.state.model import WorkspaceState


class ScanProgress(Protocol):
    def start(self, total: int) -> None: ...

    def done(self, failed: bool) -> None: ...


@dataclass
class ScanOutcome:
    result: ScanResult
    states: list[WorkspaceState] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    subscriptions: list[str] = field(default_factory=list)


def run_scan(config: CollectConfig, baseline: Baseline, *, subscriptions: Sequence[str] = (),
             workspace_ids: Sequence[str] = (), source: Source = "cli",
             subnet_users: dict[str, list[str]] | None = None,
             progress: ScanProgress | None = None) -> ScanOutcome:
    """`progress` (the CLI's bar) hears the number of workspaces once known, then each one as it ends."""
    started = datetime.now(UTC)
    with EstateCollector(config, baseline, plan=read_plan) as collector:
        if workspace_ids:
            collected = CollectResult()
            ids = list(dict.fromkeys(workspace_ids))
            if progress is not None:
                progress.start(len(ids))
            for wid in ids:
                state = collector.collect_by_id(wid, subnet_users)
                if progress is not None:
                    progress.done(isinstance(state, WorkspaceState) and bool(state.errors))
                if state is None:
                    collected.deleted.append(wid)
                elif isinstance(state, Skipped):
                    collected.skipped.append(state.as_dict())
                else:
                    collected.states.append(state)
        else:
            docs, collected = collector.discover(subscriptions or None)
            if progress is not None:
                progress.start(len(docs))
            collector.prefetch_network(docs)  # one paged list per subscription instead of a GET per VNet/NSG
            collector.collect(docs, collected, progress=None if progress is None else progress.done)
    result = evaluate_states(collected.states, baseline, source=source, now=started, errors=collected.errors,
                             skipped=collected.skipped)
    result.finished_at = datetime.now(UTC)
    return ScanOutcome(result=result, states=collected.states, deleted=collected.deleted,
                       subscriptions=collected.subscriptions)
