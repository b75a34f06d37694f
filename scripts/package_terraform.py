"""Build the Terraform configuration of one stage: Chalice's Terraform plus infra/terraform/app/.

    python scripts/package_terraform.py STAGE OUT_DIR      (`make package-terraform STAGE=...`)

OUT_DIR becomes a Terraform root module (also usable as a child module) that current Terraform
and the AWS provider 6 accept:

1. `chalice package --pkg-format terraform` writes chalice.tf.json and deployment.zip. Chalice
   1.34 cannot package a log retention for Terraform (its TerraformGenerator defines
   `_generate_log_group`, but dispatches LogGroup to `_generate_loggroup`): the alias below is
   that one-line fix, so the retention of .chalice/config.json reaches Terraform too.
2. deployment.zip gets its bytecode (scripts/compile_package.py, as `make package` does).
3. chalice.tf.json loses what the AWS provider 6 removed and an override file cannot take away
   (`stage_name`/`stage_description` of aws_api_gateway_deployment; the stage is an
   aws_api_gateway_stage in api.tf), the unused `null_data_source` (and with it the null
   provider), and reads the Region as `region` (`name` is deprecated in provider 6).
4. infra/terraform/app/*.tf and templates are copied beside it; chalice_override.tf there
   replaces Chalice's obsolete version limits (Terraform < 1.4, AWS provider < 5) and adds what
   Chalice's Terraform has no setting for (names, environment, dead-letter queue, retry policy,
   schedule, least-privilege policies). stage.tf.json names the packaged stage.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
APP_TERRAFORM = ROOT / "infra" / "terraform" / "app"
STAGES = ("dev", "prod")


def chalice_package(stage: str, out: Path) -> None:
    """Chalice's Terraform output for `stage` in `out` (in this process: see the module doc)."""
    from chalice.cli import cli
    from chalice.package import TerraformGenerator

    generator: Any = TerraformGenerator
    if not hasattr(generator, "_generate_loggroup"):
        generator._generate_loggroup = generator._generate_log_group
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # chalice package needs one
    args = ["--project-dir", str(ROOT), "package", "--stage", stage]
    args += ["--pkg-format", "terraform", str(out)]
    try:
        cli.main(args, prog_name="chalice", obj={}, standalone_mode=False)
    except Exception as error:
        raise SystemExit(f"error: chalice package failed: {error}") from None


def for_current_terraform(config: dict[str, Any]) -> dict[str, Any]:
    """What the override file cannot do: remove arguments that the AWS provider 6 rejects."""
    resources = config["resource"]
    for deployment in resources.get("aws_api_gateway_deployment", {}).values():
        deployment.pop("stage_name", None)
        deployment.pop("stage_description", None)
    data = config.get("data", {})
    data.pop("null_data_source", None)
    config["terraform"]["required_providers"].pop("null", None)
    text = json.dumps(config, indent=2)
    if "null_data_source" in text:
        raise SystemExit("error: chalice.tf.json uses null_data_source: keep the null provider")
    return dict(
        json.loads(text.replace("data.aws_region.chalice.name}", "data.aws_region.chalice.region}"))
    )


def package(stage: str, out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    chalice_package(stage, out)
    compiled = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "compile_package.py"), str(out / "deployment.zip")],
        capture_output=True,
        text=True,
    )
    if compiled.returncode != 0:
        raise SystemExit(compiled.stderr.strip() or "error: compile_package failed")
    path = out / "chalice.tf.json"
    path.write_text(
        json.dumps(for_current_terraform(json.loads(path.read_text())), indent=2) + "\n"
    )
    for source in sorted(APP_TERRAFORM.iterdir()):
        if source.is_file():
            shutil.copy(source, out / source.name)
    (out / "stage.tf.json").write_text(json.dumps({"locals": {"stage": stage}}, indent=2) + "\n")


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in STAGES:
        print(f"usage: package_terraform.py {{{','.join(STAGES)}}} OUT_DIR", file=sys.stderr)
        return 2
    out = Path(argv[1])
    package(argv[0], out)
    print(f"{out}: Terraform configuration of stage {argv[0]} (terraform init && terraform plan)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
