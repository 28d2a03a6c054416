// Key Vault in RBAC mode holding the Teams Workflows webhook URL. The app reads it through a Key
// Vault reference (`@Microsoft.KeyVault(SecretUri=...)`, resolved by the platform with the app's
// user-assigned identity). The app identity holds Key Vault Secrets User on each webhook secret it resolves,
// not on the vault: Key Vault RBAC accepts a single secret as the scope of a data-plane role assignment
// (learn.microsoft.com/azure/key-vault/general/rbac-guide, "Secret scope role assignment").

param location string
param keyVaultName string
@secure()
@description('The Teams Workflows webhook URL. A secret: pass it at deploy time, never commit it.')
param teamsWebhookUrl string
param secretName string = 'teams-webhook-url'
@secure()
@description('Extra Workflows webhook URLs named by the baseline\'s notifications.routes: {"TEAMS_WEBHOOK_URL_<NAME>": "https://..."}. Each becomes a secret and a Key Vault reference app setting.')
param routeWebhookUrls object = {}
@description('With VNet integration on, the vault firewall denies everything but this subnet.')
param enableVnetIntegration bool = false
param vnetSubnetId string = ''
@description('The app identity: Key Vault Secrets User on each webhook secret (and nothing else in the vault).')
param appPrincipalId string
param tags object = {}

var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  //checkov:skip=CKV_AZURE_109: Without VNet integration the platform resolves the Key Vault reference over the public endpoint, so the firewall cannot default to Deny. With enableVnetIntegration it does and allows only the app subnet. Access always needs Entra RBAC.
  //checkov:skip=CKV_AZURE_189: Same as CKV_AZURE_109. Public network access is needed unless the app is VNet-integrated.
  name: keyVaultName
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'None'
      defaultAction: enableVnetIntegration ? 'Deny' : 'Allow'
      virtualNetworkRules: enableVnetIntegration ? [
        {
          id: vnetSubnetId
        }
      ] : []
    }
  }
}

resource webhookSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  //checkov:skip=CKV_AZURE_41: A Teams Workflows webhook URL has no expiry of its own. It is rotated on demand with a new secret version (docs/deploy.md). An expiry date here would silently stop alerting.
  parent: vault
  name: secretName
  properties: {
    value: teamsWebhookUrl
    contentType: 'text/uri'
    attributes: {
      enabled: true
    }
  }
}

// One secret per route webhook: TEAMS_WEBHOOK_URL_OPS -> secret teams-webhook-url-ops.
resource routeWebhookSecrets 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = [for route in items(routeWebhookUrls): {
  //checkov:skip=CKV_AZURE_41: As for the main webhook: rotated on demand with a new version, an expiry would silently stop alerting.
  parent: vault
  name: toLower(replace(route.key, '_', '-'))
  properties: {
    value: route.value
    contentType: 'text/uri'
    attributes: {
      enabled: true
    }
  }
}]

resource appWebhookSecretUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(webhookSecret.id, appPrincipalId, keyVaultSecretsUser)
  scope: webhookSecret
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appRouteSecretUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (route, i) in items(routeWebhookUrls): {
  name: guid(routeWebhookSecrets[i].id, appPrincipalId, keyVaultSecretsUser)
  scope: routeWebhookSecrets[i]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}]

output keyVaultName string = vault.name
output keyVaultId string = vault.id
// Versionless URI: the Key Vault reference follows the latest version, so rotation needs no redeploy.
output webhookSecretUri string = webhookSecret.properties.secretUri
// App setting name -> versionless secret URI of each route webhook (names and URIs only, no secret).
output routeWebhookSecretUris array = [for (route, i) in items(routeWebhookUrls): {
  name: route.key
  secretUri: routeWebhookSecrets[i].properties.secretUri
}]
