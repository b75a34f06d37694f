"""`doctor` through the command line against the moto server: registry policies put into the
destination accounts through the audit role (the documented cross-account policy, none at all, a
wrong principal, a blocking condition), rules from REPLICATION_CONFIG and from DescribeRegistry."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from chalicelib import cli
from chalicelib.adapters.roles import AuditRoles
from tests import events as ev
from tests.registry_helpers import ROLE, new_account, unique

SOURCE = ("111122223333", "us-west-2")  # the account the documented policy names
SAMPLE = (ev.SAMPLES / "ecr-registry-policy-cross-account-replication.json").read_text()


@pytest.fixture
def roles(session: Any) -> AuditRoles:
    return AuditRoles(ROLE, session=session)


@pytest.fixture
def doctor_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    for name in ("AUDIT_TABLE", "ALERT_TOPIC_ARN", "REPLICATION_SOURCES", "MONITORED_ACCOUNTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AUDIT_ROLE_NAME", ROLE)

    def configure(config: list[dict[str, Any]], **env: str) -> None:
        monkeypatch.setenv("REPLICATION_CONFIG", json.dumps(config))
        for key, value in env.items():
            monkeypatch.setenv(key, value)

    return configure


def run_doctor(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(["doctor", *args])
    out, err = capsys.readouterr()
    return code, out, err


def destination(
    roles: AuditRoles, policy: str | None, region: str = "eu-west-1"
) -> tuple[str, str]:
    where = (new_account(), region)
    if policy is not None:
        roles.client("ecr", *where).put_registry_policy(policyText=policy)
    return where


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_the_documented_policy_lets_the_source_replicate(
    roles: AuditRoles, doctor_env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    good = destination(roles, SAMPLE)
    doctor_env([ev.registry(SOURCE, ([good], ["team/"]))])
    code, out, err = run_doctor(capsys)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == f"111122223333/us-west-2 -> {good[0]}/eu-west-1 (team/*): OK"
    assert lines[1].split() == [
        "ecr:ReplicateImage", "allowed", "by", "statement", '"AllowCrossAccountReplication"'
    ]  # fmt: skip
    assert '"Sid":"AllowCrossAccountReplication"' in lines[2]
    assert "ecr:CreateRepository" in lines[3]
    assert lines[-1] == "1 of 1 pairs can replicate"


def test_broken_destinations_fail_with_the_reason(
    roles: AuditRoles, doctor_env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    good = destination(roles, SAMPLE)
    nothing = destination(roles, None, "us-east-1")
    wrong = destination(
        roles,
        policy(
            {
                "Sid": "WrongAccount",
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
                "Action": ["ecr:ReplicateImage", "ecr:CreateRepository"],
                "Resource": "*",
            }
        ),
    )
    blocking = destination(
        roles,
        policy(
            {
                "Sid": "OnlyWithSourceAccount",
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                "Action": ["ecr:ReplicateImage", "ecr:CreateRepository"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceAccount": "111122223333"}},
            }
        ),
    )
    doctor_env([ev.registry(SOURCE, ([good, nothing, wrong, blocking], []))])
    code, out, _ = run_doctor(capsys)
    assert code == 1
    text = " ".join(out.split())
    assert f"-> {good[0]}/eu-west-1 (every repository): OK" in text
    assert (
        f"-> {nothing[0]}/us-east-1 (every repository): CANNOT REPLICATE "
        "ecr:ReplicateImage the destination registry has no registry policy" in text
    )
    assert f"fix: in {nothing[0]} run `aws ecr put-registry-policy --region us-east-1" in out
    assert (
        f"-> {wrong[0]}/eu-west-1 (every repository): CANNOT REPLICATE ecr:ReplicateImage "
        "no Allow statement names account 111122223333 as principal "
        "(it names arn:aws:iam::999999999999:root)" in text
    )
    assert f"-> {blocking[0]}/eu-west-1 (every repository): UNSURE" in text
    assert "StringEquals aws:SourceAccount" in text
    assert out.splitlines()[-1] == "1 of 4 pairs can replicate; see above"

    code, out, _ = run_doctor(capsys, "--json")
    report = json.loads(out)
    assert code == 1 and report["ok"] is False
    statuses = {p["destination"]["account"]: p["status"] for p in report["pairs"]}
    assert statuses == {
        good[0]: "OK",
        nothing[0]: "CANNOT REPLICATE",
        wrong[0]: "CANNOT REPLICATE",
        blocking[0]: "UNSURE",
    }


def test_without_create_repository_the_repositories_must_exist(
    roles: AuditRoles, doctor_env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    only_replicate = policy(
        {
            "Sid": "ReplicateOnly",
            "Effect": "Allow",
            "Principal": {"AWS": "111122223333"},
            "Action": "ecr:ReplicateImage",
            "Resource": "*",
        }
    )
    source = (new_account(), "us-west-2")
    prefix = unique("svc") + "/"
    for name in ("api", "web"):
        roles.client("ecr", *source).create_repository(repositoryName=prefix + name)
    dest = destination(roles, only_replicate.replace("111122223333", source[0]))
    roles.client("ecr", *dest).create_repository(repositoryName=prefix + "api")
    doctor_env([ev.registry(source, ([dest], [prefix]))])
    code, out, _ = run_doctor(capsys)
    assert code == 1
    assert "CANNOT REPLICATE" in out
    assert f"cannot replicate until they are created in {dest[0]}/eu-west-1: {prefix}web" in out
    roles.client("ecr", *dest).create_repository(repositoryName=prefix + "web")
    code, out, _ = run_doctor(capsys)
    assert code == 0, out
    assert "every repository it replicates must exist" in out


def test_rules_discovered_with_describe_registry_are_checked(
    roles: AuditRoles, doctor_env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    source = (new_account(), "us-west-2")
    dest = destination(roles, SAMPLE.replace("111122223333", source[0]))
    roles.client("ecr", *source).put_replication_configuration(
        replicationConfiguration={
            "rules": [{"destinations": [{"region": dest[1], "registryId": dest[0]}]}]
        }
    )
    doctor_env([], REPLICATION_SOURCES=f"{source[0]}:{source[1]}")
    code, out, _ = run_doctor(capsys)
    assert code == 0, out
    assert out.startswith(f"{source[0]}/us-west-2 -> {dest[0]}/eu-west-1 (every repository): OK")


def test_a_registry_that_cannot_be_reached_is_one_line_and_exit_1(
    doctor_env: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.local.emulator import free_port

    doctor_env([ev.registry(SOURCE, ([ev.PROD], []))])
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens
    code, out, err = run_doctor(capsys)
    assert code == 1 and err == ""
    (error,) = [line for line in out.splitlines() if line.strip().startswith("error:")]
    assert error.strip().startswith(
        "error: cannot read the registry policy: ECR registry 222222222222/eu-west-1: cannot "
        "assume arn:aws:iam::222222222222:role/ecr-replication-auditor-read (unreachable)"
    )
    assert "Traceback" not in out


@pytest.mark.parametrize(
    "env,message",
    [
        ({"AUDIT_ROLE_NAME": ""}, "error: doctor asks the registries through the audit role"),
        ({"REPLICATION_SOURCES": "nonsense"}, "REPLICATION_SOURCES item 'nonsense'"),
        ({"REPLICATION_CONFIG": "[]"}, "error: no replication rules to check"),
    ],
)
def test_bad_usage_exits_2_with_one_line(
    doctor_env: Any, capsys: pytest.CaptureFixture[str], env: dict[str, str], message: str
) -> None:
    doctor_env([ev.registry(SOURCE, ([ev.PROD], []))], **env)
    code, out, err = run_doctor(capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err


def test_doctor_help_and_unknown_options_as_a_process() -> None:
    run = [sys.executable, "-m", "chalicelib.cli", "doctor"]
    shown = subprocess.run([*run, "--help"], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0 and "registry policy" in shown.stdout
    bad = subprocess.run([*run, "--bogus"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "unrecognized arguments: --bogus" in bad.stderr
