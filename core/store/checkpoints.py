"""History checkpoints: the state of every finding of a workspace at an instant, so an as-of read of a
workspace starts there instead of at the beginning of its history.

Layout (in `findinghistory`, insert only like every other row there): PartitionKey = `cp-{resource_key}`,
RowKey = the checkpoint time *inverted* (`10**17 - microseconds since 1970`, 17 digits), so the newest
checkpoint at or before T is the first row of the key range `RowKey ge inverted(T)`: one request, one row.
The row holds, for each finding that has an index row at or before the checkpoint time C, the RowKey and
the transition message of its latest index row with time <= C (exactly what a full replay of the
workspace's index partition up to C keeps), plus a sha256 of that content. As of T >= C is then that
state folded with the index rows of the key range `(C, T]`.

Written by `extend_checkpoints`: from the newest valid checkpoint (or the start of the partition) it folds
the index rows in time order and inserts a checkpoint every `every` transitions, never later than
`until`. Reconcile calls it (`checkpoint_if_due`) each time a workspace's transition count crosses a
multiple of its interval (max(25, findings in the workspace): about 10 % more storage, at most one
interval of rows read after the checkpoint); `driftwatch findings migrate-history` runs it for every
workspace over existing history.

Why a checkpoint is never wrong: it covers only rows older than `SETTLE` (1 h, more than the Functions
timeout of 10 min: a scan that started before that is over or was killed), and never past the earliest
transition still waiting in a finding row's outbox (its history rows may not be written yet; the
re-driver writes them later). A checkpoint that is missing, unreadable, of another schema, or whose
sha256 does not match is not used: the read falls back to the full replay of the partition.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from core.arm_ids import arm_fold
from core.store.connection import FINDINGS_TABLE, HISTORY_TABLE, storage_call
from core.store.keys import get_json, put_json, resource_key, utc

if TYPE_CHECKING:
    from core.store.history import HistoryQueries

log = logging.getLogger(__name__)

CHECKPOINT_PREFIX = "cp-"
CHECKPOINT_SCHEMA = "driftwatch.history-checkpoint/v1"
SETTLE = timedelta(hours=1)
"""A checkpoint covers only history older than this (see the module docstring)."""
MIN_INTERVAL = 25
"""Transitions between checkpoints of a workspace: max(MIN_INTERVAL, its number of findings)."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INVERT = 10**17


def checkpoint_partition(resource_id: str) -> str:
    return CHECKPOINT_PREFIX + resource_key(resource_id)


def inverted_key(dt: datetime) -> str:
    """Later instants sort first (Table Storage reads keys ascending only)."""
    micros = (utc(dt) - _EPOCH) // timedelta(microseconds=1)
    return f"{_INVERT - micros:017d}"


def interval(findings: int) -> int:
    return max(MIN_INTERVAL, findings)


@dataclass(frozen=True)
class Checkpoint:
    at: datetime
    covers: str
    """time_key(at): the checkpoint holds every index row whose RowKey is below `covers + "~"`."""
    latest: dict[str, tuple[str, dict[str, Any]]]
    """finding id -> (RowKey, transition message) of its latest index row at or before `at`."""
    transitions: int
    """Index transition rows folded in (cumulative, from the start of the partition)."""


class CorruptCheckpoint(ValueError):
    """A checkpoint row that cannot be trusted; the caller replays the partition instead."""


def _digest(latest: dict[str, Any]) -> str:
    text = json.dumps(latest, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_checkpoint(e: Any) -> Checkpoint:
    """Validate one checkpoint row; CorruptCheckpoint when anything in it does not add up."""
    from core.store.history import time_key

    try:
        doc = get_json(e, "state")
        at = utc(e["at"])
        latest_doc = doc["findings"]
        ok = (doc.get("schema") == CHECKPOINT_SCHEMA and isinstance(latest_doc, dict)
              and e.get("kind") == "checkpoint" and doc.get("covers") == time_key(at)
              and e["RowKey"] == inverted_key(at) and _digest(latest_doc) == e.get("sha256")
              and all(isinstance(v, list) and len(v) == 2 and isinstance(v[0], str) and isinstance(v[1], dict)
                      for v in latest_doc.values()))
        if not ok:
            raise CorruptCheckpoint("checkpoint fields do not add up")
        return Checkpoint(at, doc["covers"], {k: (v[0], v[1]) for k, v in latest_doc.items()},
                          int(doc.get("transitions") or 0))
    except CorruptCheckpoint:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:  # includes zlib/base64/json errors
        raise CorruptCheckpoint(type(exc).__name__) from None


def latest_checkpoint(store: HistoryQueries, resource_id: str, at: datetime) -> Checkpoint | None:
    """The newest checkpoint at or before `at` (one request); None when there is none or it is corrupt."""
    pk = checkpoint_partition(resource_id)
    with storage_call("query", HISTORY_TABLE):
        rows = store.history_table.query_entities("PartitionKey eq @pk and RowKey ge @lo",
                                                  parameters={"pk": pk, "lo": inverted_key(at)}, results_per_page=1)
        e = next(iter(rows), None)
    if e is None:
        return None
    try:
        return parse_checkpoint(e)
    except CorruptCheckpoint as exc:
        log.warning("history checkpoint %s/%s of %s is not usable (%s): replaying the full history",
                    pk, e.get("RowKey"), arm_fold(resource_id), exc)
        return None


def _earliest_outbox(store: HistoryQueries, resource_id: str) -> tuple[datetime | None, int]:
    """(time of the earliest transition still in an outbox, findings in the workspace) from its current rows."""
    earliest: datetime | None = None
    n = 0
    with storage_call("query", FINDINGS_TABLE):
        rows = list(store.findings_table.query_entities("PartitionKey eq @pk",
                                                        parameters={"pk": resource_key(resource_id)}))
    for e in rows:
        n += 1
        if not e.get("outbox_n"):
            continue
        for item in get_json(e, "outbox") or []:
            at = utc(datetime.fromisoformat(str(item["message"]["at"]).replace("Z", "+00:00")))
            earliest = at if earliest is None or at < earliest else earliest
    return earliest, n


def _checkpoint_entity(resource_id: str, at: datetime, covers: str, latest: dict[str, list[Any]],
                       transitions: int) -> dict[str, Any]:
    e: dict[str, Any] = {"PartitionKey": checkpoint_partition(resource_id), "RowKey": inverted_key(at),
                         "kind": "checkpoint", "at": utc(at), "resource_id": arm_fold(resource_id),
                         "findings": len(latest), "transitions": transitions, "sha256": _digest(latest)}
    put_json(e, "state", {"schema": CHECKPOINT_SCHEMA, "covers": covers, "transitions": transitions,
                          "findings": latest})
    return e


def extend_checkpoints(store: HistoryQueries, resource_id: str, until: datetime, every: int | None = None, *,
                       final: bool = False) -> int:
    """Insert the workspace's checkpoints due up to `until` (one every `every` transitions); returns how many.
    `final`: also one at the last transition before `until` (the migration of existing history).

    Reads the newest valid checkpoint at or before `until` and the index rows after it, once."""
    from azure.core.exceptions import ResourceExistsError

    from core.store.history import TIME_FORMAT, index_partition, time_key

    until = utc(until)
    pending_at, findings = _earliest_outbox(store, resource_id)
    if pending_at is not None and pending_at <= until:
        until = pending_at - timedelta(microseconds=1)  # its history rows may still be missing
    every = every or interval(findings)
    base = latest_checkpoint(store, resource_id, until)
    latest: dict[str, tuple[str, dict[str, Any]]] = dict(base.latest) if base is not None else {}
    count = base.transitions if base is not None else 0
    lo = base.covers + "~" if base is not None else "0"
    hi = time_key(until) + "~"
    with storage_call("query", HISTORY_TABLE):
        rows = list(store.history_table.query_entities(
            "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi and kind eq @k",
            parameters={"pk": index_partition(resource_id), "lo": lo, "hi": hi, "k": "transition"},
            results_per_page=1000))
    rows.sort(key=lambda e: e["RowKey"])
    width = len(time_key(until))
    written = since = 0
    for i, e in enumerate(rows):
        fid = str(e["finding_id"])
        if fid not in latest or e["RowKey"] > latest[fid][0]:
            latest[fid] = (str(e["RowKey"]), get_json(e, "message"))
        count += 1
        since += 1
        prefix = str(e["RowKey"])[:width]
        last = i + 1 == len(rows)
        if (since < every and not (final and last)) or (not last and str(rows[i + 1]["RowKey"])[:width] == prefix):
            continue  # not due yet; or more rows of this instant follow (a checkpoint covers all of them)
        at = datetime.strptime(prefix, TIME_FORMAT).replace(tzinfo=UTC)
        doc = {k: [rk, msg] for k, (rk, msg) in latest.items()}
        try:
            entity = _checkpoint_entity(resource_id, at, prefix, doc, count)
        except ValueError:
            log.warning("history checkpoint of %s would be too large; as-of reads replay its history",
                        arm_fold(resource_id))
            return written
        with storage_call("append", HISTORY_TABLE), contextlib.suppress(ResourceExistsError):
            store.history_table.create_entity(entity)  # insert only: findinghistory is append-only
            written += 1
        since = 0
    return written


def checkpoint_if_due(store: HistoryQueries, resource_id: str, *, transitions_before: int, transitions_after: int,
                      findings: int, now: datetime) -> None:
    """Reconcile's hook: when the workspace's transition count crossed a multiple of its interval, extend
    its checkpoints up to `now - SETTLE`. A failure here only costs later reads a longer replay."""
    every = interval(findings)
    if transitions_after // every == transitions_before // every:
        return
    try:
        extend_checkpoints(store, resource_id, utc(now) - SETTLE, every)
    except Exception as exc:  # an optimisation must not fail the reconcile whose writes are already done
        log.warning("history checkpoint of %s not written (%s); as-of reads replay its history",
                    arm_fold(resource_id), type(exc).__name__)
