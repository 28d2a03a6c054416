"""Estate-wide history: a time-ordered index of every transition and snapshots of every finding's state, so
"the posture of every workspace at T" takes a handful of requests instead of two per workspace.

Layout (in `findinghistory`, insert only like every other row there; no new table, no new role):
- the estate time index: PartitionKey = `tx-{YYYYMMDD}` (the UTC day of the transition), RowKey = the
  workspace index RowKey (`{at}-{finding id}-{seq:06d}-{transition}`), the same columns as that row.
  Written by `_append_history` right *after* the workspace index row, so a transition that has a `tx-` row
  always has its `ws-` row. Transitions in a period are the key ranges of its days.
- estate snapshots: at a watermark W, for every finding with history at or before W, the RowKey and
  message of its latest transition at or before W and how many of its transitions are at or before W.
  The body is a zlib-compressed text (one line per finding) split into binary properties of 60,000
  bytes, 15 per row (Table Storage: 64 KiB a property, 1 MiB an entity) in PartitionKey `es-body`,
  RowKey `{inverted W}-{nonce}-{part:04d}`; then, last, its head row in PartitionKey `es-head`, RowKey
  `{inverted W}-{nonce}` (the newest snapshot at or before T is the first row of `RowKey ge inverted(T)`)
  with the number of parts and the sha256 of the compressed bytes. Each writer picks its own nonce, so
  two writers never share a row; a snapshot whose head is not there (a writer that died) is never read.

Reading as of T (`estate_rebuild`, for the findings that changed after T): the newest snapshot at or before
T (2 requests), then the estate index from W on, one request per day (in parallel): rows up to T in full,
rows after T keys only. Each finding is checked before it is used: its transitions at or before W (from the
snapshot) plus its estate index rows after W (seq at most the current row's) must number exactly the
current row's `seq`, i.e. every transition it ever had is accounted for. One that does not add up (history
written before this index, a row still in an outbox, a snapshot built from incomplete rows) sends its
workspace to the per-workspace path (checkpoint + workspace index, core/store/history.py) with a warning;
so does a missing, unreadable or mismatching snapshot (all workspaces). Never a wrong answer: the estate
answer is used only where it provably has every row the per-workspace replay has.

Written by the sweep (`snapshot_if_due`, at most once per `SNAPSHOT_EVERY`: the app identity already may
insert into `findinghistory`, and nothing else is needed) and by `driftwatch findings migrate-history`
(after it backfills the estate index from the workspace index). A new snapshot extends the newest one
with the estate index rows up to its watermark (never later than an hour ago, nor past a transition still
in an outbox) and is checked the same way against the current rows; workspaces that do not add up are
rebuilt from their workspace index partition.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import logging
import uuid
import zlib
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from core.arm_ids import arm_fold
from core.store.checkpoints import SETTLE, inverted_key
from core.store.connection import FINDINGS_TABLE, HISTORY_TABLE, storage_call
from core.store.keys import get_json, utc

if TYPE_CHECKING:
    from core.store.history import HistoryQueries

log = logging.getLogger(__name__)

ESTATE_INDEX_PREFIX = "tx-"
SNAPSHOT_HEADS = "es-head"
SNAPSHOT_BODY = "es-body"
SNAPSHOT_SCHEMA = "driftwatch.estate-snapshot/v1"
SNAPSHOT_EVERY = timedelta(hours=24)
"""The sweep writes a snapshot when the newest one is older than this."""
PART_BYTES = 60_000
PARTS_PER_ROW = 15
ESTATE_MIN_WORKSPACES = 8
"""An as-of read with fewer workspaces to rebuild uses the per-workspace path (fewer bytes read)."""
_TIME_LEN = 22  # len(time_key(...))


def estate_partition(at: datetime) -> str:
    return f"{ESTATE_INDEX_PREFIX}{utc(at):%Y%m%d}"


def estate_index_entity(index_entity: dict[str, Any]) -> dict[str, Any]:
    """The estate time-index copy of a workspace index row (same RowKey, day partition)."""
    return {**index_entity, "PartitionKey": estate_partition(index_entity["at"])}


def parse_index_key(row_key: str) -> tuple[str, int] | None:
    """(finding id, seq) of an index RowKey `{at}-{finding id}-{seq:06d}-{transition}`; None otherwise."""
    parts = row_key.split("-")
    if len(parts) != 4 or len(parts[0]) != _TIME_LEN or not parts[2].isdigit():
        return None
    return parts[1], int(parts[2])


@dataclass
class FindingState:
    """One finding in a snapshot: its latest transition at or before W and how many it had by then."""

    resource_id: str
    row_key: str
    message: str
    count: int


@dataclass
class EstateSnapshot:
    at: datetime
    covers: str
    """time_key(at): the snapshot holds every index row whose RowKey is below `covers + "~"`."""
    findings: dict[str, FindingState] = field(default_factory=dict)


class CorruptSnapshot(ValueError):
    """A snapshot that cannot be trusted; the caller uses the per-workspace path."""


# ------------------------------------------------------------------ reading snapshots

def newest_heads(store: HistoryQueries, at: datetime, n: int) -> list[Any]:
    with storage_call("query", HISTORY_TABLE):
        rows = store.history_table.query_entities("PartitionKey eq @pk and RowKey ge @lo",
                                                  parameters={"pk": SNAPSHOT_HEADS, "lo": inverted_key(at)},
                                                  results_per_page=n)
        return list(itertools.islice(rows, n))


def _lines(store: HistoryQueries, head: Any) -> Iterator[bytes]:
    """The snapshot body's lines (decompressed as they stream); CorruptSnapshot when it does not add up."""
    from core.store.history import time_key

    try:
        at = utc(head["at"])
        nonce, parts, digest = str(head["nonce"]), int(head["parts"]), str(head["sha256"])
        ok = (head.get("kind") == "estate-snapshot" and head.get("schema") == SNAPSHOT_SCHEMA
              and head["RowKey"] == f"{inverted_key(at)}-{nonce}" and head.get("covers") == time_key(at))
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptSnapshot(f"head: {type(exc).__name__}") from None
    if not ok:
        raise CorruptSnapshot("head fields do not add up")
    prefix = f"{inverted_key(at)}-{nonce}-"
    with storage_call("query", HISTORY_TABLE):
        rows = sorted(store.history_table.query_entities(
            "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
            parameters={"pk": SNAPSHOT_BODY, "lo": prefix, "hi": prefix[:-1] + "."}), key=lambda e: e["RowKey"])
    chunks: list[bytes] = []
    for e in rows:
        i = 0
        while f"d{i}" in e and e[f"d{i}"] is not None:
            chunks.append(bytes(e[f"d{i}"]))
            i += 1
    if len(chunks) != parts or hashlib.sha256(b"".join(chunks)).hexdigest() != digest:
        raise CorruptSnapshot(f"body: {len(chunks)} of {parts} parts, or its sha256 does not match")
    inflate = zlib.decompressobj()
    pending = b""
    try:
        for c in chunks:
            pending += inflate.decompress(c)
            *done, pending = pending.split(b"\n")
            yield from done
        pending += inflate.flush()
    except zlib.error as exc:
        raise CorruptSnapshot(f"body: {exc}") from None
    if not inflate.eof:
        raise CorruptSnapshot("body: truncated")
    if pending:
        yield pending


def read_snapshot(store: HistoryQueries, head: Any, wanted: set[str] | None = None) -> EstateSnapshot:
    """Parse a snapshot (only the findings in `wanted`, when given); CorruptSnapshot when it is not usable."""
    lines = _lines(store, head)
    try:
        first = json.loads(next(lines))
        if first.get("schema") != SNAPSHOT_SCHEMA or first.get("covers") != head.get("covers"):
            raise CorruptSnapshot("body of another schema or watermark")
        snap = EstateSnapshot(utc(head["at"]), str(first["covers"]))
        for n, line in enumerate(lines):
            if line.startswith(b"{"):  # the closing line, after n findings
                if json.loads(line).get("end") != n or n != int(first["findings"]):
                    raise CorruptSnapshot("body: finding count does not match")
                return snap
            fid_b, rid_b, rk_b, count_b, msg_b = line.split(b"\t", 4)
            fid = fid_b.decode("ascii")
            if wanted is None or fid in wanted:
                snap.findings[fid] = FindingState(rid_b.decode("utf-8"), rk_b.decode("ascii"),
                                                  msg_b.decode("utf-8"), int(count_b))
    except CorruptSnapshot:
        raise
    except (StopIteration, ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
        raise CorruptSnapshot(f"body: {type(exc).__name__}") from None
    raise CorruptSnapshot("body: no closing line")


def latest_snapshot(store: HistoryQueries, at: datetime, wanted: set[str] | None = None) -> EstateSnapshot | None:
    """The newest snapshot at or before `at`, or None (with a warning when there is one but it is not usable)."""
    heads = newest_heads(store, at, 1)
    if not heads:
        log.warning("no estate history snapshot at or before %s: as-of reads use the per-workspace path",
                    f"{utc(at):%Y-%m-%dT%H:%M:%SZ}")
        return None
    try:
        return read_snapshot(store, heads[0], wanted)
    except CorruptSnapshot as exc:
        log.warning("estate history snapshot %s is not usable (%s): as-of reads use the per-workspace path",
                    heads[0].get("RowKey"), exc)
        return None


# ------------------------------------------------------------------ the estate index

def days_between(lo: datetime, hi: datetime) -> list[datetime]:
    day = datetime(lo.year, lo.month, lo.day, tzinfo=UTC)
    out = []
    while day <= hi:
        out.append(day)
        day += timedelta(days=1)
    return out


def index_rows_after(store: HistoryQueries, after: str, full_until: str | None,
                     last: datetime) -> tuple[list[Any], list[tuple[str, int]]]:
    """Estate index rows with RowKey above `after~` up to the day of `last` (the latest transition that
    matters): (rows up to `full_until~` in full, (finding id, seq) of the rows after it). At most two
    requests (or their continuations) per day, in parallel."""
    from core.store.history import TIME_FORMAT

    start = datetime.strptime(after, TIME_FORMAT).replace(tzinfo=UTC)
    lo = after + "~"
    split = full_until + "~" if full_until is not None else lo

    def read(day: datetime) -> tuple[list[Any], list[str]]:
        pk = estate_partition(day)
        full: list[Any] = []
        keys: list[str] = []
        day_key = f"{day:%Y%m%d}"  # every RowKey of the partition starts with it
        with storage_call("query", HISTORY_TABLE):
            if split > lo and split[:8] >= day_key:  # some rows of this day are at or before `full_until`
                full = list(store.history_table.query_entities(
                    "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
                    parameters={"pk": pk, "lo": lo, "hi": split}, results_per_page=1000))
            if split[:8] <= day_key:  # some are after it
                keys = [str(e["RowKey"]) for e in store.history_table.query_entities(
                    "PartitionKey eq @pk and RowKey ge @lo", parameters={"pk": pk, "lo": max(lo, split)},
                    select=["RowKey"], results_per_page=1000)]
        return full, keys

    full_rows: list[Any] = []
    later: list[tuple[str, int]] = []
    with ThreadPoolExecutor(max_workers=8) as pool:
        for full, keys in pool.map(read, days_between(start, utc(last))):
            full_rows += full
            later += [p for p in map(parse_index_key, keys) if p is not None]
    return full_rows, later


def key_seqs(rows: Iterable[Any]) -> list[tuple[str, int]]:
    return [p for p in (parse_index_key(str(e["RowKey"])) for e in rows) if p is not None]


def unaccounted(counts_at_w: dict[str, int], seqs_after: Iterable[tuple[str, int]], current: dict[str, int],
                findings: Iterable[str]) -> set[str]:
    """The findings whose transitions are not all accounted for: before W (`counts_at_w`) + estate index
    rows after W with seq at most the current row's (later ones are in flight) != the current row's seq."""
    after: dict[str, int] = {}
    for fid, seq in seqs_after:
        if fid in current and seq <= current[fid]:
            after[fid] = after.get(fid, 0) + 1
    return {fid for fid in findings if counts_at_w.get(fid, 0) + after.get(fid, 0) != current.get(fid, -1)}


def estate_rebuild(store: HistoryQueries, as_of: datetime, pending: dict[str, set[str]],
                   current_seq: dict[str, int], last: datetime) -> tuple[dict[str, dict[str, Any]], set[str]]:
    """State at `as_of` of the `pending` findings (workspace id -> finding ids; `last`: the latest of their
    rows' last transition times), from the newest estate snapshot at or before it and the estate index
    after it: (finding id -> its latest message at or before `as_of`, absent = no history then;
    workspaces that must use the per-workspace path)."""
    from core.store.history import time_key

    wanted = {fid for fids in pending.values() for fid in fids}
    snap = latest_snapshot(store, as_of, wanted)
    if snap is None:
        return {}, set(pending)
    full, later = index_rows_after(store, snap.covers, time_key(as_of), last)
    seqs = key_seqs(full) + later
    counts = {fid: s.count for fid, s in snap.findings.items()}
    bad = unaccounted(counts, seqs, current_seq, wanted)
    fallback = {rid for rid, fids in pending.items() if fids & bad}
    if fallback:
        log.warning("estate history: %d finding(s) in %d workspace(s) have transitions the estate index does "
                    "not account for (history from before it, or still being written): those workspaces use "
                    "the per-workspace path", len(bad), len(fallback))
    latest: dict[str, tuple[str, Any]] = {fid: (s.row_key, s.message) for fid, s in snap.findings.items()}
    for e in full:
        fid = str(e.get("finding_id") or "")
        if fid in wanted and e.get("kind") == "transition" and (fid not in latest or e["RowKey"] > latest[fid][0]):
            latest[fid] = (str(e["RowKey"]), e)
    out: dict[str, dict[str, Any]] = {}
    for rid, fids in pending.items():
        if rid in fallback:
            continue
        for fid in fids:
            if fid in latest:
                msg = latest[fid][1]
                out[fid] = json.loads(msg) if isinstance(msg, str) else get_json(msg, "message")
    return out, fallback


# ------------------------------------------------------------------ writing snapshots

def _current_rows(store: HistoryQueries) -> tuple[dict[str, int], dict[str, str], datetime | None, datetime]:
    """(finding id -> seq, finding id -> workspace id, earliest transition still in an outbox, latest
    transition), estate-wide."""
    seq: dict[str, int] = {}
    ws: dict[str, str] = {}
    earliest: datetime | None = None
    last = datetime(1970, 1, 1, tzinfo=UTC)
    with storage_call("query", FINDINGS_TABLE):
        rows = list(store.findings_table.list_entities(
            select=["RowKey", "resource_id", "seq", "outbox_n", "last_transition_at"], results_per_page=1000))
    outboxed = []
    for e in rows:
        if isinstance(e.get("last_transition_at"), datetime):
            last = max(last, utc(e["last_transition_at"]))
        seq[str(e["RowKey"])] = int(e.get("seq") or 0)
        ws[str(e["RowKey"])] = arm_fold(str(e.get("resource_id") or ""))
        if e.get("outbox_n"):
            outboxed.append(e)
    if outboxed:
        with storage_call("query", FINDINGS_TABLE):
            for e in store.findings_table.query_entities("outbox_n gt 0"):
                for item in get_json(e, "outbox") or []:
                    at = utc(datetime.fromisoformat(str(item["message"]["at"]).replace("Z", "+00:00")))
                    earliest = at if earliest is None or at < earliest else earliest
    return seq, ws, earliest, last


def _workspace_state(store: HistoryQueries, rid: str, covers: str) -> dict[str, FindingState]:
    """Every finding of one workspace at `covers`, from its workspace index partition (the reference)."""
    out: dict[str, FindingState] = {}
    for e in store._index_range(rid, "0", covers + "~"):
        if e.get("kind") != "transition":
            continue
        fid = str(e["finding_id"])
        cur = out.get(fid)
        if cur is None or e["RowKey"] > cur.row_key:
            msg = json.dumps(get_json(e, "message"), separators=(",", ":"), sort_keys=True, ensure_ascii=False)
            out[fid] = FindingState(rid, str(e["RowKey"]), msg, (cur.count if cur else 0) + 1)
        else:
            cur.count += 1
    return out


def _encode(snap: EstateSnapshot) -> bytes:
    deflate = zlib.compressobj(6)
    out = [deflate.compress(json.dumps({"schema": SNAPSHOT_SCHEMA, "covers": snap.covers,
                                        "findings": len(snap.findings)}).encode() + b"\n")]
    for fid in sorted(snap.findings):
        s = snap.findings[fid]
        if "\t" in s.resource_id or "\n" in s.resource_id or "\n" in s.message:
            raise ValueError(f"finding {fid}: a field cannot be stored in a snapshot line")
        out.append(deflate.compress(f"{fid}\t{s.resource_id}\t{s.row_key}\t{s.count}\t{s.message}\n".encode()))
    out.append(deflate.compress(json.dumps({"end": len(snap.findings)}).encode()))
    out.append(deflate.flush())
    return b"".join(out)


def _insert_snapshot(store: HistoryQueries, snap: EstateSnapshot) -> str:
    """Insert the body parts, then the head (a snapshot exists only once its head does). Returns its RowKey."""
    body = _encode(snap)
    parts = [body[i:i + PART_BYTES] for i in range(0, len(body), PART_BYTES)] or [b""]
    nonce = uuid.uuid4().hex[:12]
    base = f"{inverted_key(snap.at)}-{nonce}"
    for r in range(0, len(parts), PARTS_PER_ROW):
        e: dict[str, Any] = {"PartitionKey": SNAPSHOT_BODY, "RowKey": f"{base}-{r // PARTS_PER_ROW:04d}",
                             "kind": "estate-snapshot-part"}
        for i, p in enumerate(parts[r:r + PARTS_PER_ROW]):
            e[f"d{i}"] = p
        with storage_call("append", HISTORY_TABLE):
            store.history_table.create_entity(e)  # insert only; the nonce makes the key this writer's own
    head = {"PartitionKey": SNAPSHOT_HEADS, "RowKey": base, "kind": "estate-snapshot", "schema": SNAPSHOT_SCHEMA,
            "at": snap.at, "covers": snap.covers, "nonce": nonce, "parts": len(parts),
            "sha256": hashlib.sha256(body).hexdigest(), "findings": len(snap.findings), "bytes": len(body)}
    with storage_call("append", HISTORY_TABLE):
        store.history_table.create_entity(head)
    return base


def write_snapshot(store: HistoryQueries, at: datetime | None = None, now: datetime | None = None) -> str | None:
    """Write an estate snapshot at `at` (default and at the latest: an hour ago; never past a transition still
    in an outbox). Returns the head's RowKey, or None when there was nothing to write."""
    from core.store.clock import store_now
    from core.store.history import TIME_FORMAT, time_key

    now = store_now(store.findings_table, now)
    w = min(utc(at), now - SETTLE) if at is not None else now - SETTLE
    current, ws_of, pending_at, last = _current_rows(store)
    if pending_at is not None and pending_at <= w:
        w = pending_at - timedelta(microseconds=1)
    covers = time_key(w)
    w = datetime.strptime(covers, TIME_FORMAT).replace(tzinfo=UTC)
    base_heads = newest_heads(store, w, 1)
    base: EstateSnapshot | None = None
    if base_heads:
        try:
            base = read_snapshot(store, base_heads[0])
        except CorruptSnapshot as exc:
            log.warning("estate history snapshot %s is not usable (%s): the next one is rebuilt from the "
                        "workspace indexes", base_heads[0].get("RowKey"), exc)
    snap = EstateSnapshot(w, covers)
    rebuild: set[str]
    if base is not None:
        snap.findings = base.findings
        full, seqs = index_rows_after(store, base.covers, covers, max(last, w))
        for e in sorted(full, key=lambda e: e["RowKey"]):
            fid = str(e.get("finding_id") or "")
            if e.get("kind") != "transition" or not fid:
                continue
            cur = snap.findings.get(fid)
            msg = json.dumps(get_json(e, "message"), separators=(",", ":"), sort_keys=True, ensure_ascii=False)
            if cur is None:
                snap.findings[fid] = FindingState(arm_fold(str(e["resource_id"])), str(e["RowKey"]), msg, 1)
            else:
                cur.count += 1
                if e["RowKey"] > cur.row_key:
                    cur.row_key, cur.message = str(e["RowKey"]), msg
        bad = unaccounted({f: s.count for f, s in snap.findings.items()}, seqs, current, set(current))
        rebuild = {ws_of[f] for f in bad if current.get(f)}  # a finding with no transitions has nothing to add
    else:
        rebuild = {rid for rid in ws_of.values() if rid}
    if rebuild:
        snap.findings = {f: s for f, s in snap.findings.items() if s.resource_id not in rebuild}
        with ThreadPoolExecutor(max_workers=8) as pool:
            for states in pool.map(lambda rid: _workspace_state(store, rid, covers), sorted(rebuild)):
                snap.findings.update(states)
    if base is not None and not rebuild and base.covers == covers:
        return None  # nothing new since the newest snapshot
    return _insert_snapshot(store, snap)


def snapshot_if_due(store: HistoryQueries, now: datetime | None = None) -> str | None:
    """The sweep's hook: write a snapshot when the newest is older than `SNAPSHOT_EVERY`. A failure here only
    costs as-of reads the per-workspace path, so it is logged and swallowed."""
    try:
        from core.store.clock import store_now

        now = store_now(store.findings_table, now)
        heads = newest_heads(store, now, 1)
        if heads and utc(heads[0]["at"]) > now - SETTLE - SNAPSHOT_EVERY:
            return None
        return write_snapshot(store, now=now)
    except Exception as exc:  # an optimisation must not fail the sweep
        log.warning("estate history snapshot not written (%s); as-of reads use the per-workspace path",
                    type(exc).__name__)
        return None


def backfill_estate_index(store: HistoryQueries) -> int:
    """Add the estate index copy of every workspace index transition row that lacks one (idempotent)."""
    from azure.core.exceptions import ResourceExistsError

    from core.store.history import INDEX_END, INDEX_PREFIX

    created = 0
    with storage_call("query", HISTORY_TABLE):
        rows = list(store.history_table.query_entities(
            "PartitionKey ge @p0 and PartitionKey lt @p1 and kind eq @k",
            parameters={"p0": INDEX_PREFIX, "p1": INDEX_END, "k": "transition"}, results_per_page=1000))
    for e in rows:
        entity = estate_index_entity({k: v for k, v in e.items()})
        with storage_call("append", HISTORY_TABLE), contextlib.suppress(ResourceExistsError):
            store.history_table.create_entity(entity)
            created += 1
    return created
