"""DBX-TOKEN-003..005 and DBX-SET-001..004: violating, compliant and not applicable; per-family failures."""

from __future__ import annotations

from typing import Any

from core.rules import RULES, evaluate_workspace
from samples import factory as f
from tests.support.estates import NOW, baseline, compliant_estate, states

FULL = {"tokens": {"max_lifetime_days": 90, "enabled": True, "allowed_users": ["automation-sp-group"],
                   "stale_days": 90, "service_principals_only": False},
        "settings": {"restrict_workspace_admins": "RESTRICT_TOKENS_AND_JOB_RUN_AS", "disable_legacy_dbfs": True,
                     "sql_results_download": False, "disable_legacy_access": True}}


def _eval(api: dict[str, Any], **over: Any) -> Any:
    (ws,) = states(compliant_estate(api=api))
    return evaluate_workspace(ws, baseline(**{**FULL, **over}), now=NOW)


def _ids(ev: Any, prefix: str) -> list[tuple[str, str | None]]:
    return sorted((fd.rule_id, fd.subject) for fd in ev.findings if fd.rule_id.startswith(prefix))


NEW = ("DBX-TOKEN-003", "DBX-TOKEN-004", "DBX-TOKEN-005", "DBX-SET-001", "DBX-SET-002", "DBX-SET-003",
       "DBX-SET-004")


def test_compliant_workspace_passes_every_new_rule() -> None:
    ev = _eval(f.api_state())
    assert [fd.rule_id for fd in ev.findings] == []
    assert set(NEW) <= ev.evaluated_rules


def test_token_acl_users_group_and_unlisted_principal() -> None:
    api = f.api_state()
    api["token_permissions"]["access_control_list"] += [
        {"group_name": "users", "all_permissions": [{"permission_level": "CAN_USE"}]},
        {"service_principal_name": f.SP_APP_ID, "all_permissions": [{"permission_level": "CAN_USE"}]},
    ]
    assert _ids(_eval(api), "DBX-TOKEN-003") == [("DBX-TOKEN-003", "group:users"),
                                                 ("DBX-TOKEN-003", f"service_principal:{f.SP_APP_ID}")]


def test_token_acl_can_manage_of_admins_is_kept_from_raw_json() -> None:
    (ws,) = states(compliant_estate(api=f.api_state()))
    assert ws.workspace_api is not None and ws.workspace_api.token_permissions is not None
    admins = next(e for e in ws.workspace_api.token_permissions if e.principal == "admins")
    assert admins.levels == ("CAN_MANAGE",)


def test_stale_never_used_and_human_tokens() -> None:
    toks = [f.token("t-fresh", 30, f.SP_APP_ID), f.token("t-stale", 30, f.SP_APP_ID, last_used_days_ago=120),
            {**f.token("t-never", 30, "person@contoso.com", last_used_days_ago=None),
             "creation_time": f.NOW_MS - 100 * f.DAY_MS}]
    api = f.api_state(tokens=toks)
    ev = _eval(api, tokens={**FULL["tokens"], "service_principals_only": True})
    assert _ids(ev, "DBX-TOKEN-004") == [("DBX-TOKEN-004", "owner:t-never"), ("DBX-TOKEN-004", "stale:t-never"),
                                         ("DBX-TOKEN-004", "stale:t-stale")]


def test_tokens_enabled_against_baseline_and_default() -> None:
    assert _ids(_eval(f.api_state()), "DBX-TOKEN-005") == []  # unset = default "true"
    ev = _eval(f.api_state(), tokens={**FULL["tokens"], "enabled": False})
    (fd,) = [x for x in ev.findings if x.rule_id == "DBX-TOKEN-005"]
    assert fd.expected == "false" and fd.actual == "unset (default true)"


def test_tokens_disabled_makes_token_002_to_004_not_applicable() -> None:
    api = f.api_state(conf=dict(f.COMPLIANT_CONF, enableTokensConfig="false"),
                      tokens=[f.token("t-forever", None, "p@contoso.com", last_used_days_ago=500)])
    api["token_permissions"]["access_control_list"].append(
        {"group_name": "users", "all_permissions": [{"permission_level": "CAN_USE"}]})
    ev = _eval(api, tokens={**FULL["tokens"], "service_principals_only": True})
    assert _ids(ev, "DBX-TOKEN-00") == [("DBX-TOKEN-005", None)]
    na = {n.rule_id for n in ev.not_applicable}
    assert {"DBX-TOKEN-002", "DBX-TOKEN-003", "DBX-TOKEN-004"} <= na
    assert not ({"DBX-TOKEN-002", "DBX-TOKEN-003", "DBX-TOKEN-004"} & ev.evaluated_rules)


def test_settings_violations_and_defaults() -> None:
    api = f.api_state()
    api["settings"] = {"disable_legacy_dbfs": {"value": False}}  # the others at their defaults
    ev = _eval(api)
    got = {fd.rule_id: fd.actual for fd in ev.findings if fd.rule_id.startswith("DBX-SET")}
    assert got == {"DBX-SET-001": "ALLOW_ALL", "DBX-SET-002": False, "DBX-SET-003": True, "DBX-SET-004": False}


def test_settings_off_in_baseline_are_not_checked() -> None:
    api = f.api_state()
    api["settings"] = {}
    ev = _eval(api, settings=None)
    assert _ids(ev, "DBX-SET") == []
    assert not any(RULES[r].applies(baseline(settings=None).document.defaults) for r in NEW if "SET" in r)


def test_one_family_failing_leaves_the_others_evaluated() -> None:
    (ws,) = states(compliant_estate(api=f.api_state()))
    assert ws.workspace_api is not None
    api = ws.workspace_api.model_copy(update={"token_permissions": None,
                                              "family_errors": {"token_permissions": "PermissionDenied 403"}})
    ev = evaluate_workspace(ws.model_copy(update={"workspace_api": api}), baseline(**FULL), now=NOW)
    assert [(fd.rule_id, fd.subject) for fd in ev.findings] == [("DBX-EVAL-002", "token_permissions")]
    assert "DBX-TOKEN-003" not in ev.evaluated_rules  # nothing resolves on missing data
    assert {"DBX-TOKEN-004", "DBX-SET-001", "DBX-IPACL-002"} <= ev.evaluated_rules


def test_snapshot_and_emulator_agree_on_family_defaults() -> None:
    from core.state.families import DEFAULT_TOKEN_ACL, SETTING_DEFAULTS, SETTING_PAYLOADS
    from emulator import workspace_families as emu

    assert SETTING_DEFAULTS == emu.SETTING_DEFAULTS
    assert {t: k for t, (k, _) in SETTING_PAYLOADS.items()} == emu.SETTING_PAYLOAD_KEYS
    assert DEFAULT_TOKEN_ACL["access_control_list"] == emu.DEFAULT_TOKEN_PERMISSIONS["access_control_list"]
