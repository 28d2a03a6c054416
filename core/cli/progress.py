"""`driftwatch scan`'s progress bar on stderr (tqdm): workspaces done / total, failures so far, elapsed.

Shown only when someone is watching a table: stdout and stderr are terminals and `--format table`.
Piped output, `--format json|csv` and CI logs get nothing extra.
"""

from __future__ import annotations

import threading
from typing import Any, TextIO


def progress_wanted(fmt: str, stdout: Any, stderr: Any) -> bool:
    def tty(stream: Any) -> bool:
        try:
            return bool(stream.isatty())
        except (AttributeError, ValueError):  # no isatty, or a closed stream
            return False

    return fmt == "table" and tty(stdout) and tty(stderr)


class ScanProgressBar:
    """A `core.scan.ScanProgress` drawn by tqdm; safe to call from the collector's threads."""

    def __init__(self, stream: TextIO, *, mininterval: float = 0.1) -> None:
        self._stream = stream
        self._mininterval = mininterval
        self._bar: Any = None
        self._failed = 0
        self._lock = threading.Lock()

    def start(self, total: int) -> None:
        from tqdm import tqdm

        with self._lock:
            self._bar = tqdm(total=total, file=self._stream, unit="ws", desc="scanning", leave=False,
                             dynamic_ncols=True, mininterval=self._mininterval, postfix="0 failed",
                             bar_format="{desc} {bar} {n_fmt}/{total_fmt} workspaces{postfix} | {elapsed}")

    def done(self, failed: bool) -> None:
        with self._lock:
            if self._bar is None:
                return
            if failed:
                self._failed += 1
                self._bar.set_postfix_str(f"{self._failed} failed", refresh=False)
            self._bar.update(1)

    def close(self) -> None:
        with self._lock:
            if self._bar is not None:
                self._bar.close()
                self._bar = None

    def __enter__(self) -> ScanProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
