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


def test_provision_replay_status_round_trip(moto_endpoint, tmp_path: Path):
    provisioned = cli("provision")
    assert provisioned.returncode == 0, provisioned.stderr
    env = json.loads(provisioned.stdout)
    assert set(env) == {
        "AUDIT_TABLE",
        "ALERT_TOPIC_ARN",
        "DASHBOARD_LINK_KEY_ARN",
        "AWS_ENDPOINT_URL",
        "AWS_DEFAULT_REGION",
    }
    assert "no replication rules given" in provisioned.stderr, "says why events would be ignored"
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


def one_line_error(result: subprocess.CompletedProcess[str], code: int, *words: str) -> str:
    """The command failed with `code` and one line on stderr naming the problem."""
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if not line.startswith("provisioning")]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def test_helpful_errors():
    no_env = cli("status", env={"AUDIT_TABLE": "", "ALERT_TOPIC_ARN": ""})
    one_line_error(no_env, 2, "AUDIT_TABLE is required", "--env-file")
    refused = cli("provision", env={"AWS_ENDPOINT_URL": ""})
    one_line_error(refused, 2, "refusing", "--real-aws")
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


def test_every_command_has_help_and_the_top_level_lists_each_once():
    top = cli("--help")
    assert top.returncode == 0
    for command in ("demo", "provision", "replay", "status"):
        listed = [line for line in top.stdout.splitlines() if line.split()[:1] == [command]]
        assert len(listed) == 1, (command, top.stdout)
        own = cli(command, "--help")
        assert own.returncode == 0 and own.stdout.startswith("usage:"), own.stderr
        assert "examples:" in own.stdout
    assert "exit codes" in top.stdout


def test_usage_errors_are_one_line_with_exit_2():
    one_line_error(cli(), 2, "COMMAND", "--help")
    one_line_error(cli("nope"), 2, "invalid choice", "--help")
    one_line_error(cli("status", "--nope"), 2, "--nope")
    one_line_error(cli("demo", "--port", "0"), 2, "--port")


def test_a_stopped_emulator_is_one_line_and_exit_1(tmp_path: Path):
    from chalicelib.local.emulator import free_port

    down = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}  # nothing listens there
    one_line_error(cli("provision", env=down), 1, "cannot reach", down["AWS_ENDPOINT_URL"])
    env_file = tmp_path / "env.json"
    env_file.write_text(json.dumps({"AUDIT_TABLE": "t", "ALERT_TOPIC_ARN": "arn:aws:sns:x"}))
    status = cli("status", "--env-file", str(env_file), env=down)
    one_line_error(status, 1, "cannot reach", "start the emulator")


def test_status_of_a_table_that_does_not_exist(moto_endpoint, tmp_path: Path):
    env_file = tmp_path / "env.json"
    topic = "arn:aws:sns:us-east-1:123456789012:nope"
    env_file.write_text(json.dumps({"AUDIT_TABLE": "no-such-table", "ALERT_TOPIC_ARN": topic}))
    result = cli("status", "--env-file", str(env_file))
    one_line_error(result, 2, "'no-such-table' does not exist", "provision")


def test_bad_settings_name_the_setting(tmp_path: Path):
    env_file = tmp_path / "env.json"
    env_file.write_text(
        json.dumps({"AUDIT_TABLE": "t", "ALERT_TOPIC_ARN": "a", "LOCATION_NAMES": "prod"})
    )
    one_line_error(cli("status", "--env-file", str(env_file)), 2, "LOCATION_NAMES")
    env_file.write_text("{not json")
    one_line_error(cli("status", "--env-file", str(env_file)), 2, "not JSON")


def test_provision_takes_replication_rules_and_names(moto_endpoint, tmp_path: Path):
    rules = ROOT / "examples" / "replication-config.json"
    names = "222222222222/eu-west-1=prod,333333333333/us-east-1=dr"
    result = cli("provision", "--replication-config", str(rules), "--location-names", names)
    assert result.returncode == 0, result.stderr
    env = json.loads(result.stdout)
    assert json.loads(env["REPLICATION_CONFIG"]) == json.loads(rules.read_text())
    assert json.loads(env["LOCATION_NAMES"]) == {
        "222222222222/eu-west-1": "prod",
        "333333333333/us-east-1": "dr",
    }
    demo = json.loads(cli("provision", "--demo-rules").stdout)
    from chalicelib.local import scenario

    assert json.loads(demo["REPLICATION_CONFIG"]) == scenario.REPLICATION_CONFIG
    assert json.loads(demo["LOCATION_NAMES"])["222222222222/eu-west-1"] == "prod"


def test_the_example_rules_are_the_demos():
    rules = json.loads((ROOT / "examples" / "replication-config.json").read_text())
    from chalicelib.local import scenario

    assert rules == scenario.REPLICATION_CONFIG


def test_provision_refuses_bad_rules_before_creating_anything(tmp_path: Path):
    down = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9"}  # never reached: input is checked first
    rules = tmp_path / "rules.json"
    one_line_error(cli("provision", "--replication-config", str(rules), env=down), 2, "cannot read")
    rules.write_text("[{")
    one_line_error(cli("provision", "--replication-config", str(rules), env=down), 2, "not JSON")
    rules.write_text(json.dumps({"registryId": "111111111111", "replicationConfiguration": {}}))
    error = cli("provision", "--replication-config", str(rules), env=down)
    one_line_error(error, 2, '"region"')
    rules.write_text(json.dumps([{"registryId": "1", "region": "us-west-2"}]))
    error = cli("provision", "--replication-config", str(rules), env=down)
    one_line_error(error, 2, "registryId must be a 12-digit account id")
    both = cli("provision", "--demo-rules", "--replication-config", str(rules), env=down)
    one_line_error(both, 2, "not allowed with")
    names = cli("provision", "--location-names", "prod", env=down)
    one_line_error(names, 2, "--location-names", "LOCATION_NAMES")


def test_replay_from_a_dead_letter_queue_deletes_only_what_it_delivered(
    moto_endpoint, session, tmp_path: Path
):
    env = json.loads(cli("provision").stdout)
    env["REPLICATION_CONFIG"] = json.dumps(ev.DEFAULT_CONFIG)
    env_file = tmp_path / "env.json"
    env_file.write_text(json.dumps(env))
    sqs = session.client("sqs")
    queue = sqs.create_queue(QueueName=f"dlq-{tmp_path.name[-20:]}")["QueueUrl"]
    why = {"ERROR_CODE": {"DataType": "String", "StringValue": "SDKClientException"}}
    good = ev.push(ev.DEV, "team/api", "v1", ev.digest(7), ev.at(0))
    ancient = {**ev.push(ev.DEV, "team/api", "v1", ev.digest(8), ev.at(0)), "time": "0001-01-01"}
    for body in (json.dumps(good), "not json", json.dumps(ancient)):
        sqs.send_message(QueueUrl=queue, MessageBody=body, MessageAttributes=why)
    result = cli("replay", "--env-file", str(env_file), "--from-queue", queue)
    assert result.returncode == 2, result.stderr
    assert (
        "delivered, deleted from the queue (it had failed with ERROR_CODE=SDKClientException)"
        in (result.stderr)
    )
    assert "kept: the body is not JSON" in result.stderr and "kept: rejected: time" in result.stderr
    assert "1 delivered, 2 rejected, 0 ignored, 0 unmatched, 0 failed; 2 kept" in result.stderr
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "2"  # kept, not deleted
    status = json.loads(cli("status", "--env-file", str(env_file), "--json").stdout)
    assert status["counts"]["pending"] == 2
    both = cli("replay", "x.json", "--from-queue", queue)
    assert both.returncode == 2 and "one of the two" in both.stderr
