"""Run checkov on the deployment templates in its own venv, with infra/checkov-skips.yaml.

checkov pins boto3 and friends to versions that would downgrade the app's, so it lives in
.venv-checkov/ (created on first use). Exit codes: 0 clean, 1 findings or stale skips,
3 checkov could not be installed.

    python scripts/checkov.py build/dev/sam.json infra/forwarder.json
"""

from __future__ import annotations

import fnmatch
import json
import os
import subprocess
import sys
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


def findings(templates: list[str]) -> list[tuple[str, str, str]]:
    command = [
        str(checkov()),
        "--framework",
        "cloudformation",
        "--output",
        "json",
        "--quiet",
        "--compact",
        "--skip-download",
    ]
    for template in templates:
        command += ["--file", template]
    # BC_SKIP_MAPPING: no call home for the check guidelines (CI may be offline).
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode not in (0, 1) or not result.stdout.strip():
        print(result.stdout, result.stderr, file=sys.stderr)
        sys.exit(1)
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    return [
        (check["check_id"], check["resource"], check["file_path"])
        for report in reports
        for check in report.get("results", {}).get("failed_checks", [])
    ]


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
