"""The rule catalogue (ARCHITECTURE 4.4): pure functions of WorkspaceState x Baseline -> findings.

Importing this package registers every rule family; `RULES` maps id -> Rule.
"""

from core.rule_ids import RULE_IDS
from core.rules import (  # noqa: F401  (registration)  # noqa: F401  (registration)
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
from core.rules.registry import RULES, Rule, Violation

# Catalogue order (ARCHITECTURE 4.4) for listings and docs, whatever the import order.
_ordered = {rule_id: RULES[rule_id] for rule_id in RULE_IDS}
RULES.clear()
RULES.update(_ordered)

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
]
