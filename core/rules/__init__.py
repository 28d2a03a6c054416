"""The rules (ARCHITECTURE 4.4): pure functions of WorkspaceState x Baseline -> findings.

Importing this package registers every rule family; `RULES` maps id -> Rule and iterates in catalogue order
(core/catalogue/rules.yaml), whatever order the family modules are imported in.
"""

from core.rules import (  # noqa: F401  (registration)
    compute,
    conf,
    evaluation,
    iam,
    ipacl,
    network,
    secrets,
    settings,
    tokens,
    unity_catalog,
    workspace,
)
from core.rules.engine import (
    WorkspaceEvaluation,
    api_rules_on,
    diagnostics_rules_on,
    evaluate_workspace,
    identity_of,
    network_rules_on,
    rbac_rules_on,
)
from core.rules.plan import read_plan
from core.rules.registry import RULES, Rule, Violation

if RULES.missing():
    raise ImportError(f"catalogue rules without a check in core/rules: {RULES.missing()}")

__all__ = [
    "RULES",
    "Rule",
    "Violation",
    "WorkspaceEvaluation",
    "api_rules_on",
    "diagnostics_rules_on",
    "evaluate_workspace",
    "identity_of",
    "network_rules_on",
    "rbac_rules_on",
    "read_plan",
]
