// Log Analytics workspace + workspace-based Application Insights.
// Local (instrumentation-key) authentication is disabled: telemetry is accepted only with an Entra
// token, which the Functions host gets for the app's identity (APPLICATIONINSIGHTS_AUTHENTICATION_STRING)
// and which needs Monitoring Metrics Publisher on this component (see rbac.bicep).

param location string
param logAnalyticsName string
param appInsightsName string
@minValue(30)
@maxValue(730)
param retentionInDays int = 30
param tags object = {}

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
    features: {
      enableLogAccessUsingOnlyResourcePermissions: true
    }
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: appInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    DisableLocalAuth: true
    IngestionMode: 'LogAnalytics'
  }
}

output appInsightsName string = appInsights.name
output appInsightsId string = appInsights.id
// The connection string identifies the component (it is not a credential: local auth is off, so it
// cannot be used to ingest without an Entra token). It is passed to the app settings only, never
// emitted as a deployment output of main.bicep.
output appInsightsConnectionString string = appInsights.properties.ConnectionString
output logAnalyticsId string = logAnalytics.id
