"""Read-side use cases behind the HTTP API and the CLI: status, incidents, images, matrix.

Each reads only bounded sets (open incidents, counters, one repository's pages), never the
whole history.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from chalicelib import domain
from chalicelib.domain import Replica
from chalicelib.errors import InvalidRequest, NotFound
from chalicelib.services import Deps

INCIDENT_STATES = ("open", "resolved", "all")
MAX_PAGE = 100


def status(deps: Deps) -> dict[str, Any]:
    """`GET /status`: open incidents plus bounded counters; never reads history."""
    ledger = deps.ledger
    now = deps.clock()
    kinds = ledger.open_incident_kinds()
    newest = ledger.incidents_page("open", MAX_PAGE, None).items
    counts = domain.StatusCounts(
        pending=ledger.count_pending(),
        missing=kinds.count("REPLICA_MISSING"),
        failed=kinds.count("REPLICATION_FAILED"),
        replicated_24h=ledger.count_timeline("ARRIVED", now - timedelta(hours=24), now),
        overwritten_24h=ledger.count_timeline("OVERWRITTEN", now - timedelta(hours=24), now),
    )
    incidents = [json.loads(item["alert"]) for item in newest]
    document = domain.status_document(now, len(kinds), counts, incidents)
    # LOCATION_NAMES ("account/region" -> name), so every reader labels locations alike.
    return {**document, "names": dict(deps.settings.location_names)}


def list_incidents(state: str, limit: int, cursor: str | None, deps: Deps) -> dict[str, Any]:
    if state not in INCIDENT_STATES:
        raise InvalidRequest(f"state must be one of {', '.join(INCIDENT_STATES)}")
    page = deps.ledger.incidents_page(state, limit, cursor)
    incidents = []
    for item in page.items:
        document = json.loads(item["alert"])
        document["state"] = item["state"]
        document["resolved_at"] = item.get("resolved_at")
        incidents.append(document)
    return {"incidents": incidents, "next_cursor": page.next_cursor}


def describe_images(
    repository: str,
    digest: str | None,
    tag: str | None,
    limit: int,
    cursor: str | None,
    deps: Deps,
) -> dict[str, Any]:
    ledger = deps.ledger
    tags = ledger.repository_tags(repository)
    next_cursor = None
    if digest is not None:
        replicas = list(ledger.image_facts(repository, digest).replicas)
    elif tag is not None:
        digests = sorted({t[tag] for t in tags.values() if tag in t})
        replicas = [r for d in digests for r in ledger.image_facts(repository, d).replicas]
    else:
        replicas, next_cursor = ledger.replicas_page(repository, limit, cursor)
    if not tags and not replicas and not ledger.repository_known(repository):
        raise NotFound(f"repository {repository!r} is not known to the auditor")

    def wanted(name: str, points_at: str) -> bool:
        return (tag is None or name == tag) and (digest is None or points_at == digest)

    locations = []
    for location, location_tags in sorted(tags.items()):
        shown = {name: d for name, d in sorted(location_tags.items()) if wanted(name, d)}
        if shown:
            locations.append({**location.as_dict(), "tags": shown})
    return {
        "repository": repository,
        "locations": locations,
        "replicas": [_replica_view(r) for r in replicas],
        "next_cursor": next_cursor,
    }


def repositories(deps: Deps) -> dict[str, Any]:
    """`GET /repositories`: the newest image's replica state per repository and destination."""
    config = deps.settings.replication
    rows = []
    for repository in sorted(deps.ledger.repositories()):
        destinations = sorted(
            {d for s in config.sources for d in config.destinations_for(s.location, repository)}
        )
        cells = []
        for destination in destinations:
            replica = deps.ledger.newest_replica(repository, destination)
            if replica is not None:
                cells.append({**_replica_view(replica), "lag_seconds": replica.lag_seconds})
        rows.append({"repository": repository, "destinations": cells})
    # "names": LOCATION_NAMES ("account/region" -> name), so readers label destinations alike.
    return {"repositories": rows, "names": dict(deps.settings.location_names)}


def _replica_view(replica: Replica) -> dict[str, Any]:
    return {
        "digest": replica.digest,
        "tag": replica.tag,
        "source": replica.source.as_dict(),
        "destination": replica.destination.as_dict(),
        "state": replica.state,
        "pushed_at": domain.format_time(replica.pushed_at),
        "due_at": domain.format_time(replica.due_at),
        "replicated_at": domain.format_time(replica.replicated_at),
    }
