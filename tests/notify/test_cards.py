"""Adaptive Card digests: envelope, grouping, order, rendering, and the 28 KB limit."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.notify import MAX_CARD_BYTES, build_digest, build_digests, serialize_card, severity_filter
from core.notify.cards import portal_url, strip_url_secrets
from tests.notify.conftest import NSG, SUB, WS_A, WS_B, finding, transition


def content(card: dict[str, Any]) -> dict[str, Any]:
    return card["attachments"][0]["content"]


def containers(card: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in content(card)["body"] if b["type"] == "Container"]


def texts(block: dict[str, Any]) -> list[str]:
    """Every text a block renders (TextBlocks and FactSet values), depth first."""
    out: list[str] = []
    if block.get("type") == "TextBlock":
        out.append(block["text"])
    for fact in block.get("facts", []):
        out.extend((fact["title"], fact["value"]))
    for item in block.get("items", []):
        out.extend(texts(item))
    return out


def headline(block: dict[str, Any]) -> str:
    return block["items"][0]["text"]


def more_line(card: dict[str, Any]) -> str | None:
    last = content(card)["body"][-1]
    return last["text"] if last["type"] == "TextBlock" and last["text"].startswith("…and ") else None


def test_envelope_is_an_adaptive_card_1_5_workflows_message() -> None:
    card = build_digest(WS_A, "dbx-prod-a", [transition("opened", finding())])
    assert card["type"] == "message"
    assert len(card["attachments"]) == 1
    att = card["attachments"][0]
    assert att["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert att["contentUrl"] is None
    c = att["content"]
    assert c["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert c["type"] == "AdaptiveCard"
    assert c["version"] == "1.5"
    assert c["msteams"] == {"width": "Full"}
    assert c["body"] and isinstance(c["actions"], list)
    # JSON round trip with the exact wire encoding
    assert json.loads(serialize_card(card)) == card


def test_header_names_workspace_subscription_counts_and_highest_severity() -> None:
    ts = [
        transition("opened", finding(rule_id="DBX-WS-009", severity="low")),
        transition("opened", finding(rule_id="DBX-WS-004", severity="medium")),
        transition("resolved", finding(rule_id="DBX-WS-002", severity="critical", status="resolved")),
    ]
    body = content(build_digest(WS_A, "dbx-prod-a", ts))["body"]
    header = [b["text"] for b in body[:4]]
    assert "dbx-prod-a" in header[0]
    assert SUB in header[1]
    assert header[2] == "2 opened / 1 resolved"
    # the resolved critical does not colour the card: what still needs action does
    assert body[3]["text"] == "Highest severity: MEDIUM" and body[3]["color"] == "warning"


@pytest.mark.parametrize(
    ("severity", "color"), [("critical", "attention"), ("high", "attention"), ("medium", "warning")]
)
def test_severity_colour(severity: str, color: str) -> None:
    body = content(build_digest(WS_A, "a", [transition("opened", finding(severity=severity))]))["body"]
    assert body[3]["color"] == color
    assert containers(build_digest(WS_A, "a", [transition("opened", finding(severity=severity))]))[0]["items"][0][
        "color"
    ] == color


def test_all_resolved_digest_is_good_news() -> None:
    body = content(build_digest(WS_A, "a", [transition("resolved", finding(status="resolved"))]))["body"]
    assert body[3]["color"] == "good" and "resolved" in body[3]["text"].lower()


def test_order_most_severe_first_and_open_before_resolved() -> None:
    ts = [
        transition("resolved", finding(rule_id="DBX-WS-002", severity="critical", status="resolved")),
        transition("opened", finding(rule_id="DBX-WS-009", severity="low")),
        transition("exempted", finding(rule_id="DBX-WS-004", severity="medium", status="exempted",
                                       exemption={"reason": "r", "expires": "2027-03-31"})),
        transition("reopened", finding(rule_id="DBX-NET-005", severity="critical", subject="allow-ssh")),
        transition("opened", finding(rule_id="DBX-WS-001", severity="high")),
    ]
    order = [headline(b).split(" · ")[1] for b in containers(build_digest(WS_A, "a", ts))]
    assert order == ["DBX-NET-005", "DBX-WS-001", "DBX-WS-009", "DBX-WS-004", "DBX-WS-002"]


def test_finding_block_shows_rule_subject_status_expected_actual_remediation_and_times() -> None:
    doc = finding(rule_id="DBX-NET-005", severity="critical", subject="allow-ssh-from-internet",
                  expected={"sourceAddressPrefix": "not Internet"}, actual=["0.0.0.0/0", "Internet"])
    block = containers(build_digest(WS_A, "a", [transition("reopened", doc)]))[0]
    shown = texts(block)
    assert headline(block) == "CRITICAL · DBX-NET-005 · Title of DBX-NET-005"
    assert any(t.startswith("REOPENED") for t in shown)
    facts = {f["title"]: f["value"] for f in block["items"][2]["facts"]}
    assert facts["Subject"] == "allow-ssh-from-internet"
    assert facts["Expected"] == '{"sourceAddressPrefix":"not Internet"}'
    assert facts["Actual"] == '["0.0.0.0/0","Internet"]'
    assert facts["First seen"] == "2026-11-01 08:00 UTC"
    assert facts["Last seen"] == "2026-11-26 12:00 UTC"
    remediation = [b for b in block["items"] if b.get("text", "").startswith("Remediation:")]
    assert remediation and remediation[0]["wrap"] is True


def test_exemption_shows_reason_expiry_and_approver() -> None:
    doc = finding(rule_id="DBX-NET-005", severity="critical", status="exempted", subject="allow-vendor-ssh",
                  exemption={"rule": "DBX-NET-005", "reason": "vendor access until migration",
                             "expires": "2027-03-31", "approved_by": "security-team", "expired": False})
    shown = texts(containers(build_digest(WS_A, "a", [transition("exempted", doc)]))[0])
    line = next(t for t in shown if t.startswith("EXEMPTED"))
    assert "vendor access until migration" in line and "2027-03-31" in line and "security-team" in line


def test_resolved_notice_is_marked_and_drops_remediation() -> None:
    block = containers(build_digest(WS_A, "a", [transition("resolved", finding(status="resolved"))]))[0]
    shown = texts(block)
    assert any("RESOLVED" in t for t in shown)
    assert block["items"][0]["color"] == "good"
    assert not any(t.startswith("Remediation:") for t in shown)


def test_long_values_are_truncated_and_urls_lose_their_query() -> None:
    doc = finding(actual="x" * 5000, remediation="r" * 5000,
                  message="see https://acct.blob.core.windows.net/c/b?sv=2024&sig=abcdef#frag and [click](https://evil.example/)")
    block = containers(build_digest(WS_A, "a", [transition("opened", doc)]))[0]
    facts = {f["title"]: f["value"] for f in block["items"][2]["facts"]}
    assert len(facts["Actual"]) <= 240 and facts["Actual"].endswith("…")
    remediation = next(t for t in texts(block) if t.startswith("Remediation:"))
    assert len(remediation) < 700
    rendered = json.dumps(block)
    assert "sig=" not in rendered and "sv=2024" not in rendered and "#frag" not in rendered
    assert "https://acct.blob.core.windows.net/c/b" in rendered
    assert "](" not in rendered  # markdown link defused


def test_strip_url_secrets() -> None:
    assert strip_url_secrets("a https://h/p?sig=1 b http://x/y#z c") == "a https://h/p b http://x/y c"
    assert strip_url_secrets("no url ?q=1") == "no url ?q=1"


def test_actions_open_the_workspace_and_related_resources_in_the_portal() -> None:
    ts = [
        transition("opened", finding(rule_id="DBX-NET-005", severity="critical", subject="r1", related_resource_id=NSG)),
        transition("opened", finding(rule_id="DBX-NET-005", severity="critical", subject="r2",
                                     related_resource_id=NSG.upper())),
        transition("opened", finding(rule_id="DBX-WS-001", related_resource_id="not-an-arm-id")),
    ]
    actions = content(build_digest(WS_A, "a", ts))["actions"]
    assert actions[0] == {"type": "Action.OpenUrl", "title": "Open workspace in Azure portal",
                          "url": f"https://portal.azure.com/#@/resource{WS_A}/overview"}
    assert [a["url"] for a in actions[1:]] == [f"https://portal.azure.com/#@/resource{NSG}/overview"]
    assert all(a["type"] == "Action.OpenUrl" for a in actions)


def test_at_most_six_actions() -> None:
    ts = [transition("opened", finding(subject=str(i), related_resource_id=f"{NSG}-{i}")) for i in range(10)]
    assert len(content(build_digest(WS_A, "a", ts))["actions"]) == 6


def test_portal_url_drops_query() -> None:
    assert portal_url(f"{WS_A}?x=1") == f"https://portal.azure.com/#@/resource{WS_A}/overview"
    assert portal_url("https://evil.example/") is None


def test_build_digests_groups_by_workspace_case_insensitively() -> None:
    ts = [
        transition("opened", finding(WS_A, "DBX-WS-001")),
        transition("opened", finding(WS_B, "DBX-WS-001")),
        transition("resolved", finding(WS_A.upper(), "DBX-WS-003", status="resolved")),
    ]
    cards = build_digests(ts)
    assert len(cards) == 2
    assert "dbx-prod-a" in content(cards[0])["body"][0]["text"]
    assert len(containers(cards[0])) == 2
    assert "dbx-prod-b" in content(cards[1])["body"][0]["text"]
    assert len(containers(cards[1])) == 1


def big_findings(n: int) -> list[dict[str, Any]]:
    sev = ["critical", "high", "medium", "low", "info"]
    return [
        transition("opened" if i % 3 else "resolved",
                   finding(rule_id=f"DBX-NET-{i % 7:03d}", severity=sev[i % 5], subject=f"rule-{i}",
                           status="open" if i % 3 else "resolved",
                           title="T" * 400, message="M" * 2000, remediation="R" * 4000,
                           expected={"allow": [f"10.{i % 255}.0.0/16"] * 50}, actual="A" * 3000))
        for i in range(n)
    ]


def test_300_large_findings_fit_in_28kb_with_and_n_more() -> None:
    card = build_digest(WS_A, "dbx-prod-a", big_findings(300))
    data = serialize_card(card)
    assert len(data) <= MAX_CARD_BYTES
    assert json.loads(data) == card
    shown = containers(card)
    line = more_line(card)
    assert shown and line is not None
    hidden = int(line.split()[1])
    assert len(shown) + hidden == 300
    assert "driftwatch findings list --workspace dbx-prod-a" in line
    # kept the most important: everything shown is critical and needs action
    assert all(headline(b).startswith("CRITICAL") for b in shown)


def test_everything_fits_without_a_more_line() -> None:
    card = build_digest(WS_A, "a", [transition("opened", finding(subject=str(i))) for i in range(5)])
    assert more_line(card) is None and len(containers(card)) == 5


def test_tiny_limit_is_an_error_not_a_broken_card() -> None:
    with pytest.raises(ValueError, match="too small"):
        build_digest(WS_A, "a", [transition("opened", finding())], max_bytes=200)


def test_lone_surrogates_still_encode() -> None:
    card = build_digest(WS_A, "a", [transition("opened", finding(title="bad \ud800 text", message="\udfff"))])
    assert json.loads(serialize_card(card))


def test_invalid_messages_are_rejected() -> None:
    with pytest.raises(ValueError, match="schema"):
        build_digest(WS_A, "a", [{"schema": "x", "transition": "opened", "finding": finding()}])
    with pytest.raises(ValueError, match="transition must be"):
        build_digest(WS_A, "a", [transition("closed", finding())])
    with pytest.raises(ValueError, match="severity"):
        build_digest(WS_A, "a", [transition("opened", finding(severity="urgent"))])


def test_severity_filter_keeps_resolved_notices_of_kept_severities() -> None:
    ts = [
        transition("opened", finding(rule_id="A", severity="critical")),
        transition("resolved", finding(rule_id="B", severity="high", status="resolved")),
        transition("opened", finding(rule_id="C", severity="medium")),
        transition("resolved", finding(rule_id="D", severity="low", status="resolved")),
    ]
    assert [t["finding"]["rule_id"] for t in severity_filter(ts, "high")] == ["A", "B"]
    assert len(severity_filter(ts, "INFO")) == 4
    with pytest.raises(ValueError):
        severity_filter(ts, "urgent")


texts_st = st.text(min_size=0, max_size=3000)
json_value_st = st.one_of(st.none(), st.booleans(), st.integers(), texts_st,
                          st.lists(st.text(max_size=200), max_size=30),
                          st.dictionaries(st.text(max_size=20), st.text(max_size=200), max_size=10))


@st.composite
def random_transitions(draw: st.DrawFn) -> list[dict[str, Any]]:
    n = draw(st.integers(min_value=1, max_value=60))
    out = []
    for i in range(n):
        kind = draw(st.sampled_from(["opened", "resolved", "reopened", "exempted"]))
        doc = finding(
            rule_id=f"DBX-WS-{i:03d}",
            severity=draw(st.sampled_from(["critical", "high", "medium", "low", "info"])),
            subject=draw(st.one_of(st.none(), texts_st)),
            status={"resolved": "resolved", "exempted": "exempted"}.get(kind, "open"),
            title=draw(texts_st), message=draw(texts_st), remediation=draw(texts_st),
            expected=draw(json_value_st), actual=draw(json_value_st),
            exemption={"reason": draw(texts_st), "expires": "2027-01-01"} if kind == "exempted" else None,
        )
        out.append(transition(kind, doc))
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(ts=random_transitions(), max_bytes=st.integers(min_value=8_000, max_value=MAX_CARD_BYTES),
       name=st.text(min_size=1, max_size=300))
def test_property_digest_is_valid_json_within_limit_and_accounts_for_every_finding(
    ts: list[dict[str, Any]], max_bytes: int, name: str
) -> None:
    card = build_digest(WS_A, name, ts, max_bytes=max_bytes)
    data = serialize_card(card)
    assert len(data) <= max_bytes
    assert json.loads(data.decode("utf-8")) == card
    shown = len(containers(card))
    line = more_line(card)
    hidden = int(line.split()[1]) if line else 0
    assert shown + hidden == len(ts)
    if max_bytes >= 16_000:  # a block is bounded (~14 KB even if every character needs \u escaping)
        assert shown >= 1


def test_the_card_says_who_made_the_change_and_from_where() -> None:
    """Issue 17: a finding opened by an event carries changed_by/changed_from; the card says it in words."""
    opened = finding(rule_id="DBX-IPACL-001", changed_by="jane@contoso.com", changed_from="203.0.113.9",
                     change_event_id="5f0d3c1e", change_summary="disabled IP access lists")
    plain = finding(rule_id="DBX-WS-001")
    card = build_digest(WS_A, "ws-a", [transition("opened", opened), transition("opened", plain)])
    text = json.dumps(card)
    assert text.count("opened after jane@contoso.com disabled IP access lists from 203.0.113.9") == 1
    fixed = dict(opened, status="resolved", resolved_at="2026-11-26T12:00:00Z", changed_by="sec@contoso.com",
                 change_summary="enabled IP access lists", changed_from=None)
    card = build_digest(WS_A, "ws-a", [transition("resolved", fixed)])
    assert "resolved after sec@contoso.com enabled IP access lists" in json.dumps(card)
    hostile = finding(rule_id="DBX-IPACL-001", changed_by="[click](https://evil.example/?sig=abc)\n**x**",
                      change_summary="disabled IP access lists")
    text = json.dumps(build_digest(WS_A, "ws-a", [transition("opened", hostile)]))
    assert "](https" not in text and "sig=abc" not in text
