"""The README and the documentation pages as a new user reads them: the command-line example runs
verbatim and prints what the page shows, and the pages document every command, option, setting,
route and make target."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()
DOCS = ROOT / "docs"
# Where each statement lives now that the README is the site's front page.
CLI_PAGE = (DOCS / "cli.md").read_text()
CONFIGURATION_PAGE = (DOCS / "configuration.md").read_text()
API_PAGE = (DOCS / "api.md").read_text()
DEVELOPMENT_PAGE = (DOCS / "development.md").read_text()
VENV_BIN = ".venv/bin/"
EXAMPLE_ENDPOINT = "127.0.0.1:5005"


def block(name: str) -> str:
    """The fenced block right after `<!-- example: NAME -->` on the command-line page."""
    found = re.search(rf"<!-- example: {re.escape(name)} -->\n```\w*\n(.*?)```", CLI_PAGE, re.S)
    assert found, f"docs/cli.md has no example block {name!r}"
    return found.group(1)


def commands(text: str) -> list[str]:
    """Shell lines of a block, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", text)
    return [line.strip() for line in joined.splitlines() if line.strip()]


def without_clock(text: str) -> str:
    return re.sub(r"as of \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "as of <now>", text).strip()


def test_the_example_starts_the_emulator_the_tests_stand_in_for() -> None:
    (start,) = commands(block("emulator"))
    assert start == f".venv/bin/python -m moto.server -H 127.0.0.1 -p {EXAMPLE_ENDPOINT[-4:]}"


def test_the_command_line_example_runs_verbatim(moto_endpoint: str, tmp_path: Path) -> None:
    """Each line of the page through `sh`, in a fresh directory holding only the clone's examples/,
    against this session's emulator instead of the one on port 5005."""
    bin_dir = Path(sys.executable).parent
    assert (bin_dir / "ecr-audit").exists(), "the alias is installed by `make venv`"
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    endpoint = urlsplit(moto_endpoint).netloc
    lines = commands(block("commands"))
    exports = [line for line in lines if line.startswith("export ")]
    assert len(exports) == 1 and EXAMPLE_ENDPOINT in exports[0]
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "AUDIT_", "ALERT_", "REPLICATION_", "LOCATION_"))
    }
    outputs = []
    for line in lines:
        if line.startswith("export "):
            continue
        assert line.startswith(VENV_BIN), line
        script = "\n".join([exports[0], line]).replace(EXAMPLE_ENDPOINT, endpoint)
        script = script.replace(VENV_BIN, f"{bin_dir}/")
        result = subprocess.run(
            ["sh", "-e", "-c", script],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, f"{line}\n{result.stderr}"
        assert "Traceback" not in result.stderr and ": ignored" not in result.stderr
        outputs.append((line, result.stdout))
    assert (tmp_path / "env.json").is_file()
    statuses = [out for line, out in outputs if " status " in line]
    assert len(statuses) == 2
    assert without_clock(statuses[0]) == without_clock(block("status after the push"))
    assert without_clock(statuses[1]) == without_clock(block("status after the sweep"))


def documented_options() -> dict[str, list[str]]:
    from chalicelib.cli import parser

    top = parser()
    (commands_action,) = [a for a in top._actions if a.dest == "command"]
    found = {}
    for name, sub in commands_action.choices.items():  # type: ignore[union-attr]
        found[name] = [o for a in sub._actions for o in a.option_strings if o.startswith("--")]
    return found


def test_every_command_and_option_is_documented() -> None:
    text = CLI_PAGE
    assert "ecr-audit" in text and "python -m chalicelib.cli" in text
    for command, options in documented_options().items():
        row = re.search(rf"^\| `{re.escape(command)}[ `].*$", text, re.M)
        assert row, f"docs/cli.md's table has no row for {command}"
        for option in options:
            if option in ("--help", "--debug"):
                assert option in text, option
                continue
            assert option in row.group(0), f"{command} {option} is not documented"


def test_every_setting_is_documented() -> None:
    from tests.infra.test_packaged_template import settings_variables

    table = CONFIGURATION_PAGE
    for name in sorted(settings_variables() | {"AWS_ENDPOINT_URL", "POWERTOOLS_LOG_LEVEL"}):
        assert re.search(rf"^\| `{name}` \|", table, re.M), f"{name} is not in the table"


def test_every_route_and_its_defaults_are_documented() -> None:
    from app import app

    table = API_PAGE.split("## Reference")[0]  # the hand-written table, not the generated one
    for path in app.routes:
        assert f"`GET {path}" in table or f"`{path}`" in table, f"{path} is not documented"
    assert "`state` defaults to `open`" in table
    assert '"lag_seconds"' in table, "the shape of /repositories"


@pytest.mark.parametrize("target", ["clean", "deploy-guide STAGE=dev\\|prod", "test", "demo"])
def test_make_targets_are_documented(target: str) -> None:
    assert f"`make {target}" in README + DEVELOPMENT_PAGE
