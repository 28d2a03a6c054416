// Role assignments inside driftwatch's resource group, each at the narrowest scope that works.
// Built-in role definition ids (the same in every tenant) plus driftwatch's custom history appender
// (custom-roles.bicep). Never Owner, Contributor or User Access Administrator (tests/infra enforces it).
// Azure Storage accepts role assignments "scoped to the level of an individual container, share, queue or
// table" (learn.microsoft.com/rest/api/storageservices/authorize-with-azure-active-directory).
//
// The app identity (Function App):
//   Storage Queue Data Contributor  each queue (scan-requests, drift-findings and their -poison queues), not the
//                                   account: the triggers read and delete, the app enqueues, the host moves
//                                   poison messages, the replay procedure moves them back.
//   Storage Table Data Contributor  the findings, scans and topology tables, each on its own (rows there are
//                                   updated in place, with ETags).
//   driftwatch history appender     the findinghistory table only: query + insert entities, no update, merge,
//                                   replace or delete, so a stored transition cannot be rewritten by the app.
//                                   (No table role on the account: the host's optional diagnostic-events
//                                   tables then switch themselves off on 403; docs/deploy.md section 7.)
//   Storage Blob Data Owner         storage account: the Functions host itself needs it for identity-based
//                                   AzureWebJobsStorage (host locks/leases, timer schedule monitor, keys
//                                   blobs, Event Hubs checkpoints). Microsoft's documented requirement for
//                                   identity-based AzureWebJobsStorage. The deployment package is in another
//                                   account (package-storage.bicep), out of this role's reach.
//   Monitoring Metrics Publisher    Application Insights: Entra-authenticated telemetry ingestion
//                                   (local auth is disabled on the component).
// (Key Vault Secrets User on each webhook secret: keyvault.bicep. The custom reader on each monitored
// subscription: monitored-subscription.bicep. Event Hubs Data Receiver on the audit hub: eventhubs.bicep.)
//
// The Event Grid identity (system topics):
//   Storage Blob Data Contributor   the dead-letter container only (narrower than the account):
//                                   write undeliverable events (deadLetterWithResourceIdentity).

param storageAccountName string
param deadLetterContainerName string
param appInsightsName string
param appPrincipalId string
param eventGridPrincipalId string
@description('Tables of the storage account (storage.bicep); findinghistory gets the append-only role, the others Table Data Contributor.')
param tableNames array
@description('Queues of the storage account (storage.bicep), each with Queue Data Contributor.')
param queueNames array
@description('GUID of the custom history appender role (custom-roles.bicep).')
param historyAppenderRoleId string

var historyTableName = 'findinghistory'
var mutableTableNames = filter(tableNames, t => t != historyTableName)

var roleIds = {
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: storage
  name: 'default'
}

resource deadLetterContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: blobService
  name: deadLetterContainerName
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' existing = {
  parent: storage
  name: 'default'
}

resource mutableTables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' existing = [for tableName in mutableTableNames: {
  parent: tableService
  name: tableName
}]

resource historyTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' existing = {
  parent: tableService
  name: historyTableName
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' existing = {
  parent: storage
  name: 'default'
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' existing = [for queueName in queueNames: {
  parent: queueService
  name: queueName
}]

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource appQueueData 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (queueName, i) in queueNames: {
  name: guid(queues[i].id, appPrincipalId, roleIds.storageQueueDataContributor)
  scope: queues[i]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageQueueDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}]

resource appTableData 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (tableName, i) in mutableTableNames: {
  name: guid(mutableTables[i].id, appPrincipalId, roleIds.storageTableDataContributor)
  scope: mutableTables[i]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageTableDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}]

resource appHistoryAppend 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(historyTable.id, appPrincipalId, historyAppenderRoleId)
  scope: historyTable
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', historyAppenderRoleId)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appBlobData 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appPrincipalId, roleIds.storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataOwner)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appTelemetry 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, appPrincipalId, roleIds.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.monitoringMetricsPublisher)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource eventGridDeadLetter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(deadLetterContainer.id, eventGridPrincipalId, roleIds.storageBlobDataContributor)
  scope: deadLetterContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataContributor)
    principalId: eventGridPrincipalId
    principalType: 'ServicePrincipal'
  }
}
