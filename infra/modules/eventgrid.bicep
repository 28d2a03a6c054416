// The Event Grid system topic on this resource group's subscription (Microsoft.Resources.Subscriptions)
// and the event subscription that delivers resource changes to the on_resource_change function.
// The event types and operationName values come from infra/routed-operations.json, generated from
// core/events/operations.py (see scripts/gen_infra_operations.py).

param functionAppId string
param eventTypes array
@description('data.operationName values to deliver (Event Grid allows at most 25 in one StringIn filter).')
@maxLength(25)
param operations array
param eventGridIdentityId string
param deadLetterStorageAccountId string
param deadLetterContainerName string
@description('The function must exist before Event Grid accepts an AzureFunction endpoint: deploy with false, publish the code, deploy again with true.')
param deployEventSubscription bool = true
@minValue(1)
@maxValue(30)
param maxDeliveryAttempts int = 10
@minValue(1)
@maxValue(1440)
param eventTimeToLiveInMinutes int = 1440
param tags object = {}

resource systemTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: 'driftwatch-${subscription().subscriptionId}'
  location: 'global'
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${eventGridIdentityId}': {}
    }
  }
  properties: {
    source: subscription().id
    topicType: 'Microsoft.Resources.Subscriptions'
  }
}

resource toResourceChange 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = if (deployEventSubscription) {
  parent: systemTopic
  name: 'driftwatch-on-resource-change'
  properties: {
    eventDeliverySchema: 'EventGridSchema'
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${functionAppId}/functions/on_resource_change'
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    filter: {
      includedEventTypes: eventTypes
      enableAdvancedFilteringOnArrays: true
      advancedFilters: [
        {
          operatorType: 'StringIn'
          key: 'data.operationName'
          values: operations
        }
      ]
    }
    retryPolicy: {
      maxDeliveryAttempts: maxDeliveryAttempts
      eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
    }
    deadLetterWithResourceIdentity: {
      identity: {
        type: 'UserAssigned'
        userAssignedIdentity: eventGridIdentityId
      }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: deadLetterStorageAccountId
          blobContainerName: deadLetterContainerName
        }
      }
    }
  }
}

output systemTopicId string = systemTopic.id
