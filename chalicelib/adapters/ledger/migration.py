"""Layout 2 ("ledger v2", before layout markers) to layout 3 in place, in the same table
(keys.py has both): resumable, and safe to run twice at once (the command line and a sweep).

Only what every event shared moves; images, tags and incidents keep their items:
1. work: each item of the `WORK` index partition gets its shard's `WORK#<w>` (a conditional
   update: an item already moved, or gone from the queue, is left alone);
2. the catalogue: each `REPOS / <repo>` becomes `REPOS#<r> / <repo>` (put and delete in one
   transaction);
3. the 24 h counts: each hourly bucket of the last three days (their time to live) is added to
   counter shard 0's hour and day items and deleted, in one transaction, so once only;
4. the status counters are rebuilt from the facts (pending replicas from the work queue, open
   incidents by kind), written to counter shard 0 in the transaction that deletes
   `COUNTS / STATUS` and puts the layout marker: the ledger is in layout 3 all at once.
Handlers refuse a layout-2 ledger until then (layout.py), so nothing else writes meanwhile.
"""

from __future__ import annotations

import functools
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.adapters.ledger import counters, keys, layout
from chalicelib.adapters.ledger.table import Cancelled, Table, busy_retried
from chalicelib.core.errors import LedgerLayoutError
from chalicelib.core.lifecycle import iso, parse_time
from chalicelib.ports import Migration

WINDOW_HOURS = 74  # every hourly bucket layout 2 keeps (3 days to live), and an hour ahead
KINDS = {
    "REPLICA_MISSING": "missing",
    "REPLICATION_FAILED": "failed",
    "TAG_DRIFT": "drifted",
    "DELETE_NOT_REPLICATED": "undeleted",
}
Progress = Callable[[str], None]


class DynamoLayout:
    """The LedgerLayout port over a table, sharing the table's own layout check (so that the
    marker is read once for both)."""

    def __init__(self, table: Table) -> None:
        guard = table.layout
        self._check = guard if isinstance(guard, layout.LayoutCheck) else layout.LayoutCheck(table)
        self._table = self._check.table  # unchecked: it reads and moves a layout-2 ledger

    def needs_migration(self) -> bool:
        """Whether the table is in layout 2; once it is current, asked no more."""
        return self._check.current() == layout.LEGACY

    def migrate(self, now: datetime, has_time: Callable[[], bool], progress: Progress) -> Migration:
        done = migrate(self._table, now, has_time, progress)
        if done.done:
            self._check.migrated()
        return done


def migrate(
    table: Table, now: datetime, has_time: Callable[[], bool], progress: Progress
) -> Migration:
    """Move `table` to layout 3 as far as `has_time` allows; run again to resume."""
    started = time.monotonic()
    found = layout.version(table)
    if found == keys.LAYOUT_VERSION:
        progress(f"ledger table {table.name}: already in layout {found}, nothing to do")
        return Migration(found, keys.LAYOUT_VERSION, done=True)
    if found is not None:
        raise LedgerLayoutError(
            f"the ledger table {table.name} is in layout {found}: this release migrates "
            f"layout {layout.LEGACY} to {keys.LAYOUT_VERSION} only"
        )
    legacy = layout.legacy_items(table)
    if not legacy:
        layout.mark(table, keys.LAYOUT_VERSION, new=True)
        progress(f"ledger table {table.name}: new (empty), marked layout {keys.LAYOUT_VERSION}")
        return Migration(None, keys.LAYOUT_VERSION, done=True)
    report = Migration(layout.LEGACY, keys.LAYOUT_VERSION)
    progress(
        f"ledger table {table.name}: layout {layout.LEGACY} -> {keys.LAYOUT_VERSION} "
        f"(it holds {', '.join(legacy)})"
    )
    steps: list[Callable[[], None]] = [
        lambda: _work(table, report, progress, has_time),
        lambda: _catalogue(table, report, progress, has_time),
        lambda: _windows(table, now, report, progress, has_time),
        lambda: _finish(table, report, progress),
    ]
    for step in steps:
        if not has_time():
            progress("stopped for time: run `migrate` again (or let the next sweep) to resume")
            break
        step()
    report.seconds = time.monotonic() - started
    if report.done:
        progress(f"done in {report.seconds:.1f} s: the ledger is in layout {keys.LAYOUT_VERSION}")
    return report


# ---------------------------------------------------------------------------- the steps


def _work(table: Table, report: Migration, progress: Progress, has_time: Callable) -> None:
    """Every item of the `WORK` partition to its shard; passes until one moves nothing (the
    index is eventually consistent: it may list an item already moved)."""
    moved = 0
    while has_time():
        moved_now = 0
        start: dict[str, Any] | None = None
        while has_time():
            request: dict[str, Any] = {
                "TableName": table.name,
                "IndexName": "work",
                "KeyConditionExpression": "gsi1pk = :p",
                "ExpressionAttributeValues": {":p": {"S": keys.LEGACY_WORK}},
                "Limit": 100,
            }
            if start:
                request["ExclusiveStartKey"] = start
            page = table.client.query(**request)
            for raw in page.get("Items", []):
                row = table.plain(raw)
                moved_now += table.update(
                    row["pk"],
                    row["sk"],
                    UpdateExpression="SET gsi1pk = :new",
                    ConditionExpression="gsi1pk = :old",
                    ExpressionAttributeValues=table.values(
                        {":new": keys.work_pk(row["pk"], row["sk"]), ":old": keys.LEGACY_WORK}
                    ),
                )
            start = page.get("LastEvaluatedKey")
            if not start:
                break
        moved += moved_now
        if not moved_now:
            break
    report.moved["work items"] = moved
    progress(f"  work index: {moved} items moved from WORK to WORK#0..{keys.WORK_SHARDS - 1}")


def _catalogue(table: Table, report: Migration, progress: Progress, has_time: Callable) -> None:
    moved = 0
    rows = table.query(
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues=table.values({":p": keys.LEGACY_REPOS}),
        ConsistentRead=True,
    )
    for row in rows:
        if not has_time():
            break
        repository = row["sk"]
        new = {"pk": keys.repos_pk(repository), "sk": repository, "type": "repository"}
        operations: list[dict[str, Any]] = [
            {"Put": {"Item": table.item(new)}},
            {
                "Delete": {
                    "Key": table.key(keys.LEGACY_REPOS, repository),
                    "ConditionExpression": "attribute_exists(pk)",
                }
            },
        ]
        try:
            busy_retried(functools.partial(table.transact, operations))
            moved += 1
        except Cancelled:
            continue  # another migration moved it
    report.moved["repositories"] = moved
    progress(
        f"  catalogue: {moved} repositories moved from REPOS to REPOS#0..{keys.REPOS_SHARDS - 1}"
    )


def _windows(
    table: Table, now: datetime, report: Migration, progress: Progress, has_time: Callable
) -> None:
    """The hourly buckets to counter shard 0, each in a transaction that deletes it."""
    hours = sorted({iso(now - timedelta(hours=h))[:13] for h in range(-1, WINDOW_HOURS)})
    wanted = [keys.legacy_bucket_key(name, hour) for name in keys.COUNTED for hour in hours]
    moved = 0
    for (pk, sk), bucket in sorted(table.get_many(wanted).items()):
        if not has_time():
            break
        name, hour = pk.split("#")[1], pk.split("#")[2]
        prefix = keys.COUNTED[name]
        minutes = {
            f"{prefix}{attribute[1:]}": int(value)
            for attribute, value in bucket.items()
            if attribute.startswith("m") and len(attribute) == 3 and int(value)
        }
        moment = parse_time(f"{hour}:00:00Z")
        expiry = keys.ttl(parse_time(f"{hour[:10]}T00:00:00Z"), keys.COUNTER_TTL)
        operations = [
            {"Delete": {"Key": table.key(pk, sk), "ConditionExpression": "attribute_exists(pk)"}}
        ]
        if minutes:
            total = {f"{prefix}{hour[11:13]}": sum(minutes.values())}
            operations += [
                counters.add(table, keys.hour_key(0, moment), minutes, expiry),
                counters.add(table, keys.day_key(0, moment), total, expiry),
            ]
        try:
            busy_retried(functools.partial(table.transact, operations))
            moved += 1
        except Cancelled:
            continue  # another migration moved it
    report.moved["hourly buckets"] = moved
    progress(f"  24 h counts: {moved} hourly buckets moved to counter shard 0")


def _finish(table: Table, report: Migration, progress: Progress) -> None:
    """Counters rebuilt from the facts; the old ones deleted and the marker put, at once."""
    rebuilt = dict.fromkeys(counters.STATUS_FIELDS, 0)
    rebuilt["pending"] = _pending_replicas(table)
    for row in table.query(
        IndexName="work",
        KeyConditionExpression="gsi1pk = :p",
        ExpressionAttributeValues=table.values({":p": "INCIDENT#open"}),
    ):
        name = KINDS.get(str(row.get("kind")))
        if name:
            rebuilt[name] += 1
    old = table.get(*keys.LEGACY_STATUS_KEY) or {}
    report.counters_before = {name: int(old.get(name, 0)) for name in counters.STATUS_FIELDS}
    report.counters_after = rebuilt
    status = {"pk": keys.status_key(0)[0], "sk": keys.status_key(0)[1], **rebuilt}
    marker = {
        "pk": keys.LAYOUT_KEY[0],
        "sk": keys.LAYOUT_KEY[1],
        "type": "layout",
        "version": keys.LAYOUT_VERSION,
        "since": iso(datetime.now(UTC)),
        "migrated_from": layout.LEGACY,
    }
    new = "attribute_not_exists(pk)"
    try:
        busy_retried(
            lambda: table.transact(
                [
                    {"Put": {"Item": table.item(status), "ConditionExpression": new}},
                    {"Delete": {"Key": table.key(*keys.LEGACY_STATUS_KEY)}},
                    {"Put": {"Item": table.item(marker), "ConditionExpression": new}},
                ]
            )
        )
    except Cancelled:
        if layout.version(table) != keys.LAYOUT_VERSION:
            raise
        progress("  another migration finished first")
        report.done = True
        return
    shown = ", ".join(f"{k} {v}" for k, v in rebuilt.items())
    same = "the same" if report.counters_before == rebuilt else str(report.counters_before)
    progress(f"  counters rebuilt from the ledger: {shown} (layout {layout.LEGACY} had {same})")
    report.done = True


def _pending_replicas(table: Table) -> int:
    """Replicas waiting to arrive: every one is in the work queue (its due time); counted
    once whichever partition, old or new, the index shows it in."""
    seen: set[tuple[str, str]] = set()
    counted: Counter[str] = Counter()
    for partition in [keys.LEGACY_WORK, *keys.work_pks()]:
        for row in table.query(
            IndexName="work",
            KeyConditionExpression="gsi1pk = :p",
            ExpressionAttributeValues=table.values({":p": partition}),
        ):
            key = (row["pk"], row["sk"])
            if key in seen or row.get("type") != "replica":
                continue
            seen.add(key)
            if row.get("state") == "pending" and row.get("due_at"):
                counted["pending"] += 1
    return counted["pending"]
