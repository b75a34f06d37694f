"""Ledger values to DynamoDB items and back (plain Python values; table.py serialises)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from chalicelib.adapters.ledger import keys
from chalicelib.core.judgement import TagEntry
from chalicelib.core.lifecycle import (
    Location,
    Presence,
    Replica,
    UntagCheck,
    format_time,
    iso,
    parse_time,
)
from chalicelib.observability import logger
from chalicelib.ports import Incident, Notification


def readable[T](items: Iterable[Mapping[str, Any]], parse: Callable[[Any], T]) -> Iterator[T]:
    """Parse items, skipping (and logging) any that cannot be read, so that one bad item never
    stops a sweep or a listing."""
    for item in items:
        try:
            yield parse(item)
        except (KeyError, ValueError, TypeError, AttributeError) as error:
            logger.error(
                f"skipped unreadable ledger item {item.get('pk')!r} / {item.get('sk')!r}: "
                f"{type(error).__name__}: {error}"
            )


def _time(value: str | None) -> Any:
    return parse_time(value) if value else None


# ----------------------------------------------------------------------------- replicas


def replica_item(replica: Replica) -> dict[str, Any]:
    pk, sk = keys.replica_key(replica)
    item: dict[str, Any] = {
        "pk": pk,
        "sk": sk,
        "type": "replica",
        "rev": replica.rev + 1,
        "repository": replica.repository,
        "digest": replica.digest,
        "tag": replica.tag,
        "source_account": replica.source.account,
        "source_region": replica.source.region,
        "destination_account": replica.destination.account,
        "destination_region": replica.destination.region,
        "pushed_at": format_time(replica.pushed_at),
        "due_at": format_time(replica.due_at),
        "state": replica.state,
        "replicated_at": format_time(replica.replicated_at),
        "failure_reason": replica.failure_reason,
        "failed_at": format_time(replica.failed_at),
        "drift_check": replica.drift_check or None,
        "deletion_check_at": format_time(replica.deletion_check_at),
        "untag_checks": {_untag_text(c) for c in replica.untag_checks} or None,
        "gsi2pk": f"REPO#{replica.repository}",
        "gsi2sk": keys.catalog_sk(replica),
    }
    due = keys.due_work(replica)
    if due:
        item.update(gsi1pk=keys.work_pk(pk, sk), gsi1sk=due)
    closed_at = replica.replicated_at if replica.state == "replicated" else None
    if replica.state in ("replicated", "cancelled"):
        item["expires_at"] = keys.ttl(closed_at or replica.pushed_at or _epoch(), keys.HISTORY_TTL)
    return item


def _untag_text(check: UntagCheck) -> str:
    # "<due>#<removed>#<tag>": a tag never holds "#", and a string set keeps them unordered
    return f"{iso(check.due_at)}#{iso(check.removed_at)}#{check.tag}"


def _untag_check(text: str) -> UntagCheck:
    due, removed, tag = text.split("#", 2)
    return UntagCheck(parse_time(due), parse_time(removed), tag)


def _epoch() -> Any:
    return parse_time("2015-01-01T00:00:00Z")


def replica(item: Mapping[str, Any]) -> Replica:
    return Replica(
        repository=item["repository"],
        digest=item["digest"],
        source=Location(item["source_account"], item["source_region"]),
        destination=Location(item["destination_account"], item["destination_region"]),
        tag=item.get("tag"),
        pushed_at=_time(item.get("pushed_at")),
        due_at=_time(item.get("due_at")),
        state=item["state"],
        replicated_at=_time(item.get("replicated_at")),
        failure_reason=item.get("failure_reason"),
        failed_at=_time(item.get("failed_at")),
        drift_check=bool(item.get("drift_check")),
        deletion_check_at=_time(item.get("deletion_check_at")),
        untag_checks=frozenset(_untag_check(t) for t in item.get("untag_checks", ())),
        rev=int(item.get("rev", 0)),
    )


# ----------------------------------------------------------------------------- presence


def presence_item(
    repository: str, digest: str, location: Location, presence: Presence
) -> dict[str, Any]:
    times = [presence.first_seen, *presence.deletions]
    latest = max(t for t in times if t is not None)
    return {
        "pk": keys.image_pk(repository, digest),
        "sk": keys.presence_sk(location),
        "type": "presence",
        "rev": presence.rev + 1,
        "account": location.account,
        "region": location.region,
        "first_seen": format_time(presence.first_seen),
        "deletions": {iso(t) for t in presence.deletions} or None,
        "tags": set(presence.tags) or None,
        "expires_at": keys.ttl(latest, keys.HISTORY_TTL),
    }


def presence(item: Mapping[str, Any]) -> tuple[Location, Presence]:
    found = Presence(
        first_seen=_time(item.get("first_seen")),
        deletions=frozenset(parse_time(t) for t in item.get("deletions", ())),
        tags=frozenset(item.get("tags", ())),
        rev=int(item.get("rev", 0)),
    )
    return Location(item["account"], item["region"]), found


# ----------------------------------------------------------------------------- tags


def tag_entry_item(entry: TagEntry, judge: bool) -> dict[str, Any]:
    pk, sk = keys.entry_key(entry)
    item: dict[str, Any] = {
        "pk": pk,
        "sk": sk,
        "type": "tag_entry",
        "account": entry.location.account,
        "region": entry.location.region,
        "repository": entry.repository,
        "tag": entry.tag,
        "time": iso(entry.time),
        "event_id": entry.event_id,
        "digest": entry.digest,
        "kind": entry.kind,
        "source_account": entry.source.account if entry.source else None,
        "source_region": entry.source.region if entry.source else None,
        "removed_from": entry.removed_from,
        "expires_at": keys.ttl(entry.time, keys.HISTORY_TTL),
    }
    queue = "untag" if entry.removed_from else "judge" if judge else None
    if queue:
        item.update(
            gsi1pk=keys.work_pk(pk, sk), gsi1sk=keys.work_sk(iso(entry.time), queue, pk, sk)
        )
    return item


def tag_entry(item: Mapping[str, Any]) -> TagEntry:
    source = None
    if item.get("source_account"):
        source = Location(item["source_account"], item["source_region"])
    return TagEntry(
        location=Location(item["account"], item["region"]),
        repository=item["repository"],
        tag=item["tag"],
        time=parse_time(item["time"]),
        event_id=item["event_id"],
        digest=item.get("digest"),
        kind=item["kind"],
        source=source,
        removed_from=item.get("removed_from"),
    )


# ----------------------------------------------------------------------------- incidents


def incident(item: Mapping[str, Any]) -> Incident:
    alert = dict(item["alert"])
    if not isinstance(alert.get("incident_id"), str):
        raise ValueError("the alert document has no incident_id")
    return Incident(
        incident_id=alert["incident_id"],
        kind=item["kind"],
        state=item["state"],
        alert=alert,
        detected_at=item["detected_at"],
        resolved_at=item.get("resolved_at"),
    )


def notification(item: Mapping[str, Any]) -> Notification:
    _, incident_id = item["pk"].split("#", 1)
    return Notification(
        incident_id=incident_id,
        note=item["sk"].split("#", 1)[1],
        alert=dict(item["alert"]),
        pending=frozenset(item.get("pending") or ()),
        tries={k: int(v) for k, v in (item.get("tries") or {}).items()},
    )
