"""EcrRegistry against the moto server with several accounts (assumed roles), and against
botocore's Stubber where moto has no such API (DescribeImageReplicationStatus) or cannot fail
the way ECR does (throttling, access denied, archived images)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from chalicelib.adapters.ecr import EcrRegistry, registry_for
from chalicelib.adapters.roles import AuditRoles
from chalicelib.core.errors import RegistryUnavailable, RepositoryNotFound
from chalicelib.core.lifecycle import Location
from chalicelib.core.rules import parse_replication_config
from tests import events as ev
from tests.registry_helpers import ROLE, put_image, unique

DEV, PROD, DR = Location(*ev.DEV), Location(*ev.PROD), Location(*ev.DR)
D1, D2, D3 = ev.digest("one"), ev.digest("two"), ev.digest("three")


@pytest.fixture
def roles(session: Any) -> AuditRoles:
    return AuditRoles(ROLE, session=session)


def ecr(roles: AuditRoles, where: Location) -> Any:
    return roles.client("ecr", where.account, where.region)


def test_each_registry_is_its_own_account(roles: AuditRoles) -> None:
    name = unique("team/api")
    ecr(roles, PROD).create_repository(repositoryName=name)
    prod, dev = registry_for(roles, PROD), registry_for(roles, DEV)
    assert name in {r.name for r in prod.repositories()}
    assert name not in {r.name for r in dev.repositories()}
    assert prod.repositories([name, unique("absent")])[0].name == name


def test_find_digests_gives_pushed_at_and_leaves_out_absent_digests(
    roles: AuditRoles, api_calls: Any
) -> None:
    name = unique("team/api")
    client = ecr(roles, PROD)
    client.create_repository(repositoryName=name)
    put_image(client, name, D1, "v1")
    put_image(client, name, D3)  # untagged: still a replica
    before = datetime.now(UTC)
    registry = registry_for(roles, PROD)
    start = len(api_calls.calls)
    found = registry.find_digests(name, [D1, D2, D3])
    assert set(found) == {D1, D3}
    assert all(isinstance(t, datetime) and t.tzinfo is not None for t in found.values())
    assert all(abs((t - before).total_seconds()) < 3600 for t in found.values())
    # moto, like ECR, fails the whole call for one absent digest: one listing, one retry.
    ecr_calls = [op for service, op in api_calls.calls[start:] if service == "ecr"]
    assert ecr_calls == ["DescribeImages", "ListImages", "DescribeImages"]


def test_lookups_are_batched_at_most_100_ids_per_call(roles: AuditRoles, api_calls: Any) -> None:
    name = unique("team/many")
    client = ecr(roles, PROD)
    client.create_repository(repositoryName=name)
    digests = [ev.digest(f"many-{n}") for n in range(150)]
    for digest in digests:
        put_image(client, name, digest)
    start = len(api_calls.calls)
    assert set(registry_for(roles, PROD).find_digests(name, digests)) == set(digests)
    assert [op for s, op in api_calls.calls[start:] if s == "ecr"] == ["DescribeImages"] * 2


def test_every_digest_absent_costs_one_listing(roles: AuditRoles, api_calls: Any) -> None:
    name = unique("team/empty")
    ecr(roles, DR).create_repository(repositoryName=name)
    start = len(api_calls.calls)
    assert registry_for(roles, DR).find_digests(name, [D1, D2]) == {}
    assert [op for s, op in api_calls.calls[start:] if s == "ecr"] == [
        "DescribeImages",
        "ListImages",
    ]


def test_a_missing_repository_is_reported_as_such(roles: AuditRoles) -> None:
    registry = registry_for(roles, DR)
    with pytest.raises(RepositoryNotFound) as caught:
        registry.find_digests(unique("team/nowhere"), [D1])
    assert caught.value.account == DR.account and caught.value.region == DR.region
    assert "has no repository team/nowhere" in str(caught.value)
    with pytest.raises(RepositoryNotFound):
        registry.tag_digest(unique("team/nowhere"), "latest")


def test_an_immutable_destination_keeps_the_old_digest_under_the_tag(roles: AuditRoles) -> None:
    name = unique("team/web")
    source, destination = ecr(roles, DEV), ecr(roles, PROD)
    source.create_repository(repositoryName=name)
    destination.create_repository(repositoryName=name, imageTagMutability="IMMUTABLE")
    put_image(source, name, D1, "latest")
    put_image(destination, name, D1, "latest")
    put_image(source, name, D2, "latest")  # the source moves latest on
    with pytest.raises(ClientError):  # ECR: ImageTagAlreadyExistsException; moto: its own code
        put_image(destination, name, D2, "latest")
    put_image(destination, name, D2)  # ECR: "replicated but won't contain the duplicated tag"
    assert registry_for(roles, DEV).tag_digest(name, "latest") == D2
    prod = registry_for(roles, PROD)
    assert prod.tag_digest(name, "latest") == D1
    assert prod.tag_digests(name, ["latest", "absent"]) == {"latest": D1}
    assert set(prod.find_digests(name, [D1, D2])) == {D1, D2}
    (info,) = prod.repositories([name])
    assert info.tag_mutability == "IMMUTABLE"


def test_replication_rules_come_in_the_describe_registry_shape(roles: AuditRoles) -> None:
    account = Location("555555555501", "us-west-2")
    rules = {
        "rules": [
            {
                "destinations": [{"region": PROD.region, "registryId": PROD.account}],
                "repositoryFilters": [{"filter": "team/", "filterType": "PREFIX_MATCH"}],
                "deleteReplication": {"enabled": True},
            }
        ]
    }
    ecr(roles, account).put_replication_configuration(replicationConfiguration=rules)
    item = registry_for(roles, account).replication_rules()
    assert item == {
        "registryId": account.account,
        "region": account.region,
        "replicationConfiguration": rules,
    }
    (registry,) = parse_replication_config([item]).sources
    (rule,) = registry.rules
    assert rule.replicate_deletions is True and rule.prefixes == ("team/",)
    empty = registry_for(roles, Location("555555555502", "us-west-2")).replication_rules()
    assert empty["replicationConfiguration"] == {"rules": []}


def test_registry_policy_is_none_until_one_is_put(roles: AuditRoles) -> None:
    where = Location("555555555503", "eu-west-1")
    registry = registry_for(roles, where)
    assert registry.registry_policy() is None
    text = (ev.SAMPLES / "ecr-registry-policy-cross-account-replication.json").read_text()
    ecr(roles, where).put_registry_policy(policyText=text)
    assert registry.registry_policy() == text


# ----------------------------------------------------------------------------- Stubber


@pytest.fixture
def stubbed(session: Any) -> Any:
    client = session.client("ecr", region_name=DEV.region)
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def test_replication_status_reads_ecrs_documented_shape(stubbed: Any) -> None:
    client, stub = stubbed
    stub.add_response(
        "describe_image_replication_status",
        {
            "repositoryName": "team/api",
            "imageId": {"imageDigest": D1, "imageTag": "v1"},
            "replicationStatuses": [
                {"region": PROD.region, "registryId": PROD.account, "status": "COMPLETE"},
                {
                    "region": DR.region,
                    "registryId": DR.account,
                    "status": "FAILED",
                    "failureCode": "REPLICATION_DESTINATION_POLICY_DENIED",
                },
                {"region": "ap-south-1", "registryId": DEV.account, "status": "IN_PROGRESS"},
            ],
        },
        {"registryId": DEV.account, "repositoryName": "team/api", "imageId": {"imageDigest": D1}},
    )
    statuses = EcrRegistry(client, DEV).replication_status("team/api", D1)
    assert [(s.destination, s.status, s.failure_code) for s in statuses] == [
        (PROD, "COMPLETE", None),
        (DR, "FAILED", "REPLICATION_DESTINATION_POLICY_DENIED"),
        (Location(DEV.account, "ap-south-1"), "IN_PROGRESS", None),
    ]


def test_replication_status_of_an_unknown_image_or_repository(stubbed: Any) -> None:
    client, stub = stubbed
    stub.add_client_error("describe_image_replication_status", "ImageNotFoundException")
    stub.add_client_error("describe_image_replication_status", "RepositoryNotFoundException")
    registry = EcrRegistry(client, DEV)
    assert registry.replication_status("team/api", D1) == []
    with pytest.raises(RepositoryNotFound):
        registry.replication_status("team/api", D1)


def test_archived_images_are_asked_for_and_count_as_present(stubbed: Any) -> None:
    client, stub = stubbed
    pushed = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    stub.add_response(
        "describe_images",
        {
            "imageDetails": [
                {
                    "registryId": DEV.account,
                    "repositoryName": "team/api",
                    "imageDigest": D1,
                    "imagePushedAt": pushed,
                    "imageStatus": "ARCHIVED",
                }
            ]
        },
        {
            "registryId": DEV.account,
            "repositoryName": "team/api",
            "imageIds": [{"imageDigest": d} for d in sorted([D1, D2])],
            "filter": {"imageStatus": "ANY"},
        },
    )
    # A service answering with only the images it has (no error for the absent one) works too.
    images = EcrRegistry(client, DEV).images("team/api", [D2, D1])
    assert list(images) == [D1]
    assert images[D1].status == "ARCHIVED" and images[D1].pushed_at == pushed


@pytest.mark.parametrize(
    "code,reason",
    [
        ("ThrottlingException", "throttled"),
        ("AccessDeniedException", "access denied"),
        ("ServerException", "server error"),
        ("ExpiredTokenException", "the auditor's credentials were refused"),
    ],
)
def test_failures_become_registry_unavailable_in_one_line(
    stubbed: Any, code: str, reason: str
) -> None:
    client, stub = stubbed
    stub.add_client_error(
        "describe_images", code, "Rate exceeded\nfor this account", http_status_code=400
    )
    with pytest.raises(RegistryUnavailable) as caught:
        EcrRegistry(client, DEV).find_digests("team/api", [D1])
    error = caught.value
    assert (error.account, error.region, error.reason) == (DEV.account, DEV.region, reason)
    assert str(error) == f"ECR registry {DEV}: {reason}: Rate exceeded for this account"
    assert "\n" not in str(error)


def test_the_registry_policy_call_maps_its_errors(stubbed: Any) -> None:
    client, stub = stubbed
    stub.add_client_error("get_registry_policy", "RegistryPolicyNotFoundException")
    stub.add_client_error("get_registry_policy", "ValidationException", "bad")
    registry = EcrRegistry(client, DEV)
    assert registry.registry_policy() is None
    with pytest.raises(RegistryUnavailable, match="ValidationException: bad"):
        registry.registry_policy()
