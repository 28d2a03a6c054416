"""The estate emulator: ARM, the Databricks workspace API and a Teams webhook sink, offline.

Developers and the test-suite point the real azure-mgmt clients and databricks-sdk at it
(`emulator.server.EmulatorServer`, or `python -m emulator --seed P`). It holds estate state
only and knows nothing about driftwatch's compliance rules.

Routes (one server, 127.0.0.1 only):
- ARM under `/subscriptions...` (bearer + `api-version` required): subscription list/get,
  `/subscriptions/{s}/providers/{ns}/{type}` (paged, `$skiptoken`), `/resources` and
  `/resourceGroups[/{rg}[/resources]]`, GET/PUT/PATCH/DELETE on any resource id incl. subnets,
  NSG rules and extension resources, and collections such as `.../diagnosticSettings`.
- Workspace API under `/ws/{workspaceUrl host}/api/2.0/`: `ip-access-lists[/{id}]`,
  `workspace-conf` (only the keys in `emulator/workspace_conf_keys.py`; any other key fails the GET with
  Databricks' 400 `INVALID_PARAMETER_VALUE` "Invalid keys: [...]"), `token-management/tokens[/{id}]`.
- `POST /teams/{name}`: Workflows webhook sink.
- `/_emulator/{health,state,faults,requests,events,audit,teams}`: control and inspection, no auth.

Layout: `app.py` dispatches on the first path segment to one module per surface in `routes/`
(`arm.py` + `arm_operations.py`, `workspace.py`, `teams.py`, `control.py`); the state they serve is
`state.py` (`arm_state.py` for ARM, `workspace_state.py` per workspace); `faults.py`, `outbox.py`
(Event Grid events, audit records) and `request_log.py` are shared by all surfaces.
"""
