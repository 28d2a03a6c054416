"""The finding lifecycle, decided by pure functions: opened, still open, resolved, reopened, exempted.

The store (core/store/findings.py) loads a row, asks `decide`, and writes what it says with a conditional
write; on a lost race it reloads and asks again. Everything that makes a finding change state is here,
so it can be read (and property-tested: tests/unit/findings/test_lifecycle_properties.py) without Table Storage.

Invariants:
- a finding is resolved only by an observation: its rule was evaluated (or observed not to apply);
- deciding again on the result of a decision changes nothing (replays are idempotent);
- an evaluation older than what the row reflects changes nothing (late deliveries lose).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.findings.model import ATTRIBUTION_FIELDS, Attributor, Finding
from core.findings.transition import TransitionKind, utc

Decision = tuple[Finding | None, TransitionKind | None]
"""(the finding to write, or None for "write nothing"; the transition it records, or None)."""


def observed_until(f: Finding) -> datetime:
    """The newest observation a stored finding reflects; older evaluations must not overwrite it."""
    times = [utc(f.last_seen)]
    if f.resolved_at is not None:
        times.append(utc(f.resolved_at))
    return max(times)


def decide(old: Finding | None, new: Finding | None, *, evaluated_rules: frozenset[str] | None,
           now: datetime, source: str, attribution: Attributor | None = None,
           not_applicable: bool = False) -> Decision:
    """One finding's next state, from what is stored (`old`) and what this evaluation found (`new`).

    `evaluated_rules`: the rules whose input this evaluation observed (None: every rule, e.g. a deleted
    workspace). Attribution (`changed_by`, ...) describes the change behind the latest transition: a
    transition takes it from `attribution(rule_id)` (None clears it: a sweep knows no author); a finding
    that merely stays open keeps what it had. `not_applicable`: this evaluation observed that the
    finding's rule (or subject) cannot apply to the workspace, which resolves it although the rule itself
    was not evaluated.
    """
    def who(rule_id: str) -> dict[str, Any]:
        found = attribution(rule_id) if attribution is not None else None
        return found.fields() if found is not None else dict.fromkeys(ATTRIBUTION_FIELDS)

    if new is not None:
        if old is None:
            merged = new.model_copy(update={"first_seen": now, "last_seen": now, "resolved_at": None,
                                            **who(new.rule_id)})
            return merged, ("exempted" if new.status == "exempted" else "opened")
        if now < observed_until(old):
            return None, None  # an older evaluation arriving late: the store already knows better
        merged = new.model_copy(update={"first_seen": old.first_seen, "last_seen": now, "resolved_at": None})
        kind: TransitionKind | None = None
        if old.status == "resolved" or old.status != new.status:
            kind = "exempted" if new.status == "exempted" else "reopened"
        if kind is None:
            merged = merged.model_copy(update={n: getattr(old, n) for n in ATTRIBUTION_FIELDS})
            if merged == old:
                return None, None
            return merged, None
        return merged.model_copy(update=who(new.rule_id)), kind
    if old is None or old.status == "resolved":
        return None, None
    if evaluated_rules is not None and old.rule_id not in evaluated_rules and not not_applicable:
        return None, None  # nothing resolves on missing data
    if now < observed_until(old):
        return None, None
    return old.model_copy(update={"status": "resolved", "resolved_at": now, "source": source,
                                  **who(old.rule_id)}), "resolved"
