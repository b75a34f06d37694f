"""The bench's moto server: DynamoDB's costs instead of moto's, and per-key usage accounting.

moto is a functional emulator; three of its costs grow with the whole table where DynamoDB's do
not, which would make every "flat with history" and throughput figure measure moto:
  * a Query walks every item of the table (DynamoDB reads one partition, in key order);
  * a Query of an index walks every item too (DynamoDB reads one index partition);
  * TransactWriteItems deep-copies every table it touches to be able to roll back.
In the default "dynamodb" mode this server reads a Query's candidates from the partition (the
table's own hash map, or a map of index partitions kept on every write) and rolls transactions
back from an undo log of the items they touched. moto still evaluates every condition, key
expression, sort order, limit and page exactly as before: only the set of candidates it walks
is narrowed to the items it would have kept anyway. `POST /_bench/mode?stock=1` switches back
to moto as shipped, so that the bench can show both.

Accounting: every write is charged, per partition key of the table and of each index, the
write units DynamoDB would bill (1 per KB of the larger of the old and new item, twice inside
a transaction; an index write per KB of the projected item, for the old and the new index key
when it moves), and every read its read units (4 KB per unit, half for eventual consistency).
Requests carry an `X-Bench-Tag` header (the simulated second); `GET /_bench/usage` returns and
resets the totals per (tag, table or index, key). `POST /_bench/latency?ms=N` makes every
request wait N ms before its turn (0: off), so that concurrency's effect shows.
`POST /_emulator/conflicts {"service_ms": [5, 15]}` turns on DynamoDB's transaction conflict
rule (chalicelib/local/emulated_conflicts.py), as on the project's emulator.

    python bench/emulator.py PORT      (started by bench/run.py; binds 127.0.0.1 only)
"""

from __future__ import annotations

import copy
import json
import math
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

STATE: dict[str, Any] = {
    "stock": False,
    "tag": "",
    "reading": False,
    "undo": None,
    "latency": 0.0,  # seconds each request waits before its turn (POST /_bench/latency?ms=N)
}
# (tag, target, key) -> [requests, units]; target is "table" or an index name.
WRITES: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [0, 0.0])
READS: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [0, 0.0])


def _charge(book: dict, target: str, key: Any, units: float) -> None:
    entry = book[(STATE["tag"], target, str(key))]
    entry[0] += 1
    entry[1] += units


def _gsi_hash_attrs(table: Any) -> list[tuple[str, str]]:
    """(index name, hash attribute) of each global secondary index."""
    found = []
    for index in table.global_indexes:
        for key in index.schema:
            if key["KeyType"] == "HASH":
                found.append((index.name, key["AttributeName"]))
    return found


def _value(item: Any, attribute: str) -> Any:
    if item is None:
        return None
    value = item.attrs.get(attribute)
    return value.value if value is not None else None


def _index_map(table: Any) -> dict[tuple[str, Any], set]:
    if not hasattr(table, "_bench_index"):
        table._bench_index = defaultdict(set)
        for item in table.all_items():
            _remember(table, item)
    return table._bench_index  # type: ignore[no-any-return]


def _remember(table: Any, item: Any) -> None:
    for _, attribute in _gsi_hash_attrs(table):
        value = _value(item, attribute)
        if value is not None:
            table._bench_index[(attribute, value)].add((item.hash_key, item.range_key))


def _snapshot(table: Any, item: Any) -> tuple[int, dict[str, Any]] | None:
    """What accounting needs of an item before a write (updates change it in place)."""
    if item is None:
        return None
    return item.size(), {a: _value(item, a) for _, a in _gsi_hash_attrs(table)}


def _account_write(table: Any, key: Any, old: tuple[int, dict] | None, new: Any) -> None:
    """Charge one item write to the table key and to each index key it leaves or enters."""
    transactional = STATE["undo"] is not None
    old_size = old[0] if old else 0
    new_size = new.size() if new is not None else 0
    units = max(1, math.ceil(max(old_size, new_size) / 1024)) * (2 if transactional else 1)
    _charge(WRITES, "table", key, units)
    for index, attribute in _gsi_hash_attrs(table):
        before = old[1].get(attribute) if old else None
        after = _value(new, attribute)
        if before is not None:
            _charge(WRITES, index, before, max(1, math.ceil(old_size / 1024)))
        if after is not None and after != before:
            _charge(WRITES, index, after, max(1, math.ceil(new_size / 1024)))


def install() -> None:
    """Patch moto's DynamoDB backend in this process (the server's)."""
    import moto.dynamodb.models as models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoHandler

    class _Copy:
        """moto's `copy` module, except that a Table is not deep-copied for a transaction in
        "dynamodb" mode: the undo log below restores exactly the items a transaction touched."""

        def __getattr__(self, name: str) -> Any:
            return getattr(copy, name)

        def deepcopy(self, value: Any, memo: Any = None) -> Any:
            if isinstance(value, Table) and not STATE["stock"]:
                return value
            return copy.deepcopy(value, memo)

    models.copy = _Copy()  # type: ignore[assignment]

    # moto re-sums the whole item's size for every attribute it sets (quadratic in the number
    # of attributes); check the same 400 KB limit once per item instead.
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict

    original_init = Item.__init__

    def item_init(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        if STATE["stock"]:
            original_init(self, hash_key, range_key, attrs)
            return
        self.hash_key, self.range_key = hash_key, range_key
        self.attrs = LimitedSizeDict()
        dict.update(self.attrs, {k: DynamoType(v) for k, v in attrs.items()})
        if self.size() > 405000:  # moto's limit (DynamoDB's 400 KB, measured)
            raise ItemSizeTooLarge

    Item.__init__ = item_init  # type: ignore[method-assign]

    def _writing(original: Any) -> Any:
        # moto's backend calls these as (table_name, item attributes or key, ...) everywhere
        def wrapper(self: Any, table_name: str, key: Any, *args: Any, **kwargs: Any) -> Any:
            table = self.get_table(table_name)
            _index_map(table)
            hash_key, range_key = self.get_keys_value(table, key)
            old = table.get_item(hash_key, range_key)
            before = _snapshot(table, old)
            undo = STATE["undo"]
            if undo is not None:
                undo.append((table, hash_key, range_key, copy.deepcopy(old)))
            result = original(self, table_name, key, *args, **kwargs)
            new = table.get_item(hash_key, range_key)
            if new is not None:
                _remember(table, new)
            _account_write(table, hash_key.value, before, new)
            return result

        return wrapper

    DynamoDBBackend.put_item = _writing(DynamoDBBackend.put_item)  # type: ignore
    DynamoDBBackend.update_item = _writing(DynamoDBBackend.update_item)  # type: ignore
    DynamoDBBackend.delete_item = _writing(DynamoDBBackend.delete_item)  # type: ignore

    original_transact = DynamoDBBackend.transact_write_items

    def transact(self: Any, transact_items: list[dict[str, Any]]) -> None:
        undo: list[tuple[Any, Any, Any, Any]] = []
        STATE["undo"] = undo
        try:
            original_transact(self, transact_items)
        except Exception:
            if not STATE["stock"]:
                for table, hash_key, range_key, old in reversed(undo):
                    partition = table.items[hash_key]
                    if old is None:
                        partition.pop(range_key, None)
                    else:
                        partition[range_key] = old
            raise
        finally:
            STATE["undo"] = None

    DynamoDBBackend.transact_write_items = transact  # type: ignore[method-assign]

    original_get = DynamoDBBackend.get_item

    def get_item(self: Any, table_name: str, keys: dict[str, Any], *args: Any, **kw: Any) -> Any:
        item = original_get(self, table_name, keys, *args, **kw)
        if STATE["reading"]:  # a GetItem or a BatchGetItem key (not moto's own lookups)
            units = max(1, math.ceil((item.size() if item else 0) / 4096))
            hash_key = keys[self.get_table(table_name).hash_key_attr]
            _charge(READS, "table", next(iter(hash_key.values())), units)
        return item

    DynamoDBBackend.get_item = get_item  # type: ignore[method-assign]

    for name in ("get_item", "batch_get_item"):
        original_handler = getattr(DynamoHandler, name)

        def reading(self: Any, _original: Any = original_handler) -> Any:
            STATE["reading"] = True
            try:
                return _original(self)
            finally:
                STATE["reading"] = False

        setattr(DynamoHandler, name, reading)

    original_query = Table.query

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name") or (args[6] if len(args) > 6 else None)
        consistent = kwargs.get("consistent_read") or (args[7] if len(args) > 7 else False)
        conditions = kwargs.get("hash_key_conditions") or []
        if index_name:
            attribute, value = conditions[0] if conditions else (None, hash_key)
            if attribute is None:
                index = self.get_index(index_name)
                attribute = next(k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH")
            key = value.value
        else:
            key = hash_key.value
        if not STATE["stock"]:
            if index_name:
                members = _index_map(self)[(attribute, key)]
                candidates = []
                for hash_value, range_value in list(members):
                    item = self.items.get(hash_value, {}).get(range_value)
                    if item is None or _value(item, attribute) != key:
                        members.discard((hash_value, range_value))  # left the partition
                    else:
                        candidates.append(item)
            else:
                candidates = list(self.items.get(hash_key, {}).values())
            self.all_items = lambda: candidates  # moto's own walk, over the partition only
        try:
            results, scanned, last = original_query(self, hash_key, *args, **kwargs)
        finally:
            self.__dict__.pop("all_items", None)
        size = sum(item.size() for item in results)
        units = max(1, math.ceil(size / 4096)) * (1 if consistent else 0.5)
        _charge(READS, index_name or "table", key, units)
        return results, scanned, last

    Table.query = query  # type: ignore[method-assign]


def _usage() -> dict[str, Any]:
    def rows(book: dict) -> list[list[Any]]:
        return [[tag, target, key, n, units] for (tag, target, key), (n, units) in book.items()]

    found = {"writes": rows(WRITES), "reads": rows(READS)}
    WRITES.clear()
    READS.clear()
    return found


def serve(port: int) -> None:
    """moto on 127.0.0.1, one request at a time (as chalicelib/local/emulator.py), plus the
    bench's control routes."""
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import run_simple

    from chalicelib.local import emulated_conflicts

    install()
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def reply(start_response: Any, body: Any) -> Iterable[bytes]:
        data = json.dumps(body).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [data]

    def tagged(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        STATE["tag"] = environ.get("HTTP_X_BENCH_TAG", "")  # called under the lock
        return app(environ, start_response)

    # One request at a time under `lock`; DynamoDB's transaction conflicts when enabled
    # (POST /_emulator/conflicts, as on chalicelib/local/emulator.py's server).
    guarded = emulated_conflicts.wrap(tagged, lock)

    def serialised(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/_bench/latency":
            query = environ.get("QUERY_STRING", "")
            STATE["latency"] = float(query.partition("ms=")[2] or 0) / 1000
            return reply(start_response, {"latency_ms": STATE["latency"] * 1000})
        if STATE["latency"]:
            # DynamoDB's round trip, outside the lock: concurrent requests wait side by side,
            # as they do on the network, while moto still does one at a time.
            time.sleep(STATE["latency"])
        if path in ("/_bench/usage", "/_bench/mode"):
            with lock:
                if path == "/_bench/usage":
                    return reply(start_response, _usage())
                STATE["stock"] = "stock=1" in environ.get("QUERY_STRING", "")
                return reply(start_response, {"stock": STATE["stock"]})
        return guarded(environ, start_response)

    run_simple("127.0.0.1", port, serialised, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    serve(int(sys.argv[1]))
