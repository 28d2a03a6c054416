"""Start and stop a real Azurite (npm) for tests, demos and benchmarks.

Tests talk to Table Storage and queues over HTTP through the real SDK clients, so they need a
real emulator. Each pytest-xdist worker gets its own instance on free ports, bound to 127.0.0.1.

    with AzuriteProcess() as az:
        az.connection_string

`persistent=True` keeps data on disk in the temp `--location`, so `stop()` + `start()` (same
ports) models a storage outage without losing state; the default is in-memory (faster).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

REPO = Path(__file__).resolve().parent.parent
AZURITE_BIN = REPO / "node_modules" / ".bin" / "azurite"
HOST = "127.0.0.1"
ACCOUNT_NAME = "devstoreaccount1"
# The well-known, public Azurite development key (documented by Microsoft; not a secret).
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def free_port() -> int:
    """A port the OS just handed out (tiny race window; start() retries on failure)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.2):
            return True
    except OSError:
        return False


class AzuriteProcess:
    """One Azurite process (blob, queue, table) on free 127.0.0.1 ports, stopped by PID."""

    def __init__(self, *, persistent: bool = False, startup_timeout_s: float = 30.0) -> None:
        self.persistent = persistent
        self.startup_timeout_s = startup_timeout_s
        self.blob_port = free_port()
        self.queue_port = free_port()
        self.table_port = free_port()
        self.location = tempfile.mkdtemp(prefix="azurite-")
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_path = Path(self.location) / "azurite.log"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT_NAME};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint=http://{HOST}:{self.blob_port}/{ACCOUNT_NAME};"
            f"QueueEndpoint=http://{HOST}:{self.queue_port}/{ACCOUNT_NAME};"
            f"TableEndpoint=http://{HOST}:{self.table_port}/{ACCOUNT_NAME};"
        )

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _command(self) -> list[str]:
        cmd = [
            str(AZURITE_BIN),
            "--blobHost", HOST, "--blobPort", str(self.blob_port),
            "--queueHost", HOST, "--queuePort", str(self.queue_port),
            "--tableHost", HOST, "--tablePort", str(self.table_port),
            "--disableTelemetry", "--skipApiVersionCheck", "--loose", "--silent",
        ]
        # Azurite refuses --location together with --inMemoryPersistence; in-memory runs still get the
        # temp dir as their working directory (Azurite's default location) so nothing lands in the repo.
        cmd += ["--location", self.location] if self.persistent else ["--inMemoryPersistence"]
        return cmd

    def start(self) -> AzuriteProcess:
        """Start (or restart on the same ports) and wait until all three ports accept connections."""
        if self.running:
            return self
        if not AZURITE_BIN.exists():
            raise RuntimeError(f"Azurite not installed at {AZURITE_BIN} (run the bootstrap / npm ci)")
        log = open(self._log_path, "ab")  # noqa: SIM115 - handed to the child, closed in stop()
        self._proc = subprocess.Popen(self._command(), stdout=log, stderr=subprocess.STDOUT, cwd=self.location,
                                      start_new_session=True)
        log.close()
        deadline = time.monotonic() + self.startup_timeout_s
        ports = (self.blob_port, self.queue_port, self.table_port)
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"Azurite exited with {self._proc.returncode}: {self._log_tail()}")
            if all(_accepts(p) for p in ports):
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"Azurite did not open ports {ports} within {self.startup_timeout_s}s")

    def _log_tail(self) -> str:
        try:
            return self._log_path.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def stop(self) -> None:
        """Terminate the process we started (by PID), then kill it if it lingers."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        # Wait until the ports are really free, so a restart can bind them again.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(
                _accepts(p) for p in (self.blob_port, self.queue_port, self.table_port)):
            time.sleep(0.05)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.location, ignore_errors=True)

    def __enter__(self) -> AzuriteProcess:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
