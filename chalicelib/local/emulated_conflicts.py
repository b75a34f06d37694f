"""DynamoDB's transaction conflict rule for the emulator (moto has none), answered in front of moto
by chalicelib/local/emulator.py's serve(); off unless enabled.

DynamoDB Developer Guide, "Transaction conflict handling": a conflict occurs when
- a PutItem, UpdateItem or DeleteItem request for an item meets an ongoing TransactWriteItems
  that includes the item: it fails with TransactionConflictException;
- an item of a TransactWriteItems is part of another ongoing TransactWriteItems, or an item of a
  TransactGetItems is part of an ongoing write: the request fails with
  TransactionCanceledException, whose CancellationReasons carry
  {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"} at the index
  of each such item and {"Code": "None"} elsewhere;
- the AWS SDKs retry neither (botocore: not in its retryable codes, whatever the retry mode).
A GetItem, Query or BatchGetItem beside a transaction succeeds (read-committed).

How it is modelled: the request that comes later is refused; the transaction already holding
its items goes on. With the mode on, an accepted TransactWriteItems holds every item it names
(Put, Update, Delete and ConditionCheck alike) from the moment moto starts it until its
service time, drawn uniformly from `service_ms`, has passed: moto applies it at once, one
request at a time under the emulator's lock as before, and the hold continues outside that
lock so that every other request proceeds meanwhile. The checks run under the same lock, just
before moto would run the request, so no request can slip past a hold.

Not modelled: a transaction refused because of an in-flight PutItem/UpdateItem/DeleteItem
(those take no time here), BatchWriteItem against a held item (its API documents no conflict
answer), ClientRequestToken idempotency, ExecuteStatement/ExecuteTransaction (PartiQL; moto's
fail anyway).

Control: `POST /_emulator/conflicts` with `{"service_ms": [5, 15]}` (or one number) turns the
mode on and resets its counters, `{"service_ms": null}` turns it off; `GET` returns the setting
and the counters (requests refused by operation, the items most refused on).
`EMULATOR_CONFLICTS_MS=5,15` in serve()'s environment turns it on from the start
(`start_moto(conflicts_ms=(5, 15))` sets it for the child).
"""

from __future__ import annotations

import io
import json
import random
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

TARGET = "DynamoDB_20120810."
PATH = "/_emulator/conflicts"
ENVIRONMENT = "EMULATOR_CONFLICTS_MS"
PREFIX = "com.amazonaws.dynamodb.v20120810#"
CONFLICT_MESSAGE = "Transaction is ongoing for the item"
CANCELLED_MESSAGE = "Transaction cancelled, please refer cancellation reasons for specific reasons"
PLAIN_WRITES = ("PutItem", "UpdateItem", "DeleteItem")
WATCHED = ("TransactWriteItems", "TransactGetItems", *PLAIN_WRITES)
CREDENTIAL_RE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([a-z0-9-]+)/")

# (account, region, table, key attributes as canonical JSON): one item of one table.
ItemKey = tuple[str, str, str, str]


class Refused(Exception):
    """A request DynamoDB would refuse: its HTTP status and JSON body."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__(body.get("message") or body.get("Message"))
        self.body = body


def parse_service_ms(value: Any) -> tuple[float, float] | None:
    """`[5, 15]`, `10`, `"5,15"` or `"10"` as (low, high) milliseconds; None/""/0: off.
    ValueError for anything else."""
    if value is None or value == "" or value == 0:
        return None
    if isinstance(value, str):
        value = [float(part) for part in value.split(",")]
        value = value * 2 if len(value) == 1 else value
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = [value, value]
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    ):
        raise ValueError("service_ms is [low, high] milliseconds, one number, or null")
    low, high = float(value[0]), float(value[1])
    if not 0 <= low <= high <= 10_000:
        raise ValueError("service_ms needs 0 <= low <= high <= 10000")
    return low, high


@dataclass
class Conflicts:
    """The items ongoing transactions hold, and what was refused because of them."""

    service_ms: tuple[float, float] | None = None
    seed: int | None = None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _holds: dict[ItemKey, str] = field(default_factory=dict)  # item -> its transaction
    _holding: dict[str, list[ItemKey]] = field(default_factory=dict)  # transaction -> items
    _guard: threading.Lock = field(default_factory=threading.Lock)
    _rng: random.Random = field(default_factory=random.Random)
    accepted: int = 0
    ongoing: int = 0
    most_ongoing: int = 0  # transactions holding at once, at most, since configured
    refused: Counter[str] = field(default_factory=Counter)
    refused_items: Counter[str] = field(default_factory=Counter)

    def configure(self, service_ms: tuple[float, float] | None, seed: int | None = None) -> None:
        with self._guard:
            self.service_ms, self.seed = service_ms, seed
            self._rng = random.Random(seed)
            self.accepted = self.most_ongoing = 0
            self.refused.clear()
            self.refused_items.clear()

    @property
    def enabled(self) -> bool:
        return self.service_ms is not None

    def report(self) -> dict[str, Any]:
        with self._guard:
            return {
                "service_ms": list(self.service_ms) if self.service_ms else None,
                "seed": self.seed,
                "held_items": len(self._holds),
                "ongoing_transactions": self.ongoing,
                "most_ongoing_transactions": self.most_ongoing,
                "transactions_accepted": self.accepted,
                "refused": dict(self.refused),
                "refused_items": self.refused_items.most_common(20),
            }

    # ------------------------------------------------------------------ the rule

    def held(self, items: list[ItemKey | None]) -> list[int]:
        """Indexes of `items` an ongoing transaction holds."""
        with self._guard:
            return [i for i, item in enumerate(items) if item is not None and item in self._holds]

    def hold(self, items: list[ItemKey | None]) -> tuple[str, float] | list[int]:
        """Hold `items` for a new transaction: (its id, when its hold ends), or the indexes
        already held by another (nothing held then)."""
        with self._guard:
            taken = [i for i, item in enumerate(items) if item is not None and item in self._holds]
            if taken:
                return taken
            holder = uuid.uuid4().hex
            self._holding[holder] = [item for item in items if item is not None]
            for item in self._holding[holder]:
                self._holds[item] = holder
            low, high = self.service_ms or (0.0, 0.0)
            self.accepted += 1
            self.ongoing += 1
            self.most_ongoing = max(self.most_ongoing, self.ongoing)
            return holder, self.clock() + self._rng.uniform(low, high) / 1000

    def release(self, holder: str, until: float) -> None:
        wait = until - self.clock()
        if wait > 0:
            self.sleep(wait)
        with self._guard:
            for item in self._holding.pop(holder):
                del self._holds[item]
            self.ongoing -= 1

    def count(self, operation: str, items: list[ItemKey | None], indexes: list[int]) -> None:
        with self._guard:
            self.refused[operation] += 1
            for i in indexes:
                item = items[i]
                if item is not None:
                    self.refused_items[_shown(item)] += 1


# ---------------------------------------------------------------------------- requests


def item_keys(operation: str, body: dict[str, Any], account: str, region: str) -> list:
    """The item each entry of the request names (None where it cannot be told: moto then
    answers the request with its own validation error)."""
    if operation == "TransactWriteItems":
        entries = [_only_value(e) for e in body.get("TransactItems") or []]
    elif operation == "TransactGetItems":
        entries = [(e or {}).get("Get") for e in body.get("TransactItems") or []]
    else:
        entries = [body]
    return [_item_key(entry, account, region) for entry in entries]


def _only_value(entry: Any) -> Any:
    if isinstance(entry, dict) and len(entry) == 1:
        return next(iter(entry.values()))
    return None


def _item_key(entry: Any, account: str, region: str) -> ItemKey | None:
    from moto.dynamodb.models import dynamodb_backends

    if not isinstance(entry, dict) or not isinstance(entry.get("TableName"), str):
        return None
    attributes = entry.get("Key") or entry.get("Item")
    if not isinstance(attributes, dict):
        return None
    try:
        table = dynamodb_backends[account][region].get_table(entry["TableName"])
    except Exception:  # no such table (moto says so), an unknown region
        return None
    names = [table.hash_key_attr, *([table.range_key_attr] if table.range_key_attr else [])]
    if not all(name in attributes for name in names):
        return None
    key = json.dumps([attributes[name] for name in names], sort_keys=True)
    return account, region, table.name, key


def _shown(item: ItemKey) -> str:
    """`table pk/sk` for the counters."""
    values = [str(next(iter(value.values()), "")) for value in json.loads(item[3])]
    return f"{item[2]} {'/'.join(values)}"


def _cancelled(indexes: list[int], size: int) -> Refused:
    reasons: list[dict[str, str]] = [
        {"Code": "TransactionConflict", "Message": CONFLICT_MESSAGE}
        if i in indexes
        else {"Code": "None"}
        for i in range(size)
    ]
    codes = ", ".join(r["Code"] for r in reasons)
    return Refused(
        {
            "__type": PREFIX + "TransactionCanceledException",
            "CancellationReasons": reasons,
            "Message": f"{CANCELLED_MESSAGE} [{codes}]",
        }
    )


def _conflict() -> Refused:
    return Refused({"__type": PREFIX + "TransactionConflictException", "message": CONFLICT_MESSAGE})


# ---------------------------------------------------------------------------- WSGI


def wrap(
    app: Callable[..., Iterable[bytes]], lock: threading.Lock, conflicts: Conflicts | None = None
) -> Callable[..., Iterable[bytes]]:
    """`app` (moto) called one request at a time under `lock`, with DynamoDB's conflict rule
    in front of it while enabled, and the control route."""
    state = conflicts or Conflicts()

    def application(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == PATH:
            return _control(state, environ, start_response)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        operation = target[len(TARGET) :] if target.startswith(TARGET) else ""
        if not state.enabled or operation not in WATCHED:
            with lock:
                # materialise the body inside the lock: moto computes it lazily in some services
                return list(app(environ, start_response))
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(raw)
        where = _caller(environ.get("HTTP_AUTHORIZATION", ""))
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = None
        if where is None or not isinstance(body, dict):
            with lock:
                return list(app(environ, start_response))
        holding: tuple[str, float] | None = None
        try:
            with lock:
                items = item_keys(operation, body, *where)
                if operation == "TransactWriteItems":
                    taken = state.hold(items)
                    if isinstance(taken, list):
                        state.count(operation, items, taken)
                        raise _cancelled(taken, len(items))
                    holding = taken
                else:
                    taken = state.held(items)
                    if taken:
                        state.count(operation, items, taken)
                        if operation == "TransactGetItems":
                            raise _cancelled(taken, len(items))
                        raise _conflict()
                answer = list(app(environ, start_response))
        except Refused as refused:
            return _error(start_response, refused.body)
        finally:
            if holding is not None:
                # the transaction stays ongoing for its service time, outside the lock
                state.release(*holding)
        return answer

    return application


def _caller(authorization: str) -> tuple[str, str] | None:
    """(account, region) of a signed request, as moto resolves them."""
    from moto.iam.models import get_account_id_from

    match = CREDENTIAL_RE.search(authorization)
    if match is None:
        return None
    access_key, region = match.groups()
    return get_account_id_from(access_key), region


def _error(start_response: Any, body: dict[str, Any]) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(
        "400 Bad Request",
        [
            ("Content-Type", "application/x-amz-json-1.0"),
            ("Content-Length", str(len(data))),
            ("x-amzn-RequestId", uuid.uuid4().hex.upper()),
        ],
    )
    return [data]


def _control(state: Conflicts, environ: dict[str, Any], start_response: Any) -> list[bytes]:
    status = "200 OK"
    if environ.get("REQUEST_METHOD") == "POST":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        try:
            body = json.loads(environ["wsgi.input"].read(length) if length else b"{}")
            if not isinstance(body, dict):
                raise ValueError("the body is a JSON object")
            seed = body.get("seed")
            if seed is not None and not isinstance(seed, int):
                raise ValueError("seed is an integer")
            state.configure(parse_service_ms(body.get("service_ms")), seed)
        except ValueError as error:
            status = "400 Bad Request"
            data = json.dumps({"message": str(error)}).encode()
            start_response(status, [("Content-Type", "application/json")])
            return [data]
    data = json.dumps(state.report()).encode()
    start_response(status, [("Content-Type", "application/json")])
    return [data]
