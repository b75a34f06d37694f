"""Clients for many registries in one run: built lazily through the audit role, renewed with
its credentials, and (for `reconcile --all`) bounded to a number of API calls per second.

`RateLimit` spaces calls evenly, shared by every client of a run, so the bound holds over all
registries together; `RoleClient` stands in for a boto3 client and asks AuditRoles for the
current one at each call (a walk can outlive an hour of credentials).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


class RateLimit:
    """At most `rate` calls per second, evenly spaced (no bursts)."""

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self._clock = clock
        self._sleep = sleep
        self._next: float | None = None
        self.calls = 0
        self.waited = 0.0  # seconds spent waiting

    def wait(self) -> None:
        now = self._clock()
        if self._next is not None and now < self._next:
            self._sleep(self._next - now)
            self.waited += self._next - now
            now = self._next
        self._next = now + 1 / self.rate
        self.calls += 1


class RoleClient:
    """A boto3 client's stand-in: each API call gets the current client from `make` (through
    the audit role's cached credentials), after the rate limit lets it through."""

    def __init__(self, make: Callable[[], Any], limit: RateLimit | None = None) -> None:
        self._make = make
        self._limit = limit

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)

        def call(*args: Any, **kwargs: Any) -> Any:
            client = self._make()
            if self._limit is not None:
                self._limit.wait()
            return getattr(client, name)(*args, **kwargs)

        return call
