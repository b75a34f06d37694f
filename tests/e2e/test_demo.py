"""`cli demo` end to end: the printed alerts tell the scenario's story; Ctrl-C leaves nothing."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib.core.documents import CAUSE_TEXT
from chalicelib.local.emulator import free_port
from tests.e2e.demo_process import (
    ROOT,
    ServedDemo,
    demo_env,
    emulator_port,
    get_json,
    port_open,
    start_served_demo,
)

KINDS = (
    "REPLICA_MISSING",
    "REPLICATION_FAILED",
    "TAG_OVERWRITTEN",
    "TAG_DRIFT",
    "DELETE_NOT_REPLICATED",
    "PINNED_DIGEST_MISSING",
    "RECOVERED",
)
# "  16:45  ⚠ TAG_OVERWRITTEN    team/api:latest   in prod 222222222222/eu-west-1   why..."
ALERT_LINE = re.compile(
    r"^\s+(?P<time>\d\d:\d\d)\s+\S\s(?P<kind>" + "|".join(KINDS) + r")\s+(?P<image>\S+)\s+"
    r"in (?P<name>\w+) (?P<where>\d{12}/[a-z0-9-]+)\s+(?P<why>.+)$"
)
PROD = "222222222222/eu-west-1"
DR = "333333333333/us-east-1"

# The story the scenario tells, in publish order: (kind, image, where, words of the reason).
STORY = [
    ("TAG_OVERWRITTEN", "team/api:latest", PROD, CAUSE_TEXT["replication_overwrote_local_tag"]),
    ("REPLICA_MISSING", "team/worker:v3.1.0", DR, "not there by"),
    ("REPLICATION_FAILED", "team/billing:v0.9.0", PROD, "FAILED"),
    ("RECOVERED", "team/billing:v0.9.0", PROD, "REPLICATION_FAILED closed"),
    ("TAG_OVERWRITTEN", "team/web:v2.0.0", PROD, CAUSE_TEXT["local_push_overwrote_replica_tag"]),
    ("REPLICA_MISSING", "tools/builder:2024.11.2", PROD, "not there by"),
    ("RECOVERED", "tools/builder:2024.11.2", PROD, "REPLICA_MISSING closed, arrived 72 min"),
    ("PINNED_DIGEST_MISSING", "secure/vault", PROD, "pinned by 1 workload, gone from the"),
    ("DELETE_NOT_REPLICATED", "secure/vault:v1", DR, "deleted at the source, still there"),
    ("RECOVERED", "secure/vault", PROD, "PINNED_DIGEST_MISSING closed"),
    ("RECOVERED", "secure/vault:v1", DR, "DELETE_NOT_REPLICATED closed"),
    ("TAG_DRIFT", "team/payments:stable", DR, "the tag names"),
]


def normalised(output: str) -> str:
    """What stays the same from run to run: no dates, times, ports, random names or progress."""
    lines = [line for line in output.splitlines() if not re.match(r"\s+\[\s*\d+%\]", line)]
    text = "\n".join(lines).strip()
    text = re.sub(r"\d{4}-\d\d-\d\d(?:T\d\d:\d\d:\d\dZ| \d\d:\d\d)?", "<date>", text)
    text = re.sub(r"\b\d\d:\d\d\b", "<hh:mm>", text)
    text = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:<port>", text)
    text = re.sub(r"-[0-9a-f]{8}\b", "-<suffix>", text)
    text = re.sub(r"replayed \d+ events \(\d+ sweeps", "replayed <n> events (<n> sweeps", text)
    return re.sub(r"\d+\.\d s in all", "<n> s in all", text)


def documented(name: str) -> str:
    """The fenced block after `<!-- example: NAME -->` in docs/demo.md."""
    page = (ROOT / "docs" / "demo.md").read_text()
    found = re.search(rf"<!-- example: {re.escape(name)} -->\n```\w*\n(.*?)```", page, re.S)
    assert found, f"docs/demo.md has no example block {name!r}"
    return found.group(1)


def printed_alerts(output: str) -> list[dict[str, str]]:
    return [m.groupdict() for line in output.splitlines() if (m := ALERT_LINE.match(line))]


def assert_story(output: str) -> None:
    alerts = printed_alerts(output)
    told = [(a["kind"], a["image"], a["where"]) for a in alerts]
    assert told == [(kind, image, where) for kind, image, where, _ in STORY], output
    for alert, (*_, words) in zip(alerts, STORY, strict=True):
        assert words in alert["why"], alert
    times = [a["time"] for a in alerts]
    # the day wraps past midnight, so check order through the story's own pairs instead
    assert times[2] < times[3], "the failure is published before its recovery"
    assert times[5] < times[6], "the late replica is missing before it recovers"
    assert times[7] < times[9], "the pinned digest is missing before it recovers"
    assert times[8] < times[10], "the deletion not replicated is announced before its recovery"
    # what runs the images: the service on prod's overwritten `latest`, the function pinning
    # the digest the replicated deletion removed
    assert re.search(r"→ ECS prod/api runs \w{12}…; its next deployment takes \w{12}…", output)
    assert "→ Lambda vault-rotator pins" in output


def test_demo_once_tells_the_story_and_prints_the_status() -> None:
    port = free_port()
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "chalicelib.cli", "demo", "--once", "--port", str(port)],
        cwd=ROOT,
        env=demo_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    elapsed = time.monotonic() - started
    output = result.stdout
    assert result.returncode == 0, output + result.stderr
    assert elapsed < 60, f"the demo took {elapsed:.0f} s"

    assert_story(output)
    assert normalised(output) == normalised(documented("demo once")), "docs/demo.md is stale"
    assert "\033[" not in output, "no colour codes when stdout is not a terminal"
    assert "[100%]" in output, "the replay reports its progress"
    assert "published 12 alerts" in output

    # the status table comes after the alerts
    status_at = output.index("ECR replication status as of")
    assert status_at > output.index("RECOVERED")
    status = output[status_at:]
    assert "UNHEALTHY" in status.splitlines()[0]
    assert "Open incidents: 2" in status
    # destinations carry the demo's LOCATION_NAMES
    assert re.search(
        r"REPLICA_MISSING\s+team/worker\s+v3\.1\.0\s+dr 333333333333/us-east-1", status
    )
    assert re.search(r"team/worker\s+v3\.1\.0\s+dr 333333333333/us-east-1\s+missing", status)
    assert re.search(r"overwritten \(24h\) 2\b", status)
    assert not re.search(r"replicated \(24h\) 0\b", status), "the day ends within the 24 h window"

    # --once serves nothing, and its emulator is gone
    assert not port_open(port)
    assert not port_open(emulator_port(output))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedDemo]:
    log = Path(tmp_path_factory.mktemp("demo")) / "demo.log"
    demo = start_served_demo(free_port(), log)
    try:
        yield demo
    finally:
        demo.stop()


def test_served_demo_prints_the_story_before_serving(served: ServedDemo) -> None:
    output = served.output()
    assert_story(output)
    assert f"http://127.0.0.1:{served.port}/" in output


def test_served_demo_api_holds_the_day(served: ServedDemo) -> None:
    status = get_json(served.base, "status")
    assert status["healthy"] is False
    assert status["open_incidents"] == 2
    assert [(i["kind"], i["repository"]) for i in status["incidents"]] == [
        ("TAG_DRIFT", "team/payments"),  # DR's immutable `stable` kept its old image
        ("REPLICA_MISSING", "team/worker"),
    ]
    counts = status["counts"]
    assert counts["missing"] == 1 and counts["failed"] == 0 and counts["pending"] == 1
    assert counts["drifted"] == 1 and counts["undeleted"] == 0
    assert counts["replicated_24h"] >= 10 and counts["overwritten_24h"] == 2

    resolved = get_json(served.base, "incidents?state=resolved&limit=100")["incidents"]
    causes = sorted(i["cause"] for i in resolved if i["kind"] == "TAG_OVERWRITTEN")
    assert causes == ["local_push_overwrote_replica_tag", "replication_overwrote_local_tag"]
    assert sorted(i["kind"] for i in resolved if i["kind"] != "TAG_OVERWRITTEN") == [
        "DELETE_NOT_REPLICATED",  # secure/vault's deletion, carried to DR by hand
        "PINNED_DIGEST_MISSING",  # prod's function on the deleted digest, moved to v2
        "REPLICATION_FAILED",
        "REPLICA_MISSING",
    ]

    cells = {
        (repo["repository"], cell["destination"]["region"]): cell
        for repo in get_json(served.base, "repositories")["repositories"]
        for cell in repo["destinations"]
    }
    assert cells[("team/worker", "us-east-1")]["state"] == "missing"
    assert cells[("tools/builder", "eu-west-1")]["lag_seconds"] == 72 * 60
    assert ("sandbox/scratch", "eu-west-1") not in cells, "no rule matches sandbox/"
    # what runs where: prod/api on team/api, vault-rotator on secure/vault (both in prod)
    assert cells[("team/api", "eu-west-1")]["workloads"] == 1
    assert cells[("secure/vault", "eu-west-1")]["workloads"] == 1
    assert cells[("team/api", "us-east-1")]["workloads"] == 0
    running = get_json(served.base, "workloads?repository=team/api")["workloads"]
    assert [(w["type"], w["name"], w["tag"], w["pinned"]) for w in running] == [
        ("ecs-service", "prod/api", "latest", True)
    ]

    with urllib.request.urlopen(served.base + "/", timeout=10) as page:
        assert page.headers["Content-Type"].startswith("text/html")
        assert b"ECR Replication Auditor" in page.read()


def test_ctrl_c_stops_everything_the_demo_started(served: ServedDemo) -> None:
    moto_port = emulator_port(served.output())
    assert port_open(served.port) and port_open(moto_port)

    assert served.interrupt() == 0

    assert not port_open(served.port), "the HTTP server still listens"
    assert not port_open(moto_port), "the AWS emulator still listens"
    assert "stopping" in served.output()
