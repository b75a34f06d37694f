"""The emulator's ECS service revisions and task digests (chalicelib/local/emulated_ecs.py,
emulated_service_tasks.py) over HTTP with boto3, on botocore's output shapes: a revision pins
the digest its tag named at deployment, a later tag move changes nothing until the next
deployment, tasks carry every container with the digest they pulled, a scale-out on a deleted
pinned digest fails to pull, and the list and describe calls page and refuse what ECS refuses."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.adapters.roles import AuditRoles
from tests.registry_helpers import ROLE, new_account, put_image, unique
from tests.workload_helpers import checked, digest, image_uri, repository_with, service

REGION = "eu-west-1"


@pytest.fixture
def roles(session: Any) -> AuditRoles:
    return AuditRoles(ROLE, session=session)


@pytest.fixture
def prod(roles: AuditRoles) -> tuple[str, str]:
    return new_account(), REGION


def clients(roles: AuditRoles, where: tuple[str, str]) -> tuple[Any, Any]:
    return roles.client("ecs", *where), roles.client("ecr", *where)


def revisions_of(ecs: Any, cluster: str, name: str) -> list[dict[str, Any]]:
    described = checked(ecs, "describe_services", cluster=cluster, services=[name])
    arns = [r["arn"] for r in described["services"][0]["currentServiceRevisions"]]
    return checked(ecs, "describe_service_revisions", serviceRevisionArns=arns)["serviceRevisions"]


def test_a_revision_pins_the_digest_its_tag_named_until_the_next_deployment(
    roles: AuditRoles, prod: tuple[str, str]
) -> None:
    ecs, ecr = clients(roles, prod)
    repository = unique("team/api")
    repository_with(ecr, repository, latest=1)
    made = service(
        ecs, "prod", "api", {"app": image_uri(prod, repository, ":latest"), "proxy": "nginx:1.27"}
    )
    assert made["currentServiceRevisions"][0]["requestedTaskCount"] == 1

    (revision,) = revisions_of(ecs, "prod", "api")
    assert revision["serviceArn"] == made["serviceArn"]
    assert revision["taskDefinition"] == made["taskDefinition"]
    assert ":service-revision/prod/api/" in revision["serviceRevisionArn"]
    assert revision["containerImages"] == [
        {"containerName": "app", "image": image_uri(prod, repository, ":latest"),
         "imageDigest": digest(1)},
        {"containerName": "proxy", "image": "nginx:1.27"},  # only moto's ECR resolves here
    ]  # fmt: skip

    put_image(ecr, repository, digest(2), "latest")  # the tag moves: the service keeps 1
    assert revisions_of(ecs, "prod", "api") == [revision]
    ecs.update_service(cluster="prod", service="api", desiredCount=3)  # scaling: same revision
    assert revisions_of(ecs, "prod", "api") == [revision]

    ecs.update_service(cluster="prod", service="api", forceNewDeployment=True)
    (redeployed,) = revisions_of(ecs, "prod", "api")
    assert redeployed["serviceRevisionArn"] != revision["serviceRevisionArn"]
    assert redeployed["containerImages"][0]["imageDigest"] == digest(2)
    again = checked(
        ecs, "describe_service_revisions", serviceRevisionArns=[revision["serviceRevisionArn"]]
    )
    assert again["serviceRevisions"] == [revision]  # a revision is immutable


def test_a_digest_reference_is_pinned_as_written_and_disabled_consistency_resolves_nothing(
    roles: AuditRoles, prod: tuple[str, str]
) -> None:
    ecs, ecr = clients(roles, prod)
    repository = unique("team/worker")
    repository_with(ecr, repository, v1=3)
    service(ecs, "batch", "pinned", {"app": image_uri(prod, repository, f"@{digest(3)}")})
    service(
        ecs, "batch", "loose", {"app": image_uri(prod, repository, ":v1")},
        versionConsistency="disabled",
    )  # fmt: skip
    (pinned,) = revisions_of(ecs, "batch", "pinned")
    assert pinned["containerImages"][0]["imageDigest"] == digest(3)
    (loose,) = revisions_of(ecs, "batch", "loose")
    assert "imageDigest" not in loose["containerImages"][0]


def test_a_new_task_definition_is_a_new_revision_and_the_service_names_its_arn(
    roles: AuditRoles, prod: tuple[str, str]
) -> None:
    ecs, ecr = clients(roles, prod)
    repository = unique("team/api")
    repository_with(ecr, repository, v1=4, v2=5)
    service(ecs, "prod", "web", {"app": image_uri(prod, repository, ":v1")}, count=2)
    ecs.register_task_definition(
        family="prod-web",
        containerDefinitions=[
            {"name": "app", "image": image_uri(prod, repository, ":v2"), "memory": 128}
        ],
    )
    updated = checked(
        ecs, "update_service", cluster="prod", service="web", taskDefinition="prod-web:2"
    )
    assert updated["service"]["taskDefinition"].endswith(":task-definition/prod-web:2")
    (revision,) = revisions_of(ecs, "prod", "web")
    assert revision["containerImages"][0]["imageDigest"] == digest(5)

    tasks = ecs.list_tasks(cluster="prod", serviceName="web")["taskArns"]
    described = checked(ecs, "describe_tasks", cluster="prod", tasks=tasks)["tasks"]
    assert len(described) == 2  # the first deployment's two tasks were replaced
    assert {t["taskDefinitionArn"] for t in described} == {revision["taskDefinition"]}
    assert {c["imageDigest"] for t in described for c in t["containers"]} == {digest(5)}


def test_service_tasks_pull_the_revision_digest_and_fail_to_pull_once_it_is_deleted(
    roles: AuditRoles, prod: tuple[str, str]
) -> None:
    ecs, ecr = clients(roles, prod)
    repository = unique("team/api")
    repository_with(ecr, repository, latest=6)
    service(
        ecs, "prod", "api",
        {"app": image_uri(prod, repository, ":latest"), "proxy": "nginx:1.27"}, count=2,
    )  # fmt: skip
    put_image(ecr, repository, digest(7), "latest")
    ecs.update_service(cluster="prod", service="api", desiredCount=3)  # scale-out: still 6
    arns = ecs.list_tasks(cluster="prod", serviceName="api")["taskArns"]
    tasks = checked(ecs, "describe_tasks", cluster="prod", tasks=arns)["tasks"]
    assert len(tasks) == 3 and {t["group"] for t in tasks} == {"service:api"}
    assert all(t["startedBy"].startswith("ecs-svc/") for t in tasks)
    for task in tasks:
        assert [(c["name"], c.get("imageDigest")) for c in task["containers"]] == [
            ("app", digest(6)),
            ("proxy", None),
        ]
        assert all(c["taskArn"] == task["taskArn"] for c in task["containers"])

    # a standalone task pulls what the tag names when it starts
    definition = tasks[0]["taskDefinitionArn"]
    (run,) = checked(
        ecs, "run_task", cluster="prod", taskDefinition=definition, launchType="FARGATE"
    )["tasks"]
    assert run["containers"][0]["imageDigest"] == digest(7)

    ecr.batch_delete_image(repositoryName=repository, imageIds=[{"imageDigest": digest(6)}])
    ecs.update_service(cluster="prod", service="api", desiredCount=4)  # the scale-out fails
    running = ecs.list_tasks(cluster="prod", serviceName="api")["taskArns"]
    assert sorted(running) == sorted(arns)
    stopped = ecs.list_tasks(cluster="prod", serviceName="api", desiredStatus="STOPPED")["taskArns"]
    (failed,) = checked(ecs, "describe_tasks", cluster="prod", tasks=stopped)["tasks"]
    assert failed["lastStatus"] == "STOPPED" and failed["stopCode"] == "TaskFailedToStart"
    assert failed["stoppedReason"].startswith("CannotPullContainerError:")
    assert f"{repository}@{digest(6)}" in failed["stoppedReason"]
    counts = ecs.describe_services(cluster="prod", services=["api"])["services"][0]
    assert counts["runningCount"] == 3
    assert counts["currentServiceRevisions"][0]["runningTaskCount"] == 3


def test_describe_calls_refuse_more_than_ecs_takes_and_report_unknown_revisions(
    roles: AuditRoles, prod: tuple[str, str]
) -> None:
    ecs, ecr = clients(roles, prod)
    repository = unique("team/api")
    repository_with(ecr, repository, v1=8)
    service(ecs, "prod", "api", {"app": image_uri(prod, repository, ":v1")})
    (revision,) = revisions_of(ecs, "prod", "api")
    arn = revision["serviceRevisionArn"]

    with pytest.raises(ecs.exceptions.InvalidParameterException, match="maximum of 20"):
        ecs.describe_service_revisions(serviceRevisionArns=[arn] * 21)
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.describe_service_revisions(serviceRevisionArns=[])
    with pytest.raises(ecs.exceptions.InvalidParameterException, match="at most 10"):
        ecs.describe_services(cluster="prod", services=[f"s{n}" for n in range(11)])
    with pytest.raises(ecs.exceptions.InvalidParameterException, match="at most 100"):
        ecs.describe_tasks(cluster="prod", tasks=[f"t{n}" for n in range(101)])

    unknown = arn.rsplit("/", 1)[0] + "/1234567890123456789"
    elsewhere = roles.client("ecs", new_account(), REGION)  # another account cannot read it
    answer = checked(elsewhere, "describe_service_revisions", serviceRevisionArns=[arn])
    assert answer == {"serviceRevisions": [], "failures": [{"arn": arn, "reason": "MISSING"}]}
    answer = checked(ecs, "describe_service_revisions", serviceRevisionArns=[arn, unknown])
    assert [r["serviceRevisionArn"] for r in answer["serviceRevisions"]] == [arn]
    assert answer["failures"] == [{"arn": unknown, "reason": "MISSING"}]


def test_list_calls_page_as_ecs_does(roles: AuditRoles, prod: tuple[str, str]) -> None:
    ecs, ecr = clients(roles, prod)
    repository = unique("team/api")
    repository_with(ecr, repository, v1=9)
    for n in range(12):
        service(ecs, "many", f"svc-{n:02}", {"app": image_uri(prod, repository, ":v1")})
    first = checked(ecs, "list_services", cluster="many")
    assert len(first["serviceArns"]) == 10 and first["nextToken"]  # 10 by default
    rest = checked(ecs, "list_services", cluster="many", nextToken=first["nextToken"])
    assert len(rest["serviceArns"]) == 2 and "nextToken" not in rest
    paged = ecs.get_paginator("list_services").paginate(
        cluster="many", PaginationConfig={"PageSize": 5}
    )
    assert sum(len(p["serviceArns"]) for p in paged) == 12
    assert len(ecs.list_tasks(cluster="many", maxResults=5)["taskArns"]) == 5

    ecs.create_cluster(clusterName="second")
    one = ecs.list_clusters(maxResults=1)
    assert len(one["clusterArns"]) == 1 and one["nextToken"]
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.list_services(cluster="many", maxResults=101)
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.list_services(cluster="many", nextToken="not-a-token")
