"""The cards as a person sees them: Microsoft's renderer (adaptivecards + markdown-it, linkify on) in
headless Chromium with the Teams light host config. Estate text full of Markdown must come out as its
literal characters, and no `<a>` may come from it."""

from __future__ import annotations

from typing import Any

import pytest

from core.notify import Standing, build_digest
from core.notify.cards import portal_url
from core.notify.text import WORD_JOINER
from tests.support.card_estates import LARGE_ID, LARGE_NAME, large_findings, transitions
from tests.support.cards import NSG, WS_A, finding, transition
from tests.support.chromium import render

API = "https://func-driftwatch.azurewebsites.net/api"
MARKDOWN_CASES = {
    "reference link": "[Open the runbook][rb]\n\n[rb]: http://evil.example/runbook",
    "autolink": "<http://evil.example/auto>",
    "inline link": "[click me](https://evil.example/inline)",
    "bare url": "see https://evil.example/bare and www.evil.example",
    "emphasis": "**bold** and _italic_ and ~~struck~~",
    "list": "- first\n- second\n1. numbered",
    "heading": "# Heading one\n## two",
    "html": "<a href=\"https://evil.example/html\">x</a><b>b</b>",
    "image": "![img](https://evil.example/i.png)",
    "code": "`code` and\n```\nfence\n```",
    "newlines in a value": "line one\nline two\r\nline three",
}
FORBIDDEN_TAGS = {"strong", "em", "b", "i", "del", "s", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li",
                  "img", "code", "pre", "blockquote"}


def estate_card(raw: str) -> dict[str, Any]:
    """Every estate-influenced field of a finding carries the Markdown case."""
    rule = f"{NSG}/securityRules/allow-vendor"
    doc = finding(rule_id="DBX-NET-005", severity="critical", subject=raw, message=f"NSG rule says {raw}",
                  expected=raw, actual={"label": raw}, workspace_name=raw, related_resource_id=rule)
    single = transition("opened", doc)
    other = transition("opened", finding(rule_id="DBX-CONF-001", severity="medium", subject=f"{raw} 2",
                                         message=raw, actual=raw))
    return build_digest(WS_A, raw, [single, other], standing=Standing({"critical": 1, "medium": 1}), api_url=API)


def allowed_hrefs(card: dict[str, Any]) -> set[str]:
    """Links driftwatch itself puts in a card: the portal and the findings API, never estate text."""
    out: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "Action.OpenUrl":
                out.add(node["url"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(card)
    return out


@pytest.fixture(scope="module")
def rendered() -> dict[str, tuple[dict[str, Any], Any]]:
    cards = {name: estate_card(raw) for name, raw in MARKDOWN_CASES.items()}
    out = render(list(cards.values()))
    return {name: (card, r) for (name, card), r in zip(cards.items(), out, strict=True)}


@pytest.mark.parametrize("case", list(MARKDOWN_CASES))
def test_markdown_in_estate_text_renders_literally_and_never_as_a_link(
        rendered: dict[str, tuple[dict[str, Any], Any]], case: str) -> None:
    card, r = rendered[case]
    assert r.error is None and r.height > 100
    allowed = allowed_hrefs(card)
    for href, text in r.anchors:
        assert href in allowed, f"{case}: a link the card did not define: {href!r} ({text!r})"
        assert "evil.example" not in href and "evil.example" not in text
        assert href.startswith(("https://portal.azure.com/", API)), href
    assert not r.tags & FORBIDDEN_TAGS, f"{case}: Markdown/HTML was interpreted: {r.tags & FORBIDDEN_TAGS}"
    seen = r.text.replace(WORD_JOINER, "")
    # readable: the literal characters, one line per value (newlines shown as ⏎)
    first_line = MARKDOWN_CASES[case].replace("\r\n", "\n").split("\n")[0]
    assert first_line in seen, f"{case}: {first_line!r} not shown literally"
    if "\n" in MARKDOWN_CASES[case]:
        assert " ⏎ " in seen


def test_the_render_check_can_fail_on_a_markdown_link() -> None:
    """Negative control: the same renderer does turn TextBlock Markdown into links and bold."""
    card = {"type": "AdaptiveCard", "version": "1.5", "body": [
        {"type": "TextBlock", "text": "[x][rb] **b** <http://evil.example/a>\n\n[rb]: http://evil.example/rb",
         "wrap": True}]}
    [r] = render([card])
    assert {"http://evil.example/rb", "http://evil.example/a"} <= {h for h, _ in r.anchors}
    assert "strong" in r.tags


def test_our_links_render_as_links() -> None:
    ts = [transition("opened", finding(rule_id="DBX-NET-005", severity="critical", subject="allow-ssh",
                                       related_resource_id=f"{NSG}/securityRules/allow-ssh"))]
    card = build_digest(WS_A, "dbx-prod-a", ts, standing=Standing({"critical": 1}), api_url=API)
    [r] = render([card])
    assert (f"{API}/findings/{ts[0]['finding']['id']}", " Open finding") in r.anchors
    assert "Open NSG rule" in r.text and portal_url(NSG) is not None


def test_the_149_finding_digest_is_short(large_heights: dict[str, int]) -> None:
    """Issue 15: ~6,800 px before (25 findings of ~270 px); the compact digest shows every rule."""
    assert large_heights["collapsed"] < 1200
    assert large_heights["expanded"] > large_heights["collapsed"]


@pytest.fixture(scope="module")
def large_heights() -> dict[str, int]:
    ts = transitions(large_findings())
    card = build_digest(LARGE_ID, LARGE_NAME, ts, standing=Standing({"critical": 2, "high": 134, "medium": 13}),
                        api_url=API)
    collapsed, = render([card])
    expanded, = render([card], expand=True)
    assert collapsed.error is None and expanded.error is None
    return {"collapsed": collapsed.height, "expanded": expanded.height}
