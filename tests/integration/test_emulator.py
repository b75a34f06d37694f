"""The emulator keeps DynamoDB's semantics where chalicelib/local/emulator.py makes moto faster:
a cancelled transaction leaves every item as it was, and a Query reads its partition."""

from __future__ import annotations

import uuid

import pytest

from chalicelib.local.provision import table_request


@pytest.fixture
def table(session):
    name = f"emulator-{uuid.uuid4().hex[:8]}"
    client = session.client("dynamodb")
    client.create_table(**table_request(name))
    return client, name


def item(pk: str, sk: str, **values: str) -> dict:
    return {"pk": {"S": pk}, "sk": {"S": sk}, **{k: {"S": v} for k, v in values.items()}}


def test_a_cancelled_transaction_leaves_every_item_as_it_was(table):
    client, name = table
    client.put_item(TableName=name, Item=item("a", "1", v="old"))
    client.put_item(TableName=name, Item=item("b", "1", v="keep"))
    client.put_item(TableName=name, Item=item("c", "1", v="mine"))
    client.put_item(TableName=name, Item=item("d", "1"))
    with pytest.raises(client.exceptions.TransactionCanceledException):
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": name, "Item": item("a", "1", v="new")}},  # overwrite
                {"Put": {"TableName": name, "Item": item("n", "1", v="new")}},  # create
                {
                    "Update": {
                        "TableName": name,
                        "Key": {"pk": {"S": "b"}, "sk": {"S": "1"}},
                        "UpdateExpression": "SET v = :x",
                        "ExpressionAttributeValues": {":x": {"S": "changed"}},
                    }
                },
                {"Delete": {"TableName": name, "Key": {"pk": {"S": "c"}, "sk": {"S": "1"}}}},
                {
                    "ConditionCheck": {
                        "TableName": name,
                        "Key": {"pk": {"S": "d"}, "sk": {"S": "1"}},
                        "ConditionExpression": "attribute_not_exists(pk)",  # fails
                    }
                },
            ]
        )

    def value(pk: str) -> str | None:
        found = client.get_item(TableName=name, Key={"pk": {"S": pk}, "sk": {"S": "1"}})
        return found.get("Item", {}).get("v", {}).get("S")

    assert [value(k) for k in ("a", "b", "c", "n")] == ["old", "keep", "mine", None]


def test_a_transaction_that_holds_writes_all_its_items(table):
    client, name = table
    client.put_item(TableName=name, Item=item("a", "1", v="old"))
    client.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": name, "Item": item("a", "1", v="new")}},
            {"Put": {"TableName": name, "Item": item("z", "1", v="new")}},
        ]
    )
    got = client.query(
        TableName=name,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "a"}},
    )["Items"]
    assert got == [item("a", "1", v="new")]


def test_a_query_reads_its_partition_in_key_order_with_pages(table):
    client, name = table
    for pk in ("p", "q"):
        for n in (3, 1, 2, 5, 4):
            client.put_item(TableName=name, Item=item(pk, f"s{n}"))
    first = client.query(
        TableName=name,
        KeyConditionExpression="pk = :p AND sk > :s",
        ExpressionAttributeValues={":p": {"S": "q"}, ":s": {"S": "s1"}},
        Limit=2,
        ScanIndexForward=False,
    )
    assert [i["sk"]["S"] for i in first["Items"]] == ["s5", "s4"]
    rest = client.query(
        TableName=name,
        KeyConditionExpression="pk = :p AND sk > :s",
        ExpressionAttributeValues={":p": {"S": "q"}, ":s": {"S": "s1"}},
        ExclusiveStartKey=first["LastEvaluatedKey"],
        ScanIndexForward=False,
    )
    assert [i["sk"]["S"] for i in rest["Items"]] == ["s3", "s2"]
    assert "LastEvaluatedKey" not in rest
