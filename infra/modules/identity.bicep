// User-assigned managed identities.
//  - app: the Function App's only identity (storage, Key Vault reference, App Insights ingestion,
//    Reader on the monitored subscriptions, and the identity added to each Databricks workspace).
//  - eventGrid: the identity of the Event Grid system topics, used only to write dead-lettered
//    events to one blob container. Kept separate from the app so neither can act as the other.

param location string
param appIdentityName string
param eventGridIdentityName string
param tags object = {}

resource appIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: appIdentityName
  location: location
  tags: tags
}

resource eventGridIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: eventGridIdentityName
  location: location
  tags: tags
}

output appIdentityId string = appIdentity.id
output appPrincipalId string = appIdentity.properties.principalId
output appClientId string = appIdentity.properties.clientId
output eventGridIdentityId string = eventGridIdentity.id
output eventGridPrincipalId string = eventGridIdentity.properties.principalId
