"""Runs `python -m chalicelib.cli demo` as a child process, the way a person would (e2e tests)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 90.0  # the demo itself takes ~12 s here; leave room for a loaded CI machine


def demo_env() -> dict[str, str]:
    """The caller's environment minus anything pointing at an emulator or an AWS account."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "AUDIT_", "ALERT_", "REPLICATION_", "SLACK_"))
    }
    env.pop("NO_COLOR", None)
    return env


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def get_json(base: str, path: str) -> Any:
    with urllib.request.urlopen(f"{base}/{path}", timeout=10) as response:
        return json.loads(response.read())


def emulator_port(output: str) -> int:
    found = re.search(r"moto server at http://127\.0\.0\.1:(\d+)", output)
    assert found, f"the demo did not say where its emulator listens:\n{output}"
    return int(found.group(1))


@dataclass
class ServedDemo:
    """A demo serving on `port`; its combined output goes to `log`."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def env_file(self) -> Path:
        """The environment the demo wrote for the command line, while it serves."""
        return self.log.parent / "demo.env.json"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_until_serving(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"demo exited with {self.process.returncode}:\n{self.output()}"
                )
            try:
                get_json(self.base, "status")
                return
            except (urllib.error.URLError, OSError):
                time.sleep(0.25)
        raise AssertionError(f"demo not serving after {START_TIMEOUT:.0f} s:\n{self.output()}")

    def interrupt(self, timeout: float = 20.0) -> int:
        """Ctrl-C, as a terminal sends it; returns the exit code."""
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        """Clean-up after a failed test: Ctrl-C first, so the demo can stop its emulator."""
        if self.process.poll() is not None:
            return
        try:
            self.interrupt(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_served_demo(port: int, log: Path) -> ServedDemo:
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "chalicelib.cli",
                "demo",
                "--port",
                str(port),
                "--env-file",
                str(log.parent / "demo.env.json"),  # not the clone's: demos run side by side
            ],
            cwd=ROOT,
            env=demo_env(),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    demo = ServedDemo(process, port, log)
    try:
        demo.wait_until_serving()
    except BaseException:
        demo.stop()
        raise
    return demo
