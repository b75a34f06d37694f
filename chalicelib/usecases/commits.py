"""What every write-side use case shares: the commit loop (decide on fresh reads, write one
Commit, decide again when a concurrent writer got there first) and the notifications it opened.

Each use case reads what it needs, asks the pure core what follows, and writes the outcome as
one Commit: everything or nothing, so that a retry never finds a half-written event.

Two answers mean "not now" rather than "no": a condition that failed because another writer
changed what was read (LedgerConflict: decide again, at once and then after short jittered
pauses), and DynamoDB refusing the transaction, writing nothing, because another request was
writing one of its items or because it throttled (LedgerBusy: wait a jittered while, then
decide again). Waiting lasts as long as
the invocation can afford (`patience`); only then does the error propagate, so that Lambda
retries the event and its dead-letter queue keeps it if that fails too.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from chalicelib import observability
from chalicelib.core import contention
from chalicelib.core.decisions import NewIncident
from chalicelib.observability import count
from chalicelib.ports import Commit, Deps, LedgerBusy, LedgerConflict
from chalicelib.usecases import delivery
from chalicelib.usecases.workloads import name_workloads

COMMIT_ATTEMPTS = 5  # decisions in a row overtaken by another writer, at most
PATIENCE_SECONDS = 20.0  # waiting for busy items outside an invocation (command line, tests)


@dataclass(frozen=True)
class Patience:
    """Until when (on `clock`) a commit may wait for busy items, and how it waits."""

    until: float
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    draw: Callable[[], float] = random.random

    def wait(self, attempt: int) -> bool:
        """Wait before retry `attempt`; False, without waiting, when that would go past
        `until`."""
        pause = contention.delay(attempt, self.draw())
        if self.clock() + pause > self.until:
            return False
        self.sleep(pause)
        return True


_patience: ContextVar[Patience | None] = ContextVar("patience", default=None)


@contextmanager
def patience(value: Patience) -> Iterator[None]:
    """Commits in this context (and in the contexts copied from it) wait until `value.until`."""
    token = _patience.set(value)
    try:
        yield
    finally:
        _patience.reset(token)


def invocation_patience(remaining_ms: Callable[[], float] | None, reserve_ms: float) -> Patience:
    """An invocation's patience: its remaining time less `reserve_ms` (to fail cleanly), or
    PATIENCE_SECONDS without a Lambda context or with a local one (a few seconds in all)."""
    left = remaining_ms() if remaining_ms is not None else None
    if left is None or left <= 2 * reserve_ms:
        return Patience(time.monotonic() + PATIENCE_SECONDS)
    return Patience(time.monotonic() + (left - reserve_ms) / 1000)


@dataclass
class Outcome:
    """The notifications a use case opened that can be delivered right away."""

    notes: list[delivery.Note] = field(default_factory=list)

    def opened(self, incidents: Sequence[NewIncident]) -> None:
        self.notes.extend(delivery.notes_for(incidents))


def commit(decide: Callable[[], Commit | None], deps: Deps) -> Commit | None:
    """Decide and commit; on a conflict (a racing writer) decide again on fresh reads, at once,
    or after a jittered wait when an item was busy, for as long as patience allows. Every
    alert it opens is named with the workloads it concerns (usecases/workloads.py)."""
    waiting = _patience.get() or invocation_patience(None, 0)
    named: dict[str, Any] = {}
    conflicts = busy = 0
    while True:
        decided = decide()
        if decided is None:
            return None
        decided = name_workloads(decided, deps, named)
        try:
            deps.writer.commit(decided)
        except LedgerBusy:
            count("LedgerBusy")
            if not waiting.wait(busy):
                raise
            busy += 1
            continue
        except LedgerConflict:
            count("LedgerConflicts")
            conflicts += 1
            if conflicts >= COMMIT_ATTEMPTS:
                raise LedgerConflict(
                    f"gave up after {COMMIT_ATTEMPTS} conflicting attempts"
                ) from None
            # Overtaken again: several writers decide the same thing at once (a sweep
            # delivered twice); a jittered pause lets one of them go first.
            if conflicts > 1:
                waiting.wait(conflicts - 2)
            continue
        _lags(decided)
        return decided


def _lags(done: Commit) -> None:
    """ReplicationLag per destination for each replica this commit recorded as arrived."""
    for change in done.images:
        was = {(r.source, r.destination): r.state for r in change.before.replicas}
        for replica in change.after.replicas:
            lag = replica.lag_seconds
            key = (replica.source, replica.destination)
            if replica.state == "replicated" and lag is not None and was.get(key) != "replicated":
                where = replica.destination
                observability.replication_lag(f"{where.account}/{where.region}", lag)


def opened_incidents(done: Commit | None) -> list[NewIncident]:
    if done is None:
        return []
    return [*done.opened, *(i for change in done.images for i in change.opened)]
