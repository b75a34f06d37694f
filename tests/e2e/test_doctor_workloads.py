"""`doctor` with workload discovery, through the command line against the moto server: a rule that
replicates deletions into a destination whose ECS service pins a digest, and a Lambda function
whose Region no rule replicates its repository into, are warnings (the exit code stays the
policy check's); WORKLOAD_TYPES=none reads nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib import cli
from chalicelib.adapters.roles import AuditRoles
from tests import events as ev
from tests.registry_helpers import ROLE, new_account, unique
from tests.workload_helpers import digest, function, image_uri, repository_with, service

POLICY = (ev.SAMPLES / "ecr-registry-policy-cross-account-replication.json").read_text()
SOURCE = ("111122223333", "us-west-2")  # the account the documented policy names


@pytest.fixture
def roles(session: Any) -> AuditRoles:
    return AuditRoles(ROLE, session=session)


@pytest.fixture
def world(roles: AuditRoles, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """prod receives secure/* with deletions replicated; prod runs a service pinned to one of its
    digests and a Lambda function of a repository no rule brings there."""
    for name in ("AUDIT_TABLE", "ALERT_TOPIC_ARN", "REPLICATION_SOURCES", "MONITORED_ACCOUNTS"):
        monkeypatch.delenv(name, raising=False)
    prod = (new_account(), "eu-west-1")
    roles.client("ecr", *prod).put_registry_policy(policyText=POLICY)
    secure, local = unique("secure/vault"), unique("ops/cron")
    ecr = roles.client("ecr", *prod)
    repository_with(ecr, secure, v1=1)
    repository_with(ecr, local, v1=2)
    service(roles.client("ecs", *prod), "prod", "vault", {"app": image_uri(prod, secure, ":v1")})
    iam = roles.client("iam", prod[0], "us-east-1")
    function(roles.client("lambda", *prod), iam, "cron", image_uri(prod, local, ":v1"))
    rules = ev.registry(SOURCE, ([prod], ["secure/"]))
    rules["replicationConfiguration"]["rules"][0]["deleteReplication"] = {"enabled": True}
    monkeypatch.setenv("AUDIT_ROLE_NAME", ROLE)
    monkeypatch.setenv("REPLICATION_CONFIG", json.dumps([rules]))
    return prod, secure, local


def test_doctor_warns_of_pinned_digests_and_functions_without_a_replica(
    world: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    prod, secure, local = world
    code = cli.main(["doctor"])
    out, err = capsys.readouterr()
    assert (code, err) == (0, ""), out  # warnings, not failures
    warnings = [line for line in out.splitlines() if line.startswith("warning: ")]
    where = f"{prod[0]}/{prod[1]}"
    assert warnings == [
        f"warning: {SOURCE[0]}/{SOURCE[1]} -> {where}: deletions of {secure} replicate, and ECS "
        f"prod/vault pins {digest(1).split(':')[1][:12]}: a deletion, lifecycle expiry or tag "
        "rebuild at the source removes what they pin (exclude pinned digests from lifecycle "
        "rules, or deploy them under tags the source keeps)",
        f"warning: Lambda cron in {where} runs {local}, which no replication rule brings into "
        f"{prod[1]} of {prod[0]}: a function can only use images of its own Region, so it depends "
        "on images pushed there by hand (add the Region to a rule's destinations to keep a "
        "replica there)",
    ]
    assert out.splitlines()[-1] == "1 of 1 pairs can replicate"

    code = cli.main(["doctor", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and [w[:40] for w in report["warnings"]] == [w[9:49] for w in warnings]


def test_doctor_reads_no_workload_when_discovery_is_off(
    world: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, api_calls: Any
) -> None:
    monkeypatch.setenv("WORKLOAD_TYPES", "none")
    since = len(api_calls.calls)
    code = cli.main(["doctor"])
    out, _ = capsys.readouterr()
    assert code == 0 and "warning:" not in out
    assert not {service for service, _ in api_calls.calls[since:]} & {"ecs", "lambda"}
