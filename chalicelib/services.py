"""Write-side use cases: record facts and sweep, as `(input, deps)` on the ports.

Each use case reads what it needs, asks the pure core (domain.py, decisions.py) what follows,
and writes the outcome as one Commit: everything or nothing, so that a retry never finds a
half-written event. A commit that meets a concurrent writer is decided again on fresh reads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib import decisions, delivery, domain
from chalicelib.decisions import Counts, NewIncident
from chalicelib.domain import (
    ImageDeleted,
    ImagePushed,
    Location,
    Replica,
    ReplicationConfig,
    ReplicationReported,
    TagEntry,
)
from chalicelib.errors import RegistryUnavailable, RepositoryNotFound, SweepIncomplete
from chalicelib.observability import count, logger
from chalicelib.ports import (
    AlertChannel,
    Commit,
    Counters,
    Images,
    Incident,
    Incidents,
    LedgerConflict,
    Outbox,
    Registries,
    TagHistory,
    Work,
    WorkQueue,
    Writer,
)
from chalicelib.settings import Settings

SWEEP_BATCH = 500
COMMIT_ATTEMPTS = 5


@dataclass
class Deps:
    """The ports and the clock, built once by bootstrap.py (or by a test)."""

    settings: Settings
    images: Images
    tags: TagHistory
    incidents: Incidents
    outbox: Outbox
    counters: Counters
    work: WorkQueue
    writer: Writer
    channels: Sequence[AlertChannel]
    clock: Callable[[], datetime]
    registries: Registries | None = None  # with AUDIT_ROLE_NAME: the registries are asked
    discovery: Any = None  # with REPLICATION_SOURCES: a RuleDiscovery (registry_rules.py)

    def rules(self, now: datetime) -> ReplicationConfig:
        """REPLICATION_CONFIG, plus the rules read from ECR for REPLICATION_SOURCES."""
        if self.discovery is None:
            return self.settings.replication
        return self.discovery.rules(now).config  # type: ignore[no-any-return]


@dataclass
class Outcome:
    """The notifications a use case opened that can be delivered right away."""

    notes: list[delivery.Note] = field(default_factory=list)

    def opened(self, incidents: Sequence[NewIncident]) -> None:
        self.notes.extend(delivery.notes_for(incidents))


def _commit(decide: Callable[[], Commit | None], deps: Deps) -> Commit | None:
    """Decide and commit; on a conflict (a racing writer) decide again on fresh reads."""
    for _ in range(COMMIT_ATTEMPTS):
        commit = decide()
        if commit is None:
            return None
        try:
            deps.writer.commit(commit)
        except LedgerConflict:
            count("LedgerConflicts")
            continue
        return commit
    raise LedgerConflict(f"gave up after {COMMIT_ATTEMPTS} conflicting attempts")


def _opened(commit: Commit | None) -> list[NewIncident]:
    if commit is None:
        return []
    return [*commit.opened, *(i for change in commit.images for i in change.opened)]


# ----------------------------------------------------------------------------- recording facts


def untrusted(fact: domain.Fact, deps: Deps) -> str | None:
    """Why an event is not to be acted on: an unmonitored account, or a replication from a
    source whose rules do not send that repository to that destination. None: trusted."""
    settings, rules = deps.settings, deps.rules(fact.time)
    account = fact.location.account
    discovered = not settings.allowlist_explicit and account in rules.accounts()
    if not settings.accepts_account(account) and not discovered:
        return f"from unmonitored account {account}"
    if isinstance(fact, ReplicationReported) and not rules.names_replication(
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
    config, grace = deps.rules(fact.time), deps.settings.grace
    drift = deps.registries is not None

    def decide() -> Commit | None:
        record = deps.images.load(fact.repository, fact.digest)
        if fact.event_id in record.applied:
            return None  # a duplicate: one read, no write
        before = record.facts
        if isinstance(fact, ImagePushed):
            after = decisions.on_push(fact, before, config, grace, check_drift=drift)
        elif fact.tag is None:
            after = decisions.on_delete(fact.location, fact.time, before, config, grace)
        else:
            after = before  # a tag removal: judged by the sweep
        expects = isinstance(fact, ImagePushed) and domain.expected_replicas(config, fact, grace)
        return _event_commit(
            fact,
            decisions.change(fact.repository, fact.digest, before, after),
            deps,
            register=bool(expects),
        )

    _commit(decide, deps)
    return Outcome()


def record_replication(report: ReplicationReported, deps: Deps) -> Outcome:
    """A SUCCESS marks the replica present; a FAILED opens REPLICATION_FAILED unless superseded."""

    def decide() -> Commit | None:
        record = deps.images.load(report.repository, report.digest)
        if report.event_id in record.applied:
            return None
        after, opened = decisions.on_replication(report, record.facts)
        if not report.succeeded and not opened:
            count("SupersededEvents")
            logger.info(f"replication failure {report.event_id} superseded: recorded, no alert")
        change = decisions.change(report.repository, report.digest, record.facts, after, opened)
        return _event_commit(report, change, deps, register=report.tag is not None)

    outcome = Outcome()
    outcome.opened(_opened(_commit(decide, deps)))
    return outcome


def _event_commit(
    fact: domain.Fact, change: decisions.ImageChange, deps: Deps, register: bool
) -> Commit:
    entry = domain.tag_entry(fact)
    # Only replica locations have tag moves to judge; elsewhere the entry just moves the head.
    judge = entry is not None and deps.rules(fact.time).is_replica_location(
        entry.location, entry.repository
    )
    return Commit(
        event_id=fact.event_id,
        event_image=(fact.repository, fact.digest),
        event_time=fact.time,
        tag_entry=entry,
        judge_entry=judge,
        images=(change,),
        register=fact.repository if register else None,
    )


# ----------------------------------------------------------------------------- the sweep


@dataclass
class SweepReport:
    now: datetime
    checked: int = 0
    judged: int = 0
    failed: int = 0
    asked: int = 0  # digests looked up in destination registries
    # (destination, repository, digest) -> imagePushedAt there, for due pending replicas found
    found: dict[tuple[Location, str, str], datetime] = field(default_factory=dict)
    unreachable: set[Location] = field(default_factory=set)


MAX_REGISTRY_CHECKS = 2000  # digests asked of the registries per sweep, at most


def _ask_destinations(batch: Sequence[Work], deps: Deps, report: SweepReport) -> None:
    """Before anything goes missing, ask the destination registries for the due digests (an
    event may have been lost): batched per destination and repository, bounded per sweep. A
    registry that cannot be asked is logged once, and the sweep decides from what it knows."""
    if deps.registries is None:
        return
    wanted: dict[tuple[Location, str], set[str]] = {}
    for work in batch:
        replica = work.replica
        if work.kind == "due" and replica is not None and replica.state == "pending":
            wanted.setdefault((replica.destination, replica.repository), set()).add(replica.digest)
    for (destination, repository), digests in sorted(wanted.items()):
        if destination in report.unreachable or report.asked >= MAX_REGISTRY_CHECKS:
            continue
        report.asked += len(digests)
        try:
            found = deps.registries.find_digests(destination, repository, digests)
        except RepositoryNotFound:
            continue  # no repository there: the replicas are missing
        except RegistryUnavailable as error:
            report.unreachable.add(destination)
            count("RegistryChecksFailed")
            logger.warning(f"registry check skipped: {error}")
            continue
        for digest, pushed_at in found.items():
            report.found[(destination, repository, digest)] = pushed_at


def sweep(now: datetime, deps: Deps, has_time: Callable[[], bool] = lambda: True) -> SweepReport:
    """Audit as of `now`: every piece of work that has come due, oldest first, until none is
    left or the time budget runs out.

    Work is taken in the order it happened (a tag removal before a later due time, a due time
    before a later arrival), so the decisions are those of the complete history. Work a step
    creates (an incident to close, a notification to deliver) is picked up by the next round;
    stopping early loses nothing, since unfinished work stays in the queue for the next sweep.
    """
    report = SweepReport(now)
    done: set[str] = set()
    while has_time():
        batch = [w for w in deps.work.due_work(now, SWEEP_BATCH) if w.at not in done]
        if not batch:
            break
        _ask_destinations(batch, deps, report)
        for work in batch:
            if not has_time():
                break
            done.add(work.at)
            try:
                STEPS[work.kind](work, now, deps, report)
            except Exception as error:  # throttled, unreachable: the rest of the work goes on
                report.failed += 1
                count("SweepStepFailures")
                logger.warning(
                    f"sweep step {work.kind} failed and stays queued: {type(error).__name__}",
                    extra={"work": work.at[:300], "error": str(error)[:300]},
                )
    if report.failed:
        # Everything else is done; failing the invocation makes the failure visible (errors,
        # alarms) and lets the scheduler's retry pick up what is still queued.
        raise SweepIncomplete(f"{report.failed} sweep step(s) failed; they stay queued")
    return report


def _step_due(work: Work, now: datetime, deps: Deps, report: SweepReport) -> None:
    assert work.replica is not None
    replica = work.replica
    report.checked += 1
    due = replica.due_at is not None and replica.due_at <= now
    if replica.state == "pending" and due:
        _check_missing(replica, now, deps, report)
    elif replica.drift_check and due:
        _check_drift(replica, now, deps)
    if replica.deletion_check_at is not None and replica.deletion_check_at <= now:
        _check_deletion(replica, now, deps)


def _check_missing(replica: Replica, now: datetime, deps: Deps, report: SweepReport) -> None:
    found_at = report.found.get((replica.destination, replica.repository, replica.digest))
    reasons: dict[str, str | None] = {}

    def decide() -> Commit | None:
        record = deps.images.load(replica.repository, replica.digest)
        after, opened = decisions.on_due(replica, record.facts, now, found_at)
        if opened and deps.registries is not None:  # ECR's own view, for the alert
            if "reason" not in reasons:
                reasons["reason"] = _replication_status(replica, deps, report)
            after, opened = decisions.on_due(
                replica, record.facts, now, found_at, reasons["reason"]
            )
        change = decisions.change(replica.repository, replica.digest, record.facts, after, opened)
        return Commit(images=(change,)) if change.changed else None

    opened = _opened(_commit(decide, deps))
    if found_at is not None:
        count("LostEventsFound")  # the registry had it; no event ever said so
    count("IncidentsOpened", len(opened))


def _still_listed(replica: Replica, deps: Deps) -> bool | None:
    """Whether the destination registry still lists the digest (None: not asked)."""
    if deps.registries is None:
        return None
    try:
        found = deps.registries.find_digests(
            replica.destination, replica.repository, [replica.digest]
        )
    except RepositoryNotFound:
        return False
    except RegistryUnavailable as error:
        logger.warning(f"deletion not checked in the registry: {error}")
        return None
    return replica.digest in found


def _check_deletion(replica: Replica, now: datetime, deps: Deps) -> None:
    """The source deleted the image and its rule replicates deletions: by now the destination
    must not have it (DELETE_NOT_REPLICATED otherwise)."""
    listed: dict[str, bool | None] = {}

    def decide() -> Commit | None:
        record = deps.images.load(replica.repository, replica.digest)
        if "listed" not in listed:
            current = decisions.find(record.facts, replica.source, replica.destination)
            gone = current is not None and decisions.deletion_replicated(current, record.facts)
            listed["listed"] = None if gone else _still_listed(replica, deps)
        after, opened = decisions.on_deletion_check(replica, record.facts, now, listed["listed"])
        change = decisions.change(replica.repository, replica.digest, record.facts, after, opened)
        return Commit(images=(change,)) if change.changed else None

    count("DeletesNotReplicated", len(_opened(_commit(decide, deps))))


def _replication_status(replica: Replica, deps: Deps, report: SweepReport) -> str | None:
    assert deps.registries is not None
    if replica.source in report.unreachable:
        return None
    try:
        return deps.registries.replication_status(
            replica.source, replica.repository, replica.digest, replica.destination
        )
    except (RegistryUnavailable, RepositoryNotFound) as error:
        report.unreachable.add(replica.source)
        logger.warning(f"replication status not asked: {error}")
        return None


def _registry_tags(replica: Replica, deps: Deps) -> tuple[str | None, str | None] | None:
    """(source's, destination's) digest for the replica's tag; None if a registry is out."""
    assert deps.registries is not None and replica.tag is not None
    try:
        return (
            deps.registries.tag_digests(replica.source, replica.repository, [replica.tag]).get(
                replica.tag
            ),
            deps.registries.tag_digests(replica.destination, replica.repository, [replica.tag]).get(
                replica.tag
            ),
        )
    except RepositoryNotFound:
        return None
    except RegistryUnavailable as error:
        logger.warning(f"tag drift not checked: {error}")
        return None


def _check_drift(replica: Replica, now: datetime, deps: Deps) -> None:
    """A due, arrived, tagged replica: compare its tag in both registries (TAG_DRIFT)."""
    answers: dict[str, Any] = {}

    def decide() -> Commit | None:
        record = deps.images.load(replica.repository, replica.digest)
        current = decisions.find(record.facts, replica.source, replica.destination)
        asked = current is not None and current.state == "replicated" and current.tag
        if asked and deps.registries is not None and "tags" not in answers:
            answers["tags"] = _registry_tags(current, deps)  # type: ignore[arg-type]
        tags = answers.get("tags")
        explained = False
        if tags is not None and current is not None and current.tag:
            # the ledger saw the destination's tag move there: a TAG_OVERWRITTEN told of it
            heads = deps.tags.repository_tags(replica.repository).get(replica.destination, {})
            explained = heads.get(current.tag) == tags[1] != tags[0]
        after, opened = decisions.on_drift_check(replica, record.facts, now, tags, explained)
        change = decisions.change(replica.repository, replica.digest, record.facts, after, opened)
        return Commit(images=(change,)) if change.changed else None

    count("TagDrifts", len(_opened(_commit(decide, deps))))


def _step_untag(work: Work, now: datetime, deps: Deps, report: SweepReport) -> None:
    """A DELETE carrying a tag deletes the image there only if no other tag names its digest
    at that location as of the removal, judged on every tag's complete history."""
    removal = work.entry
    assert removal is not None and removal.removed_from is not None
    digest = removal.removed_from
    report.judged += 1

    def decide() -> Commit:
        record = deps.images.load(removal.repository, digest)
        before = record.facts
        presence = before.presence.get(removal.location)
        tags = {removal.tag, *(presence.tags if presence else ())}
        heads = deps.tags.heads_as_of(removal.location, removal.repository, tags, removal.time)
        after = before
        if domain.removal_deletes_image(removal, heads):
            config, grace = deps.rules(removal.time), deps.settings.grace
            after = decisions.on_delete(removal.location, removal.time, before, config, grace)
        change = decisions.change(removal.repository, digest, before, after)
        return Commit(images=(change,), judged=(removal,))

    _commit(decide, deps)


def _step_judge(work: Work, now: datetime, deps: Deps, report: SweepReport) -> None:
    """Judge a new tag entry against its neighbours in time, on the history known now."""
    entry = work.entry
    assert entry is not None
    report.judged += 1
    origins: dict[tuple[str, str, Location], frozenset[Location]] = {}

    def origin_of(e: TagEntry) -> domain.Origin:
        if e.kind != "push" or e.digest is None:
            return domain.classify(e, ())
        key = (e.repository, e.digest, e.location)
        if key not in origins:
            facts = deps.images.load(e.repository, e.digest).facts
            origins[key] = frozenset(
                r.source for r in facts.replicas if r.destination == e.location
            )
        return domain.classify(e, origins[key])

    def decide() -> Commit:
        before, after = deps.tags.neighbours(entry)
        pairs = []
        if before is not None:
            pairs.append((before, entry))
        if after is not None and after.time <= now:
            pairs.append((entry, after))  # a late entry changes its successor's predecessor
        opened = []
        for previous, current in pairs:
            previous_origin, current_origin = origin_of(previous), origin_of(current)
            cause = domain.overwrite_cause(previous, previous_origin, current, current_origin)
            if cause is None:
                continue
            alert = domain.overwrite_alert(
                previous, current, cause, current_origin, previous_origin, now
            )
            if deps.incidents.incident(alert["incident_id"]) is None:
                opened.append(NewIncident(alert, now, resolved_at_once=True))
        return Commit(
            opened=tuple(opened),
            judged=(entry,),
            counts=Counts(overwrites=tuple((now, 1) for _ in opened)),
        )

    count("TagOverwrites", len(_opened(_commit(decide, deps))))


def _step_close(work: Work, now: datetime, deps: Deps, report: SweepReport) -> None:
    """An open incident's replica closed: RECOVERED, timed by the earliest closing fact on the
    complete history (whichever of several closing events was delivered first)."""
    assert work.incident_id is not None
    incident_id = work.incident_id

    def decide() -> Commit:
        incident = deps.incidents.incident(incident_id)
        if incident is None or incident.state != "open":
            return Commit(closing_done=(incident_id,))
        opened = incident.alert
        if incident.kind == "TAG_DRIFT":
            return _drift_settled(incident, now, deps)
        if incident.kind == "DELETE_NOT_REPLICATED":
            return _deletion_settled(incident, now, deps)
        facts = deps.images.load(opened["repository"], opened["digest"]).facts
        recovery = decisions.recovery(opened, facts, now)
        if recovery is None:
            return Commit(closing_done=(incident_id,))
        return Commit(
            resolved=((incident, recovery),),
            closing_done=(incident_id,),
            counts=decisions.resolved_counts(incident.kind),
        )

    commit = _commit(decide, deps)
    if commit is not None and commit.resolved:
        count("IncidentsResolved")  # its notification is in the queue, due now


def _deletion_settled(incident: Incident, now: datetime, deps: Deps) -> Commit:
    """An open DELETE_NOT_REPLICATED: RECOVERED once the destination deleted the image (a
    DELETE there, or its registry no longer lists it); otherwise asked again later."""
    opened = incident.alert
    facts = deps.images.load(opened["repository"], opened["digest"]).facts
    replica = decisions.find(facts, Location(**opened["source"]), Location(**opened["destination"]))
    gone = replica is not None and (
        decisions.deletion_replicated(replica, facts) or _still_listed(replica, deps) is False
    )
    if not gone:
        return Commit(recheck=((incident.incident_id, now + decisions.DRIFT_RECHECK),))
    return Commit(
        resolved=((incident, domain.recovery_alert(opened, now, None)),),
        closing_done=(incident.incident_id,),
        counts=decisions.resolved_counts(incident.kind),
    )


def _drift_settled(incident: Incident, now: datetime, deps: Deps) -> Commit:
    """An open TAG_DRIFT: RECOVERED once the destination's tag names the source's digest
    again (or the source tag moved on or went); otherwise asked again later."""
    from chalicelib.drift import drift_recovery

    opened = incident.alert
    later = Commit(recheck=((incident.incident_id, now + decisions.DRIFT_RECHECK),))
    if deps.registries is None:
        return later
    source, destination = Location(**opened["source"]), Location(**opened["destination"])
    try:
        source_digest = deps.registries.tag_digests(source, opened["repository"], [opened["tag"]])
        destination_digest = deps.registries.tag_digests(
            destination, opened["repository"], [opened["tag"]]
        )
    except RepositoryNotFound:
        source_digest, destination_digest = {}, {}
    except RegistryUnavailable as error:
        logger.warning(f"tag drift not re-checked: {error}")
        return later
    why = drift_recovery(
        opened, source_digest.get(opened["tag"]), destination_digest.get(opened["tag"])
    )
    if why is None:
        return later
    recovery = domain.recovery_alert(opened, now, None)
    return Commit(
        resolved=((incident, recovery),),
        closing_done=(incident.incident_id,),
        counts=decisions.resolved_counts(incident.kind),
    )


def _step_deliver(work: Work, now: datetime, deps: Deps, report: SweepReport) -> None:
    assert work.incident_id is not None and work.note is not None
    delivery.deliver_pending(work.incident_id, work.note, deps)


STEPS: dict[str, Callable[[Work, datetime, Deps, SweepReport], None]] = {
    "due": _step_due,
    "untag": _step_untag,
    "judge": _step_judge,
    "close": _step_close,
    "deliver": _step_deliver,
}
