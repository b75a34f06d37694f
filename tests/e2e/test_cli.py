"""The command line as a user runs it: separate processes against the session's moto server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests import events as ev
from tests.conftest import ROOT


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chalicelib.cli", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_help_lists_every_command():
    result = cli("--help")
    assert result.returncode == 0
    for command in ("demo", "provision", "replay", "status"):
        assert command in result.stdout


def test_provision_replay_status_round_trip(moto_endpoint, tmp_path: Path):
    provisioned = cli("provision")
    assert provisioned.returncode == 0, provisioned.stderr
    env = json.loads(provisioned.stdout)
    assert set(env) == {
        "AUDIT_TABLE",
        "ALERT_TOPIC_ARN",
        "CURSOR_KEY_SECRET_ARN",
        "AWS_ENDPOINT_URL",
    }
    env["REPLICATION_CONFIG"] = json.dumps(ev.DEFAULT_CONFIG)
    env_file = tmp_path / "env.json"
    env_file.write_text(json.dumps(env))

    lines = tmp_path / "events.jsonl"
    lines.write_text(
        "\n".join(
            json.dumps(e)
            for e in (
                ev.push(ev.DEV, "team/api", "v1", ev.digest(1), ev.at(0)),
                ev.replication(ev.PROD, ev.DEV, "team/api", "v1", ev.digest(1), ev.at(3)),
                {**ev.push(ev.DEV, "x", "v", ev.digest(9), ev.at(1)), "source": "aws.s3"},
            )
        )
    )
    array = tmp_path / "sweeps.json"
    array.write_text(json.dumps([ev.schedule(ev.at(40))]))
    replayed = cli("replay", "--env-file", str(env_file), str(lines), str(array))
    assert replayed.returncode == 0, replayed.stderr
    assert "[1/4]" in replayed.stderr and "-> on_image_action" in replayed.stderr
    assert "-> on_replication_action" in replayed.stderr and "-> sweep" in replayed.stderr
    assert "replayed 4 event(s): 3 delivered, 0 rejected, 0 ignored, 1 unmatched" in replayed.stderr

    table = cli("status", "--env-file", str(env_file))
    assert table.returncode == 0, table.stderr
    assert "UNHEALTHY" in table.stdout and "REPLICA_MISSING" in table.stdout
    assert ev.DR[0] in table.stdout
    as_json = json.loads(cli("status", "--env-file", str(env_file), "--json").stdout)
    assert as_json["counts"]["missing"] == 1


def test_helpful_errors():
    no_env = cli("status", env={"AUDIT_TABLE": "", "ALERT_TOPIC_ARN": ""})
    assert no_env.returncode != 0 and "AUDIT_TABLE is required" in no_env.stderr
    assert "--env-file" in no_env.stderr
    refused = cli("provision", env={"AWS_ENDPOINT_URL": ""})
    assert refused.returncode == 2 and "refusing" in refused.stderr
    missing = cli("replay", "--env-file", "/nonexistent/env.json", "x.json")
    assert missing.returncode == 2 and "cannot read x.json" in missing.stderr
    assert "AUDIT_TABLE" not in missing.stderr  # the missing file is named first


def test_replay_reports_bad_events_delivers_the_rest_and_exits_2(moto_endpoint, tmp_path: Path):
    env = json.loads(cli("provision").stdout)
    env["REPLICATION_CONFIG"] = json.dumps(ev.DEFAULT_CONFIG)
    env_file = tmp_path / "env.json"
    env_file.write_text(json.dumps(env))
    truncated = ev.push(ev.DEV, "team/api", "v1", ev.digest(1), ev.at(0))
    del truncated["resources"]
    ancient = ev.push(ev.DEV, "team/api", "v1", ev.digest(1), ev.at(0), event_id="ancient-1")
    ancient["time"] = "0001-01-01T00:00:00Z"
    good = ev.push(ev.DEV, "team/api", "v1", ev.digest(2), ev.at(1))
    stranger = ev.push(("999999999999", "us-west-2"), "team/api", "v1", ev.digest(3), ev.at(2))
    events = tmp_path / "events.json"
    events.write_text(json.dumps([truncated, ancient, "not an event", good, stranger]))
    replayed = cli("replay", "--env-file", str(env_file), str(events))
    assert replayed.returncode == 2, replayed.stderr
    assert "[1/5] rejected ECR Image Action" in replayed.stderr
    assert "not an EventBridge event: missing resources" in replayed.stderr
    assert "[2/5] rejected ECR Image Action ancient-1: time 0001-01-01T00:00:00Z" in replayed.stderr
    assert "[3/5] rejected ?: not an EventBridge event: a JSON str" in replayed.stderr
    assert "ignored (from unmonitored account 999999999999)" in replayed.stderr
    assert "replayed 5 event(s): 1 delivered, 3 rejected, 1 ignored, 0 unmatched" in replayed.stderr
    status = json.loads(cli("status", "--env-file", str(env_file), "--json").stdout)
    assert status["counts"]["pending"] == 2  # the good push, to prod and DR


def test_replay_refuses_empty_and_broken_files(tmp_path: Path):
    empty = tmp_path / "empty.json"
    empty.write_text("\n")
    result = cli("replay", str(empty))
    assert result.returncode == 2 and "holds no events" in result.stderr
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": 1}\n{"id": \n')
    result = cli("replay", str(broken))
    assert result.returncode == 2 and "broken.jsonl:2:8: not JSON" in result.stderr
