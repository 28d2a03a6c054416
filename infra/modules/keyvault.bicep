// Key Vault in RBAC mode holding the Teams Workflows webhook URL. The app reads it through a Key
// Vault reference (`@Microsoft.KeyVault(SecretUri=...)`, resolved by the platform with the app's
// user-assigned identity, which has Key Vault Secrets User on this vault only).

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
param tags object = {}

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

output keyVaultName string = vault.name
output keyVaultId string = vault.id
// Versionless URI: the Key Vault reference follows the latest version, so rotation needs no redeploy.
output webhookSecretUri string = webhookSecret.properties.secretUri
// App setting name -> versionless secret URI of each route webhook (names and URIs only, no secret).
output routeWebhookSecretUris array = [for (route, i) in items(routeWebhookUrls): {
  name: route.key
  secretUri: routeWebhookSecrets[i].properties.secretUri
}]
