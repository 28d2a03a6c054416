"""`make cards`: render the demo's Teams cards to PNG (headless Chromium, Microsoft's renderer, the Teams
light host config) in build/cards/, for a reviewer to look at.

The cards are built by the same code `notify_drift` runs, from the demo estate evaluated with the example
baseline at the demo's threshold (high) with the standing a first sweep leaves in the store (everything
open), plus three issue-15 cases: a small card (SSH opened from the Internet on one NSG rule), the
149-finding digest, and a resolved card (5 tokens resolved, 144 findings still open). `before-large.png` is
the same 149-finding digest built by the layout before issue 15 (`git show 6e66ce3:core/notify/cards.py`),
so the heights printed compare like with like (600 px wide, Teams light).
"""

from __future__ import annotations

import subprocess
import sys
import types
from collections import Counter
from pathlib import Path
from typing import Any

from core.notify import Standing, build_digest, build_digests, severity_filter
from samples import factory as f
from tests.support.card_estates import LARGE_ID, LARGE_NAME, evaluate, large_findings, transitions
from tests.support.chromium import screenshot

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "build" / "cards"
API = "http://127.0.0.1:7071/api"
BEFORE_COMMIT = "6e66ce3"
"""The last commit with the card layout issue 15 replaced (one ~270 px block per finding)."""


def before_module() -> types.ModuleType | None:
    """core/notify/cards.py as it was at BEFORE_COMMIT, loaded from git (None outside a git checkout)."""
    done = subprocess.run(["git", "show", f"{BEFORE_COMMIT}:core/notify/cards.py"], cwd=ROOT, capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        return None
    module = types.ModuleType("cards_before_issue_15")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(done.stdout, f"{BEFORE_COMMIT}:core/notify/cards.py", "exec"), module.__dict__)
    return module


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    written: list[tuple[str, int]] = []

    def shot(name: str, card: dict, **kw: Any) -> None:
        written.append((name, screenshot(card, OUT / f"{name}.png", **kw)))

    demo = evaluate(f.sample_estate())
    standings = {}
    for fd in demo:
        standings.setdefault(fd.resource_id.casefold(), Counter())[fd.severity] += 1 if fd.status == "open" else 0
    cards = build_digests(severity_filter(transitions(demo), "high"), api_url=API,
                          standings={k: Standing(dict(v)) for k, v in standings.items()})
    for card in cards:
        name = "".join(i["text"] for i in card["attachments"][0]["content"]["body"][0]["inlines"]).split(" · ")[-1]
        shot(f"demo-{name}", card)

    ssh = next(x for x in demo if x.rule_id == "DBX-NET-005" and x.status == "open")
    small = build_digest(ssh.resource_id, ssh.workspace_name, transitions([ssh]), api_url=API,
                         standing=Standing(dict(standings[ssh.resource_id.casefold()])))
    shot("small", small)

    big = large_findings()
    open_now = Counter(x.severity for x in big)
    large = build_digest(LARGE_ID, LARGE_NAME, transitions(big), standing=Standing(dict(open_now)), api_url=API)
    shot("large", large)
    shot("large-expanded", large, expand=True)
    shot("large-dark", large, host="microsoft-teams-dark")
    old = before_module()
    if old is not None:
        shot("before-large", old.build_digest(LARGE_ID, LARGE_NAME, transitions(big)))

    tokens = [x for x in big if x.rule_id == "DBX-TOKEN-002"][:5]
    still = Counter(x.severity for x in big if x not in tokens)
    resolved = build_digest(LARGE_ID, LARGE_NAME, transitions(tokens, "resolved"), standing=Standing(dict(still)),
                            api_url=API)
    shot("resolved", resolved)
    shot("resolved-expanded", resolved, expand=True)
    for name, height in written:
        print(f"{OUT / (name + '.png')}  {height} px")
    return 0


if __name__ == "__main__":
    sys.exit(main())
