"""The app under `chalice local --no-autoreload` on a free 127.0.0.1 port, for tests that need a
real HTTP server (the API fuzzing, the CI examples that poll /gate with curl)."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def serving(env: Mapping[str, str], log: Path) -> Iterator[str]:
    """The server's base URL once it answers /status; its output goes to `log`; it is stopped
    (and never outlives the test) on the way out."""
    from chalicelib.local.emulator import free_port

    port = free_port()
    command = [sys.executable, "-c", "from chalice.cli import main; main()"]
    command += ["--project-dir", str(ROOT), "local", "--no-autoreload"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as output:
        server = subprocess.Popen(
            command, env={**env, "PYTHONUNBUFFERED": "1"}, stdout=output, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(base, server, log)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _wait_until_serving(base: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"chalice local exited:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{base}/status", timeout=5):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise RuntimeError(f"chalice local did not answer:\n{log.read_text()[-2000:]}")
