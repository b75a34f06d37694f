"""docs/architecture.md matches the code: every file it names exists, every `module.function`
it follows exists in that module, and its contracts are pyproject.toml's import-linter
contracts, layer by layer."""

from __future__ import annotations

import importlib
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = (ROOT / "docs" / "architecture.md").read_text()
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"][
    "contracts"
]


def test_every_file_the_page_names_exists():
    named = set(re.findall(r"`((?:app\.py|chalicelib/[\w/]*\.py|chalicelib/[\w/]+/))`", PAGE))
    assert len(named) > 20
    assert [n for n in sorted(named) if not (ROOT / n).exists()] == []


def test_every_step_the_page_follows_exists():
    modules = {
        Path(p).stem: p[:-3].replace("/", ".")
        for p in re.findall(r"`(chalicelib/[\w/]+\.py)`", PAGE)
    }
    steps = set(re.findall(r"`(\w+)\.(\w+)(?:\(|`)", PAGE))
    followed = [(m, f) for m, f in steps if m in modules and f != "py"]
    assert len(followed) > 10
    missing = [
        f"{m}.{f}" for m, f in followed if not hasattr(importlib.import_module(modules[m]), f)
    ]
    assert missing == []


def test_the_contracts_shown_are_the_enforced_ones():
    shown = re.search(r"```text\n(.*?)```", PAGE, re.S).group(1)
    assert [line.rsplit(" ", 1)[0] for line in shown.splitlines()] == [c["name"] for c in CONTRACTS]
    [layers] = [c["layers"] for c in CONTRACTS if c["type"] == "layers"]
    cells = re.findall(r"^\| [^|]+ \| ([^|]+) \|", PAGE, re.M)
    table = {
        Path(p).with_suffix("").as_posix().replace("/", ".")
        for cell in cells
        for p in re.findall(r"`(chalicelib/[\w/.]+?)/?`", cell)
    }
    enforced = {part.strip() for layer in layers for part in layer.split("|")}
    assert enforced <= table
