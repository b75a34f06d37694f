"""The tasks an ECS service runs, for the emulator: moto starts none.

As ECS does it: a service keeps `desiredCount` tasks of its current revision running, in group
`service:<name>`, started by its deployment (`ecs-svc/<id>`); a new revision (deployment)
replaces them; scaling starts or stops tasks of the current revision. Each task pulls the digest
the revision resolved (container image resolution); when that digest is no longer in its
registry, the task stops at once with `CannotPullContainerError` (stop code
`TaskFailedToStart`), which is what a scale-out, a task replacement or a Fargate retirement
meets when a pinned digest was deleted. The emulator's simplifications: deployments complete at
once, and tasks need no container instance whatever the launch type.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from chalicelib.core.image_references import parse_image_reference

if TYPE_CHECKING:
    from chalicelib.local.emulated_calls import Call
    from chalicelib.local.emulated_ecs import EmulatedEcs, Revision

STOPPED_BY_DEPLOYMENT = "Task stopped by a new deployment of the service"
STOPPED_BY_SCALING = "Scaling activity initiated by the service"
PULL_FAILED = (
    "CannotPullContainerError: pull image manifest has been retried 5 time(s): "
    "failed to resolve ref {ref}: {ref}: not found"
)


class ServiceTasks:
    def __init__(self, ecs: EmulatedEcs) -> None:
        self._ecs = ecs

    def deploy(self, call: Call, service: dict[str, Any], revision: Revision | None) -> None:
        """A new deployment: the service's tasks replaced by tasks of `revision`."""
        model = self._model(call, service)
        for task in self.running(call, service):
            _stop(task, STOPPED_BY_DEPLOYMENT)
        if model is None or revision is None:
            return
        deployment = f"ecs-svc/{random.SystemRandom().randrange(10**18, 10**19)}"
        now = datetime.now(UTC)
        model.deployments = [
            {
                "id": deployment,
                "status": "PRIMARY",
                "taskDefinition": revision.task_definition,
                "desiredCount": model.desired_count,
                "pendingCount": 0,
                "runningCount": 0,
                "failedTasks": 0,
                "createdAt": now,
                "updatedAt": now,
                "launchType": model.launch_type,
                "rolloutState": "IN_PROGRESS",
                "rolloutStateReason": f"ECS deployment {deployment} in progress.",
            }
        ]
        self._start(call, service, model, revision, model.desired_count)

    def scale(self, call: Call, service: dict[str, Any], revision: Revision) -> None:
        """Start or stop tasks of the current revision until `desiredCount` run."""
        model = self._model(call, service)
        if model is None:
            return
        running = self.running(call, service)
        for task in running[model.desired_count :]:
            _stop(task, STOPPED_BY_SCALING)
        self._start(call, service, model, revision, model.desired_count - len(running))

    def stop_all(self, call: Call, service: dict[str, Any]) -> None:
        for task in self.running(call, service):
            _stop(task, STOPPED_BY_SCALING)

    def running(self, call: Call, service: dict[str, Any]) -> list[Any]:
        cluster = service["clusterArn"].rsplit("/", 1)[-1]
        return [
            task
            for task in self._ecs.backend(call).tasks.get(cluster, {}).values()
            if task.group == f"service:{service['serviceName']}"
            and task.desired_status == "RUNNING"
        ]

    def counts(self, call: Call, service: dict[str, Any]) -> dict[str, int]:
        return {"runningTaskCount": len(self.running(call, service)), "pendingTaskCount": 0}

    # ------------------------------------------------------------------ helpers

    def _model(self, call: Call, service: dict[str, Any]) -> Any:
        cluster = service["clusterArn"].rsplit("/", 1)[-1]
        return self._ecs.backend(call).services.get(f"{cluster}:{service['serviceName']}")

    def _start(
        self, call: Call, service: dict[str, Any], model: Any, revision: Revision, count: int
    ) -> None:
        from moto.ecs.models import Task

        backend = self._ecs.backend(call)
        cluster = backend._get_cluster(service["clusterArn"])
        definition = backend.describe_task_definition(revision.task_definition)
        deployment = model.deployments[0]["id"] if model.deployments else ""
        network = service.get("networkConfiguration") or None
        for _ in range(max(count, 0)):
            try:
                task = Task(
                    cluster,
                    definition,
                    None,
                    None,
                    backend,
                    group=f"service:{service['serviceName']}",
                    launch_type=service.get("launchType") or "",
                    overrides={},
                    started_by=deployment,
                    networking_configuration=network,
                    platform_version=service.get("platformVersion"),
                )
            except Exception:  # e.g. awsvpc without a network configuration
                return
            task._transitions = [("RUNNING", "RUNNING")]  # moto would run it to completion
            backend.tasks.setdefault(cluster.name, {})[task.task_arn] = task
            document = {
                "taskArn": task.task_arn,
                "taskDefinitionArn": definition.arn,
                "clusterArn": cluster.arn,
            }
            containers = self._ecs.task_containers(call, document, revision)
            missing = self._missing_image(revision, containers)
            if missing is not None:
                reason = PULL_FAILED.format(ref=missing)
                _stop(task, reason)
                task.stop_code = "TaskFailedToStart"  # type: ignore[attr-defined]  # moto has none
                for container in self._ecs.containers[task.task_arn]:
                    container["reason"] = reason
        running = len(self.running(call, service))
        model.running_count, model.pending_count = running, 0
        if model.deployments:
            model.deployments[0]["runningCount"] = running
            if running >= model.desired_count:
                model.deployments[0]["rolloutState"] = "COMPLETED"
                model.deployments[0]["rolloutStateReason"] = (
                    f"ECS deployment {model.deployments[0]['id']} completed."
                )

    def _missing_image(self, revision: Revision, containers: list[dict[str, Any]]) -> str | None:
        """The first reference a task cannot pull from moto's ECR, or None."""
        registries = self._ecs._registries
        for container in containers:
            reference = parse_image_reference(container["image"])
            if reference is None:
                continue  # another registry: assumed reachable
            digest = revision.digest_of(container["name"])
            if digest is not None:
                wanted = replace(reference, tag=None, digest=digest)
                if registries.digest_of(wanted) is None:
                    return f"{container['image'].split('/', 1)[0]}/{reference.repository}@{digest}"
            elif registries.digest_of(reference) is None:
                return str(container["image"])
        return None


def _stop(task: Any, reason: str) -> None:
    task.last_status = "STOPPED"
    task.desired_status = "STOPPED"
    task.stopped_reason = reason
    task._transitions = [("STOPPED", "STOPPED")]
