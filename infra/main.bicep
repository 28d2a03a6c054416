// driftwatch on Azure: one subscription-scope deployment.
//
//   az deployment sub create --location westeurope --template-file infra/main.bicep \
//     --parameters infra/main.bicepparam   (copy of main.example.bicepparam)
//
// Creates the resource group with the identity, storage, monitoring, Key Vault, Flex Consumption
// Function App and role assignments, and driftwatch's two custom roles (a reader with only the ARM reads
// the collector makes, infra/reader-role.json; an append-only role for the findinghistory table); then, in
// each monitored subscription, the custom reader for the app identity and an Event Grid system topic +
// subscription to on_resource_change. See docs/deploy.md ("Why each Azure role is needed").
targetScope = 'subscription'

@description('Region of the resource group and its resources.')
param location string = deployment().location

@description('Resource group for driftwatch itself (created if missing).')
param resourceGroupName string = 'rg-driftwatch'

@description('Short prefix for resource names (letters, digits, hyphens).')
@minLength(3)
@maxLength(11)
param namePrefix string = 'driftwatch'

@description('Subscriptions whose Databricks workspaces driftwatch watches: the custom reader role + an Event Grid system topic in each.')
@minLength(1)
param monitoredSubscriptionIds array

@description('Resource group created in each monitored subscription for its Event Grid system topic.')
param eventsResourceGroupName string = 'rg-driftwatch-events'

@secure()
@description('Teams Workflows webhook URL for alerts. Stored in Key Vault; pass it at deploy time (e.g. from an environment variable), never in a committed file.')
param teamsWebhookUrl string

@secure()
@description('Extra Teams Workflows webhook URLs for the baseline\'s notifications.routes, as {"TEAMS_WEBHOOK_URL_<NAME>": "https://..."}. Stored in Key Vault like teamsWebhookUrl; pass at deploy time, never in a committed file.')
param routeWebhookUrls object = {}

@description('Base URL of the findings API that Teams cards link to (DRIFTWATCH_PUBLIC_API_URL). Empty = https://<function app>.azurewebsites.net/api.')
param publicApiUrl string = ''

@description('Baseline file shipped with the code, relative to the app root (DRIFTWATCH_BASELINE).')
param baselinePath string = 'baseline.yaml'

@description('NCRONTAB schedule of the sweep (DRIFTWATCH_SWEEP_SCHEDULE); default every 6 hours.')
param sweepSchedule string = '0 0 */6 * * *'

@description('Lowest severity that is posted to Teams (DRIFTWATCH_NOTIFY_MIN_SEVERITY).')
@allowed([
  'critical'
  'high'
  'medium'
  'low'
  'info'
])
param notifyMinSeverity string = 'high'

@description('Flex Consumption: upper bound on instances (also caps parallel ARM / workspace API calls).')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Flex Consumption instance memory in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Create the Event Grid event subscriptions. The on_resource_change function must already be published: first deploy with false, publish, then deploy with true.')
param deployEventSubscriptions bool = true

@description('Event Grid delivery attempts before an event is dead-lettered.')
@minValue(1)
@maxValue(30)
param eventMaxDeliveryAttempts int = 10

@description('Minutes Event Grid keeps retrying an event before dead-lettering it.')
@minValue(1)
@maxValue(1440)
param eventTimeToLiveInMinutes int = 1440

@description('Route the app\'s outbound traffic through a VNet subnet, to reach workspaces that allow only private access.')
param enableVnetIntegration bool = false

@description('Resource id of a subnet delegated to Microsoft.App/environments (with a Microsoft.KeyVault service endpoint). Required when enableVnetIntegration is true.')
param vnetSubnetId string = ''

@description('ARM ids of the Databricks workspaces whose audit logs stream to driftwatch (a diagnostic setting is added to each; the Event Hubs namespace must be in their region). Empty: add them later with modules/workspace-diagnostics.bicep.')
param auditWorkspaceIds array = []

@description('Diagnostic categories each workspace streams (see modules/workspace-diagnostics.bicep).')
param auditCategories array = [
  'accounts'
  'workspace'
  'secrets'
  'globalInitScripts'
  'clusters'
  'unityCatalog'
]
@description('Object id of the Entra ID group of human auditors. When set, App Service authentication (Easy Auth v2) with Entra ID is turned on: every route except /api/health (and the Event Grid webhook, which keeps its system key) needs a signed-in member of this group. Empty = off (function keys only).')
param auditorsGroupObjectId string = ''

@description('Application (client) id of the Entra app registration auditors sign in to (see docs/deploy.md). Required when auditorsGroupObjectId is set.')
param auditorsAppClientId string = ''

param tags object = {
  application: 'driftwatch'
}

// The one list shared with the router (core/events/operations.py -> scripts/gen_infra_operations.py).
var routed = loadJsonContent('routed-operations.json')
// The ARM read operations of the collector (core/collect/arm.py); tests/infra checks them against its requests.
var readerRole = loadJsonContent('reader-role.json')

var suffix = uniqueString(subscription().id, resourceGroupName)
var compactPrefix = toLower(replace(namePrefix, '-', ''))
var names = {
  appIdentity: 'id-${namePrefix}-app'
  eventGridIdentity: 'id-${namePrefix}-eventgrid'
  deployIdentity: 'id-${namePrefix}-deploy'
  storage: take('st${compactPrefix}${suffix}', 24)
  packageStorage: take('stpkg${compactPrefix}${suffix}', 24)
  // Custom role names are unique per tenant: one pair per driftwatch deployment.
  readerRole: 'driftwatch reader (${namePrefix}-${suffix})'
  historyAppenderRole: 'driftwatch history appender (${namePrefix}-${suffix})'
  logAnalytics: 'log-${namePrefix}-${suffix}'
  appInsights: 'appi-${namePrefix}-${suffix}'
  keyVault: take('kv-${compactPrefix}-${suffix}', 24)
  plan: 'asp-${namePrefix}-${suffix}'
  functionApp: 'func-${namePrefix}-${suffix}'
  eventHubs: 'evhns-${namePrefix}-${suffix}'
}
var deploymentContainerName = 'app-package'
var deadLetterContainerName = 'eventgrid-deadletters'

resource group 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: resourceGroupName
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'driftwatch-identity'
  scope: group
  params: {
    location: location
    appIdentityName: names.appIdentity
    eventGridIdentityName: names.eventGridIdentity
    deployIdentityName: names.deployIdentity
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'driftwatch-storage'
  scope: group
  params: {
    location: location
    storageAccountName: names.storage
    deadLetterContainerName: deadLetterContainerName
    tags: tags
  }
}

module packageStorage 'modules/package-storage.bicep' = {
  name: 'driftwatch-package-storage'
  scope: group
  params: {
    location: location
    storageAccountName: names.packageStorage
    containerName: deploymentContainerName
    deployPrincipalId: identity.outputs.deployPrincipalId
    tags: tags
  }
}

module roles 'modules/custom-roles.bicep' = {
  name: 'driftwatch-custom-roles'
  params: {
    readerRoleName: names.readerRole
    readerActions: readerRole.actions
    monitoredSubscriptionIds: monitoredSubscriptionIds
    historyAppenderRoleName: names.historyAppenderRole
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'driftwatch-monitoring'
  scope: group
  params: {
    location: location
    logAnalyticsName: names.logAnalytics
    appInsightsName: names.appInsights
    tags: tags
  }
}

module vault 'modules/keyvault.bicep' = {
  name: 'driftwatch-keyvault'
  scope: group
  params: {
    location: location
    keyVaultName: names.keyVault
    teamsWebhookUrl: teamsWebhookUrl
    routeWebhookUrls: routeWebhookUrls
    enableVnetIntegration: enableVnetIntegration
    vnetSubnetId: vnetSubnetId
    appPrincipalId: identity.outputs.appPrincipalId
    tags: tags
  }
}

module rbac 'modules/rbac.bicep' = {
  name: 'driftwatch-rbac'
  scope: group
  params: {
    storageAccountName: storage.outputs.storageAccountName
    deadLetterContainerName: storage.outputs.deadLetterContainerName
    appInsightsName: monitoring.outputs.appInsightsName
    appPrincipalId: identity.outputs.appPrincipalId
    eventGridPrincipalId: identity.outputs.eventGridPrincipalId
    tableNames: storage.outputs.tableNames
    queueNames: storage.outputs.queueNames
    historyAppenderRoleId: roles.outputs.historyAppenderRoleId
  }
}

module audit 'modules/eventhubs.bicep' = {
  name: 'driftwatch-eventhubs'
  scope: group
  params: {
    location: location
    namespaceName: names.eventHubs
    appPrincipalId: identity.outputs.appPrincipalId
    tags: tags
  }
}

module app 'modules/functionapp.bicep' = {
  name: 'driftwatch-functionapp'
  scope: group
  params: {
    location: location
    planName: names.plan
    functionAppName: names.functionApp
    appIdentityId: identity.outputs.appIdentityId
    appClientId: identity.outputs.appClientId
    deployIdentityId: identity.outputs.deployIdentityId
    storageAccountName: storage.outputs.storageAccountName
    deploymentContainerUrl: packageStorage.outputs.containerUrl
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    webhookSecretUri: vault.outputs.webhookSecretUri
    routeWebhookSecretUris: vault.outputs.routeWebhookSecretUris
    publicApiUrl: empty(publicApiUrl) ? 'https://${names.functionApp}.azurewebsites.net/api' : publicApiUrl
    baselinePath: baselinePath
    monitoredSubscriptionIds: monitoredSubscriptionIds
    sweepSchedule: sweepSchedule
    notifyMinSeverity: notifyMinSeverity
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    enableVnetIntegration: enableVnetIntegration
    vnetSubnetId: vnetSubnetId
    auditNamespace: audit.outputs.fullyQualifiedNamespace
    auditEventHubName: audit.outputs.hubName
    auditConsumerGroup: audit.outputs.consumerGroupName
    auditorsGroupObjectId: auditorsGroupObjectId
    auditorsAppClientId: auditorsAppClientId
    tags: tags
  }
  // The host starts with identity-based storage and a Key Vault reference: grant the roles first (the
  // secret-scoped and package-container roles come with the vault and packageStorage modules, whose
  // outputs this module uses, so it waits for them already).
  dependsOn: [
    rbac
  ]
}

// Each listed workspace streams its audit categories to the hub (id segments: 2 subscription, 4 RG, 8 name).
module workspaceAudit 'modules/workspace-diagnostics.bicep' = [for workspaceId in auditWorkspaceIds: {
  name: 'driftwatch-audit-${uniqueString(workspaceId)}'
  scope: resourceGroup(split(workspaceId, '/')[2], split(workspaceId, '/')[4])
  params: {
    workspaceName: split(workspaceId, '/')[8]
    eventHubAuthorizationRuleId: audit.outputs.authorizationRuleId
    eventHubName: audit.outputs.hubName
    categories: auditCategories
  }
}]

module monitored 'modules/monitored-subscription.bicep' = [for subscriptionId in monitoredSubscriptionIds: {
  name: 'driftwatch-monitored-${uniqueString(subscriptionId)}'
  scope: subscription(subscriptionId)
  params: {
    location: location
    eventsResourceGroupName: eventsResourceGroupName
    appPrincipalId: identity.outputs.appPrincipalId
    readerRoleId: roles.outputs.readerRoleId
    functionAppId: app.outputs.functionAppId
    eventTypes: routed.eventTypes
    operations: routed.operations
    eventGridIdentityId: identity.outputs.eventGridIdentityId
    deadLetterStorageAccountId: storage.outputs.storageAccountId
    deadLetterContainerName: storage.outputs.deadLetterContainerName
    deployEventSubscription: deployEventSubscriptions
    maxDeliveryAttempts: eventMaxDeliveryAttempts
    eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
    tags: tags
  }
  // Dead-lettering writes with the Event Grid identity: its role on the container comes first.
  dependsOn: [
    rbac
  ]
}]

output resourceGroupName string = group.name
output functionAppName string = app.outputs.functionAppName
output defaultHostName string = app.outputs.defaultHostName
output apiBaseUrl string = 'https://${app.outputs.defaultHostName}/api'
output auditorSignInUrl string = empty(auditorsGroupObjectId) ? '' : 'https://${app.outputs.defaultHostName}/.auth/login/aad?post_login_redirect_uri=/api/report'
output identityPrincipalId string = identity.outputs.appPrincipalId
output identityClientId string = identity.outputs.appClientId
output storageAccountName string = storage.outputs.storageAccountName
output packageStorageAccountName string = packageStorage.outputs.storageAccountName
output readerRoleId string = roles.outputs.readerRoleId
output keyVaultName string = vault.outputs.keyVaultName
output auditEventHubNamespace string = audit.outputs.fullyQualifiedNamespace
output auditEventHubName string = audit.outputs.hubName
output auditAuthorizationRuleId string = audit.outputs.authorizationRuleId
