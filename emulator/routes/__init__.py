"""One module per surface the emulator serves.

- `arm.py`: Azure Resource Manager under `/subscriptions...` (subscriptions, resource groups, any
  resource id, lists and paging, RBAC, locks); `arm_operations.py`: ARM's long-running operations
  (workspace PUT/DELETE, network PUT) and their status endpoints.
- `workspace.py`: the Databricks workspace API under `/ws/{host}/api/...`, with its audit records.
- `teams.py`: the Teams Workflows webhook sink under `/teams/{name}`.
- `control.py`: `/_emulator/...`, inspection and control, as a (method, name) -> handler table.
"""
