"""Reading the data files shipped inside the package (rules.yaml, mappings.yaml)."""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml

_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader where PyYAML was built with it: about 10x faster than the pure-Python one on the
files every process parses at start-up. Only for our own files: operator input (baselines) keeps the
pure-Python SafeLoader, whose recursion limit turns a hostile nesting into an error, not a stack overflow."""


def load_packaged_yaml(package: str, name: str) -> Any:
    """The parsed YAML document `name` shipped in `package`."""
    text = resources.files(package).joinpath(name).read_text(encoding="utf-8")
    return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader (CSafeLoader or SafeLoader)
