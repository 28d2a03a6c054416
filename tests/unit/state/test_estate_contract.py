"""One schema for `driftwatch.estate/v1`: the emulator's seed loader and the snapshot parser agree (issue 9 point 6).

Both validate with `core/contracts/estate_v1.py`; this feeds the same corpus (hand-made edge cases
plus the fuzzer's messy estates) to `emulator.seed.load_seed` and `core.state.parse_estate` and
requires the same verdict, with the same field named when they refuse.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.state import SnapshotError, parse_estate
from emulator.seed import SeedError, load_seed
from samples import factory as f
from tests.fuzz import strategies as s


def _verdicts(doc: Any) -> tuple[str | None, str | None]:
    """(seed error, snapshot error) messages without their source prefix; None = accepted."""
    seed_err = snap_err = None
    try:
        load_seed(copy.deepcopy(doc))
    except SeedError as exc:
        seed_err = str(exc).replace("<seed>: ", "")
    try:
        parse_estate(copy.deepcopy(doc), "<seed>")
    except SnapshotError as exc:
        snap_err = str(exc).replace("<seed>: ", "")
    return seed_err, snap_err


def _first_ws(doc: dict[str, Any]) -> dict[str, Any]:
    return next(r for r in doc["resources"] if r["type"] == "Microsoft.Databricks/workspaces")


def _api(doc: dict[str, Any]) -> dict[str, Any]:
    return next(iter(doc["databricks"].values()))


MUTATIONS: list[tuple[str, Callable[[dict[str, Any]], None]]] = [
    ("unchanged", lambda d: None),
    ("no name on a resource (ARM always sends one; the id's last segment stands in)",
     lambda d: _first_ws(d).pop("name")),
    ("resource without id", lambda d: _first_ws(d).pop("id")),
    ("id that is not an ARM id", lambda d: _first_ws(d).update(id="not-an-id")),
    ("duplicate id in other casing", lambda d: d["resources"].append({**_first_ws(d), "id": _first_ws(d)["id"].upper()})),
    ("resource in a subscription not listed", lambda d: d["subscriptions"].pop()),
    ("unknown subscription state", lambda d: d["subscriptions"][0].update(state="Suspended")),
    ("every subscription state", lambda d: d["subscriptions"][0].update(state="PastDue")),
    ("unknown top-level key", lambda d: d.update(extra=1)),
    ("other schema", lambda d: d.update(schema="driftwatch.estate/v2")),
    ("workspace-conf null = never set", lambda d: _api(d)["workspace_conf"].update(enableIpAccessLists=None)),
    ("workspace-conf boolean", lambda d: _api(d)["workspace_conf"].update(enableIpAccessLists=True)),
    ("ip access list type unknown", lambda d: _api(d)["ip_access_lists"][0].update(list_type="MAYBE")),
    ("ip access list enabled as text", lambda d: _api(d)["ip_access_lists"][0].update(enabled="true")),
    ("token without id", lambda d: _api(d)["tokens"][0].pop("token_id")),
    ("host key with a scheme", lambda d: d["databricks"].update({"https://x": {}})),
    ("unknown key in a workspace payload", lambda d: _api(d).update(cluster_list=[])),
]


@pytest.mark.parametrize(("what", "mutate"), MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_seed_and_snapshot_accept_exactly_the_same_documents(what: str, mutate: Callable[[dict[str, Any]], None]
                                                             ) -> None:
    doc = f.sample_estate()
    api = _api(doc)
    api.setdefault("ip_access_lists", []).append(f.ip_list("corp", "ALLOW", ["203.0.113.0/24"]))
    api.setdefault("tokens", []).append({"token_id": "t-1", "creation_time": 1, "expiry_time": -1})
    mutate(doc)
    seed_err, snap_err = _verdicts(doc)
    assert seed_err == snap_err, what


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(s.estates(), s.estates(shape_garbage=False)))
def test_fuzzed_estates_get_the_same_verdict(doc: dict[str, Any]) -> None:
    seed_err, snap_err = _verdicts(doc)
    assert (seed_err is None) == (snap_err is None), (seed_err, snap_err)
    assert seed_err == snap_err
    if seed_err is None:  # and what both accept, the emulator can serve
        from emulator.state import Estate

        Estate(load_seed(copy.deepcopy(doc))).snapshot()
