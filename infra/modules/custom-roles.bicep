// driftwatch's two custom role definitions, created in the deployment's subscription (role definitions
// are subscription- or management-group-level objects; assignableScopes says where they may be assigned).
//
//  - reader: the ARM read operations the collector performs, instead of the built-in Reader (`*/read`) on
//    whole subscriptions. The action list is infra/reader-role.json (loaded by main.bicep); tests/infra
//    derives the collector's requests from a run against the estate emulator and checks both directions.
//    No write, no `*/action`, no data action.
//  - history appender: read and insert entities, nothing else (no update, merge, replace or delete), assigned
//    on the findinghistory table only, so a stored transition cannot be rewritten or removed by the app.
//    Operation -> data action mapping: learn.microsoft.com/rest/api/storageservices/authorize-with-azure-active-directory
//    ("Permissions for Table service operations": Insert Entity = entities/add/action; Insert Or Replace /
//    Insert Or Merge also need entities/update/action; Update / Merge Entity need update/action; Delete
//    Entity needs entities/delete).
targetScope = 'subscription'

@description('Globally (tenant-) unique name of the reader role.')
param readerRoleName string
@description('ARM read operations of the collector (infra/reader-role.json).')
param readerActions array
@description('Subscription ids the reader role is assigned in (the monitored subscriptions).')
param monitoredSubscriptionIds array
@description('Tenant-unique name of the history appender role.')
param historyAppenderRoleName string

var monitoredScopes = [for id in monitoredSubscriptionIds: '/subscriptions/${id}']

resource reader 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, readerRoleName)
  properties: {
    roleName: readerRoleName
    description: 'driftwatch: read Databricks workspaces, their network, diagnostic settings, locks, private DNS zone groups, access connectors and the role assignments that reach them. Read only.'
    type: 'CustomRole'
    permissions: [
      {
        actions: readerActions
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
    // The deployment's own subscription first (the definition lives there), then every monitored one.
    assignableScopes: union([subscription().id], monitoredScopes)
  }
}

resource historyAppender 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, historyAppenderRoleName)
  properties: {
    roleName: historyAppenderRoleName
    description: 'driftwatch: query and insert entities of one table (findinghistory); never update, replace, merge or delete.'
    type: 'CustomRole'
    permissions: [
      {
        actions: []
        notActions: []
        dataActions: [
          'Microsoft.Storage/storageAccounts/tableServices/tables/entities/read'
          'Microsoft.Storage/storageAccounts/tableServices/tables/entities/add/action'
        ]
        notDataActions: []
      }
    ]
    assignableScopes: [
      subscription().id
    ]
  }
}

// The GUIDs (role definition names): assignments build the id with subscriptionResourceId() in their own subscription.
output readerRoleId string = reader.name
output historyAppenderRoleId string = historyAppender.name
