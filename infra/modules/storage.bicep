// The storage account for the Functions host (AzureWebJobsStorage), driftwatch's tables and queues
// (ARCHITECTURE 4.6) and the Event Grid dead-letter container. Shared-key access is off: every client
// authenticates with Entra ID. The Flex Consumption deployment package is NOT here (package-storage.bicep):
// the app identity's Storage Blob Data Owner on this account must not reach the code the app runs.

param location string
param storageAccountName string
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
param skuName string = 'Standard_ZRS'
param deadLetterContainerName string
param tags object = {}

var tableNames = [
  'findings'
  'findinghistory'
  'scans'
  'topology'
]
// The poison queues are created up front (the host would create them on first failure) so that
// alerts on their length and the replay procedure in docs/operations.md work from day one.
var queueNames = [
  'scan-requests'
  'scan-requests-poison'
  'drift-findings'
  'drift-findings-poison'
]

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  //checkov:skip=CKV_AZURE_35: Flex Consumption without VNet integration reaches its host storage over the public endpoint. Every request still needs an Entra token and an RBAC role: shared-key access is disabled.
  //checkov:skip=CKV_AZURE_59: Same as CKV_AZURE_35. Public network access is needed by a Flex Consumption app that is not VNet-integrated. Data-plane access is Entra-only.
  //checkov:skip=CKV_AZURE_206: The SKU is a parameter, Standard_ZRS by default, which checkov cannot resolve. Geo-replication is an availability choice for the operator.
  //checkov:skip=CKV_AZURE_43: The name is computed as take('st' + prefix + uniqueString(...), 24) in lower case, which checkov cannot resolve. It satisfies the naming rules by construction.
  name: storageAccountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
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
        queue: {
          enabled: true
          keyType: 'Account'
        }
        table: {
          enabled: true
          keyType: 'Account'
        }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
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

resource deadLetterContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deadLetterContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [for queueName in queueNames: {
  parent: queueService
  name: queueName
}]

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [for tableName in tableNames: {
  parent: tableService
  name: tableName
}]

output storageAccountName string = storage.name
output storageAccountId string = storage.id
output blobEndpoint string = storage.properties.primaryEndpoints.blob
// rbac.bicep assigns the app identity's table and queue roles on each of these, not on the account.
output tableNames array = tableNames
output queueNames array = queueNames
output deadLetterContainerName string = deadLetterContainer.name
