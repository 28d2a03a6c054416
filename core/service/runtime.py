"""The process-wide runtime: settings, baseline and the adapters, built once and reused across invocations."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.baseline.load import Baseline, load_baseline
from core.collect import CollectConfig, EstateCollector
from core.collect.arm import ArmReader
from core.rules import read_plan
from core.settings import Settings, load_settings
from core.state.lifecycle import SETTLE_RECHECKS_S

if TYPE_CHECKING:
    from core.store import QueueBus, StorageConnection, TableFindingsStore, TopologyStore
    from core.store.pending import PendingScans

COALESCE_WINDOW_S = 10
LISTED_MAX_AGE_S = 900.0
"""A sweep's worker uses the documents the sweep listed for at most this long (15 min), then reads ARM: a
backlog that old no longer stands for the current state (changes in between come as events, which make
the worker read ARM at once, core/service/handoff.py)."""
"""Minimum gap between two event-driven scans of one workspace (see core/store/pending.py)."""
OUTBOX_REDRIVE_AFTER_S = 180.0
"""The sweep re-sends transitions still in a finding row's outbox after this long (their writer died
between the table write and the queue send): delivery is at-least-once, never lost."""


@dataclass
class Runtime:
    """Everything one process needs, built once from the app settings (cold start stays cheap).

    The storage adapters are imported on first use: `import function_app` stays light.
    """

    settings: Settings
    collect: CollectConfig
    baseline_path: str
    coalesce_window_s: int = COALESCE_WINDOW_S
    outbox_redrive_after_s: float = OUTBOX_REDRIVE_AFTER_S
    settle_delays_s: tuple[int, ...] = SETTLE_RECHECKS_S
    listed_max_age_s: float = LISTED_MAX_AGE_S
    """How long a sweep's listed documents stand for the current state for its workers (core/service/handoff.py)."""
    """Visibility delays of the re-checks of a workspace that is not settled (core/state/lifecycle.py)."""
    notifier_options: dict[str, Any] = field(default_factory=dict)
    _baseline: Baseline | None = None
    _connection: StorageConnection | None = None
    _arm: ArmReader | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        from core.collect.config import ConfigError
        from core.findings.model import SEVERITY_ORDER

        if settings.notify_min_severity not in SEVERITY_ORDER:
            raise ConfigError(f"DRIFTWATCH_NOTIFY_MIN_SEVERITY: expected one of {', '.join(SEVERITY_ORDER)}, "
                              f"got {settings.notify_min_severity!r}")
        if settings.public_api_url:
            from core.notify.webhook_policy import validate_public_api_url

            try:
                validate_public_api_url(settings.public_api_url, emulator_mode=settings.emulator_mode)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
        path = settings.baseline or "baseline.yaml"
        if not os.path.isabs(path) and not os.path.exists(path):
            here = Path(__file__).resolve().parents[2] / path  # the Function App root
            path = str(here)
        return cls(settings=settings, collect=CollectConfig.from_settings(settings), baseline_path=path)

    @property
    def baseline(self) -> Baseline:
        if self._baseline is None:
            self._baseline = load_baseline(self.baseline_path)
        return self._baseline

    @property
    def connection(self) -> StorageConnection:
        with self._lock:
            if self._connection is None:
                from core.store import StorageConnection

                self._connection = StorageConnection.from_settings(self.settings)
                self._connection.ensure()
            return self._connection

    @property
    def arm(self) -> ArmReader:
        with self._lock:
            if self._arm is None:
                self._arm = ArmReader(self.collect)
            return self._arm

    def collector(self) -> EstateCollector:
        return EstateCollector(self.collect, self.baseline, arm=self.arm, plan=read_plan)

    def store(self) -> TableFindingsStore:
        from core.store import TableFindingsStore

        return TableFindingsStore(self.connection)

    def queues(self) -> QueueBus:
        from core.store import QueueBus

        return QueueBus(self.connection)

    def topology(self) -> TopologyStore:
        from core.store import TopologyStore

        return TopologyStore(self.connection)

    def pending(self) -> PendingScans:
        from core.store.pending import PendingScans

        return PendingScans(self.connection, window_s=self.coalesce_window_s)


_runtime: Runtime | None = None
_runtime_lock = threading.Lock()


def runtime() -> Runtime:
    """The process-wide runtime (Functions reuse it across invocations)."""
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            _runtime = Runtime.from_settings(load_settings())
        return _runtime


def reset_runtime(rt: Runtime | None = None) -> None:
    """Tests and the local host install their own runtime."""
    global _runtime
    with _runtime_lock:
        _runtime = rt
