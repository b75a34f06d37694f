"""Client-side accounting with botocore: DynamoDB requests, items read, time waiting on the
emulator, and the `X-Bench-Tag` header that tells the bench's emulator which second it is."""

from __future__ import annotations

import json
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Sample:
    requests: int
    items: int
    waited: float  # seconds spent in AWS round trips
    operations: tuple[tuple[str, int], ...] = ()


class Probe:
    """Counts every DynamoDB request of this process (any client, any session)."""

    def __init__(self) -> None:
        self.operations: Counter[str] = Counter()
        self.items = 0
        self.waited = 0.0
        self.tag = ""

    def install(self) -> Probe:
        from botocore.client import BaseClient
        from botocore.endpoint import Endpoint

        original_call = BaseClient._make_api_call
        original_send = Endpoint._send
        probe = self

        def counting(client: Any, operation: str, params: Any) -> Any:
            start = time.perf_counter()
            try:
                response = original_call(client, operation, params)
            finally:
                probe.waited += time.perf_counter() - start
            if client.meta.service_model.service_name == "dynamodb":
                probe.operations[operation] += 1
                probe.items += items_read(operation, response)
            return response

        def tagged(endpoint: Any, request: Any) -> Any:
            request.headers["X-Bench-Tag"] = probe.tag
            return original_send(endpoint, request)

        BaseClient._make_api_call = counting  # type: ignore[method-assign]
        Endpoint._send = tagged  # type: ignore[method-assign]
        return self

    def sample(self) -> Sample:
        return Sample(
            sum(self.operations.values()),
            self.items,
            self.waited,
            tuple(sorted(self.operations.items())),
        )

    def since(self, before: Sample) -> Sample:
        now = self.sample()
        ops = Counter(dict(now.operations))
        ops.subtract(dict(before.operations))
        return Sample(
            now.requests - before.requests,
            now.items - before.items,
            now.waited - before.waited,
            tuple(sorted((k, v) for k, v in ops.items() if v)),
        )


def items_read(operation: str, response: dict[str, Any]) -> int:
    """Items a response read, as DynamoDB bills them: ScannedCount for a Query or Scan (moto
    reports it; ConsumedCapacity it does not model), one per item a GetItem or BatchGetItem
    returned, one per transaction item read."""
    if operation in ("Query", "Scan"):
        return int(response.get("ScannedCount", response.get("Count", 0)))
    if operation == "GetItem":
        return 1 if response.get("Item") else 0
    if operation == "BatchGetItem":
        return sum(len(v) for v in response.get("Responses", {}).values())
    if operation == "TransactGetItems":
        return len(response.get("Responses", []))
    return 0


def emulator_usage(endpoint: str) -> dict[str, Any]:
    """Per-key write and read units the bench's emulator charged since the last call."""
    with urllib.request.urlopen(f"{endpoint}/_bench/usage", timeout=60) as response:
        return dict(json.loads(response.read()))


def emulator_mode(endpoint: str, stock: bool) -> None:
    request = urllib.request.Request(
        f"{endpoint}/_bench/mode?stock={int(stock)}", method="POST", data=b""
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


def emulator_latency(endpoint: str, ms: float) -> None:
    """Make every request to the bench's emulator wait `ms` before its turn (0: off)."""
    request = urllib.request.Request(f"{endpoint}/_bench/latency?ms={ms}", method="POST", data=b"")
    with urllib.request.urlopen(request, timeout=10):
        pass
