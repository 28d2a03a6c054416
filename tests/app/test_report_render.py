"""The evidence report through `driftwatch report`, rendered in headless Chromium (DOM, PDF, PNG)."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from core.cli import main
from core.store import StorageConnection, TableFindingsStore
from tests.azurite import AzuriteProcess
from tests.contract.store.test_history_asof import EVAL, A, H, _timeline
from tests.support.store import T0, make_finding, reset_storage

pytestmark = pytest.mark.integration
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HOSTILE = "<script>alert(1)</script>"


def chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp / 'profile'}"]
    return subprocess.run([CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=90)


class _Dom(HTMLParser):
    """Text per section id and the elements the rendered DOM holds."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.cells: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.cells.append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture
def report_store(azurite: AzuriteProcess, monkeypatch: pytest.MonkeyPatch) -> Iterator[TableFindingsStore]:
    conn = StorageConnection.from_connection_string(azurite.connection_string)
    reset_storage(conn)
    store = TableFindingsStore(conn)
    _timeline(store)
    store.reconcile([make_finding(A, "DBX-WS-001"), make_finding(A, "DBX-WS-003", HOSTILE, message=f"seen {HOSTILE}"),
                     make_finding(A, "DBX-NET-005", "r1", severity="critical", status="exempted",
                                  exemption={"reason": "vendor <b>ssh</b>", "approved_by": "sec-team",
                                             "expires": "2026-03-02"})],
                    resource_id=A, evaluated_rules=EVAL, now=T0 + 4 * H, source="sweep", checked_rules=EVAL,
                    baseline_sha256="b" * 64)
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    yield store


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is installed by scripts/bootstrap.sh on CI")
def test_report_renders_in_chromium(report_store: TableFindingsStore, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "evidence.html"
    as_of = (T0 + 5 * H + timedelta(days=2)).isoformat()  # the exemption (expires 2026-03-02) has expired by then
    assert main(["report", "--as-of", as_of, "--since", T0.isoformat(), "--framework", "cis",
                 "--format", "html", "--output", str(out)]) == 0
    html_text = out.read_text()
    # self-contained: no scripts, no external references of any kind
    assert "<script" not in html_text.replace("&lt;script", "")
    assert not re.search(r"""(src|href)\s*=|url\(|@import|https?://""", html_text.split("<body>", 1)[1])

    dom = chromium(tmp_path, "--dump-dom", out.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    parsed = _Dom()
    parsed.feed(dom.stdout)
    assert "script" not in parsed.tags and "img" not in parsed.tags
    cells = parsed.cells
    text = " | ".join(cells)
    assert "Posture as of" in cells and any("reconstructed from findinghistory" in c for c in cells)
    assert "b" * 64 in text and "a" * 64 in text  # baseline hashes recorded over the period
    assert HOSTILE in cells  # the hostile subject is shown as text, not run
    assert any(c.startswith("2026-03-02") and "EXPIRED" in c for c in cells)
    assert "vendor <b>ssh</b>" in cells and "sec-team" in cells
    # per-control per-workspace matrix: ws-a fails 2.1.10 (WS-003 open), 2.1.2 not evaluated (NET-003/004 unchecked)
    width = cells.index("ws-a") - cells.index("workspace")  # the header row, whatever controls are mapped
    row = cells[cells.index("ws-a"):cells.index("ws-a") + width]
    header = cells[cells.index("workspace"):cells.index("workspace") + width]
    status = dict(zip(header[3:], row[3:], strict=True))
    assert status["2.1.10"] == "FAIL" and status["2.1.2"] == "not evaluated" and status["2.1.1"] == "not evaluated"
    assert any("not checked (not observed, not applicable or disabled)" in c for c in cells)
    assert "reopened" in cells and "exempted" in cells  # transitions in the period

    pdf = tmp_path / "evidence.pdf"
    png = tmp_path / "evidence.png"
    r = chromium(tmp_path, f"--print-to-pdf={pdf}", "--no-pdf-header-footer", out.as_uri())
    assert r.returncode == 0 and pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 5_000, r.stderr[-2000:]
    r = chromium(tmp_path, f"--screenshot={png}", "--window-size=1280,1600", out.as_uri())
    assert r.returncode == 0 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", r.stderr[-2000:]
    capsys.readouterr()


def test_report_json_through_the_cli(report_store: TableFindingsStore, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    capsys.readouterr()
    assert main(["report", "--format", "json", "--framework", "mcsb", "--subscription", A.split("/")[2]]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["framework"]["name"] == "mcsb" and doc["reconstructed"] is False
    assert {w["name"] for w in doc["workspaces"]} == {"ws-a"}
    ws = doc["workspaces"][0]["controls"]
    assert ws["NS-2"] == "fail" and ws["DP-5"] == "not_evaluated"
    assert [f["rule_id"] for f in doc["open_findings"]] == ["DBX-WS-001", "DBX-WS-003"]
    assert doc["baseline_exemptions"] is None  # no baseline given and DRIFTWATCH_BASELINE unset
    # every exemption the baseline declares, used or not, flagged once expired
    baseline = str(Path(__file__).resolve().parents[2] / "baseline.example.yaml")
    assert main(["report", "--format", "json", "--baseline", baseline, "--as-of", "2027-04-01"]) == 0
    doc = json.loads(capsys.readouterr().out)
    declared = doc["baseline_exemptions"]
    assert declared and declared[0]["rule"] == "DBX-NET-005" and declared[0]["approved_by"] == "security-team"
    assert declared[0]["expires"] == "2027-03-31" and declared[0]["expired"] is True
    assert declared[0]["findings"] == 0 and len(doc["baseline_file_sha256"]) == 64
    with pytest.raises(SystemExit) as bad:
        main(["report", "--as-of", "yesterday"])
    assert bad.value.code == 2 and "--as-of" in capsys.readouterr().err
