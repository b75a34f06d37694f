"""A new user's first hour (issue 22), each defect it found kept fixed: from the served demo to
the command line through the env file it writes; commands that only read need only what they
read; `status` never contradicts itself and shows every count; `reconcile` shows ECR's states
in the demo's time; `doctor` says OK on the demo, with location names; `replay --quiet` keeps
stdout empty; bad usage is refused (exit 2) before any AWS call."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chalicelib.cli import main
from chalicelib.local.emulator import free_port
from tests import events as ev
from tests.e2e.demo_process import ROOT, demo_env, start_served_demo

DEV = "dev 111111111111/us-west-2"
PROD = "prod 222222222222/eu-west-1"
DR = "dr 333333333333/us-east-1"


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The command as a user runs it: its own process, nothing of this session's AWS set-up."""
    return subprocess.run(
        [sys.executable, "-m", "chalicelib.cli", *args],
        cwd=ROOT,
        env=env or demo_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )


def without(env_file: Path, *keys: str) -> Path:
    values = json.loads(env_file.read_text())
    for key in keys:
        values.pop(key)
    trimmed = env_file.with_name(f"without-{'-'.join(keys).lower()}.json")
    trimmed.write_text(json.dumps(values))
    return trimmed


def test_from_the_served_demo_to_the_command_line(tmp_path: Path) -> None:
    """One served demo for every check (it is the expensive part), Ctrl-C at the end."""
    demo = start_served_demo(free_port(), tmp_path / "demo.log")
    try:
        output = demo.output()
        # the demo writes an env file and prints the one line that uses it
        (line,) = [ln for ln in output.splitlines() if ln.startswith("CLI ")]
        assert line.endswith(f"status --env-file {demo.env_file}"), line
        env = json.loads(demo.env_file.read_text())
        emulator = re.search(r"moto server at (http://127\.0\.0\.1:\d+)", output)
        assert emulator and env["AWS_ENDPOINT_URL"] == emulator.group(1)
        day = re.search(r"simulated day, (\S+ \S+) to (\S+ \S+) UTC", output)
        assert day, output

        status = cli("status", "--env-file", str(demo.env_file))
        assert status.returncode == 0, status.stderr
        assert status.stdout.startswith("ECR replication status as of")
        # the text summary has every count the dashboard shows
        assert re.search(
            r"failed 0   drifted 1   undeleted 0   replicated \(24h\) \d+", status.stdout
        )

        # a command that only reads needs only what it reads
        no_topic = cli("status", "--env-file", str(without(demo.env_file, "ALERT_TOPIC_ARN")))
        assert no_topic.returncode == 0, no_topic.stderr
        # without the rules the matrix cannot be drawn: it says so, not "none recorded yet"
        no_rules = cli("status", "--env-file", str(without(demo.env_file, "REPLICATION_CONFIG")))
        assert no_rules.returncode == 0, no_rules.stderr
        assert "none recorded yet" not in no_rules.stdout
        assert "no replication rule here names a destination" in no_rules.stdout

        gate = cli(
            "wait",
            "--env-file",
            str(demo.env_file),
            "--repository",
            "team/api",
            "--tag",
            "latest",
            "--timeout",
            "2",
            "--interval",
            "1",
        )
        assert gate.returncode == 1, gate.stdout + gate.stderr
        assert DR in gate.stdout, "it names the destination the image has not reached"

        reconcile_shows_ecr_states_in_the_demo_s_time(demo.env_file, day.groups())
        doctor_says_ok_with_location_names(demo.env_file)

        assert demo.interrupt() == 0
        assert not demo.env_file.exists(), "the env file points at an emulator that is gone"
    finally:
        demo.stop()


def reconcile_shows_ecr_states_in_the_demo_s_time(env_file: Path, day: tuple[str, ...]) -> None:
    result = cli("reconcile", "--env-file", str(env_file), "--repository", "team/worker")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "unavailable" not in out, out
    # prod has the image (ECR: COMPLETE); DR never got it (ECR: IN_PROGRESS, ledger missing)
    assert re.search(r"registry present since \S+; ledger replicated; ECR: COMPLETE", out), out
    assert re.search(r"registry absent; ledger missing; ECR: IN_PROGRESS", out), out
    start, end = (f"{d.replace(' ', 'T')}:00Z" for d in day)
    for since in re.findall(r"present since (\S+);", out):
        assert start <= since <= end, f"{since} is not in the demo's day {start} to {end}"
    assert DEV in out and PROD in out and DR in out


def doctor_says_ok_with_location_names(env_file: Path) -> None:
    result = cli("doctor", "--env-file", str(env_file))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{DEV} -> {PROD} (secure/*, team/*, tools/*): OK" in result.stdout
    assert f"{DEV} -> {DR} (secure/*, team/*): OK" in result.stdout
    assert "CANNOT REPLICATE" not in result.stdout
    assert result.stdout.rstrip().endswith("2 of 2 pairs can replicate")


def test_replay_quiet_writes_nothing_to_stdout(
    auditor_env: dict[str, str], moto_endpoint: str, tmp_path: Path
) -> None:
    env_file = tmp_path / "env.json"
    env_file.write_text(json.dumps(auditor_env))
    rejected = {**ev.push(ev.DEV, "team/api", "v1", ev.digest(1), ev.at(0)), "id": "bad"}
    rejected["detail"] = {**rejected["detail"], "image-digest": "nope"}
    events = tmp_path / "events.json"
    events.write_text(json.dumps([ev.push(ev.DEV, "team/api", "v1", ev.digest(2), ev.at(0))]))
    (tmp_path / "bad.json").write_text(json.dumps(rejected))
    env = {
        **demo_env(),
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }

    bad = str(tmp_path / "bad.json")
    result = cli("replay", "--env-file", str(env_file), "--quiet", str(events), bad, env=env)

    assert result.returncode == 2, result.stderr  # the bad event was refused
    assert result.stdout == "", "stdout is for what a command prints, and --quiet prints nothing"
    assert "rejected ECR Image Action bad" in result.stderr
    assert result.stderr.count("nope") == 1, "one line per refusal, no log line besides"
    assert "replayed 2 event(s): 1 delivered, 1 rejected" in result.stderr


# Were a refusal to fail, the command would wait for a second and exit 1, not hang the suite.
ONE_SECOND = ("--timeout", "1", "--interval", "1")
BAD_USAGE = [
    ("wait", "--repository", "team/api", "--digest", "sha256:nothex", *ONE_SECOND),
    ("wait", "--repository", "team/api", "--digest", "sha256:" + "A" * 64, *ONE_SECOND),
    ("wait", "--repository", "team/api", "--digest", "sha256:abc", *ONE_SECOND),
    ("wait", "--repository", "team/api", "--digest", "sha256:", *ONE_SECOND),
    ("wait", "--repository", "Team/API", "--tag", "v1", *ONE_SECOND),
    ("wait", "--repository", "team/api", "--tag", "no spaces", *ONE_SECOND),
    ("wait", "--repository", "team/api", "--tag", "v1", "--timeout", "-1"),
    ("wait", "--repository", "team/api", "--tag", "v1", "--interval", "0"),
    ("wait", "--repository", "team/api"),
    ("reconcile", "--repository", "team/api", "--digest", "sha256:nothex"),
    ("reconcile", "--all", "--tag", "v1"),
    ("reconcile", "--all", "--rate", "0"),
    ("reconcile",),
    ("status", "--env-file", "/nonexistent/env.json"),
    ("replay",),
    ("replay", "/nonexistent/events.json"),
    ("dashboard-link", "--url", "https://x.example/api", "--key", "k", "--hours", "100"),
    ("dashboard-link",),
    ("demo", "--port", "0"),
    ("demo", "--speed", "-1"),
]


@pytest.mark.parametrize("args", BAD_USAGE, ids=lambda a: " ".join(a)[:60])
@pytest.mark.parametrize("endpoint", ["answers", "down"])
def test_bad_usage_is_refused_at_once_before_any_aws_call(
    args: tuple[str, ...],
    endpoint: str,
    auditor_env: dict[str, str],
    api_calls: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AUDIT_ROLE_NAME", "ecr-replication-auditor-read")
    if endpoint == "down":
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    before = len(api_calls.calls)  # the fixtures' own set-up

    try:
        code = main(list(args))
    except SystemExit as exit_:  # argparse's own usage errors
        code = int(exit_.code or 0)

    assert code == 2, capsys.readouterr()
    assert api_calls.calls[before:] == [], "refused before any AWS call"
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert "reach" not in err[0] and "endpoint" not in err[0], err[0]
