"""ARCHITECTURE §5, the parts import-linter cannot say.

import-linter (contracts in pyproject.toml, run by `make lint`) sees an external package only by its
top name, so `azure.data.tables` and `azure.mgmt.resource` are both just `azure` to it. These tests
read every import statement (lazy ones inside functions included) and hold the finer rules:
only `core/store` reaches Table Storage and queues, only `core/collect` the ARM and workspace-API SDKs,
only `core/notify` and `core/collect` make raw HTTP calls.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP_FILES = sorted([*ROOT.joinpath("core").rglob("*.py"), *ROOT.joinpath("functions").rglob("*.py"), ROOT / "function_app.py"])

# module prefix -> the only folders allowed to import it
ALLOWED: dict[str, tuple[str, ...]] = {
    "azure.data.tables": ("core/store/",),
    "azure.storage.queue": ("core/store/",),
    "azure.mgmt.resource": ("core/collect/",),
    "azure.mgmt.network": ("core/collect/",),
    "azure.mgmt.databricks": ("core/collect/",),
    "azure.mgmt.authorization": ("core/collect/",),
    "databricks": ("core/collect/",),
    "azure.identity": ("core/collect/", "core/store/"),
    "requests": ("core/collect/", "core/notify/"),
    "aiohttp": ("core/collect/", "core/notify/"),
    "httpx": ("core/collect/", "core/notify/"),
}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def owner(module: str) -> str | None:
    for prefix in sorted(ALLOWED, key=len, reverse=True):
        if module == prefix or module.startswith(prefix + "."):
            return prefix
    return None


def test_sdk_imports_stay_in_their_adapter() -> None:
    offences = []
    for path in APP_FILES:
        rel = path.relative_to(ROOT).as_posix()
        for line, module in imported_modules(path):
            prefix = owner(module)
            if prefix and not rel.startswith(ALLOWED[prefix]):
                offences.append(f"{rel}:{line} imports {module} (only {', '.join(ALLOWED[prefix])} may)")
    assert offences == []


STORAGE_CALLS = frozenset({
    "send_message", "receive_messages", "receive_message", "peek_messages", "update_message", "delete_message",
    "clear_messages", "create_queue", "delete_queue", "create_table", "delete_table", "create_entity",
    "upsert_entity", "update_entity", "delete_entity", "get_entity", "query_entities", "list_entities",
    "submit_transaction",
})
"""The azure-data-tables / azure-storage-queue client methods: whoever calls one talks to storage."""


def storage_calls(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [(node.lineno, node.func.attr) for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in STORAGE_CALLS]


def test_only_core_store_talks_to_tables_and_queues() -> None:
    """Holding a client handed out by core/store is not enough to escape the rule: the calls count."""
    offences = [f"{path.relative_to(ROOT).as_posix()}:{line} calls .{name}()"
                for path in APP_FILES if not path.relative_to(ROOT).as_posix().startswith("core/store/")
                for line, name in storage_calls(path)]
    assert offences == []


def test_the_storage_scan_sees_a_call_on_any_object(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f(rt):\n    rt.connection.queue('x-poison').send_message('{}')\n", encoding="utf-8")
    assert storage_calls(module) == [(2, "send_message")]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from azure.data.tables import TableClient\n", "azure.data.tables"),
        ("def f():\n    import databricks.sdk.errors\n", "databricks.sdk.errors"),
        ("import requests as r\n", "requests"),
    ],
)
def test_the_scan_sees_top_level_and_lazy_imports(tmp_path: Path, source: str, expected: str) -> None:
    """The rule above must not pass by failing to see an import."""
    module = tmp_path / "m.py"
    module.write_text(source, encoding="utf-8")
    assert owner(imported_modules(module)[0][1]) is not None
    assert imported_modules(module)[0][1] == expected


def test_the_notify_path_does_not_import_databricks_sdk() -> None:
    """Issue 11 §2: every use case and the Teams client load without databricks-sdk (1.4 s of CPU);
    only a scan that calls the workspace API imports it (core/collect/databricks_client.py)."""
    code = ("import sys; import core.service, core.service.notifying, core.notify, function_app;"
            "print(','.join(m for m in sys.modules if m == 'databricks' or m.startswith('databricks.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == ""
