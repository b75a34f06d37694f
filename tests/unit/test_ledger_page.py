"""docs/ledger.md says what the code does: its shard counts, budgets, waits, messages,
command, emulator route and variable are the code's; its figures are the recorded runs'
(bench/recorded-run.txt after, bench/ledger-v2-run.txt before) and the migration test's."""

from __future__ import annotations

import json
import re
from pathlib import Path

from chalicelib.adapters.ledger import keys, layout, table, work
from chalicelib.core import contention
from chalicelib.entrypoints import handlers
from chalicelib.local import emulated_conflicts
from chalicelib.usecases import commits

ROOT = Path(__file__).resolve().parents[2]
PAGE = " ".join((ROOT / "docs" / "ledger.md").read_text().split())
AFTER = " ".join((ROOT / "bench" / "recorded-run.txt").read_text().split())
BEFORE = " ".join((ROOT / "bench" / "ledger-v2-run.txt").read_text().split())


def test_the_layout_constants_are_the_codes():
    assert f"`COUNTER_SHARDS` ({keys.COUNTER_SHARDS})" in PAGE
    assert f"`WORK_SHARDS` ({keys.WORK_SHARDS})" in PAGE
    assert f"`REPOS_SHARDS` ({keys.REPOS_SHARDS})" in PAGE
    assert f"crc32(repo) mod {keys.REPOS_SHARDS}" in PAGE
    assert f"crc32(pk#sk) mod {keys.WORK_SHARDS}" in PAGE
    assert f"the layout version, {keys.LAYOUT_VERSION}" in PAGE
    assert f"{keys.COUNTER_SHARDS * 5} keys, two `BatchGetItem`" in PAGE
    assert f"| an idle sweep | {keys.WORK_SHARDS} |" in PAGE
    assert f"at most a page ({work.PAGE} items)" in PAGE


def test_the_waits_are_the_codes():
    assert f"{commits.COMMIT_ATTEMPTS} times at most" in PAGE
    assert f"from {contention.BASE_SECONDS * 1000:.0f} ms to {contention.CAP_SECONDS:.0f} s" in PAGE
    assert f"less {handlers.EVENT_RESERVE_MS // 1000} s for an event" in PAGE
    assert f"the sweep's {handlers.SWEEP_RESERVE_MS // 1000} s reserve" in PAGE
    assert f"{commits.PATIENCE_SECONDS:.0f} s without a Lambda context" in PAGE
    assert f"for up to {table.WRITE_PATIENCE:.0f} s" in PAGE


def test_the_messages_route_and_variable_are_the_codes():
    assert emulated_conflicts.CONFLICT_MESSAGE in PAGE
    assert f"`POST {emulated_conflicts.PATH}`" in PAGE
    assert f"`{emulated_conflicts.ENVIRONMENT}=5,15`" in PAGE
    for marker, expected in ((None, "layout 2"), (4, "layout 4")):
        message = refusal(marker)
        assert expected in message
        assert message.replace("`", "").split("T is in ", 1)[1] in PAGE.replace("`", "")


def refusal(marker: int | None) -> str:
    """The message a table named T gets with this marker (None: a layout-2 table)."""
    from chalicelib.adapters.ledger import Table
    from chalicelib.core.errors import LedgerLayoutError

    class Client:  # DynamoDB as the layout check asks it: the marker, layout 2's STATUS
        def get_item(self, Key, **_):
            if Key["pk"]["S"] == "LAYOUT":
                return {"Item": {"version": {"N": str(marker)}}} if marker else {}
            return {"Item": {"pk": Key["pk"], "sk": Key["sk"]}}

        def query(self, **_):
            return {"Items": []}

    try:
        layout.check(Table(Client(), "T"))
    except LedgerLayoutError as error:
        return " ".join(str(error).split())
    raise AssertionError("not refused")


def test_the_migrate_command_and_its_options_exist():
    from chalicelib.cli import parser

    top = parser()
    (commands,) = [a for a in top._actions if a.dest == "command"]
    migrate = commands.choices["migrate"]  # type: ignore[index]
    options = {o for a in migrate._actions for o in a.option_strings}
    assert "python -m chalicelib.cli migrate" in PAGE
    assert {"--max-seconds", "--json", "--env-file"} <= options
    assert "`--max-seconds`" in PAGE


def test_the_figures_are_the_recorded_runs():
    quoted_after = re.findall(r"`WORK#<w>`, the hottest of 8: ([\d.]+), ([\d,]+) pushes/s", PAGE)
    assert quoted_after, "the hottest keys table"
    for units, rate in quoted_after:
        assert f"{units} " in AFTER and f"{rate.replace(',', '')} p/s" in AFTER
    for units, rate in re.findall(r"`COUNTS#<s>`, the hottest of 32: ([\d.]+), ([\d,]+) pushes/s",
                                  PAGE):  # fmt: skip
        assert f"{units} " in AFTER and f"{rate.replace(',', '')} p/s" in AFTER
    befores = re.findall(r"\| `(WORK|COUNTS/STATUS|COUNTS#ARRIVED#<hour>|REPOS)`: ([\d.]+)"
                         r"(?: units)?, (\d+) pushes/s", PAGE)  # fmt: skip
    assert len(befores) == 4, befores
    for _, units, rate in befores:
        assert f"{units} {rate} p/s" in BEFORE
    # the burst table: each "before" row is a row of the ledger v2 run
    for workers, erroring, invocations, dead in re.findall(
        r"\| (\d+) \| (\d+) of ([\d,]+)[^|]*\| (\d+) \| (?:yes|no) \| 0 of", PAGE
    ):
        row = re.search(rf"\b{workers} {invocations.replace(',', '')} {erroring} ", BEFORE)
        assert row, f"before, {workers} workers"
        assert re.search(rf"\b{workers} {invocations.replace(',', '')} {erroring} [\d.]+% \d+ \d+ "
                         rf"{dead} ", BEFORE)  # fmt: skip
    for workers in (1, 8, 32, 64):  # after: no invocation erred, none dead-lettered
        assert re.search(rf"\b{workers} 1002 0 0\.0% 0 0 0 yes ", AFTER), workers


def test_the_migration_figures_are_the_fixtures():
    fixture = json.loads((ROOT / "tests" / "fixtures" / "ledger-v2.json").read_text())
    counts = fixture["answers"]["status"]["counts"]
    assert f"{len(fixture['items'])} items migrated" in PAGE
    shown = ", ".join(f"{k} {counts[k]}" for k in ("pending", "missing", "failed", "drifted",
                                                   "undeleted"))  # fmt: skip
    assert f"counters rebuilt as `{shown}`" in PAGE
