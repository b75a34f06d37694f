"""DynamoRulesStore: the replication rules read from ECR, one ledger item per source registry.

Items live in the auditor's table as `pk="RULES"`, `sk="<account>#<region>"`, so one Query
reads every source's rules. A save never replaces a newer copy (two containers refreshing at
once both write; the later `fetched_at` wins).
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.core.lifecycle import Location, iso, parse_time
from chalicelib.ports import StoredRules

PK = "RULES"


def rules_key(source: Location) -> dict[str, dict[str, str]]:
    return {"pk": {"S": PK}, "sk": {"S": f"{source.account}#{source.region}"}}


class DynamoRulesStore:
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def load_all(self) -> dict[Location, StoredRules]:
        found: dict[Location, StoredRules] = {}
        start: dict[str, Any] | None = None
        while True:
            page = self._client.query(
                TableName=self._table,
                KeyConditionExpression="pk = :p",
                ExpressionAttributeValues={":p": {"S": PK}},
                ConsistentRead=True,
                **({"ExclusiveStartKey": start} if start else {}),
            )
            for item in page.get("Items", []):
                account, _, region = item["sk"]["S"].partition("#")
                source = Location(account, region)
                found[source] = StoredRules(
                    source=source,
                    registry=json.loads(item["registry"]["S"]),
                    fetched_at=parse_time(item["fetched_at"]["S"]),
                )
            start = page.get("LastEvaluatedKey")
            if not start:
                return found

    def save(self, rules: StoredRules) -> None:
        fetched = iso(rules.fetched_at)
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    **rules_key(rules.source),
                    "type": {"S": "rules"},
                    "registry": {"S": json.dumps(rules.registry, sort_keys=True)},
                    "fetched_at": {"S": fetched},
                },
                ConditionExpression="attribute_not_exists(pk) OR fetched_at < :f",
                ExpressionAttributeValues={":f": {"S": fetched}},
            )
        except Exception as error:
            code = getattr(error, "response", {}).get("Error", {}).get("Code")
            if code != "ConditionalCheckFailedException":
                raise  # ledger errors propagate: Lambda retries the invocation
