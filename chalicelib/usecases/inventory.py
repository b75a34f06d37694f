"""reconcile --all: every repository the rules cover in every source registry, resumable.

The walk lists each source registry's repositories, keeps those a rule sends somewhere, and
reconciles them one by one in name order (chalicelib/usecases/reconcile.py: one commit per image, no
alerts). After each repository a checkpoint (one ledger item) records where the walk is and what
it found, so that after Ctrl-C or a crash `--resume` goes on with the next repository; the one
that was interrupted is done again, which changes nothing already recorded. The bound on API
calls per second is the registries' business (adapters/throttle.py); here it is only measured.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from chalicelib.core import documents, lifecycle
from chalicelib.core.errors import RegistryUnavailable, RepositoryNotFound
from chalicelib.core.lifecycle import Location
from chalicelib.core.reconciliation import RepositoryReport
from chalicelib.core.rules import ReplicationConfig
from chalicelib.ports import Deps
from chalicelib.usecases.reconcile import Selection, reconcile_repository

NEVER_REACHED_KEPT = 1000  # listed in the checkpoint (a DynamoDB item holds 400 KB); all counted
ERRORS_KEPT = 100


@dataclass
class Checkpoint:
    """Where a walk is and what it found so far (kept in the ledger between runs)."""

    started_at: str
    updated_at: str
    last_done: str | None = None  # the last repository finished, in walk (name) order
    finished: bool = False
    repositories: int = 0
    images: int = 0
    recorded: int = 0
    predating: int = 0
    arrived: int = 0
    corrected: int = 0
    calls: int = 0
    seconds: float = 0.0  # time spent walking, over every run of this walk
    never_total: int = 0
    never_reached: list[dict[str, Any]] = field(default_factory=list)
    pairs: list[list[str]] = field(default_factory=list)  # [source, destination] to backfill
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Checkpoint:
        raw = json.loads(text)
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in raw.items() if k in known})

    def absorb(self, repository: str, report: RepositoryReport) -> None:
        self.last_done = repository
        self.repositories += 1
        self.images += report.images
        self.recorded += report.recorded
        self.predating += report.predating
        self.arrived += report.arrived
        self.corrected += report.corrected
        self.calls += report.calls
        pairs = {tuple(p) for p in self.pairs}
        for replica in report.never_reached:
            self.never_total += 1
            pairs.add((str(replica.source), str(replica.destination)))
            if len(self.never_reached) < NEVER_REACHED_KEPT:
                self.never_reached.append(
                    {
                        "repository": repository,
                        "digest": replica.digest,
                        "tags": list(replica.tags),
                        "source": str(replica.source),
                        "destination": str(replica.destination),
                        "ledger": replica.after,
                    }
                )
        self.pairs = [list(p) for p in sorted(pairs)]
        room = ERRORS_KEPT - len(self.errors)
        self.errors.extend(f"{repository}: {e}" for e in report.errors[: max(0, room)])

    def backfill_pairs(self) -> list[tuple[Location, Location]]:
        return [(_location(s), _location(d)) for s, d in self.pairs]


def _location(text: str) -> Location:
    account, _, region = text.partition("/")
    return Location(account, region)


class CheckpointStore(Protocol):
    """Where the walk's checkpoint is kept (the ledger: pk RECONCILE, sk checkpoint)."""

    def load(self) -> Checkpoint | None: ...

    def save(self, checkpoint: Checkpoint) -> None: ...


class Lister(Protocol):
    def repositories(self) -> list[Any]: ...


# ----------------------------------------------------------------------------- planning


def covered_repositories(
    config: ReplicationConfig, lister_of: Callable[[Location], Lister]
) -> tuple[list[str], list[str]]:
    """The repositories a rule sends somewhere, over every source registry, in name order;
    and a line per source that could not be listed."""
    names: set[str] = set()
    errors: list[str] = []
    for registry in sorted(config.sources, key=lambda r: r.location):
        source = registry.location
        try:
            listed = lister_of(source).repositories()
        except (RegistryUnavailable, RepositoryNotFound) as error:
            errors.append(f"cannot list the repositories of {source}: {error}")
            continue
        names.update(r.name for r in listed if config.destinations_for(source, r.name))
    return sorted(names), errors


# ----------------------------------------------------------------------------- walking


@dataclass(frozen=True)
class Progress:
    done: int  # repositories done, this run and the runs it resumes
    total: int
    images: int
    never: int
    calls: int  # registry calls this run
    elapsed: float  # seconds this run
    eta: float | None  # seconds left, from this run's pace


@dataclass
class WalkResult:
    checkpoint: Checkpoint
    total: int
    interrupted: bool = False
    resumed: bool = False
    done_now: int = 0
    elapsed: float = 0.0
    calls_now: int = 0
    planning_errors: list[str] = field(default_factory=list)

    @property
    def calls_per_second(self) -> float:
        return self.calls_now / self.elapsed if self.elapsed > 0 else 0.0


def walk(
    deps: Deps,
    registry_of: Callable[[Location], Any],
    config: ReplicationConfig,
    store: CheckpointStore,
    *,
    resume: bool = False,
    progress: Callable[[Progress], None] = lambda p: None,
    clock: Callable[[], float] = time.monotonic,
) -> WalkResult:
    """Reconcile every covered repository, checkpointing after each; Ctrl-C stops cleanly."""
    started = clock()
    names, planning_errors = covered_repositories(config, registry_of)
    previous = store.load() if resume else None
    now = lifecycle.iso(deps.clock())
    resumed = previous is not None and not previous.finished
    checkpoint = previous if previous is not None and resumed else Checkpoint(now, now)
    todo = [n for n in names if checkpoint.last_done is None or n > checkpoint.last_done]
    already = len(names) - len(todo)
    result = WalkResult(checkpoint, len(names), resumed=resumed, planning_errors=planning_errors)
    run_seconds = checkpoint.seconds

    def tick() -> None:
        result.elapsed = clock() - started
        checkpoint.seconds = run_seconds + result.elapsed
        pace = result.elapsed / result.done_now if result.done_now else None
        left = len(todo) - result.done_now
        progress(
            Progress(
                done=already + result.done_now,
                total=len(names),
                images=checkpoint.images,
                never=checkpoint.never_total,
                calls=result.calls_now,
                elapsed=result.elapsed,
                eta=pace * left if pace is not None else None,
            )
        )

    tick()
    try:
        for name in todo:
            report = reconcile_repository(
                name, deps, registry_of, config, Selection(), ask_status=False
            )
            checkpoint.absorb(name, report)
            result.done_now += 1
            result.calls_now += report.calls
            tick()
            checkpoint.updated_at = lifecycle.iso(deps.clock())
            store.save(checkpoint)
        checkpoint.finished = True
        checkpoint.updated_at = lifecycle.iso(deps.clock())
        store.save(checkpoint)
    except KeyboardInterrupt:
        # Every image commit is atomic; the repository in hand is redone by --resume.
        result.interrupted = True
        result.elapsed = clock() - started
        checkpoint.seconds = run_seconds + result.elapsed
        store.save(checkpoint)
    return result


# ----------------------------------------------------------------------------- rendering


def _duration(seconds: float) -> str:
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def progress_text(p: Progress, width: int = 24) -> str:
    """`[#####-------] 42/120 repositories  1234 images  3 never reached  4.9 calls/s  ETA 3m12s`"""
    filled = int(width * p.done / p.total) if p.total else width
    bar = "#" * filled + "-" * (width - filled)
    rate = p.calls / p.elapsed if p.elapsed > 0 else 0.0
    eta = _duration(p.eta) if p.eta is not None else "?"
    return (
        f"[{bar}] {p.done}/{p.total} repositories  {p.images} images  {p.never} never reached  "
        f"{rate:.1f} calls/s  ETA {eta}"
    )


def render_text(result: WalkResult, names: dict[str, str] | None = None) -> str:
    c = result.checkpoint
    lines = []
    if result.interrupted:
        lines.append(
            f"interrupted after {c.repositories} of {result.total} repositories (the checkpoint "
            "is in the ledger); go on with: reconcile --all --resume"
        )
    lines.append(
        f"{c.repositories} of {result.total} repositories, {c.images} images: {c.recorded} "
        f"recorded ({c.predating} new to the ledger), {c.arrived} replicas recorded as arrived, "
        f"{c.corrected} tag heads corrected; {c.never_total} replicas never reached"
    )
    lines.append(
        f"this run: {result.done_now} repositories in {_duration(result.elapsed)}, "
        f"{result.calls_now} registry calls ({result.calls_per_second:.1f}/s)"
        + (" (resumed)" if result.resumed else "")
    )
    if c.never_reached:
        lines.append("")
        lines.append("Never reached (ECR replicates only what is pushed after a rule exists):")
        by_place = sorted(
            c.never_reached,
            key=lambda i: (i["repository"], i["destination"], ",".join(i["tags"]), i["digest"]),
        )
        for item in by_place:
            tags = ",".join(item["tags"]) or "-"
            lines.append(
                f"  {item['repository']}:{tags} {documents.short_digest(item['digest'])}  "
                f"{item['source']} -> {item['destination']}  ledger: {item['ledger'] or '-'}"
            )
        if c.never_total > len(c.never_reached):
            lines.append(f"  ... and {c.never_total - len(c.never_reached)} more")
    for error in [*result.planning_errors, *c.errors]:
        lines.append(f"error: {error}")
    return "\n".join(lines)


def render_json(result: WalkResult) -> dict[str, Any]:
    return {
        **asdict(result.checkpoint),
        "total_repositories": result.total,
        "interrupted": result.interrupted,
        "resumed": result.resumed,
        "this_run": {
            "repositories": result.done_now,
            "seconds": round(result.elapsed, 1),
            "registry_calls": result.calls_now,
            "calls_per_second": round(result.calls_per_second, 2),
        },
        "planning_errors": result.planning_errors,
    }
