"""Settled history for the "flat with history" measurement, written straight into the table.

The items are those the ledger's adapter writes for an image pushed at the source and
replicated to its three destinations, once the sweep has judged its tag moves: for each image,
its three replicas (`replicated`, with TTL and catalogue keys), its presence at the source and
at each destination, and its tag entries there (judged: out of the work index). They are built
by chalicelib/adapters/ledger/items.py with the adapter's own keys, and sent as BatchWriteItem
requests of 25 items (DynamoDB's limit), not through the handlers: the point is the size of
the table and of its indexes, not the cost of making them.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from bench import workload
from chalicelib.adapters.ledger import items
from chalicelib.adapters.ledger.table import Table
from chalicelib.core.judgement import TagEntry
from chalicelib.core.lifecycle import Location, Presence, Replica

REPOSITORIES = 500


def image_items(n: int, when: datetime) -> Iterator[dict[str, Any]]:
    """The items of settled image number `n`: 3 replicas, 4 presence items, 4 tag entries."""
    repository = f"org/history-{n % REPOSITORIES}"
    dgst = workload.digest(f"history {n}")
    tag = f"h{n}"
    source = Location(*workload.SOURCE)
    arrived = when + timedelta(seconds=40)
    yield items.presence_item(
        repository, dgst, source, Presence(first_seen=when, tags=frozenset({tag}))
    )
    yield items.tag_entry_item(
        TagEntry(source, repository, tag, when, f"push-{n}", dgst, "push"), judge=False
    )
    for d, where in enumerate(workload.DESTINATIONS):
        destination = Location(*where)
        yield items.replica_item(
            Replica(
                repository=repository,
                digest=dgst,
                source=source,
                destination=destination,
                tag=tag,
                pushed_at=when,
                due_at=when + workload.GRACE,
                state="replicated",
                replicated_at=arrived,
            )
        )
        yield items.presence_item(
            repository, dgst, destination, Presence(first_seen=arrived, tags=frozenset({tag}))
        )
        entry = TagEntry(
            destination, repository, tag, arrived, f"success-{n}-{d}", dgst, "replication", source
        )
        yield items.tag_entry_item(entry, judge=False)


def seed(session: Any, table_name: str, replicas: int, when: datetime) -> int:
    """Write the history of `replicas` settled replicas; returns the number of items."""
    from botocore.config import Config

    # Validation off and two requests in flight: the client's share of the work overlaps the
    # emulator's (which serialises requests).
    client = session.client(
        "dynamodb", config=Config(parameter_validation=False, max_pool_connections=4)
    )
    table = Table(client, table_name)
    images = -(-replicas // len(workload.DESTINATIONS))
    written = 0

    def chunks() -> Iterator[list[dict[str, Any]]]:
        nonlocal written
        batch: list[dict[str, Any]] = []
        for n in range(images):
            for item in image_items(n, when - timedelta(seconds=n % 86_400)):
                batch.append({"PutRequest": {"Item": table.item(item)}})
                if len(batch) == 25:
                    written += 25
                    yield batch
                    batch = []
        if batch:
            written += len(batch)
            yield batch

    def send(batch: list[dict[str, Any]]) -> None:
        request = {table_name: batch}
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}

    with ThreadPoolExecutor(2) as pool:
        in_flight: list[Any] = []
        for batch in chunks():
            in_flight.append(pool.submit(send, batch))
            if len(in_flight) >= 8:  # bounded: the batches are not all held at once
                in_flight.pop(0).result()
        for future in in_flight:
            future.result()
    return written
