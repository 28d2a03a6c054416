// The driftwatch Function App on the Flex Consumption plan (FC1), Python 3.13. Its code and host run as
// the app's user-assigned identity; a second one (deploy) is attached only for Flex Consumption to read the
// deployment package with. Its app settings are exactly core.settings.DEPLOYED_SETTINGS plus
// the two Application Insights settings the host reads, plus one Key Vault reference per route webhook
// (TEAMS_WEBHOOK_URL_<NAME>) (tests/infra checks this).

param location string
param planName string
param functionAppName string
param appIdentityId string
param appClientId string
@description('Identity Flex Consumption reads (and its deployment service writes) the package with; never used by the code or the host.')
param deployIdentityId string
param storageAccountName string
param deploymentContainerUrl string
param appInsightsConnectionString string
param webhookSecretUri string
@description('Route webhooks: [{name: "TEAMS_WEBHOOK_URL_<NAME>", secretUri: "..."}] from the Key Vault module.')
param routeWebhookSecretUris array = []
@description('Base URL of the findings API that Teams cards link to (DRIFTWATCH_PUBLIC_API_URL).')
param publicApiUrl string
@description('Path of the baseline shipped with the code, relative to the app root.')
param baselinePath string
param monitoredSubscriptionIds array
param sweepSchedule string
param notifyMinSeverity string
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048
param enableVnetIntegration bool = false
@description('Subnet delegated to Microsoft.App/environments; used only when enableVnetIntegration is true.')
param vnetSubnetId string = ''
@description('Event Hubs namespace host of the audit hub (on_workspace_audit, identity-based connection).')
param auditNamespace string
param auditEventHubName string
param auditConsumerGroup string
param tags object = {}

@description('Entra ID group whose members may call the API routes (Easy Auth v2). Empty = authentication off.')
param auditorsGroupObjectId string = ''

@description('Client id of the auditors\' Entra app registration (the token audience). Required with auditorsGroupObjectId.')
param auditorsAppClientId string = ''

// environment().resourceManager ends with '/'; the app wants the bare origin (core.settings strips it too).
var resourceManager = environment().resourceManager
var armEndpoint = endsWith(resourceManager, '/') ? substring(resourceManager, 0, length(resourceManager) - 1) : resourceManager

var fixedAppSettings = [
  // Identity-based host storage: no connection string, no account key.
  {
    name: 'AzureWebJobsStorage__accountName'
    value: storageAccountName
  }
  {
    name: 'AzureWebJobsStorage__credential'
    value: 'managedidentity'
  }
  {
    name: 'AzureWebJobsStorage__clientId'
    value: appClientId
  }
  // azure-identity (DefaultAzureCredential / ManagedIdentityCredential) picks the user-assigned identity by this.
  {
    name: 'AZURE_CLIENT_ID'
    value: appClientId
  }
  {
    name: 'DRIFTWATCH_AUTH'
    value: 'azure'
  }
  // on_workspace_audit: identity-based Event Hubs connection (no connection string, no SAS key).
  {
    name: 'DRIFTWATCH_AUDIT_EVENTHUB_CONNECTION__fullyQualifiedNamespace'
    value: auditNamespace
  }
  {
    name: 'DRIFTWATCH_AUDIT_EVENTHUB_CONNECTION__credential'
    value: 'managedidentity'
  }
  {
    name: 'DRIFTWATCH_AUDIT_EVENTHUB_CONNECTION__clientId'
    value: appClientId
  }
  {
    name: 'DRIFTWATCH_AUDIT_EVENTHUB'
    value: auditEventHubName
  }
  {
    name: 'DRIFTWATCH_AUDIT_CONSUMER_GROUP'
    value: auditConsumerGroup
  }
  {
    name: 'DRIFTWATCH_BASELINE'
    value: baselinePath
  }
  {
    name: 'DRIFTWATCH_SUBSCRIPTIONS'
    value: join(monitoredSubscriptionIds, ',')
  }
  {
    name: 'DRIFTWATCH_ARM_ENDPOINT'
    value: armEndpoint
  }
  {
    name: 'DRIFTWATCH_WORKSPACE_BASE_URL'
    value: 'https://{workspaceUrl}'
  }
  {
    name: 'DRIFTWATCH_SWEEP_SCHEDULE'
    value: sweepSchedule
  }
  {
    name: 'DRIFTWATCH_NOTIFY_MIN_SEVERITY'
    value: notifyMinSeverity
  }
  // A Key Vault reference, resolved by the platform with keyVaultReferenceIdentity; the URL itself
  // never appears in the template, the deployment history or the app's configuration API.
  {
    name: 'TEAMS_WEBHOOK_URL'
    value: '@Microsoft.KeyVault(SecretUri=${webhookSecretUri})'
  }
  {
    name: 'DRIFTWATCH_PUBLIC_API_URL'
    value: publicApiUrl
  }
  // The group the code checks in every signed-in caller's `groups` claim (core/api_access.py). With it set AND
  // the platform's WEBSITE_AUTH_ENABLED (injected by App Service when authSettings below is on, never set
  // here), the API routes are anonymous to the host and need a signed-in group member instead of a key.
  {
    name: 'DRIFTWATCH_AUDITORS_GROUP_ID'
    value: auditorsGroupObjectId
  }
  // Host-owned: where telemetry goes, and Entra (AAD) authentication for ingestion.
  {
    name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
    value: appInsightsConnectionString
  }
  {
    name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
    value: 'ClientId=${appClientId};Authorization=AAD'
  }
]

// One Key Vault reference per notifications.routes webhook (TEAMS_WEBHOOK_URL_<NAME>).
var routeWebhookAppSettings = [for route in routeWebhookSecretUris: {
  name: route.name
  value: '@Microsoft.KeyVault(SecretUri=${route.secretUri})'
}]
var appSettings = concat(fixedAppSettings, routeWebhookAppSettings)

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  //checkov:skip=CKV_AZURE_225: driftwatch is a periodic compliance check, not a user-facing service. During a zone outage Event Grid retries for 24 hours and the next sweep catches up, so zone redundancy is not worth the cost here.
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  //checkov:skip=CKV_AZURE_222: Event Grid must reach the Event Grid webhook (system key) and auditors call the HTTP API (function keys, or Entra ID sign-in with auditorsGroupObjectId). Add access restrictions or a private endpoint per environment.
  //checkov:skip=CKV_AZURE_17: Inbound client certificates are not used. Callers are Event Grid (system key) and auditors (function keys).
  //checkov:skip=CKV_AZURE_212: Flex Consumption scales per demand from zero. Always-ready instances would cost money around the clock for a job that runs a few times a day and is retried by Event Grid and the queues.
  //checkov:skip=CKV_AZURE_213: The platform replaces unhealthy Flex Consumption instances itself. GET /api/health exists for external probes such as an App Insights availability test.
  name: functionAppName
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    // The app identity is the one the code and the host use (AZURE_CLIENT_ID, AzureWebJobsStorage__clientId);
    // Flex Consumption requires the deployment storage identity to be assigned to the app as well.
    userAssignedIdentities: {
      '${appIdentityId}': {}
      '${deployIdentityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    keyVaultReferenceIdentity: appIdentityId
    virtualNetworkSubnetId: enableVnetIntegration ? vnetSubnetId : null
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: appSettings
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          // Not the app identity: that one has Blob Data Owner on the host storage account and must not be
          // able to write the package (package-storage.bicep).
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: deployIdentityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: '3.13'
      }
    }
  }
}

// Human auditors sign in with Entra ID (Easy Auth v2) when a group is given. Only members of that group
// get through (defaultAuthorizationPolicy.allowedPrincipals.groups needs the `groups` claim: set
// groupMembershipClaims on the app registration, docs/deploy.md). /api/health stays anonymous and
// Event Grid's webhook keeps its system key. The Functions host has no auth level that an Easy Auth identity
// satisfies (azure-functions-host#11394), so with sign-in on the API routes are ANONYMOUS to the host and the
// code checks the group again in X-MS-CLIENT-PRINCIPAL, which Easy Auth sets and external callers cannot
// (functions/findings_api.py, core/api_access.py). Machines then call with Entra app tokens too.
// Shape: Microsoft.Web/sites/config 'authsettingsV2' (azure-rest-api-specs,
// specification/web/resource-manager/Microsoft.Web/stable/2024-04-01/WebApps.json, SiteAuthSettingsV2).
resource authSettings 'Microsoft.Web/sites/config@2024-04-01' = if (!empty(auditorsGroupObjectId)) {
  //checkov:skip=CKV_AZURE_13: checkov applies its Microsoft.Web/sites checks to this sites/config child, which has no such properties (this resource is the App Service authentication).
  //checkov:skip=CKV_AZURE_222: checkov applies its Microsoft.Web/sites checks to this sites/config child, which has no such properties (public access is decided on the site, see above).
  //checkov:skip=CKV_AZURE_63: checkov applies its Microsoft.Web/sites checks to this sites/config child, which has no such properties.
  //checkov:skip=CKV_AZURE_65: checkov applies its Microsoft.Web/sites checks to this sites/config child, which has no such properties.
  //checkov:skip=CKV_AZURE_66: checkov applies its Microsoft.Web/sites checks to this sites/config child, which has no such properties.
  //checkov:skip=CKV_AZURE_80: checkov applies its Microsoft.Web/sites checks to this sites/config child, which has no such properties.
  //checkov:skip=CKV_AZURE_88: checkov applies its Microsoft.Web/sites checks to this sites/config child, which has no such properties.
  parent: functionApp
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'RedirectToLoginPage'
      redirectToProvider: 'azureactivedirectory'
      excludedPaths: [
        '/api/health'
        '/runtime/webhooks/eventgrid'
      ]
    }
    httpSettings: {
      requireHttps: true
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
          clientId: auditorsAppClientId
        }
        validation: {
          allowedAudiences: [
            'api://${auditorsAppClientId}'
            auditorsAppClientId
          ]
          defaultAuthorizationPolicy: {
            allowedPrincipals: {
              groups: [
                auditorsGroupObjectId
              ]
            }
          }
        }
      }
    }
    login: {
      tokenStore: {
        enabled: false
      }
    }
  }
}

// No basic-auth (FTP / SCM) publishing: deploy with an Entra token (az / func tools do).
resource ftpPolicy 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPolicy 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'scm'
  properties: {
    allow: false
  }
}

output functionAppName string = functionApp.name
output functionAppId string = functionApp.id
output defaultHostName string = functionApp.properties.defaultHostName
