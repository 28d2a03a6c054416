// The Flex Consumption deployment package lives in its own storage account, apart from the host storage
// (AzureWebJobsStorage, tables, queues) that the app identity holds Storage Blob Data Owner on: so that the
// identity the app's code and the Functions host run as cannot write the package it runs from.
//
// Flex Consumption reads the package from functionAppConfig.deployment.storage with the identity named
// there, and its deployment service (`az functionapp deployment source config-zip`, `func azure functionapp
// publish` -> /api/publish on the scm host) writes the processed package into that container with the same
// identity; "directly uploading a package to this container doesn't deploy it" (Microsoft Learn,
// azure-functions/deployment-zip-push, Flex Consumption "Deploy a package"). So that identity needs write
// on this one container: it is a separate user-assigned identity (id-<prefix>-deploy, identity.bicep) with
// Storage Blob Data Contributor here and nothing else. See docs/deploy.md for what this does and does not
// protect against.

param location string
param storageAccountName string
param containerName string
param deployPrincipalId string
param tags object = {}

var storageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'

resource packageStorage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  //checkov:skip=CKV_AZURE_35: The Flex Consumption platform reads the package over the public endpoint unless the app is VNet-integrated. Every request still needs an Entra token and an RBAC role: shared-key access is disabled.
  //checkov:skip=CKV_AZURE_59: Same as CKV_AZURE_35. Data-plane access is Entra-only and only the deploy identity holds a role here.
  //checkov:skip=CKV_AZURE_206: Zone-redundant (Standard_ZRS), like the host storage account. Geo-replication of a package that is rebuilt from source control is the operator's choice.
  //checkov:skip=CKV_AZURE_43: The name is computed as take('stpkg' + prefix + uniqueString(...), 24) in lower case, which checkov cannot resolve. It satisfies the naming rules by construction.
  name: storageAccountName
  location: location
  tags: tags
  kind: 'StorageV2'
  // Zone-redundant like the host storage: every cold start reads the package from here.
  sku: {
    name: 'Standard_ZRS'
  }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: {
          enabled: true
          keyType: 'Account'
        }
        file: {
          enabled: true
          keyType: 'Account'
        }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: packageStorage
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource packageContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: containerName
  properties: {
    publicAccess: 'None'
  }
}

resource deployPackageWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(packageContainer.id, deployPrincipalId, storageBlobDataContributor)
  scope: packageContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributor)
    principalId: deployPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output storageAccountName string = packageStorage.name
output containerUrl string = '${packageStorage.properties.primaryEndpoints.blob}${packageContainer.name}'
