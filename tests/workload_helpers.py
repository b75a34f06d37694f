"""Test helpers for workloads: ECS services and Lambda image functions in moto's accounts, answers
checked against botocore's shapes, and the emulator's injected faults."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

from botocore.validate import validate_parameters

from chalicelib.local.workload_mirror import LAMBDA_TRUST
from tests.registry_helpers import put_image


def digest(n: int) -> str:
    return "sha256:" + f"{n:x}".rjust(64, "0")


def image_uri(where: tuple[str, str], repository: str, suffix: str = "") -> str:
    return f"{where[0]}.dkr.ecr.{where[1]}.amazonaws.com/{repository}{suffix}"


def checked(client: Any, operation: str, **params: Any) -> dict[str, Any]:
    """Call `operation` and check the answer against botocore's output shape."""
    answer = getattr(client, operation)(**params)
    answer.pop("ResponseMetadata")
    model = client.meta.service_model.operation_model(client.meta.method_to_api_mapping[operation])
    validate_parameters(answer, model.output_shape)
    return answer


def repository_with(ecr: Any, repository: str, **tags: int) -> None:
    """A repository holding digest(n) for each tag=n."""
    ecr.create_repository(repositoryName=repository)
    for tag, n in tags.items():
        put_image(ecr, repository, digest(n), tag)


def service(
    ecs: Any, cluster: str, name: str, images: dict[str, str], count: int = 1, **container: Any
) -> dict[str, Any]:
    """A cluster (made if need be), a task definition with one container per name -> image, and
    a service of `count` tasks on it."""
    ecs.create_cluster(clusterName=cluster)
    definition = ecs.register_task_definition(
        family=f"{cluster}-{name}",
        containerDefinitions=[
            {"name": n, "image": i, "memory": 128, **container} for n, i in images.items()
        ],
    )["taskDefinition"]
    return dict(
        ecs.create_service(
            cluster=cluster,
            serviceName=name,
            taskDefinition=definition["taskDefinitionArn"],
            desiredCount=count,
        )["service"]
    )


def lambda_role(iam: Any) -> str:
    try:
        return str(iam.get_role(RoleName="workload-fn")["Role"]["Arn"])
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(
            RoleName="workload-fn", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST)
        )
        return str(role["Role"]["Arn"])


def function(lam: Any, iam: Any, name: str, uri: str) -> dict[str, Any]:
    return dict(
        lam.create_function(
            FunctionName=name, Role=lambda_role(iam), Code={"ImageUri": uri}, PackageType="Image"
        )
    )


class Faults:
    """The emulator's injected failures (chalicelib/local/emulated_faults.py)."""

    def __init__(self, endpoint: str) -> None:
        self.url = f"{endpoint}/_emulator/faults"

    def add(
        self, service: str, operation: str, error: str = "ThrottlingException", **match: Any
    ) -> None:
        self._send("POST", {"service": service, "operation": operation, "error": error, **match})

    def listed(self) -> list[dict[str, Any]]:
        return list(self._send("GET")["faults"])

    def clear(self) -> None:
        self._send("DELETE")

    def legacy_revisions(self, service_arn: str) -> list[str]:
        """Make a service's revisions ones ECS cannot describe (deployed before 2024-10-25)."""
        url = self.url.replace("/faults", "/ecs/legacy-revisions")
        data = json.dumps({"serviceArn": service_arn}).encode()
        request = urllib.request.Request(url, data=data, method="POST")
        with urllib.request.urlopen(request, timeout=10) as answer:  # loopback
            return list(json.loads(answer.read())["serviceRevisionArns"])

    def _send(self, method: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url, data=data, method=method)
        with urllib.request.urlopen(request, timeout=10) as answer:  # loopback
            return json.loads(answer.read())


def injected_faults(moto_endpoint: str) -> Iterator[Faults]:
    """A fixture's body: the emulator's faults, none before the test and none after."""
    injected = Faults(moto_endpoint)
    injected.clear()
    yield injected
    injected.clear()


# --------------------------------------------------------------------------- fakes


class InMemoryWorkloadReader:
    """The workload reader's fake: what each location runs, and the types that fail there."""

    def __init__(self, types: tuple[str, ...] = ("ecs", "lambda")) -> None:
        self.types = types
        self.running: dict[Any, list[Any]] = {}
        self.failing: dict[tuple[Any, str], str] = {}  # (location, type) -> reason
        self.reads: list[Any] = []

    def run(self, *workloads: Any) -> None:
        for workload in workloads:
            self.running.setdefault(workload.location, []).append(workload)

    def stop(self, name: str) -> None:
        for found in self.running.values():
            found[:] = [w for w in found if w.name != name]

    def read(self, location: Any) -> Any:
        from chalicelib.core.workloads import TYPE_OF, Reading

        self.reads.append(location)
        found, problems = {}, {}
        for kind in self.types:
            if (location, kind) in self.failing:
                problems[kind] = self.failing[(location, kind)]
            else:
                mine = self.running.get(location, [])
                found[kind] = tuple(sorted(w for w in mine if w.type == TYPE_OF[kind]))
        return Reading(location, found, problems)


class InMemoryWorkloadStore:
    """The workload store's fake: inventories by location, pins in their own map."""

    def __init__(self) -> None:
        self.saved: dict[Any, Any] = {}
        self.pins: dict[Any, Any] = {}
        self.saves = 0

    def _with_pins(self, inventory: Any, workloads: Any) -> Any:
        from dataclasses import replace

        pins = {p: t for p, t in self.pins.items() if p.location == inventory.location}
        return replace(inventory, workloads=tuple(workloads), open_pins=pins)

    def inventories(self, locations: Any) -> dict[Any, Any]:
        return {
            where: self._with_pins(self.saved[where], ())
            for where in locations
            if where in self.saved
        }

    def inventory(self, location: Any, repository: str | None = None) -> Any:
        found = self.saved.get(location)
        if found is None:
            return None
        mine = [w for w in found.workloads if repository in (None, w.repository)]
        return self._with_pins(found, mine)

    def save(self, inventory: Any, previous: Any) -> None:
        self.saves += 1
        self.saved[inventory.location] = inventory

    def pin_opened(self, pin: Any, since: Any) -> None:
        self.pins.setdefault(pin, since)

    def pin_closed(self, pin: Any) -> None:
        self.pins.pop(pin, None)

    def repository_workloads(self, repository: str) -> list[Any]:
        return sorted(
            w
            for found in self.saved.values()
            for w in found.workloads
            if w.repository == repository
        )


def totals(busy: dict[str, int], empty: dict[str, int], twice: bool) -> dict[str, int]:
    """The calls of a busy location's read plus an empty one's (twice: two empty locations)."""
    summed = dict(busy)
    for name, count in empty.items():
        summed[name] = summed.get(name, 0) + count * (2 if twice else 1)
    return summed
