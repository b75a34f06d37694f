"""The core's decisions on one image: what a fact or a sweep step changes in its facts, and the
incidents, counter deltas and recoveries that follow. Pure: no I/O, only values.

Every function takes the image's facts as read and returns the new facts; `change()` derives
what the ledger must also write (counters, incidents to re-check) from the difference, so that
one transaction can record an event's consequences completely or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from chalicelib.core import documents, lifecycle
from chalicelib.core.judgement import TagEntry
from chalicelib.core.lifecycle import (
    OPEN_STATES,
    ImageFacts,
    ImagePushed,
    Location,
    Presence,
    Replica,
    ReplicationReported,
    UntagCheck,
)
from chalicelib.core.rules import ReplicationConfig

# A FAILED reported before its push waits this long for the push, so that the document that
# is published (and kept) names the push time whatever the delivery order.
DRIFT_RECHECK = timedelta(minutes=15)  # open TAG_DRIFT and DELETE_NOT_REPLICATED re-checks
FAILURE_HOLD = timedelta(minutes=2)

# Incidents the sweep re-checks in the registries until they are over.
RECHECKED = frozenset({"TAG_DRIFT", "DELETE_NOT_REPLICATED"})

# The replica states that have an incident open for them.
INCIDENT_OF_STATE = frozenset({"missing", "failed"})


@dataclass(frozen=True)
class NewIncident:
    """An incident to open with its OPEN notification, deliverable from `deliver_at`."""

    alert: dict
    deliver_at: datetime
    resolved_at_once: bool = False
    held: bool = False  # waits in the outbox until `deliver_at` (a failure before its push)


@dataclass(frozen=True)
class Counts:
    """Deltas of the status counters; time buckets count arrivals and overwrites."""

    pending: int = 0
    missing: int = 0
    failed: int = 0
    arrivals: tuple[tuple[datetime, int], ...] = ()
    overwrites: tuple[tuple[datetime, int], ...] = ()
    drifted: int = 0
    undeleted: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.pending + other.pending,
            self.missing + other.missing,
            self.failed + other.failed,
            self.arrivals + other.arrivals,
            self.overwrites + other.overwrites,
            self.drifted + other.drifted,
            self.undeleted + other.undeleted,
        )


@dataclass(frozen=True)
class ImageChange:
    """The new facts of one repository@digest and what follows from them."""

    repository: str
    digest: str
    before: ImageFacts
    after: ImageFacts
    opened: tuple[NewIncident, ...] = ()
    closed: tuple[tuple[str, datetime], ...] = ()  # (incident id, when its replica closed)
    counts: Counts = field(default_factory=Counts)
    # Documents of incidents already opened that move to an earlier fact (a failure delivered
    # after a later one): the stored incident follows, whatever order the events came in.
    restated: tuple[dict, ...] = ()

    @property
    def changed(self) -> bool:
        return self.before != self.after or bool(self.opened)


# --------------------------------------------------------------------------- facts


def find(facts: ImageFacts, source: Location, destination: Location) -> Replica | None:
    for replica in facts.replicas:
        if replica.source == source and replica.destination == destination:
            return replica
    return None


def with_replica(facts: ImageFacts, replica: Replica) -> ImageFacts:
    others = tuple(
        r
        for r in facts.replicas
        if (r.source, r.destination) != (replica.source, replica.destination)
    )
    ordered = sorted((*others, replica), key=lambda r: (r.destination, r.source))
    return replace(facts, replicas=tuple(ordered))


def _with_presence(facts: ImageFacts, location: Location, presence: Presence) -> ImageFacts:
    return replace(facts, presence={**facts.presence, location: presence})


def seen(facts: ImageFacts, location: Location, moment: datetime, tag: str | None) -> ImageFacts:
    """The digest is at `location` (under `tag`): keep the earliest sighting and every tag."""
    old = facts.presence.get(location, Presence())
    first = moment if old.first_seen is None else min(old.first_seen, moment)
    tags = old.tags | {tag} if tag else old.tags
    return _with_presence(facts, location, replace(old, first_seen=first, tags=tags))


def deleted(facts: ImageFacts, location: Location, moment: datetime) -> ImageFacts:
    old = facts.presence.get(location, Presence())
    return _with_presence(facts, location, replace(old, deletions=old.deletions | {moment}))


def expect(facts: ImageFacts, replica: Replica) -> ImageFacts:
    """Create a pending replica, or move a known one's push (and due time) earlier."""
    old = find(facts, replica.source, replica.destination)
    if old is None:
        return with_replica(facts, replica)
    if replica.pushed_at is None or (old.pushed_at and _earlier_or_same(old, replica)):
        return facts
    moved = replace(old, pushed_at=replica.pushed_at, due_at=replica.due_at, tag=replica.tag)
    return with_replica(facts, replace(moved, drift_check=old.drift_check or replica.drift_check))


def _earlier_or_same(old: Replica, new: Replica) -> bool:
    """Whether the known push stands against `new`'s: the earlier push wins; two pushes in the
    same second (`docker push app:v1 && docker push app:latest`) are told apart by their tag,
    so that every delivery order names the same replica tag."""
    assert old.pushed_at is not None and new.pushed_at is not None
    if old.pushed_at != new.pushed_at:
        return old.pushed_at < new.pushed_at
    return (old.tag or "") <= (new.tag or "")


def reconcile_all(facts: ImageFacts) -> ImageFacts:
    """Apply what the facts imply to every replica: arrivals, earlier arrivals, cancellations."""
    for replica in facts.replicas:
        decision = lifecycle.reconcile(replica, facts)
        if decision is None:
            continue
        action, at = decision
        if action == "cancel":
            updated = replace(replica, state="cancelled")
        else:
            updated = replace(replica, state="replicated", replicated_at=at)
        facts = with_replica(facts, updated)
    return facts


# --------------------------------------------------------------------------- events


def on_push(
    push: ImagePushed,
    facts: ImageFacts,
    config: ReplicationConfig,
    grace: timedelta,
    check_drift: bool = False,
) -> ImageFacts:
    """A push: seen where it happened, and (at a source) one expected replica per destination;
    with `check_drift` (the registries can be asked) each is due for a TAG_DRIFT check too."""
    facts = seen(facts, push.location, push.time, push.tag)
    for replica in lifecycle.expected_replicas(config, push, grace):
        facts = expect(facts, replace(replica, drift_check=check_drift))
    return reconcile_all(facts)


def on_delete(
    location: Location,
    moment: datetime,
    facts: ImageFacts,
    config: ReplicationConfig | None = None,
    grace: timedelta | None = None,
) -> ImageFacts:
    """The image is gone at `location` (an untagged DELETE, or its last tag removed). Where the
    source's rule replicates deletions, each destination that has the image must lose it too
    within the grace period: a check is due then (DELETE_NOT_REPLICATED)."""
    facts = reconcile_all(deleted(facts, location, moment))
    if config is None or grace is None:
        return facts
    for replica in facts.replicas:
        if replica.source != location or replica.state != "replicated":
            continue
        if replica.destination not in config.deletions_replicated_to(location, replica.repository):
            continue
        due = moment + grace
        if replica.deletion_check_at is None or due < replica.deletion_check_at:
            facts = with_replica(facts, replace(replica, deletion_check_at=due))
    return facts


def on_untag(
    removal: TagEntry, facts: ImageFacts, config: ReplicationConfig, grace: timedelta
) -> ImageFacts:
    """The source removed a tag and the image kept another one. Where its rule replicates
    deletions ("image deletions and image tag removals"), each destination of the image must
    drop that tag too within the grace period: a check is due then (DELETE_NOT_REPLICATED)."""
    covered = config.deletions_replicated_to(removal.location, removal.repository)
    check = UntagCheck(removal.time + grace, removal.time, removal.tag)
    for replica in facts.replicas:
        if replica.source != removal.location or replica.destination not in covered:
            continue
        if replica.state != "cancelled" and check not in replica.untag_checks:
            facts = with_replica(
                facts, replace(replica, untag_checks=replica.untag_checks | {check})
            )
    return facts


def on_replication(
    report: ReplicationReported, facts: ImageFacts
) -> tuple[ImageFacts, tuple[NewIncident, ...]]:
    """A SUCCESS marks the replica present; a FAILED that is news opens REPLICATION_FAILED.

    An untagged SUCCESS (a platform or attestation manifest of an index) only records the
    digest as present: the replica it completes, if any, is expected by a tagged push.
    """
    if report.tag is not None or not report.succeeded:
        facts = expect(facts, lifecycle.replica_from_report(report))
    if report.succeeded:
        facts = seen(facts, report.location, report.time, report.tag)
        return reconcile_all(facts), ()
    replica = find(facts, report.source, report.location)
    assert replica is not None  # expect() just made sure of it
    if not lifecycle.failure_is_news(replica, facts):
        if replica.state == "failed" and replica.failed_at and report.time < replica.failed_at:
            # an earlier failure delivered late: the incident follows the earliest one
            earlier = replace(replica, failed_at=report.time, failure_reason=report.failure_reason)
            facts = with_replica(facts, earlier)
        return reconcile_all(facts), ()
    failed = replace(
        replica, state="failed", failed_at=report.time, failure_reason=report.failure_reason
    )
    held = replica.pushed_at is None  # wait briefly for the push, so the document is whole
    deliver_at = report.time + FAILURE_HOLD if held else report.time
    incident = NewIncident(failure_alert(failed), deliver_at, held=held)
    return with_replica(facts, failed), (incident,)


def failure_alert(replica: Replica) -> dict:
    """The REPLICATION_FAILED document, built from the replica alone (order-independent)."""
    assert replica.failed_at is not None
    return documents.replica_alert(
        "REPLICATION_FAILED", replica, replica.failed_at, failure_reason=replica.failure_reason
    )


# --------------------------------------------------------------------------- consequences


def deletion_replicated(replica: Replica, facts: ImageFacts) -> bool:
    """The destination recorded a deletion of the image since the source's own."""
    deleted_at = facts.deleted_since(replica.source, replica.pushed_at)
    return (
        deleted_at is not None and facts.deleted_since(replica.destination, deleted_at) is not None
    )


def _pending(replicas: Iterable[Replica]) -> int:
    return sum(1 for r in replicas if r.state == "pending" and r.due_at is not None)


def change(
    repository: str,
    digest: str,
    before: ImageFacts,
    after: ImageFacts,
    opened: tuple[NewIncident, ...] = (),
) -> ImageChange:
    """What the ledger writes besides the facts: counter deltas and incidents to re-check."""
    arrivals: list[tuple[datetime, int]] = []
    closed: list[tuple[str, datetime]] = []
    restated: list[dict] = []
    old = {(r.source, r.destination): r for r in before.replicas}
    for replica in after.replicas:
        was = old.get((replica.source, replica.destination))
        if _failure_restated(was, replica) and not any(
            i.alert["incident_id"] == documents.incident_id_for("REPLICATION_FAILED", replica)
            for i in opened
        ):
            restated.append(failure_alert(replica))
        was_at = was.replicated_at if was and was.state == "replicated" else None
        now_at = replica.replicated_at if replica.state == "replicated" else None
        if was_at != now_at:
            if was_at is not None:
                arrivals.append((was_at, -1))
            if now_at is not None:
                arrivals.append((now_at, 1))
        if was is not None and was.state in INCIDENT_OF_STATE and replica.state not in OPEN_STATES:
            at = lifecycle.closed_at(replica, after)
            # a missing replica can fail as well: then both incidents are open for it
            closing: tuple[documents.AlertKind, ...] = (
                ("REPLICA_MISSING", "REPLICATION_FAILED")
                if was.state == "failed"
                else ("REPLICA_MISSING",)
            )
            if at is not None:
                closed.extend((documents.incident_id_for(kind, was), at) for kind in closing)
        closed.extend(_deletion_closing(was, replica, before, after))
    opened_kinds = [i.alert["kind"] for i in opened if not i.resolved_at_once]
    for incident in opened:
        if incident.alert["kind"] in RECHECKED:  # re-checked until the registries agree
            closed.append((incident.alert["incident_id"], incident.deliver_at + DRIFT_RECHECK))
    counts = Counts(
        pending=_pending(after.replicas) - _pending(before.replicas),
        missing=opened_kinds.count("REPLICA_MISSING"),
        failed=opened_kinds.count("REPLICATION_FAILED"),
        arrivals=tuple(arrivals),
        drifted=opened_kinds.count("TAG_DRIFT"),
        undeleted=opened_kinds.count("DELETE_NOT_REPLICATED"),
    )
    return ImageChange(
        repository, digest, before, after, opened, tuple(closed), counts, tuple(restated)
    )


def _deletion_closing(
    was: Replica | None, replica: Replica, before: ImageFacts, after: ImageFacts
) -> list[tuple[str, datetime]]:
    """The destination's deletion of an image the source deleted, once its deletion check has
    run (a DELETE_NOT_REPLICATED may be open): that incident's closing, due at the deletion, so
    that the next sweep recovers it rather than the periodic re-check."""
    if was is None or replica.deletion_check_at is not None or deletion_replicated(was, before):
        return []
    if not deletion_replicated(replica, after):
        return []
    deleted_at = after.deleted_since(replica.source, replica.pushed_at)
    there = after.deleted_since(replica.destination, deleted_at) if deleted_at else None
    if deleted_at is None or there is None:
        return []
    return [(documents.undeleted_incident_id(replica, deleted_at), there)]


def _failure_restated(was: Replica | None, now: Replica) -> bool:
    """An open REPLICATION_FAILED's document follows its replica: to an earlier failure
    delivered late, or to an earlier push of the image learnt after the failure (whose tag,
    push and due times the document names), so that it does not depend on the delivery order."""
    if was is None or not was.state == now.state == "failed":
        return False
    if was.failed_at is None or now.failed_at is None:
        return False
    return failure_alert(was) != failure_alert(now)


def resolved_counts(kind: str) -> Counts:
    """The counters' change when an open incident of `kind` is resolved."""
    return Counts(
        missing=-1 if kind == "REPLICA_MISSING" else 0,
        failed=-1 if kind == "REPLICATION_FAILED" else 0,
        drifted=-1 if kind == "TAG_DRIFT" else 0,
        undeleted=-1 if kind == "DELETE_NOT_REPLICATED" else 0,
    )
