"""Workload discovery: each monitored location's inventory read and kept in the ledger, and the
alerts named with the workloads they concern (their `workloads` key).

An inventory is read through the audit role (deps.workloads) and kept (deps.inventory); the
sweep reads again those older than core.workloads.FRESH_FOR (sweep_workloads in pins.py), and
an alert about a location whose inventory is older reads it first. A type that cannot be read
(throttled, access denied) logs one line naming the account and is unknown: its entries do not
count once stale, and the alert goes out all the same.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from chalicelib.core.decisions import NewIncident
from chalicelib.core.lifecycle import Location, parse_time
from chalicelib.core.workloads import LocationInventory, concerned, is_stale, merged
from chalicelib.observability import count, logger
from chalicelib.ports import Commit, Deps


def discovers(deps: Deps) -> bool:
    return deps.workloads is not None and deps.inventory is not None


def monitored(deps: Deps, now: datetime) -> list[Location]:
    """Every location the rules name, source or destination."""
    config = deps.rules(now)
    found = {source.location for source in config.sources}
    for source in config.sources:
        for rule in source.rules:
            found.update(rule.destinations)
    return sorted(found)


def refresh(
    location: Location, deps: Deps, now: datetime, previous: LocationInventory | None = None
) -> LocationInventory:
    """Read what runs at `location` and keep it; the inventory as it now stands."""
    assert deps.workloads is not None and deps.inventory is not None
    if previous is None or previous.location != location:
        previous = deps.inventory.inventory(location)
    reading = deps.workloads.read(location)
    for problem in reading.problems.values():
        count("WorkloadReadsFailed")
        logger.warning(problem)
    inventory = merged(previous, reading, now)
    deps.inventory.save(inventory, previous)
    count("WorkloadInventoriesRead")
    return inventory


def workloads_for(alert: dict[str, Any], deps: Deps, now: datetime) -> list[dict[str, Any]] | None:
    """The alert's `workloads`: read with one request, after a fresh read of the location's
    inventory when it is older than FRESH_FOR. None when discovery is off."""
    if not discovers(deps):
        return None
    assert deps.workloads is not None and deps.inventory is not None
    destination = alert.get("destination")
    if not destination:
        return []
    where = Location(destination["account"], destination["region"])
    types = deps.workloads.types
    inventory = deps.inventory.inventory(where, alert["repository"])
    if inventory is None or is_stale(inventory.refreshed_at(types), now):
        inventory = refresh(where, deps, now)
    return concerned(alert, inventory.known(types, now))


def name_workloads(done: Commit, deps: Deps, named: dict[str, Any]) -> Commit:
    """`done` with the workloads of every alert it opens or restates (`named`: what earlier
    attempts of the same commit found, by incident id)."""
    if not discovers(deps):
        return done

    def named_alert(alert: dict[str, Any]) -> dict[str, Any]:
        if alert.get("workloads") is not None or alert["kind"] == "RECOVERED":
            return alert
        key = alert["incident_id"]
        if key not in named:
            named[key] = workloads_for(alert, deps, parse_time(alert["detected_at"]))
        return {**alert, "workloads": named[key]}

    def opened(incidents: tuple[NewIncident, ...]) -> tuple[NewIncident, ...]:
        return tuple(replace(new, alert=named_alert(new.alert)) for new in incidents)

    images = tuple(
        replace(
            change,
            opened=opened(change.opened),
            restated=tuple(named_alert(alert) for alert in change.restated),
        )
        for change in done.images
    )
    return replace(done, opened=opened(done.opened), images=images)
