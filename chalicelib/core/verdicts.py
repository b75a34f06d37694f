"""The sweep's decisions on one image: a replica come due (REPLICA_MISSING), deletions and tag
removals to confirm at a destination (DELETE_NOT_REPLICATED), a tag to compare in both registries
(TAG_DRIFT), and an open incident's recovery. Pure: the sweep asks the registries and the ledger,
then hands the answers here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from chalicelib.core import documents, lifecycle
from chalicelib.core.decisions import (
    NewIncident,
    deletion_replicated,
    find,
    reconcile_all,
    seen,
    with_replica,
)
from chalicelib.core.judgement import TagEntry
from chalicelib.core.lifecycle import ImageFacts, Location, Replica, UntagCheck

# --------------------------------------------------------------------------- the sweep


def on_due(
    replica: Replica,
    facts: ImageFacts,
    now: datetime,
    found_at: datetime | None = None,
    failure_reason: str | None = None,
) -> tuple[ImageFacts, tuple[NewIncident, ...]]:
    """At its due time a replica still absent goes missing, unless the facts close it or the
    destination registry holds it (`found_at`: its imagePushedAt there, an event that was lost).
    `failure_reason` is ECR's own view of the replication, for the alert."""
    if found_at is not None:
        facts = seen(facts, replica.destination, found_at, None)
    facts = reconcile_all(facts)
    current = find(facts, replica.source, replica.destination)
    if current is None or not lifecycle.is_overdue(current, now):
        return facts, ()
    missing = replace(current, state="missing")
    alert = documents.replica_alert("REPLICA_MISSING", missing, now, failure_reason=failure_reason)
    return with_replica(facts, missing), (NewIncident(alert, now),)


def on_deletion_check(
    replica: Replica, facts: ImageFacts, now: datetime, still_listed: bool | None
) -> tuple[ImageFacts, tuple[NewIncident, ...]]:
    """At `deletion_check_at`: DELETE_NOT_REPLICATED unless the destination deleted it too
    (`still_listed`: what its registry says, None when it was not asked)."""
    current = find(facts, replica.source, replica.destination)
    if current is None or current.deletion_check_at is None or current.deletion_check_at > now:
        return facts, ()
    facts = with_replica(facts, replace(current, deletion_check_at=None))
    deleted_at = facts.deleted_since(current.source, current.pushed_at)
    if deleted_at is None or deletion_replicated(current, facts) or still_listed is False:
        return facts, ()
    alert = documents.undeleted_alert(current, deleted_at, now)
    return facts, (NewIncident(alert, now),)


@dataclass(frozen=True)
class TagWitness:
    """What is known of one removed tag as of a check: its latest entry in the ledger's tag
    history at the source and at the destination, and (None: not asked) whether the
    destination registry still has it on the digest."""

    source_head: TagEntry | None
    destination_head: TagEntry | None
    listed: bool | None = None


def untag_due(replica: Replica, now: datetime) -> tuple[UntagCheck, ...]:
    return tuple(sorted(c for c in replica.untag_checks if c.due_at <= now))


def untag_superseded(source_head: TagEntry | None, removed_at: datetime | None) -> bool:
    """The source's tag moved on since its removal: pushed again (to this digest or another:
    the destination is to have it then), or, after `removed_at`, removed again (that removal
    is checked on its own)."""
    if source_head is None:
        return False
    if source_head.digest is not None:
        return True
    return removed_at is not None and source_head.time > removed_at


def destination_has_tag(
    facts: ImageFacts, destination: Location, digest: str, head: TagEntry | None
) -> bool:
    """As far as the ledger knows, the tag still names `digest` at `destination`: its latest
    entry there names the digest (or there is none, and the image arrived: replication copies
    the tags), and the image was not deleted there since."""
    if head is not None:
        if head.digest != digest:
            return False  # removed there (a DELETE for the tag), or moved to another image
        since: datetime | None = head.time
    elif facts.present_at(destination) is None:
        return False
    else:
        since = None
    return facts.deleted_since(destination, since) is None


def untag_outstanding(
    facts: ImageFacts,
    destination: Location,
    digest: str,
    witness: TagWitness,
    removed_at: datetime | None,
    source: Location | None = None,
) -> bool:
    """The source's removal of the tag still stands and the destination still has the tag.
    With `source` and `removed_at` (at the check's due time): a deletion of the whole image at
    the source since the removal supersedes it too (that deletion is checked on its own)."""
    image_deleted = (
        source is not None
        and removed_at is not None
        and facts.deleted_since(source, removed_at) is not None
    )
    return (
        not image_deleted
        and not untag_superseded(witness.source_head, removed_at)
        and destination_has_tag(facts, destination, digest, witness.destination_head)
        and witness.listed is not False
    )


def on_untag_check(
    replica: Replica, facts: ImageFacts, now: datetime, witnesses: Mapping[str, TagWitness]
) -> tuple[ImageFacts, tuple[NewIncident, ...]]:
    """At the due time of tag removals the source made: DELETE_NOT_REPLICATED for each tag
    the destination still has (`witnesses`: per removed tag, what is known of it now)."""
    current = find(facts, replica.source, replica.destination)
    due = untag_due(current, now) if current is not None else ()
    if current is None or not due:
        return facts, ()
    facts = with_replica(facts, replace(current, untag_checks=current.untag_checks - set(due)))
    opened = tuple(
        NewIncident(documents.untag_alert(current, check, now), now)
        for check in due
        if untag_outstanding(
            facts,
            current.destination,
            current.digest,
            witnesses[check.tag],
            check.removed_at,
            current.source,
        )
    )
    return facts, opened


def on_drift_check(
    replica: Replica,
    facts: ImageFacts,
    now: datetime,
    registry_tags: tuple[str | None, str | None] | None,
    explained: bool,
) -> tuple[ImageFacts, tuple[NewIncident, ...]]:
    """A due, arrived, tagged replica: TAG_DRIFT when the destination registry's tag names
    another digest than the source's (`registry_tags`: (source's, destination's); None when
    the registries could not be asked: the check is given up for this replica)."""
    from chalicelib.core.drift import DriftCheck, drift_opens

    current = find(facts, replica.source, replica.destination)
    if current is None or not current.drift_check:
        return facts, ()
    checked = replace(current, drift_check=False)
    facts = with_replica(facts, checked)
    if registry_tags is None:
        return facts, ()
    source_digest, destination_digest = registry_tags
    check = DriftCheck(checked, source_digest, destination_digest, explained)
    if drift_opens(check) != "open" or source_digest is None:
        return facts, ()
    alert = documents.drift_alert(checked, source_digest, destination_digest, now)
    return facts, (NewIncident(alert, now),)


def recovery(opened: dict, facts: ImageFacts, now: datetime) -> dict | None:
    """The RECOVERED document for an open replica incident whose replica closed by `now`,
    timed by the earliest closing fact on the complete history; None while it is open."""
    replica = find(facts, Location(**opened["source"]), Location(**opened["destination"]))
    at = lifecycle.closed_at(replica, facts) if replica else None
    if replica is None or at is None or at > now:
        return None
    lag = replace(replica, replicated_at=at).lag_seconds if replica.state == "replicated" else None
    return documents.recovery_alert(opened, at, lag)
