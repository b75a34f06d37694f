"""DynamoWorkQueue: every piece of sweep work that has come due, from one index partition."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.adapters.ledger import items, keys
from chalicelib.adapters.ledger.table import Table
from chalicelib.core.lifecycle import iso
from chalicelib.ports import Work


class DynamoWorkQueue:
    def __init__(self, table: Table) -> None:
        self._table = table

    def due_work(self, now: datetime, limit: int) -> list[Work]:
        """Work due by `now`, oldest first: one Query when there is none."""
        rows = self._table.query(
            IndexName="work",
            KeyConditionExpression="gsi1pk = :p AND gsi1sk <= :now",
            ExpressionAttributeValues=self._table.values(
                {":p": keys.WORK, ":now": iso(now) + keys.HIGH}
            ),
            Limit=min(limit, 200),
        )
        found = []
        for work in items.readable(rows, _work):
            found.append(work)
            if len(found) >= limit:
                break
        return found


def _work(row: dict[str, Any]) -> Work:
    kind = row["gsi1sk"].split("#", 2)[1]
    at = row["gsi1sk"]
    if kind == "due":
        return Work("due", at, replica=items.replica(row))
    if kind in ("judge", "untag"):
        return Work(kind, at, entry=items.tag_entry(row))
    incident_id = row["pk"].split("#", 1)[1]
    if kind == "deliver":
        return Work("deliver", at, incident_id=incident_id, note=row["sk"].split("#", 1)[1])
    if kind == "close":
        return Work("close", at, incident_id=incident_id)
    raise ValueError(f"unknown work kind {kind!r}")
