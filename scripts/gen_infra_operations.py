"""Write infra/routed-operations.json from core.events.operations (the one source of truth).

The Bicep event subscription loads the file with `loadJsonContent('../routed-operations.json')`,
so the Event Grid filter (event types and the `data.operationName` StringIn values) is exactly
what the router handles. `tests/infra` fails when the file is stale; regenerate with

    .venv/bin/python scripts/gen_infra_operations.py          # write
    .venv/bin/python scripts/gen_infra_operations.py --check  # exit 1 if stale
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "infra" / "routed-operations.json"

# Event Grid accepts at most 25 values in one StringIn advanced filter (and 25 across all filters
# of one event subscription); past that the list has to be split or filtered in code instead.
EVENT_GRID_MAX_FILTER_VALUES = 25


def render() -> str:
    """The JSON document the Bicep loads, as text (stable key order, trailing newline)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from core.events.operations import EVENT_TYPES, ROUTED_OPERATIONS

    if len(ROUTED_OPERATIONS) > EVENT_GRID_MAX_FILTER_VALUES:
        raise SystemExit(
            f"ROUTED_OPERATIONS has {len(ROUTED_OPERATIONS)} values; an Event Grid StringIn filter "
            f"takes at most {EVENT_GRID_MAX_FILTER_VALUES}"
        )
    document = {
        "_generated_by": "scripts/gen_infra_operations.py from core/events/operations.py; do not edit",
        "eventTypes": list(EVENT_TYPES),
        "operations": list(ROUTED_OPERATIONS),
    }
    return json.dumps(document, indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is missing or stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(
                f"{OUTPUT.relative_to(ROOT)} is stale: run scripts/gen_infra_operations.py", file=sys.stderr
            )
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
