// Databricks audit logs for on_workspace_audit: an Event Hubs namespace with local (SAS) auth off,
// one hub that the monitored workspaces' diagnostic settings stream to, driftwatch's own consumer
// group, and `Azure Event Hubs Data Receiver` for the app identity on that hub only.
//
// The Functions host connects with the identity-based connection
// DRIFTWATCH_AUDIT_EVENTHUB_CONNECTION__fullyQualifiedNamespace (+ __credential, __clientId).
// A diagnostic setting names the namespace authorization rule below (`eventHubAuthorizationRuleId`:
// Azure Monitor requires Manage, Send and Listen on it to set up the stream; Microsoft Learn,
// "Diagnostic settings in Azure Monitor" > Destinations > Event Hubs). The namespace must be in the
// same region as the workspaces that stream to it: deploy one per region if they span regions.

param location string
param namespaceName string
param hubName string = 'databricks-audit'
param consumerGroupName string = 'driftwatch'
param appPrincipalId string
@minValue(1)
@maxValue(7)
param retentionDays int = 1
@minValue(1)
@maxValue(32)
param partitionCount int = 4
param tags object = {}

var eventHubsDataReceiver = 'a638d3c7-ab3a-418d-83e6-5f17a39d4fde'

resource namespace 'Microsoft.EventHub/namespaces@2024-01-01' = {
  name: namespaceName
  location: location
  tags: tags
  sku: {
    name: 'Standard'
    tier: 'Standard'
    capacity: 1
  }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
    zoneRedundant: true
  }
}

resource hub 'Microsoft.EventHub/namespaces/eventhubs@2024-01-01' = {
  parent: namespace
  name: hubName
  properties: {
    messageRetentionInDays: retentionDays
    partitionCount: partitionCount
  }
}

resource consumerGroup 'Microsoft.EventHub/namespaces/eventhubs/consumergroups@2024-01-01' = {
  parent: hub
  name: consumerGroupName
  properties: {
    userMetadata: 'driftwatch on_workspace_audit'
  }
}

// Referenced by the workspaces' diagnostic settings (Azure Monitor's stream), never by driftwatch.
resource diagnosticsRule 'Microsoft.EventHub/namespaces/authorizationRules@2024-01-01' = {
  parent: namespace
  name: 'databricks-diagnostic-settings'
  properties: {
    rights: [
      'Manage'
      'Send'
      'Listen'
    ]
  }
}

resource appReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(hub.id, appPrincipalId, eventHubsDataReceiver)
  scope: hub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', eventHubsDataReceiver)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output fullyQualifiedNamespace string = '${namespace.name}.servicebus.windows.net'
output hubName string = hub.name
output consumerGroupName string = consumerGroup.name
output authorizationRuleId string = diagnosticsRule.id
