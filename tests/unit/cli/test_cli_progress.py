"""`driftwatch scan`'s progress bar (issue 14, point 7): only for a table on a terminal, on stderr."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

import pytest

from core.cli.progress import ScanProgressBar, progress_wanted


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


@pytest.mark.parametrize(("fmt", "out_tty", "err_tty", "wanted"), [
    ("table", True, True, True),
    ("table", False, True, False),   # stdout piped
    ("table", True, False, False),   # stderr redirected
    ("json", True, True, False),
    ("csv", True, True, False),
    ("ocsf", True, True, False),
])
def test_the_bar_is_shown_only_for_a_table_on_a_terminal(fmt: str, out_tty: bool, err_tty: bool,
                                                         wanted: bool) -> None:
    assert progress_wanted(fmt, _Stream(out_tty), _Stream(err_tty)) is wanted
    assert progress_wanted("table", object(), object()) is False  # no isatty at all


def test_the_bar_counts_workspaces_and_failures_from_many_threads() -> None:
    stream = _Stream(True)
    with ScanProgressBar(stream, mininterval=0) as bar:
        bar.start(40)
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda i: bar.done(i % 10 == 0), range(40)))
        text = stream.getvalue()
    assert "40/40 workspaces" in text and "4 failed" in text
    bar.done(True)  # after close: ignored, no error
