"""The pure core: replication rules, replica lifecycle, tag-overwrite judgement and alert documents.

No I/O here. Functions take facts, state and `now` and return decisions; the service layer
(services.py) reads and writes the ledger around them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

ALERT_SCHEMA = "ecr-replication-auditor/alert/v1"

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


# --------------------------------------------------------------------------- tag history

EntryKind = Literal["push", "replication", "delete"]
OverwriteCause = Literal[
    "replication_overwrote_local_tag",
    "local_push_overwrote_replica_tag",
    "replication_from_another_source",
]


@dataclass(frozen=True)
class TagEntry:
    """One observation of where a tag points at one location, in event time."""

    location: Location
    repository: str
    tag: str
    time: datetime
    event_id: str
    digest: str | None  # None: the tag was deleted
    kind: EntryKind
    source: Location | None = None  # for replications: where the image came from
    removed_from: str | None = None  # for deletions: the digest the tag named

    @property
    def sort_key(self) -> str:
        return f"{iso(self.time)}#{self.event_id}"


@dataclass(frozen=True)
class Origin:
    """How a tag came to point where it does: a local push, or replication from `source`."""

    replicated_from: Location | None

    @property
    def local(self) -> bool:
        return self.replicated_from is None


def tag_entry(fact: Fact) -> TagEntry | None:
    """The tag observation a fact carries, if any (a push by digest alone moves no tag)."""
    if not fact.tag:
        return None
    if isinstance(fact, ReplicationReported) and not fact.succeeded:
        return None  # a failed replication moved nothing
    kinds: dict[type, EntryKind] = {
        ImagePushed: "push",
        ImageDeleted: "delete",
        ReplicationReported: "replication",
    }
    return TagEntry(
        location=fact.location,
        repository=fact.repository,
        tag=fact.tag,
        time=fact.time,
        event_id=fact.event_id,
        digest=None if isinstance(fact, ImageDeleted) else fact.digest,
        kind=kinds[type(fact)],
        source=fact.source if isinstance(fact, ReplicationReported) else None,
        removed_from=fact.digest if isinstance(fact, ImageDeleted) else None,
    )


def removal_deletes_image(removal: TagEntry, heads: Mapping[str, TagEntry | None]) -> bool:
    """A tag removal deletes the image there when no tag names its digest any more.

    `heads` holds, for every tag ever seen naming the digest at that location, the latest
    entry of that tag's history as of the removal (the removal itself included), so the
    answer is the same whatever order the events were delivered in.
    """
    return not any(
        head is not None and head.digest == removal.removed_from for head in heads.values()
    )


def classify(entry: TagEntry, replica_sources: Iterable[Location]) -> Origin:
    """A push at a destination of a digest a source sent there is that replica arriving."""
    if entry.kind == "replication":
        return Origin(entry.source)
    candidates = sorted(replica_sources)
    return Origin(candidates[0] if candidates else None)


def overwrite_cause(
    previous: TagEntry, previous_origin: Origin, current: TagEntry, current_origin: Origin
) -> OverwriteCause | None:
    """Judge one move of a tag at a replica location (entries consecutive in time)."""
    if previous.digest is None or current.digest is None or previous.digest == current.digest:
        return None
    if previous_origin.local and not current_origin.local:
        return "replication_overwrote_local_tag"
    if not previous_origin.local and current_origin.local:
        return "local_push_overwrote_replica_tag"
    if (
        not previous_origin.local
        and not current_origin.local
        and previous_origin.replicated_from != current_origin.replicated_from
    ):
        return "replication_from_another_source"
    return None


# --------------------------------------------------------------------------- incidents & alerts

AlertKind = Literal[
    "REPLICA_MISSING",
    "REPLICATION_FAILED",
    "TAG_OVERWRITTEN",
    "TAG_DRIFT",
    "DELETE_NOT_REPLICATED",
    "RECOVERED",
]
SEVERITY: dict[str, str] = {
    "REPLICA_MISSING": "critical",
    "REPLICATION_FAILED": "critical",
    "TAG_OVERWRITTEN": "warning",
    "TAG_DRIFT": "warning",
    "DELETE_NOT_REPLICATED": "warning",
    "RECOVERED": "info",
}
ALERT_KEYS = (
    "schema",
    "kind",
    "severity",
    "incident_id",
    "summary",
    "repository",
    "tag",
    "digest",
    "previous_digest",
    "cause",
    "source",
    "destination",
    "pushed_at",
    "due_at",
    "detected_at",
    "resolves",
    "lag_seconds",
    "failure_reason",
)


def _stable_id(kind: str, *parts: str) -> str:
    digest = hashlib.sha256("\x1f".join((kind, *parts)).encode()).hexdigest()[:24]
    return f"{kind.lower().replace('_', '-')}-{digest}"


def incident_id_for(kind: AlertKind, replica: Replica) -> str:
    return _stable_id(kind, replica.replica_id)


def overwrite_incident_id(entry: TagEntry) -> str:
    return _stable_id(
        "TAG_OVERWRITTEN",
        str(entry.location),
        entry.repository,
        entry.tag,
        iso(entry.time),
        entry.digest or "",
    )


def short_digest(digest: str | None) -> str:
    if not digest:
        return "-"
    algorithm, _, value = digest.partition(":")
    return f"{algorithm}:{value[:12]}" if value else digest


def _digest_value(digest: str | None) -> str:
    """The first 12 characters of a digest's value: enough to tell two images apart."""
    return (digest or "-").partition(":")[2][:12] or (digest or "-")


def _image_name(repository: str, tag: str | None, digest: str | None) -> str:
    return f"{repository}:{tag}" if tag else f"{repository}@{short_digest(digest)}"


TAG_REMOVED = "tag_removed"  # the `cause` of a DELETE_NOT_REPLICATED for a tag, not the image
CAUSE_TEXT = {
    "replication_overwrote_local_tag": "replication replaced a locally pushed tag",
    "local_push_overwrote_replica_tag": "a local push replaced the replicated tag",
    "replication_from_another_source": "another source replicated over the tag",
    TAG_REMOVED: "the source removed the tag under a rule that replicates deletions",
}
# Short forms for the one-line summary, which must fit an SNS Subject (under 100 characters).
CAUSE_SHORT = {
    "replication_overwrote_local_tag": "replica over local push",
    "local_push_overwrote_replica_tag": "local push over replica",
    "replication_from_another_source": "replica from another source",
}


def _summary(doc: Mapping[str, Any]) -> str:
    image = _image_name(doc["repository"], doc["tag"], doc["digest"])
    dest = doc["destination"]
    where = f"{dest['account']}/{dest['region']}" if dest else "?"
    kind = doc["kind"]
    if kind == "REPLICA_MISSING":
        text = f"Replica missing: {image} not in {where} by its due time"
    elif kind == "REPLICATION_FAILED":
        text = f"Replication failed: {image} to {where}"
    elif kind == "TAG_OVERWRITTEN":
        text = f"Tag overwritten: {image} in {where} ({CAUSE_SHORT.get(doc['cause'] or '', '?')})"
    elif kind == "TAG_DRIFT":
        there = _digest_value(doc["previous_digest"]) if doc["previous_digest"] else "no image"
        text = f"Tag drift: {image} in {where} is {there}, source {_digest_value(doc['digest'])}"
    elif kind == "DELETE_NOT_REPLICATED" and doc["cause"] == TAG_REMOVED:
        on = _digest_value(doc["digest"])
        text = f"Tag removal not replicated: {image} still on {on} in {where}"
    elif kind == "DELETE_NOT_REPLICATED":
        text = f"Delete not replicated: {image} still in {where}"
    else:
        lag = doc["lag_seconds"]
        after = f" after {lag // 60} min" if isinstance(lag, int) else ""
        text = f"Recovered: {doc['resolves']} for {image} in {where}{after}"
    # SNS subjects must be ASCII, single-line and under 100 characters.
    ascii_text = text.encode("ascii", "replace").decode().replace("\n", " ")
    return ascii_text if len(ascii_text) <= 99 else ascii_text[:96] + "..."


def alert_document(**fields: Any) -> dict[str, Any]:
    """The v1 alert document: every key present, null where it does not apply."""
    doc: dict[str, Any] = dict.fromkeys(ALERT_KEYS)
    doc.update(fields)
    doc["schema"] = ALERT_SCHEMA
    doc["severity"] = SEVERITY[doc["kind"]]
    doc["summary"] = _summary(doc)
    unknown = set(doc) - set(ALERT_KEYS)
    if unknown:
        raise ValueError(f"unknown alert fields: {sorted(unknown)}")
    return doc


def replica_alert(
    kind: AlertKind, replica: Replica, detected_at: datetime, failure_reason: str | None = None
) -> dict[str, Any]:
    return alert_document(
        kind=kind,
        incident_id=incident_id_for(kind, replica),
        repository=replica.repository,
        tag=replica.tag,
        digest=replica.digest,
        source=replica.source.as_dict(),
        destination=replica.destination.as_dict(),
        pushed_at=format_time(replica.pushed_at),
        due_at=format_time(replica.due_at),
        detected_at=iso(detected_at),
        failure_reason=failure_reason,
    )


def overwrite_alert(
    previous: TagEntry,
    current: TagEntry,
    cause: OverwriteCause,
    current_origin: Origin,
    previous_origin: Origin,
    detected_at: datetime,
) -> dict[str, Any]:
    source = current_origin.replicated_from or previous_origin.replicated_from
    return alert_document(
        kind="TAG_OVERWRITTEN",
        incident_id=overwrite_incident_id(current),
        repository=current.repository,
        tag=current.tag,
        digest=current.digest,
        previous_digest=previous.digest,
        cause=cause,
        source=source.as_dict() if source else None,
        destination=current.location.as_dict(),
        pushed_at=iso(current.time),
        detected_at=iso(detected_at),
    )


def undeleted_alert(
    replica: Replica, deleted_at: datetime, detected_at: datetime
) -> dict[str, Any]:
    """DELETE_NOT_REPLICATED: the source deleted the image at `deleted_at`, its rule replicates
    deletions, and the destination still has it at its due time."""
    return alert_document(
        kind="DELETE_NOT_REPLICATED",
        incident_id=_stable_id("DELETE_NOT_REPLICATED", replica.replica_id, iso(deleted_at)),
        repository=replica.repository,
        tag=replica.tag,
        digest=replica.digest,
        source=replica.source.as_dict(),
        destination=replica.destination.as_dict(),
        pushed_at=format_time(replica.pushed_at),
        due_at=format_time(detected_at),
        detected_at=iso(detected_at),
    )


def untag_alert(replica: Replica, check: UntagCheck, detected_at: datetime) -> dict[str, Any]:
    """DELETE_NOT_REPLICATED for a tag: the source removed `check.tag` from the image (which
    kept another tag), its rule replicates deletions, and the destination still has the tag on
    this digest at the check's due time."""
    return alert_document(
        kind="DELETE_NOT_REPLICATED",
        incident_id=_stable_id(
            "DELETE_NOT_REPLICATED", replica.replica_id, check.tag, iso(check.removed_at)
        ),
        repository=replica.repository,
        tag=check.tag,
        digest=replica.digest,
        cause=TAG_REMOVED,
        source=replica.source.as_dict(),
        destination=replica.destination.as_dict(),
        pushed_at=format_time(replica.pushed_at),
        due_at=iso(check.due_at),
        detected_at=iso(detected_at),
    )


def drift_incident_id(replica: Replica, source_digest: str) -> str:
    """One TAG_DRIFT incident per tag, destination and source digest it should name."""
    return _stable_id(
        "TAG_DRIFT", str(replica.destination), replica.repository, replica.tag or "", source_digest
    )


def drift_alert(
    replica: Replica,
    source_digest: str,
    destination_digest: str | None,
    detected_at: datetime,
) -> dict[str, Any]:
    """TAG_DRIFT: the replica's tag in the destination registry names `destination_digest`
    (None: no image) where the source's names `source_digest`."""
    return alert_document(
        kind="TAG_DRIFT",
        incident_id=drift_incident_id(replica, source_digest),
        repository=replica.repository,
        tag=replica.tag,
        digest=source_digest,
        previous_digest=destination_digest,
        source=replica.source.as_dict(),
        destination=replica.destination.as_dict(),
        pushed_at=format_time(replica.pushed_at),
        due_at=format_time(replica.due_at),
        detected_at=iso(detected_at),
    )


def recovery_alert(
    opened: Mapping[str, Any], resolved_at: datetime, lag_seconds: int | None
) -> dict[str, Any]:
    """RECOVERED carries the closed incident's id and what it resolves."""
    carried = {k: opened[k] for k in ALERT_KEYS if k not in {"schema", "severity", "summary"}}
    carried.update(
        kind="RECOVERED",
        resolves=opened["kind"],
        detected_at=iso(resolved_at),
        lag_seconds=lag_seconds,
    )
    return alert_document(**carried)


# --------------------------------------------------------------------------- status


@dataclass(frozen=True)
class StatusCounts:
    pending: int
    missing: int
    failed: int
    replicated_24h: int
    overwritten_24h: int
    drifted: int = 0
    undeleted: int = 0  # open DELETE_NOT_REPLICATED incidents (not a count of the document)


def status_document(
    as_of: datetime, open_total: int, counts: StatusCounts, incidents: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    return {
        "healthy": counts.missing == 0 and counts.failed == 0,
        "as_of": iso(as_of),
        "open_incidents": open_total,
        "counts": {
            "pending": counts.pending,
            "missing": counts.missing,
            "failed": counts.failed,
            "drifted": counts.drifted,
            "undeleted": counts.undeleted,
            "replicated_24h": counts.replicated_24h,
            "overwritten_24h": counts.overwritten_24h,
        },
        "incidents": list(incidents),
    }


def replica_document(replica: Replica) -> dict[str, Any]:
    """A replica as the API, `wait --json` and the repository matrix show it."""
    return {
        "digest": replica.digest,
        "tag": replica.tag,
        "source": replica.source.as_dict(),
        "destination": replica.destination.as_dict(),
        "state": replica.state,
        "pushed_at": format_time(replica.pushed_at),
        "due_at": format_time(replica.due_at),
        "replicated_at": format_time(replica.replicated_at),
    }


def with_state(replica: Replica, **changes: Any) -> Replica:
    return replace(replica, **changes)
