"""EcsServices: the ECS services of one location and the images they run, read-only.

Per location: ListClusters, then per cluster ListServices (100 a page), DescribeServices (10 a
call) and DescribeServiceRevisions on the services' `currentServiceRevisions` (20 a call):
each revision names every container's image and the digest ECS resolved it to. Revisions and
task definitions never change, so they are cached by ARN for the life of the container: a
refresh pays for new revisions only. A service without describable revisions (created before
2024-10-25 and not deployed since) falls back on its task definition (DescribeTaskDefinition)
and its tasks (ListTasks, DescribeTasks: `containers[].imageDigest`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from chalicelib.core.lifecycle import Location
from chalicelib.core.workloads import ImageUse, Workload, workloads_of

SERVICES_PER_DESCRIBE = 10
REVISIONS_PER_DESCRIBE = 20
TASKS_PER_DESCRIBE = 100
PAGE = 100
RUNNING = ("ACTIVE", "DRAINING")  # a draining service still runs its tasks


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class EcsServices:
    def __init__(self, client_for: Callable[[Location], Any]) -> None:
        self._client_for = client_for
        # revision ARN -> its images (None: ECS cannot describe it); task definition ARN ->
        # (container name, image, follows its tag)
        self._revisions: dict[str, tuple[ImageUse, ...] | None] = {}
        self._definitions: dict[str, tuple[tuple[str, str, bool], ...]] = {}

    def workloads(self, location: Location) -> list[Workload]:
        client = self._client_for(location)
        found: list[Workload] = []
        for cluster in self._listed(client, "list_clusters", "clusterArns"):
            arns = list(self._listed(client, "list_services", "serviceArns", cluster=cluster))
            services = [
                service
                for batch in _chunks(arns, SERVICES_PER_DESCRIBE)
                for service in client.describe_services(cluster=cluster, services=batch)["services"]
                if service.get("status") in RUNNING
            ]
            self._describe_revisions(
                client, [r["arn"] for s in services for r in s.get("currentServiceRevisions", [])]
            )
            name = cluster.rsplit("/", 1)[-1]
            for service in services:
                known = self._revision_uses(service)
                uses = known if known is not None else self._task_uses(client, cluster, service)
                found += workloads_of(
                    location, "ecs-service", f"{name}/{service['serviceName']}", uses
                )
        return found

    @staticmethod
    def _listed(client: Any, operation: str, key: str, **params: Any) -> Iterable[str]:
        pages = client.get_paginator(operation).paginate(
            **params, PaginationConfig={"PageSize": PAGE}
        )
        for page in pages:
            yield from page[key]

    def _describe_revisions(self, client: Any, arns: list[str]) -> None:
        wanted = sorted({arn for arn in arns if arn not in self._revisions})
        for batch in _chunks(wanted, REVISIONS_PER_DESCRIBE):
            answer = client.describe_service_revisions(serviceRevisionArns=batch)
            for revision in answer.get("serviceRevisions", []):
                self._revisions[revision["serviceRevisionArn"]] = tuple(
                    ImageUse(image["image"], image.get("imageDigest"))
                    for image in revision.get("containerImages", [])
                )
            for failure in answer.get("failures", []):
                self._revisions[failure["arn"]] = None

    def _revision_uses(self, service: dict[str, Any]) -> tuple[ImageUse, ...] | None:
        """What the service's current revisions run (several during a deployment); None when
        it has none ECS can describe."""
        arns = [r["arn"] for r in service.get("currentServiceRevisions", [])]
        known = [self._revisions.get(arn) for arn in arns]
        if not arns or any(uses is None for uses in known):
            return None
        return tuple(use for uses in known for use in uses or ())

    def _task_uses(
        self, client: Any, cluster: str, service: dict[str, Any]
    ) -> tuple[ImageUse, ...]:
        """Without revisions: the task definition's images, and the digests its running tasks
        report for each container."""
        definition = service.get("taskDefinition")
        if not definition:
            return ()
        if definition not in self._definitions:
            described = client.describe_task_definition(taskDefinition=definition)
            self._definitions[definition] = tuple(
                (c["name"], c["image"], c.get("versionConsistency") == "disabled")
                for c in described["taskDefinition"]["containerDefinitions"]
            )
        containers = self._definitions[definition]
        tasks = list(
            self._listed(
                client,
                "list_tasks",
                "taskArns",
                cluster=cluster,
                serviceName=service["serviceName"],
            )
        )
        digests: dict[str, set[str]] = {}
        for batch in _chunks(tasks, TASKS_PER_DESCRIBE):
            for task in client.describe_tasks(cluster=cluster, tasks=batch)["tasks"]:
                for container in task.get("containers", []):
                    if container.get("imageDigest"):
                        digests.setdefault(container["name"], set()).add(container["imageDigest"])
        uses: list[ImageUse] = []
        for name, image, follows in containers:
            running: list[str | None] = [*sorted(digests.get(name, ()))] or [None]
            uses += [ImageUse(image, digest, follows) for digest in running]
        return tuple(uses)
