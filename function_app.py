"""Azure Functions entry point (Python v2 programming model): one blueprint per trigger family.

Imports stay light (SDKs load on first use) so a cold start is fast.
"""

import azure.functions as func

from functions import findings_api, notify, resource_events, scan_worker, sweep, workspace_audit

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(resource_events.bp)
app.register_functions(sweep.bp)
app.register_functions(scan_worker.bp)
app.register_functions(notify.bp)
app.register_functions(findings_api.bp)
app.register_functions(workspace_audit.bp)
