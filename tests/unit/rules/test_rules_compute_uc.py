"""DBX-CLU-001..007 and DBX-UC-001..005: violating, compliant, not applicable / not checked, per-family
failures, partial storage-credential lists. Pure: snapshot estates in the seed format, no I/O."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest

from core.baseline import parse_baseline
from core.baseline.load import BaselineError
from core.rules import evaluate_workspace
from core.state.compute_uc import canonical_definition, pins_uc_access_mode, script_sha256
from samples import factory as f
from tests.support.estates import NOW, baseline, compliant_estate, states

COMPUTE: dict[str, Any] = {
    "global_init_scripts": [{"name": "install-monitoring-agent", "enabled": True, "position": 0,
                             "sha256": f.INIT_SCRIPT_SHA256}],
    "uc_access_mode": True, "min_runtime": "13.3", "require_policy": True,
    "policies": [{"name": "uc-standard", "sha256": f.UC_POLICY_SHA256}], "users_policy_use": "uc_pinned_only",
    "no_legacy_init_scripts": True, "worker_encryption": True}
UC: dict[str, Any] = {"required": True, "metastore_id": f.METASTORE_ID.upper(), "metastore_owner_group": True,
                      "max_recipient_token_lifetime_days": 90, "approved_access_connectors": [f.ACCESS_CONNECTOR_ID],
                      "access_system_schema": True}


def _eval(api: dict[str, Any], **overrides: Any) -> Any:
    (ws,) = states(compliant_estate(api=api))
    settings = {"compute": COMPUTE, "unity_catalog": UC, **overrides}
    return evaluate_workspace(ws, baseline(**settings), now=NOW)


def _got(ev: Any, prefix: str = "DBX-") -> list[tuple[str, str | None]]:
    return sorted((fd.rule_id, fd.subject) for fd in ev.findings
                  if fd.rule_id.startswith(("DBX-CLU", "DBX-UC", "DBX-EVAL")) and fd.rule_id.startswith(prefix))


ALL = {f"DBX-CLU-00{i}" for i in range(1, 8)} | {f"DBX-UC-00{i}" for i in range(1, 6)}


def test_compliant_workspace_passes_every_rule() -> None:
    ev = _eval(f.api_state())
    assert _got(ev) == [] and ev.evaluated_rules >= ALL


def test_not_in_baseline_is_not_checked() -> None:
    (ws,) = states(compliant_estate(api=f.api_state()))
    ev = evaluate_workspace(ws, baseline(), now=NOW)
    assert _got(ev) == []


def test_global_init_scripts_unexpected_missing_changed_hashes_only() -> None:
    api = f.api_state()
    secret_text = b"echo TOKEN=dapi123"
    api["global_init_scripts"][0]["position"] = 3
    api["global_init_scripts"].append({"script_id": "X2", "name": "extra", "enabled": False, "position": 1,
                                       "script": base64.b64encode(secret_text).decode()})
    want = {**COMPUTE, "global_init_scripts": [*COMPUTE["global_init_scripts"],
                                               {"name": "gone", "enabled": True, "position": 2, "sha256": "a" * 64}]}
    ev = _eval(api, compute=want)
    assert _got(ev, "DBX-CLU-001") == [("DBX-CLU-001", "changed:install-monitoring-agent"),
                                       ("DBX-CLU-001", "missing:gone"), ("DBX-CLU-001", "unexpected:extra")]
    text = json.dumps([fd.model_dump(mode="json") for fd in ev.findings])
    assert "dapi123" not in text and hashlib.sha256(secret_text).hexdigest() in text


def test_empty_baseline_list_means_no_global_init_script() -> None:
    ev = _eval(f.api_state(), compute={**COMPUTE, "global_init_scripts": []})
    assert _got(ev, "DBX-CLU-001") == [("DBX-CLU-001", "unexpected:install-monitoring-agent")]


@pytest.mark.parametrize(("mode", "fails"), [("DATA_SECURITY_MODE_DEDICATED", False), ("USER_ISOLATION", False),
                                             ("SINGLE_USER", False), ("DATA_SECURITY_MODE_AUTO", False),
                                             ("NONE", True), (None, True), ("LEGACY_TABLE_ACL", True),
                                             ("LEGACY_SINGLE_USER_STANDARD", True)])
def test_access_modes(mode: str | None, fails: bool) -> None:
    api = f.api_state()
    api["clusters"][0] = f.cluster("c1", "c1", mode=mode)
    assert _got(_eval(api), "DBX-CLU-002") == ([("DBX-CLU-002", "cluster:c1")] if fails else [])


def test_job_clusters_only_when_the_baseline_says() -> None:
    api = f.api_state()  # its JOB cluster runs with NONE and no policy
    assert _got(_eval(api), "DBX-CLU-002") == []
    ev = _eval(api, compute={**COMPUTE, "cluster_sources": ["UI", "API", "JOB"]})
    assert ("DBX-CLU-002", "cluster:0101-120000-job00001") in _got(ev)
    assert ("DBX-CLU-004", "cluster:0101-120000-job00001") in _got(ev)


@pytest.mark.parametrize(("version", "fails"), [("15.4.x-scala2.12", False), ("13.3.x-scala2.12", False),
                                                ("12.2.x-scala2.12", True), ("15.4.x-photon-scala2.12", True),
                                                ("custom:image", True)])
def test_runtimes_supported_and_minimum(version: str, fails: bool) -> None:
    api = f.api_state()
    api["clusters"][0]["spark_version"] = version
    api["spark_versions"].append({"key": "12.2.x-scala2.12", "name": "12.2 LTS"})
    assert _got(_eval(api), "DBX-CLU-003") == ([("DBX-CLU-003", "cluster:0101-120000-abcd0001")] if fails else [])


def test_policy_missing_noncompliant_and_unreported() -> None:
    api = f.api_state()
    api["clusters"] += [f.cluster("c-nopol", "a", policy_id=None), f.cluster("c-bad", "b")]
    api["policy_compliance"] = {"c-bad": {"is_compliant": False, "violations": {"spark_version": "not allowed"}}}
    ev = _eval(api)
    assert _got(ev, "DBX-CLU-004") == [("DBX-CLU-004", "cluster:c-bad"), ("DBX-CLU-004", "cluster:c-nopol")]
    bad = next(fd for fd in ev.findings if fd.subject == "cluster:c-bad")
    assert bad.actual == ["spark_version"]  # paths only, not the messages
    (ws,) = states(compliant_estate(api=f.api_state()))
    assert ws.workspace_api is not None
    api_state = ws.workspace_api.model_copy(update={"policy_compliance": {}})
    ev = evaluate_workspace(ws.model_copy(update={"workspace_api": api_state}),
                            baseline(compute=COMPUTE), now=NOW)
    assert _got(ev, "DBX-CLU-004") == [("DBX-CLU-004", "cluster:0101-120000-abcd0001")]  # unknown is not compliant


def test_policy_definitions_and_users_acl() -> None:
    api = f.api_state()
    api["cluster_policies"][0]["definition"] = json.dumps(json.loads(f.UC_POLICY_DEFINITION), indent=4)  # same
    api["cluster_policies"].append({"policy_id": "p2", "name": "free", "definition": "{}"})
    api["policy_permissions"]["p2"] = {"access_control_list": [
        {"group_name": "users", "all_permissions": [{"permission_level": "CAN_USE"}]}]}
    ev = _eval(api, compute={**COMPUTE, "policies": [*COMPUTE["policies"], {"name": "gone", "sha256": "b" * 64}]})
    assert _got(ev, "DBX-CLU-005") == [("DBX-CLU-005", "missing:gone"), ("DBX-CLU-005", "unexpected:free"),
                                       ("DBX-CLU-005", "users:free")]
    assert "DBX-CLU-005" in ev.evaluated_rules


def test_pinned_policy_detection_and_canonical_form() -> None:
    fixed = json.dumps({"data_security_mode": {"type": "fixed", "value": "USER_ISOLATION"}})
    allow = json.dumps({"data_security_mode": {"type": "allowlist", "values": ["SINGLE_USER", "NONE"]}})
    assert pins_uc_access_mode(fixed) and not pins_uc_access_mode(allow) and not pins_uc_access_mode("{}")
    assert canonical_definition('{ "b": 1, "a": {"y": 2, "x": 1} }') == '{"a":{"x":1,"y":2},"b":1}'
    assert script_sha256("not base64!") is None


def test_policy_acl_family_failure_makes_clu005_partial() -> None:
    (ws,) = states(compliant_estate(api=f.api_state()))
    assert ws.workspace_api is not None
    api = ws.workspace_api.model_copy(update={"policy_permissions": None,
                                              "family_errors": {"policy_permissions": "PermissionDenied 403"}})
    ev = evaluate_workspace(ws.model_copy(update={"workspace_api": api}), baseline(compute=COMPUTE), now=NOW)
    assert _got(ev) == [("DBX-EVAL-002", "policy_permissions")]
    assert "DBX-CLU-005" not in ev.evaluated_rules and "DBX-CLU-002" in ev.evaluated_rules


def test_legacy_init_script_locations() -> None:
    api = f.api_state()
    api["clusters"][0]["init_scripts"] = [{"dbfs": {"destination": "dbfs:/databricks/init/x.sh"}}]
    api["workspace_conf"].update(enableDeprecatedClusterNamedInitScripts="TRUE",
                                 enableDeprecatedGlobalInitScripts="false")
    assert _got(_eval(api), "DBX-CLU-006") == [("DBX-CLU-006", "cluster:0101-120000-abcd0001"),
                                               ("DBX-CLU-006", "conf:enableDeprecatedClusterNamedInitScripts")]


def test_worker_encryption_and_init_script_caveat() -> None:
    api = f.api_state()
    api["clusters"][0]["spark_conf"] = {"spark.authenticate": "true"}
    ev = _eval(api)
    (fd,) = [x for x in ev.findings if x.rule_id == "DBX-CLU-007"]
    assert "init scripts" in fd.message and "not evaluated" in fd.message
    api["clusters"][0]["init_scripts"] = []
    (fd,) = [x for x in _eval(api).findings if x.rule_id == "DBX-CLU-007"]
    assert "init scripts" not in fd.message


def test_cluster_family_failure_is_one_family() -> None:
    (ws,) = states(compliant_estate(api=f.api_state()))
    assert ws.workspace_api is not None
    api = ws.workspace_api.model_copy(update={"clusters": None, "family_errors": {"clusters": "timed out"}})
    ev = evaluate_workspace(ws.model_copy(update={"workspace_api": api}),
                            baseline(compute=COMPUTE, unity_catalog=UC), now=NOW)
    assert _got(ev) == [("DBX-EVAL-002", "clusters")]
    assert not {"DBX-CLU-002", "DBX-CLU-003", "DBX-CLU-004", "DBX-CLU-006", "DBX-CLU-007"} & ev.evaluated_rules
    assert {"DBX-CLU-001", "DBX-CLU-005", "DBX-UC-001", "DBX-UC-004"} <= ev.evaluated_rules


def test_metastore_other_owner_user_and_sharing_tokens() -> None:
    api = f.api_state()
    api["metastore_assignment"]["metastore_id"] = "other"
    api["metastore_summary"].update(owner="0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6",
                                    delta_sharing_recipient_token_lifetime_in_seconds=91 * 86400)
    # the new owner is not the driftwatch identity's group, so the storage-credential list turns partial
    assert _got(_eval(api)) == [("DBX-UC-001", None), ("DBX-UC-003", "delta_sharing"), ("DBX-UC-003", "owner"),
                                ("DBX-UC-004", "partial-list")]
    api["metastore_summary"].update(delta_sharing_scope="INTERNAL", delta_sharing_recipient_token_lifetime_in_seconds=0)
    assert ("DBX-UC-003", "delta_sharing") not in _got(_eval(api))


def test_no_metastore_fires_uc001_002_and_the_rest_cannot_apply() -> None:
    api = f.api_state()
    for key in ("metastore_assignment", "metastore_summary", "default_namespace", "system_schemas"):
        del api[key]
    ev = _eval(api)
    assert _got(ev) == [("DBX-UC-001", None), ("DBX-UC-002", None)]
    assert {n.rule_id for n in ev.not_applicable} >= {"DBX-UC-003", "DBX-UC-004", "DBX-UC-005"}
    assert not {"DBX-UC-003", "DBX-UC-004", "DBX-UC-005"} & ev.evaluated_rules


def test_default_catalog_from_setting_then_assignment() -> None:
    api = f.api_state()
    api["default_namespace"] = {"value": "hive_metastore"}
    assert _got(_eval(api), "DBX-UC-002") == [("DBX-UC-002", None)]
    del api["default_namespace"]
    assert _got(_eval(api), "DBX-UC-002") == []  # the assignment's default_catalog_name is main
    api["metastore_assignment"].pop("default_catalog_name")
    assert _got(_eval(api), "DBX-UC-002") == [("DBX-UC-002", None)]  # unknown is not compliant


def test_storage_credentials_sp_unapproved_and_partial_list() -> None:
    api = f.api_state()
    api["storage_credentials"] += [
        {"name": "sp", "azure_service_principal": {"directory_id": f.TENANT, "application_id": "app"}},
        {"name": "mi", "azure_managed_identity": {"access_connector_id": f.ACCESS_CONNECTOR_ID + "-2"}}]
    ev = _eval(api)
    assert _got(ev, "DBX-UC-004") == [("DBX-UC-004", "credential:mi"), ("DBX-UC-004", "credential:sp")]
    assert "DBX-UC-004" in ev.evaluated_rules
    api["current_user"]["groups"] = []  # not the metastore owner: the list is partial
    ev = _eval(api)
    assert ("DBX-UC-004", "partial-list") in _got(ev) and ("DBX-UC-004", "credential:sp") in _got(ev)
    assert "DBX-UC-004" not in ev.evaluated_rules  # never a pass, nothing unseen resolves
    ev = _eval(f.api_state() | {"current_user": {"userName": "x@contoso.com"}})
    assert _got(ev, "DBX-UC-004") == [("DBX-UC-004", "partial-list")] and "DBX-UC-004" not in ev.evaluated_rules


def test_access_system_schema_states() -> None:
    api = f.api_state()
    api["system_schemas"] = [{"schema": "access", "state": "MANAGED"}]
    assert _got(_eval(api), "DBX-UC-005") == []
    api["system_schemas"] = [{"schema": "access", "state": "ENABLE_INITIALIZED"}]
    assert _got(_eval(api), "DBX-UC-005") == [("DBX-UC-005", None)]
    del api["system_schemas"]  # default: AVAILABLE
    assert _got(_eval(api), "DBX-UC-005") == [("DBX-UC-005", None)]


@pytest.mark.parametrize(("section", "bad"), [
    ("compute", {"min_runtime": "13"}),
    ("compute", {"global_init_scripts": [{"name": "a", "enabled": True, "position": 0, "sha256": "xyz"}]}),
    ("compute", {"cluster_sources": ["BATCH"]}),
    ("compute", {"uc_acess_mode": True}),
    ("unity_catalog", {"approved_access_connectors": ["/subscriptions/x/resourceGroups/r/providers/A/b/c"]}),
])
def test_strict_baseline_sections(section: str, bad: dict[str, Any]) -> None:
    with pytest.raises(BaselineError) as err:
        parse_baseline({"schema": "driftwatch.baseline/v1", "defaults": {section: bad}}, "b.yaml")
    assert f"defaults.{section}." in str(err.value)


def test_arm_is_uc_enabled_false_is_a_uc001_finding_and_absent_is_not_judged() -> None:
    """Issue 13: DBX-UC-001 also reads ARM's read-only `properties.isUcEnabled` (Databricks 2026-01-01)."""
    def arm(value: Any) -> Any:
        def mutate(docs: dict[str, Any]) -> None:
            ws = next(r for r in docs["resources"] if r["type"] == "Microsoft.Databricks/workspaces")
            if value is None:
                ws["properties"].pop("isUcEnabled", None)
            else:
                ws["properties"]["isUcEnabled"] = value
        (ws,) = states(compliant_estate(mutate, api=f.api_state()))
        return evaluate_workspace(ws, baseline(compute=COMPUTE, unity_catalog=UC), now=NOW)

    assert _got(arm(False), "DBX-UC-001") == [("DBX-UC-001", "arm:isUcEnabled")]
    assert _got(arm(True), "DBX-UC-001") == []
    assert _got(arm(None), "DBX-UC-001") == []
