"""The suite-wide log scanner (tests/support/secret_scan.py, hooked in tests/conftest.py): what it flags, what it leaves alone, that it is on."""

from __future__ import annotations

import logging

import pytest

from samples.azurite import ACCOUNT_KEY
from tests.support.secret_scan import EMULATOR_TOKEN, SecretScanHandler, find_secrets, mask

SIG = "s1GnAtUrE-0123456789abcdefXYZ"
JWT = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJ4In0.c2lnbmF0dXJl"


@pytest.mark.parametrize("text", [
    f"POST /workflows/abc/triggers/manual/paths/invoke?api-version=1&sp=%2Ftriggers&sv=1.0&sig={SIG} HTTP/1.1",
    f"https://acct.queue.core.windows.net/q?sv=2025-01-01&se=2026&sp=r&sig={SIG}",
    f"Authorization: Bearer {JWT}",
    f"{{'Authorization': 'Bearer {EMULATOR_TOKEN}'}}",
    f"calling with Bearer {EMULATOR_TOKEN}",
    "'Authorization': 'SharedKey devstoreaccount1:abcDEF123+/="
    "'",
    f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={ACCOUNT_KEY};QueueEndpoint=x",
    "AccountKey=c29tZS1rZXktdGhhdC1pcy1ub3QtYXp1cml0ZQ==;",
    "BlobEndpoint=https://a.blob.core.windows.net/;SharedAccessSignature=sv=2025-01-01&ss=q&sig=abc123def",
    f"the key is {ACCOUNT_KEY}",
])
def test_secrets_are_found(text: str) -> None:
    found = find_secrets(text)
    assert found, text
    assert all(value not in mask(text, found) for _, value in found)


@pytest.mark.parametrize("text", [
    "Sets the emulator's bearer token; used only in emulator mode",
    "Bearer token authentication failed for the workspace API",
    "Attempting to configure auth: driftwatch-emulator",
    "'Authorization': 'REDACTED'",
    "    'Authorization': '*****'",
    "Request URL: 'http://127.0.0.1:1/devstoreaccount1/q?sv=REDACTED&sig=REDACTED'",
    "https://acct.queue.core.windows.net/q?sv=2025&sig=sig=*****",
    'http://127.0.0.1:4 "POST [redacted] HTTP/1.1" 202 0',
    "teams-webhook(prod-01.westeurope.logic.azure.com): rejected (HTTP 404); not retried",
    "no SharedAccessSignature or AccountKey configured",
    "authorization failed (HTTP 403) for workspace dbw-a",
    "design=signature; config sig is computed elsewhere",
])
def test_legitimate_text_is_not_flagged(text: str) -> None:
    assert find_secrets(text) == []


def test_the_scanner_sees_debug_records_of_any_logger_and_exception_text(secret_scanner: SecretScanHandler) -> None:
    root = logging.getLogger()
    assert secret_scanner in root.handlers and root.level <= logging.DEBUG
    before = secret_scanner.records_seen
    logging.getLogger("some.library.deep.inside").debug("request to %s", f"https://x/?sig={SIG}")
    try:
        raise RuntimeError(f"connection string AccountKey={'k' * 20}")
    except RuntimeError:
        logging.getLogger("driftwatch.test").exception("storage failed")
    assert secret_scanner.records_seen >= before + 2
    leaks = secret_scanner.take()  # taken out here, so this test itself does not fail
    assert [leak.logger for leak in leaks] == ["some.library.deep.inside", "driftwatch.test"]
    assert "sig= query value" in leaks[0].kinds[0] and "AccountKey" in leaks[1].kinds[0]
    assert SIG not in leaks[0].excerpt and "k" * 20 not in leaks[1].excerpt


def test_registered_literal_secrets_are_found(log_secrets, secret_scanner: SecretScanHandler) -> None:
    log_secrets("my-very-own-secret-42")
    logging.getLogger("x").info("value my-very-own-secret-42 in a message")
    leaks = secret_scanner.take()
    assert len(leaks) == 1 and leaks[0].kinds == ("known secret value",)


def test_non_propagating_loggers_are_scanned_too(secret_scanner: SecretScanHandler) -> None:
    from tests.support.secret_scan import attach_everywhere

    lonely = logging.getLogger("security-test.no-propagate")
    lonely.propagate = False
    try:
        attach_everywhere()  # what the per-test hook does before every test
        lonely.warning("Authorization: Bearer %s", EMULATOR_TOKEN)
        assert [leak.logger for leak in secret_scanner.take()] == ["security-test.no-propagate"]
    finally:
        lonely.propagate = True
        lonely.removeHandler(secret_scanner)
