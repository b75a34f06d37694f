"""DynamoDB's transaction conflict rule in the emulator (chalicelib/local/emulated_conflicts.py),
through boto3 over HTTP: while a transaction holds an item, a later transaction naming it is
cancelled with TransactionConflict at that item's index, a PutItem/UpdateItem/DeleteItem on it
gets TransactionConflictException, a TransactGetItems is cancelled, a GetItem reads; botocore
retries none of them; writes to other items go on meanwhile; the holder completes; and the
mode is off unless asked for."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from chalicelib.local.emulated_conflicts import CONFLICT_MESSAGE, parse_service_ms
from chalicelib.local.emulator import MotoServer, start_moto
from chalicelib.local.provision import table_request

HOLD_MS = 2500  # long beside a request's few ms, so that the checks all fall inside the hold


@pytest.fixture(scope="module")
def server() -> Iterator[MotoServer]:
    with start_moto(conflicts_ms=(5, 15)) as started:  # on from the start (the env var)
        yield started


def control(endpoint: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{endpoint}/_emulator/conflicts", data=data)
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(json.loads(response.read()))


def client(endpoint: str, mode: str = "standard", attempts: int = 5) -> Any:
    config = Config(retries={"mode": mode, "max_attempts": attempts})
    return boto3.session.Session(region_name="us-east-1").client(
        "dynamodb", endpoint_url=endpoint, config=config
    )


@pytest.fixture
def table(server: MotoServer) -> tuple[Any, str]:
    dynamodb = client(server.endpoint)
    name = f"conflicts-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(**table_request(name))
    return dynamodb, name


def key(pk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": "1"}}


def put(name: str, pk: str, value: str) -> dict[str, Any]:
    return {"Put": {"TableName": name, "Item": {**key(pk), "v": {"S": value}}}}


def holding(endpoint: str, dynamodb: Any, operations: list[dict]) -> threading.Thread:
    """A transaction started in a thread; returns once it holds its items."""
    done: list[Any] = []

    def run() -> None:
        done.append(dynamodb.transact_write_items(TransactItems=operations))

    thread = threading.Thread(target=run)
    thread.done = done  # type: ignore[attr-defined]
    thread.start()
    deadline = time.monotonic() + 10
    while control(endpoint)["held_items"] < len(operations):
        assert time.monotonic() < deadline, "the transaction never held its items"
        time.sleep(0.01)
    return thread


def test_requests_meeting_a_held_item_are_refused_as_dynamodb_refuses_them(server, table):
    endpoint = server.endpoint
    dynamodb, name = table
    dynamodb.put_item(TableName=name, Item={**key("x"), "v": {"S": "before"}})
    control(endpoint, {"service_ms": [HOLD_MS, HOLD_MS]})
    try:
        holder = holding(endpoint, dynamodb, [put(name, "x", "holder"), put(name, "h", "holder")])
        refused: dict[str, ClientError] = {}
        for mode in ("standard", "legacy"):  # botocore's two retry modes: neither retries
            retrying = client(endpoint, mode)
            with pytest.raises(ClientError) as cancelled:
                retrying.transact_write_items(
                    TransactItems=[put(name, "y", "later"), put(name, "x", "later")]
                )
            refused[f"transaction, {mode}"] = cancelled.value
            with pytest.raises(retrying.exceptions.TransactionConflictException) as conflict:
                retrying.put_item(TableName=name, Item={**key("x"), "v": {"S": "later"}})
            refused[f"put, {mode}"] = conflict.value
        for operation, args in (
            ("update_item", {"UpdateExpression": "SET v = :v",
                             "ExpressionAttributeValues": {":v": {"S": "later"}}}),
            ("delete_item", {}),
        ):  # fmt: skip
            with pytest.raises(dynamodb.exceptions.TransactionConflictException) as conflict:
                getattr(dynamodb, operation)(TableName=name, Key=key("x"), **args)
            refused[operation] = conflict.value
        with pytest.raises(dynamodb.exceptions.TransactionCanceledException) as reading:
            dynamodb.transact_get_items(
                TransactItems=[
                    {"Get": {"TableName": name, "Key": key("y")}},
                    {"Get": {"TableName": name, "Key": key("h")}},
                ]
            )
        # Beside the hold: a GetItem reads (the holder's write, applied); others are written.
        seen = dynamodb.get_item(TableName=name, Key=key("x"), ConsistentRead=True)["Item"]
        dynamodb.put_item(TableName=name, Item={**key("y"), "v": {"S": "beside"}})
        still_holding = control(endpoint)["held_items"]
        dynamodb.transact_write_items(TransactItems=[put(name, "z", "beside")])  # holds z too
        holder.join()
    finally:
        report = control(endpoint)
        control(endpoint, {"service_ms": [5, 15]})
    assert holder.done, "the transaction that held its items failed"  # type: ignore[attr-defined]
    assert still_holding == 2, "the checks ran after the hold ended: HOLD_MS is too short here"
    assert seen["v"] == {"S": "holder"}

    for what, error in refused.items():
        assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400, what
        assert error.response["ResponseMetadata"]["RetryAttempts"] == 0, f"{what} was retried"
    for mode in ("standard", "legacy"):
        cancelled_error = refused[f"transaction, {mode}"].response
        assert cancelled_error["Error"]["Code"] == "TransactionCanceledException"
        assert cancelled_error["CancellationReasons"] == [
            {"Code": "None"},
            {"Code": "TransactionConflict", "Message": CONFLICT_MESSAGE},
        ]
        assert "[None, TransactionConflict]" in cancelled_error["Error"]["Message"]
    for what in ("put, standard", "put, legacy", "update_item", "delete_item"):
        assert refused[what].response["Error"] == {
            "Code": "TransactionConflictException",
            "Message": CONFLICT_MESSAGE,
        }, what
    assert reading.value.response["CancellationReasons"] == [
        {"Code": "None"},
        {"Code": "TransactionConflict", "Message": CONFLICT_MESSAGE},
    ]

    def value(pk: str) -> str | None:
        found = dynamodb.get_item(TableName=name, Key=key(pk), ConsistentRead=True)
        return found.get("Item", {}).get("v", {}).get("S")

    # The refused requests changed nothing; the holder and the writes beside it are there.
    assert [value(k) for k in ("x", "h", "y", "z")] == ["holder", "holder", "beside", "beside"]
    assert report["refused"] == {
        "TransactWriteItems": 2,
        "PutItem": 2,
        "UpdateItem": 1,
        "DeleteItem": 1,
        "TransactGetItems": 1,
    }
    dynamodb.put_item(TableName=name, Item={**key("x"), "v": {"S": "after"}})  # hold over
    assert value("x") == "after"


def test_a_condition_check_holds_its_item_and_a_failed_condition_is_still_reported(server, table):
    endpoint = server.endpoint
    dynamodb, name = table
    control(endpoint, {"service_ms": [HOLD_MS, HOLD_MS]})
    try:
        check = {
            "ConditionCheck": {
                "TableName": name,
                "Key": key("c"),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        holder = holding(endpoint, dynamodb, [check, put(name, "d", "holder")])
        with pytest.raises(dynamodb.exceptions.TransactionConflictException):
            dynamodb.put_item(TableName=name, Item={**key("c"), "v": {"S": "later"}})
        holder.join()
        # Without a hold in the way, moto's own answer comes through unchanged.
        dynamodb.put_item(TableName=name, Item={**key("c"), "v": {"S": "now"}})
        with pytest.raises(dynamodb.exceptions.TransactionCanceledException) as failed:
            dynamodb.transact_write_items(TransactItems=[check])
    finally:
        control(endpoint, {"service_ms": [5, 15]})
    assert failed.value.response["CancellationReasons"][0]["Code"] == "ConditionalCheckFailed"


def test_transactions_on_different_items_hold_at_once(server, table):
    endpoint = server.endpoint
    dynamodb, name = table
    workers = 8
    control(endpoint, {"service_ms": [1500, 1500]})
    start = threading.Barrier(workers)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        start.wait()
        try:
            dynamodb.transact_write_items(
                TransactItems=[put(name, f"w{n}", "a"), put(name, f"v{n}", "a")]
            )
        except BaseException as error:  # reported below
            errors.append(error)

    try:
        threads = [threading.Thread(target=write, args=(n,)) for n in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        report = control(endpoint)
        control(endpoint, {"service_ms": [5, 15]})
    assert errors == []
    assert report["transactions_accepted"] == workers and report["refused"] == {}
    # All eight were ongoing together: the holds do not serialise the emulator.
    assert report["most_ongoing_transactions"] == workers


def test_transactions_on_one_item_race_and_the_later_ones_are_refused(server, table):
    endpoint = server.endpoint
    dynamodb, name = table
    control(endpoint, {"service_ms": [300, 300]})
    outcomes = race_on_one_item(dynamodb, name, 8)
    report = control(endpoint)
    control(endpoint, {"service_ms": [5, 15]})
    assert "ok" in outcomes and "TransactionConflict" in outcomes, outcomes
    assert set(outcomes) <= {"ok", "TransactionConflict"}
    assert report["refused"]["TransactWriteItems"] == outcomes.count("TransactionConflict")
    assert report["refused_items"][0][1] == outcomes.count("TransactionConflict")


def race_on_one_item(dynamodb: Any, name: str, workers: int) -> list[str]:
    """`workers` transactions adding to one counter item at once: each one's outcome."""
    start = threading.Barrier(workers)
    outcomes: list[str] = []

    def add() -> None:
        start.wait()
        try:
            dynamodb.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": name, "Item": key(f"own-{uuid.uuid4().hex}")}},
                    {
                        "Update": {
                            "TableName": name,
                            "Key": key("counter"),
                            "UpdateExpression": "ADD n :one",
                            "ExpressionAttributeValues": {":one": {"N": "1"}},
                        }
                    },
                ]
            )
            outcomes.append("ok")
        except ClientError as error:
            reasons = error.response.get("CancellationReasons") or [{}, {}]
            assert reasons[0] == {"Code": "None"}, reasons
            outcomes.append(str(reasons[1].get("Code")))

    threads = [threading.Thread(target=add) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_the_mode_is_off_by_default(session):
    endpoint = session.client("dynamodb").meta.endpoint_url
    assert control(endpoint)["service_ms"] is None
    dynamodb = session.client("dynamodb")
    name = f"conflicts-off-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(**table_request(name))
    outcomes = race_on_one_item(dynamodb, name, 8)
    assert outcomes == ["ok"] * 8  # one at a time: nothing is ever held
    counter = dynamodb.get_item(TableName=name, Key=key("counter"), ConsistentRead=True)["Item"]
    assert counter["n"] == {"N": "8"}


def test_the_control_route_refuses_a_bad_setting(server):
    for body in ({"service_ms": [15, 5]}, {"service_ms": "x"}, {"service_ms": [1, 2, 3]},
                 {"service_ms": [5, 15], "seed": "one"}):  # fmt: skip
        with pytest.raises(urllib.error.HTTPError) as refused:
            control(server.endpoint, body)
        assert refused.value.code == 400
    assert control(server.endpoint)["service_ms"] == [5, 15]
    assert control(server.endpoint, {"service_ms": None})["service_ms"] is None
    assert control(server.endpoint, {"service_ms": 10, "seed": 3})["service_ms"] == [10, 10]


@pytest.mark.parametrize(
    ("value", "parsed"),
    [(None, None), ("", None), (0, None), ("5,15", (5.0, 15.0)), ("7", (7.0, 7.0)),
     ([5, 15], (5.0, 15.0)), (10, (10.0, 10.0))],
)  # fmt: skip
def test_service_times_are_read_from_the_environment_or_the_route(value, parsed):
    assert parse_service_ms(value) == parsed
