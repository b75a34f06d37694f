"""Supply-chain checks: bandit on the code and pip-audit on the pinned dependencies.

bandit scans app.py and chalicelib/ (offline); every finding it reports must be listed, with
its reason, in scripts/audit-skips.yaml, and every entry there must still match a finding.
pip-audit checks every pin of constraints.txt (the whole installed set, runtime and tools)
against PyPI's vulnerability data; it runs from its own virtual environment (.venv-audit,
made on first use) so that its dependencies never mix with the app's. It needs PyPI's JSON
API (https://pypi.org/pypi/<name>/<version>/json) or, with `--service osv`, api.osv.dev:
a package it could not look up is reported as such, never counted as clean.

    python scripts/audit.py bandit | pip-audit | all   [--service pypi|osv]

Exit codes: 0 clean, 1 findings or stale skips, 3 a tool could not run or could not reach its
vulnerability service.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SKIPS = ROOT / "scripts" / "audit-skips.yaml"
PINS = ROOT / "constraints.txt"
VENV = ROOT / ".venv-audit"
PIP_AUDIT_VERSION = "2.10.1"
SCANNED = ["app.py", "chalicelib"]


def _skips() -> dict:
    return dict(yaml.safe_load(SKIPS.read_text()) or {})


def run_bandit() -> int:
    result = subprocess.run(
        [sys.executable, "-m", "bandit", "-r", *SCANNED, "-f", "json", "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    try:
        report = json.loads(result.stdout)
    except ValueError:
        print(f"bandit did not run:\n{result.stderr[-2000:]}", file=sys.stderr)
        return 3
    if report.get("errors"):
        print(f"bandit could not scan: {report['errors']}", file=sys.stderr)
        return 3
    skips = _skips().get("bandit", [])
    used: set[int] = set()
    unexplained = []
    for finding in report["results"]:
        where = str(Path(finding["filename"]).as_posix())
        matches = [
            n
            for n, skip in enumerate(skips)
            if skip["check"] == finding["test_id"]
            and any(fnmatch.fnmatch(where, pattern) for pattern in skip["files"])
        ]
        if matches:
            used.update(matches)
        else:
            unexplained.append(
                f"{finding['test_id']} {where}:{finding['line_number']} "
                f"({finding['issue_severity']}) {finding['issue_text']}"
            )
    stale = [f"{s['check']} {s['files']}" for n, s in enumerate(skips) if n not in used]
    scanned = report["metrics"]["_totals"]["loc"]
    accepted = len(report["results"]) - len(unexplained)
    print(
        f"bandit: {len(report['results'])} finding(s) in {scanned} lines; {accepted} accepted "
        f"in {SKIPS.relative_to(ROOT)}, {len(unexplained)} unexplained, {len(stale)} stale skip(s)"
    )
    for line in unexplained:
        print(f"  unexplained: {line}")
    for line in stale:
        print(f"  stale skip (no such finding any more): {line}")
    return 1 if unexplained or stale else 0


def _pip_audit() -> Path | None:
    executable = VENV / "bin" / "pip-audit"
    stamp = VENV / f".installed-{PIP_AUDIT_VERSION}"
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
            f"pip-audit=={PIP_AUDIT_VERSION}",
        ],
        capture_output=True,
        text=True,
    )
    if install.returncode != 0:
        print(f"cannot install pip-audit=={PIP_AUDIT_VERSION}:\n{install.stderr}", file=sys.stderr)
        return None
    stamp.touch()
    return executable


def run_pip_audit(service: str) -> int:
    executable = _pip_audit()
    if executable is None:
        return 3
    accepted = {v["id"]: v for v in _skips().get("vulnerabilities", [])}
    with tempfile.TemporaryDirectory() as scratch:
        output = Path(scratch) / "report.json"
        command = [
            str(executable),
            "--requirement",
            str(PINS),
            "--no-deps",  # constraints.txt pins the whole set: nothing to resolve
            "--disable-pip",
            "--vulnerability-service",
            service,
            "--progress-spinner",
            "off",
            "--format",
            "json",
            "--output",
            str(output),
        ]
        for vuln_id in accepted:
            command += ["--ignore-vuln", vuln_id]
        result = subprocess.run(command, capture_output=True, text=True)
        if not output.exists():
            reason = (result.stderr.strip().splitlines() or ["no output"])[-1]
            print(f"pip-audit: could not reach its vulnerability service ({service}): {reason}")
            return 3
        report = json.loads(output.read_text())
    dependencies = report.get("dependencies", [])
    skipped = [d for d in dependencies if d.get("skip_reason")]
    found = [(d["name"], d["version"], v["id"]) for d in dependencies for v in d.get("vulns", [])]
    print(
        f"pip-audit ({service}): {len(dependencies)} pinned package(s), {len(found)} known "
        f"vulnerabilit(ies), {len(accepted)} accepted, {len(skipped)} not audited"
    )
    for name, version, vuln_id in found:
        print(f"  vulnerable: {name}=={version} {vuln_id}")
    if skipped:
        print(f"  not audited, e.g. {skipped[0]['name']}: {skipped[0]['skip_reason']}")
        print(
            "  pip-audit needs https://pypi.org/pypi/<name>/<version>/json (or api.osv.dev with "
            "--service osv); a registry mirror without that API cannot serve it"
        )
    if found:
        return 1
    return 3 if skipped else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tool", nargs="?", default="all", choices=["bandit", "pip-audit", "all"])
    parser.add_argument("--service", default="pypi", choices=["pypi", "osv"])
    args = parser.parse_args(argv)
    codes = []
    if args.tool in ("bandit", "all"):
        codes.append(run_bandit())
    if args.tool in ("pip-audit", "all"):
        codes.append(run_pip_audit(args.service))
    return 1 if 1 in codes else max(codes)


if __name__ == "__main__":
    sys.exit(main())
