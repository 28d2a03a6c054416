"""Offline checks of the Bicep templates (no Bicep CLI): parse them with pycep and walk the result.

What is checked: every template parses; the managed identities hold exactly the intended roles, each at
its narrowest scope (never Owner / Contributor / User Access Administrator, never built-in Reader); the
storage accounts are key-less and TLS 1.2; the Event Grid subscription targets on_resource_change with the
contracted event types and routed operations; the app settings are exactly core.settings.DEPLOYED_SETTINGS
plus an explicit host allow-list; no keys or connection strings with keys anywhere; the webhook is secure.
The custom roles themselves (actions derived from the collector's requests) are checked in
test_infra_least_privilege.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from core import settings
from core.events import operations

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"


def bicep_files() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))


OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcd635"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7381ae24c"
USER_ACCESS_ADMINISTRATOR = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
FORBIDDEN_ROLES = {
    OWNER: "Owner",
    CONTRIBUTOR: "Contributor",
    USER_ACCESS_ADMINISTRATOR: "User Access Administrator",
}

READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
STORAGE_QUEUE_DATA_CONTRIBUTOR = "974c5e8b-45b9-4653-ba55-5f855dd0fb88"
STORAGE_TABLE_DATA_CONTRIBUTOR = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
STORAGE_BLOB_DATA_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
STORAGE_BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
# driftwatch's custom roles (modules/custom-roles.bicep): role assignments name them by the module parameter
# that carries the definition's GUID.
CUSTOM_READER = "param:readerRoleId"
HISTORY_APPENDER = "param:historyAppenderRoleId"
MONITORING_METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"
EVENT_HUBS_DATA_RECEIVER = "a638d3c7-ab3a-418d-83e6-5f17a39d4fde"

# (role, type of the scope) the app identity must hold, and nothing else.
APP_IDENTITY_ROLES = {
    (CUSTOM_READER, "subscription"),  # each monitored subscription; not the built-in Reader
    (STORAGE_QUEUE_DATA_CONTRIBUTOR, "Microsoft.Storage/storageAccounts/queueServices/queues"),  # each queue
    (STORAGE_TABLE_DATA_CONTRIBUTOR, "Microsoft.Storage/storageAccounts/tableServices/tables"),  # each mutable table
    (HISTORY_APPENDER, "Microsoft.Storage/storageAccounts/tableServices/tables"),  # findinghistory only
    (STORAGE_BLOB_DATA_OWNER, "Microsoft.Storage/storageAccounts"),  # the Functions host's own storage
    (KEY_VAULT_SECRETS_USER, "Microsoft.KeyVault/vaults/secrets"),  # each webhook secret, not the vault
    (MONITORING_METRICS_PUBLISHER, "Microsoft.Insights/components"),
    (EVENT_HUBS_DATA_RECEIVER, "Microsoft.EventHub/namespaces/eventhubs"),  # the audit hub only
}
# The deployment identity: Flex Consumption reads / its deployment service writes the package container.
DEPLOY_IDENTITY_ROLES = {
    (STORAGE_BLOB_DATA_CONTRIBUTOR, "Microsoft.Storage/storageAccounts/blobServices/containers"),
}
# The Event Grid system topics' identity: write dead-lettered events to the dead-letter container.
EVENT_GRID_IDENTITY_ROLES = {
    (STORAGE_BLOB_DATA_CONTRIBUTOR, "Microsoft.Storage/storageAccounts/blobServices/containers"),
}

# App settings that the Functions host (not driftwatch's code) reads, allowed beside DEPLOYED_SETTINGS:
HOST_SETTINGS_ALLOW_LIST = {
    "APPLICATIONINSIGHTS_CONNECTION_STRING",  # where the host and worker send telemetry
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",  # Entra (AAD) ingestion with the app identity
}

GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


# --- helpers over pycep's JSON -------------------------------------------------------------------


def body(declaration: dict[str, Any]) -> dict[str, Any]:
    """The object of a resource/module declaration, under any `if (...)` or `[for ...]` wrapper."""
    config = declaration["config"]
    while (
        isinstance(config, dict) and "config" in config and ("condition" in config or "loop_type" in config)
    ):
        config = config["config"]
    return config


def dotted(expr: Any) -> str | None:
    """`a.b.c` for a property-accessor chain (or a bare name); None for anything else."""
    if isinstance(expr, str):
        return expr
    if isinstance(expr, dict) and "operator" in expr and expr["operator"]["type"] == "property_accessor":
        left = dotted(expr["operator"]["operands"]["operand_1"])
        right = dotted(expr["operator"]["operands"]["operand_2"])
        if left is not None and right is not None:
            return f"{left}.{right}"
    return None


def variable(template: dict[str, Any], name: str) -> Any:
    return template["variables"][name]["value"]


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        name: decl
        for name, decl in template.get("resources", {}).items()
        if decl["type"].lower() == resource_type.lower() and not decl.get("existing")
    }


def only_resource(template: dict[str, Any], resource_type: str) -> dict[str, Any]:
    found = resources_of_type(template, resource_type)
    assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
    return body(next(iter(found.values())))


def role_guid(template: dict[str, Any], role_definition_id: Any) -> str:
    """Resolve `subscriptionResourceId('Microsoft.Authorization/roleDefinitions', X)` to the GUID X, or to
    `param:NAME` when X is a template parameter (a custom role's GUID handed in by main.bicep)."""
    function = role_definition_id["function"]
    assert function["type"] == "subscription_resource_id", role_definition_id
    assert function["parameters"]["resource_type"] == "Microsoft.Authorization/roleDefinitions"
    ref = function["parameters"]["resource_name_1"]
    if isinstance(ref, str) and GUID.match(ref):
        return ref
    if isinstance(ref, str) and ref in template.get("parameters", {}):
        return f"param:{ref}"
    path = dotted(ref)
    assert path, f"role definition is not a literal or a variable: {ref!r}"
    head, *rest = path.split(".")
    value = variable(template, head)
    for key in rest:
        value = value[key]
    assert isinstance(value, str) and GUID.match(value), f"{path} is not a role GUID: {value!r}"
    return value


def scope_name(scope: Any) -> str | None:
    """The resource a `scope:` names: `storage`, or `queues` for `queues[i]`."""
    if isinstance(scope, dict) and scope.get("operator", {}).get("type") == "index_accessor":
        return dotted(scope["operator"]["operands"]["operand_1"])
    return dotted(scope)


def scope_type(template: dict[str, Any], assignment: dict[str, Any]) -> str:
    scope = assignment.get("scope")
    if scope is None:
        target = template.get("globals", {}).get("scope", {}).get("value", "resourceGroup")
        return target
    name = scope_name(scope)
    assert name in template["resources"], f"scope {scope!r} is not a resource of the template"
    return template["resources"][name]["type"]


def role_assignments() -> list[tuple[str, str, str, str]]:
    """(file, principal parameter, role GUID, scope type) for every role assignment in infra/."""
    return [a[:4] for a in role_assignments_with_targets()]


def role_assignments_with_targets() -> list[tuple[str, str, str, str, str | None]]:
    """As role_assignments(), plus the scope resource's symbolic name (None = the deployment scope)."""
    from pycep import BicepParser

    parser = BicepParser()
    found = []
    for path in bicep_files():
        template = parser.parse(file_path=path)
        for decl in resources_of_type(template, "Microsoft.Authorization/roleAssignments").values():
            assignment = body(decl)
            props = assignment["properties"]
            principal = dotted(props["principalId"])
            assert principal, f"{path.name}: principalId must be a parameter, got {props['principalId']!r}"
            assert props.get("principalType") == "ServicePrincipal"
            found.append(
                (
                    path.relative_to(INFRA).as_posix(),
                    principal,
                    role_guid(template, props["roleDefinitionId"]),
                    scope_type(template, assignment),
                    scope_name(assignment["scope"]) if assignment.get("scope") is not None else None,
                )
            )
    return found


# --- parsing -------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", bicep_files(), ids=lambda p: p.relative_to(INFRA).as_posix())
def test_every_bicep_file_parses(path: Path) -> None:
    from pycep import BicepParser

    parsed = BicepParser().parse(file_path=path)
    assert parsed.get("resources") or parsed.get("modules"), f"{path} declares nothing"


def test_main_is_subscription_scoped_and_calls_only_existing_modules(templates: dict[str, Any]) -> None:
    main = templates["main.bicep"]
    assert main["globals"]["scope"]["value"] == "subscription"
    for file, template in templates.items():
        for name, module in template.get("modules", {}).items():
            target = (INFRA / file).parent / module["detail"]["path"]
            assert target.is_file(), f"{file}: module {name} points at missing {target}"


# --- identity and RBAC ---------------------------------------------------------------------------


def test_no_owner_contributor_or_user_access_administrator_anywhere() -> None:
    for path in INFRA.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8").lower()
            for guid, role in FORBIDDEN_ROLES.items():
                assert guid not in text, f"{path.relative_to(ROOT)} mentions the {role} role"
    for file, _principal, role, _scope in role_assignments():
        assert role not in FORBIDDEN_ROLES, f"{file} assigns {FORBIDDEN_ROLES[role]}"


def test_identities_have_exactly_the_intended_roles(templates: dict[str, Any]) -> None:
    assignments = role_assignments()
    app_roles = {(role, scope) for _f, principal, role, scope in assignments if principal == "appPrincipalId"}
    grid_roles = {
        (role, scope) for _f, principal, role, scope in assignments if principal == "eventGridPrincipalId"
    }
    deploy_roles = {
        (role, scope) for _f, principal, role, scope in assignments if principal == "deployPrincipalId"
    }
    others = [a for a in assignments if a[1] not in {"appPrincipalId", "eventGridPrincipalId", "deployPrincipalId"}]
    assert app_roles == APP_IDENTITY_ROLES
    assert grid_roles == EVENT_GRID_IDENTITY_ROLES
    assert deploy_roles == DEPLOY_IDENTITY_ROLES
    assert others == [], f"role assignments for unexpected principals: {others}"
    assert READER not in {role for _f, _p, role, _s in assignments}, "the built-in Reader is replaced by the custom reader"
    # Nothing granted twice under another name: one declaration per (principal, role, scope resource).
    targets = role_assignments_with_targets()
    assert len({(p, r, t) for _f, p, r, _s, t in targets}) == len(targets)

    # main.bicep wires the parameters to the right identities...
    main = templates["main.bicep"]
    rbac = body(main["modules"]["rbac"])["params"]
    assert dotted(rbac["appPrincipalId"]) == "identity.outputs.appPrincipalId"
    assert dotted(rbac["eventGridPrincipalId"]) == "identity.outputs.eventGridPrincipalId"
    assert dotted(rbac["historyAppenderRoleId"]) == "roles.outputs.historyAppenderRoleId"
    assert dotted(body(main["modules"]["vault"])["params"]["appPrincipalId"]) == "identity.outputs.appPrincipalId"
    package = body(main["modules"]["packageStorage"])["params"]
    assert dotted(package["deployPrincipalId"]) == "identity.outputs.deployPrincipalId"
    monitored = main["modules"]["monitored"]
    assert dotted(body(monitored)["params"]["appPrincipalId"]) == "identity.outputs.appPrincipalId"
    assert dotted(body(monitored)["params"]["readerRoleId"]) == "roles.outputs.readerRoleId"
    # ...and the custom reader is granted once per monitored subscription, at that subscription's scope.
    assert monitored["config"]["loop_type"]["detail"]["array_name"] == "monitoredSubscriptionIds"
    scope = body(monitored)["scope"]["function"]
    assert scope["type"] == "subscription"
    assert scope["parameters"]["subscription_id"] == monitored["config"]["loop_type"]["detail"]["item_name"]
    # The code and the host run as the app identity and resolve Key Vault references with it; the deploy
    # identity is attached only because Flex Consumption reads the package with the identity it names.
    site = only_resource(templates["modules/functionapp.bicep"], "Microsoft.Web/sites")
    assert site["identity"]["type"] == "UserAssigned"
    assert [key.strip("'") for key in site["identity"]["userAssignedIdentities"]] == [
        "${appIdentityId}", "${deployIdentityId}"]
    assert site["properties"]["keyVaultReferenceIdentity"] == "appIdentityId"
    storage_auth = site["properties"]["functionAppConfig"]["deployment"]["storage"]["authentication"]
    assert storage_auth == {"type": "UserAssignedIdentity", "userAssignedIdentityResourceId": "deployIdentityId"}
    app_params = body(main["modules"]["app"])["params"]
    assert dotted(app_params["appIdentityId"]) == "identity.outputs.appIdentityId"
    assert dotted(app_params["deployIdentityId"]) == "identity.outputs.deployIdentityId"
    assert dotted(app_params["deploymentContainerUrl"]) == "packageStorage.outputs.containerUrl"


# --- storage -------------------------------------------------------------------------------------


def test_storage_is_keyless_tls12_and_private_to_entra(templates: dict[str, Any]) -> None:
    storage_template = templates["modules/storage.bicep"]
    props = only_resource(storage_template, "Microsoft.Storage/storageAccounts")["properties"]
    assert props["allowSharedKeyAccess"] is False
    assert props["minimumTlsVersion"] == "TLS1_2"
    assert props["allowBlobPublicAccess"] is False
    assert props["supportsHttpsTrafficOnly"] is True
    assert props["defaultToOAuthAuthentication"] is True
    for decl in resources_of_type(
        storage_template, "Microsoft.Storage/storageAccounts/blobServices/containers"
    ).values():
        assert body(decl)["properties"]["publicAccess"] == "None"


def test_storage_creates_the_contracted_tables_and_queues(templates: dict[str, Any]) -> None:
    storage_template = templates["modules/storage.bicep"]
    assert set(variable(storage_template, "tableNames")) == {
        "findings",
        "findinghistory",
        "scans",
        "topology",
    }
    assert set(variable(storage_template, "queueNames")) == {
        "scan-requests",
        "scan-requests-poison",
        "drift-findings",
        "drift-findings-poison",
    }
    tables = resources_of_type(storage_template, "Microsoft.Storage/storageAccounts/tableServices/tables")
    queues = resources_of_type(storage_template, "Microsoft.Storage/storageAccounts/queueServices/queues")
    assert [d["config"]["loop_type"]["detail"]["array_name"] for d in tables.values()] == ["tableNames"]
    assert [d["config"]["loop_type"]["detail"]["array_name"] for d in queues.values()] == ["queueNames"]


# --- Event Grid ----------------------------------------------------------------------------------


def test_routed_operations_json_matches_the_router() -> None:
    document = json.loads((INFRA / "routed-operations.json").read_text(encoding="utf-8"))
    assert document["eventTypes"] == list(operations.EVENT_TYPES)
    assert document["operations"] == list(operations.ROUTED_OPERATIONS)
    # Event Grid: at most 25 values in one StringIn filter (and across one subscription's filters).
    assert len(document["operations"]) <= 25
    assert len(set(op.lower() for op in document["operations"])) == len(document["operations"])


def test_generator_reports_the_json_up_to_date() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "gen_infra_operations", ROOT / "scripts/gen_infra_operations.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--check"]) == 0


def test_event_subscription_targets_on_resource_change_with_the_routed_filter(
    templates: dict[str, Any],
) -> None:
    main = templates["main.bicep"]
    load = variable(main, "routed")["function"]
    assert load["type"] == "load_json_content"
    assert load["parameters"]["file_path"] == "routed-operations.json"
    monitored_params = body(main["modules"]["monitored"])["params"]
    assert dotted(monitored_params["eventTypes"]) == "routed.eventTypes"
    assert dotted(monitored_params["operations"]) == "routed.operations"
    assert dotted(monitored_params["functionAppId"]) == "app.outputs.functionAppId"

    per_subscription = templates["modules/monitored-subscription.bicep"]
    assert per_subscription["globals"]["scope"]["value"] == "subscription"
    events_params = body(per_subscription["modules"]["events"])["params"]
    for name in ("eventTypes", "operations", "functionAppId"):
        assert events_params[name] == name

    eventgrid = templates["modules/eventgrid.bicep"]
    topic = only_resource(eventgrid, "Microsoft.EventGrid/systemTopics")
    assert topic["properties"]["topicType"] == "Microsoft.Resources.Subscriptions"
    assert topic["location"] == "global"

    subscription = only_resource(eventgrid, "Microsoft.EventGrid/systemTopics/eventSubscriptions")
    destination = subscription["properties"]["destination"]
    assert destination["endpointType"] == "AzureFunction"
    assert destination["properties"]["resourceId"] == "${functionAppId}/functions/on_resource_change"
    event_filter = subscription["properties"]["filter"]
    assert event_filter["includedEventTypes"] == "eventTypes"
    assert event_filter["advancedFilters"] == [
        {"operatorType": "StringIn", "key": "data.operationName", "values": "operations"}
    ]
    retry = subscription["properties"]["retryPolicy"]
    assert set(retry) == {"maxDeliveryAttempts", "eventTimeToLiveInMinutes"}
    dead_letter = subscription["properties"]["deadLetterWithResourceIdentity"]
    assert dead_letter["identity"]["type"] == "UserAssigned"
    assert dead_letter["deadLetterDestination"]["endpointType"] == "StorageBlob"
    assert "deadLetterDestination" not in subscription["properties"], "dead-lettering must use the identity"


# --- the function app ----------------------------------------------------------------------------


def app_settings(templates: dict[str, Any]) -> dict[str, Any]:
    functionapp = templates["modules/functionapp.bicep"]
    site = only_resource(functionapp, "Microsoft.Web/sites")
    assert site["properties"]["siteConfig"]["appSettings"] == "appSettings"
    combined = variable(functionapp, "appSettings")["function"]
    assert combined["type"] == "concat", "appSettings = concat(fixedAppSettings, routeWebhookAppSettings)"
    assert [dotted(p) for p in combined["parameters"].values()] == ["fixedAppSettings", "routeWebhookAppSettings"]
    entries = variable(functionapp, "fixedAppSettings")
    names = [entry["name"] for entry in entries]
    assert len(names) == len(set(names)), "an app setting is set twice"
    return {entry["name"]: entry["value"] for entry in entries}


def test_app_settings_are_exactly_the_deployed_settings_plus_host_allow_list(
    templates: dict[str, Any],
) -> None:
    names = set(app_settings(templates))
    assert names == set(settings.DEPLOYED_SETTINGS) | HOST_SETTINGS_ALLOW_LIST
    assert settings.STORAGE not in names, (
        "AzureWebJobsStorage must be identity-based, not a connection string"
    )


def test_app_setting_values(templates: dict[str, Any]) -> None:
    values = app_settings(templates)
    assert values[settings.AUTH] == "azure"
    assert values[settings.WORKSPACE_BASE_URL] == settings.DEFAULT_WORKSPACE_BASE_URL
    assert values[settings.STORAGE_CREDENTIAL] == "managedidentity"
    assert values[settings.STORAGE_CLIENT_ID] == "appClientId"
    assert values[settings.MANAGED_IDENTITY_CLIENT_ID] == "appClientId"
    assert values[settings.BASELINE] == "baselinePath"
    assert values[settings.TEAMS_WEBHOOK_URL] == "@Microsoft.KeyVault(SecretUri=${webhookSecretUri})"
    assert values[settings.ARM_ENDPOINT] == "armEndpoint"
    subscriptions = values[settings.SUBSCRIPTIONS]["function"]
    assert subscriptions["type"] == "join"
    assert values["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == "ClientId=${appClientId};Authorization=AAD"
    assert values[settings.PUBLIC_API_URL] == "publicApiUrl"


def test_route_webhooks_are_key_vault_references(templates: dict[str, Any]) -> None:
    """notifications.routes webhooks (TEAMS_WEBHOOK_URL_<NAME>): a secret each, an app setting each."""
    functionapp = templates["modules/functionapp.bicep"]
    text = json.dumps(variable(functionapp, "routeWebhookAppSettings"))
    assert "@Microsoft.KeyVault(SecretUri=${route.secretUri})" in text and "routeWebhookSecretUris" in text
    vault = templates["modules/keyvault.bicep"]
    param = vault["parameters"]["routeWebhookUrls"]
    assert {"type": "secure"} in param["decorators"] and param["type"] == "object"
    assert {"type": "secure"} in templates["main.bicep"]["parameters"]["routeWebhookUrls"]["decorators"]
    secrets = [n for n, d in vault["resources"].items() if d["type"] == "Microsoft.KeyVault/vaults/secrets"]
    assert "routeWebhookSecrets" in secrets


def test_function_app_is_flex_consumption_python_313(templates: dict[str, Any]) -> None:
    functionapp = templates["modules/functionapp.bicep"]
    plan = only_resource(functionapp, "Microsoft.Web/serverfarms")
    assert plan["sku"] == {"tier": "FlexConsumption", "name": "FC1"}
    site = only_resource(functionapp, "Microsoft.Web/sites")
    config = site["properties"]["functionAppConfig"]
    assert config["runtime"] == {"name": "python", "version": "3.13"}
    assert config["deployment"]["storage"]["authentication"]["type"] == "UserAssignedIdentity"
    assert site["properties"]["httpsOnly"] is True
    assert site["properties"]["siteConfig"]["minTlsVersion"] == "1.2"
    main = templates["main.bicep"]
    assert main["parameters"]["enableVnetIntegration"] == {
        "decorators": main["parameters"]["enableVnetIntegration"]["decorators"],
        "type": "bool",
        "default": False,
    }


def test_key_vault_is_rbac_mode_with_purge_protection(templates: dict[str, Any]) -> None:
    props = only_resource(templates["modules/keyvault.bicep"], "Microsoft.KeyVault/vaults")["properties"]
    assert props["enableRbacAuthorization"] is True
    assert props["enablePurgeProtection"] is True
    assert props["enableSoftDelete"] is True


def test_monitoring_ingests_with_entra_only(templates: dict[str, Any]) -> None:
    component = only_resource(templates["modules/monitoring.bicep"], "Microsoft.Insights/components")
    assert component["properties"]["DisableLocalAuth"] is True


# --- secrets -------------------------------------------------------------------------------------


def test_no_keys_or_keyed_connection_strings_in_infra() -> None:
    for path in INFRA.rglob("*"):
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        for needle in ("listKeys(", "AccountKey=", "SharedAccessSignature=", "SharedAccessKey="):
            assert needle.lower() not in text.lower(), f"{path.relative_to(ROOT)} contains {needle}"


@pytest.mark.parametrize("file", ["main.bicep", "modules/keyvault.bicep"])
def test_webhook_parameter_is_secure_without_default(templates: dict[str, Any], file: str) -> None:
    parameter = templates[file]["parameters"]["teamsWebhookUrl"]
    assert {"type": "secure"} in parameter["decorators"]
    assert parameter["type"] == "string"
    assert parameter["default"] is None


def test_example_parameters_hold_no_secret() -> None:
    text = (INFRA / "main.example.bicepparam").read_text(encoding="utf-8")
    assert re.search(r"^param teamsWebhookUrl = readEnvironmentVariable\(", text, re.M)
    assert "webhook.office.com" not in text.lower()
    assert "logic.azure.com" not in text.lower()


def test_outputs_name_the_app_and_identity_and_leak_nothing(templates: dict[str, Any]) -> None:
    outputs = templates["main.bicep"]["outputs"]
    assert {
        "functionAppName",
        "defaultHostName",
        "apiBaseUrl",
        "identityPrincipalId",
        "identityClientId",
    } <= set(outputs)
    rendered = json.dumps(outputs).lower()
    for leak in ("connectionstring", "webhook", "secret"):
        assert leak not in rendered, f"an output mentions {leak}"


def test_role_walker_sees_an_owner_grant_in_a_template() -> None:
    """The helpers above resolve literal and variable role ids, so a forbidden grant cannot hide."""
    from pycep import BicepParser

    text = """
var roles = {
  owner: '8e3af657-a8ff-443c-a75c-2fe8c4bcd635'
}
var contributor = 'b24988ac-6180-42a0-ab88-20f7381ae24c'

resource a 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid('a')
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.owner)
    principalId: appPrincipalId
  }
}

resource b 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid('b')
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', contributor)
    principalId: appPrincipalId
  }
}
"""
    template = BicepParser().parse(text=text)
    found = {
        role_guid(template, body(decl)["properties"]["roleDefinitionId"])
        for decl in resources_of_type(template, "Microsoft.Authorization/roleAssignments").values()
    }
    assert found == {OWNER, CONTRIBUTOR}


# --- Databricks audit logs through Event Hubs (issue 17) -------------------------------------------


def test_audit_event_hub_is_keyless_with_a_driftwatch_consumer_group(templates: dict[str, Any]) -> None:
    hubs = templates["modules/eventhubs.bicep"]
    namespace = only_resource(hubs, "Microsoft.EventHub/namespaces")["properties"]
    assert namespace["disableLocalAuth"] is True and namespace["minimumTlsVersion"] == "1.2"
    assert only_resource(hubs, "Microsoft.EventHub/namespaces/eventhubs")
    group = only_resource(hubs, "Microsoft.EventHub/namespaces/eventhubs/consumergroups")
    assert group["name"] == "consumerGroupName" and hubs["parameters"]["consumerGroupName"]["default"] == "driftwatch"
    values = app_settings(templates)
    assert values[settings.AUDIT_NAMESPACE] == "auditNamespace"
    assert values[settings.AUDIT_CREDENTIAL] == "managedidentity"
    assert values[settings.AUDIT_CLIENT_ID] == "appClientId"
    assert values[settings.AUDIT_EVENTHUB] == "auditEventHubName"
    assert values[settings.AUDIT_CONSUMER_GROUP] == "auditConsumerGroup"
    params = body(templates["main.bicep"]["modules"]["app"])["params"]
    assert dotted(params["auditNamespace"]) == "audit.outputs.fullyQualifiedNamespace"
    assert dotted(params["auditConsumerGroup"]) == "audit.outputs.consumerGroupName"


def test_the_trigger_reads_the_deployed_settings() -> None:
    import function_app
    from samples.functions_host import registered_functions

    binding = json.loads(registered_functions(function_app.app)["on_workspace_audit"].get_function_json())["bindings"][0]
    assert binding["type"] == "eventHubTrigger" and binding["cardinality"].lower() == "many"
    assert binding["connection"] == settings.AUDIT_CONNECTION
    assert f"{binding['connection']}__fullyQualifiedNamespace" == settings.AUDIT_NAMESPACE
    assert binding["eventHubName"] == f"%{settings.AUDIT_EVENTHUB}%"
    assert binding["consumerGroup"] == f"%{settings.AUDIT_CONSUMER_GROUP}%"


def test_workspace_diagnostic_setting_streams_every_routed_service_to_the_hub(templates: dict[str, Any]) -> None:
    from core.events.audit_table import load_audit_table

    diag = templates["modules/workspace-diagnostics.bicep"]
    setting = only_resource(diag, "Microsoft.Insights/diagnosticSettings")
    assert dotted(setting["scope"]) == "workspace"
    assert setting["properties"]["eventHubName"] == "eventHubName"
    categories = set(diag["parameters"]["categories"]["default"])
    # Every service the routing table scans for has its diagnostic category streamed (the category is the
    # service name, except clusterPolicies, which older workspaces log under its own optional category).
    services = {a.service for a in load_audit_table().actions.values()} - {"clusterPolicies"}
    assert services <= categories, services - categories
    main = templates["main.bicep"]
    assert set(main["parameters"]["auditCategories"]["default"]) == categories
    loop = main["modules"]["workspaceAudit"]["config"]["loop_type"]["detail"]
    assert loop["array_name"] == "auditWorkspaceIds"

def test_auditors_group_turns_on_entra_easy_auth_for_the_api_only(templates: dict[str, Any]) -> None:
    """Issue 16: `auditorsGroupObjectId` switches on App Service authentication (authsettingsV2) with
    Entra ID, restricted to that group; health stays anonymous and Event Grid keeps its system key."""
    main = templates["main.bicep"]
    for name in ("auditorsGroupObjectId", "auditorsAppClientId"):
        assert main["parameters"][name]["type"] == "string" and main["parameters"][name]["default"] == ""
        assert main["modules"]["app"]["config"]["params"][name] == name
    functionapp = templates["modules/functionapp.bicep"]
    found = resources_of_type(functionapp, "Microsoft.Web/sites/config")
    assert list(found) == ["authSettings"]
    decl = found["authSettings"]
    condition = decl["config"]["condition"]["operator"]
    assert condition["type"] == "not"  # only when a group is given: off by default
    assert condition["operands"]["bool_value"]["function"]["parameters"]["item_to_test"] == "auditorsGroupObjectId"
    auth = body(decl)
    assert auth["name"] == "authsettingsV2" and auth["parent"] == "functionApp"
    props = auth["properties"]
    assert props["platform"]["enabled"] is True and props["httpSettings"]["requireHttps"] is True
    gv = props["globalValidation"]
    assert gv["requireAuthentication"] is True
    assert gv["excludedPaths"] == ["/api/health", "/runtime/webhooks/eventgrid"]
    aad = props["identityProviders"]["azureActiveDirectory"]
    assert aad["enabled"] is True and aad["registration"]["clientId"] == "auditorsAppClientId"
    assert aad["registration"]["openIdIssuer"].endswith("${tenant().tenantId}/v2.0")
    assert aad["validation"]["defaultAuthorizationPolicy"]["allowedPrincipals"]["groups"] == ["auditorsGroupObjectId"]
    assert "api://${auditorsAppClientId}" in aad["validation"]["allowedAudiences"]
    assert props["login"]["tokenStore"]["enabled"] is False  # no tokens kept in the app's storage
    # the health function is the only anonymous route of the app itself
    import function_app
    from samples.functions_host import registered_functions

    levels = {}
    for f in registered_functions(function_app.app).values():
        trigger = next((b for b in json.loads(f.get_function_json())["bindings"] if b["type"] == "httpTrigger"), None)
        if trigger:
            levels[trigger["route"]] = trigger["authLevel"]
    assert {r for r, lvl in levels.items() if lvl == "ANONYMOUS"} == {"health"}
    assert "/api/" + "health" in gv["excludedPaths"]
