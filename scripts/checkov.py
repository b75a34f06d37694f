"""Run checkov on the deployment templates in its own venv, with infra/checkov-skips.yaml.

checkov pins boto3 and friends to versions that would downgrade the app's, so it lives in
.venv-checkov/ (created on first use). Exit codes: 0 clean, 1 findings or stale skips,
3 checkov could not be installed.

    python scripts/checkov.py build/dev/sam.json infra/forwarder.json build/terraform/dev ...

A file is a CloudFormation template; a directory a Terraform configuration, scanned as one
merged HCL file (scripts/terraform_config.py): checkov reads no .tf.json file (Chalice's
chalice.tf.json is one) and takes an override file's blocks for resources of their own.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv-checkov"
CHECKOV_VERSION = "3.3.30"
SKIPS = ROOT / "infra" / "checkov-skips.yaml"


def checkov() -> Path:
    executable = VENV / "bin" / "checkov"
    stamp = VENV / f".installed-{CHECKOV_VERSION}"
    if stamp.exists() and executable.exists():
        return executable
    venv.EnvBuilder(with_pip=True, clear=VENV.exists()).create(VENV)
    install = subprocess.run(
        [
            str(VENV / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            f"checkov=={CHECKOV_VERSION}",
        ],
        capture_output=True,
        text=True,
    )
    if install.returncode != 0:
        print(f"cannot install checkov=={CHECKOV_VERSION}:\n{install.stderr}", file=sys.stderr)
        sys.exit(3)
    stamp.touch()
    return executable


def _run(framework: str, targets: list[str]) -> list[tuple[str, str, str]]:
    command = [
        str(checkov()),
        "--framework",
        framework,
        "--output",
        "json",
        "--quiet",
        "--compact",
        "--skip-download",
    ]
    for target in targets:
        command += ["--directory" if Path(target).is_dir() else "--file", target]
    # BC_SKIP_MAPPING: no call home for the check guidelines (CI may be offline).
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode not in (0, 1) or not result.stdout.strip():
        print(result.stdout, result.stderr, file=sys.stderr)
        sys.exit(1)
    reports: list = []
    decoder, text, at = json.JSONDecoder(), result.stdout, 0
    while at < len(text.rstrip()):  # one JSON document per directory
        while text[at].isspace():
            at += 1
        document, at = decoder.raw_decode(text, at)
        reports += document if isinstance(document, list) else [document]
    return [
        (check["check_id"], check["resource"], check["file_path"])
        for report in reports
        for check in report.get("results", {}).get("failed_checks", [])
    ]


def findings(targets: list[str]) -> list[tuple[str, str, str]]:
    templates = [t for t in targets if not Path(t).is_dir()]
    found = _run("cloudformation", templates) if templates else []
    directories = [Path(t) for t in targets if Path(t).is_dir()]
    if directories:
        sys.path.insert(0, str(ROOT / "scripts"))
        from terraform_config import load_directory, to_hcl

        with tempfile.TemporaryDirectory() as tmp:
            merged = []
            for n, directory in enumerate(directories):
                out = Path(tmp) / f"{n}-{directory.name}"
                out.mkdir()
                for path in directory.iterdir():  # templates and the like stay beside it
                    if path.is_file() and not path.name.endswith((".tf", ".tf.json", ".zip")):
                        shutil.copy(path, out / path.name)
                (out / "main.tf").write_text(to_hcl(load_directory(directory, marked=True)))
                merged.append(str(out))
            found += _run("terraform", merged)
    return found


def main(templates: list[str]) -> int:
    skips = yaml.safe_load(SKIPS.read_text())["skips"]
    for skip in skips:
        if not str(skip.get("reason", "")).strip():
            print(f"{skip['check']}: a skip needs a reason", file=sys.stderr)
            return 1
    used: set[int] = set()
    unexpected = []
    for check_id, resource, path in findings(templates):
        matching = [
            i
            for i, skip in enumerate(skips)
            if skip["check"] == check_id
            and any(fnmatch.fnmatchcase(resource, pattern) for pattern in skip["resources"])
        ]
        if matching:
            used.update(matching)
        else:
            unexpected.append(f"{check_id} {resource} ({path})")
    stale = [f"{s['check']} {s['resources']}" for i, s in enumerate(skips) if i not in used]
    for line in unexpected:
        print(f"FAILED   {line}")
    for line in stale:
        print(f"STALE    skip matches nothing any more: {line}")
    print(
        f"checkov {CHECKOV_VERSION}: {len(unexpected)} unexpected finding(s), "
        f"{len(used)} of {len(skips)} skips in use ({SKIPS.relative_to(ROOT)})"
    )
    return 1 if unexpected or stale else 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1:]))
