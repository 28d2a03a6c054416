"""Every Adaptive Card any test builds passes Microsoft's own tooling.

`build_digest` is wrapped when tests/conftest.py imports this module (before any test module imports
the name), so digests built directly, through the notify use case, the registered `notify_drift`
function, the CLI or a fault scenario are all recorded. After each test, each distinct card is checked
with the `adaptivecards` SDK in node (tests/support/js/validate-cards.js: UMD bundle, a
SerializationContext targeting the card's version with maxVersion 1.5, parse events and
validateProperties()), with the official 1.5 JSON schema (tests/support/card_schema.py) and against the
28,672-byte POST limit. A problem fails the test. The node process starts on the first card of a
worker and lives for the session.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

import core.notify
import core.notify.cards
from core.notify.cards import serialize_card

VALIDATOR_JS = Path(__file__).resolve().parent / "support" / "js" / "validate-cards.js"
_recorded: list[dict[str, Any]] | None = None
_recorded_lock = threading.Lock()
_original_build_digest = core.notify.cards.build_digest


def _recording_build_digest(*args: Any, **kwargs: Any) -> dict[str, Any]:
    card = _original_build_digest(*args, **kwargs)
    with _recorded_lock:
        if _recorded is not None:
            _recorded.append(card)
    return card


def install() -> None:
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
        from tests.support.card_schema import schema_problems

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


_validator: CardValidator | None = None


def validator() -> CardValidator:
    global _validator
    if _validator is None:
        from tests.support.card_schema import fetch_schema

        fetch_schema()
        _validator = CardValidator()
    return _validator


def close() -> None:
    global _validator
    if _validator is not None:
        _validator.close()
        _validator = None


def start_recording() -> list[dict[str, Any]]:
    global _recorded
    cards: list[dict[str, Any]] = []
    with _recorded_lock:
        _recorded = cards
    return cards


def stop_recording(cards: list[dict[str, Any]]) -> list[str]:
    """Stop recording; the problems of each distinct card recorded (empty = all valid)."""
    global _recorded
    with _recorded_lock:
        _recorded = None
    seen: set[bytes] = set()
    problems: list[str] = []
    for card in cards:
        key = serialize_card(card)
        if key in seen:
            continue
        seen.add(key)
        problems += validator().problems(card)
    return problems
