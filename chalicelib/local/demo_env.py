"""The demo's environment file: what points the command line (`status`, `wait`, `reconcile`,
`doctor`) at a served demo's emulator, written while it serves and removed when it stops."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

# What the command line needs to read the demo's ledger and registries, as `provision`
# prints it plus the demo's own settings; credentials are the emulator's (any will do).
ENV_FILE = Path("demo.env.json")
ENV_KEYS = (
    "AWS_ENDPOINT_URL",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AUDIT_TABLE",
    "ALERT_TOPIC_ARN",
    "DASHBOARD_LINK_KEY_ARN",
    "CURSOR_KEY_SECRET_ARN",
    "REPLICATION_CONFIG",
    "REPLICATION_GRACE_SECONDS",
    "LOCATION_NAMES",
    "AUDIT_ROLE_NAME",
)


def write(path: Path) -> str:
    """The environment, written to `path`; returns what was written."""
    text = json.dumps({k: os.environ[k] for k in ENV_KEYS if k in os.environ}, indent=2) + "\n"
    path.write_text(text)
    return text


def remove(path: Path, written: str | None) -> None:
    """The file points at an emulator that is gone: remove it, if it is still ours."""
    try:
        if written is not None and path.read_text() == written:
            path.unlink()
    except OSError:
        pass


def cli_command() -> str:
    """How this user runs the command line: the venv's alias where it is installed."""
    alias = Path(sys.executable).parent / "ecr-audit"
    if not alias.exists():
        return f"{Path(sys.executable).name} -m chalicelib.cli"
    try:
        return str(alias.relative_to(Path.cwd()))
    except ValueError:
        return str(alias)
