"""Start and stop a moto server on 127.0.0.1 as a child process (tests and the demo)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class MotoServer:
    """A moto server child process bound to loopback only."""

    port: int
    process: subprocess.Popen[bytes]

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> MotoServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_moto(
    port: int | None = None, timeout: float = 30.0, module: str = "chalicelib.local.emulator"
) -> MotoServer:
    """Launch a moto server (`module`'s `serve`, this one's by default) and wait until it
    answers; RuntimeError if it does not."""
    port = port or free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", module, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    server = MotoServer(port, process)
    try:
        _wait_until_ready(server, timeout)
    except BaseException:  # also Ctrl-C while waiting: never leave the child behind
        server.stop()
        raise
    return server


def _wait_until_ready(server: MotoServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"moto server exited with code {server.process.returncode}")
        try:
            with urllib.request.urlopen(f"{server.endpoint}/moto-api/", timeout=1):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise RuntimeError(f"moto server did not answer on port {server.port} within {timeout:.0f}s")


def serve(port: int) -> None:
    """moto's server on 127.0.0.1, one request at a time.

    DynamoDB makes each conditional write and transaction atomic; moto's threaded server does
    not, so two racing invocations could both pass a condition. Serialising requests gives the
    emulator DynamoDB's guarantee, which the auditor's exactly-once logic relies on.
    """
    import threading

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import run_simple

    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def serialised(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        with lock:
            # materialise the body inside the lock: moto computes it lazily in some services
            return list(app(environ, start_response))

    run_simple("127.0.0.1", port, serialised, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    serve(int(sys.argv[1]))
