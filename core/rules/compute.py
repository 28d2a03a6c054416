"""DBX-CLU-*: clusters, cluster policies and init scripts (workspace API, databricks-sdk-py 0.162.0 shapes).

Script text never leaves the collector: global init scripts are compared by sha256 of their decoded bytes.
Clusters are those of GET /api/2.1/clusters/list (pinned, active, and terminated within 30 days) whose
`cluster_source` is in `compute.cluster_sources` (UI and API by default; an unknown source counts as in scope).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

from core.baseline.load import EffectiveBaseline
from core.baseline.model import ComputeBaseline, Settings
from core.rules.registry import Violation, rule
from core.state.compute_uc import UC_ACCESS_MODES, ClusterState
from core.state.model import WorkspaceApiState, WorkspaceState
from core.state.reads import Read, ReadPlan

WORKER_ENCRYPTION_CONFS = ("spark.authenticate", "spark.network.crypto.enabled", "spark.io.encryption.enabled")
"""CIS Microsoft Azure Foundations v5/v6 2.1.3 (traffic between workers encrypted): Spark confs that must be
"true"."""
LEGACY_INIT_CONF_KEYS = ("enableDeprecatedGlobalInitScripts", "enableDeprecatedClusterNamedInitScripts")


def _compute(b: EffectiveBaseline) -> ComputeBaseline:
    c = b.settings.compute
    assert c is not None
    return c


def _api(ws: WorkspaceState) -> WorkspaceApiState:
    assert ws.workspace_api is not None
    return ws.workspace_api


def clusters_in_scope(ws: WorkspaceState, b: EffectiveBaseline) -> list[ClusterState]:
    sources = set(_compute(b).cluster_sources)
    return [c for c in _api(ws).clusters or () if c.cluster_source is None or c.cluster_source in sources]


def _label(c: ClusterState) -> str:
    return f"{c.cluster_name} ({c.cluster_id})" if c.cluster_name else c.cluster_id


@rule(id="DBX-CLU-001", inputs=ReadPlan.of(Read.GLOBAL_INIT_SCRIPTS), api_family="global_init_scripts",
      remediation="Review the script in Admin settings > Compute > Global init scripts; delete or restore it "
                  "(DELETE/PATCH /api/2.0/global-init-scripts/{id}), or record its new sha256 in "
                  "compute.global_init_scripts.",
      applies=lambda s: s.compute is not None and s.compute.global_init_scripts is not None)
def global_init_scripts(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads GET /api/2.0/global-init-scripts and GET /api/2.0/global-init-scripts/{id} `name`, `enabled`,
    `position` and the Base64 `script` (hashed with sha256 after decoding; the text is never kept): the set
    of (name, enabled, position, sha256) must equal `compute.global_init_scripts`. One finding per unexpected,
    missing and changed script."""
    expected = {e.name: e for e in _compute(b).global_init_scripts or ()}
    scripts = _api(ws).global_init_scripts or ()
    counts = Counter(s.name for s in scripts)
    for s in sorted(scripts, key=lambda x: (x.name, x.script_id)):
        actual = {"enabled": s.enabled, "position": s.position, "sha256": s.sha256}
        want = expected.get(s.name)
        if counts[s.name] > 1:
            yield Violation(f"Global init script name {s.name} is used by {counts[s.name]} scripts "
                            f"(script {s.script_id}).", expected="one script per name", actual=actual,
                            subject=f"duplicate:{s.name}:{s.script_id}")
        elif want is None:
            yield Violation(f"Global init script {s.name} (sha256 {s.sha256 or 'unreadable'}) is not in the "
                            "baseline.", expected=None, actual=actual, subject=f"unexpected:{s.name}")
        else:
            exp = {"enabled": want.enabled, "position": want.position, "sha256": want.sha256}
            if exp != actual:
                diff = ", ".join(k for k in exp if exp[k] != actual[k])
                yield Violation(f"Global init script {s.name} differs from the baseline ({diff}).", expected=exp,
                                actual=actual, subject=f"changed:{s.name}")
    for name in sorted(set(expected) - set(counts)):
        e = expected[name]
        yield Violation(f"Baseline global init script {name} does not exist.",
                        expected={"enabled": e.enabled, "position": e.position, "sha256": e.sha256}, actual=None,
                        subject=f"missing:{name}")


@rule(id="DBX-CLU-002", inputs=ReadPlan.of(Read.CLUSTERS), api_family="clusters",
      remediation="Edit the cluster's access mode to Standard (shared) or Dedicated (single user) "
                  "(data_security_mode DATA_SECURITY_MODE_STANDARD / DATA_SECURITY_MODE_DEDICATED), and pin it "
                  "in the cluster policies.",
      applies=lambda s: s.compute is not None and bool(s.compute.uc_access_mode))
def cluster_access_mode(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads GET /api/2.1/clusters/list `data_security_mode` of the clusters in scope: it must be
    DATA_SECURITY_MODE_STANDARD, DATA_SECURITY_MODE_DEDICATED, DATA_SECURITY_MODE_AUTO or the legacy aliases
    USER_ISOLATION, SINGLE_USER; NONE, absent and LEGACY_* (no Unity Catalog) are findings."""
    for c in clusters_in_scope(ws, b):
        if c.data_security_mode not in UC_ACCESS_MODES:
            yield Violation(f"Cluster {_label(c)} runs with access mode {c.data_security_mode or 'unset'}, which "
                            "is not a Unity Catalog access mode.", expected=sorted(UC_ACCESS_MODES),
                            actual=c.data_security_mode, subject=f"cluster:{c.cluster_id}")


_RUNTIME = re.compile(r"^(\d+)\.(\d+)\.")


def runtime_of(spark_version: str | None) -> tuple[int, int] | None:
    """`13.3.x-scala2.12`, `15.4.x-photon-scala2.12`, `14.3.x-gpu-ml-scala2.12` -> (major, minor)."""
    m = _RUNTIME.match(spark_version or "")
    return (int(m.group(1)), int(m.group(2))) if m else None


@rule(id="DBX-CLU-003", inputs=ReadPlan.of(Read.CLUSTERS, Read.SPARK_VERSIONS),
      api_family=("clusters", "spark_versions"),
      remediation="Edit the cluster to a supported Databricks Runtime (an LTS release at or above "
                  "compute.min_runtime) and restart it; pin the runtime range in the cluster policies.",
      applies=lambda s: s.compute is not None and s.compute.min_runtime is not None)
def cluster_runtime(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads `spark_version` of the clusters in scope and GET /api/2.1/clusters/spark-versions `versions[].key`:
    the version must be in the supported list and its runtime (major.minor) at least `compute.min_runtime`."""
    minimum = _compute(b).min_runtime
    assert minimum is not None
    floor = tuple(int(p) for p in minimum.split("."))
    supported = set(_api(ws).spark_versions or ())
    for c in clusters_in_scope(ws, b):
        problems = []
        if c.spark_version not in supported:
            problems.append("not in the workspace's supported runtimes")
        rt = runtime_of(c.spark_version)
        if rt is None:
            problems.append("runtime version unknown")
        elif rt < floor:
            problems.append(f"older than {minimum}")
        if problems:
            yield Violation(f"Cluster {_label(c)} runs {c.spark_version or 'no spark_version'}: "
                            f"{'; '.join(problems)}.", expected=f"supported, >= {minimum}", actual=c.spark_version,
                            subject=f"cluster:{c.cluster_id}")


@rule(id="DBX-CLU-004", inputs=ReadPlan.of(Read.CLUSTERS, Read.POLICY_COMPLIANCE),
      api_family=("clusters", "policy_compliance"),
      remediation="Attach a cluster policy to the cluster (policy_id) and bring it into compliance (edit it, or "
                  "POST /api/2.0/policies/clusters/enforce-compliance).",
      applies=lambda s: s.compute is not None and bool(s.compute.require_policy))
def cluster_policy_compliance(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads `policy_id` of the clusters in scope and, per policy they use, GET
    /api/2.0/policies/clusters/list-compliance?policy_id= `clusters[].is_compliant` and `violations` (only the
    violation paths are reported). No policy, not compliant, or a compliance the API did not report is a
    finding."""
    compliance = _api(ws).policy_compliance or {}
    for c in clusters_in_scope(ws, b):
        if not c.policy_id:
            yield Violation(f"Cluster {_label(c)} has no cluster policy.", expected="a policy_id", actual=None,
                            subject=f"cluster:{c.cluster_id}")
            continue
        state = compliance.get(c.cluster_id)
        if state is None or state.is_compliant is None:
            yield Violation(f"Cluster {_label(c)}: the policy compliance API did not report its compliance with "
                            f"policy {c.policy_id}.", expected="is_compliant true", actual=None,
                            subject=f"cluster:{c.cluster_id}", related_resource_id=None)
        elif not state.is_compliant:
            yield Violation(f"Cluster {_label(c)} does not comply with its policy {c.policy_id} "
                            f"({', '.join(state.violations) or 'no violation paths given'}).",
                            expected="is_compliant true", actual=list(state.violations),
                            subject=f"cluster:{c.cluster_id}")


def _policies_partial(ws: WorkspaceState, b: EffectiveBaseline) -> str | None:
    if _compute(b).users_policy_use is None:
        return None
    api = ws.workspace_api
    if api is None or not api.family_observed("policy_permissions"):
        return "the cluster policy permissions (family policy_permissions) were not read"
    return None


def _policy_permission_reads(s: Settings) -> ReadPlan:
    """The policies' permissions are read only when the baseline checks who may use unpinned policies."""
    wants = s.compute is not None and s.compute.users_policy_use is not None
    return ReadPlan.of(Read.POLICY_PERMISSIONS) if wants else ReadPlan()


@rule(id="DBX-CLU-005", inputs=ReadPlan.of(Read.CLUSTER_POLICIES), more_inputs=_policy_permission_reads,
      api_family="cluster_policies", incomplete=_policies_partial,
      remediation="Restore the policy definition (POST /api/2.0/policies/clusters/edit) or record its new sha256 "
                  "in compute.policies; remove CAN_USE for users from policies that do not fix "
                  "data_security_mode to a Unity Catalog mode (PATCH /api/2.0/permissions/cluster-policies/{id}).",
      applies=lambda s: s.compute is not None and (s.compute.policies is not None or
                                                   s.compute.users_policy_use is not None))
def cluster_policies(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads GET /api/2.0/policies/clusters/list `name` and `definition` (sha256 of the canonical JSON: keys
    sorted, no whitespace): the set of (name, sha256) must equal `compute.policies`. With
    `users_policy_use: uc_pinned_only`, GET /api/2.0/permissions/cluster-policies/{id} of every policy whose
    `data_security_mode` is not fixed (or allow-listed) to UC modes: the group users holds no CAN_USE."""
    comp = _compute(b)
    api = _api(ws)
    policies = api.cluster_policies or ()
    if comp.policies is not None:
        expected = {p.name: p.sha256 for p in comp.policies}
        seen = {p.name for p in policies}
        for p in sorted(policies, key=lambda x: x.name):
            if p.name not in expected:
                yield Violation(f"Cluster policy {p.name} (sha256 {p.definition_sha256}) is not in the baseline.",
                                expected=None, actual=p.definition_sha256, subject=f"unexpected:{p.name}")
            elif expected[p.name] != p.definition_sha256:
                yield Violation(f"Cluster policy {p.name}: its definition changed (sha256 {p.definition_sha256}).",
                                expected=expected[p.name], actual=p.definition_sha256, subject=f"changed:{p.name}")
        for name in sorted(set(expected) - seen):
            yield Violation(f"Baseline cluster policy {name} does not exist.", expected=expected[name], actual=None,
                            subject=f"missing:{name}")
    if comp.users_policy_use is not None and api.policy_permissions is not None:
        for p in sorted(policies, key=lambda x: x.name):
            if p.pins_uc_access_mode:
                continue
            for e in api.policy_permissions.get(p.policy_id, ()):
                if e.principal_type == "group" and e.principal.casefold() == "users" and "CAN_USE" in e.levels:
                    yield Violation(f"The group users may use cluster policy {p.name}, which does not pin a Unity "
                                    "Catalog access mode.", expected="no CAN_USE for users",
                                    actual=list(e.levels), subject=f"users:{p.name}")


@rule(id="DBX-CLU-006", inputs=ReadPlan.of(Read.CLUSTERS, conf_keys=("enableDeprecatedGlobalInitScripts",
                                                                 "enableDeprecatedClusterNamedInitScripts")),
      api_family="clusters",
      remediation="Move cluster init scripts from DBFS to workspace files or Unity Catalog volumes; set "
                  "workspace-conf enableDeprecatedGlobalInitScripts and enableDeprecatedClusterNamedInitScripts "
                  "to \"false\".",
      applies=lambda s: s.compute is not None and bool(s.compute.no_legacy_init_scripts))
def legacy_init_scripts(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads `init_scripts[].dbfs.destination` of the clusters in scope and workspace-conf
    enableDeprecatedGlobalInitScripts / enableDeprecatedClusterNamedInitScripts: no DBFS init script, and
    neither key "true" (a key the workspace no longer supports cannot be on)."""
    for c in clusters_in_scope(ws, b):
        if c.dbfs_init_scripts:
            yield Violation(f"Cluster {_label(c)} runs init scripts from DBFS ({', '.join(c.dbfs_init_scripts)}).",
                            expected="no dbfs init scripts", actual=list(c.dbfs_init_scripts),
                            subject=f"cluster:{c.cluster_id}")
    conf = _api(ws).conf
    for key in LEGACY_INIT_CONF_KEYS:
        value = conf.get(key)
        if value is not None and value.strip().lower() == "true":
            yield Violation(f"workspace-conf {key} is \"true\": legacy init scripts are enabled.", expected="false",
                            actual=value, subject=f"conf:{key}")


@rule(id="DBX-CLU-007", inputs=ReadPlan.of(Read.CLUSTERS), api_family="clusters",
      remediation="Set spark.authenticate, spark.network.crypto.enabled and spark.io.encryption.enabled to "
                  "\"true\" in the cluster's Spark config (or fix them in its policy).",
      applies=lambda s: s.compute is not None and bool(s.compute.worker_encryption))
def worker_encryption(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads `spark_conf` of the clusters in scope: spark.authenticate, spark.network.crypto.enabled and
    spark.io.encryption.enabled must be "true". A key set only by an init script cannot be seen through the
    API: for a cluster that runs init scripts the finding says the keys were not verified there."""
    for c in clusters_in_scope(ws, b):
        missing = [k for k in WORKER_ENCRYPTION_CONFS if c.spark_conf.get(k, "").strip().lower() != "true"]
        if not missing:
            continue
        msg = f"Cluster {_label(c)}: spark_conf does not set {', '.join(missing)} to \"true\"."
        if c.init_scripts:
            msg += (" The cluster runs init scripts, which may set them; keys set only by init scripts are not "
                    "visible through the API, so this was not evaluated for them.")
        yield Violation(msg, expected=dict.fromkeys(WORKER_ENCRYPTION_CONFS, "true"),
                        actual={k: c.spark_conf.get(k) for k in WORKER_ENCRYPTION_CONFS},
                        subject=f"cluster:{c.cluster_id}")
