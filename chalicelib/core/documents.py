"""Alert documents: incident ids, severities, summaries, and the document of every kind as
PRODUCT.md specifies it (plus the status document and a replica's JSON view). Pure."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from chalicelib.core.judgement import Origin, OverwriteCause, TagEntry
from chalicelib.core.lifecycle import Location, Replica, UntagCheck, format_time, iso

ALERT_SCHEMA = "ecr-replication-auditor/alert/v1"
# Where the runbooks are published: the project's documentation site (mkdocs.yml's site_url).
# RUNBOOK_BASE_URL replaces it; each kind's page is <base>/<kind in kebab case>.
DEFAULT_RUNBOOK_BASE_URL = (
    "https://ecr-replication-auditor.github.io/ecr-replication-auditor/runbooks"
)

# --------------------------------------------------------------------------- incidents & alerts

AlertKind = Literal[
    "REPLICA_MISSING",
    "REPLICATION_FAILED",
    "TAG_OVERWRITTEN",
    "TAG_DRIFT",
    "DELETE_NOT_REPLICATED",
    "PINNED_DIGEST_MISSING",
    "RECOVERED",
]
SEVERITY: dict[str, str] = {
    "REPLICA_MISSING": "critical",
    "REPLICATION_FAILED": "critical",
    "TAG_OVERWRITTEN": "warning",
    "TAG_DRIFT": "warning",
    "DELETE_NOT_REPLICATED": "warning",
    "PINNED_DIGEST_MISSING": "critical",
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
    "workloads",  # what runs the image at the destination (None: workload discovery is off)
    "runbook_url",
)


def runbook_url(kind: str, base: str = DEFAULT_RUNBOOK_BASE_URL) -> str:
    """The page that tells on-call what `kind` means and what to do (docs/runbooks/)."""
    return f"{base.rstrip('/')}/{kind.lower().replace('_', '-')}"


def with_runbook_base(alert: Mapping[str, Any], base: str) -> dict[str, Any]:
    """`alert` with its runbook_url under `base` (RUNBOOK_BASE_URL), as it leaves the auditor:
    the ledger keeps documents with the default base, so a changed setting re-points every
    link, open incidents' included."""
    # every key, also those an incident stored before they existed (workloads: null)
    return {**dict.fromkeys(ALERT_KEYS), **alert, "runbook_url": runbook_url(alert["kind"], base)}


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
    elif kind == "PINNED_DIGEST_MISSING":
        users = len(doc["workloads"] or ())
        count = f" ({users} workload{'s' if users != 1 else ''})" if users else ""
        text = f"Pinned digest missing: {image} in {where}{count}"
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
    doc["runbook_url"] = runbook_url(doc["kind"])
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


def undeleted_incident_id(replica: Replica, deleted_at: datetime) -> str:
    """One DELETE_NOT_REPLICATED incident per replica and source deletion."""
    return _stable_id("DELETE_NOT_REPLICATED", replica.replica_id, iso(deleted_at))


def untag_incident_id(replica: Replica, tag: str, removed_at: datetime) -> str:
    """One DELETE_NOT_REPLICATED incident per replica, tag and removal of it at the source."""
    return _stable_id("DELETE_NOT_REPLICATED", replica.replica_id, tag, iso(removed_at))


def undeleted_alert(
    replica: Replica, deleted_at: datetime, detected_at: datetime
) -> dict[str, Any]:
    """DELETE_NOT_REPLICATED: the source deleted the image at `deleted_at`, its rule replicates
    deletions, and the destination still has it at its due time."""
    return alert_document(
        kind="DELETE_NOT_REPLICATED",
        incident_id=undeleted_incident_id(replica, deleted_at),
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
        incident_id=untag_incident_id(replica, check.tag, check.removed_at),
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
    return tag_drift_id(replica.destination, replica.repository, replica.tag or "", source_digest)


def tag_drift_id(destination: Location, repository: str, tag: str, source_digest: str) -> str:
    return _stable_id("TAG_DRIFT", str(destination), repository, tag, source_digest)


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


def pinned_incident_id(location: Location, repository: str, digest: str, since: datetime) -> str:
    """One PINNED_DIGEST_MISSING incident per location, repository and digest while it is
    missing; `since`: when it was found missing (another absence later is another incident)."""
    return _stable_id("PINNED_DIGEST_MISSING", str(location), repository, digest, iso(since))


def pinned_alert(
    location: Location,
    repository: str,
    digest: str,
    since: datetime,
    source: Location | None,
    workloads: list[dict[str, Any]] | None,
    detected_at: datetime,
) -> dict[str, Any]:
    """PINNED_DIGEST_MISSING: workloads at `location` pin `digest`, which its registry no longer
    has: scaling out, replacing a task and rolling back fail to pull it."""
    return alert_document(
        kind="PINNED_DIGEST_MISSING",
        incident_id=pinned_incident_id(location, repository, digest, since),
        repository=repository,
        digest=digest,
        source=source.as_dict() if source else None,
        destination=location.as_dict(),
        detected_at=iso(detected_at),
        workloads=workloads,
    )


def recovery_alert(
    opened: Mapping[str, Any], resolved_at: datetime, lag_seconds: int | None
) -> dict[str, Any]:
    """RECOVERED carries the closed incident's id and what it resolves."""
    # .get: an incident opened before a key existed (workloads) carries it as null
    derived = {"schema", "severity", "summary", "runbook_url"}  # RECOVERED's own
    carried = {k: opened.get(k) for k in ALERT_KEYS if k not in derived}
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
