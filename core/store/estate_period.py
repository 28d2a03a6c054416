"""The transitions of a period (`since`/`until`) from the estate time index (core/store/estate.py).

Estate-wide (or one subscription's) "what changed between since and until" reads the day partitions of
the estate index instead of a filtered scan of every workspace index partition, when the newest estate
snapshot before `since` proves them complete; otherwise the caller runs that scan. The answer is the same
either way (tests/contract/store/test_estate_period.py).
"""

from __future__ import annotations

import itertools
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from core.arm_ids import arm_fold
from core.store.connection import FINDINGS_TABLE, HISTORY_TABLE, storage_call
from core.store.estate import (
    CorruptSnapshot,
    EstateSnapshot,
    days_between,
    estate_partition,
    key_seqs,
    newest_heads,
    parse_index_key,
    read_snapshot,
    unaccounted,
)
from core.store.keys import utc

if TYPE_CHECKING:
    from core.store.history import HistoryQueries

log = logging.getLogger("core.store.estate")
"""The estate history's one logger (core/store/estate.py logs its snapshot warnings on it too)."""

PERIOD_FALLBACK_WORKSPACES = 64
"""More workspaces than this that do not add up: the whole period read uses the estate-wide query."""


def _scope_seqs(store: HistoryQueries, subscription: str | None) -> tuple[dict[str, int], dict[str, str], datetime]:
    """(finding id -> its current row's `seq`, finding id -> workspace id, the latest transition), for the
    findings in scope; the estate is read as 16 ranges of the hashed partition keys in parallel."""
    clauses, params = [], {}
    if subscription is not None:
        clauses.append("subscription_id eq @sub")
        params["sub"] = arm_fold(subscription)
    select = ["RowKey", "resource_id", "seq", "last_transition_at"]
    bounds = [f"{i:x}" for i in range(16)] + ["g"]  # resource_key() is lower-case hex
    jobs = [(["PartitionKey ge @lo and PartitionKey lt @hi", *clauses], {"lo": lo, "hi": hi})
            for lo, hi in itertools.pairwise(bounds)]

    def read(job: tuple[list[str], dict[str, str]]) -> list[Any]:
        with storage_call("query", FINDINGS_TABLE):
            return list(store.findings_table.query_entities(" and ".join(job[0]), parameters={**params, **job[1]},
                                                            select=select, results_per_page=1000))

    seq: dict[str, int] = {}
    ws: dict[str, str] = {}
    last = datetime(1970, 1, 1, tzinfo=UTC)
    with ThreadPoolExecutor(max_workers=8) as pool:
        for rows in pool.map(read, jobs):
            for e in rows:
                seq[str(e["RowKey"])] = int(e.get("seq") or 0)
                ws[str(e["RowKey"])] = arm_fold(str(e.get("resource_id") or ""))
                if isinstance(e.get("last_transition_at"), datetime):
                    last = max(last, utc(e["last_transition_at"]))
    return seq, ws, last


def period_rows(store: HistoryQueries, since: datetime, until: datetime | None, *, subscription: str | None = None,
                select: list[str] | None = None) -> list[Any] | None:
    """The transition index rows with `since <= at <= until` of the estate (of `subscription`, when given),
    from the estate index's day partitions instead of a filtered scan of every workspace index partition;
    None when that cannot be proven complete (the caller runs that scan).

    Proof, as for as-of reads: the newest snapshot at W <= `since` counts every finding's transitions by W;
    the estate index rows after W (keys only outside the period, at most three requests a day up to the
    latest transition in scope) must make up the rest of its current row's `seq`. Then the estate index
    holds every transition of it after W, so every one in the period (an estate index row always has its
    workspace index row). A workspace with a finding that does not add up (history from before the estate
    index, a transition still in an outbox, a finding without a current row) is read from its own workspace
    index partition; many such workspaces, or no usable snapshot, and None is returned, with a warning."""
    snap = _snapshot_before(store, since)
    if snap is None:
        return None
    current, ws_of, last = _scope_seqs(store, subscription)
    full, seqs = _read_days(store, snap, since, until, subscription, select, last)
    counts = {fid: s.count for fid, s in snap.findings.items()}
    bad = unaccounted(counts, seqs, current, set(current))
    fallback = {ws_of[f] for f in bad if ws_of.get(f)}
    for e in full:  # in the period but without a current row in scope: nothing to check it against
        if str(e.get("finding_id") or "") not in current:
            fallback.add(arm_fold(str(e.get("resource_id") or "")))
    if len(fallback) > PERIOD_FALLBACK_WORKSPACES or any(not ws_of.get(f) for f in bad):
        log.warning("estate history: %d workspace(s) have transitions the estate index does not account for: the "
                    "period is read with the estate-wide query of the workspace index", len(fallback))
        return None
    if not fallback:
        return full
    log.warning("estate history: %d finding(s) in %d workspace(s) have transitions the estate index does not "
                "account for (history from before it, or still being written): the period's transitions of "
                "those workspaces are read from their workspace index", len(bad), len(fallback))
    kept = [e for e in full if arm_fold(str(e.get("resource_id") or "")) not in fallback]
    return kept + [e for e in store._index_rows(resource_ids=sorted(fallback), since=since, until=until,
                                                subscription=subscription)
                   if e.get("kind") == "transition"]


def _snapshot_before(store: HistoryQueries, since: datetime) -> EstateSnapshot | None:
    """The newest snapshot strictly before `since` (rows at `since` come after its watermark), or None."""
    heads = newest_heads(store, utc(since) - timedelta(microseconds=1), 1)
    if not heads:
        log.warning("estate history: no snapshot at or before %s: the period is read with the estate-wide "
                    "query of the workspace index", f"{utc(since):%Y-%m-%dT%H:%M:%SZ}")
        return None
    try:
        return read_snapshot(store, heads[0])
    except CorruptSnapshot as exc:
        log.warning("estate history snapshot %s is not usable (%s): the period is read with the estate-wide "
                    "query of the workspace index", heads[0].get("RowKey"), exc)
        return None


def _read_days(store: HistoryQueries, snap: EstateSnapshot, since: datetime, until: datetime | None,
               subscription: str | None, select: list[str] | None, last: datetime
               ) -> tuple[list[Any], list[tuple[str, int]]]:
    """(the period's rows in full, (finding, seq) of every estate index row after the watermark): per day
    from the watermark to the latest transition in scope, at most three key ranges (before the period and
    after it keys only)."""
    from core.store.history import TIME_FORMAT, TIME_KEYS_END, time_key

    after = snap.covers + "~"
    lo = max(after, time_key(since))
    hi = time_key(until) + "~" if until is not None else TIME_KEYS_END
    flt = "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi and kind eq @k"
    params: dict[str, Any] = {"k": "transition"}
    if subscription is not None:
        flt += " and subscription_id eq @sub"
        params["sub"] = arm_fold(subscription)
    cols = None if select is None else sorted({*select, "RowKey", "resource_id", "finding_id"})
    start = datetime.strptime(snap.covers, TIME_FORMAT).replace(tzinfo=UTC)

    def read(day: datetime) -> tuple[list[Any], list[str]]:
        pk, day_key = estate_partition(day), f"{day:%Y%m%d}"
        segments = [(after, lo, False), (lo, hi, True), (hi, TIME_KEYS_END, False)]
        full: list[Any] = []
        keys: list[str] = []
        with storage_call("query", HISTORY_TABLE):
            for a, b, whole in segments:
                # a RowKey of this partition starts with day_key; skip ranges that cannot hold one
                if a >= b or a[:8] > day_key or b[:8] < day_key:
                    continue
                if whole:
                    full += store.history_table.query_entities(flt, parameters={**params, "pk": pk, "lo": a, "hi": b},
                                                               select=cols, results_per_page=1000)
                else:
                    keys += [str(e["RowKey"]) for e in store.history_table.query_entities(
                        "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
                        parameters={"pk": pk, "lo": a, "hi": b}, select=["RowKey"], results_per_page=1000)]
        return full, keys

    full: list[Any] = []
    seqs: list[tuple[str, int]] = []
    with ThreadPoolExecutor(max_workers=8) as pool:
        for rows, keys in pool.map(read, days_between(start, max(last, start))):
            full += rows
            seqs += [p for p in map(parse_index_key, keys) if p is not None]
    return full, seqs + key_seqs(full)
