"""requirements.lock pins the whole runtime closure of requirements.txt (audited by scripts/audit.sh)."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[A-Za-z0-9.+!_-]+)$")


def _requirements(path: Path) -> list[Requirement]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [Requirement(line) for line in lines if line and not line.startswith("-")]


def _lock() -> dict[str, str]:
    pins: dict[str, str] = {}
    for n, raw in enumerate((ROOT / "requirements.lock").read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = PIN.match(line)
        assert m, f"requirements.lock:{n}: not an exact `name==version` pin: {line!r}"
        name = canonicalize_name(m["name"])
        assert name not in pins, f"requirements.lock:{n}: {name} pinned twice"
        pins[name] = m["version"]
    return pins


def test_every_runtime_requirement_is_pinned_exactly_within_its_range() -> None:
    pins = _lock()
    for req in _requirements(ROOT / "requirements.txt"):
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} (requirements.txt) is not pinned in requirements.lock"
        assert Version(pins[name]) in req.specifier, f"{name}=={pins[name]} is outside requirements.txt's {req}"


def test_the_lock_is_closed_under_dependencies() -> None:
    """Every dependency of a locked package is locked too (checked where .venv has the locked version)."""
    pins = _lock()
    env = {**default_environment(), "extra": ""}
    checked = 0
    for name, version in pins.items():
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        if Version(dist.version) != Version(version):
            continue  # .venv moved on; `scripts/audit.sh --update-lock` refreshes the lock
        checked += 1
        for raw in dist.requires or []:
            dep = Requirement(raw)
            if dep.marker is None or dep.marker.evaluate(env):
                assert canonicalize_name(dep.name) in pins, f"{name} needs {dep.name}, missing from requirements.lock"
    assert checked >= len(pins) // 2, "most locked versions should be what .venv runs"


def test_dev_only_tools_stay_out_of_the_runtime_lock() -> None:
    pins = _lock()
    for dev in ("pytest", "hypothesis", "aiohttp", "ruff", "mypy", "pip-audit", "azure-functions-runtime"):
        assert dev not in pins, f"{dev} is a development dependency and must not be deployed"
