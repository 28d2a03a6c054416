"""The one optimistic-concurrency loop: load, decide, conditional write, and on a lost write decide again.

Every change the findings store makes to a row it read is a conditional write: a create (fails when the
row exists, 409), or a replace/delete that names the ETag the decision was based on (fails when the row
changed, 412, or went, 404). The loser reloads and decides afresh, so two writers never both act on the
same read. `replace_all` is the batched form: one entity-group transaction, all or nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from core.store.connection import storage_call

if TYPE_CHECKING:
    from azure.data.tables import TableClient

MAX_CONFLICT_RETRIES = 20
S = TypeVar("S")
R = TypeVar("R")


class WriteConflict(RuntimeError):
    """Every attempt lost its conditional write to another writer."""


@dataclass(frozen=True)
class Write(Generic[R]):
    """One conditional write, and what it means to the caller when it wins."""

    entity: Mapping[str, Any]
    etag: str | None
    """None: create (only if the row does not exist); else replace, or delete, only if it still has this ETag."""
    result: R
    delete: bool = False


def conditional_update(table: TableClient, table_name: str, *, state: S, reload: Callable[[], S],
                       decide: Callable[[S], Write[R] | None], what: str, operation: str = "write",
                       attempts: int = MAX_CONFLICT_RETRIES) -> R | None:
    """Decide on `state` and write; on a lost write `reload` and decide again, up to `attempts` times.

    Returns the winning write's `result`, or None when `decide` found nothing to write. Raises
    `WriteConflict` (naming `what`) when every attempt lost."""
    from azure.core import MatchConditions
    from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
    from azure.data.tables import UpdateMode

    for attempt in range(attempts):
        if attempt:
            state = reload()  # someone else won: redo the decision on fresh data
        write = decide(state)
        if write is None:
            return None
        with storage_call(operation, table_name):
            try:
                if write.etag is None:
                    table.create_entity(write.entity)
                elif write.delete:
                    table.delete_entity(write.entity["PartitionKey"], write.entity["RowKey"], etag=write.etag,
                                        match_condition=MatchConditions.IfNotModified)
                else:
                    table.update_entity(write.entity, mode=UpdateMode.REPLACE, etag=write.etag,
                                        match_condition=MatchConditions.IfNotModified)
            except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
                continue
        return write.result
    raise WriteConflict(f"{what}: gave up after {attempts} write conflicts")


def replace_all(table: TableClient, table_name: str, writes: Sequence[Write[R]], *,
                operation: str = "write") -> list[R] | None:
    """ETag-checked replaces of rows of one partition in one transaction (at most 100): all or nothing.

    Returns the writes' results, or None when any row changed or went since it was read (412/404), so that
    none was written and the caller decides those rows again one at a time."""
    from azure.core import MatchConditions
    from azure.data.tables import TableTransactionError, UpdateMode

    ops = [("update", w.entity, {"mode": UpdateMode.REPLACE, "etag": w.etag,
                                 "match_condition": MatchConditions.IfNotModified}) for w in writes]
    with storage_call(operation, table_name):
        try:
            table.submit_transaction(ops)
        except TableTransactionError as exc:
            if exc.status_code not in (404, 412):  # only "changed or gone since read" is decided again
                raise
            return None
    return [w.result for w in writes]
