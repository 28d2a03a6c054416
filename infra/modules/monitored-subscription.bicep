// Everything driftwatch needs in one monitored subscription; main.bicep deploys this module once
// per subscription, at that subscription's scope:
//   - driftwatch's custom reader role (custom-roles.bicep, actions in infra/reader-role.json) for the app
//     identity on the subscription: only the ARM reads the collector makes (workspaces, their VNet and NSGs,
//     diagnostic settings, locks, access connectors, private DNS zone groups, role assignments and
//     definitions). Not the built-in Reader (`*/read`): no other resource type in the subscription is readable.
//   - a resource group holding the Event Grid system topic (a system topic lives in the source
//     subscription) and the event subscription that delivers to on_resource_change.
targetScope = 'subscription'

param location string
param eventsResourceGroupName string
param appPrincipalId string
@description('GUID of driftwatch\'s custom reader role (custom-roles.bicep); assignable in this subscription.')
param readerRoleId string
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
