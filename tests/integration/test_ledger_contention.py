"""The DynamoDB ledger against DynamoDB's transaction conflict rule (the emulator's conflict
mode, over HTTP): a transaction meeting a held item is LedgerBusy and wrote nothing; the commit
loop waits, decides again on fresh reads and commits once the item is free; a plain write (the
outbox's lease) waits for the holder instead of failing; and all of it gives up, raising, when
the invocation's patience runs out."""

from __future__ import annotations

import threading
import time
import uuid
from types import SimpleNamespace
from typing import Any

import pytest

from chalicelib.adapters import ledger as dynamo
from chalicelib.adapters.ledger import keys
from chalicelib.adapters.ledger.table import Busy
from chalicelib.ports import Commit, LedgerBusy
from chalicelib.usecases import commits
from tests.conftest import emulator_conflicts

HOLD_MS = 1500


@pytest.fixture
def table(session: Any, moto_endpoint: str) -> Any:
    from chalicelib.local.provision import provision

    env = provision(session, suffix=uuid.uuid4().hex[:10])
    emulator_conflicts(moto_endpoint, {"service_ms": [HOLD_MS, HOLD_MS]})
    try:
        yield dynamo.checked_table(session.client("dynamodb"), env["AUDIT_TABLE"])
    finally:
        emulator_conflicts(moto_endpoint, {"service_ms": None})


def hold(table: Any, *keys_held: tuple[str, str]) -> threading.Thread:
    """A transaction of someone else's writing `keys_held`; returns once it holds them."""
    operations = [
        {"Update": {"Key": table.key(*key), "UpdateExpression": "SET held = :t",
                    "ExpressionAttributeValues": {":t": {"BOOL": True}}}}
        for key in keys_held
    ]  # fmt: skip
    holder = threading.Thread(target=table.transact, args=(operations,))
    holder.start()
    endpoint = table.client.meta.endpoint_url
    deadline = time.monotonic() + 10
    while emulator_conflicts(endpoint)["held_items"] < len(keys_held):
        assert time.monotonic() < deadline, "the holder never held its items"
        time.sleep(0.01)
    return holder


def test_a_transaction_meeting_a_held_item_is_busy_and_writes_nothing(table):
    holder = hold(table, ("X", "1"))
    with pytest.raises(Busy):
        table.transact(
            [
                {"Put": {"Item": table.item({"pk": "Y", "sk": "1"})}},
                {"Put": {"Item": table.item({"pk": "X", "sk": "1", "mine": True})}},
            ]
        )
    holder.join()
    assert table.get("Y", "1") is None
    assert table.get("X", "1") == {"pk": "X", "sk": "1", "held": True}


def test_a_plain_write_waits_for_the_holder(table):
    holder = hold(table, ("N", "1"))
    started = time.monotonic()
    assert table.update("N", "1", UpdateExpression="SET mine = :m",
                        ExpressionAttributeValues=table.values({":m": 1}))  # fmt: skip
    waited = time.monotonic() - started
    holder.join()
    assert table.get("N", "1") == {"pk": "N", "sk": "1", "held": True, "mine": 1}
    assert waited > 0.1  # it was refused at first: it waited, then wrote
    refused = emulator_conflicts(table.client.meta.endpoint_url)["refused"]
    assert refused.get("UpdateItem", 0) >= 1


IMAGE = ("team/api", "sha256:" + "a" * 64)


def test_the_commit_loop_waits_decides_again_and_commits(table):
    images = dynamo.DynamoImages(table)
    deps = SimpleNamespace(writer=dynamo.DynamoWriter(table, frozenset({"sns"})), workloads=None)
    # someone else's transaction holds the catalogue item this commit writes
    holder = hold(table, (keys.repos_pk(IMAGE[0]), IMAGE[0]))
    decided: list[frozenset[str]] = []

    def decide() -> Commit | None:
        applied = images.load(*IMAGE).applied  # fresh reads each time
        decided.append(applied)
        if "e1" in applied:
            return None
        return Commit(event_id="e1", event_image=IMAGE, register=IMAGE[0])

    done = commits.commit(decide, deps)  # type: ignore[arg-type]
    holder.join()
    assert done is not None and len(decided) >= 2  # refused (busy), decided again, committed
    assert images.load(*IMAGE).applied == {"e1"}
    assert images.repositories() == [IMAGE[0]]


def test_when_patience_runs_out_the_error_propagates(table):
    deps = SimpleNamespace(writer=dynamo.DynamoWriter(table, frozenset({"sns"})), workloads=None)
    holder = hold(table, (keys.repos_pk(IMAGE[0]), IMAGE[0]))
    attempts: list[int] = []

    def decide() -> Commit:
        attempts.append(1)
        return Commit(event_id="e2", event_image=IMAGE, register=IMAGE[0])

    # An invocation with 0.2 s to spare: far less than the holder's 1.5 s.
    with commits.patience(commits.Patience(time.monotonic() + 0.2)), pytest.raises(LedgerBusy):
        commits.commit(decide, deps)  # type: ignore[arg-type]
    holder.join()
    assert attempts  # it tried, waited what it could, then let Lambda retry the event
    assert dynamo.DynamoImages(table).load(*IMAGE).applied == frozenset()
