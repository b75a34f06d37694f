"""What every write-side use case shares: the commit loop (decide on fresh reads, write one
Commit, decide again when a concurrent writer got there first) and the notifications it opened.

Each use case reads what it needs, asks the pure core what follows, and writes the outcome as
one Commit: everything or nothing, so that a retry never finds a half-written event.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from chalicelib import observability
from chalicelib.core.decisions import NewIncident
from chalicelib.observability import count
from chalicelib.ports import Commit, Deps, LedgerConflict
from chalicelib.usecases import delivery
from chalicelib.usecases.workloads import name_workloads

COMMIT_ATTEMPTS = 5


@dataclass
class Outcome:
    """The notifications a use case opened that can be delivered right away."""

    notes: list[delivery.Note] = field(default_factory=list)

    def opened(self, incidents: Sequence[NewIncident]) -> None:
        self.notes.extend(delivery.notes_for(incidents))


def commit(decide: Callable[[], Commit | None], deps: Deps) -> Commit | None:
    """Decide and commit; on a conflict (a racing writer) decide again on fresh reads. Every
    alert it opens is named with the workloads it concerns (usecases/workloads.py)."""
    named: dict[str, Any] = {}
    for _ in range(COMMIT_ATTEMPTS):
        decided = decide()
        if decided is None:
            return None
        decided = name_workloads(decided, deps, named)
        try:
            deps.writer.commit(decided)
        except LedgerConflict:
            count("LedgerConflicts")
            continue
        _lags(decided)
        return decided
    raise LedgerConflict(f"gave up after {COMMIT_ATTEMPTS} conflicting attempts")


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
