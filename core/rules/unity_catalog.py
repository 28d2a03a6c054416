"""DBX-UC-*: Unity Catalog metastore, default catalog, sharing, storage credentials and system schemas.

Workspace-level endpoints only (databricks-sdk-py 0.162.0 `service/catalog.py`, `service/settings.py`):
no account admin is needed. A storage-credential list read without metastore admin is partial: its findings
stand, but UC-004 is never counted as evaluated (nothing it did not see resolves, it is never a pass).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from core.baseline.load import EffectiveBaseline
from core.baseline.model import UnityCatalogBaseline
from core.rules.registry import Violation, rule
from core.state.compute_uc import MetastoreState
from core.state.model import WorkspaceState
from core.state.reads import Read, ReadPlan

HIVE_METASTORE = "hive_metastore"
ENABLED_SCHEMA_STATES = ("ENABLE_COMPLETED", "MANAGED")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)


def _uc(b: EffectiveBaseline) -> UnityCatalogBaseline:
    u = b.settings.unity_catalog
    assert u is not None
    return u


def _metastore(ws: WorkspaceState) -> MetastoreState:
    assert ws.workspace_api is not None and ws.workspace_api.metastore is not None
    return ws.workspace_api.metastore


def _no_metastore(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[tuple[str | None, str]]:
    api = ws.workspace_api
    if api is not None and api.metastore is not None and not api.metastore.assigned:
        yield None, "not applicable: no Unity Catalog metastore is assigned to the workspace (DBX-UC-001 reports that)"


_no_metastore.label = "no metastore assigned"  # type: ignore[attr-defined]  # shown in docs/rules.md


@rule(id="DBX-UC-001", inputs=ReadPlan.of(Read.WORKSPACE, Read.METASTORE), api_family="metastore",
      remediation="Assign the metastore to the workspace (account console > Catalog, or PUT "
                  "/api/2.1/unity-catalog/workspaces/{workspace_id}/metastore as account admin).",
      applies=lambda s: s.unity_catalog is not None and (bool(s.unity_catalog.required) or
                                                         s.unity_catalog.metastore_id is not None))
def metastore_assigned(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads GET /api/2.1/unity-catalog/current-metastore-assignment `metastore_id` (an answer 404
    METASTORE_DOES_NOT_EXIST means none is assigned): a metastore must be assigned and, when
    `unity_catalog.metastore_id` is given, be that one (case-insensitive). ARM's read-only
    `properties.isUcEnabled` must not say false either (absent on older documents: not judged)."""
    want = _uc(b).metastore_id
    m = _metastore(ws)
    if ws.arm is not None and ws.arm.is_uc_enabled is False:
        yield Violation("ARM reports isUcEnabled false for the workspace: Unity Catalog is not enabled.",
                        expected=True, actual=False, subject="arm:isUcEnabled")
    if not m.assigned:
        yield Violation("No Unity Catalog metastore is assigned to the workspace.", expected=want or "a metastore",
                        actual=None)
    elif want is not None and (m.metastore_id or "").lower() != want.lower():
        yield Violation(f"The workspace is assigned metastore {m.metastore_id}, not the baseline's {want}.",
                        expected=want, actual=m.metastore_id)


@rule(id="DBX-UC-002", inputs=ReadPlan.of(Read.METASTORE, Read.DEFAULT_NAMESPACE),
      api_family=("metastore", "default_namespace"),
      remediation="Set the workspace default catalog to a Unity Catalog catalog (Admin settings > Advanced > "
                  "Default catalog, or PATCH /api/2.0/settings/types/default_namespace_ws/names/default).",
      applies=lambda s: s.unity_catalog is not None and bool(s.unity_catalog.required))
def default_catalog(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads GET /api/2.0/settings/types/default_namespace_ws/names/default `namespace.value` and, when it was
    never set, the metastore assignment's `default_catalog_name`: the default catalog must be known and not
    hive_metastore (without a metastore it is hive_metastore)."""
    m = _metastore(ws)
    ns = ws.workspace_api.default_namespace if ws.workspace_api is not None else None
    value = (ns.value if ns is not None else None) or m.default_catalog_name
    if not m.assigned:
        value = HIVE_METASTORE
    if value is None:
        yield Violation("The workspace's default catalog is unknown (no default namespace setting and no "
                        "default_catalog_name in the metastore assignment).", expected=f"not {HIVE_METASTORE}",
                        actual=None)
    elif value.lower() == HIVE_METASTORE:
        yield Violation("The workspace's default catalog is hive_metastore.", expected=f"not {HIVE_METASTORE}",
                        actual=value)


def owner_kind(owner: str) -> str:
    """user (a user name has @), service_principal (an application id is a UUID), else group."""
    if "@" in owner:
        return "user"
    if _UUID.match(owner.strip()):
        return "service_principal"
    return "group"


@rule(id="DBX-UC-003", inputs=ReadPlan.of(Read.METASTORE), api_family="metastore", inapplicable=_no_metastore,
      remediation="Transfer metastore ownership to an admin group (account console > Catalog > metastore > "
                  "Owner); set the Delta Sharing recipient token lifetime at or below the baseline.",
      applies=lambda s: s.unity_catalog is not None and (bool(s.unity_catalog.metastore_owner_group) or
                                                         s.unity_catalog.max_recipient_token_lifetime_days
                                                         is not None))
def metastore_governance(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads GET /api/2.1/unity-catalog/metastore_summary `owner`, `delta_sharing_scope` and
    `delta_sharing_recipient_token_lifetime_in_seconds`: with `metastore_owner_group` the owner is a group (a
    name with @ is a user, a UUID a service principal's application id); with scope INTERNAL_AND_EXTERNAL the
    token lifetime is set (0 = never expires) and at most `max_recipient_token_lifetime_days`."""
    uc = _uc(b)
    m = _metastore(ws)
    if not m.summary_read:
        yield Violation("The metastore summary could not be read.", expected="readable", actual=None,
                        subject="summary")
        return
    if uc.metastore_owner_group and (m.owner is None or owner_kind(m.owner) != "group"):
        yield Violation(f"Metastore {m.metastore_id} is owned by {m.owner or 'nobody known'} "
                        f"({owner_kind(m.owner) if m.owner else 'unknown'}), not a group.", expected="a group",
                        actual=m.owner, subject="owner")
    days = uc.max_recipient_token_lifetime_days
    if days is not None and m.delta_sharing_scope == "INTERNAL_AND_EXTERNAL":
        life = m.delta_sharing_recipient_token_lifetime_in_seconds
        if not life or life > days * 86400:
            shown = "never expire" if life == 0 else ("unknown" if life is None else f"last {life // 86400} days")
            yield Violation(f"External Delta Sharing is on and recipient tokens {shown}; the baseline allows at "
                            f"most {days} days.", expected=days * 86400, actual=life, subject="delta_sharing")


def _credentials_partial(ws: WorkspaceState, b: EffectiveBaseline) -> str | None:
    api = ws.workspace_api
    sc = api.storage_credentials if api is not None else None
    return None if sc is None or sc.complete else (sc.partial_reason or "partial list")


@rule(id="DBX-UC-004", inputs=ReadPlan.of(Read.METASTORE, Read.STORAGE_CREDENTIALS),
      api_family="storage_credentials", incomplete=_credentials_partial,
      inapplicable=_no_metastore,
      remediation="Recreate the credential with an Azure managed identity of an approved access connector "
                  "(azure_managed_identity.access_connector_id) and delete the service-principal one; grant "
                  "driftwatch's identity metastore admin so it sees every credential.",
      applies=lambda s: s.unity_catalog is not None and s.unity_catalog.approved_access_connectors is not None)
def storage_credentials(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads GET /api/2.1/unity-catalog/storage-credentials (paged by next_page_token)
    `azure_managed_identity.access_connector_id` and `azure_service_principal`: every credential is a managed
    identity of an access connector in `approved_access_connectors` (case-insensitive). Without metastore admin (GET
    /api/2.0/preview/scim/v2/Me vs the metastore owner) the list is partial: one finding says so, and the rule
    is not counted as evaluated."""
    uc = _uc(b)
    assert uc.approved_access_connectors is not None and ws.workspace_api is not None
    sc = ws.workspace_api.storage_credentials
    assert sc is not None
    approved = {a.lower() for a in uc.approved_access_connectors}
    for c in sorted(sc.credentials, key=lambda x: x.name):
        if c.kind == "azure_service_principal":
            yield Violation(f"Storage credential {c.name} uses a service principal with a client secret "
                            f"(application {c.application_id}).", expected="azure_managed_identity",
                            actual="azure_service_principal", subject=f"credential:{c.name}")
        elif c.kind != "azure_managed_identity":
            yield Violation(f"Storage credential {c.name} is not an Azure managed identity ({c.kind}).",
                            expected="azure_managed_identity", actual=c.kind, subject=f"credential:{c.name}")
        elif (c.access_connector_id or "").lower() not in approved:
            yield Violation(f"Storage credential {c.name} uses access connector {c.access_connector_id}, which is "
                            "not approved.", expected=sorted(uc.approved_access_connectors),
                            actual=c.access_connector_id, subject=f"credential:{c.name}",
                            related_resource_id=c.access_connector_id)
    if not sc.complete:
        yield Violation(f"Storage credential list is partial: {sc.partial_reason}. Credentials not visible were not "
                        "checked (not evaluated; grant metastore admin for a full list).",
                        expected="metastore admin (full list)", actual="partial list", subject="partial-list",
                        severity="low")


@rule(id="DBX-UC-005", inputs=ReadPlan.of(Read.METASTORE, Read.SYSTEM_SCHEMAS),
      api_family="system_schemas", inapplicable=_no_metastore,
      remediation="Enable it: PUT /api/2.1/unity-catalog/metastores/{metastore_id}/systemschemas/access "
                  "(metastore admin).",
      applies=lambda s: s.unity_catalog is not None and bool(s.unity_catalog.access_system_schema))
def access_system_schema(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads GET /api/2.1/unity-catalog/metastores/{id}/systemschemas `schemas[]` where `schema` is `access`:
    its `state` must be ENABLE_COMPLETED or MANAGED."""
    assert ws.workspace_api is not None and ws.workspace_api.system_schemas is not None
    state = next((s.state for s in ws.workspace_api.system_schemas if s.schema_name == "access"), None)
    if state not in ENABLED_SCHEMA_STATES:
        yield Violation(f"The access system schema is {state or 'not listed'}, not enabled.",
                        expected=list(ENABLED_SCHEMA_STATES), actual=state)
