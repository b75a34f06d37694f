"""The documentation site as a reader meets it: it builds strictly and offline, every alert kind
has its runbook, the README stays a front page, and what the pages say the code can check
(commands and their options, make targets, `aws ecr` calls, alarms, metrics, bench figures)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from scripts import docs_site
from tests.conftest import ROOT

DOCS = ROOT / "docs"
README = ROOT / "README.md"
RUNBOOK_SECTIONS = ("## Check first", "## Fix or silence", "## When it recovers")
# Kinds PRODUCT.md specifies that a runbook exists for even before the code raises them.
SPECIFIED_KINDS = {"PINNED_DIGEST_MISSING": "critical"}


def pages() -> dict[str, str]:
    """Every page a reader can open: the README and docs/**/*.md, by path from the root."""
    found = {"README.md": README.read_text()}
    for path in sorted(DOCS.rglob("*.md")):
        found[str(path.relative_to(ROOT))] = path.read_text()
    return found


# ----------------------------------------------------------------------------- the site


def test_the_site_builds_strictly_and_loads_nothing_from_elsewhere(tmp_path: Path) -> None:
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert (site / "runbooks" / "replica-missing" / "index.html").is_file()
    assert (site / "search" / "search_index.json").is_file(), "the search index is built locally"
    external = re.compile(
        r"<(?:script|img|iframe|source|audio|video)\b[^>]*\bsrc=[\"'](?:https?:)?//"
        r"|<link\b(?![^>]*rel=[\"']canonical)[^>]*\bhref=[\"'](?:https?:)?//"
        r"|url\([\"']?(?:https?:)?//|@import\s+[\"'](?:https?:)?//",
        re.I,
    )
    for path in [*site.rglob("*.html"), *site.rglob("*.css")]:
        text = path.read_text(errors="replace")
        assert not external.search(text), f"{path.relative_to(site)} loads {external.search(text)}"
    config = (ROOT / "mkdocs.yml").read_text()
    # the theme's bundle fetches repository facts from GitHub with repo_url, mermaid from a CDN
    assert "repo_url" not in config and "font: false" in config
    assert not any("```mermaid" in text for text in pages().values())


def test_every_generated_block_is_known_and_used() -> None:
    used = {m for text in pages().values() for m in docs_site.MARKER.findall(text)}
    assert used == set(docs_site.GENERATORS), "a generator nobody uses, or a marker nobody fills"


def test_the_cli_page_shows_every_command_s_help() -> None:
    from chalicelib.cli import parser

    generated = docs_site.cli_help()
    (commands,) = [a for a in parser()._actions if a.dest == "command"]
    for name, sub in commands.choices.items():  # type: ignore[union-attr]
        assert f"### `ecr-audit {name}`" in generated
        for option in (o for a in sub._actions for o in a.option_strings):
            assert option in generated, f"{name} {option}"
    assert "python -m chalicelib.cli" not in generated.split("\n", 3)[2], "named ecr-audit"


def test_the_api_reference_covers_the_openapi_document() -> None:
    generated = docs_site.api_reference()
    document = docs_site.openapi()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert f"### {method.upper()} {path}\n" in generated
            for parameter in operation.get("parameters", []):
                assert f"| `{parameter['name']}` |" in generated
    for name in document["components"]["schemas"]:
        assert f"### {name}\n" in generated


def test_the_front_page_links_into_the_site() -> None:
    page = docs_site.front_page()
    assert "](docs/" not in page
    assert "](runbooks/replica-missing.md)" in page and "](dashboard.png)" in page


# ----------------------------------------------------------------------------- the README


def test_the_readme_is_a_front_page() -> None:
    text = README.read_text()
    assert len(text.splitlines()) <= 250, "the README is a front page; the manual is docs/"
    for command in ("make demo", "make test"):
        assert f"{command} " in text, command
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert "![" in text and "(docs/dashboard.png)" in text
    for target in re.findall(r"\]\(((?!https?:|#)[^)\s]+)\)", text):
        assert (ROOT / target.split("#")[0]).exists(), f"README links {target}, which is missing"


def test_every_page_is_in_the_nav() -> None:
    config = (ROOT / "mkdocs.yml").read_text()
    for path in DOCS.rglob("*.md"):
        relative = str(path.relative_to(DOCS))
        assert relative in config, f"{relative} is not in mkdocs.yml's nav"


# ----------------------------------------------------------------------------- runbooks


def alert_kinds() -> dict[str, str]:
    from chalicelib.core.documents import SEVERITY

    return {**SEVERITY, **SPECIFIED_KINDS}


@pytest.mark.parametrize("kind", sorted(alert_kinds()))
def test_every_alert_kind_has_a_runbook(kind: str) -> None:
    slug = kind.lower().replace("_", "-")
    page = DOCS / "runbooks" / f"{slug}.md"
    assert page.is_file(), f"no runbook for {kind}"
    text = page.read_text()
    assert text.startswith(f"# {kind}\n")
    assert f"**Severity {alert_kinds()[kind]}" in text
    # a recovery is the end of an incident: nothing to fix
    sections = RUNBOOK_SECTIONS if kind != "RECOVERED" else RUNBOOK_SECTIONS[::2]
    for section in sections:
        assert section in text, f"{page.name} has no {section!r}"
    index = (DOCS / "runbooks" / "index.md").read_text()
    assert f"]({slug}.md)" in index and f"`{kind}`" in index
    assert f"runbooks/{slug}.md" in (ROOT / "mkdocs.yml").read_text()


# ----------------------------------------------------------------------------- commands


def code_texts(text: str) -> list[str]:
    """Fenced blocks and inline code spans, continuation lines joined, one line each."""
    blocks = re.findall(r"```[^\n]*\n(.*?)```", text, re.S)
    rest = re.sub(r"```[^\n]*\n.*?```", "", text, flags=re.S)
    spans = re.findall(r"`([^`\n]+)`", rest)
    lines = []
    for block in blocks:
        lines += re.sub(r"\\\n\s*", " ", block).splitlines()
    return lines + spans


def invocations(word: str, line: str) -> list[list[str]]:
    """The words after each `word` (e.g. `ecr-audit`) up to the end of its shell command."""
    found = []
    for command in re.split(r"\||&&|;|\$\(|\)", line):
        tokens = command.split()
        for at, token in enumerate(tokens):
            if token == word or token.endswith("/" + word):
                found.append(tokens[at + 1 :])
    return found


def cli_options() -> dict[str, set[str]]:
    from chalicelib.cli import parser

    (commands,) = [a for a in parser()._actions if a.dest == "command"]
    return {
        name: {o for a in sub._actions for o in a.option_strings}
        for name, sub in commands.choices.items()  # type: ignore[union-attr]
    }


def test_every_ecr_audit_command_shown_exists_with_its_options() -> None:
    known = cli_options()
    checked = 0
    for name, text in pages().items():
        for line in code_texts(text):
            line = line.replace("python -m chalicelib.cli", "ecr-audit")
            for words in invocations("ecr-audit", line):
                if not words or words[0].startswith(("-", "COMMAND", "<")):
                    continue
                command = words[0]
                assert command in known, f"{name}: `ecr-audit {command}` is no command"
                for option in (w.split("=")[0] for w in words[1:] if w.startswith("--")):
                    assert option in known[command], f"{name}: `{command} {option}` is no option"
                checked += 1
    assert checked >= 20, checked


def make_targets() -> set[str]:
    makefile = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([a-z][\w-]*):", makefile, re.M))


def test_every_make_target_shown_exists() -> None:
    targets = make_targets()
    checked = 0
    for name, text in pages().items():
        for line in code_texts(text):
            for words in invocations("make", line):
                for word in words:
                    if "=" in word or not re.fullmatch(r"[a-z][\w-]*", word):
                        break
                    assert word in targets, f"{name}: `make {word}` is no target"
                    checked += 1
    assert checked >= 10, checked


@cache
def ecr_model() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("ecr")


AWS_GLOBAL_OPTIONS = {"--region", "--profile", "--query", "--output", "--endpoint-url"}


def test_every_aws_ecr_call_shown_is_an_ecr_operation_with_its_parameters() -> None:
    from botocore import xform_name

    model = ecr_model()
    operations = {xform_name(name, "-"): name for name in model.operation_names}
    checked = 0
    for name, text in pages().items():
        for line in code_texts(text):
            for words in invocations("aws", line):
                if not words or words[0] != "ecr" or len(words) < 2:
                    continue
                operation = words[1]
                assert operation in operations, f"{name}: `aws ecr {operation}` is no operation"
                shape = model.operation_model(operations[operation]).input_shape
                members = {f"--{xform_name(m, '-')}" for m in (shape.members if shape else {})}
                for option in (w.split("=")[0] for w in words[2:] if w.startswith("--")):
                    assert option in members | AWS_GLOBAL_OPTIONS, f"{name}: {operation} {option}"
                checked += 1
    assert checked >= 15, checked


# ----------------------------------------------------------------------------- operations


def test_every_alarm_of_the_template_is_in_the_operations_page() -> None:
    template = json.loads((ROOT / "infra" / "app-resources.json").read_text())
    alarms = [
        name
        for name, resource in template["Resources"].items()
        if resource.get("Type") == "AWS::CloudWatch::Alarm"
    ]
    text = (DOCS / "operations.md").read_text()
    assert alarms
    for alarm in alarms:
        assert re.search(rf"^\| `{alarm}` \|", text, re.M), f"{alarm} is not in the alarm table"


def emitted_metrics() -> set[str]:
    names = set()
    for path in (ROOT / "chalicelib").rglob("*.py"):
        code = path.read_text()
        names |= set(re.findall(r"(?<![\w.])count\(\s*\"([A-Z][a-z]\w+)\"", code))
        names |= set(re.findall(r"\bname=\"([A-Z][A-Za-z]+)\"", code))
        for suffix in re.findall(r"(?<![\w.])count\(\s*f\"\{[^}]+\}(\w+)\"", code):
            names |= {f"Sns{suffix}", f"Slack{suffix}"}  # one per alert channel
    return names


def test_every_metric_the_code_emits_is_documented() -> None:
    text = (DOCS / "operations.md").read_text()
    metrics = emitted_metrics()
    assert {"RejectedEvents", "SweepCompleted", "ReplicationLag", "SlackDeliveryFailures"} <= (
        metrics
    )
    for metric in metrics:
        assert f"`{metric}`" in text, f"the metric {metric} is not in docs/operations.md"


def test_performance_figures_are_quoted_from_the_recorded_run() -> None:
    recorded = " ".join(docs_site.RECORDED_BENCH.read_text().split())
    text = (DOCS / "performance.md").read_text()
    quoted = [
        " ".join(span.split())
        for span in re.findall(r"`([^`]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
        if re.match(r"\d|about \d|bench took", span.strip())
    ]
    assert len(quoted) >= 15, quoted
    for figure in quoted:
        assert figure in recorded, f"`{figure}` is not in bench/recorded-run.txt"
    assert "bench took" in recorded and "targets met" in recorded


# ----------------------------------------------------------------------------- alerts


def test_the_documented_alert_document_is_the_code_s() -> None:
    from chalicelib.core.documents import ALERT_KEYS, SEVERITY, alert_document

    shown = docs_site.documented_alert()
    assert tuple(shown) == ALERT_KEYS, "every key, in the code's order"
    assert shown["severity"] == SEVERITY[shown["kind"]]
    rebuilt = alert_document(**{k: v for k, v in shown.items() if k not in ("schema",)})
    assert rebuilt == shown, "summary, severity and runbook_url as the code makes them"
    slack = docs_site.alert_slack()
    assert f"<{shown['runbook_url']}|runbook>" in slack


# Files the pages name that the project writes when it runs, rather than keeps.
WRITTEN = {
    "env.json",
    "demo.env.json",
    "day.jsonl",
    "chalice.tf.json",
    "stage.tf.json",
    "gate.json",
}


def test_every_file_the_pages_name_exists() -> None:
    nav = (ROOT / "mkdocs.yml").read_text()
    for name, text in pages().items():
        for path in set(re.findall(r"`([\w./-]+\.(?:py|json|yaml|yml|txt|sh|md|html))`", text)):
            if (
                path.startswith("/")
                or path in WRITTEN
                or path.startswith(("test-artifacts/", "site/"))
            ):
                continue  # a route, or something a command writes
            if path.startswith("docs/") and path.removeprefix("docs/") in nav:
                continue  # a page of the nav that another change adds
            found = (ROOT / path).exists() or (ROOT / "chalicelib" / path).exists()
            assert found, f"{name} names {path}, which does not exist"
