"""The workload inventory adapter (adapters/workloads.py, ecs_services.py, lambda_functions.py)
against the emulator over HTTP: what it finds, what it costs, what a refresh costs once the
revisions and functions are known, and what a throttled or denied read gives."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.adapters.roles import AuditRoles
from chalicelib.adapters.workloads import AuditedWorkloads
from chalicelib.core.lifecycle import Location
from tests.registry_helpers import ROLE, new_account, put_image, unique
from tests.workload_helpers import (
    Faults,
    digest,
    function,
    image_uri,
    injected_faults,
    repository_with,
    service,
)

REGION = "eu-west-1"


@pytest.fixture
def faults(moto_endpoint: str) -> Iterator[Faults]:
    yield from injected_faults(moto_endpoint)


@pytest.fixture
def roles(session: Any) -> AuditRoles:
    return AuditRoles(ROLE, session=session)


def test_services_and_image_functions_with_what_they_run(roles: AuditRoles, api_calls: Any) -> None:
    prod = Location(new_account(), REGION)
    where = (prod.account, prod.region)
    ecs, ecr = roles.client("ecs", *where), roles.client("ecr", *where)
    lam, iam = roles.client("lambda", *where), roles.client("iam", prod.account, "us-east-1")
    api, web = unique("team/api"), unique("team/web")
    repository_with(ecr, api, latest=1, v2=2)
    repository_with(ecr, web, v1=3)
    service(ecs, "prod", "api", {"app": image_uri(where, api, ":latest"), "proxy": "nginx:1"})
    service(ecs, "prod", "pinned", {"app": image_uri(where, api, f"@{digest(2)}")})
    service(
        ecs, "batch", "loose", {"app": image_uri(where, web, ":v1")}, versionConsistency="disabled"
    )
    service(ecs, "batch", "elsewhere", {"app": image_uri((new_account(), REGION), api, ":v1")})
    function(lam, iam, "resizer", image_uri(where, api, ":v2"))
    lam.create_function(
        FunctionName="zipped", Role=iam.get_role(RoleName="workload-fn")["Role"]["Arn"],
        Runtime="python3.12", Handler="app.handler", Code={"ZipFile": b"PK\x05\x06" + b"\0" * 18},
    )  # fmt: skip
    put_image(ecr, api, digest(4), "latest")  # after the deployment: prod/api still runs 1

    inventory = AuditedWorkloads(roles)
    since = len(api_calls.calls)
    reading = inventory.read(prod)
    assert reading.problems == {}
    seen = [(w.type, w.name, w.repository, w.tag, w.digest, w.pinned) for w in reading.workloads]
    assert seen == [
        ("ecs-service", "prod/api", api, "latest", digest(1), True),
        ("ecs-service", "prod/pinned", api, None, digest(2), True),
        ("lambda-function", "resizer", api, "v2", digest(2), True),
        ("ecs-service", "batch/loose", web, "v1", None, False),
    ]  # fmt: skip
    calls = sorted(op for _, op in api_calls.calls[since:] if op != "AssumeRole")
    # 2 clusters: ListClusters 1, ListServices 2, DescribeServices 2, DescribeServiceRevisions 2;
    # 1 page of functions, 1 GetFunction for the one image function
    assert calls == sorted(
        ["ListClusters", "ListServices", "ListServices", "DescribeServices", "DescribeServices",
         "DescribeServiceRevisions", "DescribeServiceRevisions", "ListFunctions", "GetFunction"]
    )  # fmt: skip

    since = len(api_calls.calls)
    assert inventory.read(prod) == reading  # revisions and functions known: no describing again
    again = sorted(op for _, op in api_calls.calls[since:] if op != "AssumeRole")
    assert again == sorted(
        ["ListClusters", "ListServices", "ListServices", "DescribeServices", "DescribeServices",
         "ListFunctions"]
    )  # fmt: skip

    ecs.update_service(cluster="prod", service="api", forceNewDeployment=True)
    moved = {w.name: w.digest for w in inventory.read(prod).workloads}
    assert moved["prod/api"] == digest(4)  # the new revision resolved the moved tag


def test_only_the_selected_types_are_read(roles: AuditRoles, api_calls: Any) -> None:
    prod = Location(new_account(), REGION)
    since = len(api_calls.calls)
    reading = AuditedWorkloads(roles, types=["lambda"]).read(prod)
    assert reading.found == {"lambda": ()} and reading.problems == {}
    assert {service for service, _ in api_calls.calls[since:]} <= {"lambda", "sts"}


def test_a_throttled_or_denied_type_is_unknown_with_a_line_naming_the_account(
    roles: AuditRoles, faults: Faults
) -> None:
    prod = Location(new_account(), REGION)
    where = (prod.account, prod.region)
    repository = unique("team/api")
    repository_with(roles.client("ecr", *where), repository, v1=5)
    service(
        roles.client("ecs", *where), "prod", "api", {"app": image_uri(where, repository, ":v1")}
    )
    faults.add("ecs", "DescribeServices", account=prod.account)
    faults.add("lambda", "ListFunctions", "AccessDeniedException", account=prod.account)
    reading = AuditedWorkloads(roles).read(prod)
    assert reading.found == {}
    assert reading.problems == {
        "ecs": f"ECS services of account {prod.account} in {REGION} unknown: throttled "
        "(Rate exceeded)",
        "lambda": f"Lambda functions of account {prod.account} in {REGION} unknown: access "
        "denied (User is not authorized to perform: lambda:ListFunctions because no "
        "identity-based policy allows the lambda:ListFunctions action)",
    }
    faults.clear()
    assert [w.name for w in AuditedWorkloads(roles).read(prod).workloads] == ["prod/api"]


def test_a_service_without_revisions_is_read_from_its_task_definition_and_tasks(
    roles: AuditRoles, faults: Faults
) -> None:
    prod = Location(new_account(), REGION)
    where = (prod.account, prod.region)
    repository = unique("team/api")
    repository_with(roles.client("ecr", *where), repository, v1=6)
    ecs = roles.client("ecs", *where)
    made = service(ecs, "prod", "old", {"app": image_uri(where, repository, ":v1")}, count=2)
    (legacy,) = faults.legacy_revisions(made["serviceArn"])
    described = ecs.describe_service_revisions(serviceRevisionArns=[legacy])
    assert described["failures"] == [{"arn": legacy, "reason": "MISSING"}]
    (workload,) = AuditedWorkloads(roles).read(prod).workloads
    assert (workload.name, workload.digest, workload.pinned) == ("prod/old", digest(6), True)
