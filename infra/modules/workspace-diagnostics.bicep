// One monitored workspace's diagnostic setting: stream the audit categories driftwatch routes
// (core/events/audit_actions.json) to driftwatch's Event Hub. Deploy at the workspace's resource group:
//
//   az deployment group create -g <workspace-rg> --template-file infra/modules/workspace-diagnostics.bicep \
//     --parameters workspaceName=<ws> eventHubAuthorizationRuleId=<from main.bicep output> eventHubName=databricks-audit
//
// or let main.bicep do it for every id in `auditWorkspaceIds`. Categories are the diagnostic categories
// of Microsoft.Databricks/workspaces (Microsoft Learn, "Supported logs for Microsoft.Databricks/workspaces"):
// accounts (users, groups, tokens, IP access lists), workspace (workspace-conf, settings), secrets,
// globalInitScripts, clusters, unityCatalog (metastore assignment, storage credentials, system schemas). Newer workspaces also offer `ClusterPolicies`: add it where listed.

param workspaceName string
param eventHubAuthorizationRuleId string
param eventHubName string
param settingName string = 'driftwatch-audit'
param categories array = [
  'accounts'
  'workspace'
  'secrets'
  'globalInitScripts'
  'clusters'
  'unityCatalog'
]

resource workspace 'Microsoft.Databricks/workspaces@2024-05-01' existing = {
  name: workspaceName
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: settingName
  scope: workspace
  properties: {
    eventHubAuthorizationRuleId: eventHubAuthorizationRuleId
    eventHubName: eventHubName
    logs: [for category in categories: {
      category: category
      enabled: true
    }]
  }
}
