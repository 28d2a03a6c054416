"""The poison queues (`{queue}-poison`): where a message that cannot succeed is kept, and replay.

A message the Functions host gave up on (five failed attempts) lands there by itself; driftwatch puts
a message it can tell is malformed there at once, wrapped in a `driftwatch.rejected-message/v1`
envelope with the reason, so nothing is lost and nothing loops.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core.store.connection import StorageConnection
from core.store.queues import MAX_MESSAGE_BYTES

REJECTED_SCHEMA = "driftwatch.rejected-message/v1"


def keep_rejected(connection: StorageConnection, queue: str, body: str, reason: str) -> None:
    """Put a malformed `queue` message into `{queue}-poison` with the reason (never retried)."""
    from azure.core.exceptions import ResourceExistsError

    envelope: dict[str, Any] = {"schema": REJECTED_SCHEMA, "queue": queue, "reason": reason[:2000],
                                "body": body[:40_000],
                                "rejected_at": datetime.now(UTC).isoformat()}
    keep = len(envelope["body"])
    while len(json.dumps(envelope)) > MAX_MESSAGE_BYTES and keep > 0:
        keep //= 2
        envelope["body"] = body[:keep]
        envelope["body_truncated"] = True
    client = connection.queue(f"{queue}-poison")
    with contextlib.suppress(ResourceExistsError):
        client.create_queue()
    client.send_message(json.dumps(envelope))


@dataclass
class ReplayOutcome:
    queue: str
    replayed: int = 0
    kept_rejected: int = 0


def replay_poison(connection: StorageConnection, queue: str, *, max_messages: int = 1000) -> ReplayOutcome:
    """Move `{queue}-poison` messages back to `queue`, each exactly once (send, then delete).

    Malformed messages that driftwatch itself rejected (`driftwatch.rejected-message/v1`) cannot
    succeed on a retry; they stay in the poison queue for a person to read.
    """
    from azure.core.exceptions import ResourceExistsError

    poison, target = connection.queue(f"{queue}-poison"), connection.queue(queue)
    for client in (poison, target):
        with contextlib.suppress(ResourceExistsError):
            client.create_queue()
    out = ReplayOutcome(queue=queue)
    seen: set[str] = set()
    while out.replayed + out.kept_rejected < max_messages:
        batch = list(poison.receive_messages(max_messages=32, visibility_timeout=60))
        if not batch:
            break
        for m in batch:
            if m.id in seen:
                continue
            seen.add(m.id)
            try:
                rejected = json.loads(m.content).get("schema") == REJECTED_SCHEMA
            except (ValueError, AttributeError):
                rejected = False
            if rejected:
                out.kept_rejected += 1  # stays invisible for 60 s, then visible again in the poison queue
                continue
            target.send_message(m.content)
            poison.delete_message(m)
            out.replayed += 1
    return out
