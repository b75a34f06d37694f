"""Write-side use cases that record facts, as `(input, deps)` on the ports: a PUSH or DELETE where
it happened, and a replication reported at its destination."""

from __future__ import annotations

from chalicelib.core import decisions, judgement, lifecycle
from chalicelib.core.lifecycle import ImageDeleted, ImagePushed, ReplicationReported
from chalicelib.observability import count, logger
from chalicelib.ports import Commit, Deps
from chalicelib.usecases.commits import Outcome, commit, opened_incidents


def untrusted(fact: lifecycle.Fact, deps: Deps) -> str | None:
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
        change = decisions.change(fact.repository, fact.digest, before, after)
        return _event_commit(fact, change, deps, register=_creates_replica(change))

    commit(decide, deps)
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
        register = report.tag is not None and _creates_replica(change)
        return _event_commit(report, change, deps, register=register)

    outcome = Outcome()
    outcome.opened(opened_incidents(commit(decide, deps)))
    return outcome


def _creates_replica(change: decisions.ImageChange) -> bool:
    """Whether the change expects a replica the image did not have. Only then is the
    repository registered in the catalogue: once per image rather than on every event, since
    every write of that one `REPOS` key lands on one partition (bench/: the hottest key)."""
    known = {(r.source, r.destination) for r in change.before.replicas}
    return any((r.source, r.destination) not in known for r in change.after.replicas)


def _event_commit(
    fact: lifecycle.Fact, change: decisions.ImageChange, deps: Deps, register: bool
) -> Commit:
    entry = judgement.tag_entry(fact)
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
