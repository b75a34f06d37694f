"""The dashboard in a real headless Chromium: the served demo, hostile data, a crowded API.

Chromium is driven through its own command line (`--dump-dom` after the page's scripts ran,
`--screenshot`), so no extra Python dependency is needed. Where it is missing, the browser
tests are skipped with the reason; `make test` installs Debian's `chromium` beforehand when it
runs as root (scripts/install-browser.sh, which lists the packages before installing them).

Layout is measured inside the browser by a probe page (PROBE_PAGE) that loads the dashboard in a
same-origin iframe of the size under test, waits for its first refresh, and writes what it
measured (scrollable boxes, overflow, how many items each list shows) into its own DOM.
Screenshots land in test-artifacts/.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
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
DESKTOP = (1280, 800)  # a laptop or a wall screen: nothing may scroll
PHONE = (390, 844)
SIZES = {"desktop": DESKTOP, "phone": PHONE}


def _find_browser() -> str | None:
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


@pytest.fixture(scope="session")
def chromium() -> str:
    found = _find_browser()
    if found is None:
        # Installing is `make test`'s business (scripts/install-browser.sh), which says what it
        # installs before it does; a test session installs nothing system-wide.
        pytest.skip(
            "headless Chromium unavailable: `make test` installs Debian's chromium when it runs "
            "as root with apt-get (sh scripts/install-browser.sh)"
        )
    return found


class Browser:
    """One fresh headless Chromium profile per call; loopback only."""

    def __init__(self, executable: str) -> None:
        self.executable = executable

    def _run(
        self, url: str, size: tuple[int, int], *extra: str, hide_scrollbars: bool = True
    ) -> str:
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
                *(["--hide-scrollbars"] if hide_scrollbars else []),
                f"--user-data-dir={profile}",
                f"--window-size={size[0]},{size[1]}",
                # time for the page's fetches and rendering, in virtual time: no sleeps
                "--virtual-time-budget=8000",
                *extra,
                url,
            ]
            # Chromium writes its certificate store and caches under HOME: keep them in the
            # throw-away profile rather than the user's home directory.
            result = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=120,
                env={**os.environ, "HOME": profile},
            )
        assert result.returncode == 0, f"chromium exited {result.returncode}: {result.stderr}"
        return result.stdout

    def dom(self, url: str, size: tuple[int, int] = DESKTOP) -> str:
        return self._run(url, size, "--dump-dom")

    def screenshot(self, url: str, path: Path, size: tuple[int, int]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        # Desktop scrollbars take room and show, so a stray one is visible in the picture;
        # phones overlay theirs, so the phone picture hides them as a phone would.
        self._run(url, size, f"--screenshot={path}", hide_scrollbars=size == PHONE)
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
    # what runs the images: the service on prod's overwritten latest, and per cell how many
    # workloads run the repository there (workload discovery, docs/workloads.md)
    (overwrite,) = [i for i in overwrites if i["workloads"]]
    item = dom.split(f'data-incident-id="{overwrite["incident_id"]}"', 1)[1].split("</li>", 1)[0]
    assert 'data-workloads="1"' in item and "ECS prod/api" in item
    row = dom.split('data-repository="team/api"', 1)[1].split("</tr>", 1)[0]
    assert row.count('data-workloads="1"') == 1 and "1 workload" in row


def test_dashboard_screenshots_for_a_wall_screen_and_a_phone(browser: Browser, served):
    wall = ARTIFACTS / "dashboard.png"
    phone = ARTIFACTS / "dashboard-phone.png"
    browser.screenshot(served.base + "/", wall, DESKTOP)
    browser.screenshot(served.base + "/", phone, PHONE)
    for shot in (wall, phone):
        assert shot.stat().st_size > 20_000, f"{shot} looks blank"
    # The README's picture is this one, and its caption says what this demo shows.
    shutil.copyfile(wall, ROOT / "docs" / "dashboard.png")
    assert_caption_tells(get_json(served.base, "status"))


NUMBERS = {1: "one", 2: "two", 3: "three", 4: "four"}


def assert_caption_tells(status: dict[str, Any]) -> None:
    readme = (ROOT / "README.md").read_text()
    found = re.search(r"!\[([^\]]+)\]\(docs/dashboard\.png\)", readme)
    assert found, "README shows docs/dashboard.png"
    caption = found.group(1)
    opened = NUMBERS[status["open_incidents"]]
    assert f"{opened} open incidents" in caption, caption
    for incident in status["incidents"]:
        assert incident["kind"] in caption, f"{incident['kind']} is open but not in {caption!r}"
    overwrites = NUMBERS[status["counts"]["overwritten_24h"]]
    assert f"{overwrites} tag overwrites" in caption, caption


# --------------------------------------------------------------------------- layout probe

# Each list the page may cap: its panel, and what one shown item is.
LISTS = {
    "incidents": ("incidents-panel", "#incidents li.item"),
    "overwrites": ("overwrites-panel", "#overwrites li.item"),
    "lag": ("lag-panel", "#lag .lag-row"),
    "matrix": ("matrix-panel", "#matrix tbody tr"),
}

PROBE_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><style>html, body { margin: 0 } iframe { border: 0;
display: block }</style></head><body>
<iframe id="page" src="__SRC__" width="__WIDTH__" height="__HEIGHT__"></iframe>
<pre id="probe"></pre>
<script>
const LISTS = __LISTS__;
const frame = document.getElementById("page");
function measure() {
  const doc = frame.contentDocument;
  if (!doc || !doc.body || doc.body.dataset.loaded !== "true") { setTimeout(measure, 50); return; }
  const win = frame.contentWindow, root = doc.scrollingElement;
  const found = {page: {scrollWidth: root.scrollWidth, clientWidth: root.clientWidth,
    scrollHeight: root.scrollHeight, clientHeight: root.clientHeight},
    scrollable: [], outside: [], lists: {}};
  const name = (node) => node.tagName.toLowerCase() + (node.id ? "#" + node.id : "") +
    (typeof node.className === "string" && node.className ? "." + node.className : "");
  for (const node of doc.querySelectorAll("body *")) {
    const style = win.getComputedStyle(node);
    const scrolls = (overflow) => overflow === "auto" || overflow === "scroll";
    if ((scrolls(style.overflowX) && node.scrollWidth > node.clientWidth) ||
        (scrolls(style.overflowY) && node.scrollHeight > node.clientHeight)) {
      found.scrollable.push([name(node), node.scrollWidth, node.clientWidth,
        node.scrollHeight, node.clientHeight]);
    }
    // what a scrolling box holds is reported once, as that box, above
    let holder = node.parentElement, clipped = false;
    for (; holder && holder !== doc.body; holder = holder.parentElement) {
      if (win.getComputedStyle(holder).overflowX !== "visible") { clipped = true; break; }
    }
    const box = node.getBoundingClientRect();
    if (!clipped && box.width > 0 && (box.right > root.clientWidth + 0.5 || box.left < -0.5)) {
      found.outside.push([name(node), box.left, box.right]);
    }
  }
  // widths the page sets through the CSSOM, which a strict Content-Security-Policy allows
  found.bars = [...doc.querySelectorAll("#lag .bar i")].map((bar) => bar.offsetWidth);
  found.problem = (doc.getElementById("problem") || {textContent: ""}).textContent;
  for (const [list, [panel, item]] of Object.entries(LISTS)) {
    found.lists[list] = {shown: doc.querySelectorAll(item).length,
      text: doc.getElementById(panel).textContent};
  }
  document.getElementById("probe").textContent = JSON.stringify(found);
}
frame.addEventListener("load", measure);
</script></body></html>"""


class PageServer:
    """Serves the probe page, and every other path from `upstream` or from a fixed API."""

    def __init__(
        self,
        upstream: str | None = None,
        api: dict[str, Any] | None = None,
        page: str | None = None,
    ) -> None:
        from chalicelib.entrypoints.api import dashboard_html

        server_self = self
        self.upstream, self.api = upstream, api or {}
        self.page = page if page is not None else dashboard_html()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                status, kind, body = 200, "application/json", b""
                extra: dict[str, str] = {}
                if path == "/__probe":
                    query = urllib.parse.parse_qs(self.path.split("?", 1)[1])
                    page = PROBE_PAGE.replace("__LISTS__", json.dumps(LISTS))
                    for key in ("SRC", "WIDTH", "HEIGHT"):
                        page = page.replace(f"__{key}__", html.escape(query[key.lower()][0]))
                    kind, body = "text/html; charset=utf-8", page.encode()
                elif server_self.upstream:
                    # the link's token travels as a header; the page's CSP comes back as one
                    request = urllib.request.Request(
                        server_self.upstream + self.path,
                        headers={k: v for k, v in self.headers.items() if k == "Authorization"},
                    )
                    try:
                        with urllib.request.urlopen(request) as answer:
                            kind, body = answer.headers["Content-Type"], answer.read()
                            extra = {
                                k: v
                                for k, v in answer.headers.items()
                                if k.lower() == "content-security-policy"
                            }
                    except urllib.error.HTTPError as error:
                        status, body = error.code, error.read()
                elif path == "/":
                    kind, body = "text/html; charset=utf-8", server_self.page.encode()
                elif path in server_self.api:
                    body = json.dumps(server_self.api[path]).encode()
                else:
                    status, body = 404, b'{"error": "not found"}'
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                for key, value in extra.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def probe(browser: Browser, server: PageServer, size: tuple[int, int], src: str = "/") -> dict:
    query = urllib.parse.urlencode({"src": src, "width": size[0], "height": size[1]})
    dom = browser._run(f"{server.base}/__probe?{query}", (size[0], size[1] + 100), "--dump-dom")
    found = re.search(r'<pre id="probe">(.+?)</pre>', dom, re.S)
    assert found, "the dashboard never finished a refresh inside the probe"
    return dict(json.loads(html.unescape(found.group(1))))


def assert_nothing_scrolls_sideways_or_stray(found: dict, size: tuple[int, int]) -> None:
    page = found["page"]
    assert page["scrollWidth"] <= page["clientWidth"], f"horizontal page scrollbar at {size}"
    assert not found["outside"], f"boxes stick out of the {size} viewport: {found['outside']}"
    assert not found["scrollable"], f"stray scrollbars at {size}: {found['scrollable']}"


def assert_capped_lists_say_so(found: dict, totals: dict[str, int]) -> None:
    for name, total in totals.items():
        shown, text = found["lists"][name]["shown"], found["lists"][name]["text"]
        assert shown <= total, (name, shown, total)
        if shown < total:
            assert f"showing {shown} of {total}" in text, f"{name} hides {total - shown} silently"


def api_totals(status: dict, repositories: dict) -> dict[str, int]:
    """How many items each list has to show, from the API the page reads."""
    cells = [c for r in repositories["repositories"] for c in r["destinations"]]
    return {
        "incidents": status["open_incidents"],
        "overwrites": status["counts"]["overwritten_24h"],
        "lag": sum(1 for c in cells if c.get("lag_seconds") is not None),
        "matrix": len(repositories["repositories"]),
    }


@pytest.fixture(scope="module")
def demo_pages(served: ServedDemo) -> Iterator[PageServer]:
    server = PageServer(upstream=served.base)
    try:
        yield server
    finally:
        server.close()


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_demo_dashboard_fits_without_stray_scrollbars(
    browser: Browser, served: ServedDemo, demo_pages: PageServer, size: tuple[int, int]
) -> None:
    found = probe(browser, demo_pages, size)
    assert_nothing_scrolls_sideways_or_stray(found, size)
    if size == DESKTOP:  # a wall screen cannot scroll: the whole picture fits
        assert found["page"]["scrollHeight"] <= found["page"]["clientHeight"], found["page"]
    status = get_json(served.base, "status")
    totals = api_totals(status, get_json(served.base, "repositories"))
    assert totals["lag"] > found["lists"]["lag"]["shown"], "the demo has more lags than rows"
    assert_capped_lists_say_so(found, totals)
    # destinations carry the demo's LOCATION_NAMES, as the command line shows them
    assert "dr 333333333333/us-east-1" in found["lists"]["incidents"]["text"]
    assert "prod" in found["lists"]["matrix"]["text"] and "dr" in found["lists"]["matrix"]["text"]


def demo_link(demo: ServedDemo) -> str:
    found = re.search(r"^Link\s+(\S+#token=\S+)$", demo.output(), re.M)
    assert found, f"the demo printed no dashboard link:\n{demo.output()}"
    return found.group(1)


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_a_dashboard_link_opens_the_dashboard_under_its_content_security_policy(
    browser: Browser, served: ServedDemo, demo_pages: PageServer, size: tuple[int, int]
) -> None:
    link = demo_link(served)
    view = link.removeprefix(served.base)  # /view#token=…, through the probe's origin
    found = probe(browser, demo_pages, size, src=view)
    assert found["problem"] == "", found["problem"]
    assert_nothing_scrolls_sideways_or_stray(found, size)
    status = get_json(served.base, "status")
    assert_capped_lists_say_so(found, api_totals(status, get_json(served.base, "repositories")))
    assert found["bars"] and max(found["bars"]) > 0, "the lag bars got their widths"
    label = "desktop" if size == DESKTOP else "phone"
    browser.screenshot(link, ARTIFACTS / f"dashboard-link-{label}.png", size)


def test_the_view_without_a_link_says_how_to_get_one(browser: Browser, served: ServedDemo):
    dom = browser.dom(served.base + "/view")
    problem = dom.split('id="problem"', 1)[1].split("</div>", 1)[0]
    assert "ecr-audit dashboard-link" in problem
    assert 'data-loaded="true"' not in dom and ">LOADING<" in dom, "no data without a link"


def crowded_api(repositories: int = 14, incidents: int = 9, overwrites: int = 7) -> dict:
    """More of everything than the page shows, with long names, four named destinations."""
    names = {"222222222222/eu-west-1": "prod", "333333333333/us-east-1": "disaster-recovery"}
    destinations = [
        {"account": "222222222222", "region": "eu-west-1"},
        {"account": "333333333333", "region": "us-east-1"},
        {"account": "444444444444", "region": "ap-southeast-2"},
        {"account": "555555555555", "region": "eu-central-1"},
    ]
    source = {"account": "111111111111", "region": "us-west-2"}
    rows = []
    for n in range(repositories):
        cells = []
        for d, destination in enumerate(destinations):
            state = ("replicated", "pending", "missing", "replicated")[(n + d) % 4]
            cells.append(
                {
                    "digest": "sha256:" + f"{n:02d}{d}" * 21 + "a",
                    "tag": f"v{n}.{d}.0-release-candidate-{n}",
                    "source": source,
                    "destination": destination,
                    "state": state,
                    "pushed_at": "2026-11-27T10:00:00Z",
                    "due_at": "2026-11-27T10:30:00Z",
                    "replicated_at": "2026-11-27T10:05:00Z" if state == "replicated" else None,
                    "lag_seconds": 300 + 60 * n if state == "replicated" else None,
                }
            )
        rows.append(
            {"repository": f"platform/team-{n}/service-with-a-long-name", "destinations": cells}
        )

    def alert(kind: str, n: int, **extra: Any) -> dict[str, Any]:
        document = _hostile_alert(kind, **extra)
        document.update(
            incident_id=f"{kind.lower()}-{n}",
            summary=f"{kind} number {n}",
            repository=f"platform/team-{n}/service-with-a-long-name",
            tag=f"v{n}.0.0",
            destination=destinations[n % 4],
            detected_at=f"2026-11-27T10:{n:02d}:00Z",
        )
        return document

    open_incidents = [alert("REPLICA_MISSING", n) for n in range(incidents)]
    resolved = [
        alert("TAG_OVERWRITTEN", n, cause="replication_overwrote_local_tag", state="resolved")
        for n in range(overwrites)
    ]
    return {
        "/status": {
            "healthy": False,
            "as_of": "2026-11-27T11:00:00Z",
            "open_incidents": incidents,
            "counts": {
                "pending": 3,
                "missing": incidents,
                "failed": 0,
                "drifted": 0,
                "undeleted": 0,
                "replicated_24h": 40,
                "overwritten_24h": overwrites,
            },
            "incidents": open_incidents,
            "names": names,
        },
        "/incidents": {"incidents": resolved, "next_cursor": None},
        "/repositories": {"repositories": rows, "names": names},
    }


@pytest.fixture(scope="module")
def crowded() -> Iterator[tuple[PageServer, dict]]:
    api = crowded_api()
    server = PageServer(api=api)
    try:
        yield server, api
    finally:
        server.close()


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_crowded_dashboard_says_what_it_leaves_out_and_never_scrolls_sideways(
    browser: Browser, crowded: tuple[PageServer, dict], size: tuple[int, int]
) -> None:
    server, api = crowded
    found = probe(browser, server, size)
    assert_nothing_scrolls_sideways_or_stray(found, size)
    totals = api_totals(api["/status"], api["/repositories"])
    for name in ("incidents", "overwrites", "lag"):
        assert found["lists"][name]["shown"] < totals[name], f"{name} is not capped here"
    assert_capped_lists_say_so(found, totals)
    assert found["lists"]["matrix"]["shown"] == totals["matrix"], "every repository has a row"
    assert "disaster-recovery" in found["lists"]["matrix"]["text"]
    label = "desktop" if size == DESKTOP else "phone"
    browser.screenshot(server.base + "/", ARTIFACTS / f"dashboard-crowded-{label}.png", size)


FLAWED_PAGE = """<!doctype html><html><body data-loaded="true">
<section id="incidents-panel"><ul id="incidents"></ul></section>
<section id="overwrites-panel"><ul id="overwrites"></ul></section>
<section id="matrix-panel"><div id="matrix" style="overflow-x: auto; height: 40px">
<div style="height: 44px">a box 4 px taller than its scrolling parent</div></div></section>
<section id="lag-panel"><div id="lag"><div class="lag-row">one of two rows</div></div></section>
</body></html>"""


def test_the_probe_sees_a_stray_scrollbar_and_a_silent_cut(browser: Browser) -> None:
    """The checks above can fail: a page with a scrolling box and a list cut without a word."""
    server = PageServer(page=FLAWED_PAGE)
    try:
        found = probe(browser, server, DESKTOP)
    finally:
        server.close()
    with pytest.raises(AssertionError, match="stray scrollbars"):
        assert_nothing_scrolls_sideways_or_stray(found, DESKTOP)
    with pytest.raises(AssertionError, match="lag hides 1 silently"):
        assert_capped_lists_say_so(found, {"lag": 2})


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
        "incidents": [
            _hostile_alert(
                "REPLICATION_FAILED",
                failure_reason=HOSTILE,
                workloads=[{"type": "ecs-service", "name": HOSTILE, "digest": HOSTILE}],
            )
        ],
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
                        "workloads": HOSTILE,
                    }
                ],
            }
        ]
    },
}


@pytest.fixture
def hostile_api() -> Iterator[str]:
    """The dashboard page next to a fake API whose every string is an HTML injection attempt."""
    from chalicelib.entrypoints.api import dashboard_html

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
