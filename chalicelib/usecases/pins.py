"""The sweep's workload phase: inventories read again when older than FRESH_FOR (a bounded number
of locations per sweep), and the digests their workloads pin checked: PINNED_DIGEST_MISSING
when the location's registry no longer has one, RECOVERED once it is back or nothing pins it.

A pin is checked when its location's inventory is read (at least every 15 minutes), and at
every sweep while its incident is open (so that it recovers by the next sweep). The registry
decides (DescribeImages by digest, one call per repository); when it cannot be asked, the
ledger's record of a deletion there does. One incident per (location, repository, digest):
the pin's state in the inventory ("open since") names it, so a retry finds the same one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from chalicelib.core import decisions, documents
from chalicelib.core.decisions import NewIncident
from chalicelib.core.errors import RegistryUnavailable, RepositoryNotFound
from chalicelib.core.workloads import (
    LocationInventory,
    Pin,
    Workload,
    is_stale,
    pin_move,
    pins_of,
    to_refresh,
    verdict,
)
from chalicelib.observability import count, logger
from chalicelib.ports import Commit, Deps
from chalicelib.usecases import workloads
from chalicelib.usecases.commits import commit

MAX_REFRESHES = 10  # locations whose inventory one sweep reads, at most


def sweep_workloads(now: datetime, deps: Deps, has_time: Callable[[], bool]) -> int:
    """Read the inventories that are due (never read first, then oldest), check their pins, and
    check the open pins of the others; the number of inventories read."""
    if not workloads.discovers(deps):
        return 0
    assert deps.workloads is not None and deps.inventory is not None
    types = deps.workloads.types
    locations = workloads.monitored(deps, now)
    states = deps.inventory.inventories(locations)
    refreshed = {w: states[w].refreshed_at(types) if w in states else None for w in locations}
    due = to_refresh(refreshed, now, MAX_REFRESHES)
    for where in due:
        if not has_time():
            break
        check_pins(workloads.refresh(where, deps, now), deps, now)
    for where, state in sorted(states.items()):
        if state.open_pins and where not in due and has_time():
            full = deps.inventory.inventory(where)
            if full is not None:
                check_pins(full, deps, now)
    return len(due)


def check_pins(inventory: LocationInventory, deps: Deps, now: datetime) -> None:
    """Open or recover PINNED_DIGEST_MISSING for every digest the inventory's workloads pin and
    every pin with an open incident."""
    assert deps.workloads is not None and deps.inventory is not None
    types = deps.workloads.types
    pinned = pins_of(inventory.known(types, now))
    # a type that could not be read may still pin a digest: "nothing pins it" is then unknown
    complete = all(not is_stale(inventory.refreshed.get(kind), now) for kind in types)
    listed = _listed(inventory, set(pinned) | set(inventory.open_pins), deps)
    for pin in sorted(set(pinned) | set(inventory.open_pins)):
        state = verdict(listed.get(pin), pin not in listed and _deleted_there(pin, deps))
        since = inventory.open_pins.get(pin)
        move = pin_move(pin in pinned or not complete, state, since)
        if move == "open":
            deps.inventory.pin_opened(pin, now)  # first: a retry opens the same incident
            _open(pin, now, pinned.get(pin, ()), deps, now)
        elif move == "recover" and since is not None:
            _recover(pin, since, deps, now)
        elif since is not None:
            _open(pin, since, pinned.get(pin, ()), deps, now)  # opened unless it is already


def _listed(inventory: LocationInventory, pins: set[Pin], deps: Deps) -> dict[Pin, bool]:
    """What the registry says of each pin: listed or not; absent when it could not be asked."""
    if deps.registries is None:
        return {}
    by_repository: dict[str, set[str]] = {}
    for pin in pins:
        by_repository.setdefault(pin.repository, set()).add(pin.digest)
    answers: dict[Pin, bool] = {}
    where = inventory.location
    for repository, digests in sorted(by_repository.items()):
        try:
            found = deps.registries.find_digests(where, repository, sorted(digests))
        except RepositoryNotFound:
            found = {}
        except RegistryUnavailable as error:
            count("RegistryChecksFailed")
            logger.warning(f"pinned digests not checked: {error}")
            continue
        for digest in digests:
            answers[Pin(where, repository, digest)] = digest in found
    return answers


def _deleted_there(pin: Pin, deps: Deps) -> bool:
    facts = deps.images.load(pin.repository, pin.digest).facts
    return facts.deleted_since(pin.location, None) is not None


def _open(
    pin: Pin, since: datetime, users: tuple[Workload, ...], deps: Deps, now: datetime
) -> None:
    incident_id = documents.pinned_incident_id(pin.location, pin.repository, pin.digest, since)

    def decide() -> Commit | None:
        if deps.incidents.incident(incident_id) is not None:
            return None
        facts = deps.images.load(pin.repository, pin.digest).facts
        sources = sorted(r.source for r in facts.replicas if r.destination == pin.location)
        alert = documents.pinned_alert(
            pin.location,
            pin.repository,
            pin.digest,
            since,
            sources[0] if sources else None,
            [w.alert_entry() for w in users],
            now,
        )
        return Commit(opened=(NewIncident(alert, now),))

    if commit(decide, deps) is not None:
        count("IncidentsOpened")


def _recover(pin: Pin, since: datetime, deps: Deps, now: datetime) -> None:
    assert deps.inventory is not None
    incident_id = documents.pinned_incident_id(pin.location, pin.repository, pin.digest, since)

    def decide() -> Commit | None:
        incident = deps.incidents.incident(incident_id)
        if incident is None or incident.state != "open":
            return None
        recovery = documents.recovery_alert(incident.alert, now, None)
        return Commit(
            resolved=((incident, recovery),), counts=decisions.resolved_counts(incident.kind)
        )

    if commit(decide, deps) is not None:
        count("IncidentsResolved")
    deps.inventory.pin_closed(pin)
