"""DBX-CONF-001 with platform defaults for unset keys, and DBX-CONF-002 for keys a workspace rejects.

Unset keys read as null (databricks-sdk-py `WorkspaceConfAPI.get_status` returns the plain map); the
defaults come from core/rules/data/workspace_conf_defaults.py (SAT pass rules, Databricks docs).
"""

from __future__ import annotations

from typing import Any

from core.rules import evaluate_workspace
from core.rules.data.workspace_conf_defaults import WORKSPACE_CONF_KEYS
from core.state.model import WorkspaceApiState
from samples import factory as f
from tests.support.estates import NOW, baseline, compliant_estate, states


def _eval(conf: dict[str, Any], want: dict[str, str], unsupported: tuple[str, ...] = ()) -> Any:
    (ws,) = states(compliant_estate(api=f.api_state(conf=conf)))
    assert ws.workspace_api is not None
    api = WorkspaceApiState(conf=ws.workspace_api.conf | {k: None for k in want if k not in conf},
                            ip_access_lists=ws.workspace_api.ip_access_lists, tokens=ws.workspace_api.tokens,
                            unsupported_conf_keys=unsupported)
    for k in unsupported:
        api.conf.pop(k, None)
    return evaluate_workspace(ws.model_copy(update={"workspace_api": api}), baseline(workspace_conf=want), now=NOW)


def _conf_findings(ev: Any) -> dict[tuple[str, str | None], Any]:
    return {(x.rule_id, x.subject): x for x in ev.findings if x.rule_id.startswith("DBX-CONF")}


def test_unset_key_whose_default_is_expected_is_compliant() -> None:
    base = {"enableIpAccessLists": "true", "maxTokenLifetimeDays": "90"}
    ev = _eval(base, {"enableJobViewAcls": "true", "enableTokensConfig": "true"})
    assert _conf_findings(ev) == {}
    assert "DBX-CONF-001" in ev.evaluated_rules


def test_unset_key_whose_default_differs_shows_the_default() -> None:
    ev = _eval({}, {"enableVerboseAuditLogs": "true", "enableExportNotebook": "false"})
    found = _conf_findings(ev)
    assert found[("DBX-CONF-001", "enableVerboseAuditLogs")].actual == "unset (default false)"
    assert found[("DBX-CONF-001", "enableExportNotebook")].actual == "unset (default true)"


def test_unset_key_with_unknown_default_is_a_finding_as_before() -> None:
    assert WORKSPACE_CONF_KEYS["enableWebTerminal"].default is None
    found = _conf_findings(_eval({}, {"enableWebTerminal": "false"}))
    assert found[("DBX-CONF-001", "enableWebTerminal")].actual is None


def test_set_value_wins_over_default() -> None:
    found = _conf_findings(_eval({"enableJobViewAcls": "false"}, {"enableJobViewAcls": "true"}))
    assert found[("DBX-CONF-001", "enableJobViewAcls")].actual == "false"


def test_unsupported_key_is_its_own_finding_and_the_rest_is_evaluated() -> None:
    ev = _eval({"enableVerboseAuditLogs": "false"}, {"enableVerboseAuditLogs": "true", "enableByocUi": "true"},
               unsupported=("enableByocUi",))
    found = _conf_findings(ev)
    assert set(found) == {("DBX-CONF-001", "enableVerboseAuditLogs"), ("DBX-CONF-002", "enableByocUi")}
    conf2 = found[("DBX-CONF-002", "enableByocUi")]
    assert conf2.severity == "medium" and conf2.actual == "unsupported key" and conf2.expected == "true"
    assert not [x for x in ev.findings if x.rule_id == "DBX-EVAL-002"]


def test_unsupported_ip_access_list_or_token_key_keeps_its_rule_open() -> None:
    (ws,) = states(compliant_estate(api=f.api_state()))
    assert ws.workspace_api is not None
    conf = {k: v for k, v in ws.workspace_api.conf.items() if k not in ("enableIpAccessLists", "maxTokenLifetimeDays")}
    api = ws.workspace_api.model_copy(update={"conf": conf,
                                              "unsupported_conf_keys": ("enableIpAccessLists", "maxTokenLifetimeDays")})
    ev = evaluate_workspace(ws.model_copy(update={"workspace_api": api}), baseline(), now=NOW)
    got = {x.rule_id: x.actual for x in ev.findings}
    assert got.get("DBX-IPACL-001") == "unsupported key" and got.get("DBX-TOKEN-001") == "unsupported key"


def test_invalid_keys_message_is_parsed_in_its_published_and_bare_forms() -> None:
    """`Invalid keys: ["enableByocUi"]` as terraform-provider-databricks issue #1769 shows it; databricks-sdk-py
    raises InvalidParameterValue (a BadRequest) for HTTP 400 INVALID_PARAMETER_VALUE."""
    from databricks.sdk.errors import InvalidParameterValue, PermissionDenied

    from core.collect.workspace_api import invalid_conf_keys

    assert invalid_conf_keys(InvalidParameterValue('Invalid keys: ["enableByocUi"]')) == ["enableByocUi"]
    assert invalid_conf_keys(InvalidParameterValue('Invalid keys: ["a", "b"]')) == ["a", "b"]
    assert invalid_conf_keys(InvalidParameterValue("Invalid keys: [a, 'b']")) == ["a", "b"]
    assert invalid_conf_keys(InvalidParameterValue("Missing required parameter: keys")) is None
    assert invalid_conf_keys(PermissionDenied('Invalid keys: ["a"]')) is None  # not a 400: a read failure


def test_sat_hardening_profile_named_by_a_scope_explicit_keys_win_and_unset_keys_use_defaults() -> None:
    """`workspace_conf_profile: sat-hardening` (core/baseline/profiles.py): a compliant workspace-conf passes
    every key; unset keys pass where their platform default is the profile's value (enableJobViewAcls) and
    are findings where it is not (enableResultsDownloading, default true) or is not known (enableDcs)."""
    from core.baseline import parse_baseline
    from core.baseline.profiles import profile_conf
    from core.rules import identity_of

    doc = {"schema": "driftwatch.baseline/v1", "defaults": {"workspace_conf": {"enableTokensConfig": "true"}},
           "scopes": [{"name": "prod", "match": {"tags": {"env": "prod"}},
                       "set": {"workspace_conf_profile": "sat-hardening"}}]}
    b = parse_baseline(doc, "profile-test")
    conf = dict(profile_conf("sat-hardening"), enableTokensConfig="true", enableIpAccessLists="true",
                maxTokenLifetimeDays="90")
    (ws,) = states(compliant_estate(api=f.api_state(conf=conf)))
    eff = b.effective_for(identity_of(ws)).settings.workspace_conf or {}
    assert eff["enableTokensConfig"] == "true" and eff["enableDcs"] == "false" and len(eff) == 16
    assert [x for x in evaluate_workspace(ws, b, now=NOW).findings if x.rule_id.startswith("DBX-CONF")] == []
    unset = {k: v for k, v in conf.items() if k not in ("enableJobViewAcls", "enableResultsDownloading", "enableDcs")}
    (ws,) = states(compliant_estate(api=f.api_state(conf=unset)))
    assert ws.workspace_api is not None
    api = ws.workspace_api.model_copy(update={"conf": {**ws.workspace_api.conf, "enableJobViewAcls": None,
                                                       "enableResultsDownloading": None, "enableDcs": None}})
    got = {x.subject: x.actual for x in evaluate_workspace(ws.model_copy(update={"workspace_api": api}), b,
                                                          now=NOW).findings if x.rule_id == "DBX-CONF-001"}
    assert got == {"enableResultsDownloading": "unset (default true)", "enableDcs": None}


def test_profile_keys_are_known_and_an_unknown_profile_is_refused() -> None:
    import pytest

    from core.baseline.profiles import WORKSPACE_CONF_PROFILES
    from core.errors import InputError
    from emulator.workspace_conf_keys import KNOWN_WORKSPACE_CONF_KEYS

    for keys in WORKSPACE_CONF_PROFILES.values():
        assert set(keys) <= set(WORKSPACE_CONF_KEYS) and set(keys) <= KNOWN_WORKSPACE_CONF_KEYS
    with pytest.raises(InputError, match="workspace_conf_profile"):
        baseline(workspace_conf_profile="sat-hardned")
