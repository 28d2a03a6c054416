"""Seed validation, the in-memory estate, and the `python -m emulator` command line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.cli import main
from emulator.seed import SeedError, load_seed
from emulator.server import EmulatorServer
from emulator.state import Estate

REPO = Path(__file__).resolve().parents[3]


def _write(tmp_path: Path, doc: object, name: str = "seed.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_missing_resource_id_names_file_and_field(tmp_path, seed):
    del seed["resources"][3]["id"]
    path = _write(tmp_path, seed)
    with pytest.raises(SeedError) as exc:
        load_seed(path)
    assert str(exc.value).startswith(f"{path}: ")
    assert "seed.json: resources[3].id: field required" in str(exc.value)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda s: s.update(extra=1), "extra: unknown field"),
        (lambda s: s.update(schema="driftwatch.estate/v0"), "schema:"),
        (lambda s: s["resources"][0].update(type=5), "resources[0].type:"),
        (lambda s: s["resources"][1].update(id="not-an-id"), "resources[1].id: not an ARM resource id"),
        (lambda s: s["subscriptions"][0].pop("subscriptionId"), "subscriptions[0].subscriptionId: field required"),
        (
            lambda s: next(iter(s["databricks"].values()))["ip_access_lists"][0].update(list_type="MAYBE"),
            ".ip_access_lists[0].list_type:",
        ),
        (lambda s: next(iter(s["databricks"].values()))["workspace_conf"].update(x=True), "workspace_conf.x:"),
        (lambda s: s["resources"].append(dict(s["resources"][0])), "duplicate resource id"),
    ],
)
def test_bad_seed_names_the_field(seed, mutate, expected):
    mutate(seed)
    with pytest.raises(SeedError) as exc:
        load_seed(seed)
    assert expected in str(exc.value)
    assert str(exc.value).startswith("<seed>: ")


def test_bad_json_and_missing_file(tmp_path):
    bad = tmp_path / "broken.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(SeedError, match=r"broken\.json: invalid JSON at line 1"):
        load_seed(bad)
    with pytest.raises(SeedError, match="cannot read file"):
        load_seed(tmp_path / "absent.json")


def test_seed_listed_child_merges_into_parent(seed, ids):
    seed["resources"].append(
        {
            "id": f"{ids.NSG_ID}/securityRules/extra",
            "name": "extra",
            "type": "Microsoft.Network/networkSecurityGroups/securityRules",
            "properties": {"access": "Deny"},
        }
    )
    estate = Estate(load_seed(seed))
    names = [r["name"] for r in estate.arm.get(ids.NSG_ID)["properties"]["securityRules"]]
    assert names[-1] == "extra"
    assert f"{ids.NSG_ID}/securityRules/extra".lower() not in [r["id"].lower() for r in estate.snapshot()["resources"]]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flips=st.lists(st.booleans(), min_size=200, max_size=200))
def test_ids_compare_case_insensitively(seed, ids, flips):
    estate = Estate(load_seed(seed))  # the fixture is only read, so sharing it across examples is safe
    rule_id = f"{ids.NSG_ID}/securityRules/allow-vendor-ssh"
    mixed = "".join(c.upper() if f else c.lower() for c, f in zip(rule_id, flips, strict=False))
    mixed += rule_id[len(mixed) :]
    assert estate.arm.get(mixed)["id"] == rule_id


def test_server_refuses_non_loopback_host(seed):
    with pytest.raises(ValueError, match="loopback"):
        EmulatorServer(seed, host="0.0.0.0")


def test_cli_bad_seed_exits_2_without_traceback(tmp_path, seed, capsys):
    del seed["resources"][0]["type"]
    path = _write(tmp_path, seed)
    assert main(["--seed", str(path), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "resources[0].type: field required" in err and str(path) in err
    assert "Traceback" not in err


def test_cli_refuses_non_loopback_host(tmp_path, seed, capsys):
    path = _write(tmp_path, seed)
    assert main(["--seed", str(path), "--host", "0.0.0.0", "--port", "0"]) == 2
    assert "loopback" in capsys.readouterr().err
    assert main(["--seed", str(path), "--port", "0", "--fault", '{"match": "x"}']) == 2


def test_python_m_emulator_serves_until_sigterm(tmp_path, seed):
    path = _write(tmp_path, seed)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "emulator", "--seed", str(path), "--port", "0", "--page-size", "1"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("driftwatch emulator listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1]
        assert requests.get(f"{url}/_emulator/health", timeout=5).json() == {"status": "ok"}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
