"""Supply chain: bandit on the code and pip-audit on the pins, every acceptance justified in
scripts/audit-skips.yaml (the checks `make audit` runs)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
AUDIT = ROOT / "scripts" / "audit.py"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(AUDIT), *args], capture_output=True, text=True, timeout=600
    )


def test_every_accepted_finding_names_its_files_and_says_why() -> None:
    skips = yaml.safe_load((ROOT / "scripts" / "audit-skips.yaml").read_text())
    for skip in skips["bandit"]:
        assert re.fullmatch(r"B\d{3}", skip["check"])
        assert skip["files"] and all("*" not in f for f in skip["files"]), skip["check"]
        assert all((ROOT / f).is_file() for f in skip["files"]), skip["files"]
        assert len(skip["reason"].split()) >= 15, skip["check"]
    for vulnerability in skips["vulnerabilities"]:
        assert vulnerability["id"] and vulnerability["package"]
        assert len(vulnerability["reason"].split()) >= 15, vulnerability["id"]


def test_bandit_finds_nothing_unexplained() -> None:
    result = run("bandit")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 unexplained, 0 stale" in result.stdout


def test_every_pinned_package_is_free_of_known_vulnerabilities() -> None:
    result = run("pip-audit")
    if result.returncode == 3:
        pytest.skip(f"pip-audit could not audit from here: {result.stdout.strip()[-400:]}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 known vulnerabilit" in result.stdout and "0 not audited" in result.stdout
