"""Fixtures for the Teams notifier: the estate emulator (its Teams sink), finding builders, and the
check that every card a test here produces passes Microsoft's tooling.

Every digest built while a test in tests/notify runs (directly, through `send_digests`, or through
the service's notify use case) is recorded, and at the end of that test each is validated with the
`adaptivecards` SDK in node (tests/notify/js/validate-cards.js, one process per session) and with the
official 1.5 JSON schema (tests/notify/schema.py). A problem fails the test.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import core.notify
import core.notify.cards
from core.findings import finding_id
from core.notify.cards import serialize_card
from emulator.server import EmulatorServer
from tests.notify.schema import fetch_schema, schema_problems

SUB = "1b0c4e2a-1111-4c1e-9a51-2f6a0c9d7e01"
WS_A = f"/subscriptions/{SUB}/resourceGroups/rg-data/providers/Microsoft.Databricks/workspaces/dbx-prod-a"
WS_B = f"/subscriptions/{SUB}/resourceGroups/rg-data/providers/Microsoft.Databricks/workspaces/dbx-prod-b"
NSG = f"/subscriptions/{SUB}/resourceGroups/rg-net/providers/Microsoft.Network/networkSecurityGroups/nsg-dbx"
SIG = "SeCrEtSiG0123456789abcdefXYZ"
QUERY = f"api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={SIG}"
MINIMAL_SEED: dict[str, Any] = {"schema": "driftwatch.estate/v1", "subscriptions": [], "resources": [], "databricks": {}}


def finding(
    resource_id: str = WS_A,
    rule_id: str = "DBX-WS-001",
    severity: str = "high",
    *,
    subject: str | None = None,
    status: str = "open",
    **overrides: Any,
) -> dict[str, Any]:
    """A valid driftwatch.finding/v1 dict (wire form)."""
    doc: dict[str, Any] = {
        "schema": "driftwatch.finding/v1",
        "id": finding_id(resource_id, rule_id, subject),
        "rule_id": rule_id,
        "title": f"Title of {rule_id}",
        "severity": severity,
        "status": status,
        "resource_id": resource_id,
        "subscription_id": SUB,
        "workspace_name": resource_id.rsplit("/", 1)[-1],
        "related_resource_id": None,
        "subject": subject,
        "expected": "premium",
        "actual": "standard",
        "message": f"{rule_id} drifted",
        "remediation": f"Fix {rule_id} in the portal.",
        "first_seen": "2026-11-01T08:00:00Z",
        "last_seen": "2026-11-26T12:00:00Z",
        "resolved_at": "2026-11-26T12:00:00Z" if status == "resolved" else None,
        "source": "sweep",
        "baseline_sha256": "0" * 64,
        "exemption": None,
    }
    doc.update(overrides)
    return doc


def transition(kind: str, doc: dict[str, Any], at: str = "2026-11-26T12:00:00Z") -> dict[str, Any]:
    return {"schema": "driftwatch.transition/v1", "transition": kind, "at": at, "finding": doc}


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(MINIMAL_SEED, port=0) as server:
        yield server


@pytest.fixture
def sink(emulator: EmulatorServer) -> Iterator[EmulatorServer]:
    """The emulator with an empty Teams sink, no faults and zeroed request counts."""
    emulator.clear_faults()
    emulator.clear_teams()
    emulator.reset_requests()
    yield emulator
    emulator.clear_faults()


@pytest.fixture
def webhook_url(sink: EmulatorServer) -> str:
    """A Workflows-shaped URL on the emulator's sink, with a secret `sig` to hunt for."""
    return f"{sink.url}/teams/alerts?{QUERY}"


# ---- every card is validated ----------------------------------------------------------------------
VALIDATOR_JS = Path(__file__).resolve().parent / "js" / "validate-cards.js"
_recorded: list[dict[str, Any]] | None = None
_recorded_lock = threading.Lock()
_original_build_digest = core.notify.cards.build_digest


def _recording_build_digest(*args: Any, **kwargs: Any) -> dict[str, Any]:
    card = _original_build_digest(*args, **kwargs)
    with _recorded_lock:
        if _recorded is not None:
            _recorded.append(card)
    return card


# Installed when this conftest is imported, before the test modules here import `build_digest`;
# `build_digests` and the service look the name up at call time, so they are recorded too.
core.notify.cards.build_digest = _recording_build_digest  # type: ignore[assignment]
core.notify.build_digest = _recording_build_digest  # type: ignore[assignment]


class CardValidator:
    """One node process running Microsoft's SDK over newline-delimited cards."""

    def __init__(self) -> None:
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node is required to validate Adaptive Cards (scripts/bootstrap.sh needs npm/node)")
        self._proc = subprocess.Popen([node, str(VALIDATOR_JS)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      text=True, encoding="utf-8")
        self._lock = threading.Lock()
        self._n = 0

    def sdk_problems(self, card: dict[str, Any]) -> list[str]:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        with self._lock:
            self._n += 1
            body = serialize_card(card).decode("utf-8")
            self._proc.stdin.write(json.dumps({"id": self._n, "body": body}) + "\n")
            self._proc.stdin.flush()
            reply = json.loads(self._proc.stdout.readline())
        assert reply["id"] == self._n, reply
        return list(reply["problems"])

    def problems(self, card: dict[str, Any]) -> list[str]:
        out = [f"sdk {p}" for p in self.sdk_problems(card)]
        out += [f"schema {p}" for p in schema_problems(card)]
        if len(serialize_card(card)) > 28_672:
            out.append("POST body above 28,672 bytes")
        content = card["attachments"][0]["content"]
        if content.get("msteams") != {"width": "Full"}:
            out.append("msteams must be {width: Full}")
        return out

    def close(self) -> None:
        if self._proc.stdin:
            self._proc.stdin.close()
        self._proc.wait(timeout=10)


@pytest.fixture(scope="session")
def card_validator() -> Iterator[CardValidator]:
    fetch_schema()
    validator = CardValidator()
    yield validator
    validator.close()


@pytest.fixture(autouse=True)
def every_card_is_valid(card_validator: CardValidator) -> Iterator[list[dict[str, Any]]]:
    """Record the cards this test builds; afterwards validate each distinct one."""
    global _recorded
    cards: list[dict[str, Any]] = []
    with _recorded_lock:
        _recorded = cards
    try:
        yield cards
    finally:
        with _recorded_lock:
            _recorded = None
    seen: set[bytes] = set()
    problems: list[str] = []
    for card in cards:
        key = serialize_card(card)
        if key in seen:
            continue
        seen.add(key)
        problems += card_validator.problems(card)
    assert not problems, "\n".join(problems[:40])
