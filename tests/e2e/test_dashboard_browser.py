"""The dashboard in a real headless Chromium, against the served demo and against hostile data.

Chromium is driven through its own command line (`--dump-dom` after the page's scripts ran,
`--screenshot`), so no extra Python dependency is needed. Where it is missing, the test
session installs Debian's `chromium` when it runs as root, and skips with the reason otherwise.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from chalicelib.local.emulator import free_port
from tests.e2e.demo_process import ROOT, ServedDemo, get_json, start_served_demo

pytestmark = pytest.mark.browser

ARTIFACTS = ROOT / "test-artifacts"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
WALL = (1280, 720)
PHONE = (390, 844)


def _find_browser() -> str | None:
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


def _install_chromium() -> str:
    """Install Debian's chromium; returns why it failed, or "" on success."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "not running as root, so the Debian package `chromium` cannot be installed"
    if not shutil.which("apt-get"):
        return "no apt-get on this machine to install `chromium` with"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-qq"],
        [
            "apt-get",
            "install",
            "-y",
            "-qq",
            "--no-install-recommends",
            "chromium",
            "fonts-liberation",
        ],
    ):
        try:
            result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
        except (OSError, subprocess.TimeoutExpired) as error:
            return f"`{' '.join(command)}` failed: {error}"
        if result.returncode != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
            return f"`{' '.join(command)}` exited {result.returncode}: {' | '.join(tail)}"
    return ""


@pytest.fixture(scope="session")
def chromium() -> str:
    found = _find_browser()
    if found is None:
        problem = _install_chromium()
        found = _find_browser()
        if found is None:
            pytest.skip(f"headless Chromium unavailable: {problem or 'not on PATH after install'}")
    return found


class Browser:
    """One fresh headless Chromium profile per call; loopback only."""

    def __init__(self, executable: str) -> None:
        self.executable = executable

    def _run(self, url: str, size: tuple[int, int], *extra: str) -> str:
        with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
            command = [
                self.executable,
                "--headless",
                "--no-sandbox",  # root in a container: the setuid sandbox is not available
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                f"--window-size={size[0]},{size[1]}",
                # time for the page's fetches and rendering, in virtual time: no sleeps
                "--virtual-time-budget=8000",
                *extra,
                url,
            ]
            result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"chromium exited {result.returncode}: {result.stderr}"
        return result.stdout

    def dom(self, url: str, size: tuple[int, int] = WALL) -> str:
        return self._run(url, size, "--dump-dom")

    def screenshot(self, url: str, path: Path, size: tuple[int, int]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        self._run(url, size, f"--screenshot={path}")
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"


@pytest.fixture(scope="module")
def browser(chromium: str) -> Browser:
    return Browser(chromium)


@pytest.fixture(scope="module")
def served(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedDemo]:
    # `browser` first: no demo is started where the test would be skipped anyway.
    demo = start_served_demo(free_port(), tmp_path_factory.mktemp("demo") / "demo.log")
    try:
        yield demo
    finally:
        demo.stop()


def test_dashboard_shows_the_incidents_the_api_reports(browser: Browser, served: ServedDemo):
    status = get_json(served.base, "status")
    resolved = get_json(served.base, "incidents?state=resolved&limit=100")["incidents"]
    overwrites = [i for i in resolved if i["kind"] == "TAG_OVERWRITTEN"]
    assert status["incidents"] and overwrites, "the scenario leaves something to show"

    dom = browser.dom(served.base + "/")

    assert 'data-loaded="true"' in dom, "the page's scripts did not finish a refresh"
    assert "UNHEALTHY" in dom
    for incident in status["incidents"] + overwrites:
        assert f'data-incident-id="{incident["incident_id"]}"' in dom
        image = f"{incident['repository']}:{incident['tag']}"
        assert html.escape(image) in dom, f"{image} not on the page"
    # the matrix row of the replica that never arrived is coloured as missing
    row = dom.split('data-repository="team/worker"', 1)[1].split("</tr>", 1)[0]
    assert 'class="cell missing"' in row
    # the late replica's lag is shown
    assert "72 min" in dom


def test_dashboard_screenshots_for_a_wall_screen_and_a_phone(browser: Browser, served):
    wall = ARTIFACTS / "dashboard.png"
    phone = ARTIFACTS / "dashboard-phone.png"
    browser.screenshot(served.base + "/", wall, WALL)
    browser.screenshot(served.base + "/", phone, PHONE)
    for shot in (wall, phone):
        assert shot.stat().st_size > 20_000, f"{shot} looks blank"


# --------------------------------------------------------------------------- hostile data

HOSTILE = '<img id="injected" src="x" onerror="document.title=\'owned\'">'


def _hostile_alert(kind: str, **extra: Any) -> dict[str, Any]:
    alert = dict.fromkeys(
        ("previous_digest", "cause", "resolves", "lag_seconds", "failure_reason"), None
    )
    alert.update(
        schema="ecr-replication-auditor/alert/v1",
        kind=kind,
        severity="critical",
        incident_id=f"{kind.lower()}-1",
        summary=HOSTILE,
        repository="team/" + HOSTILE,
        tag=HOSTILE,
        digest="sha256:" + "a" * 64,
        source={"account": "111111111111", "region": "us-west-2"},
        destination={"account": HOSTILE, "region": "eu-west-1"},
        pushed_at="2026-11-27T10:00:00Z",
        due_at="2026-11-27T10:30:00Z",
        detected_at="2026-11-27T10:35:00Z",
    )
    alert.update(extra)
    return alert


HOSTILE_API = {
    "/status": {
        "healthy": False,
        "as_of": "2026-11-27T11:00:00Z",
        "open_incidents": 1,
        "counts": {
            "pending": 0,
            "missing": 0,
            "failed": 1,
            "replicated_24h": 0,
            "overwritten_24h": 1,
        },
        "incidents": [_hostile_alert("REPLICATION_FAILED", failure_reason=HOSTILE)],
    },
    "/incidents": {
        "incidents": [
            _hostile_alert(
                "TAG_OVERWRITTEN",
                cause=HOSTILE,
                previous_digest="sha256:" + "b" * 64,
                state="resolved",
                resolved_at="2026-11-27T10:50:00Z",
                detected_at="2026-11-27T10:50:00Z",
            )
        ],
        "next_cursor": None,
    },
    "/repositories": {
        "repositories": [
            {
                "repository": "team/" + HOSTILE,
                "destinations": [
                    {
                        "digest": HOSTILE,
                        "tag": HOSTILE,
                        "source": {"account": "111111111111", "region": "us-west-2"},
                        "destination": {"account": HOSTILE, "region": HOSTILE},
                        "state": HOSTILE,
                        "pushed_at": "2026-11-27T10:00:00Z",
                        "due_at": "2026-11-27T10:30:00Z",
                        "replicated_at": None,
                        "lag_seconds": None,
                    }
                ],
            }
        ]
    },
}


@pytest.fixture
def hostile_api() -> Iterator[str]:
    """The dashboard page next to a fake API whose every string is an HTML injection attempt."""
    from chalicelib.api import dashboard_html

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/":
                body, kind = dashboard_html().encode(), "text/html; charset=utf-8"
            elif path in HOSTILE_API:
                body, kind = json.dumps(HOSTILE_API[path]).encode(), "application/json"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_dashboard_escapes_every_value_from_the_api(browser: Browser, hostile_api: str):
    dom = browser.dom(hostile_api + "/", PHONE)
    assert 'data-loaded="true"' in dom
    # serialised text escapes "<", and attributes escape quotes: only markup matches this
    assert '<img id="injected"' not in dom, "API data was inserted as HTML"
    assert "owned" not in dom.split("</title>", 1)[0]
    assert "&lt;img id=" in dom, "the hostile text is shown as text"
