"""The emulator's Lambda image functions (chalicelib/local/emulated_lambda.py) over HTTP with
boto3, on botocore's output shapes: ResolvedImageUri names the ECR digest the ImageUri named
when the code was set, and keeps it when the tag moves; images of another Region, without a tag
or digest, or absent from the registry are refused as Lambda refuses them; ListFunctions pages
by 50."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.adapters.roles import AuditRoles
from tests.registry_helpers import ROLE, new_account, put_image, unique
from tests.workload_helpers import (
    checked,
    digest,
    function,
    image_uri,
    lambda_role,
    repository_with,
)

REGION = "eu-west-1"


@pytest.fixture
def roles(session: Any) -> AuditRoles:
    return AuditRoles(ROLE, session=session)


@pytest.fixture
def prod(roles: AuditRoles) -> tuple[str, str]:
    return new_account(), REGION


def clients(roles: AuditRoles, where: tuple[str, str]) -> tuple[Any, Any, Any]:
    return (
        roles.client("lambda", *where),
        roles.client("iam", where[0], "us-east-1"),
        roles.client("ecr", *where),
    )


def test_resolved_image_uri_is_the_digest_the_tag_named_when_the_code_was_set(
    roles: AuditRoles, prod: tuple[str, str]
) -> None:
    lam, iam, ecr = clients(roles, prod)
    repository = unique("team/fn")
    repository_with(ecr, repository, latest=1)
    created = function(lam, iam, "resizer", image_uri(prod, repository, ":latest"))
    assert created["CodeSha256"] == digest(1).removeprefix("sha256:")

    got = checked(lam, "get_function", FunctionName="resizer")
    assert got["Code"] == {
        "RepositoryType": "ECR",
        "ImageUri": image_uri(prod, repository, ":latest"),
        "ResolvedImageUri": image_uri(prod, repository, f"@{digest(1)}"),
    }
    assert got["Configuration"]["CodeSha256"] == digest(1).removeprefix("sha256:")

    put_image(ecr, repository, digest(2), "latest")  # the tag moves: the function keeps 1
    again = checked(lam, "get_function", FunctionName=got["Configuration"]["FunctionArn"])
    assert again["Code"]["ResolvedImageUri"] == image_uri(prod, repository, f"@{digest(1)}")

    lam.update_function_code(
        FunctionName="resizer", ImageUri=image_uri(prod, repository, ":latest")
    )
    moved = lam.get_function(FunctionName="resizer")["Code"]
    assert moved["ResolvedImageUri"] == image_uri(prod, repository, f"@{digest(2)}")
    lam.update_function_code(
        FunctionName="resizer", ImageUri=image_uri(prod, repository, f"@{digest(1)}")
    )
    pinned = lam.get_function(FunctionName="resizer")["Code"]
    assert pinned == {
        "RepositoryType": "ECR",
        "ImageUri": image_uri(prod, repository, f"@{digest(1)}"),
        "ResolvedImageUri": image_uri(prod, repository, f"@{digest(1)}"),
    }
    listed = checked(lam, "list_functions")["Functions"]
    assert [f["CodeSha256"] for f in listed] == [digest(1).removeprefix("sha256:")]


def test_an_image_of_another_account_in_the_same_region_is_resolved_there(
    roles: AuditRoles, prod: tuple[str, str]
) -> None:
    lam, iam, _ = clients(roles, prod)
    shared = (new_account(), REGION)
    repository = unique("platform/base")
    repository_with(roles.client("ecr", *shared), repository, v3=3)
    function(lam, iam, "worker", image_uri(shared, repository, ":v3"))
    code = lam.get_function(FunctionName="worker")["Code"]
    assert code["ResolvedImageUri"] == image_uri(shared, repository, f"@{digest(3)}")


@pytest.mark.parametrize(
    ("suffix", "where", "problem"),
    [
        (":v1", "other-region", "is not valid"),
        ("", "here", "is not valid"),  # neither tag nor digest
        (":v9", "here", "does not exist"),
        (f"@{digest(99)}", "here", "does not exist"),
        (":v1", "docker-hub", "is not valid"),
    ],
)
def test_images_lambda_cannot_use_are_refused(
    roles: AuditRoles, prod: tuple[str, str], suffix: str, where: str, problem: str
) -> None:
    lam, iam, ecr = clients(roles, prod)
    repository = unique("team/fn")
    repository_with(ecr, repository, v1=4)
    uri = {
        "here": image_uri(prod, repository, suffix),
        "other-region": image_uri((prod[0], "us-east-1"), repository, suffix),
        "docker-hub": f"docker.io/library/python{suffix}",
    }[where]
    with pytest.raises(lam.exceptions.InvalidParameterValueException, match=problem):
        function(lam, iam, unique("fn"), uri)
    function(lam, iam, "fine", image_uri(prod, repository, ":v1"))
    with pytest.raises(lam.exceptions.InvalidParameterValueException, match=problem):
        lam.update_function_code(FunctionName="fine", ImageUri=uri)
    code = lam.get_function(FunctionName="fine")["Code"]
    assert code["ResolvedImageUri"] == image_uri(prod, repository, f"@{digest(4)}")  # unchanged


def test_list_functions_pages_by_fifty_and_lists_zip_functions_too(
    roles: AuditRoles, prod: tuple[str, str]
) -> None:
    lam, iam, ecr = clients(roles, prod)
    repository = unique("team/fn")
    repository_with(ecr, repository, v1=5)
    for n in range(51):
        function(lam, iam, f"fn-{n:02}", image_uri(prod, repository, ":v1"))
    lam.create_function(
        FunctionName="zipped", Role=lambda_role(iam), Runtime="python3.12", Handler="app.handler",
        Code={"ZipFile": b"PK\x05\x06" + b"\0" * 18},
    )  # fmt: skip
    first = checked(lam, "list_functions")
    assert len(first["Functions"]) == 50 and first["NextMarker"]
    rest = checked(lam, "list_functions", Marker=first["NextMarker"])
    assert len(rest["Functions"]) == 2 and "NextMarker" not in rest
    assert len(lam.list_functions(MaxItems=7)["Functions"]) == 7
    every = [f for p in lam.get_paginator("list_functions").paginate() for f in p["Functions"]]
    kinds = {f["FunctionName"]: f["PackageType"] for f in every}
    assert len(kinds) == 52 and kinds["zipped"] == "Zip" and kinds["fn-50"] == "Image"
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.list_functions(Marker="not-a-marker")
