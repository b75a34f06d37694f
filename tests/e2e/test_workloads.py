"""What runs the images, end to end: the real app with AUDIT_ROLE_NAME against ECS services and
Lambda image functions created in moto in two accounts (through the emulator's revisions and
resolved digests), events replayed as EventBridge delivers them.

prod runs `team/api` three ways (a service by tag, a service pinned by digest, a service of a
repository no rule audits); DR runs a Lambda function on `team/api:latest`. Covered: the
TAG_OVERWRITTEN of prod's `latest` names the service on that tag; the REPLICA_MISSING in DR
names the function; PINNED_DIGEST_MISSING is raised when prod deletes the pinned digest and
recovered when it is back; a throttled ECS read leaves the alert intact (workloads unknown,
one log line naming the account); GET /workloads and the matrix's counts; the calls one
inventory refresh costs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.adapters.roles import AuditRoles
from chalicelib.adapters.workloads import read_calls
from chalicelib.core.alert_formats import render_slack
from tests import events as ev
from tests.registry_helpers import ROLE, new_account, put_image, unique
from tests.workload_helpers import (
    Faults,
    function,
    image_uri,
    injected_faults,
    service,
    totals,
)

REGION_PROD, REGION_DR = "eu-west-1", "us-east-1"
D0, D1, D_OLD = ev.digest("prod-own"), ev.digest("dev-new"), ev.digest("dr-old")
# Registries stamp images with the wall clock: the story happens just before it.
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@dataclass
class World:
    dev: tuple[str, str]
    prod: tuple[str, str]
    dr: tuple[str, str]
    repo: str
    other: str
    roles: AuditRoles

    def client(self, service: str, where: tuple[str, str]) -> Any:
        region = "us-east-1" if service == "iam" else where[1]
        return self.roles.client(service, where[0], region)


@pytest.fixture
def faults(moto_endpoint: str) -> Iterator[Faults]:
    yield from injected_faults(moto_endpoint)


@pytest.fixture
def world(session: Any, configure: Any) -> World:
    """Fresh accounts (the inventories are theirs alone): dev replicates team/* to prod and DR."""
    dev, prod, dr = (
        (new_account(), "us-west-2"),
        (new_account(), REGION_PROD),
        (new_account(), REGION_DR),
    )
    config = [ev.registry(dev, ([prod, dr], ["team/"]))]
    configure(AUDIT_ROLE_NAME=ROLE, REPLICATION_CONFIG=config)
    made = World(
        dev, prod, dr, unique("team/api"), unique("other/tool"), AuditRoles(ROLE, session=session)
    )
    for where in (dev, prod, dr):
        made.client("ecr", where).create_repository(repositoryName=made.repo)
    made.client("ecr", prod).create_repository(repositoryName=made.other)
    return made


def prod_runs(world: World, replay: Any) -> None:
    """prod pushed its own `latest` (D0) and runs it: by tag, pinned by digest, and a tool of a
    repository no rule audits; DR holds an older `latest` that a Lambda function runs."""
    ecr, ecs = world.client("ecr", world.prod), world.client("ecs", world.prod)
    put_image(ecr, world.repo, D0, "latest")
    replay(ev.push(world.prod, world.repo, "latest", D0, at(-60)))
    put_image(ecr, world.other, D_OLD, "v1")
    service(ecs, "prod", "api", {"app": image_uri(world.prod, world.repo, ":latest")}, count=2)
    service(ecs, "prod", "worker", {"app": image_uri(world.prod, world.repo, f"@{D0}")})
    service(ecs, "prod", "tool", {"app": image_uri(world.prod, world.other, ":v1")})
    put_image(world.client("ecr", world.dr), world.repo, D_OLD, "latest")
    function(
        world.client("lambda", world.dr), world.client("iam", world.dr), "resizer",
        image_uri(world.dr, world.repo, ":latest"),
    )  # fmt: skip


def dev_pushes_latest(world: World, replay: Any) -> None:
    """dev pushes a new `latest` (D1): it replicates to prod (over prod's own tag), not to DR."""
    put_image(world.client("ecr", world.dev), world.repo, D1, "latest")
    replay(ev.push(world.dev, world.repo, "latest", D1, at(0)))
    put_image(world.client("ecr", world.prod), world.repo, D1, "latest")  # D0 stays, untagged
    replay(ev.replication(world.prod, world.dev, world.repo, "latest", D1, at(2)))


def bodies(alerts: Any) -> list[dict[str, Any]]:
    return [a["body"] for a in alerts.drain()]


def entry(world: World, kind: str, name: str, image: str, digest: str, where: Any = None) -> dict:
    account, region = where or world.prod
    return {"type": kind, "name": name, "account": account, "region": region, "image": image,
            "digest": digest}  # fmt: skip


def test_an_overwritten_tag_names_the_service_on_it_and_a_missing_replica_the_function(
    world: World, replay: Any, alerts: Any
) -> None:
    prod_runs(world, replay)
    dev_pushes_latest(world, replay)
    replay(ev.schedule(at(5)))
    (overwritten,) = bodies(alerts)
    assert overwritten["kind"] == "TAG_OVERWRITTEN"
    assert overwritten["cause"] == "replication_overwrote_local_tag"
    assert overwritten["workloads"] == [
        entry(world, "ecs-service", "prod/api", image_uri(world.prod, world.repo, ":latest"), D0)
    ]  # the worker is pinned by digest: the tag move does not concern it
    print("\nTAG_OVERWRITTEN document:\n" + json.dumps(overwritten, indent=2))
    print("Slack:\n" + json.dumps(render_slack(overwritten), indent=2, ensure_ascii=False))

    replay(ev.schedule(at(31)))  # DR never got D1
    (missing,) = bodies(alerts)
    assert (missing["kind"], missing["destination"]["account"]) == ("REPLICA_MISSING", world.dr[0])
    resizer = image_uri(world.dr, world.repo, ":latest")
    assert missing["workloads"] == [
        entry(world, "lambda-function", "resizer", resizer, D_OLD, world.dr)
    ]


def test_a_deleted_pinned_digest_is_raised_and_recovered_when_it_is_back(
    world: World, replay: Any, alerts: Any, client: Any
) -> None:
    prod_runs(world, replay)
    dev_pushes_latest(world, replay)
    replay(ev.schedule(at(5)))
    bodies(alerts)  # the TAG_OVERWRITTEN
    ecr = world.client("ecr", world.prod)
    ecr.batch_delete_image(repositoryName=world.repo, imageIds=[{"imageDigest": D0}])
    replay(ev.delete(world.prod, world.repo, None, D0, at(10)))
    replay(ev.schedule(at(21)))  # the inventory is 16 minutes old: read again, pins checked
    (pinned,) = bodies(alerts)
    assert (pinned["kind"], pinned["severity"], pinned["digest"]) == (
        "PINNED_DIGEST_MISSING",
        "critical",
        D0,
    )
    assert pinned["destination"] == {"account": world.prod[0], "region": world.prod[1]}
    assert pinned["source"] is None and pinned["tag"] is None
    assert [w["name"] for w in pinned["workloads"]] == ["prod/api", "prod/worker"]
    print("\nPINNED_DIGEST_MISSING document:\n" + json.dumps(pinned, indent=2))
    print("Slack:\n" + json.dumps(render_slack(pinned), indent=2, ensure_ascii=False))
    status = client.http.get("/status").json_body
    assert pinned["incident_id"] in [i["incident_id"] for i in status["incidents"]]

    replay(ev.schedule(at(22)))
    assert bodies(alerts) == []  # one incident, whatever the sweeps
    put_image(ecr, world.repo, D0)  # pushed back (untagged)
    replay(ev.schedule(at(23)))  # the open pin is checked at every sweep
    (recovered,) = bodies(alerts)
    assert (recovered["kind"], recovered["resolves"]) == ("RECOVERED", "PINNED_DIGEST_MISSING")
    assert recovered["incident_id"] == pinned["incident_id"]


def test_a_throttled_ecs_read_leaves_the_alert_intact(
    world: World, replay: Any, alerts: Any, faults: Faults, caplog: pytest.LogCaptureFixture
) -> None:
    prod_runs(world, replay)
    faults.add("ecs", "DescribeServices", account=world.prod[0])
    put_image(world.client("ecr", world.dev), world.repo, D1, "v2")
    replay(ev.push(world.dev, world.repo, "v2", D1, at(0)))
    replay(ev.replication(world.prod, world.dev, world.repo, "v2", D1, at(1), ok=False))
    (failed,) = bodies(alerts)
    assert failed["kind"] == "REPLICATION_FAILED" and failed["workloads"] == []
    lines = [r.getMessage() for r in caplog.records if "unknown: throttled" in r.getMessage()]
    where = f"account {world.prod[0]} in {REGION_PROD}"
    assert lines == [f"ECS services of {where} unknown: throttled (Rate exceeded)"]


def test_get_workloads_lists_a_repositorys_workloads_everywhere(
    world: World, replay: Any, client: Any
) -> None:
    prod_runs(world, replay)
    dev_pushes_latest(world, replay)
    replay(ev.schedule(at(5)))
    answer = client.http.get(f"/workloads?repository={world.repo}")
    assert answer.status_code == 200
    listed = {
        (w["name"], w["tag"], w["digest"], w["pinned"]) for w in answer.json_body["workloads"]
    }
    assert listed == {
        ("prod/api", "latest", D0, True),
        ("prod/worker", None, D0, True),
        ("resizer", "latest", D_OLD, True),
    }
    assert client.http.get(f"/workloads?repository={world.other}").status_code == 404  # not audited
    assert client.http.get("/workloads").status_code == 400
    assert client.http.get(f"/workloads?repository={world.repo}&tag=x").status_code == 400
    cells = {
        (row["repository"], d["destination"]["account"]): d["workloads"]
        for row in client.http.get("/repositories").json_body["repositories"]
        for d in row["destinations"]
    }
    assert cells[(world.repo, world.prod[0])] == 2 and cells[(world.repo, world.dr[0])] == 1


def test_the_calls_one_inventory_refresh_costs(world: World, replay: Any, api_calls: Any) -> None:
    """2 clusters, 3 services of ECR images (+1 of another registry), 2 image functions and a
    zip one in prod; dev and DR run nothing. One sweep reads the three inventories."""
    ecs, lam, iam = (world.client(s, world.prod) for s in ("ecs", "lambda", "iam"))
    put_image(world.client("ecr", world.prod), world.repo, D0, "latest")
    for cluster, name in (("prod", "api"), ("prod", "web"), ("batch", "jobs")):
        service(ecs, cluster, name, {"app": image_uri(world.prod, world.repo, ":latest")})
    service(ecs, "batch", "proxy", {"app": "public.ecr.aws/nginx/nginx:1"})
    for name in ("resizer", "thumbnailer"):
        function(lam, iam, name, image_uri(world.prod, world.repo, ":latest"))
    lam.create_function(
        FunctionName="zipped", Role=iam.get_role(RoleName="workload-fn")["Role"]["Arn"],
        Runtime="python3.12", Handler="app.handler", Code={"ZipFile": b"PK\x05\x06" + b"\0" * 18},
    )  # fmt: skip

    def sweep_calls(minute: float) -> dict[str, int]:
        since = len(api_calls.calls)
        replay(ev.schedule(at(minute)))
        counted: dict[str, int] = {}
        for service_name, operation in api_calls.calls[since:]:
            if service_name in ("ecs", "lambda"):
                counted[operation] = counted.get(operation, 0) + 1
        return counted

    # prod: ListClusters 1, ListServices 1 per cluster, DescribeServices 1 per cluster (10 a
    # call), DescribeServiceRevisions 1 per cluster (20 a call); ListFunctions 1 (50 a page),
    # GetFunction 1 per image function; dev and DR: ListClusters 1, ListFunctions 1 each
    first = sweep_calls(0)
    print(f"\nfirst refresh of 3 locations: {first}")
    assert first == {
        "ListClusters": 3, "ListServices": 2, "DescribeServices": 2,
        "DescribeServiceRevisions": 2, "ListFunctions": 3, "GetFunction": 2,
    }  # fmt: skip
    assert first == totals(read_calls([2, 2], 3, 2, True), read_calls([], 0, 0, True), twice=True)
    assert sweep_calls(5) == {}  # fresh for 15 minutes
    again = sweep_calls(15)  # revisions and unchanged functions are not described again
    print(f"next refresh of 3 locations: {again}")
    assert again == {
        "ListClusters": 3,
        "ListServices": 2,
        "DescribeServices": 2,
        "ListFunctions": 3,
    }
    assert again == totals(read_calls([2, 2], 3, 2, False), read_calls([], 0, 0, False), twice=True)
