"""The printed deploy commands pass only parameters the templates declare, and the right stage."""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

from tests.infra.templates import FORWARDER_TEMPLATE, MERGE_TEMPLATE, ROOT


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_guide_deploys_both_templates_with_declared_parameters(stage: str) -> None:
    guide = subprocess.run(
        ["sh", str(ROOT / "scripts" / "deploy-guide.sh")],
        env={**os.environ, "STAGE": stage},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"make package STAGE={stage}" in guide
    assert f"Stage={stage} " in guide or f"Stage={stage}\n" in guide
    assert "file://infra/forwarder.json" in guide
    app_parameters = set(json.loads(MERGE_TEMPLATE.read_text())["Parameters"])
    forwarder_parameters = set(json.loads(FORWARDER_TEMPLATE.read_text())["Parameters"])
    app_part, forwarder_part = guide.split("# 4. Member accounts")
    passed = set(re.findall(r"^\s+(\w+)=", app_part.split("--parameter-overrides")[1], re.M))
    assert passed and passed <= app_parameters, passed - app_parameters
    passed = set(re.findall(r"ParameterKey=(\w+)", forwarder_part))
    passed |= set(re.findall(r"\b(Audit\w+)=", forwarder_part))
    assert passed and passed <= forwarder_parameters, passed - forwarder_parameters


@pytest.mark.parametrize("how", ["script", "make"])
def test_guide_refuses_a_stage_that_cannot_be_packaged(how: str) -> None:
    command = (
        ["sh", str(ROOT / "scripts" / "deploy-guide.sh")]
        if how == "script"
        else ["make", "-s", "--no-print-directory", "deploy-guide", "STAGE=staging"]
    )
    result = subprocess.run(
        command,
        cwd=ROOT,
        env={**os.environ, "STAGE": "staging"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2, result
    assert result.stdout == "", "no guide for a stage `make package` refuses"
    assert "error: STAGE must be dev or prod" in result.stderr


def test_make_clean_removes_what_the_tests_and_builds_write() -> None:
    dry_run = subprocess.run(
        ["make", "-n", "clean"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    for written in ("test-artifacts", "build", ".venv-checkov", ".hypothesis", ".venv"):
        assert f" {written} " in f" {dry_run} ".replace("\n", " "), written
