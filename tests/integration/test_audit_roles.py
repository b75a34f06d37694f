"""The STS role cache against the moto server (which maps assumed-role credentials to the role's
account), and against botocore's Stubber for the failures moto never gives."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.stub import Stubber

from chalicelib.adapters.roles import AuditRoles, partition_of, role_arn
from chalicelib.core.errors import RegistryUnavailable
from tests import events as ev
from tests.registry_helpers import ROLE, unique


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_role_arn_is_in_the_regions_partition() -> None:
    assert role_arn(ROLE, "111111111111", "us-west-2") == f"arn:aws:iam::111111111111:role/{ROLE}"
    assert role_arn(ROLE, "111111111111", "cn-north-1").startswith("arn:aws-cn:iam::")
    assert role_arn(ROLE, "111111111111", "us-gov-west-1").startswith("arn:aws-us-gov:iam::")
    assert partition_of("eu-central-2") == "aws"


def test_a_role_name_with_a_path_or_bad_characters_is_refused() -> None:
    with pytest.raises(ValueError, match="not an IAM role name"):
        AuditRoles("path/role")


def test_clients_act_in_the_accounts_whose_role_they_assumed(session: Any) -> None:
    roles = AuditRoles(ROLE, session=session)
    for account, region in (ev.DEV, ev.PROD):
        identity = roles.client("sts", account, region).get_caller_identity()
        assert identity["Account"] == account
        assert f":assumed-role/{ROLE}/" in identity["Arn"]
    client = roles.client("ecr", *ev.PROD)
    assert client.meta.endpoint_url == os.environ["AWS_ENDPOINT_URL"]  # the emulator
    assert client.meta.region_name == ev.PROD[1]


def test_one_assume_role_per_account_however_many_regions_and_services(
    session: Any, api_calls: Any
) -> None:
    roles = AuditRoles(ROLE, session=session)
    start = len(api_calls.calls)
    for _ in range(3):
        for region in ("us-west-2", "eu-west-1", "us-east-1"):
            roles.client("ecr", ev.DEV[0], region)
            roles.client("sts", ev.DEV[0], region)
        roles.client("ecr", *ev.PROD)
    assert api_calls.calls[start:].count(("sts", "AssumeRole")) == 2
    assert roles.assume_calls == 2
    assert roles.client("ecr", *ev.PROD) is roles.client("ecr", *ev.PROD)


def test_credentials_are_renewed_shortly_before_they_expire(session: Any) -> None:
    clock = Clock(datetime.now(UTC))
    roles = AuditRoles(ROLE, session=session, clock=clock, refresh_before=timedelta(minutes=5))
    first = roles.credentials(*ev.DEV)
    client = roles.client("ecr", *ev.DEV)
    clock.now = first.expires_at - timedelta(minutes=6)
    assert roles.credentials(*ev.DEV) is first and roles.client("ecr", *ev.DEV) is client
    clock.now = first.expires_at - timedelta(minutes=4)
    renewed = roles.client("ecr", *ev.DEV)
    assert renewed is not client and roles.assume_calls == 2
    assert roles.credentials(*ev.DEV) is not first
    name = unique("team/after-renewal")
    renewed.create_repository(repositoryName=name)  # the new client works
    assert renewed.describe_repositories(repositoryNames=[name])["repositories"]


@pytest.fixture
def stubbed_sts(session: Any) -> Any:
    client = session.client("sts")
    with Stubber(client) as stub:
        yield client, stub


@pytest.mark.parametrize(
    "code,expected",
    [
        (
            "AccessDenied",
            "cannot assume arn:aws:iam::222222222222:role/ecr-replication-auditor-read "
            "(access denied: the role may not exist there, or may not trust this principal)",
        ),
        (
            "Throttling",
            "cannot assume arn:aws:iam::222222222222:role/ecr-replication-auditor-read (throttled)",
        ),
        (
            "RegionDisabledException",
            "cannot assume arn:aws:iam::222222222222:role/ecr-replication-auditor-read "
            "(RegionDisabledException)",
        ),
    ],
)
def test_a_role_that_cannot_be_assumed_gives_one_line_naming_account_and_problem(
    stubbed_sts: Any, code: str, expected: str
) -> None:
    client, stub = stubbed_sts
    stub.add_client_error(
        "assume_role", code, "User: arn:aws:sts::123456789012:assumed-role/x is not\nauthorized"
    )
    roles = AuditRoles(ROLE, sts_client=client)
    with pytest.raises(RegistryUnavailable) as caught:
        roles.client("ecr", *ev.PROD)
    error = caught.value
    assert (error.account, error.region) == ev.PROD
    assert error.reason == expected
    assert str(error).startswith(f"ECR registry 222222222222/eu-west-1: {expected}: User: ")
    assert "\n" not in str(error)


def test_a_failed_assume_is_tried_again_on_the_next_call(stubbed_sts: Any) -> None:
    client, stub = stubbed_sts
    stub.add_client_error("assume_role", "Throttling", "Rate exceeded")
    expires = datetime.now(UTC) + timedelta(hours=1)
    stub.add_response(
        "assume_role",
        {
            "Credentials": {
                "AccessKeyId": "ASIAEXAMPLEEXAMPLE01",
                "SecretAccessKey": "secret",
                "SessionToken": "token",
                "Expiration": expires,
            }
        },
    )
    roles = AuditRoles(ROLE, sts_client=client)
    with pytest.raises(RegistryUnavailable, match="throttled"):
        roles.credentials(*ev.DEV)
    assert roles.credentials(*ev.DEV).expires_at == expires
    stub.assert_no_pending_responses()
