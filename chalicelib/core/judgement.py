"""Tag judgement: each tag's history as entries in event time, how a tag came to point where it
does, and whether a move overwrote it or a removal deleted the image. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from chalicelib.core.lifecycle import (
    Fact,
    ImageDeleted,
    ImagePushed,
    Location,
    ReplicationReported,
    iso,
)

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
