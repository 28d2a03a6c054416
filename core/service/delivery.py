"""Delivering recorded transitions: queue each one, then clear it from its finding row's outbox.

The transition is already durable in the row (written in the same Table transaction as the change),
so a crash anywhere here re-sends it later: delivery is at-least-once, never lost.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from core.service.runtime import Runtime

if TYPE_CHECKING:
    from core.store import Transition

log = logging.getLogger("driftwatch")


def send_transitions(rt: Runtime, transitions: Sequence[Transition]) -> None:
    """Queue each transition, then clear it from its row's outbox (a crash in between re-sends it)."""
    from core.store.outbox import crash_point

    if not transitions:
        return
    crash_point("before-queue-send")
    queues, store = rt.queues(), rt.store()
    for t in transitions:
        queues.send_transition(t)
    crash_point("before-outbox-clear")
    store.outbox_delivered(transitions)


def redeliver_outbox(rt: Runtime) -> int:
    """Re-drive transitions whose writer died before delivering them (history rows and queue message)."""
    transitions = rt.store().undelivered(rt.outbox_redrive_after_s)
    if transitions:
        log.warning("re-driving %d undelivered transitions from the outbox", len(transitions))
        send_transitions(rt, transitions)
    return len(transitions)
