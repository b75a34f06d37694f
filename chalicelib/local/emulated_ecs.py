"""ECS's service revisions and task image digests for the emulator, in front of moto's ECS.

As the ECS API reference and developer guide describe them:
- a **service revision** is created with the service and by every update that starts a
  deployment (a new task definition, `forceNewDeployment`, another network configuration,
  launch type, platform version, capacity provider strategy, load balancers or service
  registries); it records each container's image and, with `versionConsistency` enabled (the
  default), the digest its tag named at that moment ("container image resolution"); tasks the
  service starts later use that digest, whatever the tag names by then;
- `DescribeServices` gives each service's `currentServiceRevisions`; `DescribeServiceRevisions`
  takes at most 20 revision ARNs and reports unknown ones as failures;
- a task holds every container of its task definition, each with the `imageDigest` it pulled;
- `DescribeServices` takes at most 10 services, `DescribeTasks` 100 tasks; `ListClusters`,
  `ListServices` and `ListTasks` page (maxResults 1-100; 100, 10 and 100 by default) and
  `ListTasks` honours `serviceName`.
The service's own tasks (what it runs, scale-out failing on a deleted digest) are
emulated_service_tasks.py's. The emulator's own simplification: a deployment completes at once,
so a service has one current revision. Not emulated: ListServiceDeployments,
DescribeServiceDeployments, daemons, digest resolution for registries other than moto's ECR.
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from chalicelib.core.image_references import parse_image_reference
from chalicelib.core.lifecycle import partition_of
from chalicelib.local.emulated_calls import (
    Answer,
    ApiError,
    Call,
    Registries,
    json_answer,
    json_error,
    page,
)

# UpdateService parameters that start a deployment, hence a new service revision
DEPLOYING = {
    "taskDefinition": "taskDefinition",
    "networkConfiguration": "networkConfiguration",
    "launchType": "launchType",
    "platformVersion": "platformVersion",
    "capacityProviderStrategy": "capacityProviderStrategy",
    "loadBalancers": "loadBalancers",
    "serviceRegistries": "serviceRegistries",
}
MAX_REVISIONS, MAX_SERVICES, MAX_TASKS = 20, 10, 100


@dataclass
class Revision:
    """One service revision, as DescribeServiceRevisions gives it."""

    arn: str
    service_arn: str
    cluster_arn: str
    task_definition: str
    created_at: float
    container_images: list[dict[str, str]]
    settings: dict[str, Any] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        return {
            "serviceRevisionArn": self.arn,
            "serviceArn": self.service_arn,
            "clusterArn": self.cluster_arn,
            "taskDefinition": self.task_definition,
            **self.settings,
            "containerImages": [dict(image) for image in self.container_images],
            "guardDutyEnabled": False,
            "createdAt": self.created_at,
        }

    def digest_of(self, container: str) -> str | None:
        return next(
            (
                i.get("imageDigest")
                for i in self.container_images
                if i["containerName"] == container
            ),
            None,
        )


class EmulatedEcs:
    """ECS operations completed or answered here; moto does the rest."""

    OPERATIONS = frozenset(
        {
            "CreateService",
            "UpdateService",
            "DeleteService",
            "DescribeServices",
            "DescribeServiceRevisions",
            "RunTask",
            "StartTask",
            "StopTask",
            "DescribeTasks",
            "ListClusters",
            "ListServices",
            "ListTasks",
        }
    )

    def __init__(self, registries: Registries, backends: Any = None) -> None:
        if backends is None:
            from moto.ecs.models import ecs_backends as backends
        self._backends = backends
        self._registries = registries
        self.revisions: dict[str, Revision] = {}
        self.current: dict[str, str] = {}  # service ARN -> its current revision's ARN
        self.containers: dict[str, list[dict[str, Any]]] = {}  # task ARN -> its containers
        self.legacy: set[str] = set()  # revision ARNs ECS cannot describe (before 2024-10-25)
        from chalicelib.local.emulated_service_tasks import ServiceTasks

        self.service_tasks = ServiceTasks(self)

    def handles(self, operation: str) -> bool:
        return operation in self.OPERATIONS

    def error(self, error: ApiError) -> Answer:
        return json_error(error)

    def handle(self, call: Call) -> Answer:
        name = "".join("_" + c.lower() if c.isupper() else c for c in call.operation)
        handler = getattr(self, f"_{name.lstrip('_')}")
        answer: Answer = handler(call)
        return answer

    def backend(self, call: Call) -> Any:
        return self._backends[call.account][call.region]

    # ------------------------------------------------------------------ services

    def _create_service(self, call: Call) -> Answer:
        answer = call.forward()
        if not answer.ok:
            return answer
        document = answer.json()
        service = document["service"]
        revision = self._new_revision(call, service)
        self.service_tasks.deploy(call, service, revision)
        service.update(self._service_view(call, service))
        return answer.with_json(document)

    def _update_service(self, call: Call) -> Answer:
        request = call.body()
        answer = call.forward()
        if not answer.ok:
            return answer
        document = answer.json()
        service = document["service"]
        self._task_definition_arn(call, service)
        current = self.revisions.get(self.current.get(service["serviceArn"], ""))
        if (
            current is None
            or request.get("forceNewDeployment")
            or self._redeploys(request, current, service)
        ):
            revision = self._new_revision(call, service)
            self.service_tasks.deploy(call, service, revision)
        else:
            self.service_tasks.scale(call, service, current)
        service.update(self._service_view(call, service))
        return answer.with_json(document)

    def _delete_service(self, call: Call) -> Answer:
        answer = call.forward()
        if answer.ok:
            document = answer.json()
            self.service_tasks.stop_all(call, document["service"])
            self.current.pop(document["service"]["serviceArn"], None)
        return answer

    def _describe_services(self, call: Call) -> Answer:
        wanted = call.body().get("services") or []
        if len(wanted) > MAX_SERVICES:
            raise ApiError(
                "InvalidParameterException",
                f"services can have at most {MAX_SERVICES} items; {len(wanted)} were given",
            )
        answer = call.forward()
        if not answer.ok:
            return answer
        document = answer.json()
        for service in document.get("services", []):
            if service.get("status") == "ACTIVE" and service["serviceArn"] not in self.current:
                self._new_revision(call, service)  # made outside this layer (CloudFormation)
            service.update(self._service_view(call, service))
        return answer.with_json(document)

    def _describe_service_revisions(self, call: Call) -> Answer:
        arns = call.body().get("serviceRevisionArns")
        if not isinstance(arns, list) or not arns or not all(isinstance(a, str) for a in arns):
            raise ApiError("InvalidParameterException", "serviceRevisionArns must list ARNs")
        if len(arns) > MAX_REVISIONS:
            raise ApiError(
                "InvalidParameterException",
                f"You can specify a maximum of {MAX_REVISIONS} serviceRevisionArns",
            )
        found, failures = [], []
        own = f":ecs:{call.region}:{call.account}:service-revision/"
        for arn in arns:
            revision = self.revisions.get(arn)
            if revision is None or own not in arn or arn in self.legacy:
                failures.append({"arn": arn, "reason": "MISSING"})
            else:
                found.append(revision.document())
        return json_answer({"serviceRevisions": found, "failures": failures})

    def make_legacy(self, service_arn: str) -> list[str]:
        """The service's current revision made one ECS cannot describe; its ARN, or a
        KeyError for a service this layer does not know."""
        arn = self.current[service_arn]
        self.legacy.add(arn)
        return [arn]

    def _service_view(self, call: Call, service: dict[str, Any]) -> dict[str, Any]:
        """What ECS adds to a service document: its current revisions with their task counts."""
        arn = self.current.get(service["serviceArn"])
        if arn is None:
            return {"currentServiceRevisions": []}
        counts = self.service_tasks.counts(call, service)
        summary = {"arn": arn, "requestedTaskCount": service.get("desiredCount", 0), **counts}
        return {"currentServiceRevisions": [summary]}

    def _redeploys(
        self, request: dict[str, Any], current: Revision, service: dict[str, Any]
    ) -> bool:
        if "taskDefinition" in request and service.get("taskDefinition") != current.task_definition:
            return True
        return any(
            key in request and request[key] != current.settings.get(field_name)
            for key, field_name in DEPLOYING.items()
            if key != "taskDefinition"
        )

    def _task_definition_arn(self, call: Call, service: dict[str, Any]) -> None:
        # moto keeps the string UpdateService was given ("api:2"); ECS answers with the ARN
        given = service.get("taskDefinition")
        if not given or given.startswith("arn:"):
            return
        arn = self.backend(call).describe_task_definition(given).arn
        service["taskDefinition"] = arn
        cluster = service["clusterArn"].rsplit("/", 1)[-1]
        model = self.backend(call).services.get(f"{cluster}:{service['serviceName']}")
        if model is not None:
            model.task_definition = arn

    def _new_revision(self, call: Call, service: dict[str, Any]) -> Revision | None:
        if not service.get("taskDefinition"):
            return None  # an external deployment controller: no revision
        definition = self.backend(call).describe_task_definition(service["taskDefinition"])
        cluster = service["clusterArn"].rsplit("/", 1)[-1]
        number = random.SystemRandom().randrange(10**18, 10**19)
        arn = (
            f"arn:{partition_of(call.region)}:ecs:{call.region}:{call.account}:"
            f"service-revision/{cluster}/{service['serviceName']}/{number}"
        )
        settings = {
            key: service[key]
            for key in ("launchType", "platformVersion", "capacityProviderStrategy",
                        "networkConfiguration", "loadBalancers", "serviceRegistries")
            if service.get(key)
        }  # fmt: skip
        revision = Revision(
            arn,
            service["serviceArn"],
            service["clusterArn"],
            definition.arn,
            time.time(),
            [self._resolved(c) for c in definition.container_definitions],
            settings,
        )
        self.revisions[arn] = revision
        self.current[service["serviceArn"]] = arn
        return revision

    def _resolved(self, container: dict[str, Any]) -> dict[str, str]:
        image = str(container.get("image", ""))
        entry = {"containerName": str(container.get("name", "")), "image": image}
        if container.get("versionConsistency", "enabled") == "disabled":
            return entry  # ECS deploys the image string as written
        reference = parse_image_reference(image)
        digest = (
            reference.digest if reference and reference.pinned else self._registries.resolve(image)
        )
        if digest:
            entry["imageDigest"] = digest
        return entry

    # ------------------------------------------------------------------ tasks

    def _run_task(self, call: Call) -> Answer:
        return self._with_containers(call, call.forward(), many="tasks")

    def _start_task(self, call: Call) -> Answer:
        return self._with_containers(call, call.forward(), many="tasks")

    def _stop_task(self, call: Call) -> Answer:
        return self._with_containers(call, call.forward(), one="task")

    def _describe_tasks(self, call: Call) -> Answer:
        wanted = call.body().get("tasks") or []
        if len(wanted) > MAX_TASKS:
            raise ApiError(
                "InvalidParameterException",
                f"tasks can have at most {MAX_TASKS} items; {len(wanted)} were given",
            )
        return self._with_containers(call, call.forward(), many="tasks")

    def _with_containers(
        self, call: Call, answer: Answer, many: str | None = None, one: str | None = None
    ) -> Answer:
        if not answer.ok:
            return answer
        document = answer.json()
        tasks = document.get(many, []) if many else [document[one]] if one in document else []
        for task in tasks:
            task["containers"] = self.task_containers(call, task)
        return answer.with_json(document)

    def task_containers(
        self, call: Call, task: dict[str, Any], revision: Revision | None = None
    ) -> list[dict[str, Any]]:
        """Every container of a task: the digest it pulled when it started (the service
        revision's for a service's task), its status the task's."""
        arn = task["taskArn"]
        if arn not in self.containers:
            definition = self.backend(call).describe_task_definition(task["taskDefinitionArn"])
            cluster = task["clusterArn"].rsplit("/", 1)[-1]
            prefix = f"arn:{partition_of(call.region)}:ecs:{call.region}:{call.account}:container"
            made = []
            for spec in definition.container_definitions:
                name, image = str(spec.get("name", "")), str(spec.get("image", ""))
                container: dict[str, Any] = {
                    "containerArn": f"{prefix}/{cluster}/{arn.rsplit('/', 1)[-1]}/{uuid.uuid4()}",
                    "taskArn": arn,
                    "name": name,
                    "image": image,
                    "networkInterfaces": [],
                    "healthStatus": "UNKNOWN",
                    "cpu": str(spec.get("cpu", 0)),
                }
                if spec.get("memory") is not None:
                    container["memory"] = str(spec["memory"])
                digest = revision.digest_of(name) if revision else self._registries.resolve(image)
                if digest:
                    container["imageDigest"] = digest
                made.append(container)
            self.containers[arn] = made
        status = task.get("lastStatus", "RUNNING")
        return [{**c, "lastStatus": status} for c in self.containers[arn]]

    # ------------------------------------------------------------------ lists

    def _list_clusters(self, call: Call) -> Answer:
        return self._paged(call, "clusterArns", default=100)

    def _list_services(self, call: Call) -> Answer:
        return self._paged(call, "serviceArns", default=10)

    def _list_tasks(self, call: Call) -> Answer:
        request = call.body()
        service, status = request.get("serviceName"), request.get("desiredStatus") or "RUNNING"
        # moto ignores serviceName (a service's tasks are in group service:<name>) and lists
        # stopped tasks too; ECS lists those whose desired status is RUNNING unless asked
        keep = {
            task.task_arn
            for tasks in self.backend(call).tasks.values()
            for task in tasks.values()
            if task.desired_status == status and (not service or task.group == f"service:{service}")
        }
        return self._paged(call, "taskArns", default=100, keep=keep)

    def _paged(self, call: Call, key: str, default: int, keep: set[str] | None = None) -> Answer:
        request = call.body()
        answer = call.forward()
        if not answer.ok:
            return answer
        document = answer.json()
        items = [i for i in document.get(key, []) if keep is None or i in keep]
        document[key], token = page(
            items, request.get("maxResults"), request.get("nextToken"), default, 100
        )
        document.pop("nextToken", None)
        if token:
            document["nextToken"] = token
        return answer.with_json(document)
