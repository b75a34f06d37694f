"""ECR replication backfill (October 2026): start it for what never reached a destination,
follow it, and record what it replicated.

A backfill replicates a source registry's existing images that match its replication rules to
ONE destination (StartReplicationBackfill takes the source registry and a destination, not a
repository). ECR allows one in progress per destination Region per registry, and ten per
registry: `start_backfills` starts at most one per Region, and none where one is already in
progress (it says which, and to run again once that one ends). `follow` lists each source's
backfills (ECR keeps them 90 days) and, for those that ended, records every image result
COMPLETE as that image present at the destination (by the backfill's end at the latest), one
commit per image and no alert, as reconcile does; FAILED results are reported with ECR's code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from chalicelib.core import decisions, documents, lifecycle
from chalicelib.core.errors import AuditorError, RegistryUnavailable
from chalicelib.core.lifecycle import Location, Replica
from chalicelib.ports import Commit, Deps
from chalicelib.usecases import commits

ACTIVE = frozenset({"PREPARING", "IN_PROGRESS", "STOPPING"})
TERMINAL = frozenset({"COMPLETE", "FAILED", "STOPPED"})


class BackfillInProgress(AuditorError):
    """ECR refused: a backfill to that destination Region is in progress already."""


class BackfillLimit(AuditorError):
    """ECR refused: the registry has as many backfills in progress as it may (ten)."""


@dataclass(frozen=True)
class Backfill:
    backfill_id: str
    source: Location
    destination: Location
    status: str  # PREPARING, IN_PROGRESS, COMPLETE, FAILED, STOPPING, STOPPED
    started_at: datetime | None = None
    ended_at: datetime | None = None
    total: int | None = None  # image x tag replications (no progress while PREPARING)
    completed: int | None = None
    failed: int | None = None
    failure_codes: tuple[str, ...] = ()
    failure_code: str | None = None  # why the backfill itself failed


@dataclass(frozen=True)
class BackfillResult:
    repository: str
    digest: str | None
    tag: str | None
    status: str  # COMPLETE or FAILED
    failure_code: str | None = None
    sub_image_failure_codes: tuple[str, ...] = ()


class BackfillApi(Protocol):
    """One source registry's backfill operations (local/backfills.py; a Stubber in tests)."""

    location: Location

    def start(self, destination: Location) -> Backfill: ...

    def backfills(self) -> list[Backfill]: ...

    def results(self, backfill_id: str) -> list[BackfillResult]: ...


# ----------------------------------------------------------------------------- starting

Outcome = Literal["started", "in_progress", "waiting", "limit", "error"]


@dataclass(frozen=True)
class Started:
    source: Location
    destination: Location
    outcome: Outcome
    note: str
    backfill: Backfill | None = None


def start_backfills(
    pairs: Iterable[tuple[Location, Location]], api_of: Callable[[Location], BackfillApi]
) -> list[Started]:
    """A backfill per (source, destination) pair, at most one in progress per destination
    Region of a source registry at a time."""
    by_source: dict[Location, list[Location]] = {}
    for source, destination in sorted(set(pairs)):
        by_source.setdefault(source, []).append(destination)
    started: list[Started] = []
    for source, destinations in by_source.items():
        api = api_of(source)
        try:
            active = [b for b in api.backfills() if b.status in ACTIVE]
        except RegistryUnavailable as error:
            started.extend(Started(source, d, "error", str(error)) for d in destinations)
            continue
        busy = {b.destination.region: b for b in active}
        for destination in destinations:
            running = next((b for b in active if b.destination == destination), None)
            if running is not None:
                started.append(
                    Started(
                        source,
                        destination,
                        "in_progress",
                        f"backfill {running.backfill_id} is {running.status}",
                        running,
                    )
                )
                continue
            other = busy.get(destination.region)
            if other is not None:
                started.append(
                    Started(
                        source,
                        destination,
                        "waiting",
                        f"backfill {other.backfill_id} to {other.destination} is in progress in "
                        f"{destination.region} (ECR allows one per Region): run --backfill again "
                        "once it ends",
                        other,
                    )
                )
                continue
            started.append(_start(api, source, destination, busy))
    return started


def _start(
    api: BackfillApi, source: Location, destination: Location, busy: dict[str, Backfill]
) -> Started:
    try:
        backfill = api.start(destination)
    except BackfillInProgress:
        return Started(
            source,
            destination,
            "waiting",
            f"a backfill to {destination.region} is in progress: run --backfill again once it ends",
        )
    except BackfillLimit:
        return Started(
            source,
            destination,
            "limit",
            "the registry has ten backfills in progress: run --backfill again once one ends",
        )
    except RegistryUnavailable as error:
        return Started(source, destination, "error", str(error))
    busy[destination.region] = backfill
    note = f"backfill {backfill.backfill_id} {backfill.status}"
    return Started(source, destination, "started", note, backfill)


# ----------------------------------------------------------------------------- following


@dataclass
class Followed:
    backfill: Backfill
    results: list[BackfillResult] = field(default_factory=list)
    recorded: int = 0  # images whose arrival this recorded
    error: str | None = None

    @property
    def failed_results(self) -> list[BackfillResult]:
        return [r for r in self.results if r.status == "FAILED"]


def follow(
    sources: Iterable[Location], api_of: Callable[[Location], BackfillApi], deps: Deps
) -> tuple[list[Followed], list[str]]:
    """Every backfill of each source; the results of those that ended, recorded."""
    followed: list[Followed] = []
    errors: list[str] = []
    for source in sorted(set(sources)):
        api = api_of(source)
        try:
            backfills = api.backfills()
        except RegistryUnavailable as error:
            errors.append(f"cannot list the backfills of {source}: {error}")
            continue
        for backfill in sorted(backfills, key=_started_key):
            item = Followed(backfill)
            followed.append(item)
            if backfill.status not in TERMINAL:
                continue  # per-image results come only once it has ended
            try:
                item.results = api.results(backfill.backfill_id)
            except RegistryUnavailable as error:
                item.error = str(error)
                continue
            item.recorded = _record(backfill, item.results, deps)
    return followed, errors


def _started_key(backfill: Backfill) -> tuple[float, str]:
    return (backfill.started_at.timestamp() if backfill.started_at else 0.0, backfill.backfill_id)


def _record(backfill: Backfill, results: list[BackfillResult], deps: Deps) -> int:
    """One commit per image that the backfill replicated: present at the destination."""
    moment = backfill.ended_at or deps.clock()
    tags: dict[tuple[str, str], set[str]] = {}
    for result in results:
        if result.status == "COMPLETE" and result.digest:
            tags.setdefault((result.repository, result.digest), set()).update(
                [result.tag] if result.tag else []
            )
    recorded = 0
    for (repository, digest), image_tags in sorted(tags.items()):

        def decide(
            repository: str = repository, digest: str = digest, names: tuple = tuple(image_tags)
        ) -> Commit | None:
            before = deps.images.load(repository, digest).facts
            after = arrived(before, repository, digest, backfill, sorted(names), moment, deps)
            change = decisions.change(repository, digest, before, after)
            if not change.changed:
                return None
            new = {(r.source, r.destination) for r in after.replicas} - {
                (r.source, r.destination) for r in before.replicas
            }
            return Commit(images=(change,), register=repository if new else None)

        if commits.commit(decide, deps) is not None:
            recorded += 1
    return recorded


def arrived(
    facts: lifecycle.ImageFacts,
    repository: str,
    digest: str,
    backfill: Backfill,
    tags: list[str],
    moment: datetime,
    deps: Deps,
) -> lifecycle.ImageFacts:
    """The facts once a backfill replicated the image: present at the destination (under its
    tags), the replica from the source recorded when the ledger did not expect it."""
    after = facts
    names: list[str | None] = [*tags] or [None]
    for tag in names:
        after = decisions.seen(after, backfill.destination, moment, tag)
    if tags and decisions.find(after, backfill.source, backfill.destination) is None:
        pushed = after.present_at(backfill.source)
        after = decisions.expect(
            after,
            Replica(
                repository=repository,
                digest=digest,
                source=backfill.source,
                destination=backfill.destination,
                tag=tags[0],
                pushed_at=pushed,
                due_at=pushed + deps.settings.grace if pushed else None,
            ),
        )
    return decisions.reconcile_all(after)


# ----------------------------------------------------------------------------- rendering


def _progress(backfill: Backfill) -> str:
    if backfill.total is None:
        return "no progress yet"
    text = f"{backfill.completed}/{backfill.total} replicated, {backfill.failed} failed"
    if backfill.failure_codes:
        text += f" ({', '.join(backfill.failure_codes)})"
    return text


def render_started(started: list[Started]) -> str:
    if not started:
        return "backfill: every image reached its destinations; nothing to start"
    return "\n".join(
        f"backfill {s.source} -> {s.destination}: {s.outcome}: {s.note}" for s in started
    )


def render_followed(followed: list[Followed], errors: list[str]) -> str:
    lines = [f"error: {e}" for e in errors]
    if not followed and not errors:
        lines.append("no replication backfills (ECR keeps them 90 days after they end)")
    for item in followed:
        b = item.backfill
        ended = f", ended {lifecycle.iso(b.ended_at)}" if b.ended_at else ""
        why = f" ({b.failure_code})" if b.failure_code else ""
        lines.append(
            f"{b.backfill_id} {b.source} -> {b.destination}: {b.status}{why}{ended}; {_progress(b)}"
        )
        if item.error:
            lines.append(f"  error: {item.error}")
        elif b.status in TERMINAL:
            lines.append(
                f"  {len(item.results)} image results; {item.recorded} image(s) recorded as arrived"
            )
        for result in item.failed_results:
            name = f"{result.repository}:{result.tag}" if result.tag else result.repository
            subs = (
                f" (sub-images: {', '.join(result.sub_image_failure_codes)})"
                if result.sub_image_failure_codes
                else ""
            )
            lines.append(
                f"  FAILED {name} {documents.short_digest(result.digest)}: "
                f"{result.failure_code or '?'}{subs}"
            )
    return "\n".join(lines)


def render_json(followed: list[Followed], errors: list[str]) -> dict[str, Any]:
    return {
        "backfills": [
            {
                "id": f.backfill.backfill_id,
                "source": f.backfill.source.as_dict(),
                "destination": f.backfill.destination.as_dict(),
                "status": f.backfill.status,
                "failure_code": f.backfill.failure_code,
                "started_at": lifecycle.format_time(f.backfill.started_at),
                "ended_at": lifecycle.format_time(f.backfill.ended_at),
                "progress": None
                if f.backfill.total is None
                else {
                    "total": f.backfill.total,
                    "completed": f.backfill.completed,
                    "failed": f.backfill.failed,
                    "failure_codes": list(f.backfill.failure_codes),
                },
                "results": [
                    {
                        "repository": r.repository,
                        "digest": r.digest,
                        "tag": r.tag,
                        "status": r.status,
                        "failure_code": r.failure_code,
                        "sub_image_failure_codes": list(r.sub_image_failure_codes),
                    }
                    for r in f.results
                ],
                "recorded": f.recorded,
                "error": f.error,
            }
            for f in followed
        ],
        "errors": errors,
    }


def started_json(started: list[Started]) -> list[dict[str, Any]]:
    return [
        {
            "source": s.source.as_dict(),
            "destination": s.destination.as_dict(),
            "outcome": s.outcome,
            "note": s.note,
            "id": s.backfill.backfill_id if s.backfill else None,
        }
        for s in started
    ]
