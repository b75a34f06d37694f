"""Read a Terraform directory the way Terraform merges it, override files included, into plain
dictionaries (python-hcl2 for HCL, json for .tf.json), for the tests (tests/infra); and write
that merged view back as one HCL file for checkov, which reads neither .tf.json files nor
override files as Terraform does (scripts/checkov.py).

    python scripts/terraform_config.py DIRECTORY OUT.tf
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Block types that Terraform merges as a whole (the rest of an override merges per argument).
BLOCK_KINDS = ("resource", "data", "variable", "output", "module")
# Nested blocks in the .tf.json files here (JSON writes blocks and objects alike).
JSON_BLOCKS = {"environment", "endpoint_configuration", "lifecycle", "vpc_config", "tracing_config"}
MARK = "__is_block__"  # python-hcl2's marker of a block, kept when writing HCL back


def _hcl(path: Path) -> dict[str, Any]:
    import hcl2

    options = hcl2.SerializationOptions(with_comments=False, strip_string_quotes=True)
    with path.open() as file:
        return dict(hcl2.load(file, serialization_options=options))


def _unwrap(parsed: dict[str, Any], marked: bool = False) -> dict[str, Any]:
    """python-hcl2's lists of one-entry dicts, as `type -> name -> body` like a .tf.json file."""

    def _clean(node: Any) -> Any:
        return node if marked else _unmarked(node)

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


def _unmarked(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _unmarked(v) for k, v in node.items() if k != MARK}
    if isinstance(node, list):
        return [_unmarked(v) for v in node]
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


def load_directory(directory: Path, marked: bool = False) -> dict[str, Any]:
    """The directory's configuration: its primary files, then its override files merged in.
    `marked` keeps python-hcl2's block markers (for to_hcl)."""
    config: dict[str, Any] = {}
    overrides = []
    for path in config_files(directory):
        loaded = _json_config(path) if path.name.endswith(".json") else _unwrap(_hcl(path), marked)
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


# ----------------------------------------------------------------------------- writing HCL


def _segments(text: str) -> list[tuple[bool, str]]:
    """A template's parts: (False, literal text) and (True, `${...}` with its braces)."""
    out, start = [], 0
    while (begin := text.find("${", start)) != -1:
        depth, end = 0, begin + 1
        for end in range(begin + 1, len(text)):
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            if depth == 0:
                break
        out.append((False, text[start:begin]))
        out.append((True, text[begin : end + 1]))
        start = end + 1
    out.append((False, text[start:]))
    return out


def _string(text: str) -> str:
    parts = _segments(text)
    if [code for code, part in parts if part] == [True]:  # one expression: write it bare
        return "".join(part for _, part in parts)[2:-1]

    def literal(part: str) -> str:
        part = part.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return part.replace("%{", "%%{")

    return '"' + "".join(p if code else literal(p) for code, p in parts) + '"'


def _value(value: Any, indent: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v, indent) for v in value) + "]"
    inner = indent + "  "
    items = [f'{inner}"{k}" = {_value(v, inner)}' for k, v in value.items() if k != MARK]
    return "{\n" + "\n".join(items) + f"\n{indent}}}"


def _is_block(name: str, value: Any, json_blocks: set[str]) -> bool:
    entries = value if isinstance(value, list) else [value]
    return bool(entries) and all(
        isinstance(e, dict) and (e.get(MARK) or name in json_blocks) for e in entries
    )


def _body(body: dict[str, Any], indent: str, json_blocks: set[str] | None = None) -> list[str]:
    json_blocks = JSON_BLOCKS if json_blocks is None else json_blocks
    lines = []
    for name, value in body.items():
        if name == MARK:
            continue
        if name == "type" and isinstance(value, str) and not json_blocks:  # a variable's type
            lines.append(f"{indent}type = {value.removeprefix('${').removesuffix('}')}")
            continue
        if name == "ignore_changes":  # attribute names, not strings
            lines.append(f"{indent}{name} = [{', '.join(value)}]")
            continue
        if name == "dynamic":
            for entry in value if isinstance(value, list) else [value]:
                for kind, dynamic in entry.items():
                    if kind != MARK:
                        inner = _body(dynamic, indent + "  ", json_blocks)
                        lines += [f'{indent}dynamic "{kind}" {{', *inner]
                        lines.append(f"{indent}}}")
        elif _is_block(name, value, json_blocks):
            for entry in value if isinstance(value, list) else [value]:
                inner = _body(entry, indent + "  ", json_blocks)
                lines += [f"{indent}{name} {{", *inner, f"{indent}}}"]
        else:
            lines.append(f"{indent}{name} = {_value(value, indent)}")
    return lines


def to_hcl(config: dict[str, Any]) -> str:
    """A merged configuration (load_directory(..., marked=True)) as one HCL file."""
    lines: list[str] = []
    for kind, value in config.items():
        if kind in ("resource", "data"):
            for type_, named in value.items():
                for name, body in named.items():
                    lines += [f'{kind} "{type_}" "{name}" {{', *_body(body, "  "), "}"]
        elif kind in ("variable", "output", "module"):
            for name, body in value.items():
                lines += [f'{kind} "{name}" {{', *_body(body, "  ", set()), "}"]
        elif kind == "locals":
            lines += ["locals {", *_body(value, "  ", set()), "}"]
        elif kind == "terraform":
            settings = {k: v for k, v in value.items() if k != "required_providers"}
            providers: dict[str, Any] = {}
            required = value.get("required_providers", {})
            for entry in required if isinstance(required, list) else [required]:
                providers.update({k: v for k, v in entry.items() if k != MARK})
            lines += ["terraform {", *_body(settings, "  ", set()), "  required_providers {"]
            lines += [*_body(providers, "    ", set()), "  }", "}"]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    Path(argv[1]).write_text(to_hcl(load_directory(Path(argv[0]), marked=True)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
