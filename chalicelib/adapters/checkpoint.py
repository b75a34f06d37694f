"""DynamoCheckpointStore: where `reconcile --all` keeps its place, one item in the ledger's table.

The item is `pk="RECONCILE"`, `sk="checkpoint"`, the walk's state as one JSON attribute; each
save replaces it (one walk at a time is the supported use). What the state means is the use
case's (chalicelib/usecases/inventory.py's Checkpoint): the composition root passes its decoder
in, so this adapter depends on no use case.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

KEY = {"pk": {"S": "RECONCILE"}, "sk": {"S": "checkpoint"}}


class Savable(Protocol):
    @property
    def updated_at(self) -> str: ...

    def to_json(self) -> str: ...


class DynamoCheckpointStore[S: Savable]:
    def __init__(self, client: Any, table: str, decode: Callable[[str], S]) -> None:
        self._client = client
        self._table = table
        self._decode = decode

    def load(self) -> S | None:
        item = self._client.get_item(TableName=self._table, Key=KEY, ConsistentRead=True).get(
            "Item"
        )
        return self._decode(item["state"]["S"]) if item else None

    def save(self, checkpoint: S) -> None:
        self._client.put_item(
            TableName=self._table,
            Item={
                **KEY,
                "type": {"S": "checkpoint"},
                "state": {"S": checkpoint.to_json()},
                "updated_at": {"S": checkpoint.updated_at},
            },
        )
