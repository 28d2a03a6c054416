"""Audit records from Event Hubs: every record gets a decision, nothing raises, attribution stays clean."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from core.events.audit import route_audit_batch
from emulator.audit import make_audit_record
from tests.fuzz import strategies as s

json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=30),
                           lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=10), kids,
                                                                                    max_size=4), max_leaves=12)
ACTIONS = [("workspace", "workspaceConfEdit"), ("accounts", "createIpAccessList"), ("accounts", "generateDbToken"),
           ("secrets", "putAcl"), ("secrets", "getSecret"), ("notebook", "runCommand"), ("accounts", "listThings")]


@st.composite
def records(draw: st.DrawFn) -> Any:
    service, action = draw(st.sampled_from(ACTIONS))
    rec = make_audit_record(draw(s.arm_ids()), service, action, user=draw(st.text(max_size=40)),
                            source_ip=draw(st.none() | st.text(max_size=20) | st.sampled_from(["1.2.3.4:0", "::1"])),
                            status_code=draw(st.sampled_from([200, 204, 400, 403, 500])),
                            string_encoded=draw(st.booleans()))
    for key in draw(st.lists(st.sampled_from(["identity", "properties", "resourceId", "time"]), max_size=2)):
        rec[key] = draw(json_values)
    for key in draw(st.lists(st.sampled_from(["serviceName", "actionName", "requestParams", "response",
                                              "sourceIPAddress"]), max_size=2)):
        if isinstance(rec.get("properties"), dict):
            rec["properties"][key] = draw(json_values)
    return draw(st.just(rec) | json_values)


@settings(max_examples=150, deadline=None)
@given(st.lists(records(), max_size=6), st.sampled_from(["bytes", "str", "garbage"]))
def test_every_record_gets_a_decision_and_nothing_raises(batch: list[Any], form: str) -> None:
    doc = json.dumps({"records": batch})
    body: Any = doc.encode() if form == "bytes" else doc if form == "str" else doc.encode()[: len(doc) // 2]
    out = route_audit_batch([body])
    if form == "garbage":
        assert [d.action for d in out.decisions] == ["reject"]
        return
    assert len(out.decisions) == len(batch) == out.counts["records"]
    for d in out.decisions:
        assert d.action in ("scan", "ignore", "reject") and d.reason
        if d.action == "scan":
            assert d.families and len(d.workspaces) == 1 and d.attribution is not None
            for value in d.attribution.fields().values():
                assert value is None or (value.isprintable() and len(value) <= 256)
        if d.action == "reject":
            assert d.workspaces == [] and "record[" in d.reason
