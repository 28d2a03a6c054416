// User-assigned managed identities.
//  - app: the identity the Function App's code and host run as (storage, Key Vault references, App
//    Insights ingestion, the driftwatch reader role on the monitored subscriptions, and the identity added
//    to each Databricks workspace).
//  - eventGrid: the identity of the Event Grid system topics, used only to write dead-lettered
//    events to one blob container. Kept separate from the app so neither can act as the other.
//  - deploy: the identity Flex Consumption reads (and its deployment service writes) the deployment
//    package with: Storage Blob Data Contributor on the package container only (package-storage.bicep).
//    The app's code and the Functions host never use it (AZURE_CLIENT_ID and AzureWebJobsStorage__clientId
//    name the app identity), so the identity they run as cannot change the code the app runs.

param location string
param appIdentityName string
param eventGridIdentityName string
param deployIdentityName string
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

resource deployIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: deployIdentityName
  location: location
  tags: tags
}

output appIdentityId string = appIdentity.id
output appPrincipalId string = appIdentity.properties.principalId
output appClientId string = appIdentity.properties.clientId
output eventGridIdentityId string = eventGridIdentity.id
output eventGridPrincipalId string = eventGridIdentity.properties.principalId
output deployIdentityId string = deployIdentity.id
output deployPrincipalId string = deployIdentity.properties.principalId
