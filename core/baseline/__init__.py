"""The baseline: what "compliant" means, per workspace (pure; no I/O except reading the file)."""

from core.baseline.load import (
    Baseline,
    BaselineError,
    EffectiveBaseline,
    ExemptionMatch,
    WorkspaceIdentity,
    load_baseline,
    parse_baseline,
)
from core.baseline.model import BaselineDocument, Settings, canonical_location, parse_cidr

__all__ = [
    "Baseline",
    "BaselineDocument",
    "BaselineError",
    "EffectiveBaseline",
    "ExemptionMatch",
    "Settings",
    "WorkspaceIdentity",
    "canonical_location",
    "load_baseline",
    "parse_baseline",
    "parse_cidr",
]
