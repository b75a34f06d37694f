"""DynamoTagHistory: each tag's history per location, its current digest, and its neighbours."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from chalicelib.adapters.ledger import items, keys
from chalicelib.adapters.ledger.table import Table
from chalicelib.core.judgement import TagEntry
from chalicelib.core.lifecycle import Location, iso


class DynamoTagHistory:
    def __init__(self, table: Table) -> None:
        self._table = table

    def heads_as_of(
        self, location: Location, repository: str, tags: Iterable[str], moment: datetime
    ) -> dict[str, TagEntry | None]:
        """For each tag, the latest entry of its history at `location` up to `moment`."""
        heads: dict[str, TagEntry | None] = {}
        for tag in sorted(tags):
            found = self._table.first(
                KeyConditionExpression="pk = :pk AND sk <= :sk",
                ExpressionAttributeValues=self._table.values(
                    {":pk": keys.tag_pk(location, repository, tag), ":sk": iso(moment) + keys.HIGH}
                ),
                ScanIndexForward=False,
                ConsistentRead=True,
            )
            heads[tag] = next(items.readable([found], items.tag_entry), None) if found else None
        return heads

    def neighbours(self, entry: TagEntry) -> tuple[TagEntry | None, TagEntry | None]:
        """The entries just before and just after `entry` in its tag's history."""
        pk, sk = keys.entry_key(entry)
        values = self._table.values({":pk": pk, ":sk": sk})
        found = [
            self._table.first(
                KeyConditionExpression=f"pk = :pk AND sk {op} :sk",
                ExpressionAttributeValues=values,
                ScanIndexForward=forward,
                ConsistentRead=True,
            )
            for op, forward in (("<", False), (">", True))
        ]
        before, after = (
            next(items.readable([row], items.tag_entry), None) if row else None for row in found
        )
        return before, after

    def repository_tags(self, repository: str) -> dict[Location, dict[str, str]]:
        tags: dict[Location, dict[str, str]] = {}
        for row in self._table.query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :t)",
            ExpressionAttributeValues=self._table.values(
                {":pk": f"REPO#{repository}", ":t": "TAG#"}
            ),
        ):
            _, account, region, tag = row["sk"].split("#", 3)
            if "digest" in row:
                tags.setdefault(Location(account, region), {})[tag] = row["digest"]
        return tags
