"""Table mechanics shared by the ledger's adapters: (de)serialising, queries, pages, cursors,
transactions whose cancellation reasons say which condition failed, and DynamoDB's "not now"
answers (a transaction conflict, throttling) told apart from everything else."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from chalicelib.adapters.cursors import CursorCodec, table_key
from chalicelib.core import contention
from chalicelib.ports import Page

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
else:
    DynamoDBClient = Any

MAX_TRANSACTION = 100  # DynamoDB's limit of items in one TransactWriteItems
# A write refused for one of these was not applied: it can be tried again as it is.
BUSY_CODES = frozenset(
    {
        "TransactionConflictException",  # a PutItem/UpdateItem/DeleteItem on a held item
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TransactionInProgressException",
    }
)
# CancellationReasons codes of a transaction refused for the same reasons.
BUSY_REASONS = frozenset(
    {
        "TransactionConflict",
        "ThrottlingError",
        "ProvisionedThroughputExceeded",
        "RequestLimitExceeded",
    }
)
WRITE_PATIENCE = 5.0  # seconds a single write refused as busy keeps trying (jittered waits)


class Cancelled(Exception):
    """A transaction was cancelled by failed conditions; `failed` holds their item indexes."""

    def __init__(self, failed: Sequence[int]) -> None:
        super().__init__(f"conditions failed on items {list(failed)}")
        self.failed = list(failed)


class Busy(Exception):
    """DynamoDB refused a write, writing nothing, because another request was writing one of
    its items (a transaction conflict) or because it throttled: worth trying again shortly."""


def _code(error: BaseException) -> str | None:
    response = getattr(error, "response", None) or {}
    code = response.get("Error", {}).get("Code")
    return str(code) if code else None


READ_ATTEMPTS = 3


def _read_retried[T](read: Callable[[], T]) -> T:
    from botocore.exceptions import ConnectionClosedError, EndpointConnectionError, ReadTimeoutError

    transient = (ConnectionClosedError, EndpointConnectionError, ReadTimeoutError)
    for attempt in range(READ_ATTEMPTS):
        try:
            return read()
        except Exception as error:
            if attempt == READ_ATTEMPTS - 1 or not (
                isinstance(error, transient) or _code(error) in BUSY_CODES
            ):
                raise
            time.sleep(contention.delay(attempt, random.random()))
    raise AssertionError("unreachable")


def busy_retried[T](write: Callable[[], T], patience: float = WRITE_PATIENCE) -> T:
    """`write()`, tried again after a jittered wait while DynamoDB answers Busy, for up to
    `patience` seconds: for writes that are safe to repeat as they are (a refused write wrote
    nothing)."""
    until = time.monotonic() + patience
    attempt = 0
    while True:
        try:
            return write()
        except Busy:
            pause = contention.delay(attempt, random.random())
            if time.monotonic() + pause > until:
                raise
            time.sleep(pause)
            attempt += 1


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _native(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal; the ledger's values are ints (or floats)."""
    if isinstance(value, Decimal):
        return _number(value)
    if isinstance(value, dict):
        return {k: _native(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_native(v) for v in value]
    if isinstance(value, set) and value and isinstance(next(iter(value)), Decimal):
        return {_number(v) for v in value}
    return value


class Guard(Protocol):
    """Run before a table's first request (layout.py's LayoutCheck: is the ledger in this
    release's layout?)."""

    def ensure(self) -> None: ...


class Table:
    """One DynamoDB table: the only code here that talks to the client directly."""

    def __init__(
        self,
        client: DynamoDBClient,
        name: str,
        cursors: CursorCodec | None = None,
        guard: Guard | None = None,
    ) -> None:
        """`guard`: ensured before the first request (layout.checked_table makes the table check
        that it is in the layout this release reads and writes)."""
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        self.client = client
        self.name = name
        self.layout = guard
        # Cursors are signed: a forged or another listing's cursor is refused (a 400).
        self._cursors = cursors or CursorCodec(table_key(name))
        self._ser = TypeSerializer()
        self._de = TypeDeserializer()

    # ------------------------------------------------------------------ encoding

    def item(self, values: Mapping[str, Any]) -> dict[str, Any]:
        return {k: self._ser.serialize(_clean(v)) for k, v in values.items() if v is not None}

    def plain(self, item: Mapping[str, Any]) -> dict[str, Any]:
        return {k: _native(self._de.deserialize(v)) for k, v in item.items()}

    def values(self, values: Mapping[str, Any]) -> dict[str, Any]:
        return {k: self._ser.serialize(_clean(v)) for k, v in values.items()}

    def key(self, pk: str, sk: str) -> dict[str, Any]:
        return {"pk": {"S": pk}, "sk": {"S": sk}}

    def _ready(self) -> None:
        if self.layout is not None:
            self.layout.ensure()  # a request once: a deployed release meets one layout

    # ------------------------------------------------------------------ reads

    def get(self, pk: str, sk: str) -> dict[str, Any] | None:
        self._ready()
        response = self.client.get_item(
            TableName=self.name, Key=self.key(pk, sk), ConsistentRead=True
        )
        item = response.get("Item")
        return self.plain(item) if item else None

    def get_many(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """BatchGetItem (consistent), retrying unprocessed keys; found items by key."""
        self._ready()
        found: dict[tuple[str, str], dict[str, Any]] = {}
        pending = [self.key(pk, sk) for pk, sk in dict.fromkeys(keys)]
        while pending:
            batch, pending = pending[:100], pending[100:]
            request: dict[str, Any] = {self.name: {"Keys": batch, "ConsistentRead": True}}
            while request:
                response = self.client.batch_get_item(RequestItems=request)
                for raw in response.get("Responses", {}).get(self.name, []):
                    item = self.plain(raw)
                    found[(item["pk"], item["sk"])] = item
                request = response.get("UnprocessedKeys") or {}
        return found

    def query(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        self._ready()
        kwargs["TableName"] = self.name
        while True:
            response = self.client.query(**kwargs)
            for item in response.get("Items", []):
                yield self.plain(item)
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last

    def query_page(self, **kwargs: Any) -> tuple[list[dict[str, Any]], bool]:
        """The first page of a Query, and whether more items follow it. Tried again on a
        throttle or a lost connection: the sweep reads every work shard each round, and one
        shard's passing trouble would otherwise cost the whole round."""
        self._ready()
        response = _read_retried(lambda: self.client.query(TableName=self.name, **kwargs))
        items = [self.plain(item) for item in response.get("Items", [])]
        return items, bool(response.get("LastEvaluatedKey"))

    def first(self, **kwargs: Any) -> dict[str, Any] | None:
        self._ready()
        response = self.client.query(TableName=self.name, Limit=1, **kwargs)
        items = response.get("Items", [])
        return self.plain(items[0]) if items else None

    def page(self, limit: int, cursor: str | None, **kwargs: Any) -> Page:
        """One page of a Query; the cursor names its listing so it cannot be used on another."""
        self._ready()
        listing = f"{kwargs.get('IndexName', 'table')}:{kwargs['ExpressionAttributeValues']}"
        kwargs.update(TableName=self.name, Limit=limit)
        if cursor:
            kwargs["ExclusiveStartKey"] = self._cursors.decode(cursor, listing, *_start_key(kwargs))
        response = self.client.query(**kwargs)
        items = [self.plain(i) for i in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        return Page(items, self._cursors.encode(last, listing) if last else None)

    # ------------------------------------------------------------------ writes

    def transact(self, operations: Sequence[dict[str, Any]]) -> None:
        """One TransactWriteItems; Cancelled (with the failed items) when only conditions
        failed; Busy when another request held one of its items or DynamoDB throttled it.

        Every other error propagates, so that Lambda and EventBridge retry.
        """
        if not operations:
            return
        self._ready()
        if len(operations) > MAX_TRANSACTION:
            raise ValueError(f"{len(operations)} writes exceed one transaction")
        for operation in operations:
            next(iter(operation.values()))["TableName"] = self.name
        try:
            self.client.transact_write_items(TransactItems=list(operations))
        except Exception as error:
            code = _code(error)
            if code in BUSY_CODES:
                raise Busy(f"TransactWriteItems: {code}") from None
            if code != "TransactionCanceledException":
                raise
            reasons = getattr(error, "response", {}).get("CancellationReasons") or []
            codes = [r.get("Code") for r in reasons]
            if set(codes) & BUSY_REASONS:
                # conditions are decided again on fresh reads anyway: the busy item matters
                raise Busy(f"TransactWriteItems cancelled: {codes}") from None
            if not codes or not set(codes) <= {"ConditionalCheckFailed", "None", None}:
                raise
            failed = [i for i, c in enumerate(codes) if c == "ConditionalCheckFailed"]
            raise Cancelled(failed) from None

    def update(self, pk: str, sk: str, **kwargs: Any) -> bool:
        """A (conditional) UpdateItem; False when its condition did not hold. Refused because
        a transaction held the item (or throttled), it is tried again: it wrote nothing."""

        self._ready()

        def once() -> bool:
            try:
                self.client.update_item(TableName=self.name, Key=self.key(pk, sk), **kwargs)
            except Exception as error:
                code = _code(error)
                if code == "ConditionalCheckFailedException":
                    return False
                if code in BUSY_CODES:
                    raise Busy(f"UpdateItem: {code}") from None
                raise
            return True

        return busy_retried(once)


def _clean(value: Any) -> Any:
    """Floats are not DynamoDB numbers; the ledger's only floats would be in alert maps."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


# ---------------------------------------------------------------------- cursors

INDEX_KEYS = {"table": ("pk", "sk"), "work": ("gsi1pk", "gsi1sk"), "catalog": ("gsi2pk", "gsi2sk")}


def _start_key(query: Mapping[str, Any]) -> tuple[frozenset[str], tuple[str, str]]:
    """The attributes an ExclusiveStartKey of this Query must have, and its partition value
    (every paginated Query names its partition `:p`)."""
    partition, sort = INDEX_KEYS[query.get("IndexName", "table")]
    if not query["KeyConditionExpression"].startswith(f"{partition} = :p"):
        raise ValueError(f"a paginated query must select {partition} = :p")
    value = query["ExpressionAttributeValues"][":p"]["S"]
    return frozenset({"pk", "sk", partition, sort}), (partition, value)
