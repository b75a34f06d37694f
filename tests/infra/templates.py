"""Build, transform and walk the deployment templates the way CloudFormation would see them."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
MERGE_TEMPLATE = ROOT / "infra" / "app-resources.json"
FORWARDER_TEMPLATE = ROOT / "infra" / "forwarder.json"
OTHER_EVENTS = Path(__file__).resolve().parent / "events" / "other-ecr-events.json"


def sample_events_dir() -> Path:
    """The real AWS samples: ../shared/events beside the clone, else the copies in tests/events."""
    shared = ROOT.parent / "shared" / "events"
    return shared if shared.is_dir() else ROOT / "tests" / "events"


def sample_event(name: str) -> dict[str, Any]:
    return dict(json.loads((sample_events_dir() / f"{name}.json").read_text()))


@dataclass(frozen=True)
class Packaged:
    stage: str
    directory: Path
    sam: dict[str, Any]  # what `chalice package --merge-template` wrote
    cfn: dict[str, Any]  # the same after the AWS::Serverless transform

    def resources(self, type_: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.cfn["Resources"].items() if v["Type"] == type_}


def chalice_package(stage: str, out: Path) -> Packaged:
    """Run the exact `make package` commands for one stage and load its output."""
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}
    command = [
        sys.executable,
        "-c",
        "from chalice.cli import main; main()",
        "--project-dir",
        str(ROOT),
        "package",
        "--stage",
        stage,
        "--merge-template",
        str(MERGE_TEMPLATE),
        str(out),
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"chalice package failed:\n{result.stdout}\n{result.stderr}")
    compiled = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "compile_package.py"), str(out / "deployment.zip")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if compiled.returncode != 0:
        raise RuntimeError(f"compile_package failed:\n{compiled.stdout}\n{compiled.stderr}")
    sam = json.loads((out / "sam.json").read_text())
    return Packaged(stage, out, sam, sam_transform(sam))


def sam_transform(sam: dict[str, Any]) -> dict[str, Any]:
    """Expand AWS::Serverless resources as CloudFormation's transform does (offline)."""
    try:
        from samtranslator.translator.transform import transform
    except ImportError as error:  # pragma: no cover - environment problem, say how to fix it
        raise RuntimeError(
            "aws-sam-translator is missing: pip install -r requirements-infra.txt"
        ) from error

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    template = copy.deepcopy(sam)
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            # `aws cloudformation package` replaces the local zip by its S3 location.
            resource["Properties"]["CodeUri"] = "s3://artifacts/deployment.zip"
    return dict(transform(template, {}, NoManagedPolicies()))


def cfn_lint(path: Path) -> list[str]:
    from cfnlint.api import lint

    return [str(match) for match in lint(path.read_text(), regions=["us-east-1", "eu-west-1"])]


def statements(node: Any) -> Iterator[dict[str, Any]]:
    """Every IAM-style policy statement anywhere in a template (roles, keys, queues, buses)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Statement":
                for item in value if isinstance(value, list) else [value]:
                    if isinstance(item, dict) and "Fn::If" in item:
                        yield from (x for x in item["Fn::If"][1:] if "Effect" in x)
                    elif isinstance(item, dict) and "Effect" in item:
                        yield item
            else:
                yield from statements(value)
    elif isinstance(node, list):
        for item in node:
            yield from statements(item)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def references(node: Any) -> Iterator[str]:
    """Logical ids and parameters that a fragment refers to (Ref, GetAtt, Sub)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                yield value
            elif key == "Fn::GetAtt":
                yield value[0] if isinstance(value, list) else value.split(".")[0]
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                for name in re.findall(r"\$\{([^}!]+)\}", text):
                    yield name.split(".")[0]
                if not isinstance(value, str):
                    yield from references(value[1])
            else:
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def subset(
    template: dict[str, Any], types: set[str], stand_ins: dict[str, str] | None = None
) -> tuple[dict[str, Any], set[str]]:
    """The template restricted to resource types in `types`, minus anything referring to the rest.

    `stand_ins` maps left-out resources to a value their `Ref` becomes (a parameter of that
    name), so that what only refers to them still deploys. Returns the smaller template and the
    logical ids left out.
    """
    parameters = dict(template.get("Parameters", {}))
    for logical_id, value in (stand_ins or {}).items():
        parameters[logical_id] = {"Type": "String", "Default": value}
    resources = {
        k: v
        for k, v in template["Resources"].items()
        if v["Type"] in types and k not in (stand_ins or {})
    }
    known = set(resources) | set(parameters)
    changed = True
    while changed:
        changed = False
        for logical_id in list(resources):
            local = set(references(resources[logical_id])) - {"AWS::NoValue"}
            missing = [r for r in local if not r.startswith("AWS::") and r not in known]
            if missing:
                del resources[logical_id]
                known.discard(logical_id)
                changed = True
    smaller = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": parameters,
        "Conditions": template.get("Conditions", {}),
        "Resources": resources,
    }
    return smaller, set(template["Resources"]) - set(resources)
