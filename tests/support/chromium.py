"""Render Adaptive Cards as a person would see them: Microsoft's JS renderer in headless Chromium.

The page loads `adaptivecards/dist/adaptivecards.min.js` (the renderer Microsoft publishes), the
Teams light (or dark) host config from `adaptivecards-designer`, and markdown-it, which the renderer
uses for TextBlock Markdown. markdown-it runs with `linkify` on, stricter than the SDK default, because
Teams turns bare URLs into links too. Chromium dumps the DOM after the scripts ran; each card's HTML
and rendered height come back from that dump, and `screenshot` writes a PNG of one card.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = ROOT / "node_modules"
CHROMIUM = os.environ.get("DRIFTWATCH_CHROMIUM", "/usr/bin/chromium")
HOST_CONFIGS = NODE_MODULES / "adaptivecards-designer" / "lib" / "hostConfigs"
CARD_WIDTH = 600
"""Close to a Teams channel post with `msteams.width: Full` on a laptop screen."""
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
                  "--force-device-scale-factor=1"]


def host_config(name: str = "microsoft-teams-light") -> dict[str, Any]:
    data: dict[str, Any] = json.loads((HOST_CONFIGS / f"{name}.json").read_text(encoding="utf-8"))
    return data


def _asset(relative: str) -> str:
    return (NODE_MODULES / relative).read_text(encoding="utf-8")


def _script(text: str) -> str:
    return text.replace("</script", "<\\/script")


def page(cards: list[dict[str, Any]], *, host: str = "microsoft-teams-light", width: int = CARD_WIDTH,
         expand: bool = False) -> str:
    """A self-contained HTML page rendering `cards` (bare cards or Workflows messages) one under another."""
    contents = [c["attachments"][0]["content"] if c.get("type") == "message" else c for c in cards]
    background = host_config(host)["containerStyles"]["default"]["backgroundColor"]
    css = _asset("adaptivecards/dist/adaptivecards.css") if (NODE_MODULES / "adaptivecards/dist/adaptivecards.css").exists() else ""
    return f"""<!doctype html><html><head><meta charset="utf-8"><style>{css}</style>
<style>html,body{{margin:0;padding:0;background:{_css_color(background)}}}
.dw-card{{width:{width}px;padding:0;margin:0 0 8px 0;box-sizing:border-box}}</style>
<script>{_script(_asset("markdown-it/dist/markdown-it.min.js"))}</script>
<script>{_script(_asset("adaptivecards/dist/adaptivecards.min.js"))}</script></head><body>
<script>
const HOST = {_script(json.dumps(host_config(host)))};
const CARDS = {_script(json.dumps(contents, ensure_ascii=True))};
const EXPAND = {json.dumps(expand)};
const md = window.markdownit({{linkify: true}});
AdaptiveCards.AdaptiveCard.onProcessMarkdown = (text, result) => {{
  result.outputHtml = md.render(text); result.didProcess = true; }};
CARDS.forEach((json, i) => {{
  const holder = document.createElement("div");
  holder.className = "dw-card"; holder.id = "card-" + i;
  document.body.appendChild(holder);
  try {{
    const card = new AdaptiveCards.AdaptiveCard();
    card.hostConfig = new AdaptiveCards.HostConfig(HOST);
    if (EXPAND) {{
      (function show(n) {{
        if (Array.isArray(n)) n.forEach(show);
        else if (n && typeof n === "object") {{ if (n.isVisible === false) n.isVisible = true; Object.values(n).forEach(show); }}
      }})(json);
    }}
    card.parse(json);
    const el = card.render();
    if (el) holder.appendChild(el);
  }} catch (e) {{ holder.setAttribute("data-error", String(e)); }}
}});
document.querySelectorAll(".dw-card").forEach((h) => {{
  h.setAttribute("data-height", String(Math.ceil(h.getBoundingClientRect().height)));
}});
document.body.setAttribute("data-done", "1");
</script></body></html>"""


def _css_color(value: str) -> str:
    v = value.lstrip("#")
    if len(v) == 8:  # Adaptive Cards colours are #AARRGGBB
        return f"#{v[2:]}"
    return f"#{v}"


def _run_chromium(args: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    if not Path(CHROMIUM).exists() and shutil.which(CHROMIUM) is None:
        raise RuntimeError(f"Chromium not found at {CHROMIUM}: install Debian's chromium (scripts/bootstrap.sh)")
    with tempfile.TemporaryDirectory(prefix="dw-chromium-") as profile:
        return subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=timeout, check=False)


@dataclass
class RenderedCard:
    """One card as the renderer drew it: its HTML, height in px, links, and text."""

    html: str
    height: int
    error: str | None
    anchors: list[tuple[str, str]] = field(default_factory=list)
    """(href, text) of every `<a>` element."""
    tags: set[str] = field(default_factory=set)
    text: str = ""


class _CardSplitter(HTMLParser):
    """Collects, per `div.dw-card`, its inner HTML, text, tags and anchors."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.cards: list[RenderedCard] = []
        self._depth = 0
        self._current: RenderedCard | None = None
        self._parts: list[str] = []
        self._text: list[str] = []
        self._anchor: list[Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        void = tag in ("br", "img", "hr", "input", "meta", "link")
        if self._current is None:
            if tag == "div" and (a.get("class") or "") == "dw-card":
                self._current = RenderedCard("", int(a.get("data-height") or 0), a.get("data-error"))
                self._depth, self._parts, self._text = 1, [], []
            return
        if not void:
            self._depth += 1
        self._current.tags.add(tag)
        self._parts.append(self.get_starttag_text() or "")
        if tag == "a":
            self._anchor = [a.get("href") or "", []]
        if tag == "br":
            self._text.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self._current is None:
            return
        if tag in ("br", "img", "hr", "input", "meta", "link"):
            return
        self._depth -= 1
        if self._depth == 0:
            self._current.html = "".join(self._parts)
            self._current.text = "".join(self._text)
            self.cards.append(self._current)
            self._current = None
            return
        self._parts.append(f"</{tag}>")
        if tag == "a" and self._anchor is not None:
            self._current.anchors.append((self._anchor[0], "".join(self._anchor[1])))
            self._anchor = None
        if tag in ("p", "div", "li", "tr"):
            self._text.append("\n")

    def handle_data(self, data: str) -> None:
        if self._current is None:
            return
        self._parts.append(html.escape(data))
        self._text.append(data)
        if self._anchor is not None:
            self._anchor[1].append(data)


def render(cards: list[dict[str, Any]], *, host: str = "microsoft-teams-light", width: int = CARD_WIDTH,
           expand: bool = False) -> list[RenderedCard]:
    """Render every card in one Chromium run and return them in order."""
    with tempfile.TemporaryDirectory(prefix="dw-cards-") as tmp:
        path = Path(tmp) / "cards.html"
        path.write_text(page(cards, host=host, width=width, expand=expand), encoding="utf-8")
        done = _run_chromium(["--virtual-time-budget=10000", "--dump-dom", path.as_uri()])
    if 'data-done="1"' not in done.stdout:
        raise RuntimeError(f"Chromium did not render the cards (exit {done.returncode}): {done.stderr[-2000:]}")
    splitter = _CardSplitter()
    splitter.feed(done.stdout)
    if len(splitter.cards) != len(cards):
        raise RuntimeError(f"expected {len(cards)} rendered cards, found {len(splitter.cards)}")
    return splitter.cards


def screenshot(card: dict[str, Any], out: Path, *, host: str = "microsoft-teams-light", width: int = CARD_WIDTH,
               expand: bool = False) -> int:
    """Write a PNG of one card (its full height) and return that height in px."""
    [rendered] = render([card], host=host, width=width, expand=expand)
    height = max(rendered.height, 40)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dw-cards-") as tmp:
        path = Path(tmp) / "card.html"
        path.write_text(page([card], host=host, width=width, expand=expand), encoding="utf-8")
        shot = _run_chromium(["--virtual-time-budget=10000", f"--window-size={width},{height}",
                              f"--screenshot={out.resolve()}", path.as_uri()])
    if not out.exists():
        raise RuntimeError(f"Chromium wrote no screenshot (exit {shot.returncode}): {shot.stderr[-2000:]}")
    return height
