// Example parameters for infra/main.bicep. Copy to infra/main.bicepparam (or any name), fill in,
// and deploy with:
//   export DRIFTWATCH_TEAMS_WEBHOOK_URL='https://...'   # from your secret store, not from a file
//   az deployment sub create --location westeurope --template-file infra/main.bicep \
//     --parameters infra/main.bicepparam
// No secret belongs in this file: the webhook URL is read from the environment at deploy time.
// The deployment creates two custom roles (driftwatch reader on the monitored subscriptions, an append-only
// role for findinghistory): the deployer needs Microsoft.Authorization/roleDefinitions/write (User Access
// Administrator or Owner) in this subscription and in every monitored one (docs/deploy.md, prerequisites).
using 'main.bicep'

param location = 'westeurope'
param resourceGroupName = 'rg-driftwatch-prod'
param namePrefix = 'driftwatch'

// Each gets the driftwatch reader role (only the ARM reads of infra/reader-role.json) and an Event Grid
// system topic. A workspace's VNet, NSG, access connector or private endpoint in another subscription is
// readable only if that subscription is listed here too.
param monitoredSubscriptionIds = [
  '00000000-0000-0000-0000-000000000001'
  '00000000-0000-0000-0000-000000000002'
]
param eventsResourceGroupName = 'rg-driftwatch-events'

param teamsWebhookUrl = readEnvironmentVariable('DRIFTWATCH_TEAMS_WEBHOOK_URL')
// Channels named by the baseline's notifications.routes, e.g. (JSON in an environment variable)
//   export DRIFTWATCH_ROUTE_WEBHOOK_URLS='{"TEAMS_WEBHOOK_URL_PAYMENTS":"https://..."}'
param routeWebhookUrls = json(readEnvironmentVariable('DRIFTWATCH_ROUTE_WEBHOOK_URLS', '{}'))
// Empty: https://<function app>.azurewebsites.net/api (set it when the API sits behind API Management).
param publicApiUrl = ''

param baselinePath = 'baseline.yaml'
param sweepSchedule = '0 0 */6 * * *'
param notifyMinSeverity = 'high'

param maximumInstanceCount = 40
param instanceMemoryMB = 2048

// First deployment: false (the function does not exist yet); publish the code; then true.
param deployEventSubscriptions = true
param eventMaxDeliveryAttempts = 10
param eventTimeToLiveInMinutes = 1440

param enableVnetIntegration = false
param vnetSubnetId = ''

// Human auditors (docs/deploy.md): the Entra group allowed to call the API and open the report, and the
// app registration they sign in to. Leave both empty for function keys only.
param auditorsGroupObjectId = ''
param auditorsAppClientId = ''
