"""DynamoCheckpointStore: where `reconcile --all` keeps its place, one item in the ledger's table.

The item is `pk="RECONCILE"`, `sk="checkpoint"`, the walk's state as one JSON attribute; each
save replaces it (one walk at a time is the supported use).
"""

from __future__ import annotations

from typing import Any

from chalicelib.inventory import Checkpoint

KEY = {"pk": {"S": "RECONCILE"}, "sk": {"S": "checkpoint"}}


class DynamoCheckpointStore:
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def load(self) -> Checkpoint | None:
        item = self._client.get_item(TableName=self._table, Key=KEY, ConsistentRead=True).get(
            "Item"
        )
        return Checkpoint.from_json(item["state"]["S"]) if item else None

    def save(self, checkpoint: Checkpoint) -> None:
        self._client.put_item(
            TableName=self._table,
            Item={
                **KEY,
                "type": {"S": "checkpoint"},
                "state": {"S": checkpoint.to_json()},
                "updated_at": {"S": checkpoint.updated_at},
            },
        )
