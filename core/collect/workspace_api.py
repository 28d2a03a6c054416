"""The Databricks workspace API through the real databricks-sdk (its `ApiClient`: core/collect/databricks_client.py).

Reads only what the effective baseline needs, and loads no databricks-sdk module until it has to. The
SDK retries for 300 s by default; here every workspace gets `workspace_timeout_s` in all, so one dead
workspace cannot stall a sweep.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

import requests

from core.collect import parallel
from core.collect.auth import databricks_strategy
from core.collect.bounded import ResponseBoundExceeded, mount_bounded
from core.collect.compute_uc import ComputeUcNeeds, read_compute_uc
from core.collect.config import CollectConfig, WorkspaceHostError
from core.collect.databricks_client import (
    IP_ACCESS_LISTS_PATH,
    TOKENS_PATH,
    WORKSPACE_CONF_PATH,
    api_client,
    errors_module,
    retries_module,
)
from core.collect.workspace_families import FamilyNeeds, read_families
from core.errors import scrub_api_text, scrub_error_code
from core.state.model import WorkspaceApiState
from core.state.parse import StateError, parse_workspace_api

# The SDK's warnings (retries, debug info) are noise in a sweep of thousands; failures are reported
# through WorkspaceApiError instead.
logging.getLogger("databricks.sdk").setLevel(logging.ERROR)


T = TypeVar("T")


class WorkspaceApiError(Exception):
    """The workspace API could not be read: unreachable, 401/403, timeout, or a malformed answer."""


@dataclass(frozen=True)
class ApiNeeds:
    conf_keys: tuple[str, ...]
    ip_access_lists: bool
    tokens: bool
    families: FamilyNeeds = field(default_factory=FamilyNeeds)
    """Reads beyond the core ones, each failing on its own (core/collect/workspace_families.py)."""
    compute_uc: ComputeUcNeeds = field(default_factory=ComputeUcNeeds)
    """Compute and Unity Catalog families, each failing on its own (core/collect/compute_uc.py)."""

    @property
    def any(self) -> bool:
        return bool(self.conf_keys or self.ip_access_lists or self.tokens or self.families.any
                    or self.compute_uc.any)


@dataclass(frozen=True)
class ApiRead:
    """Where and what one scan read of the workspace API. A full scan's is kept on the workspace's topology
    index row (as `to_doc`), so that the next event-driven scan can start the same reads beside its ARM GET
    (`EstateCollector.speculate`); it uses them only if its own document and plan ask for exactly this."""

    host: str
    needs: ApiNeeds

    def to_doc(self) -> dict[str, Any]:
        return {"host": self.host, "needs": dataclasses.asdict(self.needs)}

    @classmethod
    def from_doc(cls, doc: object) -> ApiRead | None:
        """The read `to_doc` wrote, or None for anything else (an older layout, a damaged row): then nothing
        starts early."""
        try:
            if not isinstance(doc, dict) or set(doc) != {"host", "needs"} or not isinstance(doc["host"], str):
                raise ValueError("not an ApiRead")
            needs = _keys(doc["needs"], ApiNeeds)
            families = _keys(needs["families"], FamilyNeeds)
            flags: dict[str, Any] = {k: _flag(v) for k, v in families.items() if k != "settings_types"}
            compute = {k: _flag(v) for k, v in _keys(needs["compute_uc"], ComputeUcNeeds).items()}
            return cls(doc["host"], ApiNeeds(
                conf_keys=_strings(needs["conf_keys"]), ip_access_lists=_flag(needs["ip_access_lists"]),
                tokens=_flag(needs["tokens"]),
                families=FamilyNeeds(settings_types=_strings(families["settings_types"]), **flags),
                compute_uc=ComputeUcNeeds(**compute)))
        except (KeyError, TypeError, ValueError):
            return None


def _keys(doc: object, kind: type) -> dict[str, Any]:
    if not isinstance(doc, dict) or set(doc) != {f.name for f in dataclasses.fields(kind)}:
        raise ValueError(f"not a {kind.__name__}")
    return doc


def _strings(value: object) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValueError("not a list of strings")
    return tuple(value)


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError("not a boolean")
    return value


_INVALID_KEYS = re.compile(r"Invalid keys?:\s*(\[.*?\])", re.IGNORECASE | re.DOTALL)


def invalid_conf_keys(exc: Exception) -> list[str] | None:
    """The keys named by Databricks' workspace-conf rejection, or None when `exc` is something else.

    Databricks answers a GET /api/2.0/workspace-conf?keys=... naming any key it does not support with HTTP
    400 `{"error_code": "INVALID_PARAMETER_VALUE", "message": "Invalid keys: [\"enableByocUi\"]"}` (the
    message as the Terraform provider surfaces it, databricks/terraform-provider-databricks issue #1769;
    databricks-sdk-py raises it as `InvalidParameterValue`, a `BadRequest`). The list is JSON; a bare
    `[a, b]` is accepted too.
    """
    if "databricks.sdk.errors" not in sys.modules or not isinstance(exc, errors_module().BadRequest):
        return None
    match = _INVALID_KEYS.search(str(exc))
    if match is None:
        return None
    text = match.group(1)
    try:
        names = json.loads(text)
    except ValueError:
        names = [part.strip().strip("'\"") for part in text[1:-1].split(",")]
    if not isinstance(names, list):
        return None
    keys = [str(n).strip() for n in names if str(n).strip()]
    return keys or None


_GATEWAY_ERROR_CODES = frozenset({"BAD_GATEWAY", "GATEWAY_TIMEOUT"})


def _retryable_server_error(exc: BaseException) -> str | None:
    """Why a failed read is worth another try (databricks-sdk `retried(is_retryable=...)`), or None.

    databricks-sdk 0.162.0 (errors/platform.py `STATUS_CODE_MAPPING`) raises `InternalError` for 500 and
    `DeadlineExceeded` for 504; there is no class for 502 (nor a `BadGateway` or `GatewayTimeout` class,
    the names this module used to match), and `DatabricksError` keeps no status code. A gateway's HTML
    error page for a 502/504 is parsed by errors/deserializer.py `_HtmlErrorDeserializer` with the HTTP
    reason as `error_code` (`BAD_GATEWAY`, `GATEWAY_TIMEOUT`), so a 502 is recognised by that code. 429
    and 503 are not here: the SDK's own retries (`retry_after_secs`) have handled them already.
    """
    if "databricks.sdk.errors" not in sys.modules:
        return None
    errors = errors_module()
    if isinstance(exc, errors.InternalError | errors.DeadlineExceeded):
        return f"{type(exc).__name__} (HTTP 500/504)"
    if isinstance(exc, errors.DatabricksError) and getattr(exc, "error_code", None) in _GATEWAY_ERROR_CODES:
        return f"gateway error {exc.error_code}"
    return None


_SERVER_ERROR_RETRIES = 2


class _StopRetrying(Exception):
    """Raised from inside databricks-sdk's `retried` (while it handles a failure) to give that failure up."""


class _Budget:
    """A databricks-sdk `Clock` on the monotonic clock that refuses a wait past the workspace's deadline.

    `retried` checks its deadline only before an attempt, so a wait could overrun it; here the wait is
    refused instead (`_StopRetrying`, its `__context__` the error being retried), as is a third retry.
    """

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.retries = 0

    def time(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if time.monotonic() + seconds > self.deadline:
            raise _StopRetrying("no time left in the workspace's budget for another try")
        time.sleep(seconds)

    def count_retry(self) -> None:
        self.retries += 1
        if self.retries > _SERVER_ERROR_RETRIES:
            raise _StopRetrying("retries spent")


def _describe(exc: Exception) -> str:
    if "databricks.sdk.errors" in sys.modules and isinstance(exc, errors_module().DatabricksError):
        code = scrub_error_code(getattr(exc, "error_code", None))
        status = getattr(exc, "status_code", None) or ""
        name = exc.__class__.__name__
        head = " ".join(str(x) for x in (name, status, code) if x)
        # status, error code and a scrubbed message: a 401 may echo the bearer token it was sent
        return head + (f": {scrub_api_text(exc)}" if str(exc) else "")
    if isinstance(exc, ResponseBoundExceeded):
        return exc.problem
    if isinstance(exc, requests.Timeout | TimeoutError):
        return "timed out"
    if isinstance(exc, requests.ConnectionError):
        return "unreachable (connection failed)"
    return exc.__class__.__name__


def _read_conf(call: Callable[[Callable[[], Any]], Any], w: WorkspaceApi,
               keys: tuple[str, ...]) -> tuple[dict[str, Any], list[str]]:
    """GET workspace-conf for `keys`; on "Invalid keys" drop the named ones and retry once.

    Returns (values, unsupported keys). A second rejection, or one naming keys we did not ask for, is a
    read failure like any other.
    """
    unsupported: list[str] = []
    wanted = list(keys)
    for attempt in range(2):
        if not wanted:
            return {}, unsupported
        try:
            got = call(functools.partial(w.get, WORKSPACE_CONF_PATH, {"keys": ",".join(wanted)}))
        except Exception as exc:
            named = invalid_conf_keys(exc)
            if attempt == 1 or named is None or not set(named) <= set(wanted):
                raise
            unsupported += named
            wanted = [k for k in wanted if k not in set(named)]
            continue
        if not isinstance(got, dict):
            raise WorkspaceApiError("workspace-conf answer is not an object")
        # Like an ARM document with another id: an answer about keys we did not ask for is not ours.
        foreign = sorted(str(k) for k in got if k not in set(wanted))
        if foreign:
            raise WorkspaceApiError(f"workspace-conf answer names keys that were not asked for: "
                                    f"{', '.join(k[:60] for k in foreign[:5])}")
        return got, unsupported
    raise AssertionError("unreachable")


def _bound(client: Any, config: CollectConfig) -> None:
    """Mount the BoundedAdapter on the SDK's session (databricks-sdk exposes no transport option; its
    `ApiClient` keeps the requests.Session of `_BaseClient`). Fails closed: without the bounds no
    workspace-API read is made."""
    session = getattr(getattr(client, "_api_client", None), "_session", None)
    if not isinstance(session, requests.Session):
        raise WorkspaceApiError("this databricks-sdk version does not expose its HTTP session: "
                                "reads cannot be bounded, so none is made")
    mount_bounded(session, deadline_s=config.request_deadline_s, max_bytes=config.max_response_bytes,
                  pool_connections=20, pool_maxsize=20, pool_block=True)


class WorkspaceApi:
    """One workspace's `ApiClient` (auth, retries, timeouts and typed errors are the SDK's)."""

    def __init__(self, client: Any) -> None:
        self.api_client = client

    def get(self, path: str, query: dict[str, Any] | None = None) -> Any:
        return self.api_client.do("GET", path, query=query, headers={"Accept": "application/json"})

    def get_list(self, path: str, field: str) -> list[Any]:
        """The `field` array of a list answer (absent = empty, as the SDK's typed list() reads it)."""
        body = self.get(path)
        if not isinstance(body, dict):
            raise StateError(f"{path}: expected an object, got {type(body).__name__}")
        items = body.get(field)
        if items is None:
            return []
        if not isinstance(items, list):
            raise StateError(f"{path}: {field}: expected a list, got {type(items).__name__}")
        return items


def read_workspace_api(host: str, needs: ApiNeeds, config: CollectConfig) -> WorkspaceApiState:
    # One budget for the whole workspace (`deadline` below); the SDK's own retries of one call get half
    # of it, so a dead host fails fast and still leaves time for the 5xx retries here.
    half = max(config.workspace_timeout_s // 2, 1)
    try:
        base_url = config.workspace_url(host)  # allow-listed Databricks host from ARM, or no token is sent
    except WorkspaceHostError as exc:
        raise WorkspaceApiError(str(exc)) from None
    client = api_client(base_url, databricks_strategy(config), retry_timeout_seconds=half,
                        http_timeout_seconds=min(config.read_timeout_s, half))
    _bound(client, config)
    w = WorkspaceApi(client)
    conf: dict[str, Any] = {}
    unsupported: list[str] = []
    lists: list[dict[str, Any]] = []
    tokens: list[dict[str, Any]] = []
    deadline = time.monotonic() + config.workspace_timeout_s

    def call(fn: Callable[[], T]) -> T:
        """databricks-sdk retries 429/503 itself; a 500/502/504 gets two more tries within the budget.

        The retries are databricks-sdk's `retried` (its backoff: about 1 s, then 2 s); `_Budget` stops
        them, re-raising the last error, when the next wait would pass the workspace's deadline or
        after `_SERVER_ERROR_RETRIES` retries.
        """
        budget = _Budget(deadline)
        remaining = deadline - budget.time()
        if remaining <= 0:
            return fn()  # one try, as with budget left; the SDK's timeouts bound it
        # `_Budget.sleep` enforces the deadline; the slack keeps `retried` from timing out on its own first
        # (its TimeoutError would hide the error). A TimeoutError from inside `fn` (the SDK's own 429/503
        # retries running out) passes through as it is.
        retrying = retries_module().retried(
            is_retryable=_retryable_server_error, timeout=timedelta(seconds=remaining + 1.0),
            clock=budget, before_retry=budget.count_retry)(fn)
        try:
            return retrying()
        except _StopRetrying as stop:
            if isinstance(stop.__context__, Exception):
                raise stop.__context__ from None
            raise

    # The extra families do not depend on the core reads: they run alongside them (core/collect/parallel.py).
    observed_at_ms = int(time.time() * 1000)
    families = (parallel.submit(lambda: read_families(w, call, needs.families, deadline, host, _describe))
                if needs.families.any else None)
    compute = (parallel.submit(lambda: read_compute_uc(w, call, needs.compute_uc, deadline, host, _describe))
               if needs.compute_uc.any else None)
    core: dict[str, Any] = {}

    def core_read(key: str, read: Callable[[], Any]) -> Callable[[], None]:
        return lambda: core.__setitem__(key, read())

    reads = []
    if needs.conf_keys:
        reads.append(core_read("conf", lambda: _read_conf(call, w, needs.conf_keys)))
    if needs.ip_access_lists:
        reads.append(core_read("lists", lambda: call(lambda: w.get_list(IP_ACCESS_LISTS_PATH, "ip_access_lists"))))
    if needs.tokens:
        reads.append(core_read("tokens", lambda: call(lambda: w.get_list(TOKENS_PATH, "token_infos"))))
    try:
        # The core reads do not depend on each other: at once; the first failure (in this order) is raised.
        parallel.run_all(reads)
        conf, unsupported = core.get("conf", (conf, unsupported))
        lists = core.get("lists", lists)
        tokens = core.get("tokens", tokens)
    except WorkspaceApiError:
        raise
    except StateError as exc:
        raise WorkspaceApiError(f"malformed answer: {exc}") from None
    except Exception as exc:  # any failure of the SDK/transport is a read failure with its cause
        raise WorkspaceApiError(_describe(exc)) from None
    finally:
        family_data, family_errors = ({}, {}) if families is None else families.result()
        if compute is not None:
            compute_data, compute_errors = compute.result()
            family_data.update(compute_data)
            family_errors.update(compute_errors)
    try:
        state = parse_workspace_api(conf, lists, tokens, where=host, unsupported_conf_keys=unsupported)
    except StateError as exc:
        raise WorkspaceApiError(f"malformed answer: {exc}") from None
    return state.model_copy(update={**family_data, "family_errors": family_errors,
                                    "observed_at_ms": observed_at_ms})
