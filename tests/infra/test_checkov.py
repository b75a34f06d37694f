"""checkov on both packages of each stage (CloudFormation and Terraform) and on the member-account
forwarder (template and module); skips justified in one file."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import pytest
import yaml

from tests.infra.templates import FORWARDER_TEMPLATE, ROOT
from tests.infra.terraform import MEMBER_MODULE


def test_every_skip_names_resources_and_says_why() -> None:
    skips = yaml.safe_load((ROOT / "infra" / "checkov-skips.yaml").read_text())["skips"]
    assert skips
    for skip in skips:
        assert re.fullmatch(r"CKV2?_AWS_\d+", skip["check"]), skip["check"]
        assert skip["resources"] and skip["resources"][0] != "*"
        assert len(skip["reason"].split()) >= 15, skip["check"]


def test_checkov_passes(package_stage: Any, terraform_stage: Any) -> None:
    templates = [str(package_stage(stage).directory / "sam.json") for stage in ("dev", "prod")]
    templates += [str(terraform_stage(stage).directory) for stage in ("dev", "prod")]
    templates.append(str(MEMBER_MODULE))
    # Its own virtual environment (created on first run): checkov would downgrade boto3 here.
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "checkov.py"), *templates, str(FORWARDER_TEMPLATE)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode == 3:
        pytest.skip(f"pip could not install checkov into .venv-checkov: {result.stderr[-500:]}")
    assert result.returncode == 0, result.stdout + result.stderr
