"""DynamoDB requests per event, per sweep and per status read, through the real handlers: a new
event costs 2 (one Query of its image, one TransactWriteItems), a duplicate 1, an idle sweep
one Query per work shard, GET /status 3 (the counter shards in two BatchGetItem, the open
incidents in one Query). A container's first request also reads the layout marker, once."""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.ledger import keys
from tests import events as ev


def dynamodb_since(api_calls: Any, start: int) -> list[str]:
    return [op for service, op in api_calls.calls[start:] if service == "dynamodb"]


def test_request_budgets(replay, client, api_calls):
    import app as app_module

    start = len(api_calls.calls)
    replay(ev.push(ev.DEV, "team/api", "v0", ev.digest("warm"), ev.at(0)))  # the container's first
    assert dynamodb_since(api_calls, start) == ["GetItem", "Query", "TransactWriteItems"]

    push = ev.push(ev.DEV, "team/api", "v1", ev.digest(1), ev.at(1))
    arrival = ev.replication(ev.PROD, ev.DEV, "team/api", "v1", ev.digest(1), ev.at(2))
    spent = {}
    for name, event in (
        ("new push", push),
        ("push in a new repository", ev.push(ev.DEV, "team/web", "v1", ev.digest(2), ev.at(1))),
        ("duplicate push", push),
        ("replication SUCCESS", arrival),
        ("duplicate SUCCESS", arrival),
    ):
        start = len(api_calls.calls)
        replay(event)
        spent[name] = dynamodb_since(api_calls, start)
    assert spent == {
        "new push": ["Query", "TransactWriteItems"],
        "push in a new repository": ["Query", "TransactWriteItems"],
        "duplicate push": ["Query"],
        "replication SUCCESS": ["Query", "TransactWriteItems"],
        "duplicate SUCCESS": ["Query"],
    }

    app_module.sweep(ev.schedule(ev.at(3)), None)  # judges the tag moves above
    start = len(api_calls.calls)
    app_module.sweep(ev.schedule(ev.at(4)), None)  # nothing is due until ev.at(30)
    assert dynamodb_since(api_calls, start) == ["Query"] * keys.WORK_SHARDS

    start = len(api_calls.calls)
    assert client.http.get("/status").status_code == 200
    assert sorted(dynamodb_since(api_calls, start)) == ["BatchGetItem", "BatchGetItem", "Query"]
