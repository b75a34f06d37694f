"""What the registries show, and what the ledger learns from it (reconcile's pure decision).

A sighting is one image as a registry describes it: its digest, present there since its
`imagePushedAt`, under its tags. learn() turns sightings into the image's facts (arrivals,
pushes the ledger never heard of); head_correction() moves a tag's head to what the registry
shows with one synthetic entry."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from chalicelib.core import decisions, lifecycle
from chalicelib.core.judgement import TagEntry
from chalicelib.core.lifecycle import ImageFacts, Location, Replica
from chalicelib.core.rules import ReplicationConfig

ONE_SECOND = timedelta(seconds=1)


# ----------------------------------------------------------------------------- sightings


@dataclass(frozen=True)
class Selection:
    """What to reconcile in a repository: one tag, one digest, or (neither) every image."""

    tag: str | None = None
    digest: str | None = None

    def __str__(self) -> str:
        if self.tag is not None:
            return f"tag {self.tag}"
        if self.digest is not None:
            return f"digest {self.digest}"
        return "every image"


EVERY_IMAGE = Selection()


@dataclass(frozen=True)
class RegistryImage:
    """One image as the registry describes it (adapters/ecr.py builds these; reconcile reads
    them)."""

    digest: str
    pushed_at: datetime
    tags: tuple[str, ...]
    status: str  # ACTIVE, ARCHIVED or ACTIVATING (ACTIVE where ECR does not say)


@dataclass(frozen=True)
class ReplicationStatus:
    """ECR's own view of one replication of an image, from the source registry."""

    destination: Location
    status: str  # IN_PROGRESS, COMPLETE or FAILED
    failure_code: str | None


@dataclass(frozen=True)
class RepositoryInfo:
    name: str
    tag_mutability: str  # MUTABLE, IMMUTABLE, IMMUTABLE_WITH_EXCLUSION, MUTABLE_WITH_EXCLUSION
    mutability_exclusions: tuple[str, ...] = ()  # WILDCARD filters of the *_WITH_EXCLUSION kinds


# ----------------------------------------------------------------------------- the report


@dataclass
class TagView:
    tag: str
    registry: str | None  # the digest the registry's tag names; None: no such tag there
    ledger: str | None  # the ledger's head before; None: the ledger knows no such tag there
    corrected: bool = False

    @property
    def agrees(self) -> bool:
        return self.registry == self.ledger


@dataclass
class LocationView:
    location: Location
    role: str  # source, destination, or source and destination
    exists: bool = True  # the repository exists there
    error: str | None = None  # the registry could not be asked
    tags: list[TagView] = field(default_factory=list)


@dataclass
class ReplicaView:
    digest: str
    tags: tuple[str, ...]  # the image's tags at the source
    source: Location
    destination: Location
    before: str | None  # the ledger's state before; None: not expected
    after: str | None  # and after
    present: bool | None  # in the destination registry; None: it could not be asked
    arrived_at: datetime | None
    ecr: str | None = None  # ECR's own replication status, from the source registry
    due_at: datetime | None = None  # the ledger's due time, for a pending one

    @property
    def disagrees(self) -> bool:
        return (self.present is True and self.before != "replicated") or (
            self.present is False and self.before == "replicated"
        )


@dataclass
class RepositoryReport:
    repository: str
    selection: Selection
    locations: list[LocationView] = field(default_factory=list)
    replicas: list[ReplicaView] = field(default_factory=list)
    images: int = 0  # images the registries showed
    recorded: int = 0  # images whose facts changed (one commit each)
    predating: int = 0  # images the ledger had no record of
    arrived: int = 0  # replicas recorded as arrived by this run
    corrected: int = 0  # tag heads corrected
    errors: list[str] = field(default_factory=list)
    calls: int = 0  # registry API calls

    @property
    def never_reached(self) -> list[ReplicaView]:
        """Tagged source images a destination does not have and will not get by itself: not
        expected (older than the grace period when first seen) or already missing or failed.
        A pending one is still on its way."""
        return [
            r
            for r in self.replicas
            if r.present is False and r.after in (None, "missing", "failed", "cancelled")
        ]


# ----------------------------------------------------------------------------- the decision


def learn(
    facts: ImageFacts,
    repository: str,
    digest: str,
    sightings: Mapping[Location, RegistryImage],
    config: ReplicationConfig,
    grace: timedelta,
    now: datetime,
    check_drift: bool = False,
) -> ImageFacts:
    """The image's facts once the registries' `sightings` of it are known.

    Each sighting is the digest present there since its `imagePushedAt`, under its tags. A
    tagged image at a source whose replica the ledger never expected (its push predates the
    auditor, or its event was lost) gets that replica recorded as the push would have: where the
    destination has it, it arrives at once; where it does not, it is expected only if still
    within its grace period (then the sweep judges it as any other); an older one is not
    expected, since ECR replicates only what is pushed after a rule exists (the caller lists it
    as never reached, a backfill candidate), and an expectation already overdue would alert.
    An expected one is due for the TAG_DRIFT check with `check_drift`, as after a push; one
    found present is history and is not.
    """
    after = facts
    for location, image in sorted(sightings.items()):
        tags: list[str | None] = [*sorted(image.tags)] or [None]
        for tag in tags:
            after = decisions.seen(after, location, image.pushed_at, tag)
    for source, image in sorted(sightings.items()):
        if not image.tags:
            continue  # untagged: travels with its index, expects nothing of its own
        known = {(r.source, r.destination) for r in after.replicas}
        for destination in sorted(config.destinations_for(source, repository)):
            due = image.pushed_at + grace
            if (source, destination) in known or (destination not in sightings and due <= now):
                continue
            replica = Replica(
                repository=repository,
                digest=digest,
                source=source,
                destination=destination,
                tag=sorted(image.tags)[0],
                pushed_at=image.pushed_at,
                due_at=due,
                drift_check=check_drift and destination not in sightings,
            )
            after = decisions.expect(after, replica)
    return decisions.reconcile_all(after)


def head_correction(
    location: Location,
    repository: str,
    tag: str,
    image: RegistryImage,
    head: TagEntry | None,
) -> TagEntry:
    """The tag entry that moves the ledger's head of `tag` to what the registry shows.

    Timed at the image's push when that is later than the head (the tag most likely moved with
    the push); otherwise a second after the head, since the move happened after what the ledger
    knows and an older entry never moves a head. The id is synthetic and stable.
    """
    moment = image.pushed_at
    if head is not None and moment <= head.time:
        moment = head.time + ONE_SECOND
    seed = "\x1f".join((str(location), repository, tag, image.digest, lifecycle.iso(moment)))
    return TagEntry(
        location=location,
        repository=repository,
        tag=tag,
        time=moment,
        event_id=f"reconcile-{hashlib.sha256(seed.encode()).hexdigest()[:20]}",
        digest=image.digest,
        kind="push",
    )
