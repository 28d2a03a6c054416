"""Adaptive Card digests: banner, compact lines, grouping, order, details, not-shown line, actions,
legibility and the size limit. Every card built here is also validated by Microsoft's SDK and the 1.5
schema (tests/card_check.py, installed from tests/conftest.py)."""

from __future__ import annotations

import ipaddress
import json
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.notify import MAX_CARD_BYTES, Standing, build_digest, build_digests, serialize_card, severity_filter
from core.notify.cards import SEVERITY_COLOR, portal_url, subject_key
from core.notify.text import inert, readable, strip_url_secrets
from tests.support.card_estates import LARGE_ID, LARGE_NAME, large_findings, transitions
from tests.support.cards import NSG, SUB, WS_A, WS_B, finding, transition
from tests.support.chromium import host_config

API = "https://func-driftwatch.azurewebsites.net/api"
WIRE_LIMIT = 28_672


def content(card: dict[str, Any]) -> dict[str, Any]:
    return card["attachments"][0]["content"]


def walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from walk(v)


def text_of(element: dict[str, Any]) -> str:
    if element.get("type") == "TextBlock":
        return str(element["text"])
    return "".join(i["text"] for i in element.get("inlines", []))


def banner(card: dict[str, Any]) -> dict[str, Any]:
    return content(card)["body"][2]


def lines(card: dict[str, Any]) -> list[str]:
    """The one-line-per-finding/rule texts, in card order."""
    return [text_of(b["items"][0]) for b in content(card)["body"]
            if b.get("type") == "Container" and b["items"] and b["items"][0].get("type") == "RichTextBlock"
            and not b.get("id") and not text_of(b["items"][0]).startswith("Not shown")]


def details(card: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in content(card)["body"] if b.get("type") == "Container" and b.get("id")]


def not_shown(card: dict[str, Any]) -> str | None:
    for b in content(card)["body"]:
        if b.get("type") == "Container" and b["items"] and text_of(b["items"][0]).startswith("Not shown"):
            return text_of(b["items"][0])
    return None


def count_in_line(line: str) -> int:
    m = re.search(r" · (\d+) \u00d7 ", line)
    return int(m.group(1)) if m else 1


@pytest.fixture(scope="module")
def large() -> list[dict[str, Any]]:
    return transitions(large_findings())


def standing_of(ts: list[dict[str, Any]]) -> Standing:
    return Standing(dict(Counter(t["finding"]["severity"] for t in ts if t["transition"] != "resolved")))


# ---- envelope -------------------------------------------------------------------------------------
def test_envelope_is_an_adaptive_card_1_5_workflows_message() -> None:
    card = build_digest(WS_A, "dbx-prod-a", [transition("opened", finding())], standing=Standing({"high": 1}))
    assert card["type"] == "message" and len(card["attachments"]) == 1
    att = card["attachments"][0]
    assert att["contentType"] == "application/vnd.microsoft.card.adaptive" and att["contentUrl"] is None
    c = att["content"]
    assert (c["$schema"], c["type"], c["version"], c["msteams"]) == (
        "http://adaptivecards.io/schemas/adaptive-card.json", "AdaptiveCard", "1.5", {"width": "Full"})
    assert json.loads(serialize_card(card)) == card


# ---- banner: the standing after the change --------------------------------------------------------
def test_resolved_card_states_what_is_still_open() -> None:
    """Issue 15: 5 token findings resolved while 144 stay open must not say "all resolved"."""
    tokens = [transition("resolved", finding(rule_id="DBX-TOKEN-002", subject=f"tok{i}", status="resolved"))
              for i in range(5)]
    card = build_digest(WS_A, "a", tokens, standing=Standing({"critical": 2, "high": 20, "medium": 122}))
    text = text_of(banner(card)["items"][0])
    assert text == "5 resolved · 144 still open (2 critical, 20 high, 122 medium)"
    assert banner(card)["style"] == "attention"
    assert "All reported" not in json.dumps(card)


def test_a_resolve_without_a_fix_says_why() -> None:
    """A finding resolved because its rule stopped applying must not read as "fixed"."""
    why = "not applicable: computeMode Serverless has no classic compute plane"
    t = transition("resolved", finding(rule_id="DBX-NET-001", status="resolved")) | {"reason": why}
    card = build_digest(WS_A, "a", [t], standing=Standing({}))
    assert f"Resolved as {why}." in json.dumps(card)
    plain = build_digest(WS_A, "a", [transition("resolved", finding(status="resolved"))], standing=Standing({}))
    assert "Resolved as" not in json.dumps(plain)
    with pytest.raises(ValueError, match="reason must be a string"):
        build_digest(WS_A, "a", [t | {"reason": 7}], standing=Standing({}))


def test_banner_when_nothing_is_open_and_when_the_store_was_not_read() -> None:
    done = build_digest(WS_A, "a", [transition("resolved", finding(status="resolved"))], standing=Standing({}))
    assert text_of(banner(done)["items"][0]) == "1 resolved · nothing is open any more"
    assert banner(done)["style"] == "good"
    unknown = build_digest(WS_A, "a", [transition("opened", finding())])
    assert "unknown" in text_of(banner(unknown)["items"][0])
    mixed = build_digest(WS_A, "a", [transition("opened", finding(severity="medium")),
                                     transition("reopened", finding(rule_id="DBX-WS-003", severity="low"))],
                         standing=Standing({"medium": 4, "low": 1}, exempted=2))
    assert text_of(banner(mixed)["items"][0]) == \
        "1 opened · 1 reopened · 5 still open (4 medium, 1 low) · 2 exempted"
    assert banner(mixed)["style"] == "emphasis"


# ---- compact digest -------------------------------------------------------------------------------
def test_149_finding_digest_is_one_line_per_rule_and_accounts_for_every_finding(large: list[dict[str, Any]]) -> None:
    assert len(large) == 149
    card = build_digest(LARGE_ID, LARGE_NAME, large, standing=standing_of(large), api_url=API)
    assert len(serialize_card(card)) <= MAX_CARD_BYTES
    shown = lines(card)
    rules = Counter(t["finding"]["rule_id"] for t in large)
    assert len(shown) <= len(rules)
    hidden = not_shown(card)
    hidden_total = int(re.match(r"Not shown: (\d+)", hidden).group(1)) if hidden else 0  # type: ignore[union-attr]
    assert sum(count_in_line(x) for x in shown) + hidden_total == 149
    # every line starts with the severity mark and word; the IPACL line groups its 104 CIDR findings
    assert all(re.match(r"^[◆▲■●○] (CRITICAL|HIGH|MEDIUM|LOW|INFO) · DBX-", x) for x in shown)
    cidr_line = next(x for x in shown if "DBX-IPACL-002" in x)
    assert "· 104 \u00d7 0.0.0.0/0, 100.64.1.0/24, 100.64.2.0/24, 100.64.3.0/24" in cidr_line
    assert "+" in cidr_line and "more" in cidr_line
    token_line = next(x for x in shown if "DBX-TOKEN-002" in x)
    assert "25 \u00d7 " in token_line
    # most severe first
    order = [re.match(r"^. (\w+)", x).group(1).lower() for x in shown]  # type: ignore[union-attr]
    ranks = [["critical", "high", "medium", "low", "info"].index(s) for s in order]
    assert ranks == sorted(ranks)


def test_details_and_remediation_once_per_rule_collapsed_behind_the_line(large: list[dict[str, Any]]) -> None:
    card = build_digest(LARGE_ID, LARGE_NAME, large, standing=standing_of(large))
    body = content(card)["body"]
    blocks = details(card)
    assert blocks, "the first rules have details"
    for d in blocks:
        assert d["isVisible"] is False
        owner = body[body.index(d) - 1]
        assert owner["selectAction"] == {"type": "Action.ToggleVisibility", "title": "Show or hide details",
                                         "targetElements": [d["id"]]}
        remediation = [text_of(x) for x in d["items"] if text_of(x).startswith("What to do: ")]
        assert len(remediation) == 1
    rendered = json.dumps(card, ensure_ascii=False)
    ipacl_remediation = large[0]["finding"]["remediation"] if large[0]["finding"]["rule_id"] == "DBX-IPACL-002" \
        else next(t["finding"]["remediation"] for t in large if t["finding"]["rule_id"] == "DBX-IPACL-002")
    assert rendered.count(ipacl_remediation[:60]) == 1  # once, not 104 times
    ids = [d["id"] for d in blocks]
    assert len(ids) == len(set(ids))


def test_small_rule_groups_list_each_finding_with_its_link() -> None:
    ts = [transition("opened", finding(rule_id="DBX-NET-005", severity="critical", subject=f"allow-{i}",
                                       related_resource_id=f"{NSG}/securityRules/allow-{i}")) for i in range(2)]
    card = build_digest(WS_A, "a", ts, standing=Standing({"critical": 2}), api_url=API)
    [d] = details(card)
    per_finding = [x for x in d["items"] if text_of(x).startswith("• ")]
    assert [text_of(x).split(":")[0] for x in per_finding] == ["• allow-0", "• allow-1"]
    links = [i["selectAction"]["url"] for x in per_finding for i in x["inlines"] if "selectAction" in i]
    assert links == [f"{API}/findings/{t['finding']['id']}" for t in ts]


def test_not_shown_line_names_hidden_counts_by_severity_and_rule(large: list[dict[str, Any]]) -> None:
    card = build_digest(LARGE_ID, LARGE_NAME, large, standing=standing_of(large), max_bytes=7000)
    assert len(serialize_card(card)) <= 7000
    line = not_shown(card)
    assert line is not None
    shown_rules = {re.search(r"DBX-[A-Z]+-\d{3}", x).group(0) for x in lines(card)}  # type: ignore[union-attr]
    hidden = Counter(t["finding"]["rule_id"] for t in large if t["finding"]["rule_id"] not in shown_rules)
    total = sum(hidden.values())
    assert line.startswith(f"Not shown: {total} findings — ")
    for rule, n in hidden.items():
        assert f"{rule} \u00d7{n}" in line
    hidden_sev = Counter(t["finding"]["severity"] for t in large if t["finding"]["rule_id"] not in shown_rules)
    for sev, n in hidden_sev.items():
        assert f"{n} {sev} (" in line
    assert f"driftwatch findings list --workspace {LARGE_NAME}" in line


def test_everything_fits_without_a_not_shown_line() -> None:
    card = build_digest(WS_A, "a", [transition("opened", finding(subject=str(i))) for i in range(5)])
    assert not_shown(card) is None
    assert lines(card) == ["▲ HIGH · DBX-WS-001 · 5 \u00d7 0, 1, 2, 3, 4  ▸ details"]


def test_sections_needs_action_then_exempted_then_resolved() -> None:
    ts = [
        transition("resolved", finding(rule_id="DBX-WS-002", severity="critical", status="resolved")),
        transition("opened", finding(rule_id="DBX-WS-009", severity="low")),
        transition("exempted", finding(rule_id="DBX-WS-004", severity="medium", status="exempted",
                                       exemption={"reason": "r", "expires": "2027-03-31"})),
        transition("reopened", finding(rule_id="DBX-NET-005", severity="critical", subject="allow-ssh")),
        transition("opened", finding(rule_id="DBX-WS-001", severity="high")),
    ]
    body = content(build_digest(WS_A, "a", ts, standing=Standing({"critical": 1, "high": 1, "low": 1})))["body"]
    headings = [b["text"] for b in body if b.get("type") == "TextBlock"]
    assert headings == ["Needs action · 3", "Exempted · 1", "Resolved: no action needed · 1"]
    rules = [re.search(r"DBX-[A-Z]+-\d{3}", x).group(0) for x in lines({"attachments": [{"content": {"body": body}}]})]  # type: ignore[union-attr]
    assert rules == ["DBX-NET-005", "DBX-WS-001", "DBX-WS-009", "DBX-WS-004", "DBX-WS-002"]


# ---- order ----------------------------------------------------------------------------------------
def test_subjects_sort_numerically_ipv4_then_ipv6_then_text() -> None:
    subjects = ["100.64.10.0/24", "b-rule", "2001:db8::/32", "100.64.2.0/24", "10.0.0.0/8", "A-rule",
                "100.64.2.0/23", "192.0.2.7"]
    assert sorted(subjects, key=subject_key) == ["10.0.0.0/8", "100.64.2.0/23", "100.64.2.0/24", "100.64.10.0/24",
                                                 "192.0.2.7", "2001:db8::/32", "A-rule", "b-rule"]


@given(st.lists(st.tuples(st.integers(0, 2**32 - 1), st.integers(8, 32)), min_size=2, max_size=12, unique=True))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_cidr_subjects_in_a_line_follow_ipaddress_order(nets: list[tuple[int, int]]) -> None:
    cidrs = sorted({str(ipaddress.ip_network((a, p), strict=False)) for a, p in nets})
    ts = [transition("opened", finding(rule_id="DBX-IPACL-002", subject=c)) for c in reversed(cidrs)]
    [line] = lines(build_digest(WS_A, "a", ts, standing=Standing({"high": len(ts)})))
    listed = line.split(" \u00d7 ", 1)[1] if len(ts) > 1 else line.rsplit(" · ", 1)[1]
    listed = listed.split("  ▸")[0].split(", … +")[0]
    got = [x.strip() for x in listed.split(", ")]
    want = sorted(cidrs, key=lambda c: ipaddress.ip_network(c))
    assert got == want[: len(got)]


# ---- estate text stays inert ----------------------------------------------------------------------
SENTINEL = "ZQX-estate-ZQX"


def test_estate_text_only_ever_lands_in_text_runs() -> None:
    """TextRuns are never Markdown-processed; TextBlocks, facts and action titles carry only our words."""
    doc = finding(rule_id="DBX-NET-005", severity="critical", subject=f"{SENTINEL} subject",
                  title=f"{SENTINEL} title", message=f"{SENTINEL} message", remediation=f"{SENTINEL} fix",
                  expected=f"{SENTINEL} e", actual={"v": f"{SENTINEL} a"},
                  related_resource_id=f"{NSG}/securityRules/{SENTINEL}", workspace_name=f"{SENTINEL} ws")
    ex = dict(doc, subject=f"{SENTINEL} other", status="exempted",
              exemption={"reason": f"{SENTINEL} r", "expires": "2027-01-01", "approved_by": f"{SENTINEL} b"})
    for ts in ([transition("opened", doc)], [transition("opened", doc), transition("exempted", ex)]):
        card = build_digest(WS_A, f"{SENTINEL} ws", ts, standing=Standing({"critical": 1}), api_url=API)
        runs = [n["text"] for n in walk(content(card)) if n.get("type") == "TextRun"]
        assert sum(SENTINEL in r for r in runs) >= 6
        for n in walk(content(card)):
            if n.get("type") == "TextBlock":
                assert SENTINEL not in n["text"]
            if n.get("type", "").startswith("Action."):
                assert SENTINEL not in n.get("title", "")
            assert "facts" not in n


@pytest.mark.parametrize(("raw", "shown"), [
    ("[Open the runbook][rb]\n\n[rb]: http://evil.example/rb", "[Open the runbook][rb] ⏎ [rb]: http://evil.example/rb"),
    ("<http://evil.example/x>", "<http://evil.example/x>"),
    ("**bold** _it_ # heading", "**bold** _it_ # heading"),
    ("- item\n1. first", "- item ⏎ 1. first"),
    ("line1\r\nline2\u2028line3", "line1 ⏎ line2 ⏎ line3"),
    ("see https://acct.blob.core.windows.net/c/b?sv=2024&sig=abcdef#frag", "see https://acct.blob.core.windows.net/c/b"),
    ("{{DATE(2026-01-01T00:00:00Z, SHORT)}}", "{{DATE(2026-01-01T00:00:00Z, SHORT)}}"),
    ("rtl \u202eevil\u202c zero\u200bwidth", "rtl evil zerowidth"),
    ("bad \ud800 text", "bad \ufffd text"),
])
def test_inert_keeps_the_literal_characters(raw: str, shown: str) -> None:
    out = inert(raw, 500)
    assert readable(out) == shown
    assert "\n" not in out and "\r" not in out
    assert "http://" not in out and "https://" not in out  # a word joiner after the scheme
    assert "{{" not in out


def test_inert_truncates() -> None:
    assert inert("x" * 50, 10) == "x" * 9 + "…"


def test_strip_url_secrets() -> None:
    assert strip_url_secrets("a https://h/p?sig=1 b http://x/y#z c") == "a https://h/p b http://x/y c"
    assert strip_url_secrets("no url ?q=1") == "no url ?q=1"


# ---- actions --------------------------------------------------------------------------------------
def action_titles(card: dict[str, Any]) -> list[str]:
    return [a["title"] for a in content(card).get("actions", [])]


def test_resolved_card_links_nothing_that_may_be_gone() -> None:
    """A rule deleted from the NSG resolves its finding: no button may point at it."""
    rule = f"{NSG}/securityRules/allow-vendor-ssh-from-anywhere-temporary"
    done = [transition("resolved", finding(rule_id="DBX-NET-005", severity="critical", subject="allow-vendor",
                                           status="resolved", related_resource_id=rule))]
    card = build_digest(WS_A, "a", done, standing=Standing({}))
    assert action_titles(card) == []
    still_open = build_digest(WS_A, "a", done, standing=Standing({"high": 3}), api_url=API)
    assert action_titles(still_open) == ["Open workspace", "Open finding"]
    assert content(still_open)["actions"][1]["url"] == f"{API}/findings/{done[0]['finding']['id']}"


def test_actions_have_short_titles_and_group_rules_of_one_nsg() -> None:
    one = [transition("opened", finding(rule_id="DBX-NET-005", severity="critical", subject="allow-vendor-ssh-x",
                                        related_resource_id=f"{NSG}/securityRules/allow-vendor-ssh-x"))]
    card = build_digest(WS_A, "a", one, standing=Standing({"critical": 1}))
    assert action_titles(card) == ["Open workspace", "Open NSG rule"]
    assert content(card)["actions"][1]["url"] == portal_url(f"{NSG}/securityRules/allow-vendor-ssh-x")
    two = [*one, transition("opened", finding(rule_id="DBX-NET-005", severity="critical", subject="r2",
                                              related_resource_id=f"{NSG}/securityRules/r2"))]
    card = build_digest(WS_A, "a", two, standing=Standing({"critical": 2}), api_url=API)
    assert action_titles(card) == ["Open workspace", "Open findings", "Open NSG"]
    assert content(card)["actions"][2]["url"] == portal_url(NSG)
    assert content(card)["actions"][1]["url"] == f"{API}/findings?workspace={WS_A}"
    many = [transition("opened", finding(subject=str(i), related_resource_id=f"{NSG}-{i}")) for i in range(10)]
    titles = action_titles(build_digest(WS_A, "a", many, standing=Standing({"high": 10})))
    assert len(titles) == 5 and all(len(t) <= 16 for t in titles)
    assert titles[1:3] == ["Open NSG", "Open NSG 2"]


def test_portal_url_drops_query_and_refuses_non_arm_ids() -> None:
    assert portal_url(f"{WS_A}?x=1") == f"https://portal.azure.com/#@/resource{WS_A}/overview"
    assert portal_url("https://evil.example/") is None
    assert portal_url("/subscriptions/x/evil name") is None


# ---- legibility -----------------------------------------------------------------------------------
def _rgb(color: str) -> tuple[float, float, float, float]:
    v = color.lstrip("#")
    a = int(v[:2], 16) / 255 if len(v) == 8 else 1.0
    v = v[-6:]
    return int(v[0:2], 16) / 255, int(v[2:4], 16) / 255, int(v[4:6], 16) / 255, a


def _luminance(c: tuple[float, float, float]) -> float:
    def lin(x: float) -> float:
        return x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4
    return 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2])


def contrast(fg: str, bg: str) -> float:
    """WCAG 2 contrast ratio; an #AARRGGBB foreground is blended over the background first."""
    fr, fgc, fb, fa = _rgb(fg)
    br, bgc, bb, _ = _rgb(bg)
    blended = (fr * fa + br * (1 - fa), fgc * fa + bgc * (1 - fa), fb * fa + bb * (1 - fa))
    hi, lo = sorted((_luminance(blended), _luminance((br, bgc, bb))), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _texts_with_style(node: Any, style: str = "default") -> Iterator[tuple[dict[str, Any], str]]:
    if isinstance(node, dict):
        style = node.get("style", style) if node.get("type") in ("Container", "Column") else style
        if node.get("type") in ("TextRun", "TextBlock"):
            yield node, style
        for v in node.values():
            yield from _texts_with_style(v, style)
    elif isinstance(node, list):
        for v in node:
            yield from _texts_with_style(v, style)


@pytest.mark.parametrize("host", ["microsoft-teams-light", "microsoft-teams-dark"])
def test_every_text_is_legible_in_teams_light_and_dark(large: list[dict[str, Any]], host: str) -> None:
    """Text >= 4.5:1 against its container (WCAG AA); the severity shapes >= 3:1 (non-text contrast)."""
    hc = host_config(host)
    ex = [transition("exempted", finding(rule_id="DBX-WS-004", severity="medium", status="exempted",
                                         exemption={"reason": "r", "expires": "2027-03-31"}))]
    done = [transition("resolved", finding(status="resolved"))]
    cards = [build_digest(LARGE_ID, LARGE_NAME, large, standing=standing_of(large), api_url=API),
             build_digest(WS_A, "a", ex, standing=Standing({})), build_digest(WS_A, "a", done, standing=Standing({})),
             build_digest(WS_A, "a", done, standing=Standing({"medium": 1}))]
    checked = 0
    for card in cards:
        for node, style in _texts_with_style(content(card)["body"]):
            colors = hc["containerStyles"][style]["foregroundColors"][node.get("color", "default").lower()]
            fg = colors["subtle" if node.get("isSubtle") else "default"]
            bg = hc["containerStyles"][style]["backgroundColor"]
            need = 3.0 if node["text"].strip() in "◆▲■●○" else 4.5
            assert contrast(fg, bg) >= need, (host, style, node)
            checked += 1
    assert checked > 50
    used = {n.get("color") for c in cards for n in walk(content(c)) if n.get("type") in ("TextRun", "TextBlock")}
    assert not used & {"warning", "good", "Warning", "Good"}


def test_severity_is_a_word_and_a_shape_not_only_a_colour() -> None:
    for sev in ("critical", "high", "medium", "low", "info"):
        card = build_digest(WS_A, "a", [transition("opened", finding(severity=sev))], standing=Standing({sev: 1}))
        [line] = lines(card)
        assert sev.upper() in line
    assert len({SEVERITY_COLOR["critical"], SEVERITY_COLOR["medium"], SEVERITY_COLOR["low"]}) == 3


# ---- size -----------------------------------------------------------------------------------------
def big_findings(n: int) -> list[dict[str, Any]]:
    sev = ["critical", "high", "medium", "low", "info"]
    return [
        transition("opened" if i % 3 else "resolved",
                   finding(rule_id=f"DBX-NET-{i % 7:03d}", severity=sev[i % 5], subject=f"rule-{i}" + "é" * 60,
                           status="open" if i % 3 else "resolved",
                           title="T" * 400, message="M" * 2000, remediation="R" * 4000,
                           expected={"allow": [f"10.{i % 255}.0.0/16"] * 50}, actual="A" * 3000))
        for i in range(n)
    ]


def test_300_large_findings_fit_and_are_all_accounted_for() -> None:
    card = build_digest(WS_A, "dbx-prod-a", big_findings(300), standing=Standing({"critical": 40}), api_url=API)
    data = serialize_card(card)
    assert len(data) <= MAX_CARD_BYTES <= WIRE_LIMIT
    assert json.loads(data) == card
    hidden = not_shown(card)
    hidden_total = int(re.match(r"Not shown: (\d+)", hidden).group(1)) if hidden else 0  # type: ignore[union-attr]
    assert sum(count_in_line(x) for x in lines(card)) + hidden_total == 300


def test_tiny_limit_is_an_error_not_a_broken_card() -> None:
    with pytest.raises(ValueError, match="too small"):
        build_digest(WS_A, "a", [transition("opened", finding())], max_bytes=200)


_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300) | st.sampled_from(
    ["[x][r]\n[r]: http://evil.example", "<http://evil.example>", "**b**", "# h", "- l", "{{DATE(x)}}", "é" * 200])
_findings = st.lists(st.builds(
    lambda rule, sev, subject, message, kind, rel: transition(kind, finding(
        rule_id=rule, severity=sev, subject=subject, message=message, title=message[:50] or "t",
        status={"resolved": "resolved", "exempted": "exempted"}.get(kind, "open"),
        related_resource_id=rel,
        exemption={"reason": message, "expires": "2027-01-01"} if kind == "exempted" else None)),
    st.sampled_from(["DBX-IPACL-002", "DBX-TOKEN-002", "DBX-NET-005", "DBX-CONF-001", "DBX-WS-001"]),
    st.sampled_from(["critical", "high", "medium", "low", "info"]),
    st.none() | _text, _text, st.sampled_from(["opened", "reopened", "resolved", "exempted"]),
    st.none() | st.sampled_from([NSG, f"{NSG}/securityRules/r1", "not-an-id"])), min_size=1, max_size=400)


@given(_findings, _text)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
def test_any_estate_fits_the_teams_limit(ts: list[dict[str, Any]], name: str) -> None:
    card = build_digest(WS_A, name or "ws", ts, standing=Standing({"high": len(ts)}), api_url=API)
    assert len(serialize_card(card)) <= MAX_CARD_BYTES <= WIRE_LIMIT
    hidden = not_shown(card)
    hidden_total = int(re.match(r"Not shown: (\d+)", hidden).group(1)) if hidden else 0  # type: ignore[union-attr]
    assert sum(count_in_line(x) for x in lines(card)) + hidden_total == len(ts)


# ---- input ----------------------------------------------------------------------------------------
def test_build_digests_groups_by_workspace_case_insensitively() -> None:
    ts = [
        transition("opened", finding(WS_A, "DBX-WS-001")),
        transition("opened", finding(WS_B, "DBX-WS-001")),
        transition("resolved", finding(WS_A.upper(), "DBX-WS-003", status="resolved")),
    ]
    cards = build_digests(ts, standings={WS_A.casefold(): Standing({"high": 1})})
    assert len(cards) == 2
    assert "dbx-prod-a" in text_of(content(cards[0])["body"][0])
    assert text_of(banner(cards[0])["items"][0]).startswith("1 opened · 1 resolved · 1 still open")
    assert "dbx-prod-b" in text_of(content(cards[1])["body"][0])
    assert SUB in text_of(content(cards[1])["body"][1])


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
    ]
    assert [t.finding.rule_id for t in severity_filter(ts, "high")] == ["A", "B"]
    with pytest.raises(ValueError):
        severity_filter(ts, "loud")


# ---- hypothesis-generated estates, through the real rules -----------------------------------------
_estate_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=120) \
    | st.sampled_from(["[rb]: http://evil.example", "<http://evil.example>", "**b** _i_", "# h\n- l", "x\ny"])


@st.composite
def drifting_estates(draw: st.DrawFn) -> dict[str, Any]:
    from samples import factory as fac

    v4 = st.tuples(st.ip_addresses(v=4), st.integers(0, 32))
    v6 = st.tuples(st.ip_addresses(v=6), st.integers(0, 128))
    nets = draw(st.lists((v4 | v6).map(lambda a: str(ipaddress.ip_network(a, strict=False))),
                         max_size=120, unique=True))
    tokens = [fac.token(f"{i:016x}", draw(st.none() | st.integers(1, 999)), draw(_estate_text))
              for i in range(draw(st.integers(0, 40)))]
    conf = dict(fac.COMPLIANT_CONF, enableVerboseAuditLogs=draw(_estate_text), enableDbfsFileBrowser=draw(_estate_text))
    api = fac.api_state(conf=conf, allow=nets, block=[], tokens=tokens)
    api["ip_access_lists"][0]["label"] = draw(_estate_text)
    rules = [fac.nsg_rule(f"{fac.rg_id(fac.SUB_PROD, 'rg-h')}/providers/Microsoft.Network/networkSecurityGroups/nsg-h",
                          f"r-{i}-{draw(st.from_regex(r'[A-Za-z0-9_.-]{1,40}', fullmatch=True))}", "Inbound",
                          200 + i, "Tcp", "Internet", "*", "22") for i in range(draw(st.integers(0, 8)))]
    vid, docs = fac.network_for(fac.SUB_PROD, "rg-h", "h", space="10.9.0.0/16", public="10.9.0.0/24",
                                private="10.9.1.0/24", nsg_extra=rules)
    ws = fac.workspace_doc(fac.SUB_PROD, "rg-h", "dbw-h", 4242, vnet_id=vid, sku=draw(st.sampled_from(["premium", "standard"])))
    return {"schema": "driftwatch.estate/v1",
            "subscriptions": [{"subscriptionId": fac.SUB_PROD, "displayName": "p", "state": "Enabled"}],
            "resources": [ws, *docs], "databricks": {ws["properties"]["workspaceUrl"]: api}}


@given(drifting_estates())
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
def test_hypothesis_estates_give_valid_cards_within_the_limit(estate: dict[str, Any]) -> None:
    from tests.support.card_estates import evaluate

    found = evaluate(estate)
    if not found:
        return
    ts = transitions(found)
    card = build_digest(found[0].resource_id, found[0].workspace_name, ts, standing=standing_of(ts), api_url=API)
    assert len(serialize_card(card)) <= MAX_CARD_BYTES <= WIRE_LIMIT
    hidden = not_shown(card)
    hidden_total = int(re.match(r"Not shown: (\d+)", hidden).group(1)) if hidden else 0  # type: ignore[union-attr]
    assert sum(count_in_line(x) for x in lines(card)) + hidden_total == len(found)
    for n in walk(content(card)):
        if n.get("type") == "TextRun":
            assert "\n" not in n["text"] and "http://" not in n["text"]


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
    card = build_digest(WS_A, "ws-a", [transition("opened", hostile)])
    runs = [n for n in walk(content(card)) if n.get("type") == "TextRun" and "after" in n.get("text", "")]
    assert runs and all("sig=abc" not in n["text"] and "https://" not in n["text"] and "\n" not in n["text"]
                        for n in runs)
    # several findings of one rule with different authors: each detail line names its own change
    a = finding(rule_id="DBX-IPACL-002", subject="0.0.0.0/0", changed_by="a@contoso.com", change_summary="x")
    b = finding(rule_id="DBX-IPACL-002", subject="10.0.0.0/8", changed_by="b@contoso.com", change_summary="y")
    text = json.dumps(build_digest(WS_A, "ws-a", [transition("opened", a), transition("opened", b)]))
    assert "opened after a@contoso.com x" in text and "opened after b@contoso.com y" in text


def test_the_schema_check_catches_what_the_fast_path_must_not_let_through() -> None:
    """tests/support/card_schema.py answers "valid?" with fastjsonschema and explains with jsonschema: an unknown
    element, an unknown property and a malformed URL (the URI formats) are each reported, by path."""
    import copy

    from tests.support.card_schema import schema_problems

    card = build_digest(WS_A, "ws-a", [transition("opened", finding())])
    assert schema_problems(card) == []
    content = card["attachments"][0]["content"]
    for mutate, expected in [
        (lambda c: c["body"].append({"type": "NoSuchElement"}), "/body/"),
        (lambda c: c["body"][0].update({"wrongProp": 1}), "wrongProp"),
        (lambda c: c.setdefault("actions", []).append({"type": "Action.OpenUrl", "title": "x", "url": "not a uri"}),
         "/actions/"),
    ]:
        bad = copy.deepcopy(content)
        mutate(bad)
        problems = schema_problems(bad)
        assert problems and any(expected in p for p in problems), problems
