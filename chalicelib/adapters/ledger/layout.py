"""The ledger's layout version: the marker item (`LAYOUT / LAYOUT`), the check a ledger table
makes before its first request, and the marker a new table is given.

A table without the marker is either new (nothing in it: it is given the marker of this
release's layout) or written by a release before markers (layout 2, "ledger v2": its shared
items are there),
which must be migrated first (migration.py: `python -m chalicelib.cli migrate`, or the next
sweep). Any other layout is refused with a LedgerLayoutError naming it and what to do, before
anything is written, so that events stay with Lambda's retries.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.ledger import keys
from chalicelib.core.errors import LedgerLayoutError

if TYPE_CHECKING:
    from chalicelib.adapters.cursors import CursorCodec
    from chalicelib.adapters.ledger.table import Table

LEGACY = 2  # ledger v2: a table written before layout markers


def version(table: Table) -> int | None:
    """The marker's version; None when there is no marker."""
    found = table.client.get_item(
        TableName=table.name, Key=table.key(*keys.LAYOUT_KEY), ConsistentRead=True
    ).get("Item")
    return int(found["version"]["N"]) if found else None


def legacy_items(table: Table) -> list[str]:
    """Which of layout 2's shared items the table holds (none: it is a new table)."""
    found = []
    status = table.client.get_item(
        TableName=table.name, Key=table.key(*keys.LEGACY_STATUS_KEY), ConsistentRead=True
    )
    if status.get("Item"):
        found.append("COUNTS/STATUS")
    repos = table.client.query(
        TableName=table.name,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": keys.LEGACY_REPOS}},
        ConsistentRead=True,
        Limit=1,
    )
    if repos.get("Items"):
        found.append("the REPOS catalogue")
    work = table.client.query(
        TableName=table.name,
        IndexName="work",
        KeyConditionExpression="gsi1pk = :p",
        ExpressionAttributeValues={":p": {"S": keys.LEGACY_WORK}},
        Limit=1,
    )
    if work.get("Items"):
        found.append("work in the WORK partition")
    return found


def current(table: Table) -> int:
    """The table's layout: its marker's, LEGACY for a table of layout 2; a new table is given
    this release's marker."""
    found = version(table)
    if found is not None:
        return found
    if legacy_items(table):
        return LEGACY
    mark(table, keys.LAYOUT_VERSION, new=True)
    return version(table) or keys.LAYOUT_VERSION


def mark(table: Table, layout: int, new: bool = False) -> None:
    """Put the marker (on a new table: only if there is none, whoever wrote it first)."""
    item = {
        "pk": keys.LAYOUT_KEY[0],
        "sk": keys.LAYOUT_KEY[1],
        "type": "layout",
        "version": layout,
        "since": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    request = {"TableName": table.name, "Item": table.item(item)}
    if new:
        request["ConditionExpression"] = "attribute_not_exists(pk)"
    try:
        table.client.put_item(**request)
    except Exception as error:
        code = (getattr(error, "response", None) or {}).get("Error", {}).get("Code")
        if code != "ConditionalCheckFailedException":
            raise


def check(table: Table) -> None:
    """Refuse (LedgerLayoutError) a table this release cannot read and write."""
    layout = current(table)
    if layout == keys.LAYOUT_VERSION:
        return
    if layout < keys.LAYOUT_VERSION:
        raise LedgerLayoutError(
            f"the ledger table {table.name} is in layout {layout} (written by an earlier "
            f"release); this release reads and writes layout {keys.LAYOUT_VERSION}: run "
            "`python -m chalicelib.cli migrate`, or wait for the next sweep to migrate it"
        )
    raise LedgerLayoutError(
        f"the ledger table {table.name} is in layout {layout}, newer than this release's "
        f"({keys.LAYOUT_VERSION}): deploy the release that wrote it (a migrated ledger cannot "
        "be read by an earlier release)"
    )


class LayoutCheck:
    """One table's layout, checked once for every adapter and the migration over it: `table`
    is a Table that checks nothing itself (it reads the marker, and a layout-2 ledger)."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self._current = False

    def ensure(self) -> None:
        """Nothing once the table is known to be in this release's layout; else `check`."""
        if not self._current:
            check(self.table)
            self._current = True

    def current(self) -> int:
        if self._current:
            return keys.LAYOUT_VERSION
        found = current(self.table)
        self._current = found == keys.LAYOUT_VERSION
        return found

    def migrated(self) -> None:
        self._current = True


def checked_table(client: Any, name: str, cursors: CursorCodec | None = None) -> Table:
    """A Table that makes sure, before its first request, that the ledger is in this release's
    layout; its check (over an unchecked twin) is shared with the migration (DynamoLayout)."""
    from chalicelib.adapters.ledger.table import Table

    return Table(client, name, cursors, guard=LayoutCheck(Table(client, name, cursors)))
