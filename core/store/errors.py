"""Errors raised by the store. Messages name the operation and table, never endpoints or keys."""

from __future__ import annotations


class StoreError(Exception):
    """A storage call failed (service down, throttled, auth). Carries no connection details."""

    def __init__(self, operation: str, table: str, reason: str, *, status: int | None = None) -> None:
        self.operation = operation
        self.table = table
        self.reason = reason
        self.status = status
        super().__init__(f"storage {operation} on {table} failed: {reason}")


class InvalidQuery(ValueError):
    """A query parameter the store cannot use; `parameter` names it for the 400 answer."""

    def __init__(self, parameter: str, message: str) -> None:
        self.parameter = parameter
        super().__init__(message)


class InvalidContinuation(InvalidQuery):
    """The continuation token was not one this store handed out (tampered, truncated, other query)."""

    def __init__(self, message: str = "continuation token is not valid for this query") -> None:
        super().__init__("continuation", message)


class FindingNotFound(LookupError):
    """No finding with that id."""


def to_store_error(exc: Exception, operation: str, table: str) -> StoreError:
    """Map an SDK/transport exception to StoreError using only its type, code and status.

    `str(exc)` of SDK errors can carry request URLs (and SAS query strings), so it is not used.
    """
    status = getattr(exc, "status_code", None)
    code = getattr(exc, "error_code", None)
    reason = type(exc).__name__
    if code:
        reason += f" {code}"
    if status:
        reason += f" (HTTP {status})"
    return StoreError(operation, table, reason, status=status if isinstance(status, int) else None)
