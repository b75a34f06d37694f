"""The pure core's values: times, locations, names, the facts events carry, and each replica's
lifecycle (expected, present, overdue) on one image's facts.

No I/O here. Functions take facts, state and `now` and return decisions; the use cases
(chalicelib/usecases/) read and write the ledger around them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

# --------------------------------------------------------------------------- time


def parse_time(value: str) -> datetime:
    """Parse an EventBridge/ISO-8601 timestamp into an aware UTC datetime."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_time(moment: datetime | None) -> str | None:
    """Second-resolution UTC ISO-8601 with a `Z`, sortable as text (used in keys)."""
    if moment is None:
        return None
    return iso(moment)


def iso(moment: datetime) -> str:
    """Like format_time for a value known to be present."""
    # isoformat pads every year to four digits; strftime("%Y") does not below 1000.
    return moment.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


# ECR events began in 2015; an event more than a day ahead of the processing time is a clock
# or a forgery. Both bounds also keep every stored time a four-digit year, sortable as text.
EARLIEST_EVENT = datetime(2015, 1, 1, tzinfo=UTC)
MAX_AHEAD = timedelta(days=1)


def event_time_problem(moment: datetime, now: datetime) -> str | None:
    """Why an event time cannot be trusted, or None when it lies inside the sane window."""
    if moment < EARLIEST_EVENT:
        return f"time {iso(moment)} is before {EARLIEST_EVENT.year}, when ECR events began"
    if moment > now + MAX_AHEAD:
        return f"time {iso(moment)} is more than a day ahead of the processing time {iso(now)}"
    return None


# --------------------------------------------------------------------------- locations


@dataclass(frozen=True, order=True)
class Location:
    """An (account, region) pair: where an image lives or an event happened."""

    account: str
    region: str

    def __str__(self) -> str:
        return f"{self.account}/{self.region}"

    def as_dict(self) -> dict[str, str]:
        return {"account": self.account, "region": self.region}


def partition_of(region: str) -> str:
    """The AWS partition a Region belongs to (ARNs name it)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


# OCI digest grammar: algorithm ":" encoded. AWS's own samples carry non-hex, non-64-char values.
# Anchored with \Z, not $: Python's $ also matches before a trailing newline, so "v1\n" would
# pass `match` (and the event schemas, which search with these patterns).
DIGEST_RE = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+\Z")
ACCOUNT_RE = re.compile(r"^[0-9]{12}\Z")
REGION_RE = re.compile(r"^[0-9a-z-]{2,25}\Z")
REPOSITORY_RE = re.compile(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*\Z")
TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,299}\Z")


# --------------------------------------------------------------------------- facts (inbound)


@dataclass(frozen=True)
class _ImageAction:
    event_id: str
    time: datetime
    location: Location
    repository: str
    digest: str
    tag: str | None


@dataclass(frozen=True)
class ImagePushed(_ImageAction):
    """`ECR Image Action` PUSH: `tag` now points at `digest` where it happened."""


@dataclass(frozen=True)
class ImageDeleted(_ImageAction):
    """`ECR Image Action` DELETE: the image (or tag) was removed where it happened."""


@dataclass(frozen=True)
class ReplicationReported:
    """An `ECR Replication Action`; `location` is the destination that reported it."""

    event_id: str
    time: datetime
    location: Location
    source: Location
    repository: str
    digest: str
    tag: str | None
    succeeded: bool
    failure_reason: str | None = None


Fact = ImagePushed | ImageDeleted | ReplicationReported


# --------------------------------------------------------------------------- replicas

ReplicaState = Literal["pending", "replicated", "missing", "failed", "cancelled"]


@dataclass(frozen=True, order=True)
class UntagCheck:
    """The source removed `tag` from the image at `removed_at` (the image kept another tag)
    under a rule that replicates deletions: by `due_at` the destination must have dropped it."""

    due_at: datetime
    removed_at: datetime
    tag: str


OPEN_STATES: frozenset[str] = frozenset({"pending", "missing", "failed"})


@dataclass(frozen=True)
class Replica:
    """One expected copy of an image digest from a source location to a destination location."""

    repository: str
    digest: str
    source: Location
    destination: Location
    tag: str | None
    pushed_at: datetime | None
    due_at: datetime | None
    state: ReplicaState = "pending"
    replicated_at: datetime | None = None
    failure_reason: str | None = None
    failed_at: datetime | None = None  # the earliest FAILED reported for it
    drift_check: bool = False  # its tag is still to be compared in both registries when due
    deletion_check_at: datetime | None = None  # the source deleted the image and its rule
    # replicates deletions: the destination must not have it any more by then
    untag_checks: frozenset[UntagCheck] = frozenset()  # tags the source removed, likewise
    rev: int = 0  # the ledger's revision of the stored item (optimistic concurrency)

    @property
    def replica_id(self) -> str:
        return f"{self.repository}@{self.digest}:{self.source}->{self.destination}"

    @property
    def lag_seconds(self) -> int | None:
        if self.replicated_at is None or self.pushed_at is None:
            return None
        return max(0, int((self.replicated_at - self.pushed_at).total_seconds()))


class Destinations(Protocol):
    """What the core needs of the replication rules (rules.ReplicationConfig has it)."""

    def destinations_for(self, source: Location, repository: str) -> frozenset[Location]: ...


def expected_replicas(config: Destinations, push: ImagePushed, grace: timedelta) -> list[Replica]:
    """A push creates one expected replica per destination its source's rules name.

    An untagged push (a buildx platform or attestation manifest, a signature) travels with its
    tagged index and expects no replica of its own.
    """
    if push.tag is None:
        return []
    return [
        Replica(
            repository=push.repository,
            digest=push.digest,
            source=push.location,
            destination=destination,
            tag=push.tag,
            pushed_at=push.time,
            due_at=push.time + grace,
        )
        for destination in sorted(config.destinations_for(push.location, push.repository))
    ]


def replica_from_report(report: ReplicationReported) -> Replica:
    """The replica a replication event speaks of, for when its source push is not (yet) known."""
    return Replica(
        repository=report.repository,
        digest=report.digest,
        source=report.source,
        destination=report.location,
        tag=report.tag,
        pushed_at=None,
        due_at=None,
    )


@dataclass(frozen=True)
class Presence:
    """What is known about one digest at one location."""

    first_seen: datetime | None = None
    deletions: frozenset[datetime] = frozenset()  # a set: commutative under any delivery order
    tags: frozenset[str] = frozenset()  # every tag ever seen naming the digest there
    rev: int = 0  # the ledger's revision of the stored item (optimistic concurrency)


@dataclass(frozen=True)
class ImageFacts:
    """Everything recorded about one repository@digest: where it is, and its expected replicas."""

    presence: Mapping[Location, Presence] = field(default_factory=dict)
    replicas: tuple[Replica, ...] = ()

    def present_at(self, location: Location) -> datetime | None:
        found = self.presence.get(location)
        return found.first_seen if found else None

    def deleted_since(self, location: Location, moment: datetime | None) -> datetime | None:
        """The first deletion at `location` at or after `moment` (any, if moment is None)."""
        found = self.presence.get(location)
        times = [d for d in (found.deletions if found else ()) if moment is None or d >= moment]
        return min(times, default=None)


ReconcileAction = Literal["arrive", "arrived_earlier", "cancel"]


def reconcile(replica: Replica, facts: ImageFacts) -> tuple[ReconcileAction, datetime] | None:
    """What the facts say about a replica: it arrived (or earlier than recorded), it was
    cancelled, or nothing new.

    Arrival wins over cancellation: a copy that exists is a copy, whatever the source did later.
    """
    arrived = facts.present_at(replica.destination)
    if replica.state == "replicated":
        if arrived is not None and replica.replicated_at and arrived < replica.replicated_at:
            return "arrived_earlier", arrived  # an earlier sighting delivered late
        return None
    if arrived is not None:  # also after a cancellation: the copy exists all the same
        return "arrive", arrived
    if replica.state not in OPEN_STATES:
        return None
    deleted = facts.deleted_since(replica.source, replica.pushed_at)
    if deleted is not None:
        return "cancel", deleted
    return None


def closed_at(replica: Replica, facts: ImageFacts) -> datetime | None:
    """When a replica stopped being open, on the complete history: its first sighting at the
    destination, or the source's first deletion after the push. None while it is open."""
    if replica.state == "replicated":
        return facts.present_at(replica.destination) or replica.replicated_at
    if replica.state == "cancelled":
        return facts.deleted_since(replica.source, replica.pushed_at)
    return None


def failure_is_news(replica: Replica, facts: ImageFacts) -> bool:
    """A FAILED counts only while the replica is still expected and not known to be there;
    otherwise it arrived superseded (the copy is there, the source deleted the image, or a
    failure is already open) and is recorded without an alert."""
    return replica.state in ("pending", "missing") and facts.present_at(replica.destination) is None


def is_overdue(replica: Replica, now: datetime) -> bool:
    return replica.state == "pending" and replica.due_at is not None and replica.due_at <= now


def with_state(replica: Replica, **changes: Any) -> Replica:
    return replace(replica, **changes)
