"""The stable rule ids of ARCHITECTURE 4.4.

Kept apart from `core.rules` so the baseline validator can reject unknown ids without
importing the rules (which import the baseline). A test checks this list against the registry.
"""

RULE_IDS: tuple[str, ...] = (
    "DBX-WS-001", "DBX-WS-002", "DBX-WS-003", "DBX-WS-004", "DBX-WS-005",
    "DBX-WS-006", "DBX-WS-007", "DBX-WS-008", "DBX-WS-009", "DBX-WS-010",
    "DBX-WS-011", "DBX-WS-012", "DBX-WS-013", "DBX-WS-014", "DBX-WS-015", "DBX-WS-016", "DBX-WS-017",
    "DBX-NET-001", "DBX-NET-002", "DBX-NET-003", "DBX-NET-004", "DBX-NET-005",
    "DBX-NET-006", "DBX-NET-007", "DBX-NET-008",
    "DBX-IPACL-001", "DBX-IPACL-002", "DBX-IPACL-003", "DBX-IPACL-004",
    "DBX-CONF-001", "DBX-CONF-002", "DBX-TOKEN-001", "DBX-TOKEN-002",
    "DBX-TOKEN-003", "DBX-TOKEN-004", "DBX-TOKEN-005",
    "DBX-SET-001", "DBX-SET-002", "DBX-SET-003", "DBX-SET-004",
    "DBX-SEC-001", "DBX-SEC-002", "DBX-SEC-003",
    "DBX-IAM-001", "DBX-IAM-002", "DBX-IAM-003", "DBX-IAM-004",
    "DBX-CLU-001", "DBX-CLU-002", "DBX-CLU-003", "DBX-CLU-004", "DBX-CLU-005",
    "DBX-CLU-006", "DBX-CLU-007",
    "DBX-UC-001", "DBX-UC-002", "DBX-UC-003", "DBX-UC-004", "DBX-UC-005",
    "DBX-EVAL-001", "DBX-EVAL-002",
)  # fmt: skip
