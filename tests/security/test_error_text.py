"""Issue 10 §8: error text from an API is never copied verbatim (a 401 may echo the bearer token).

databricks-sdk-py raises DatabricksError subclasses carrying the server's `message` and `error_code`
(databricks/sdk/errors/base.py); azure-core raises HttpResponseError with the ARM error body's code.
"""

from __future__ import annotations

import pytest
from databricks.sdk.errors import PermissionDenied, Unauthenticated

from core.collect.workspace_api import _describe
from core.errors import scrub_api_text, scrub_error_code

JWT = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiIyZmY4MTRhNiIsInN1YiI6Im1pIn0.c2lnbmF0dXJlLXZhbHVl"
ECHOES = [f"Invalid access token: Bearer {JWT}", f"token {JWT} expired", "bad PAT dapi0123456789abcdef0123456789abcdef-2",
          "https://x.example/api?sig=AbCdEf0123456789&sv=2020", "line1\r\nFORGED: line2 " + "A" * 40]


@pytest.mark.parametrize("echo", ECHOES)
def test_databricks_error_text_is_scrubbed(echo: str) -> None:
    for exc in (Unauthenticated(echo, error_code="UNAUTHENTICATED"), PermissionDenied(echo)):
        text = _describe(exc)
        assert JWT not in text and "eyJ" not in text and "dapi0123" not in text and "AbCdEf0123456789" not in text
        assert "\r" not in text and "\n" not in text and len(text) < 300
        assert type(exc).__name__ in text


def test_status_and_error_code_are_kept_and_forged_codes_dropped() -> None:
    text = _describe(Unauthenticated("nope", error_code="UNAUTHENTICATED"))
    assert "UNAUTHENTICATED" in text and "nope" in text
    assert scrub_error_code("PERMISSION_DENIED") == "PERMISSION_DENIED"
    assert scrub_error_code(f"Bearer {JWT}") == "" and scrub_error_code("x\r\ny") == ""
    assert scrub_api_text("workspace not found") == "workspace not found"
