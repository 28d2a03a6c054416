// Everything driftwatch needs in one monitored subscription; main.bicep deploys this module once
// per subscription, at that subscription's scope:
//   - Reader for the app identity on the subscription (list Databricks workspaces, GET the workspace,
//     its VNet/subnets/NSG and diagnostic settings). Read-only; nothing else in the subscription.
//   - a resource group holding the Event Grid system topic (a system topic lives in the source
//     subscription) and the event subscription that delivers to on_resource_change.
targetScope = 'subscription'

param location string
param eventsResourceGroupName string
param appPrincipalId string
param functionAppId string
param eventTypes array
param operations array
param eventGridIdentityId string
param deadLetterStorageAccountId string
param deadLetterContainerName string
param deployEventSubscription bool
param maxDeliveryAttempts int
param eventTimeToLiveInMinutes int
param tags object = {}

var readerRoleId = 'acdd72a7-3385-48ef-bd42-f606fba81ae7'

resource reader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, appPrincipalId, readerRoleId)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', readerRoleId)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource eventsGroup 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: eventsResourceGroupName
  location: location
  tags: tags
}

module events 'eventgrid.bicep' = {
  name: 'driftwatch-eventgrid'
  scope: eventsGroup
  params: {
    functionAppId: functionAppId
    eventTypes: eventTypes
    operations: operations
    eventGridIdentityId: eventGridIdentityId
    deadLetterStorageAccountId: deadLetterStorageAccountId
    deadLetterContainerName: deadLetterContainerName
    deployEventSubscription: deployEventSubscription
    maxDeliveryAttempts: maxDeliveryAttempts
    eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
    tags: tags
  }
}

output systemTopicId string = events.outputs.systemTopicId
