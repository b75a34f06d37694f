"""The emulator's ECR replication (chalicelib/local/emulated_replication.py) over HTTP with boto3:
DescribeImageReplicationStatus on botocore's own output shape, per destination its rules name;
whole replication configurations (moto keeps one rule); a simulated push time; and the
auditor's own adapter reading them as it reads ECR."""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.validate import validate_parameters

from chalicelib.adapters.ecr import EcrRegistry
from chalicelib.adapters.roles import AuditRoles
from chalicelib.core.lifecycle import Location
from chalicelib.local.emulated_replication import PUSHED_AT_PATH
from tests import events as ev
from tests.registry_helpers import ROLE, new_account, put_image, unique

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64


@pytest.fixture
def roles(session: Any) -> AuditRoles:
    return AuditRoles(ROLE, session=session)


def checked(client: Any, operation: str, **params: Any) -> dict[str, Any]:
    answer = getattr(client, operation)(**params)
    answer.pop("ResponseMetadata")
    model = client.meta.service_model.operation_model(client.meta.method_to_api_mapping[operation])
    validate_parameters(answer, model.output_shape)
    return answer


def test_one_status_per_destination_its_rules_name(roles: AuditRoles) -> None:
    dev, prod, dr, tools = (
        (new_account(), "us-west-2"),
        (new_account(), "eu-west-1"),
        (new_account(), "us-east-1"),
        (new_account(), "eu-central-1"),
    )
    ecr = roles.client("ecr", *dev)
    config = ev.registry(dev, ([prod, dr], ["team/"]), ([tools], ["tools/"]), ([prod], []))
    ecr.put_replication_configuration(replicationConfiguration=config["replicationConfiguration"])
    # moto alone keeps one rule; ECR (and so the emulator) keeps them all
    assert ecr.describe_registry()["replicationConfiguration"] == config["replicationConfiguration"]
    repository = unique("team/api")
    for where in (dev, prod):
        client = roles.client("ecr", *where)
        client.create_repository(repositoryName=repository)
        put_image(client, repository, D1, "v1")

    answer = checked(
        ecr,
        "describe_image_replication_status",
        repositoryName=repository,
        imageId={"imageTag": "v1"},
    )

    assert answer["imageId"] == {"imageDigest": D1, "imageTag": "v1"}
    assert answer["replicationStatuses"] == [
        {"region": prod[1], "registryId": prod[0], "status": "COMPLETE"},
        {"region": dr[1], "registryId": dr[0], "status": "IN_PROGRESS"},
    ], "prod holds the digest, DR does not; tools/ rules do not apply to team/"

    statuses = EcrRegistry(ecr, Location(*dev)).replication_status(repository, D1)
    assert [(s.destination, s.status) for s in statuses] == [
        (Location(*prod), "COMPLETE"),
        (Location(*dr), "IN_PROGRESS"),
    ]


def test_unknown_images_and_repositories_are_ecrs_errors(roles: AuditRoles) -> None:
    dev = (new_account(), "us-west-2")
    ecr = roles.client("ecr", *dev)
    repository = unique("team/api")
    with pytest.raises(ecr.exceptions.RepositoryNotFoundException):
        ecr.describe_image_replication_status(
            repositoryName=repository, imageId={"imageDigest": D1}
        )
    ecr.create_repository(repositoryName=repository)
    put_image(ecr, repository, D1, "v1")
    with pytest.raises(ecr.exceptions.ImageNotFoundException):
        ecr.describe_image_replication_status(
            repositoryName=repository, imageId={"imageDigest": D2}
        )
    assert EcrRegistry(ecr, Location(*dev)).replication_status(repository, D2) == []
    answer = checked(
        ecr,
        "describe_image_replication_status",
        repositoryName=repository,
        imageId={"imageDigest": D1},
    )
    assert answer["replicationStatuses"] == [], "no rules: no destination"


def test_a_configuration_beyond_ecrs_limits_is_refused(roles: AuditRoles) -> None:
    dev = (new_account(), "us-west-2")
    ecr = roles.client("ecr", *dev)
    eleven = ev.registry(dev, *[([(new_account(), "eu-west-1")], [f"p{n}/"]) for n in range(11)])
    with pytest.raises(ecr.exceptions.ValidationException):
        ecr.put_replication_configuration(
            replicationConfiguration=eleven["replicationConfiguration"]
        )
    itself = ev.registry(dev, ([(new_account(), "eu-west-1")], []), ([dev], []))
    with pytest.raises(ecr.exceptions.InvalidParameterException):
        ecr.put_replication_configuration(
            replicationConfiguration=itself["replicationConfiguration"]
        )


def test_a_simulated_push_time(roles: AuditRoles, moto_endpoint: str) -> None:
    dev = (new_account(), "us-west-2")
    ecr = roles.client("ecr", *dev)
    repository = unique("team/api")
    ecr.create_repository(repositoryName=repository)
    put_image(ecr, repository, D1, "v1")
    then = datetime(2026, 12, 1, 4, 45, tzinfo=UTC)
    body = {
        "registryId": dev[0],
        "region": dev[1],
        "repositoryName": repository,
        "imageDigest": D1,
        "imagePushedAt": int(then.timestamp()),
    }
    request = urllib.request.Request(
        moto_endpoint + PUSHED_AT_PATH, data=json.dumps(body).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200

    (image,) = ecr.describe_images(repositoryName=repository)["imageDetails"]
    assert image["imagePushedAt"] == then
