"""The sweep's questions to the registries (AUDIT_ROLE_NAME): ECR's own replication status,
TAG_DRIFT, and whether a deletion (of an image or of a tag) reached a destination. A registry
that cannot be asked is logged in one line and the sweep decides from what the ledger knows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.core import decisions, documents, verdicts
from chalicelib.core.errors import RegistryUnavailable, RepositoryNotFound
from chalicelib.core.lifecycle import ImageFacts, Location, Replica
from chalicelib.observability import count, logger
from chalicelib.ports import Commit, Deps, Incident
from chalicelib.usecases.commits import commit, opened_incidents


def still_listed(replica: Replica, deps: Deps) -> bool | None:
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


def check_deletion(replica: Replica, now: datetime, deps: Deps) -> None:
    """The source deleted the image and its rule replicates deletions: by now the destination
    must not have it (DELETE_NOT_REPLICATED otherwise)."""
    listed: dict[str, bool | None] = {}

    def decide() -> Commit | None:
        record = deps.images.load(replica.repository, replica.digest)
        if "listed" not in listed:
            current = decisions.find(record.facts, replica.source, replica.destination)
            gone = current is not None and decisions.deletion_replicated(current, record.facts)
            listed["listed"] = None if gone else still_listed(replica, deps)
        after, opened = verdicts.on_deletion_check(replica, record.facts, now, listed["listed"])
        change = decisions.change(replica.repository, replica.digest, record.facts, after, opened)
        return Commit(images=(change,)) if change.changed else None

    count("DeletesNotReplicated", len(opened_incidents(commit(decide, deps))))


def still_tagged(
    destination: Location, repository: str, tag: str, digest: str, deps: Deps
) -> bool | None:
    """Whether the destination registry's `tag` still names `digest` (None: not asked)."""
    if deps.registries is None:
        return None
    try:
        found = deps.registries.tag_digests(destination, repository, [tag])
    except RepositoryNotFound:
        return False
    except RegistryUnavailable as error:
        logger.warning(f"tag removal not checked in the registry: {error}")
        return None
    return found.get(tag) == digest


def tag_witness(
    facts: ImageFacts,
    source: Location,
    destination: Location,
    repository: str,
    tag: str,
    digest: str,
    now: datetime,
    deps: Deps,
    asked: dict[str, bool | None] | None = None,
) -> verdicts.TagWitness:
    """The tag's latest entries at the source and the destination as of `now`; the registry
    is asked (once per tag in `asked`, whatever the retries) only when the ledger says the
    destination still has it and the source's removal stands."""
    at_source = deps.tags.heads_as_of(source, repository, [tag], now)[tag]
    there = deps.tags.heads_as_of(destination, repository, [tag], now)[tag]
    witness = verdicts.TagWitness(at_source, there)
    if not verdicts.untag_outstanding(facts, destination, digest, witness, None):
        return witness
    asked = {} if asked is None else asked
    if tag not in asked:
        asked[tag] = still_tagged(destination, repository, tag, digest, deps)
    return verdicts.TagWitness(at_source, there, asked[tag])


def check_untags(replica: Replica, now: datetime, deps: Deps) -> None:
    """The source removed tags of the image (which it kept) and its rule replicates deletions:
    by now the destination must not have them (DELETE_NOT_REPLICATED otherwise)."""
    asked: dict[str, bool | None] = {}

    def decide() -> Commit | None:
        record = deps.images.load(replica.repository, replica.digest)
        current = decisions.find(record.facts, replica.source, replica.destination)
        due = verdicts.untag_due(current, now) if current is not None else ()
        witnesses = {
            tag: tag_witness(
                record.facts,
                replica.source,
                replica.destination,
                replica.repository,
                tag,
                replica.digest,
                now,
                deps,
                asked,
            )
            for tag in sorted({check.tag for check in due})
        }
        after, opened = verdicts.on_untag_check(replica, record.facts, now, witnesses)
        change = decisions.change(replica.repository, replica.digest, record.facts, after, opened)
        return Commit(images=(change,)) if change.changed else None

    count("DeletesNotReplicated", len(opened_incidents(commit(decide, deps))))


def replication_status(replica: Replica, deps: Deps, unreachable: set[Location]) -> str | None:
    assert deps.registries is not None
    if replica.source in unreachable:
        return None
    try:
        return deps.registries.replication_status(
            replica.source, replica.repository, replica.digest, replica.destination
        )
    except (RegistryUnavailable, RepositoryNotFound) as error:
        unreachable.add(replica.source)
        logger.warning(f"replication status not asked: {error}")
        return None


def registry_tags(replica: Replica, deps: Deps) -> tuple[str | None, str | None] | None:
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


OVERWRITE_LOOKBACK = 10  # tag entries walked back at most, each one read


def overwrite_reported(replica: Replica, digest: str | None, now: datetime, deps: Deps) -> bool:
    """Whether a TAG_OVERWRITTEN the ledger judged and reported accounts for the replica's tag
    naming `digest` at its destination: one of the tag's entries there since it last came to
    name `digest` (walking back from its head) was reported as an overwrite.

    The head alone explains nothing: a destination's own push of the tag before the replica
    arrived untagged (tag immutability) leaves the head equal to the registry, and no overwrite
    was ever raised, since the tag never moved.
    """
    assert replica.tag is not None
    location, repository, tag = replica.destination, replica.repository, replica.tag
    entry = deps.tags.heads_as_of(location, repository, [tag], now)[tag]
    for _ in range(OVERWRITE_LOOKBACK):
        if entry is None or entry.digest != digest:
            return False
        if deps.incidents.incident(documents.overwrite_incident_id(entry)) is not None:
            return True
        entry = deps.tags.neighbours(entry)[0]
    return False


def check_drift(replica: Replica, now: datetime, deps: Deps) -> None:
    """A due, arrived, tagged replica: compare its tag in both registries (TAG_DRIFT)."""
    answers: dict[str, Any] = {}

    def decide() -> Commit | None:
        record = deps.images.load(replica.repository, replica.digest)
        current = decisions.find(record.facts, replica.source, replica.destination)
        asked = current is not None and current.state == "replicated" and current.tag
        if asked and deps.registries is not None and "tags" not in answers:
            answers["tags"] = registry_tags(current, deps)  # type: ignore[arg-type]
        tags = answers.get("tags")
        explained = False
        if tags is not None and current is not None and current.tag and tags[1] != tags[0]:
            if "explained" not in answers:
                answers["explained"] = overwrite_reported(current, tags[1], now, deps)
            explained = answers["explained"]
        after, opened = verdicts.on_drift_check(replica, record.facts, now, tags, explained)
        change = decisions.change(replica.repository, replica.digest, record.facts, after, opened)
        return Commit(images=(change,)) if change.changed else None

    count("TagDrifts", len(opened_incidents(commit(decide, deps))))


def deletion_settled(incident: Incident, now: datetime, deps: Deps) -> Commit:
    """An open DELETE_NOT_REPLICATED: RECOVERED once the destination deleted the image (a
    DELETE there, or its registry no longer lists it), or for a tag, once the destination
    dropped the tag or the source pushed it again; otherwise asked again later."""
    opened = incident.alert
    facts = deps.images.load(opened["repository"], opened["digest"]).facts
    source, destination = Location(**opened["source"]), Location(**opened["destination"])
    if opened["cause"] == documents.TAG_REMOVED:
        repository, tag, digest = opened["repository"], opened["tag"], opened["digest"]
        witness = tag_witness(facts, source, destination, repository, tag, digest, now, deps)
        gone = not verdicts.untag_outstanding(facts, destination, digest, witness, None)
    else:
        replica = decisions.find(facts, source, destination)
        gone = replica is not None and (
            decisions.deletion_replicated(replica, facts) or still_listed(replica, deps) is False
        )
    if not gone:
        return Commit(recheck=((incident.incident_id, now + decisions.DRIFT_RECHECK),))
    return Commit(
        resolved=((incident, documents.recovery_alert(opened, now, None)),),
        closing_done=(incident.incident_id,),
        counts=decisions.resolved_counts(incident.kind),
    )


def drift_settled(incident: Incident, now: datetime, deps: Deps) -> Commit:
    """An open TAG_DRIFT: RECOVERED once the destination's tag names the source's digest
    again (or the source tag moved on or went); otherwise asked again later."""
    from chalicelib.core.drift import drift_recovery

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
    recovery = documents.recovery_alert(opened, now, None)
    return Commit(
        resolved=((incident, recovery),),
        closing_done=(incident.incident_id,),
        counts=decisions.resolved_counts(incident.kind),
    )
