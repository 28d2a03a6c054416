"""What is fetched comes from the rules' declared inputs (core/rules/plan.py -> core/collect.api_needs).

Pure: no emulator, no socket. The call counts per family over HTTP are pinned in tests/contract/collect
(test_lean_scan.py, test_workspace_families.py, test_compute_uc_families.py); these pin the plan itself.
"""

from __future__ import annotations

import ast
import copy
from pathlib import Path
from typing import Any

import yaml

from core.baseline import parse_baseline
from core.baseline.load import EffectiveBaseline
from core.collect.collector import api_needs, arm_part_needs
from core.collect.workspace_api import ApiNeeds
from core.collect.workspace_families import FamilyNeeds
from core.rules import RULES, identity_of, read_plan
from core.state.reads import Read, ReadPlan, stage_of
from core.terms import RULE_ID_RE
from tests.support.estates import compliant_estate, states

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE: dict[str, Any] = yaml.safe_load((ROOT / "baseline.example.yaml").read_text(encoding="utf-8"))
IN_WORKSPACE_SECTIONS = ("ip_access_lists", "workspace_conf", "workspace_conf_profile", "tokens", "iam",
                         "secrets", "settings", "compute", "unity_catalog")
"""Baseline sections checked through the workspace API (everything else in `defaults` is ARM)."""


def _effective(defaults: dict[str, Any]) -> EffectiveBaseline:
    (ws,) = states(compliant_estate())
    doc = {"schema": "driftwatch.baseline/v1", "defaults": defaults}
    return parse_baseline(doc, "test-baseline").effective_for(identity_of(ws))


def _arm_only() -> dict[str, Any]:
    return {k: v for k, v in copy.deepcopy(EXAMPLE["defaults"]).items() if k not in IN_WORKSPACE_SECTIONS}


def test_arm_only_baseline_plans_no_workspace_api_read() -> None:
    eff = _effective(_arm_only())
    plan = read_plan(eff)
    on = [r.id for r in RULES.values() if r.id not in eff.disabled and r.applies(eff.settings)]
    assert any(i.startswith("DBX-NET-") for i in on) and any(i.startswith("DBX-WS-") for i in on)
    assert "workspace_api" not in plan.stages, sorted(plan.parts)
    assert api_needs(plan) == ApiNeeds(conf_keys=(), ip_access_lists=False, tokens=False)
    assert not api_needs(plan).any
    # the ARM reads beyond the workspace document are still planned, from the rules that need them
    assert {Read.NETWORK, Read.DIAGNOSTICS, Read.ACCESS_CONNECTOR, Read.LOCKS} <= plan.parts


def test_secrets_only_baseline_plans_only_the_secrets_family() -> None:
    eff = _effective({"secrets": copy.deepcopy(EXAMPLE["defaults"]["secrets"])})
    plan = read_plan(eff)
    on = {r.id for r in RULES.values() if r.applies(eff.settings) and r.inputs.parts}
    assert on == {"DBX-SEC-001", "DBX-SEC-002", "DBX-SEC-003"}
    declared = set().union(*(RULES[i].inputs_for(eff.settings).parts for i in on))
    assert plan.parts == declared == {Read.SECRET_SCOPES, Read.SECRET_ACLS}
    assert api_needs(plan) == ApiNeeds(conf_keys=(), ip_access_lists=False, tokens=False,
                                       families=FamilyNeeds(secret_scopes=True, secret_acls=True))
    assert arm_part_needs(plan) == frozenset()


def test_disabling_a_rule_drops_only_its_reads() -> None:
    defaults = {"secrets": copy.deepcopy(EXAMPLE["defaults"]["secrets"]), "disabled_rules": ["DBX-SEC-003"]}
    assert read_plan(_effective(defaults)).parts == {Read.SECRET_SCOPES}


def test_baseline_named_conf_keys_and_the_rules_own_keys_are_read_once_in_catalogue_order() -> None:
    defaults = {"ip_access_lists": {"enforced": True}, "tokens": {"max_lifetime_days": 90},
                "workspace_conf": {"enableVerboseAuditLogs": "true", "enableDbfsFileBrowser": "false",
                                   "enableIpAccessLists": "true"}}
    plan = read_plan(_effective(defaults))
    assert plan.conf_keys == ("enableIpAccessLists", "enableDbfsFileBrowser", "enableVerboseAuditLogs",
                              "maxTokenLifetimeDays", "enableTokensConfig")
    assert api_needs(plan).conf_keys == plan.conf_keys


def test_audit_scan_families_limit_the_plan() -> None:
    eff = _effective(copy.deepcopy(EXAMPLE["defaults"]))
    tokens = read_plan(eff, families=frozenset({"TOKEN"}))
    assert tokens.parts == {Read.WORKSPACE_CONF, Read.TOKENS, Read.TOKEN_PERMISSIONS}
    assert read_plan(eff, families=frozenset({"NET"})).stages == {"arm", "network", "private_dns"}


def test_a_rule_that_cannot_apply_reads_nothing_but_the_network_is_still_read() -> None:
    def private_only(estate: dict[str, Any]) -> None:
        ws = next(r for r in estate["resources"] if r["type"] == "Microsoft.Databricks/workspaces")
        ws["properties"]["publicNetworkAccess"] = "Disabled"

    (ws,) = states(compliant_estate(private_only))
    assert ws.arm is not None
    eff = parse_baseline({"schema": "driftwatch.baseline/v1", "defaults": {
        "ip_access_lists": copy.deepcopy(EXAMPLE["defaults"]["ip_access_lists"]),
        "network": copy.deepcopy(EXAMPLE["defaults"]["network"])}}).effective_for(identity_of(ws))
    assert Read.IP_ACCESS_LISTS in read_plan(eff).parts  # without the workspace: the baseline asks for it
    on_this_one = read_plan(eff, arm=ws.arm)
    assert Read.IP_ACCESS_LISTS not in on_this_one.parts and Read.NETWORK in on_this_one.parts


def test_declarations_are_consistent() -> None:
    """Every rule reads something (the DBX-EVAL rules read the collection errors); the families whose
    observation gates a rule are among its inputs; `needs` is the stage of its inputs."""
    full = parse_baseline({"schema": "driftwatch.baseline/v1", "defaults": copy.deepcopy(EXAMPLE["defaults"])})
    settings = full.effective_for(identity_of(states(compliant_estate())[0])).settings
    for r in RULES.values():
        inputs = r.inputs_for(settings)
        assert bool(inputs.parts) == (r.family != "EVAL"), r.id
        assert set(r.api_families) <= {p.value for p in inputs.parts}, r.id
        assert r.needs == inputs.stage(), r.id
        assert all(stage_of(p) in ("arm", r.needs) for p in inputs.parts), r.id


def test_read_plan_union_keeps_first_declaration_order() -> None:
    a = ReadPlan.of(Read.TOKENS, conf_keys=("b", "a"))
    b = ReadPlan.of(settings_types=("x",), conf_keys=("a", "c"))
    assert (a | b) == ReadPlan(frozenset({Read.TOKENS, Read.WORKSPACE_CONF, Read.WORKSPACE_SETTINGS}),
                               ("b", "a", "c"), ("x",))


def _code_strings(tree: ast.AST) -> list[str]:
    """String constants that are not docstrings."""
    docs = {id(n.body[0].value) for n in ast.walk(tree)
            if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and id(n) not in docs]


def test_the_collector_names_no_rule() -> None:
    """What is fetched is never decided by a rule id in core/collect (import-linter also forbids core.rules)."""
    for path in sorted((ROOT / "core" / "collect").glob("*.py")):
        for text in _code_strings(ast.parse(path.read_text(encoding="utf-8"))):
            words = text.replace("/", " ").replace(",", " ").split()
            assert not any(RULE_ID_RE.match(w) or w.startswith("DBX-") for w in words), f"{path.name}: {text!r}"


def test_eval_002_is_on_only_while_a_workspace_api_read_is_planned() -> None:
    """DBX-EVAL-002 declares the stage it reports (`reports_stage`); with no workspace-API rule on, an API
    error is not a finding and its stale findings may resolve (it counts as evaluated)."""
    from core.rules import evaluate_workspace
    from core.state.model import CollectionError
    from tests.support.estates import NOW

    (ws,) = states(compliant_estate(with_api=False))
    ws = ws.model_copy(update={"errors": (CollectionError(stage="workspace_api", message="timed out"),)})
    doc = {"schema": "driftwatch.baseline/v1", "defaults": _arm_only()}
    ev = evaluate_workspace(ws, parse_baseline(doc), now=NOW)
    assert RULES["DBX-EVAL-002"].reports_stage == "workspace_api"
    assert "DBX-EVAL-002" in ev.evaluated_rules and not [x for x in ev.findings if x.rule_id == "DBX-EVAL-002"]
    doc["defaults"]["secrets"] = copy.deepcopy(EXAMPLE["defaults"]["secrets"])
    ev = evaluate_workspace(ws, parse_baseline(doc), now=NOW)
    assert [x.rule_id for x in ev.findings if x.rule_id.startswith("DBX-EVAL")] == ["DBX-EVAL-002"]


def test_the_plan_is_made_once_per_effective_baseline_and_families_and_equals_a_fresh_one() -> None:
    """A sweep asks for the plan several times per workspace and one EffectiveBaseline serves every workspace
    its scopes match, so the plan (without an ARM document) is kept on it, per families; the kept plan is
    the one planning from scratch gives, and an ARM document or an explicit rule list is never served from
    the cache."""
    eff = _effective(copy.deepcopy(EXAMPLE["defaults"]))
    first = read_plan(eff)
    assert read_plan(eff) is first
    net = read_plan(eff, families=frozenset({"NET"}))
    assert net is not first and net.parts < first.parts and read_plan(eff, families=frozenset({"NET"})) is net
    fresh = _effective(copy.deepcopy(EXAMPLE["defaults"]))
    assert read_plan(fresh, rules=list(RULES.values())) == first
    assert read_plan(fresh, rules=[RULES["DBX-WS-001"]]) == ReadPlan.of(Read.WORKSPACE)
    (ws,) = states(compliant_estate())
    assert ws.arm is not None
    assert read_plan(eff, arm=ws.arm) == read_plan(fresh, arm=ws.arm, rules=list(RULES.values()))
