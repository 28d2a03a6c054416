"""Estate text made inert for Adaptive Cards, and the few text helpers every card piece shares.

Finding fields echo what anyone with write access to a resource chose: NSG rule names, IP access list
labels, workspace-conf values, token comments. They must never become a link, emphasis, a list, a
heading or a date-function in a Teams channel, and must stay readable as the characters they are.

The cards therefore put such text only into `TextRun`s of a `RichTextBlock` (Adaptive Cards 1.2+):
"RichTextBlock does not support Markdown" (Microsoft Learn, adaptive-cards/authoring-cards/text-features),
while Teams applies Markdown to TextBlock text and Fact titles and values (Microsoft Learn, Teams
"Format cards in Teams"); the JS renderer sets a TextRun's text with `innerText`.

`inert()` additionally prepares the text for that place: one line (newlines shown as
" ⏎ "), no control or bidirectional-override characters, URLs without query strings (SAS `sig=`
lives there) and with a word joiner after the scheme so no host auto-links them, `{{` split so the
renderer's `{{DATE(...)}}` / `{{TIME(...)}}` substitution cannot fire, and a length bound.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

WORD_JOINER = "\u2060"
NEWLINE_MARK = " ⏎ "
_URL_QUERY_RE = re.compile(r"(?i)\b((?:https?|wss?|ftp)://[^\s?#<>\"'()\[\]]*)[?#][^\s<>\"'()\[\]]*")
_SCHEME_RE = re.compile(r"(?i)\b([a-z][a-z0-9+.-]{0,31}):(?=//)")
_WWW_RE = re.compile(r"(?i)\b(www)\.")
_MAILTO_RE = re.compile(r"(?i)\b(mailto|tel|javascript|data|vbscript|file):")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
_NEWLINES_RE = re.compile(r"\s*(?:\r\n|[\r\n\u2028\u2029\x0b\x0c\x85])+\s*")
# C0/C1 controls (tab folds to a space first), zero-width and bidirectional formatting characters that
# could reorder or hide what a reader sees (Trojan-Source style).
_INVISIBLE_RE = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


def strip_url_secrets(text: str) -> str:
    """Cut query strings and fragments from any URL in `text` (SAS tokens, `sig=` live there)."""
    return _URL_QUERY_RE.sub(r"\1", text)


def truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)] + "…"


def inert(value: object, limit: int) -> str:
    """Estate text as a TextRun may show it: one line, literal, secret-free, link-free, bounded."""
    text = _SURROGATE_RE.sub("\ufffd", str(value))  # lone surrogates cannot be encoded as UTF-8
    text = text.replace("\t", " ")
    text = _NEWLINES_RE.sub(NEWLINE_MARK, text.strip())
    text = _INVISIBLE_RE.sub("", text)
    text = strip_url_secrets(text)
    text = _SCHEME_RE.sub(lambda m: m.group(1) + WORD_JOINER + ":", text)
    text = _MAILTO_RE.sub(lambda m: m.group(1) + WORD_JOINER + ":", text)
    text = _WWW_RE.sub(lambda m: m.group(1) + WORD_JOINER + ".", text)
    text = text.replace("{{", "{" + WORD_JOINER + "{")
    return truncate(text, limit)


def readable(text: str) -> str:
    """What a reader sees once the invisible word joiners are ignored (tests compare with this)."""
    return text.replace(WORD_JOINER, "")


def compact_value(value: Any, limit: int) -> str:
    """Expected/actual values on one line: JSON for structures, `(not set)` for null."""
    if value is None:
        text = "(not set)"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = value if value else '""'
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)
        except (TypeError, ValueError):
            text = str(value)
    return inert(text, limit)


def when(value: datetime | str | None) -> str:
    """A timestamp as `2026-11-26 12:00 UTC` (unparseable text is shown inert)."""
    if value is None:
        return "-"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return inert(value, 40)
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M UTC")
