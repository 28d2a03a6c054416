"""checkov over infra/ (Bicep framework): no failed check; every skip is justified in the template.

scripts/checkov.sh installs checkov once into .checkov-venv (a minute or so the first time; it
needs Python 3.9-3.12) and reuses it afterwards (a run takes ~15-20 s). The test is skipped only when
DRIFTWATCH_SKIP_CHECKOV=1 is set (for quick local loops); CI does not set it.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "checkov.sh"
SKIP_COMMENT = re.compile(r"//checkov:skip=(CKV2?_[A-Z]+_\d+)(:?)(.*)$")

skip_unless_wanted = pytest.mark.skipif(
    os.environ.get("DRIFTWATCH_SKIP_CHECKOV") == "1", reason="DRIFTWATCH_SKIP_CHECKOV=1"
)


@skip_unless_wanted
def test_checkov_finds_no_failed_check() -> None:
    result = subprocess.run(
        ["bash", str(SCRIPT)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"checkov exited {result.returncode}:\n{output[-6000:]}"
    summary = re.search(r"Passed checks: (\d+), Failed checks: (\d+), Skipped checks: (\d+)", result.stdout)
    assert summary, f"no checkov summary in the output:\n{output[-3000:]}"
    passed, failed, _skipped = (int(n) for n in summary.groups())
    assert failed == 0, output[-6000:]
    assert passed > 0, "checkov ran no check: did it find the Bicep files?"


def test_every_checkov_skip_has_a_reason() -> None:
    skips = []
    for path in sorted((ROOT / "infra").rglob("*.bicep")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            match = SKIP_COMMENT.search(line)
            if match:
                check, colon, reason = match.groups()
                where = f"{path.relative_to(ROOT)}:{number} {check}"
                assert colon == ":" and len(reason.strip()) >= 20, f"{where}: the skip needs a reason"
                skips.append(check)
    assert skips, "expected the justified skips documented in the templates"
