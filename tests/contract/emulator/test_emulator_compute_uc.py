"""Compute and Unity Catalog endpoints through databricks-sdk 0.162.0's *typed* services: if the emulator's
shapes or paging drifted from what the SDK parses (compute.py, catalog.py, iam.py, settings.py), these fail."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest
from databricks.sdk.errors import NotFound
from databricks.sdk.service.compute import DataSecurityMode

from emulator import compute_uc as emu
from emulator.server import EmulatorServer
from samples import factory as f


@pytest.fixture
def uc_server(seed: dict[str, Any], ids: Any) -> Any:
    seed = copy.deepcopy(seed)
    api = seed["databricks"][ids.HOST]
    api.update(f.compute_uc_state())
    api["clusters"] = [f.cluster(f"c{i}", f"c{i}") for i in range(5)]
    api["policy_compliance"] = {"c3": {"is_compliant": False, "violations": {"spark_version": "bad"}}}
    api["storage_credentials"] *= 3
    with EmulatorServer(seed) as server:
        yield server


def test_typed_sdk_reads_every_compute_uc_endpoint(uc_server: EmulatorServer, ids: Any, workspace_client: Any,
                                                   monkeypatch: Any) -> None:
    monkeypatch.setattr(emu, "UC_PAGE", 2)
    w = workspace_client(uc_server)
    clusters = list(w.clusters.list(page_size=2))  # 3 pages of page_token
    assert [c.cluster_id for c in clusters] == [f"c{i}" for i in range(5)]
    assert clusters[0].data_security_mode == DataSecurityMode.DATA_SECURITY_MODE_STANDARD
    assert clusters[0].init_scripts[0].workspace.destination == "/Shared/init/agent.sh"
    assert {v.key for v in w.clusters.spark_versions().versions} >= {"15.4.x-scala2.12"}
    (script,) = w.global_init_scripts.list()
    assert script.name == "install-monitoring-agent"
    assert base64.b64decode(w.global_init_scripts.get(script.script_id).script) == f.INIT_SCRIPT_TEXT
    (policy,) = w.cluster_policies.list()
    acl = w.cluster_policies.get_permissions(policy.policy_id).access_control_list
    assert acl[0].group_name == "users"
    comp = {c.cluster_id: c for c in w.policy_compliance_for_clusters.list_compliance(policy.policy_id, page_size=2)}
    assert len(comp) == 5 and comp["c3"].is_compliant is False and comp["c3"].violations == {"spark_version": "bad"}
    assert w.metastores.current().metastore_id == f.METASTORE_ID
    summary = w.metastores.summary()
    assert summary.owner == "uc-admins" and summary.delta_sharing_scope.value == "INTERNAL_AND_EXTERNAL"
    creds = list(w.storage_credentials.list())  # max_results=0, 2 per page
    assert len(creds) == 3 and creds[0].azure_managed_identity.access_connector_id == f.ACCESS_CONNECTOR_ID
    schemas = {s.schema: s.state for s in w.system_schemas.list(f.METASTORE_ID)}
    assert schemas["access"] == "ENABLE_COMPLETED"
    assert w.settings.default_namespace.get().namespace.value == "main"
    assert w.current_user.me().groups[0].display == "uc-admins"


def test_unassigned_metastore_and_bad_parameters_answer_like_databricks(seed: dict[str, Any], ids: Any,
                                                                        workspace_client: Any) -> None:
    with EmulatorServer(seed) as server:
        w = workspace_client(server)
        with pytest.raises(NotFound, match="No metastore assigned"):
            w.metastores.current()
        with pytest.raises(NotFound):
            w.settings.default_namespace.get()
        assert list(w.clusters.list()) == [] and w.cluster_policies.list() == []
        with pytest.raises(Exception, match="policy_id"):
            w.api_client.do("GET", "/api/2.0/policies/clusters/list-compliance")
