"""Issue 10 §8, least privilege: the custom roles grant what driftwatch uses, and nothing else.

- The custom reader (infra/reader-role.json, loaded by main.bicep) is checked against the ARM requests the
  collector really makes: a sweep and an event-driven scan run against the estate emulator through the real
  azure-mgmt clients, every request in the emulator's log is mapped to its RBAC operation (`{type}/read`), and
  the role must cover each one and hold no action that none of them needs. Every public read method of
  `ArmReader` must have been called by that run, so a new kind of ARM read cannot slip past the check.
- The history appender (modules/custom-roles.bicep) may only query and insert entities; the app identity's
  table, queue and Key Vault roles sit on each table, queue and secret rather than on the account or vault.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.collect.arm import ArmReader
from core.store.connection import HISTORY_TABLE, QUEUES, TABLES
from tests.infra.test_infra_templates import body, dotted, resources_of_type, variable

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
READER_ROLE = json.loads((INFRA / "reader-role.json").read_text(encoding="utf-8"))

TABLE_ENTITIES = "Microsoft.Storage/storageAccounts/tableServices/tables/entities"


def read_operation(method: str, path: str) -> str:
    """The Azure RBAC operation an ARM request needs: the resource type of its path + `/read`.

    `/subscriptions[/{id}]` -> Microsoft.Resources/subscriptions/read; otherwise the provider namespace after the
    last `/providers/` and every type segment after it (`privateEndpoints/{name}/privateDnsZoneGroups` ->
    `Microsoft.Network/privateEndpoints/privateDnsZoneGroups/read`; extension resources such as
    `{workspace}/providers/Microsoft.Insights/diagnosticSettings` -> `Microsoft.Insights/diagnosticSettings/read`).
    Operation names: learn.microsoft.com/azure/role-based-access-control/resource-provider-operations.
    """
    assert method == "GET", f"driftwatch only reads ARM, but sent {method} {path}"
    segs = [s for s in path.split("/") if s]
    low = [s.lower() for s in segs]
    if "providers" not in low:
        assert low[0] == "subscriptions" and len(segs) <= 2, f"unexpected ARM path {path}"
        return "Microsoft.Resources/subscriptions/read"
    at = len(low) - 1 - low[::-1].index("providers")
    namespace, rest = segs[at + 1], segs[at + 2:]
    assert rest, f"no resource type in {path}"
    return "/".join([namespace, *rest[0::2], "read"])


def test_read_operation_maps_paths_as_azure_names_operations() -> None:
    ws = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Databricks/workspaces/w"
    assert read_operation("GET", "/subscriptions") == "Microsoft.Resources/subscriptions/read"
    assert read_operation("GET", "/subscriptions/s/providers/Microsoft.Databricks/workspaces") == \
        "Microsoft.Databricks/workspaces/read"
    assert read_operation("GET", ws) == "Microsoft.Databricks/workspaces/read"
    assert read_operation("GET", f"{ws}/providers/Microsoft.Insights/diagnosticSettings") == \
        "Microsoft.Insights/diagnosticSettings/read"
    assert read_operation("GET", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/privateEndpoints/p/"
                                 "privateDnsZoneGroups") == "Microsoft.Network/privateEndpoints/privateDnsZoneGroups/read"
    with pytest.raises(AssertionError):
        read_operation("PUT", ws)


# --- the custom reader role ------------------------------------------------------------------------


def test_reader_role_is_read_only_and_is_what_main_deploys(templates: dict[str, Any]) -> None:
    actions = READER_ROLE["actions"]
    assert actions and len({a.lower() for a in actions}) == len(actions)
    for action in actions:
        assert action.endswith("/read") and "*" not in action, f"{action}: only exact read operations"
    main = templates["main.bicep"]
    load = variable(main, "readerRole")["function"]
    assert load["type"] == "load_json_content" and load["parameters"]["file_path"] == "reader-role.json"
    roles = body(main["modules"]["roles"])
    assert main["modules"]["roles"]["detail"]["path"] == "modules/custom-roles.bicep"
    assert dotted(roles["params"]["readerActions"]) == "readerRole.actions"
    assert roles["params"]["monitoredSubscriptionIds"] == "monitoredSubscriptionIds"

    custom = templates["modules/custom-roles.bicep"]
    assert custom["globals"]["scope"]["value"] == "subscription"
    definitions = resources_of_type(custom, "Microsoft.Authorization/roleDefinitions")
    assert set(definitions) == {"reader", "historyAppender"}
    reader = body(definitions["reader"])["properties"]
    assert reader["type"] == "CustomRole"
    assert reader["permissions"] == [{"actions": "readerActions", "notActions": [], "dataActions": [],
                                      "notDataActions": []}]
    scopes = reader["assignableScopes"]["function"]
    assert scopes["type"] == "union" and "monitoredScopes" in json.dumps(scopes)


@pytest.fixture(scope="module")
def collector_arm_requests() -> tuple[list[tuple[str, str]], set[str]]:
    """(method, path) of every ARM request of a sweep plus an event-driven scan, and the ArmReader methods called."""
    from core.baseline import load_baseline
    from core.collect import CollectConfig
    from core.scan import run_scan
    from emulator.server import EmulatorServer
    from samples.factory import SUB_PROD, sample_estate

    called: set[str] = set()
    originals = {name: getattr(ArmReader, name) for name in public_read_methods()}

    def spy(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(self: ArmReader, *args: Any, **kwargs: Any) -> Any:
            called.add(name)
            return fn(self, *args, **kwargs)
        return wrapper

    baseline = load_baseline(ROOT / "baseline.example.yaml")  # turns every ARM-reading rule family on
    requests: list[tuple[str, str]] = []
    try:
        for name, fn in originals.items():
            setattr(ArmReader, name, spy(name, fn))
        with EmulatorServer(sample_estate()) as server:
            config = CollectConfig.for_emulator(server.url)
            runs: list[dict[str, Any]] = [
                {},  # a sweep over every subscription ARM lists (lists, prefetch, per-workspace reads)
                # an event: GET the workspace, then its VNet and NSGs one by one (no sweep lists to prime them)
                {"workspace_ids": [f"/subscriptions/{SUB_PROD}/resourceGroups/rg-analytics/providers/"
                                   "Microsoft.Databricks/workspaces/dbw-analytics-prod"]},
            ]
            for kwargs in runs:
                server.reset_requests()
                run_scan(config, baseline, **kwargs)
                log = server.request_counts()
                assert log["total"] == len(log["recent"]), "request log overflowed: use a smaller estate"
                requests += [(r["method"], r["path"]) for r in log["recent"]
                             if r["path"].lower().startswith("/subscriptions")]
    finally:
        for name, fn in originals.items():
            setattr(ArmReader, name, fn)
    return requests, called


def public_read_methods() -> list[str]:
    return sorted(n for n, v in vars(ArmReader).items() if callable(v) and not n.startswith("_") and n != "close")


def test_every_arm_read_method_is_exercised(collector_arm_requests: tuple[list[tuple[str, str]], set[str]]) -> None:
    _requests, called = collector_arm_requests
    assert len(public_read_methods()) >= 9
    missing = set(public_read_methods()) - called
    assert not missing, f"ArmReader methods the role check did not exercise (extend the runs above): {missing}"


def test_reader_role_covers_every_arm_read_and_nothing_more(
    collector_arm_requests: tuple[list[tuple[str, str]], set[str]],
) -> None:
    requests, _called = collector_arm_requests
    needed: dict[str, str] = {}
    for method, path in requests:
        needed.setdefault(read_operation(method, path).lower(), path)
    granted = {a.lower() for a in READER_ROLE["actions"]}
    uncovered = {op: path for op, path in needed.items() if op not in granted}
    assert not uncovered, f"the reader role lacks the operation for these requests: {uncovered}"
    unused = granted - set(needed)
    assert not unused, f"the reader role grants operations the collector never needs: {sorted(unused)}"


# --- data-plane roles: per table, per queue, per secret ---------------------------------------------


def test_history_appender_may_only_query_and_insert(templates: dict[str, Any]) -> None:
    custom = templates["modules/custom-roles.bicep"]
    appender = body(resources_of_type(custom, "Microsoft.Authorization/roleDefinitions")["historyAppender"])
    permissions = appender["properties"]["permissions"]
    assert permissions == [{"actions": [], "notActions": [], "notDataActions": [],
                            "dataActions": [f"{TABLE_ENTITIES}/read", f"{TABLE_ENTITIES}/add/action"]}]


def test_table_and_queue_roles_sit_on_each_table_and_queue(templates: dict[str, Any]) -> None:
    storage = templates["modules/storage.bicep"]
    assert set(variable(storage, "tableNames")) == set(TABLES)
    assert set(variable(storage, "queueNames")) >= set(QUEUES)
    assert storage["outputs"]["tableNames"]["value"] == "tableNames"
    assert storage["outputs"]["queueNames"]["value"] == "queueNames"
    rbac_params = body(templates["main.bicep"]["modules"]["rbac"])["params"]
    assert dotted(rbac_params["tableNames"]) == "storage.outputs.tableNames"
    assert dotted(rbac_params["queueNames"]) == "storage.outputs.queueNames"

    rbac = templates["modules/rbac.bicep"]
    assert variable(rbac, "historyTableName") == HISTORY_TABLE
    mutable = variable(rbac, "mutableTableNames")["function"]
    assert mutable["type"] == "filter" and mutable["parameters"]["input_array"] == "tableNames"
    assert mutable["parameters"]["expression"]["detail"]["expression"]["operator"] == {
        "type": "not_equals", "operands": {"operand_1": "t", "operand_2": "historyTableName"}}
    existing = {n: d for n, d in rbac["resources"].items() if d.get("existing")}
    assert existing["mutableTables"]["config"]["loop_type"]["detail"]["array_name"] == "mutableTableNames"
    assert existing["queues"]["config"]["loop_type"]["detail"]["array_name"] == "queueNames"
    assert body(existing["historyTable"])["name"] == "historyTableName"
    assignments = resources_of_type(rbac, "Microsoft.Authorization/roleAssignments")
    for name, (array, scope) in {"appTableData": ("mutableTableNames", "mutableTables"),
                                 "appQueueData": ("queueNames", "queues")}.items():
        decl = assignments[name]
        assert decl["config"]["loop_type"]["detail"]["array_name"] == array
        assert body(decl)["scope"]["operator"] == {"type": "index_accessor",
                                                   "operands": {"operand_1": scope, "operand_2": "i"}}
    assert body(assignments["appHistoryAppend"])["scope"] == "historyTable"


def test_key_vault_role_sits_on_each_webhook_secret(templates: dict[str, Any]) -> None:
    vault = templates["modules/keyvault.bicep"]
    assignments = resources_of_type(vault, "Microsoft.Authorization/roleAssignments")
    assert body(assignments["appWebhookSecretUser"])["scope"] == "webhookSecret"
    route = assignments["appRouteSecretUser"]
    assert route["config"]["loop_type"]["detail"]["array_name"]["function"]["type"] == "items"
    assert body(route)["scope"]["operator"]["operands"]["operand_1"] == "routeWebhookSecrets"
    assert not resources_of_type(templates["modules/rbac.bicep"], "Microsoft.KeyVault/vaults"), \
        "no vault-wide role any more"


def test_deployment_package_is_out_of_the_app_identitys_reach(templates: dict[str, Any]) -> None:
    """The app identity holds Blob Data Owner on the host storage account only; the package container is in
    another account where only the deploy identity has a role."""
    host = templates["modules/storage.bicep"]
    assert [body(d)["name"] for d in resources_of_type(
        host, "Microsoft.Storage/storageAccounts/blobServices/containers").values()] == ["deadLetterContainerName"]
    package = templates["modules/package-storage.bicep"]
    props = next(iter(resources_of_type(package, "Microsoft.Storage/storageAccounts").values()))
    account = body(props)["properties"]
    assert account["allowSharedKeyAccess"] is False and account["allowBlobPublicAccess"] is False
    assert account["minimumTlsVersion"] == "TLS1_2" and account["supportsHttpsTrafficOnly"] is True
    grants = resources_of_type(package, "Microsoft.Authorization/roleAssignments")
    assert list(grants) == ["deployPackageWriter"]
    grant = body(grants["deployPackageWriter"])
    assert grant["scope"] == "packageContainer" and grant["properties"]["principalId"] == "deployPrincipalId"


def test_every_queue_the_app_uses_gets_its_role(templates: dict[str, Any]) -> None:
    """The queues the store sends to and the queue triggers read (plus the `-poison` queue of each: the host
    moves failed messages there, driftwatch rejects malformed ones there) are all in storage.bicep's
    queueNames, over which rbac.bicep assigns Queue Data Contributor queue by queue."""
    import function_app
    from samples.functions_host import registered_functions

    triggers = {b["queueName"] for f in registered_functions(function_app.app).values()
                for b in json.loads(f.get_function_json())["bindings"] if b["type"] == "queueTrigger"}
    assert triggers, "no queue trigger found (the check would be vacuous)"
    used = set(QUEUES) | triggers
    used |= {f"{q}-poison" for q in used}
    assert used <= set(variable(templates["modules/storage.bicep"], "queueNames"))
