"""Use cases: record facts, sweep, deliver alerts and answer queries, as `(input, deps)`.

Each use case reads the ledger, asks the pure core (domain.py) what to decide, and writes the
outcome back with conditional writes, so duplicates and races are no-ops.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from chalicelib import domain
from chalicelib.domain import (
    OPEN_STATES,
    ImageDeleted,
    ImageFacts,
    ImagePushed,
    Location,
    Replica,
    ReplicationReported,
    TagEntry,
)
from chalicelib.errors import DeliveryFailed
from chalicelib.observability import logger, metrics
from chalicelib.settings import Settings

if TYPE_CHECKING:  # the composition root supplies the adapter; only its type is named here
    from chalicelib.adapters.dynamodb import DynamoLedger, Notification

MAX_SLACK_TRIES = 5
DELIVERY_LEASE = timedelta(minutes=2)
SWEEP_BATCH = 1000


class AlertChannel(Protocol):
    name: str

    def send(self, alert: dict[str, Any]) -> None: ...


@dataclass
class Deps:
    """The ports and the clock, built once by bootstrap.py (or by a test)."""

    settings: Settings
    ledger: DynamoLedger
    channels: Sequence[AlertChannel]
    clock: Callable[[], datetime]

    @property
    def channel_names(self) -> frozenset[str]:
        return frozenset(c.name for c in self.channels)


@dataclass
class Outcome:
    """What one use case did: the notifications it queued, to deliver right after."""

    notes: list[tuple[str, str]] = field(default_factory=list)


def _count(name: str, value: int = 1) -> None:
    from aws_lambda_powertools.metrics import MetricUnit

    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


# ----------------------------------------------------------------------------- recording facts


def untrusted(fact: domain.Fact, deps: Deps) -> str | None:
    """Why an event is not to be acted on: an unmonitored account, or a replication from a
    source whose rules do not send that repository to that destination. None: trusted."""
    settings = deps.settings
    if not settings.accepts_account(fact.location.account):
        return f"from unmonitored account {fact.location.account}"
    if isinstance(fact, ReplicationReported) and not settings.replication.names_replication(
        fact.source, fact.location, fact.repository
    ):
        return (
            f"replication of {fact.repository} from {fact.source} to {fact.location}, "
            "which no configured rule names"
        )
    return None


def record_image_action(fact: ImagePushed | ImageDeleted, deps: Deps) -> Outcome:
    """A PUSH or DELETE where it happened: tag history, presence, expectations, reconciliation.

    A DELETE that carries a tag removes that tag; whether it also deleted the image (its last
    tag there) is judged by the sweep on the complete tag history.
    """
    settings, ledger = deps.settings, deps.ledger
    outcome = Outcome()
    _record_tag(fact, deps)
    if isinstance(fact, ImagePushed):
        ledger.record_presence(fact.location, fact.repository, fact.digest, fact.time, fact.tag)
        expected = domain.expected_replicas(settings.replication, fact, settings.grace)
        for replica in expected:
            ledger.expect(replica)
        if expected:  # also on a retry whose first attempt created the replicas
            ledger.register_repository(fact.repository)
    elif fact.tag is None:
        ledger.record_deletion(fact.location, fact.repository, fact.digest, fact.time)
    else:
        return outcome  # a tag removal: nothing else changed until the sweep judges it
    _reconcile_image(fact.repository, fact.digest, deps)
    return outcome


def record_replication(report: ReplicationReported, deps: Deps) -> Outcome:
    """A SUCCESS marks the replica present; a FAILED opens REPLICATION_FAILED unless superseded.

    An untagged SUCCESS (a platform or attestation manifest of an index) only records the
    digest as present: the replica it completes, if any, is expected by a tagged push.
    """
    ledger = deps.ledger
    outcome = Outcome()
    if report.tag is not None or not report.succeeded:
        ledger.ensure_replica(domain.replica_from_report(report))
    if report.succeeded:
        _record_tag(report, deps)
        ledger.record_presence(
            report.location, report.repository, report.digest, report.time, report.tag
        )
        _reconcile_image(report.repository, report.digest, deps)
        return outcome

    facts = ledger.image_facts(report.repository, report.digest)
    replica = _find(facts, report.source, report.location)
    if replica is None:  # pragma: no cover - ensure_replica just created it
        return outcome
    if not domain.failure_is_news(replica, facts):
        if replica.state == "failed" and facts.present_at(report.location) is None:
            _revise_failure_incident(replica, deps, earlier_failure=report)
        _count("SupersededEvents")
        logger.info(
            "replication failure superseded: no longer expected, or already failed",
            extra={
                "event_id": report.event_id,
                "replica": replica.replica_id,
                "state": replica.state,
            },
        )
        _reconcile_image(report.repository, report.digest, deps, facts)
        return outcome
    alert = domain.replica_alert(
        "REPLICATION_FAILED", replica, report.time, failure_reason=report.failure_reason
    )
    if ledger.open_incident(
        alert,
        deps.channel_names,
        replica=replica,
        to_state="failed",
        from_states=("pending", "missing"),
    ):
        outcome.notes.append((alert["incident_id"], "OPEN"))
        _count("IncidentsOpened")
    return outcome


def _record_tag(fact: domain.Fact, deps: Deps) -> None:
    entry = domain.tag_entry(fact)
    if entry is None:
        return
    # Only replica locations have tag moves to judge; elsewhere the entry just moves the head.
    judge = deps.settings.replication.is_replica_location(entry.location, entry.repository)
    deps.ledger.record_tag(entry, judge=judge)


def _find(facts: ImageFacts, source: Location, destination: Location) -> Replica | None:
    for replica in facts.replicas:
        if replica.source == source and replica.destination == destination:
            return replica
    return None


def _reconcile_image(
    repository: str, digest: str, deps: Deps, facts: ImageFacts | None = None
) -> None:
    """Apply what the image's facts imply to each of its replicas."""
    facts = facts or deps.ledger.image_facts(repository, digest)
    for replica in facts.replicas:
        if not _apply(replica, facts, deps) and replica.state == "failed":
            _revise_failure_incident(replica, deps)


def _revise_failure_incident(
    replica: Replica, deps: Deps, earlier_failure: ReplicationReported | None = None
) -> None:
    """Keep an open REPLICATION_FAILED document independent of the delivery order: it shows the
    replica's earliest push (a failure can be reported before its push) and its earliest
    failure (a later failure can be delivered first)."""
    incident_id = domain.incident_id_for("REPLICATION_FAILED", replica)
    incident = deps.ledger.incident(incident_id)
    if not incident or incident["state"] != "open":
        return
    alert = json.loads(incident["alert"])
    revised = dict(alert)
    if replica.pushed_at is not None:
        revised.update(
            pushed_at=domain.format_time(replica.pushed_at),
            due_at=domain.format_time(replica.due_at),
            tag=replica.tag,
        )
    if earlier_failure is not None and domain.iso(earlier_failure.time) < alert["detected_at"]:
        revised.update(
            detected_at=domain.iso(earlier_failure.time),
            failure_reason=earlier_failure.failure_reason,
        )
    if revised == alert:
        return
    document = domain.alert_document(
        **{k: revised[k] for k in domain.ALERT_KEYS if k not in ("schema", "severity", "summary")}
    )
    deps.ledger.replace_incident_alert(incident_id, incident["alert"], document)


def _apply(replica: Replica, facts: ImageFacts, deps: Deps) -> bool:
    """Arrive or cancel the replica if the facts say so; True if that changed it."""
    decision = domain.reconcile(replica, facts)
    if decision is None:
        return False
    action, at = decision
    if action == "arrive":
        return _arrive(replica, at, deps)
    if action == "arrived_earlier":
        if deps.ledger.correct_arrival(replica, at):
            deps.ledger.record_arrival(replica, at, replaces=replica.replicated_at)
            return True
        return False
    return _cancel(replica, at, deps)


def _arrive(replica: Replica, at: datetime, deps: Deps) -> bool:
    old = deps.ledger.transition(replica, "replicated", (*OPEN_STATES, "cancelled"), at)
    if old is None:
        return False
    deps.ledger.record_arrival(old, at)
    _count("ReplicasArrived")
    return True


def _cancel(replica: Replica, at: datetime, deps: Deps) -> bool:
    old = deps.ledger.transition(replica, "cancelled", tuple(OPEN_STATES), at)
    if old is None:
        return False
    _count("ReplicasCancelled")
    return True


# ----------------------------------------------------------------------------- the sweep


@dataclass
class SweepReport:
    now: datetime
    checked: int = 0
    judged: int = 0
    outcome: Outcome = field(default_factory=Outcome)


def sweep(now: datetime, deps: Deps, has_time: Callable[[], bool] = lambda: True) -> SweepReport:
    """Audit as of `now`: tag removals, overdue replicas, closed incidents, unjudged tag moves,
    then the alert outbox.

    `has_time` lets a Lambda stop before its timeout; what is left stays in the indexes for
    the next sweep, so stopping early loses nothing.
    """
    report = SweepReport(now)
    _judge_removals(now, deps, report, has_time)  # first: a deleted image expects nothing
    _sweep_overdue(now, deps, report, has_time)
    _close_recovered(now, deps, report, has_time)
    _judge_tag_moves(now, deps, report, has_time)
    drain_outbox(deps, has_time)
    return report


def _judge_removals(
    now: datetime, deps: Deps, report: SweepReport, has_time: Callable[[], bool]
) -> None:
    """A DELETE carrying a tag deletes the image there only if no other tag names its digest
    at that location as of the removal, judged on every tag's complete history."""
    ledger = deps.ledger
    for removal in ledger.unjudged_entries(now, SWEEP_BATCH, removals=True):
        if not has_time():
            return
        report.judged += 1
        digest = removal.removed_from
        if digest is not None:
            facts = ledger.image_facts(removal.repository, digest)
            presence = facts.presence.get(removal.location)
            tags = {removal.tag, *(presence.tags if presence else ())}
            heads = ledger.tag_heads_as_of(removal.location, removal.repository, tags, removal.time)
            if domain.removal_deletes_image(removal, heads):
                ledger.record_deletion(removal.location, removal.repository, digest, removal.time)
                _reconcile_image(removal.repository, digest, deps)
        ledger.mark_judged(removal)  # last: a crash before it judges the removal again


def _sweep_overdue(
    now: datetime, deps: Deps, report: SweepReport, has_time: Callable[[], bool]
) -> None:
    ledger = deps.ledger
    images: dict[tuple[str, str], ImageFacts] = {}
    for due in ledger.due_replicas(now, SWEEP_BATCH):
        if not has_time():
            return
        report.checked += 1
        key = (due.repository, due.digest)
        if key not in images:
            images[key] = ledger.image_facts(*key)
        facts = images[key]
        replica = _find(facts, due.source, due.destination) or due
        if _apply(replica, facts, deps):
            continue  # a racing arrival or delete that the events left unapplied
        if not domain.is_overdue(replica, now):
            continue
        alert = domain.replica_alert("REPLICA_MISSING", replica, now)
        if ledger.open_incident(
            alert, deps.channel_names, replica=replica, to_state="missing", from_states=("pending",)
        ):
            report.outcome.notes.append((alert["incident_id"], "OPEN"))
            _count("IncidentsOpened")


def _close_recovered(
    now: datetime, deps: Deps, report: SweepReport, has_time: Callable[[], bool]
) -> None:
    """Close open incidents whose replica arrived or was cancelled by `now`.

    Recoveries are decided here rather than by the event that closes the replica, so that the
    closing time (and lag) is the earliest on the complete history, whichever of several
    closing events (a SUCCESS, a PUSH, a DELETE) happened to be delivered first.
    """
    images: dict[tuple[str, str], ImageFacts] = {}
    for opened in deps.ledger.open_incidents():
        if not has_time():
            return
        key = (opened["repository"], opened["digest"])
        if key not in images:
            images[key] = deps.ledger.image_facts(*key)
        source = Location(**opened["source"])
        destination = Location(**opened["destination"])
        replica = _find(images[key], source, destination)
        at = domain.closed_at(replica, images[key]) if replica else None
        if replica is None or at is None or at > now:
            continue
        lag = domain.with_state(replica, replicated_at=at).lag_seconds
        recovery = domain.recovery_alert(opened, at, lag if replica.state == "replicated" else None)
        if deps.ledger.resolve_incident(opened["incident_id"], recovery, deps.channel_names):
            report.outcome.notes.append((opened["incident_id"], "RECOVERED"))
            _count("IncidentsResolved")


def _judge_tag_moves(
    now: datetime, deps: Deps, report: SweepReport, has_time: Callable[[], bool]
) -> None:
    """Judge each new tag entry against its neighbours in time, on the history known now."""
    ledger = deps.ledger
    origins: dict[tuple[str, str, Location], frozenset[Location]] = {}

    def origin_of(entry: TagEntry) -> domain.Origin:
        if entry.kind != "push" or entry.digest is None:
            return domain.classify(entry, ())
        key = (entry.repository, entry.digest, entry.location)
        if key not in origins:
            facts = ledger.image_facts(entry.repository, entry.digest)
            origins[key] = frozenset(
                r.source for r in facts.replicas if r.destination == entry.location
            )
        return domain.classify(entry, origins[key])

    for entry in ledger.unjudged_entries(now, SWEEP_BATCH):
        if not has_time():
            return
        report.judged += 1
        before, after = ledger.neighbours(entry)
        pairs = []
        if before is not None:
            pairs.append((before, entry))
        if after is not None and after.time <= now:
            pairs.append((entry, after))  # a late entry changes its successor's predecessor
        for previous, current in pairs:
            previous_origin, current_origin = origin_of(previous), origin_of(current)
            cause = domain.overwrite_cause(previous, previous_origin, current, current_origin)
            if cause is None:
                continue
            alert = domain.overwrite_alert(
                previous, current, cause, current_origin, previous_origin, now
            )
            if ledger.open_incident(alert, deps.channel_names, resolved_at_once=True):
                report.outcome.notes.append((alert["incident_id"], "OPEN"))
                _count("TagOverwrites")
        ledger.mark_judged(entry)


# ----------------------------------------------------------------------------- delivery


def deliver(notes: Iterable[tuple[str, str]], deps: Deps) -> None:
    """Deliver the notifications a use case just queued; failures stay in the outbox."""
    for incident_id, note in notes:
        notification = deps.ledger.notification(incident_id, note)
        if notification is not None and notification.pending:
            _deliver_one(notification, deps)


def drain_outbox(deps: Deps, has_time: Callable[[], bool] = lambda: True) -> None:
    """Retry everything still undelivered (run by every sweep)."""
    for notification in deps.ledger.outbox(SWEEP_BATCH):
        if not has_time():
            return
        _deliver_one(notification, deps)


def _deliver_one(notification: Notification, deps: Deps) -> None:
    now = deps.clock()
    if not deps.ledger.claim(notification, now, DELIVERY_LEASE):
        return  # another invocation holds it
    remaining = set(notification.pending) & deps.channel_names
    slack_tries = notification.slack_tries
    alert = notification.alert
    for channel in deps.channels:
        if channel.name not in remaining:
            continue
        try:
            channel.send(alert)
        except DeliveryFailed as error:
            _count(f"{channel.name.capitalize()}DeliveryFailures")
            if channel.name != "slack":
                logger.warning(
                    "alert delivery failed; will retry on the next sweep",
                    extra={
                        "channel": channel.name,
                        "incident_id": alert["incident_id"],
                        "error": str(error),
                    },
                )
                continue
            slack_tries += 1
            if slack_tries >= MAX_SLACK_TRIES:
                remaining.discard(channel.name)
                _count("SlackDeliveryAbandoned")
                logger.error(
                    "giving up on Slack delivery",
                    extra={
                        "incident_id": alert["incident_id"],
                        "tries": slack_tries,
                        "error": str(error),
                    },
                )
            else:
                logger.warning(
                    "Slack delivery failed; will retry on the next sweep",
                    extra={
                        "incident_id": alert["incident_id"],
                        "tries": slack_tries,
                        "error": str(error),
                    },
                )
            continue
        remaining.discard(channel.name)
        _count("AlertsDelivered")
        logger.info(
            "alert delivered",
            extra={
                "channel": channel.name,
                "incident_id": alert["incident_id"],
                "kind": alert["kind"],
            },
        )
    deps.ledger.settle(notification, frozenset(remaining), slack_tries, now)
