"""mkdocs hooks of the documentation site: what the pages take from the code at build time.

A page line `<!-- generated: NAME -->` becomes GENERATORS[NAME](): the README as the front page,
each command's `--help`, the API reference from openapi.json, the bench's recorded run. Nav
entries whose page does not exist yet (pages other changes add) are left out of the build
rather than failing it. tests/e2e/test_docs.py imports this module to check the same output.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
REPOSITORY_URL = "https://github.com/ecr-replication-auditor/ecr-replication-auditor"
RECORDED_BENCH = ROOT / "bench" / "recorded-run.txt"
MARKER = re.compile(r"^<!-- generated: ([\w-]+) -->$", re.M)
HELP_COLUMNS = "100"  # argparse wraps help at the terminal's width: a fixed one for the page

log = logging.getLogger("mkdocs.hooks.docs_site")


# ----------------------------------------------------------------------------- the front page


def front_page() -> str:
    """README.md with its links made relative to docs/ (where the site's pages live)."""
    text = (ROOT / "README.md").read_text()
    return re.sub(r"\]\(([^)\s]+)\)", lambda m: f"]({_site_link(m.group(1))})", text)


def _site_link(target: str) -> str:
    if re.match(r"^[a-z]+:|^#", target):
        return target
    if target.startswith("docs/"):
        return target.removeprefix("docs/")
    return f"{REPOSITORY_URL}/blob/main/{target}"  # a file of the repository, not of the site


# ----------------------------------------------------------------------------- the CLI


@contextmanager
def _terminal_width() -> Iterator[None]:
    before = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = HELP_COLUMNS
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = before


def command_helps() -> dict[str, str]:
    """`--help` of the top command ("") and of each command, as `ecr-audit` prints them."""
    from chalicelib.cli import parser

    with _terminal_width():
        top = parser(prog="ecr-audit")
        helps = {"": top.format_help()}
        (commands,) = [a for a in top._actions if a.dest == "command"]
        for name, sub in commands.choices.items():  # type: ignore[union-attr]
            helps[name] = sub.format_help()
    return helps


def cli_help() -> str:
    parts = []
    for name, text in command_helps().items():
        title = f"ecr-audit {name}".strip()
        parts.append(f"### `{title}`\n\n```text\n$ {title} --help\n{text.rstrip()}\n```\n")
    return "\n".join(parts)


# ----------------------------------------------------------------------------- the HTTP API


def openapi_path() -> Path:
    """chalicelib's openapi.json, wherever the package layout keeps it."""
    (found,) = sorted((ROOT / "chalicelib").rglob("openapi.json"))
    return found


def openapi() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(openapi_path().read_text())
    return document


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _schema_type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return f"[{name}](#{name.lower()})"
    if "allOf" in schema:
        inner = " and ".join(_schema_type(s) for s in schema["allOf"])
        return inner + (" or null" if schema.get("nullable") else "")
    kind = schema.get("type", "any")
    if kind == "array":
        text = f"array of {_schema_type(schema.get('items', {}))}"
    elif kind == "object" and "additionalProperties" in schema:
        values = schema["additionalProperties"]
        text = "object of " + (_schema_type(values) if isinstance(values, dict) else "any")
    else:
        text = f"{kind}"
        if schema.get("format"):
            text += f" ({schema['format']})"
    if schema.get("enum"):
        text += ": " + ", ".join(f"`{v}`" for v in schema["enum"] if v is not None)
    if schema.get("nullable"):
        text += " or null"
    return text


def _constraints(schema: dict[str, Any]) -> str:
    found = []
    for key, label in (("minimum", "min"), ("maximum", "max"), ("default", "default")):
        if key in schema:
            found.append(f"{label} {schema[key]}")
    if "maxLength" in schema:
        found.append(f"at most {schema['maxLength']} characters")
    return ", ".join(found)


def api_reference() -> str:
    document = openapi()
    lines = [
        f"*{document['info']['title']}*, version {document['info']['version']}: generated from "
        f"`{openapi_path().relative_to(ROOT)}` when the site is built (the app serves the same "
        "document at `GET /openapi.json`).",
        "",
    ]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            lines += [f"### {method.upper()} {path}", "", _cell(operation.get("summary", ""))]
            if operation.get("description"):
                lines += ["", _cell(operation["description"])]
            if operation.get("security"):
                schemes = ", ".join(name for item in operation["security"] for name in item)
                lines += ["", f"Authorised by: {schemes} (`Authorization: Bearer <token>`)."]
            if operation.get("parameters"):
                lines += ["", "| parameter | required | type | description |", "|---|---|---|---|"]
                for p in operation["parameters"]:
                    schema = p.get("schema", {})
                    about = _cell(p.get("description", ""))
                    limits = _constraints(schema)
                    lines.append(
                        f"| `{p['name']}` | {'yes' if p.get('required') else 'no'} | "
                        f"{_schema_type(schema)} | {about}{'; ' if about and limits else ''}"
                        f"{limits} |"
                    )
            lines += ["", "| status | answer |", "|---|---|"]
            for status, response in operation["responses"].items():
                body = response.get("content", {})
                shape = [_schema_type(c["schema"]) for c in body.values() if "schema" in c]
                lines.append(
                    f"| {status} | {_cell(response.get('description', ''))}"
                    f"{' ' + shape[0] if shape else ''} |"
                )
            lines.append("")
    lines += ["## Schemas", ""]
    for name, schema in document["components"]["schemas"].items():
        lines += [f"### {name}", ""]
        if schema.get("description"):
            lines += [_cell(schema["description"]), ""]
        properties = schema.get("properties", {})
        if not properties:
            lines += [f"Type: {_schema_type(schema)}.", ""]
            continue
        required = set(schema.get("required", []))
        lines += ["| field | always present | type | description |", "|---|---|---|---|"]
        for field, spec in properties.items():
            lines.append(
                f"| `{field}` | {'yes' if field in required else 'no'} | {_schema_type(spec)} | "
                f"{_cell(spec.get('description', ''))} |"
            )
        lines.append("")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- alerts


def documented_alert() -> dict[str, Any]:
    """The alert document docs/alerts.md shows (tests check it is the code's)."""
    page = (DOCS / "alerts.md").read_text()
    found = re.search(r"## The alert document\n.*?```json\n(.*?)```", page, re.S)
    if found is None:
        raise ValueError("docs/alerts.md shows no alert document")
    document: dict[str, Any] = json.loads(found.group(1))
    return document


# The names the demo gives its locations (LOCATION_NAMES), as a deployed stage would set them.
EXAMPLE_NAMES = {"111111111111/us-west-2": "dev", "222222222222/eu-west-1": "prod"}


def _payload(payload: dict[str, Any]) -> str:
    return f"```json\n{json.dumps(payload, indent=2, ensure_ascii=False)}\n```\n"


def alert_slack() -> str:
    from chalicelib.core.alert_formats import render_slack

    return _payload(render_slack(documented_alert(), EXAMPLE_NAMES))


def alert_chatbot() -> str:
    from chalicelib.core.alert_formats import render_chatbot

    return _payload(render_chatbot(documented_alert(), EXAMPLE_NAMES))


# ----------------------------------------------------------------------------- the bench


def bench_run() -> str:
    text = RECORDED_BENCH.read_text().rstrip()
    return f"```text\n$ make bench\n{text}\n```\n"


GENERATORS: dict[str, Callable[[], str]] = {
    "readme": front_page,
    "cli-help": cli_help,
    "api-reference": api_reference,
    "bench-run": bench_run,
    "alert-slack": alert_slack,
    "alert-chatbot": alert_chatbot,
}


def expand(markdown: str) -> str:
    """Each marker line replaced by what its generator makes of the code."""

    def generated(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in GENERATORS:
            raise ValueError(f"unknown generated block {name!r}; known: {sorted(GENERATORS)}")
        return GENERATORS[name]()

    return MARKER.sub(generated, markdown)


# ----------------------------------------------------------------------------- nav slots


def present_nav(nav: Any, docs_dir: Path) -> Any:
    """The nav without entries whose page does not exist (yet)."""
    if isinstance(nav, str):
        if nav.endswith(".md") and not (docs_dir / nav).is_file():
            log.info("nav slot %s: no page yet, left out of this build", nav)
            return None
        return nav
    if isinstance(nav, dict):
        kept = {key: present_nav(value, docs_dir) for key, value in nav.items()}
        kept = {key: value for key, value in kept.items() if value not in (None, [])}
        return kept or None
    if isinstance(nav, list):
        items = [present_nav(item, docs_dir) for item in nav]
        return [item for item in items if item is not None]
    return nav


# ----------------------------------------------------------------------------- mkdocs events


def on_config(config: Any) -> Any:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))  # chalicelib, also when mkdocs runs from elsewhere
    if config.nav:
        config.nav = present_nav(config.nav, Path(config.docs_dir))
    return config


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    return expand(markdown)
