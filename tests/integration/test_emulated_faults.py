"""The emulator's injected faults (chalicelib/local/emulated_faults.py): throttling and access
denied answered as ECS and Lambda answer them, for one account, one operation, N times."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib.adapters.roles import AuditRoles
from tests.registry_helpers import ROLE, new_account
from tests.workload_helpers import Faults, injected_faults

REGION = "eu-west-1"


@pytest.fixture
def faults(moto_endpoint: str) -> Iterator[Faults]:
    yield from injected_faults(moto_endpoint)


@pytest.fixture
def roles(session: Any) -> AuditRoles:
    return AuditRoles(ROLE, session=session)


def code_of(call: Any, **params: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    response = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_a_throttled_operation_fails_as_many_times_as_asked_for_that_account_only(
    roles: AuditRoles, faults: Faults
) -> None:
    throttled, other = new_account(), new_account()
    ecs = roles.client("ecs", throttled, REGION)
    ecs.create_cluster(clusterName="prod")
    faults.add("ecs", "ListServices", account=throttled, times=2)
    assert code_of(ecs.list_services, cluster="prod") == ("ThrottlingException", 400)
    assert code_of(ecs.list_services, cluster="prod") == ("ThrottlingException", 400)
    assert ecs.list_services(cluster="prod")["serviceArns"] == []
    ecs.list_clusters()  # another operation
    roles.client("ecs", other, REGION).list_clusters()  # another account
    assert [(f["operation"], f["hits"]) for f in faults.listed()] == [("ListServices", 2)]


def test_access_denied_and_lambda_throttling_use_lambdas_error_shape(
    roles: AuditRoles, faults: Faults
) -> None:
    account = new_account()
    lam = roles.client("lambda", account, REGION)
    faults.add("lambda", "ListFunctions", "AccessDeniedException", account=account)
    code, status = code_of(lam.list_functions)
    assert (code, status) == ("AccessDeniedException", 403)
    faults.clear()
    faults.add("lambda", "GetFunction", account=account, region=REGION)
    assert code_of(lam.get_function, FunctionName="any") == ("TooManyRequestsException", 429)
    faults.add("ecs", "*", "AccessDeniedException", account=account)
    ecs = roles.client("ecs", account, REGION)
    code, status = code_of(ecs.list_clusters)
    assert (code, status) == ("AccessDeniedException", 400)
    with pytest.raises(ClientError, match="not authorized to perform: ecs:ListClusters"):
        ecs.list_clusters()


def test_a_fault_the_switchboard_cannot_answer_is_refused(faults: Faults) -> None:
    for spec in ({"service": "ecs", "operation": "ListServices", "error": "Boom"}, {"x": 1}):
        request = urllib.request.Request(faults.url, data=json.dumps(spec).encode(), method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)  # loopback
        assert refused.value.code == 400
    assert faults.listed() == []
