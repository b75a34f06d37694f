"""The Terraform path, checked offline: Terraform's own formatting and validation (everything
but the providers, which cannot be downloaded here), a parse of every file, references that
resolve, and the settings Chalice's Terraform gets wrong on its own."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests import markdown
from tests.infra.templates import ROOT
from tests.infra.terraform import (
    APP_TERRAFORM,
    MEMBER_MODULE,
    NO_PROVIDER,
    TerraformPackage,
    expressions,
    fmt_check,
    load_directory,
    terraform_version,
    terraforms,
    validate,
)

TERRAFORMS = terraforms()


@pytest.mark.parametrize("which", TERRAFORMS)
def test_every_terraform_file_is_formatted(which: str) -> None:
    code, files = fmt_check(which, ROOT / "infra" / "terraform")
    assert (code, files.strip()) == (0, ""), f"terraform fmt would rewrite: {files}"


@pytest.mark.parametrize("which", TERRAFORMS)
def test_the_packaged_stage_validates_but_for_the_providers(
    which: str, terraform: TerraformPackage
) -> None:
    """Everything `terraform validate` checks before it needs the AWS provider: syntax, the
    version constraints (Chalice's own refuse any Terraform since 1.4), the override merge."""
    diagnostics = validate(which, terraform.directory)
    problems = [d for d in diagnostics if d["summary"] != NO_PROVIDER]
    assert problems == [], f"terraform {terraform_version(which)}: {problems}"
    assert [d["detail"] for d in diagnostics if "hashicorp/aws" in d["detail"]]


@pytest.mark.parametrize("which", TERRAFORMS)
def test_chalice_output_alone_is_refused_by_current_terraform(
    which: str, terraform_stage: Any, tmp_path: Path
) -> None:
    """The check above can fail: without the override, Terraform refuses the configuration."""
    package = terraform_stage("dev")
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(package.directory / "chalice.tf.json", bare)
    summaries = {d["summary"] for d in validate(which, bare)}
    assert "Unsupported Terraform Core version" in summaries


@pytest.mark.parametrize("which", TERRAFORMS)
def test_the_member_account_module_validates_but_for_the_providers(which: str) -> None:
    diagnostics = validate(which, MEMBER_MODULE)
    assert [d for d in diagnostics if d["summary"] != NO_PROVIDER] == []


def test_versions_current_terraform_accepts(terraform: TerraformPackage) -> None:
    settings = terraform.config["terraform"]
    assert settings["required_version"] == ">= 1.5"
    assert settings["required_providers"] == {
        "aws": {"source": "hashicorp/aws", "version": ">= 6.0"}
    }
    for module in (MEMBER_MODULE,):
        own = load_directory(module)["terraform"]
        assert own["required_version"] == ">= 1.5"


def test_every_file_parses(terraform: TerraformPackage) -> None:
    """HCL through python-hcl2 and .tf.json as JSON (load_directory reads both); the dashboard
    template is JSON once its variables are filled in."""
    names = {p.name for p in terraform.directory.iterdir()}
    assert {"chalice.tf.json", "chalice_override.tf", "stage.tf.json", "deployment.zip"} <= names
    assert {p.name for p in APP_TERRAFORM.iterdir()} <= names
    template = (terraform.directory / "dashboard.json.tftpl").read_text()
    assert json.loads(re.sub(r"\$\{\w+\}", "x", template))["widgets"]


def _interpolations(text: str) -> list[str]:
    """The `${...}` sequences of a template (nested braces included)."""
    found, start = [], text.find("${")
    while start != -1:
        depth, end = 0, start + 1
        for end in range(start + 1, len(text)):
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            if depth == 0:
                break
        found.append(text[start + 2 : end])
        start = text.find("${", end)
    return found


def references(config: dict) -> set[str]:
    found = set()
    for text in expressions(config):
        for expression in _interpolations(text):
            expression = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expression)  # strings are not names
            for kind, name in re.findall(r"\b(var|local|module)\.([A-Za-z_][\w-]*)", expression):
                found.add(f"{kind}.{name}")
            for address in re.findall(r"\bdata\.(\w+\.[A-Za-z_][\w-]*)", expression):
                found.add(f"data.{address}")
            expression = re.sub(r"\bdata\.\w+\.[\w-]+", "", expression)
            for address in re.findall(r"(?<![\w.])(aws_\w+\.[A-Za-z_][\w-]*)", expression):
                found.add(address)
    return found


def declared(config: dict) -> set[str]:
    names = {f"var.{n}" for n in config.get("variable", {})}
    names |= {f"local.{n}" for n in config.get("locals", {})}
    names |= {f"module.{n}" for n in config.get("module", {})}
    for kind, prefix in (("resource", ""), ("data", "data.")):
        for type_, named in config.get(kind, {}).items():
            names |= {f"{prefix}{type_}.{name}" for name in named}
    return names


@pytest.mark.parametrize("directory", ["app", "member-account"])
def test_every_reference_names_something_declared(directory: str, terraform_stage: object) -> None:
    """`validate` cannot resolve references without the provider's schemas: this does."""
    get_app = terraform_stage  # the app as packaged (prod), or the module as it is
    config = get_app("prod").config if directory == "app" else load_directory(MEMBER_MODULE)  # type: ignore[operator]
    missing = references(config) - declared(config)
    assert missing == set()
    assert len(references(config)) > 20


def test_reference_check_sees_a_typo() -> None:
    config = {"resource": {"aws_sqs_queue": {"q": {"name": "${local.nmae}-x"}}}, "locals": {}}
    assert references(config) - declared(config) == {"local.nmae"}


def test_chalice_resources_run_on_python_3_13(terraform: TerraformPackage) -> None:
    functions = terraform.resources("aws_lambda_function")
    assert len(functions) >= 5
    assert {f["runtime"] for f in functions.values()} == {"python3.13"}


def test_what_the_aws_provider_6_removed_is_gone(terraform: TerraformPackage) -> None:
    for deployment in terraform.resources("aws_api_gateway_deployment").values():
        assert not {"stage_name", "stage_description"} & set(deployment)
    text = (terraform.directory / "chalice.tf.json").read_text()
    assert "aws_region.chalice.name" not in text and "null_data_source" not in text
    assert terraform.resource("aws_api_gateway_stage.api")["stage_name"] == "api"


def test_log_groups_are_the_functions_with_the_stage_retention(
    terraform: TerraformPackage,
) -> None:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    retention = config["stages"][terraform.stage].get(
        "log_retention_in_days", config["log_retention_in_days"]
    )
    groups = terraform.resources("aws_cloudwatch_log_group")
    functions = terraform.resources("aws_lambda_function")
    assert {g["name"] for g in groups.values()} == {
        "/aws/lambda/" + f["function_name"] for f in functions.values()
    }
    assert {g["retention_in_days"] for g in groups.values()} == {retention}


@pytest.mark.parametrize("which", TERRAFORMS[:1])
def test_the_merged_view_checkov_scans_is_valid_terraform(
    which: str, terraform: TerraformPackage, tmp_path: Path
) -> None:
    """checkov reads one HCL file merged from the directory (it reads no .tf.json and no
    override): Terraform accepts that file, so the scan sees the configuration as it is."""
    from scripts.terraform_config import to_hcl

    (tmp_path / "main.tf").write_text(to_hcl(load_directory(terraform.directory, marked=True)))
    shutil.copy(terraform.directory / "dashboard.json.tftpl", tmp_path)
    diagnostics = validate(which, tmp_path)
    assert [d for d in diagnostics if d["summary"] != NO_PROVIDER] == []
    merged = load_directory(tmp_path)
    assert _blocks_as_lists(merged["resource"]) == _blocks_as_lists(terraform.config["resource"])


def _blocks_as_lists(node: Any) -> Any:
    """JSON writes a single nested block as an object, HCL as a list of one."""
    from scripts.terraform_config import JSON_BLOCKS

    if isinstance(node, dict):
        return {
            k: [_blocks_as_lists(v)]
            if k in JSON_BLOCKS and isinstance(v, dict)
            else _blocks_as_lists(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_blocks_as_lists(v) for v in node]
    return node


DOCS = ROOT / "docs" / "deploying-terraform.md"


def _default(cell: str) -> object:
    return {"empty": "", "required": None, "`[]`": []}.get(cell, cell.strip("`"))


def test_the_docs_name_every_variable_with_its_default(terraform_stage: Any) -> None:
    text = DOCS.read_text()
    app = terraform_stage("prod").config["variable"]
    rows = markdown.table(text, "variable")
    assert set(rows) == set(app)
    for name, (_, default) in rows.items():
        if name != "name":
            assert str(_default(default)) == str(app[name]["default"]), name
    module = load_directory(MEMBER_MODULE)["variable"]
    rows = markdown.table(text.split("## Member accounts")[1], "variable")
    assert set(rows) == set(module)
    for name, (_, default) in rows.items():
        assert _default(default) == module[name].get("default"), name


def test_the_docs_name_every_output_and_the_make_target(terraform_stage: Any) -> None:
    text = DOCS.read_text()
    outputs = set(terraform_stage("prod").config["output"])
    paragraph = text.split("The outputs have the stack's names:")[1].split("Subscribe")[0]
    assert set(re.findall(r"`(\w+)`", paragraph)) - {"terraform"} == outputs
    assert "package-terraform:" in (ROOT / "Makefile").read_text()
    assert "make package-terraform STAGE=prod" in text
