"""The emulator's replication backfill API (chalicelib/local/emulated_backfills.py) over HTTP with
boto3: answers on botocore's own output shapes (validated as the Stubber validates them), one
backfill in progress per destination Region, ten per registry, a destination the replication
configuration does not name refused, results per image and tag once the backfill has ended,
and the images really put into the destination registry."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.validate import validate_parameters

from chalicelib.adapters.roles import AuditRoles
from chalicelib.core.lifecycle import Location
from chalicelib.local.backfills import EcrBackfills
from chalicelib.usecases.backfill import BackfillInProgress
from tests import events as ev
from tests.registry_helpers import ROLE, new_account, put_image, unique

Where = tuple[str, str]


@pytest.fixture
def roles(session: Any) -> AuditRoles:
    return AuditRoles(ROLE, session=session)


def checked(client: Any, operation: str, **params: Any) -> dict[str, Any]:
    """Call `operation` and check the answer against botocore's output shape."""
    answer = getattr(client, operation)(**params)
    answer.pop("ResponseMetadata")
    model = client.meta.service_model.operation_model(client.meta.method_to_api_mapping[operation])
    validate_parameters(answer, model.output_shape)
    return answer


def dest(where: Where) -> dict[str, str]:
    return {"registryId": where[0], "region": where[1]}


def source_replicating_to(roles: AuditRoles, *destinations: Where, prefix: str = "team/") -> Any:
    source = (new_account(), "us-west-2")
    client = roles.client("ecr", *source)
    rules = ev.registry(source, (list(destinations), [prefix]))["replicationConfiguration"]
    client.put_replication_configuration(replicationConfiguration=rules)
    return source, client


def test_one_backfill_in_progress_per_destination_region(roles: AuditRoles) -> None:
    prod, prod2, dr = (new_account(), "eu-west-1"), (new_account(), "eu-west-1"), (
        new_account(), "us-east-1")  # fmt: skip
    source, ecr = source_replicating_to(roles, prod, prod2, dr)
    started = checked(
        ecr, "start_replication_backfill", registryId=source[0], destination=dest(prod)
    )
    assert started["status"] == "PREPARING" and started["registryId"] == source[0]
    assert started["destination"] == dest(prod)
    with pytest.raises(ecr.exceptions.ReplicationBackfillInProgressException):
        ecr.start_replication_backfill(destination=dest(prod2))  # same Region, other registry
    checked(ecr, "start_replication_backfill", destination=dest(dr))  # another Region
    outsider = (new_account(), "ap-south-1")
    with pytest.raises(ecr.exceptions.ValidationException, match="replication configuration"):
        ecr.start_replication_backfill(destination=dest(outsider))

    listed = checked(ecr, "list_replication_backfills", registryId=source[0])["backfills"]
    assert [(b["destination"], b["status"]) for b in listed] == [
        (dest(prod), "IN_PROGRESS"),
        (dest(dr), "IN_PROGRESS"),
    ]
    with pytest.raises(ecr.exceptions.ReplicationBackfillInProgressException):
        ecr.start_replication_backfill(destination=dest(prod2))
    checked(ecr, "list_replication_backfills")  # both end
    again = checked(ecr, "start_replication_backfill", destination=dest(prod2))
    assert again["status"] == "PREPARING"


def test_a_backfill_replicates_each_image_and_tag_and_reports_each(roles: AuditRoles) -> None:
    prod = (new_account(), "eu-west-1")
    _, ecr = source_replicating_to(roles, prod)
    name, locked, other = unique("team/api"), unique("team/locked"), unique("other/tool")
    d1, d2, d3, d4 = (ev.digest(f"{name}-{n}") for n in range(4))
    for repository in (name, locked, other):
        ecr.create_repository(repositoryName=repository)
    put_image(ecr, name, d1, "v1")
    put_image(ecr, name, d1, "latest")
    put_image(ecr, name, d2)  # untagged
    put_image(ecr, locked, d3, "v1")
    put_image(ecr, other, d4, "v1")  # no rule sends other/ anywhere
    target = roles.client("ecr", *prod)
    target.create_repository(repositoryName=locked, imageTagMutability="IMMUTABLE")
    put_image(target, locked, ev.digest("prod's own"), "v1")

    backfill_id = checked(ecr, "start_replication_backfill", destination=dest(prod))[
        "replicationBackfillId"
    ]
    preparing = checked(
        ecr, "describe_replication_backfill_results", replicationBackfillId=backfill_id
    )  # read once: IN_PROGRESS, the images counted, no result before the end
    assert preparing["status"] == "IN_PROGRESS" and "results" not in preparing
    assert preparing["progress"] == {
        "totalReplicationCount": 4,  # v1, latest, untagged d2, locked:v1
        "completedReplicationCount": 0,
        "failedReplicationCount": 0,
        "failureCodes": [],
    }
    (listed,) = checked(ecr, "list_replication_backfills")["backfills"]  # read twice: ended
    assert listed["status"] == "COMPLETE" and "endedAt" in listed
    described = checked(
        ecr, "describe_replication_backfill_results", replicationBackfillId=backfill_id
    )
    assert described["status"] == "COMPLETE" and described["endedAt"] >= described["startedAt"]
    assert described["progress"]["completedReplicationCount"] == 3
    assert described["progress"]["failureCodes"] == ["IMAGE_TAG_IMMUTABLE"]
    results = {
        (r["repositoryName"], r["imageId"]["imageDigest"], r["imageId"].get("imageTag")): (
            r["status"],
            r.get("failureCode"),
        )
        for r in described["results"]
    }
    assert results == {
        (name, d1, "v1"): ("COMPLETE", None),
        (name, d1, "latest"): ("COMPLETE", None),
        (name, d2, None): ("COMPLETE", None),
        (locked, d3, "v1"): ("FAILED", "IMAGE_TAG_IMMUTABLE"),
    }
    images = target.describe_images(repositoryName=name)["imageDetails"]
    assert {i["imageDigest"]: sorted(i.get("imageTags", [])) for i in images} == {
        d1: ["latest", "v1"],
        d2: [],
    }
    with pytest.raises(target.exceptions.RepositoryNotFoundException):
        target.describe_images(repositoryName=other)

    failed = checked(
        ecr,
        "describe_replication_backfill_results",
        replicationBackfillId=backfill_id,
        resultStatusFilter="FAILED",
    )["results"]
    assert [r["repositoryName"] for r in failed] == [locked]
    first = checked(
        ecr, "describe_replication_backfill_results", replicationBackfillId=backfill_id,
        maxResults=3,
    )  # fmt: skip
    rest = checked(
        ecr, "describe_replication_backfill_results", replicationBackfillId=backfill_id,
        maxResults=3, nextToken=first["nextToken"],
    )  # fmt: skip
    assert len(first["results"]) == 3 and len(rest["results"]) == 1 and "nextToken" not in rest
    with pytest.raises(ecr.exceptions.ReplicationBackfillNotFoundException):
        ecr.describe_replication_backfill_results(
            replicationBackfillId="00000000-0000-0000-0000-000000000000"
        )


def test_ten_backfills_in_progress_per_registry(roles: AuditRoles) -> None:
    regions = ["us-east-1", "us-east-2", "us-west-1", "eu-west-1", "eu-west-2", "eu-west-3"]
    regions += ["eu-central-1", "eu-north-1", "ap-south-1", "ap-southeast-1", "ap-southeast-2"]
    destinations = [(new_account(), region) for region in regions]
    _, ecr = source_replicating_to(roles, *destinations)
    for destination in destinations[:10]:
        ecr.start_replication_backfill(destination=dest(destination))
    with pytest.raises(ecr.exceptions.LimitExceededException):
        ecr.start_replication_backfill(destination=dest(destinations[10]))
    pages = [checked(ecr, "list_replication_backfills", maxResults=4)]
    while "nextToken" in pages[-1]:
        pages.append(
            checked(
                ecr, "list_replication_backfills", maxResults=4, nextToken=pages[-1]["nextToken"]
            )
        )
    assert [len(p["backfills"]) for p in pages] == [4, 4, 2]


def test_the_projects_adapter_on_the_emulator(roles: AuditRoles) -> None:
    prod, prod2 = (new_account(), "eu-west-1"), (new_account(), "eu-west-1")
    source, ecr = source_replicating_to(roles, prod, prod2)
    api = EcrBackfills(ecr, Location(*source))
    started = api.start(Location(*prod))
    assert (started.status, started.destination, started.total) == (
        "PREPARING",
        Location(*prod),
        None,
    )
    with pytest.raises(BackfillInProgress):
        api.start(Location(*prod2))
    (listed,) = api.backfills()
    assert (listed.backfill_id, listed.status, listed.total) == (
        started.backfill_id,
        "IN_PROGRESS",
        0,
    )
    assert api.results(started.backfill_id) == []  # ended now, with nothing to replicate
    (ended,) = api.backfills()
    assert ended.status == "COMPLETE" and ended.ended_at is not None
