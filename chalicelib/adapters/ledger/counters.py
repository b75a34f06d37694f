"""DynamoCounters: the status counters, read in one BatchGetItem whatever the history."""

from __future__ import annotations

from datetime import datetime, timedelta

from chalicelib.adapters.ledger import keys
from chalicelib.adapters.ledger.table import Table
from chalicelib.domain import iso
from chalicelib.ports import StatusCounts

WINDOW = timedelta(hours=24)


class DynamoCounters:
    def __init__(self, table: Table) -> None:
        self._table = table

    def status_counts(self, now: datetime) -> StatusCounts:
        since = now - WINDOW
        days = sorted({iso(since)[:10], iso(now)[:10]})
        wanted = [keys.STATUS_KEY] + [
            (f"COUNTS#{name}#{day}", "COUNTS")
            for name in ("ARRIVED", "OVERWRITTEN")
            for day in days
        ]
        found = self._table.get_many(wanted)
        status = found.get(keys.STATUS_KEY, {})

        def window(name: str) -> int:
            low, high = _minute(since), _minute(now)
            total = 0
            for day in days:
                for attribute, value in found.get((f"COUNTS#{name}#{day}", "COUNTS"), {}).items():
                    if attribute.startswith("m") and low < f"{day}{attribute}" <= high:
                        total += int(value)
            return max(0, total)

        return StatusCounts(
            pending=max(0, int(status.get("pending", 0))),
            missing=max(0, int(status.get("missing", 0))),
            failed=max(0, int(status.get("failed", 0))),
            drifted=max(0, int(status.get("drifted", 0))),
            undeleted=max(0, int(status.get("undeleted", 0))),
            replicated_24h=window("ARRIVED"),
            overwritten_24h=window("OVERWRITTEN"),
        )


def _minute(moment: datetime) -> str:
    """`<date>m<HHMM>`, comparable with a bucket's day and attribute name."""
    text = iso(moment)
    return f"{text[:10]}m{text[11:13]}{text[14:16]}"
