"""The demo's workloads: the scenario's ECS services and Lambda functions, created in the
emulator's accounts (ECS resolves a service's tags and Lambda a function's image there, as
chalicelib/local/emulated_workloads.py does), so that the auditor's workload discovery finds
what a real prod account would run."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.local.registries import ROLE
from chalicelib.local.scenario import WorkloadAction

FUNCTION_ROLE = "demo-function"
LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


class WorkloadMirror:
    def __init__(self, session: Any) -> None:
        from chalicelib.adapters.roles import AuditRoles

        self._roles = AuditRoles(ROLE, session=session)

    def _client(self, service: str, action: WorkloadAction) -> Any:
        region = "us-east-1" if service == "iam" else action.where[1]
        return self._roles.client(service, action.where[0], region)

    def apply(self, action: WorkloadAction) -> None:
        if action.action == "service":
            self._service(action)
        elif action.action == "function":
            lam = self._client("lambda", action)
            lam.create_function(
                FunctionName=action.name,
                Role=self._function_role(action),
                Code={"ImageUri": action.image},
                PackageType="Image",
            )
        elif action.action == "function-code":
            self._client("lambda", action).update_function_code(
                FunctionName=action.name, ImageUri=action.image
            )
        else:
            raise ValueError(f"unknown workload action {action.action!r}")

    def _service(self, action: WorkloadAction) -> None:
        ecs = self._client("ecs", action)
        cluster, _, name = action.name.partition("/")
        ecs.create_cluster(clusterName=cluster)
        definition = ecs.register_task_definition(
            family=f"{cluster}-{name}",
            requiresCompatibilities=["FARGATE"],
            cpu="256",
            memory="512",
            containerDefinitions=[{"name": "app", "image": action.image, "essential": True}],
        )["taskDefinition"]
        ecs.create_service(
            cluster=cluster,
            serviceName=name,
            taskDefinition=definition["taskDefinitionArn"],
            desiredCount=2,
            launchType="FARGATE",
        )

    def _function_role(self, action: WorkloadAction) -> str:
        iam = self._client("iam", action)
        try:
            return str(iam.get_role(RoleName=FUNCTION_ROLE)["Role"]["Arn"])
        except iam.exceptions.NoSuchEntityException:
            made = iam.create_role(
                RoleName=FUNCTION_ROLE, AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST)
            )
            return str(made["Role"]["Arn"])
