"""DynamoWorkloads: the workload inventories in the ledger (keys.py: WORKLOADS items).

A location's state item says when each type was last read whole, why a read failed, which
repositories its workloads name, and which pins have an open PINNED_DIGEST_MISSING (one
attribute per pin, so that opening and closing one is an atomic UpdateItem that a refresh,
which updates the other attributes, never overwrites). Its entries are kept per repository,
so that an alert reads the state and its repository's entries in one BatchGetItem, and
GET /workloads reads a repository's entries at every location in one Query. A refresh writes
the state item and only the repository items whose entries changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from chalicelib.adapters.ledger import keys
from chalicelib.adapters.ledger.table import Table
from chalicelib.core.lifecycle import Location, iso, parse_time
from chalicelib.core.workloads import LocationInventory, Pin, Workload

PIN = "pin#"  # state attributes "pin#<repository>@<digest>" -> since when it is missing


class DynamoWorkloads:
    def __init__(self, table: Table) -> None:
        self._table = table

    # ------------------------------------------------------------------ reads

    def inventories(self, locations: Iterable[Location]) -> dict[Location, LocationInventory]:
        wanted = {keys.workloads_state_key(where): where for where in locations}
        found = self._table.get_many(list(wanted))
        return {wanted[key]: _state(wanted[key], item) for key, item in found.items()}

    def inventory(
        self, location: Location, repository: str | None = None
    ) -> LocationInventory | None:
        state_key = keys.workloads_state_key(location)
        if repository is not None:
            entries_key = keys.workloads_key(repository, location)
            found = self._table.get_many([state_key, entries_key])
            state = found.get(state_key)
            if state is None:
                return None
            return _state(location, state, _entries(found.get(entries_key), repository, location))
        item = self._table.get(*state_key)
        if item is None:
            return None
        names = list(item.get("repositories") or [])
        found = self._table.get_many([keys.workloads_key(name, location) for name in names])
        workloads = [
            workload
            for name in names
            for workload in _entries(found.get(keys.workloads_key(name, location)), name, location)
        ]
        return _state(location, item, workloads)

    def repository_workloads(self, repository: str) -> list[Workload]:
        items = self._table.query(
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues=self._table.values({":p": f"{keys.WORKLOADS}#{repository}"}),
        )
        return sorted(
            workload
            for item in items
            for workload in _entries(item, repository, _location(item["sk"]))
        )

    # ------------------------------------------------------------------ writes

    def save(self, inventory: LocationInventory, previous: LocationInventory | None) -> None:
        where = inventory.location
        old = _by_repository(previous.workloads if previous else ())
        new = _by_repository(inventory.workloads)
        for repository in sorted(set(old) | set(new)):
            if old.get(repository) == new.get(repository):
                continue
            pk, sk = keys.workloads_key(repository, where)
            if repository in new:
                item = {"pk": pk, "sk": sk, "type": "workloads", "entries": new[repository]}
                self._table.client.put_item(TableName=self._table.name, Item=self._table.item(item))
            else:
                self._table.client.delete_item(
                    TableName=self._table.name, Key=self._table.key(pk, sk)
                )
        self._table.update(
            *keys.workloads_state_key(where),
            UpdateExpression="SET #t = :t, refreshed = :r, problems = :p, repositories = :n",
            ExpressionAttributeNames={"#t": "type"},
            ExpressionAttributeValues=self._table.values(
                {
                    ":t": "workload-inventory",
                    ":r": {kind: iso(at) for kind, at in inventory.refreshed.items()},
                    ":p": dict(inventory.problems),
                    ":n": sorted(new),
                }
            ),
        )

    def pin_opened(self, pin: Pin, since: datetime) -> None:
        """Keeps the first `since` of a pin already open."""
        self._table.update(
            *keys.workloads_state_key(pin.location),
            UpdateExpression="SET #p = if_not_exists(#p, :s)",
            ExpressionAttributeNames={"#p": f"{PIN}{pin.repository}@{pin.digest}"},
            ExpressionAttributeValues=self._table.values({":s": iso(since)}),
        )

    def pin_closed(self, pin: Pin) -> None:
        self._table.update(
            *keys.workloads_state_key(pin.location),
            UpdateExpression="REMOVE #p",
            ExpressionAttributeNames={"#p": f"{PIN}{pin.repository}@{pin.digest}"},
        )


# ---------------------------------------------------------------------- encoding


def _by_repository(workloads: Iterable[Workload]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for w in sorted(workloads):
        grouped.setdefault(w.repository, []).append(
            {"type": w.type, "name": w.name, "image": w.image, "tag": w.tag, "digest": w.digest,
             "pinned": w.pinned}
        )  # fmt: skip
    return grouped


def _entries(item: dict[str, Any] | None, repository: str, where: Location) -> list[Workload]:
    return [
        Workload(
            repository,
            entry["type"],
            entry["name"],
            where.account,
            where.region,
            entry["image"],
            entry.get("tag"),
            entry.get("digest"),
            bool(entry.get("pinned")),
        )
        for entry in (item or {}).get("entries", [])
    ]


def _location(sk: str) -> Location:
    account, _, region = sk.removeprefix("AT#").partition("#")
    return Location(account, region)


def _state(
    where: Location, item: dict[str, Any], workloads: Iterable[Workload] = ()
) -> LocationInventory:
    pins = {}
    for name, since in item.items():
        if name.startswith(PIN):
            repository, _, digest = name[len(PIN) :].rpartition("@")
            pins[Pin(where, repository, digest)] = parse_time(since)
    return LocationInventory(
        where,
        {kind: parse_time(at) for kind, at in (item.get("refreshed") or {}).items()},
        dict(item.get("problems") or {}),
        tuple(sorted(workloads)),
        pins,
    )
