"""The sweep: every piece of work that has come due, oldest first, decided on the complete
history (overdue replicas, tag removals and overwrites, closed incidents, notifications)."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from chalicelib.core import decisions, documents, judgement, verdicts
from chalicelib.core.decisions import Counts, NewIncident
from chalicelib.core.errors import RegistryUnavailable, RepositoryNotFound, SweepIncomplete
from chalicelib.core.judgement import TagEntry
from chalicelib.core.lifecycle import ImageFacts, Location, Replica
from chalicelib.observability import count, logger
from chalicelib.ports import Commit, Deps, Work
from chalicelib.usecases import delivery, pins, registry_checks
from chalicelib.usecases.commits import commit, opened_incidents

SWEEP_BATCH = 500


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

    A ledger still in an earlier layout is migrated first (deps.layout), as far as time allows.

    Each step waits on a few DynamoDB requests, one after another: `deps.sweep_workers` lanes
    run at once, so that one invocation decides several times as much. A lane is a repository
    (its steps read and judge the same images and tags, and keep their order) or an incident
    (its notifications, in order). An incident's closing step runs once the repositories'
    lanes of its batch are done: it decides on the image's facts, which those steps change
    (deciding on facts about to change, it would drop the closing another step just queued).
    """
    report = SweepReport(now)
    if deps.layout is not None and deps.layout.needs_migration():
        # The first sweep after an upgrade moves the ledger to this release's layout (events
        # are refused meanwhile, and retried by Lambda); then it audits as usual.
        migration = deps.layout.migrate(now, has_time, logger.info)
        if not migration.done:
            return report
    _workloads(now, deps, has_time)
    done: set[str] = set()
    with _pool(deps.sweep_workers) as run:
        while has_time():
            batch = [w for w in deps.work.due_work(now, SWEEP_BATCH) if w.at not in done]
            if not batch:
                break
            _ask_destinations(batch, deps, report)
            for phase in _phases(batch):
                for lane in run(lambda lane: _run_lane(lane, now, deps, report, has_time), phase):
                    done.update(lane.done)
                    report.checked += lane.checked
                    report.judged += lane.judged
                    report.failed += lane.failed
    if report.failed:
        # Everything else is done; failing the invocation makes the failure visible (errors,
        # alarms) and lets the scheduler's retry pick up what is still queued.
        raise SweepIncomplete(f"{report.failed} sweep step(s) failed; they stay queued")
    return report


Lane = list[Work]


def _workloads(now: datetime, deps: Deps, has_time: Callable[[], bool]) -> None:
    """Inventories due a read and pinned digests first, so that this sweep's alerts name what
    runs; a failure here (the ledger throttled) is logged and retried by the next sweep, and
    never stops the sweep's own work."""
    try:
        pins.sweep_workloads(now, deps, has_time)
    except Exception as error:
        count("SweepStepFailures")
        logger.warning(f"workload discovery failed: {type(error).__name__}: {str(error)[:300]}")


def _phases(batch: Sequence[Work]) -> tuple[list[Lane], list[Lane]]:
    """The batch's work by lane, each in the batch's (time) order: first every lane but the
    closings, then the closings."""
    lanes: dict[str, Lane] = {}
    closings: dict[str, Lane] = {}
    for work in batch:
        into = closings if work.kind == "close" else lanes
        into.setdefault(_lane_of(work), []).append(work)
    return list(lanes.values()), list(closings.values())


def _lane_of(work: Work) -> str:
    if work.replica is not None:
        return f"repository {work.replica.repository}"
    if work.entry is not None:
        return f"repository {work.entry.repository}"
    return f"incident {work.incident_id}"


@dataclass
class _LaneReport:
    done: list[str] = field(default_factory=list)
    checked: int = 0
    judged: int = 0
    failed: int = 0


def _run_lane(
    lane: Lane, now: datetime, deps: Deps, shared: SweepReport, has_time: Callable[[], bool]
) -> _LaneReport:
    # Each lane counts in a report of its own (merged by the caller, in one thread); what the
    # registries said is shared: dict reads and set additions are atomic.
    mine = SweepReport(now, found=shared.found, unreachable=shared.unreachable)
    result = _LaneReport()
    for work in lane:
        if not has_time():
            break
        result.done.append(work.at)
        try:
            STEPS[work.kind](work, now, deps, mine)
        except Exception as error:  # throttled, unreachable: the rest of the work goes on
            result.failed += 1
            count("SweepStepFailures")
            logger.warning(
                f"sweep step {work.kind} failed and stays queued: {type(error).__name__}",
                extra={"work": work.at[:300], "error": str(error)[:300]},
            )
    result.checked, result.judged = mine.checked, mine.judged
    return result


@contextmanager
def _pool(workers: int) -> Iterator[Callable[..., Iterator[_LaneReport]]]:
    """`run(function, lanes)`: the lanes' reports, from `workers` threads (1: in this one)."""
    if workers <= 1:
        yield lambda function, lanes: map(function, lanes)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sweep") as pool:

        def run(
            function: Callable[[Lane], _LaneReport], lanes: list[Lane]
        ) -> Iterator[_LaneReport]:
            # each lane in a copy of this context: the invocation's patience goes with it
            contexts = [contextvars.copy_context() for _ in lanes]
            return pool.map(lambda c, lane: c.run(function, lane), contexts, lanes)

        yield run


def _step_due(work: Work, now: datetime, deps: Deps, report: SweepReport) -> None:
    assert work.replica is not None
    replica = work.replica
    report.checked += 1
    due = replica.due_at is not None and replica.due_at <= now
    if replica.state == "pending" and due:
        _check_missing(replica, now, deps, report)
        found = (replica.destination, replica.repository, replica.digest) in report.found
        if replica.drift_check and found:  # arrived, as the registry says: its tag is due too
            registry_checks.check_drift(replica, now, deps)
    elif replica.drift_check and due:
        registry_checks.check_drift(replica, now, deps)
    if replica.deletion_check_at is not None and replica.deletion_check_at <= now:
        registry_checks.check_deletion(replica, now, deps)
    if verdicts.untag_due(replica, now):
        registry_checks.check_untags(replica, now, deps)


def _check_missing(replica: Replica, now: datetime, deps: Deps, report: SweepReport) -> None:
    found_at = report.found.get((replica.destination, replica.repository, replica.digest))
    reasons: dict[str, str | None] = {}

    def decide() -> Commit | None:
        record = deps.images.load(replica.repository, replica.digest)
        after, opened = verdicts.on_due(replica, record.facts, now, found_at)
        if opened and deps.registries is not None:  # ECR's own view, for the alert
            if "reason" not in reasons:
                reasons["reason"] = registry_checks.replication_status(
                    replica, deps, report.unreachable
                )
            after, opened = verdicts.on_due(replica, record.facts, now, found_at, reasons["reason"])
        change = decisions.change(replica.repository, replica.digest, record.facts, after, opened)
        return Commit(images=(change,)) if change.changed else None

    opened = opened_incidents(commit(decide, deps))
    if found_at is not None:
        count("LostEventsFound")  # the registry had it; no event ever said so
    count("IncidentsOpened", len(opened))


def _step_untag(work: Work, now: datetime, deps: Deps, report: SweepReport) -> None:
    """A DELETE carrying a tag deletes the image there only if no other tag names its digest
    at that location as of the removal, judged on every tag's complete history; otherwise
    only the tag went (which a rule replicating deletions replicates too)."""
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
        config, grace = deps.rules(removal.time), deps.settings.grace
        if judgement.removal_deletes_image(removal, heads):
            after = decisions.on_delete(removal.location, removal.time, before, config, grace)
        else:
            after = decisions.on_untag(removal, before, config, grace)
        change = decisions.change(removal.repository, digest, before, after)
        settled = _untag_closings(removal, digest, before, deps)
        return Commit(images=(change,), judged=(removal,), recheck=settled)

    commit(decide, deps)


def _untag_closings(
    removal: TagEntry, digest: str, facts: ImageFacts, deps: Deps
) -> tuple[tuple[str, datetime], ...]:
    """A destination dropping a tag that its source removed from the image, after the removal's
    check was due: the DELETE_NOT_REPLICATED that may be open for it is closed (or found not
    open) by the next sweep, not at its periodic re-check."""
    closings = []
    for replica in facts.replicas:
        if replica.destination != removal.location:
            continue
        tag = removal.tag
        at_source = deps.tags.heads_as_of(replica.source, removal.repository, [tag], removal.time)
        head = at_source[tag]
        if head is None or head.removed_from != digest:
            continue
        if removal.time >= head.time + deps.settings.grace:
            closings.append((documents.untag_incident_id(replica, tag, head.time), removal.time))
    return tuple(closings)


def _step_judge(work: Work, now: datetime, deps: Deps, report: SweepReport) -> None:
    """Judge a new tag entry against its neighbours in time, on the history known now."""
    entry = work.entry
    assert entry is not None
    report.judged += 1
    origins: dict[tuple[str, str, Location], frozenset[Location]] = {}

    def origin_of(e: TagEntry) -> judgement.Origin:
        if e.kind != "push" or e.digest is None:
            return judgement.classify(e, ())
        key = (e.repository, e.digest, e.location)
        if key not in origins:
            facts = deps.images.load(e.repository, e.digest).facts
            origins[key] = frozenset(
                r.source for r in facts.replicas if r.destination == e.location
            )
        return judgement.classify(e, origins[key])

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
            cause = judgement.overwrite_cause(previous, previous_origin, current, current_origin)
            if cause is None:
                continue
            alert = documents.overwrite_alert(
                previous, current, cause, current_origin, previous_origin, now
            )
            if deps.incidents.incident(alert["incident_id"]) is None:
                opened.append(NewIncident(alert, now, resolved_at_once=True))
        return Commit(
            opened=tuple(opened),
            judged=(entry,),
            counts=Counts(overwrites=tuple((now, 1) for _ in opened)),
            recheck=_drift_closing(entry, deps),
        )

    count("TagOverwrites", len(opened_incidents(commit(decide, deps))))


def _drift_closing(entry: TagEntry, deps: Deps) -> tuple[tuple[str, datetime], ...]:
    """A tag pushed at a destination where a TAG_DRIFT is open for it with this digest (someone
    re-tagged the replica): the drift is re-checked by the next sweep, not 15 minutes on. Only
    with the registries asked (no drift is ever opened otherwise): one read per pushed tag."""
    if deps.registries is None or entry.kind != "push" or entry.digest is None:
        return ()
    incident_id = documents.tag_drift_id(entry.location, entry.repository, entry.tag, entry.digest)
    incident = deps.incidents.incident(incident_id)
    return ((incident_id, entry.time),) if incident and incident.state == "open" else ()


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
            return registry_checks.drift_settled(incident, now, deps)
        if incident.kind == "DELETE_NOT_REPLICATED":
            return registry_checks.deletion_settled(incident, now, deps)
        facts = deps.images.load(opened["repository"], opened["digest"]).facts
        recovery = verdicts.recovery(opened, facts, now)
        if recovery is None:
            return Commit(closing_done=(incident_id,))
        return Commit(
            resolved=((incident, recovery),),
            closing_done=(incident_id,),
            counts=decisions.resolved_counts(incident.kind),
        )

    done = commit(decide, deps)
    if done is not None and done.resolved:
        count("IncidentsResolved")  # its notification is in the queue, due now


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
