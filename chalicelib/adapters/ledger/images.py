"""DynamoImages: one image's facts (presence, replicas, applied events) and the catalogue of
repositories and their replicas."""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.ledger import items, keys
from chalicelib.adapters.ledger.table import Table
from chalicelib.core.lifecycle import ImageFacts, Location, Presence, Replica
from chalicelib.ports import ImageRecord, Page


class DynamoImages:
    def __init__(self, table: Table) -> None:
        self._table = table

    def load(self, repository: str, digest: str) -> ImageRecord:
        """One consistent Query: where the digest is, its replicas, the events applied to it."""
        presence: dict[Location, Presence] = {}
        replicas: list[Replica] = []
        applied: set[str] = set()
        rows = self._table.query(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=self._table.values(
                {":pk": keys.image_pk(repository, digest)}
            ),
            ConsistentRead=True,
        )
        for row in items.readable(rows, _image_row):
            if isinstance(row, Replica):
                replicas.append(row)
            elif isinstance(row, str):
                applied.add(row)
            elif row is not None:
                presence[row[0]] = row[1]
        replicas.sort(key=lambda r: (r.destination, r.source))
        return ImageRecord(ImageFacts(presence, tuple(replicas)), frozenset(applied))

    def replicas_page(self, repository: str, limit: int, cursor: str | None) -> Page:
        page = self._table.page(
            limit,
            cursor,
            IndexName="catalog",
            KeyConditionExpression="gsi2pk = :p",
            ExpressionAttributeValues=self._table.values({":p": f"REPO#{repository}"}),
        )
        return Page(list(items.readable(page.items, items.replica)), page.next_cursor)

    def newest_replica(self, repository: str, destination: Location) -> Replica | None:
        """The replica of the most recently pushed image of a repository at a destination."""
        found = self._table.first(
            IndexName="catalog",
            KeyConditionExpression="gsi2pk = :p AND begins_with(gsi2sk, :d)",
            ExpressionAttributeValues=self._table.values(
                {":p": f"REPO#{repository}", ":d": f"{keys.loc(destination)}#"}
            ),
            ScanIndexForward=False,
        )
        return next(items.readable([found], items.replica), None) if found else None

    def repository_known(self, repository: str) -> bool:
        """Any replica recorded for the repository (tag heads are checked by the caller)."""
        return (
            self._table.first(
                IndexName="catalog",
                KeyConditionExpression="gsi2pk = :p",
                ExpressionAttributeValues=self._table.values({":p": f"REPO#{repository}"}),
            )
            is not None
        )

    def repositories(self) -> list[str]:
        return [
            row["sk"]
            for row in self._table.query(
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues=self._table.values({":pk": "REPOS"}),
            )
        ]


def _image_row(row: dict[str, Any]) -> Replica | tuple[Location, Presence] | str | None:
    sk = row["sk"]
    if sk.startswith("REPLICA#"):
        return items.replica(row)
    if sk.startswith("AT#"):
        return items.presence(row)
    if sk.startswith("EVENT#"):
        return str(sk.split("#", 1)[1])
    return None
