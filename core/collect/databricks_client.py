"""The slice of databricks-sdk a scan uses: `Config` + `ApiClient` (auth, retries, timeouts, typed errors).

Why not `WorkspaceClient`: `databricks/sdk/__init__.py` (databricks-sdk-py 0.162.0) imports every one of
its ~50 service modules to build `WorkspaceClient`, 1.4-1.7 s of CPU, and Python runs a package's
`__init__` before any of its submodules, so even `import databricks.sdk.core` pays for all of them.
`light_sdk()` registers the `databricks.sdk` package without running its `__init__` (its submodules are
found through the package's `__path__` as usual); the first attribute the package itself is asked for
(e.g. `from databricks.sdk import WorkspaceClient` anywhere else) runs the real `__init__` into the same
module, so other code sees the SDK exactly as before. Our reads go through `ApiClient.do` and return the
JSON the workspace sent (the shapes ARCHITECTURE 4.3 stores), so no service module is imported at all.

No host-metadata probe: `Config.__init__` calls `Config._resolve_host_metadata()`, which GETs
`{host}/.well-known/databricks-config` on every client (config.py, 0.162.0) to fill account_id,
workspace_id, discovery_url, cloud and token_audience. driftwatch sets its own credentials strategy and
calls workspace hosts only, so none of those is used; the probe is one wasted call per workspace (and a
warning when the host has no such document). The instance skips it; a test counts zero probes through
the emulator's request log, so an SDK that renames the hook fails the suite instead of probing again.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from typing import Any

_load_lock = threading.RLock()

WORKSPACE_CONF_PATH = "/api/2.0/workspace-conf"
"""databricks-sdk-py 0.162.0 `WorkspaceConfAPI.get_status(keys)` (service/settings.py): the plain key map."""
IP_ACCESS_LISTS_PATH = "/api/2.0/ip-access-lists"
"""`IpAccessListsAPI.list()`: `{"ip_access_lists": [...]}` (service/settings.py)."""
TOKENS_PATH = "/api/2.0/token-management/tokens"
"""`TokenManagementAPI.list()`: `{"token_infos": [...]}` (service/settings.py)."""


def light_sdk() -> None:
    """Make `databricks.sdk.<submodule>` importable without running `databricks/sdk/__init__.py` yet."""
    with _load_lock:
        if "databricks.sdk" in sys.modules:
            return
        spec = importlib.util.find_spec("databricks.sdk")
        if spec is None or spec.loader is None:
            raise ImportError("databricks-sdk is not installed")
        module = importlib.util.module_from_spec(spec)
        loader = spec.loader

        def finish_loading(name: str) -> Any:
            """PEP 562 hook: an attribute the light package lacks -> run the real `__init__`, then look again.

            A submodule name is not such an attribute: `from . import useragent` asks `hasattr` first and,
            on AttributeError, imports the submodule itself (importlib._bootstrap._handle_fromlist).
            """
            if not name.startswith("__") and importlib.util.find_spec(f"databricks.sdk.{name}") is not None:
                raise AttributeError(name)
            with _load_lock:
                if module.__dict__.get("__getattr__") is finish_loading:
                    del module.__dict__["__getattr__"]
                    loader.exec_module(module)
            try:
                return module.__dict__[name]
            except KeyError:
                raise AttributeError(f"module 'databricks.sdk' has no attribute {name!r}") from None

        module.__dict__["__getattr__"] = finish_loading
        sys.modules["databricks.sdk"] = module
        parent = sys.modules.get("databricks")
        if parent is not None:
            parent.sdk = module  # type: ignore[attr-defined]


def api_client(host: str, credentials_strategy: Any, *, retry_timeout_seconds: int,
               http_timeout_seconds: float) -> Any:
    """A databricks-sdk `ApiClient` for one workspace host, built without the host-metadata probe."""
    light_sdk()
    from databricks.sdk.config import Config
    from databricks.sdk.core import ApiClient

    cfg = Config.__new__(Config)
    # An instance attribute shadows the method for this object only (see the module docstring).
    cfg._resolve_host_metadata = lambda: None  # type: ignore[method-assign]
    cfg.__init__(host=host, credentials_strategy=credentials_strategy,  # type: ignore[misc]
                 retry_timeout_seconds=retry_timeout_seconds, http_timeout_seconds=http_timeout_seconds)
    return ApiClient(cfg)


def errors_module() -> Any:
    """`databricks.sdk.errors` (DatabricksError, BadRequest, ...) without the service modules."""
    light_sdk()
    import databricks.sdk.errors as errors

    return errors


def retries_module() -> Any:
    """`databricks.sdk.retries` (`retried`) without the service modules."""
    light_sdk()
    import databricks.sdk.retries as retries

    return retries
