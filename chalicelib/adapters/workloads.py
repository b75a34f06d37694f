"""AuditedWorkloads: what runs in each monitored location (WORKLOAD_TYPES: ECS services, Lambda
image functions), read through the audit role (adapters/roles.py).

A type that cannot be read (throttled, access denied, the role not assumable) is unknown for
that read, with a one-line reason naming the account: never an exception to the caller, whose
alerts and sweep go on without it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from chalicelib.adapters.ecs_services import EcsServices
from chalicelib.adapters.lambda_functions import LambdaFunctions
from chalicelib.adapters.roles import sdk_failure
from chalicelib.core.errors import RegistryUnavailable
from chalicelib.core.lifecycle import Location
from chalicelib.core.workloads import Reading, Workload

TYPES = ("ecs", "lambda")


class AuditedWorkloads:
    def __init__(self, roles: Any, types: Iterable[str] = TYPES) -> None:
        def client_for(service: str) -> Callable[[Location], Any]:
            return lambda where: roles.client(service, where.account, where.region)

        self._readers: dict[str, Any] = {
            "ecs": EcsServices(client_for("ecs")),
            "lambda": LambdaFunctions(client_for("lambda")),
        }
        self.types = tuple(kind for kind in TYPES if kind in set(types))

    def read(self, location: Location) -> Reading:
        found: dict[str, tuple[Workload, ...]] = {}
        problems: dict[str, str] = {}
        for kind in self.types:
            try:
                found[kind] = tuple(self._readers[kind].workloads(location))
            except RegistryUnavailable as error:
                problems[kind] = _line(kind, location, error.reason, error.detail)
            except Exception as error:
                problems[kind] = _line(kind, location, *_failure(error))
        return Reading(location, found, problems)


def _failure(error: Exception) -> tuple[str, str]:
    from botocore.exceptions import ClientError

    failure = sdk_failure(error)
    if failure is not None:
        return failure
    if isinstance(error, ClientError):  # e.g. a cluster deleted between two calls
        detail = error.response.get("Error", {})
        return str(detail.get("Code", "error")), str(detail.get("Message", ""))
    raise error  # not the SDK's: a bug, let it surface


def _line(kind: str, location: Location, reason: str, detail: str) -> str:
    what = {"ecs": "ECS services", "lambda": "Lambda functions"}[kind]
    text = f"{what} of account {location.account} in {location.region} unknown: {reason}"
    detail = " ".join(detail.split())[:200]
    return f"{text} ({detail})" if detail and detail != reason else text


def read_calls(
    services_per_cluster: Sequence[int], functions: int, image_functions: int, first: bool
) -> dict[str, int]:
    """What one read of a location costs in ECS and Lambda calls (docs/workloads.md): its
    clusters' numbers of services, its functions and how many are images; `first`: nothing is
    known yet (every current revision and image function is described), else nothing changed.
    One revision per service (a deployment in progress has two); no service without one."""
    from chalicelib.adapters import ecs_services, lambda_functions

    def pages(items: int, size: int) -> int:
        return max(1, -(-items // size))

    calls = {
        "ListClusters": pages(len(services_per_cluster), ecs_services.PAGE),
        "ListServices": sum(pages(s, ecs_services.PAGE) for s in services_per_cluster),
        "DescribeServices": sum(
            -(-s // ecs_services.SERVICES_PER_DESCRIBE) for s in services_per_cluster
        ),
        "DescribeServiceRevisions": sum(
            -(-s // ecs_services.REVISIONS_PER_DESCRIBE) for s in services_per_cluster
        )
        if first
        else 0,
        "ListFunctions": pages(functions, lambda_functions.PAGE),
        "GetFunction": image_functions if first else 0,
    }
    return {name: count for name, count in calls.items() if count}
