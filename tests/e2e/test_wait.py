"""`wait`, the deploy gate, as a separate process against the moto server: each exit code, the
timeout, progress while replicas arrive, the JSON document, bad usage."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests import events as ev
from tests.conftest import ROOT

D1, D2 = ev.digest("wait-1"), ev.digest("wait-2")


@pytest.fixture
def env_file(auditor_env: dict[str, str], tmp_path: Path) -> Path:
    path = tmp_path / "env.json"
    names = {f"{ev.PROD[0]}/{ev.PROD[1]}": "prod", f"{ev.DR[0]}/{ev.DR[1]}": "dr"}
    # What a CI job has: the table and the rules; no topic (wait publishes nothing).
    path.write_text(
        json.dumps(
            {
                "AUDIT_TABLE": auditor_env["AUDIT_TABLE"],
                "REPLICATION_CONFIG": auditor_env["REPLICATION_CONFIG"],
                "LOCATION_NAMES": json.dumps(names),
            }
        )
    )
    return path


def gate_env() -> dict[str, str]:
    env = {**os.environ}
    env.pop("ALERT_TOPIC_ARN", None)
    env.pop("AUDIT_TABLE", None)
    env.pop("REPLICATION_CONFIG", None)
    return env


def wait_cmd(env_file: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "chalicelib.cli", "wait", "--env-file", str(env_file), *args]


def wait(env_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        wait_cmd(env_file, *args),
        cwd=ROOT,
        env=gate_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def repo() -> str:
    return f"team/gate-{uuid.uuid4().hex[:8]}"


def recent(minutes: float) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=minutes)


def test_an_image_not_recorded_yet_is_waited_for_until_the_timeout(env_file: Path) -> None:
    name = repo()
    result = wait(
        env_file, "--repository", name, "--tag", "v1", "--timeout", "0.5", "--interval", "0.1"
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines() == [
        f"[    0s] {name}:v1: unknown: the auditor has no record of it yet"
    ]
    assert result.stdout.startswith(
        f"TIMEOUT after 0.5 s: the auditor has no record of it yet ({name}:v1)"
    )


def test_pending_replicas_time_out_and_say_which(env_file: Path, replay: Any) -> None:
    name = repo()
    replay(ev.push(ev.DEV, name, "v1", D1, recent(-2)))
    replay(ev.replication(ev.PROD, ev.DEV, name, "v1", D1, recent(-1)))
    result = wait(
        env_file, "--repository", name, "--digest", D1, "--timeout", "0.3", "--interval", "0.1"
    )
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert "1 of 2 present; replicated: prod 222222222222/eu-west-1 after 1 min" in line
    assert "pending: dr 333333333333/us-east-1 (due " in line
    assert result.stdout.startswith(
        f"TIMEOUT after 0.3 s: {name}@{D1} still pending in dr 333333333333/us-east-1"
    )


def test_the_gate_opens_when_the_replicas_arrive_while_it_waits(
    env_file: Path, replay: Any
) -> None:
    name = repo()
    replay(ev.push(ev.DEV, name, "v1", D1, recent(-1)))
    gate = subprocess.Popen(
        wait_cmd(
            env_file, "--repository", name, "--tag", "v1", "--timeout", "120", "--interval", "0.1"
        ),
        cwd=ROOT,
        env=gate_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert gate.stderr is not None
        first = gate.stderr.readline()  # the gate is looking: now the replicas arrive
        assert "0 of 2 present" in first and "pending: prod" in first, first
        replay(ev.replication(ev.PROD, ev.DEV, name, "v1", D1, recent(0)))
        replay(ev.replication(ev.DR, ev.DEV, name, "v1", D1, recent(0)))
        out, err = gate.communicate(timeout=120)
    finally:
        gate.kill()
    assert gate.returncode == 0, err
    last = err.splitlines()[-1]
    assert "2 of 2 present; replicated: prod 222222222222/eu-west-1" in last
    assert out == f"OK: every expected replica of {name}:v1 is present\n"


def test_a_failed_replica_fails_the_gate_at_once(env_file: Path, replay: Any) -> None:
    name = repo()
    replay(ev.push(ev.DEV, name, "v1", D1, recent(-2)))
    replay(ev.replication(ev.DR, ev.DEV, name, "v1", D1, recent(-1), ok=False))
    result = wait(env_file, "--repository", name, "--tag", "v1", "--timeout", "600", "--json")
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert (document["state"], document["ok"], document["timed_out"]) == ("failed", False, False)
    assert {r["destination"]["account"]: r["state"] for r in document["replicas"]} == {
        ev.PROD[0]: "pending",
        ev.DR[0]: "failed",
    }


def test_a_missing_replica_fails_the_gate_and_a_complete_one_passes(
    env_file: Path, replay: Any
) -> None:
    name = repo()
    replay(ev.push(ev.DEV, name, "v1", D1, recent(-60)))
    replay(ev.replication(ev.PROD, ev.DEV, name, "v1", D1, recent(-58)))
    replay(ev.schedule(recent(-20)))  # DR is overdue: REPLICA_MISSING
    missing = wait(env_file, "--repository", name, "--tag", "v1", "--timeout", "600")
    assert missing.returncode == 1
    assert missing.stdout.startswith(f"FAILED: {name}:v1 is missing in dr 333333333333/us-east-1")
    replay(ev.push(ev.DEV, name, "v2", D2, recent(-5)))
    replay(ev.replication(ev.PROD, ev.DEV, name, "v2", D2, recent(-4)))
    replay(ev.replication(ev.DR, ev.DEV, name, "v2", D2, recent(-3)))
    passed = wait(env_file, "--repository", name, "--tag", "v2", "--json")
    assert passed.returncode == 0, passed.stderr
    document = json.loads(passed.stdout)
    assert document["state"] == "replicated" and document["ok"] and document["digests"] == [D2]


def test_bad_usage_is_one_line_and_exit_2(env_file: Path, tmp_path: Path) -> None:
    cases = [
        (["--repository", "team/api"], "one of the arguments --digest --tag is required"),
        (["--repository", "team/api", "--tag", "v1", "--digest", D1], "not allowed with"),
        (["--repository", "Team//api", "--tag", "v1"], "is not an ECR repository name"),
        (["--repository", "team/api", "--digest", "nope"], "is not a digest"),
        (["--repository", "team/api", "--tag", "v1", "--timeout", "-1"], "--timeout must be"),
        (["--repository", "team/api", "--tag", "v1", "--interval", "0"], "--interval must be"),
    ]
    for args, words in cases:
        result = wait(env_file, *args)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.count("\n") == 1 and words in result.stderr, (args, result.stderr)
    empty = tmp_path / "empty.json"
    empty.write_text("{}")
    result = wait(empty, "--repository", "team/api", "--tag", "v1")
    assert result.returncode == 2 and "AUDIT_TABLE is required" in result.stderr
    gone = tmp_path / "gone.json"
    gone.write_text(json.dumps({"AUDIT_TABLE": "no-such-table"}))
    result = wait(gone, "--repository", "team/api", "--tag", "v1", "--timeout", "5")
    assert result.returncode == 2 and "does not exist" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_wait_and_reconcile_have_help_with_examples() -> None:
    top = subprocess.run(
        [sys.executable, "-m", "chalicelib.cli", "--help"], cwd=ROOT, capture_output=True, text=True
    )
    for command in ("wait", "reconcile"):
        listed = [line for line in top.stdout.splitlines() if line.split()[:1] == [command]]
        assert len(listed) == 1, (command, top.stdout)
        own = subprocess.run(
            [sys.executable, "-m", "chalicelib.cli", command, "--help"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert own.returncode == 0 and own.stdout.startswith("usage:"), own.stderr
        assert "examples:" in own.stdout and "Exit 0" in own.stdout
