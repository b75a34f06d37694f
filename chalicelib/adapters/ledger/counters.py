"""The status counters, write-sharded: each commit adds its counts to one of COUNTER_SHARDS
shards (drawn at random per attempt), and DynamoCounters adds every shard up, in two
BatchGetItem whatever the history (keys.py: the items; docs/ledger.md: why)."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from chalicelib.adapters.ledger import keys
from chalicelib.adapters.ledger.table import Table
from chalicelib.core.decisions import Counts
from chalicelib.core.lifecycle import iso, parse_time
from chalicelib.ports import StatusCounts

WINDOW = timedelta(hours=24)
STATUS_FIELDS = ("pending", "missing", "failed", "drifted", "undeleted")
COUNTED_BY_PREFIX = {prefix: name for name, prefix in keys.COUNTED.items()}


def pick_shard() -> int:
    """A counter shard for one commit attempt. Random rather than a hash of the image: the
    events of one image (a buildx index and its destinations' arrivals) come together, and a
    retry after a conflict should not meet the same writer on the same item again."""
    return random.randrange(keys.COUNTER_SHARDS)


def counter_updates(table: Table, counts: Counts, shard: int) -> list[dict[str, Any]]:
    """The Update operations adding `counts` to shard `shard` (none when nothing changes)."""
    ops = []
    status = {name: getattr(counts, name) for name in STATUS_FIELDS}
    status = {k: v for k, v in status.items() if v}
    if status:
        ops.append(add(table, keys.status_key(shard), status, None))
    days: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    hours: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for name, moments in (("ARRIVED", counts.arrivals), ("OVERWRITTEN", counts.overwrites)):
        prefix = keys.COUNTED[name]
        for moment, delta in moments:
            text = iso(moment)
            days[keys.day_key(shard, moment)][f"{prefix}{text[11:13]}"] += delta
            hours[keys.hour_key(shard, moment)][f"{prefix}{text[14:16]}"] += delta
    for buckets in (days, hours):
        for key, deltas in buckets.items():
            nonzero = {k: v for k, v in deltas.items() if v}
            if nonzero:
                day = parse_time(key[1].split("#", 1)[1][:10] + "T00:00:00Z")
                ops.append(add(table, key, nonzero, keys.ttl(day, keys.COUNTER_TTL)))
    return ops


def add(table: Table, key: tuple[str, str], deltas: dict[str, int], expiry: int | None) -> dict:
    """An Update adding `deltas` to the attributes of `key` (and setting its expiry)."""
    names = {f"#a{i}": name for i, name in enumerate(deltas)}
    values: dict[str, Any] = {f":v{i}": delta for i, delta in enumerate(deltas.values())}
    update = "ADD " + ", ".join(f"#a{i} :v{i}" for i in range(len(deltas)))
    if expiry is not None:
        update += " SET expires_at = :x"
        values[":x"] = expiry
    return {
        "Update": {
            "Key": table.key(*key),
            "UpdateExpression": update,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": table.values(values),
        }
    }


class DynamoCounters:
    def __init__(self, table: Table) -> None:
        self._table = table

    def status_counts(self, now: datetime) -> StatusCounts:
        """Every shard's status, and the 24 h window ending at `now` to the minute: the two
        edge hours by minute, the hours between from the two days' hour totals."""
        since = now - WINDOW
        wanted = []
        for shard in range(keys.COUNTER_SHARDS):
            wanted += [
                keys.status_key(shard),
                keys.day_key(shard, since),
                keys.day_key(shard, now),
                keys.hour_key(shard, since),
                keys.hour_key(shard, now),
            ]
        found = self._table.get_many(wanted)
        totals: dict[str, int] = defaultdict(int)
        windows: dict[str, int] = defaultdict(int)
        low, high = _minute(since), _minute(now)
        for (_, sk), item in found.items():
            if sk == "STATUS":
                for name in STATUS_FIELDS:
                    totals[name] += int(item.get(name, 0))
                continue
            kind, when = sk.split("#", 1)
            for attribute, value in item.items():
                counted = COUNTED_BY_PREFIX.get(attribute[:1])
                if counted is None or len(attribute) != 3 or not attribute[1:].isdigit():
                    continue
                if kind == "HOUR":
                    inside = low < f"{when}m{attribute[1:]}" <= high
                else:  # DAY: whole hours strictly between the edge hours
                    inside = low[:13] < f"{when}T{attribute[1:]}" < high[:13]
                if inside:
                    windows[counted] += int(value)
        return StatusCounts(
            **{name: max(0, totals[name]) for name in STATUS_FIELDS},
            replicated_24h=max(0, windows["ARRIVED"]),
            overwritten_24h=max(0, windows["OVERWRITTEN"]),
        )


def _minute(moment: datetime) -> str:
    """`<date>T<HH>m<MM>`, comparable with an hour item's hour and attribute name."""
    text = iso(moment)
    return f"{text[:13]}m{text[14:16]}"
