"""Read-side use cases behind the HTTP API and the CLI: status, incidents, images, matrix.

Each reads only bounded sets (open incidents, counters, one repository's pages), never the
whole history.
"""

from __future__ import annotations

from typing import Any

from chalicelib.core import documents
from chalicelib.core.errors import InvalidRequest, NotFound
from chalicelib.core.lifecycle import Location
from chalicelib.ports import Deps

INCIDENT_STATES = ("open", "resolved", "all")
MAX_PAGE = 100


def status(deps: Deps) -> dict[str, Any]:
    """`GET /status`: counters and the newest open incidents: two requests whatever the
    history and the day's volume."""
    now = deps.clock()
    counts = deps.counters.status_counts(now)
    newest = deps.incidents.incidents_page("open", MAX_PAGE, None).items
    open_total = counts.missing + counts.failed + counts.drifted + counts.undeleted
    base = deps.settings.runbook_base_url
    incidents = [documents.with_runbook_base(i.alert, base) for i in newest]
    document = documents.status_document(now, open_total, counts, incidents)
    # LOCATION_NAMES ("account/region" -> name), so every reader labels locations alike.
    return {**document, "names": dict(deps.settings.location_names)}


def list_incidents(state: str, limit: int, cursor: str | None, deps: Deps) -> dict[str, Any]:
    if state not in INCIDENT_STATES:
        raise InvalidRequest(f"state must be one of {', '.join(INCIDENT_STATES)}")
    page = deps.incidents.incidents_page(state, limit, cursor)
    base = deps.settings.runbook_base_url
    incidents = [
        {
            **documents.with_runbook_base(incident.alert, base),
            "state": incident.state,
            "resolved_at": incident.resolved_at,
        }
        for incident in page.items
    ]
    return {"incidents": incidents, "next_cursor": page.next_cursor}


def describe_images(
    repository: str,
    digest: str | None,
    tag: str | None,
    limit: int,
    cursor: str | None,
    deps: Deps,
) -> dict[str, Any]:
    tags = deps.tags.repository_tags(repository)
    next_cursor = None
    if digest is not None:
        replicas = list(deps.images.load(repository, digest).facts.replicas)
    elif tag is not None:
        digests = sorted({t[tag] for t in tags.values() if tag in t})
        replicas = [r for d in digests for r in deps.images.load(repository, d).facts.replicas]
    else:
        page = deps.images.replicas_page(repository, limit, cursor)
        replicas, next_cursor = page.items, page.next_cursor
    if not tags and not replicas and not deps.images.repository_known(repository):
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
        "replicas": [documents.replica_document(r) for r in replicas],
        "next_cursor": next_cursor,
    }


def workloads(repository: str, deps: Deps) -> dict[str, Any]:
    """`GET /workloads?repository=R`: what runs the repository's images, at every location
    (one Query); 404 for a repository the ledger does not know."""
    if not deps.images.repository_known(repository):
        raise NotFound(f"repository {repository!r} is not known to the auditor")
    found = deps.inventory.repository_workloads(repository) if deps.inventory else []
    return {"repository": repository, "workloads": [w.api_entry() for w in found]}


def repositories(deps: Deps) -> dict[str, Any]:
    """`GET /repositories`: the newest image's replica state per repository and destination,
    and how many workloads run the repository there (null: workload discovery is off)."""
    config = deps.rules(deps.clock())
    rows = []
    for repository in sorted(deps.images.repositories()):
        running: dict[Location, int] = {}
        if deps.inventory is not None:
            for workload in deps.inventory.repository_workloads(repository):
                running[workload.location] = running.get(workload.location, 0) + 1
        destinations = sorted(
            {d for s in config.sources for d in config.destinations_for(s.location, repository)}
        )
        cells = []
        for destination in destinations:
            replica = deps.images.newest_replica(repository, destination)
            if replica is not None:
                cells.append(
                    {
                        **documents.replica_document(replica),
                        "lag_seconds": replica.lag_seconds,
                        "workloads": running.get(destination, 0) if deps.inventory else None,
                    }
                )
        rows.append({"repository": repository, "destinations": cells})
    # "names": LOCATION_NAMES ("account/region" -> name), so readers label destinations alike.
    return {"repositories": rows, "names": dict(deps.settings.location_names)}
