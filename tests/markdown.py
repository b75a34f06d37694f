"""Reading the docs' Markdown as the tests that hold it to the code need it."""

from __future__ import annotations


def table(text: str, header: str) -> dict[str, list[str]]:
    """The rows of the Markdown table whose header row starts with `header`, by their first
    cell (backticks stripped): the other cells."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {header} |"))
    rows = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0].strip("`")] = cells[1:]
    return rows
