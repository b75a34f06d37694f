"""Fixtures of the infrastructure tests: the packaged templates (built once per session) and a
moto server of their own, so CloudFormation stacks never meet the app tests' resources."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.infra.templates import FORWARDER_TEMPLATE, Packaged, chalice_package
from tests.infra.terraform import TerraformPackage, terraform_package

STAGES = ("dev", "prod")


@pytest.fixture(scope="session")
def package_stage(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """`chalice package` is slow (it builds the deployment zip): run it at most once per stage."""
    built: dict[str, Packaged] = {}

    def get(stage: str) -> Packaged:
        if stage not in built:
            built[stage] = chalice_package(stage, tmp_path_factory.mktemp(f"package-{stage}"))
        return built[stage]

    return get


@pytest.fixture(scope="session", params=STAGES)
def packaged(request: pytest.FixtureRequest, package_stage: Any) -> Packaged:
    return package_stage(request.param)


@pytest.fixture(scope="session")
def terraform_stage(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """`make package-terraform` of a stage, built at most once per session."""
    built: dict[str, TerraformPackage] = {}

    def get(stage: str) -> TerraformPackage:
        if stage not in built:
            built[stage] = terraform_package(stage, tmp_path_factory.mktemp(f"terraform-{stage}"))
        return built[stage]

    return get


@pytest.fixture(scope="session", params=STAGES)
def terraform(request: pytest.FixtureRequest, terraform_stage: Any) -> TerraformPackage:
    return terraform_stage(request.param)


@pytest.fixture(scope="session")
def forwarder() -> dict[str, Any]:
    return dict(json.loads(FORWARDER_TEMPLATE.read_text()))


@pytest.fixture(scope="module")
def moto_env() -> Iterator[str]:
    """A moto server for this module, with the environment pointing every client at it."""
    from chalicelib.local.emulator import start_moto

    server = start_moto()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL", server.endpoint)
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.setenv("AWS_MAX_ATTEMPTS", "1")
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
            patch.delenv(name, raising=False)
        try:
            yield server.endpoint
        finally:
            server.stop()
