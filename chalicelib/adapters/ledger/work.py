"""DynamoWorkQueue: every piece of sweep work that has come due, from the work index's
WORK_SHARDS partitions, merged in time order."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from chalicelib.adapters.ledger import items, keys
from chalicelib.adapters.ledger.table import Table
from chalicelib.core.lifecycle import iso
from chalicelib.ports import Work

PAGE = 200  # work items read per shard and call, at most


class DynamoWorkQueue:
    def __init__(self, table: Table, page: int = PAGE, threads: int = keys.WORK_SHARDS) -> None:
        """`threads`: shards read at once (1: one after another, in the caller's thread)."""
        self._table = table
        self._page = page
        self._threads = max(1, min(threads, keys.WORK_SHARDS))
        self._busy = False  # the last call found work: read the shards at once

    def due_work(self, now: datetime, limit: int) -> list[Work]:
        """Work due by `now`, oldest first: one Query per shard when there is none.

        Each shard gives its oldest due items, at most a page (PAGE). Where a shard has more than it
        gave, nothing later than its last item given can be kept: another of its items might
        come before it. So the merge stops at the earliest such last item, and what comes
        after it waits for the next call.
        """

        def shard(partition: str) -> tuple[list[dict[str, Any]], bool]:
            return self._table.query_page(
                IndexName="work",
                KeyConditionExpression="gsi1pk = :p AND gsi1sk <= :now",
                ExpressionAttributeValues=self._table.values(
                    {":p": partition, ":now": iso(now) + keys.HIGH}
                ),
                Limit=min(limit, self._page),
            )

        # While there is work, the shards at once: a round of the sweep waits one round trip
        # for them, not eight. An idle queue is read one shard after another, on one
        # connection: an idle sweep (and its cold start) pays no threads or extra connections.
        if self._threads == 1 or not self._busy:
            pages = [shard(partition) for partition in keys.work_pks()]
        else:
            with ThreadPoolExecutor(max_workers=self._threads) as pool:
                pages = list(pool.map(shard, keys.work_pks()))
        rows: list[dict[str, Any]] = []
        cutoff: str | None = None
        for page, more in pages:
            rows += page
            if more and page:
                last = page[-1]["gsi1sk"]
                cutoff = last if cutoff is None else min(cutoff, last)
        self._busy = bool(rows)
        rows.sort(key=lambda row: row["gsi1sk"])
        if cutoff is not None:
            rows = [row for row in rows if row["gsi1sk"] <= cutoff]
        return list(items.readable(rows, _work))[:limit]


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
