"""In-memory implementations of the ports, for fast tests of the use cases (no network).

`InMemoryLedger` implements every ledger port with the DynamoDB adapters' semantics (checked by
tests/contract/): atomic commits with the same conditions, work due by time, leases.
`RecordingChannel` records what it was sent and can be told to fail.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from chalicelib.core.decisions import Counts, ImageChange, NewIncident
from chalicelib.core.errors import DeliveryFailed, InvalidRequest
from chalicelib.core.judgement import TagEntry
from chalicelib.core.lifecycle import ImageFacts, Location, Presence, Replica, iso
from chalicelib.ports import (
    Commit,
    ImageRecord,
    Incident,
    LedgerConflict,
    Notification,
    Page,
    StatusCounts,
    Work,
)

HIGH = "\uffff"


def _loc(location: Location) -> str:
    return f"{location.account}#{location.region}"


@dataclass
class _Image:
    presence: dict[Location, Presence] = field(default_factory=dict)
    replicas: dict[tuple[Location, Location], Replica] = field(default_factory=dict)
    applied: set[str] = field(default_factory=set)


@dataclass
class _Note:
    notification: Notification
    deliver_at: str
    claimed_until: int | None = None
    delivered: bool = False


class InMemoryLedger:
    """Every ledger port at once: Images, TagHistory, Incidents, Outbox, Counters, WorkQueue,
    Writer. `calls` counts reads and commits, like the adapters' requests."""

    def __init__(self, channels: Iterable[str] = ("sns",)) -> None:
        self.channels = frozenset(channels)
        self.calls = 0
        self._images: dict[tuple[str, str], _Image] = {}
        self._entries: dict[tuple[Location, str, str], dict[str, TagEntry]] = {}
        self._queued: dict[tuple[Location, str, str, str], str] = {}  # entry -> judge | untag
        self._heads: dict[tuple[str, Location, str], TagEntry] = {}
        self._repositories: set[str] = set()
        self._incidents: dict[str, Incident] = {}
        self._notes: dict[tuple[str, str], _Note] = {}
        self._closing: dict[str, str] = {}
        self._status = {"pending": 0, "missing": 0, "failed": 0, "drifted": 0, "undeleted": 0}
        self._buckets: dict[tuple[str, str], int] = {}  # (name, minute) -> count

    # ------------------------------------------------------------------ Images

    def load(self, repository: str, digest: str) -> ImageRecord:
        self.calls += 1
        image = self._images.get((repository, digest), _Image())
        replicas = sorted(image.replicas.values(), key=lambda r: (r.destination, r.source))
        facts = ImageFacts(dict(image.presence), tuple(replicas))
        return ImageRecord(facts, frozenset(image.applied))

    def _all_replicas(self, repository: str) -> list[Replica]:
        found = [
            r
            for (repo, _), image in self._images.items()
            if repo == repository
            for r in image.replicas.values()
        ]
        return sorted(found, key=_catalog_key)

    def replicas_page(self, repository: str, limit: int, cursor: str | None) -> Page:
        self.calls += 1
        start = _offset(cursor, f"replicas:{repository}")
        found = self._all_replicas(repository)
        more = start + limit < len(found)
        return Page(
            found[start : start + limit],
            _cursor(start + limit, f"replicas:{repository}") if more else None,
        )

    def newest_replica(self, repository: str, destination: Location) -> Replica | None:
        self.calls += 1
        found = [r for r in self._all_replicas(repository) if r.destination == destination]
        return found[-1] if found else None

    def repository_known(self, repository: str) -> bool:
        self.calls += 1
        return bool(self._all_replicas(repository))

    def repositories(self) -> list[str]:
        self.calls += 1
        return sorted(self._repositories)

    # ------------------------------------------------------------------ TagHistory

    def _history(self, location: Location, repository: str, tag: str) -> list[TagEntry]:
        entries = self._entries.get((location, repository, tag), {})
        return [entries[k] for k in sorted(entries)]

    def heads_as_of(
        self, location: Location, repository: str, tags: Iterable[str], moment: datetime
    ) -> dict[str, TagEntry | None]:
        heads: dict[str, TagEntry | None] = {}
        for tag in sorted(tags):
            self.calls += 1
            upto = [
                e
                for e in self._history(location, repository, tag)
                if e.sort_key <= iso(moment) + HIGH
            ]
            heads[tag] = upto[-1] if upto else None
        return heads

    def neighbours(self, entry: TagEntry) -> tuple[TagEntry | None, TagEntry | None]:
        self.calls += 2
        history = self._history(entry.location, entry.repository, entry.tag)
        before = [e for e in history if e.sort_key < entry.sort_key]
        after = [e for e in history if e.sort_key > entry.sort_key]
        return (before[-1] if before else None, after[0] if after else None)

    def repository_tags(self, repository: str) -> dict[Location, dict[str, str]]:
        self.calls += 1
        tags: dict[Location, dict[str, str]] = {}
        for (repo, location, tag), head in sorted(self._heads.items(), key=lambda kv: str(kv[0])):
            if repo == repository and head.digest is not None:
                tags.setdefault(location, {})[tag] = head.digest
        return tags

    # ------------------------------------------------------------------ Incidents

    def incident(self, incident_id: str) -> Incident | None:
        self.calls += 1
        return self._incidents.get(incident_id)

    def incidents_page(self, state: str, limit: int, cursor: str | None) -> Page:
        self.calls += 1
        found = [i for i in self._incidents.values() if state == "all" or i.state == state]
        found.sort(key=lambda i: (i.detected_at, i.incident_id), reverse=True)
        start = _offset(cursor, f"incidents:{state}")
        more = start + limit < len(found)
        return Page(
            found[start : start + limit],
            _cursor(start + limit, f"incidents:{state}") if more else None,
        )

    # ------------------------------------------------------------------ Outbox

    def notification(self, incident_id: str, note: str) -> Notification | None:
        self.calls += 1
        found = self._notes.get((incident_id, note))
        return found.notification if found else None

    def claim(self, notification: Notification, now: datetime, lease: timedelta) -> bool:
        self.calls += 1
        found = self._notes.get((notification.incident_id, notification.note))
        if found is None or found.delivered:
            return False
        if found.claimed_until is not None and found.claimed_until >= int(now.timestamp()):
            return False
        found.claimed_until = int((now + lease).timestamp())
        return True

    def replace_alert(self, notification: Notification, alert: dict[str, Any]) -> None:
        self.calls += 1
        found = self._notes[(notification.incident_id, notification.note)]
        if found.delivered:
            raise LedgerConflict("already delivered")
        found.notification = replace(found.notification, alert=alert)
        incident = self._incidents[notification.incident_id]
        self._incidents[notification.incident_id] = replace(incident, alert=alert)

    def settle(
        self,
        notification: Notification,
        remaining: frozenset[str],
        tries: Mapping[str, int],
        now: datetime,
    ) -> None:
        self.calls += 1
        found = self._notes[(notification.incident_id, notification.note)]
        found.claimed_until = None
        found.notification = replace(found.notification, pending=remaining, tries=dict(tries))
        found.delivered = not remaining

    # ------------------------------------------------------------------ Counters

    def status_counts(self, now: datetime) -> StatusCounts:
        self.calls += 1
        low, high = _minute(now - timedelta(hours=24)), _minute(now)

        def window(name: str) -> int:
            return max(
                0,
                sum(
                    n for (kind, m), n in self._buckets.items() if kind == name and low < m <= high
                ),
            )

        return StatusCounts(
            pending=max(0, self._status["pending"]),
            missing=max(0, self._status["missing"]),
            failed=max(0, self._status["failed"]),
            drifted=max(0, self._status["drifted"]),
            undeleted=max(0, self._status["undeleted"]),
            replicated_24h=window("ARRIVED"),
            overwritten_24h=window("OVERWRITTEN"),
        )

    # ------------------------------------------------------------------ WorkQueue

    def due_work(self, now: datetime, limit: int) -> list[Work]:
        self.calls += 1
        upto = iso(now) + HIGH
        work: list[Work] = []
        for image in self._images.values():
            for replica in image.replicas.values():
                waiting = replica.state == "pending" or (
                    replica.drift_check and replica.state != "cancelled"
                )
                times = [
                    t for t in (replica.due_at if waiting else None, replica.deletion_check_at) if t
                ]
                times += [check.due_at for check in replica.untag_checks]
                if times:
                    work.append(
                        Work(
                            "due",
                            f"{iso(min(times))}#due#{replica.replica_id}",
                            replica=replica,
                        )
                    )
        for (location, repository, tag, sort_key), kind in self._queued.items():
            entry = self._entries[(location, repository, tag)][sort_key]
            work.append(
                Work(
                    kind,
                    f"{iso(entry.time)}#{kind}#{_loc(location)}#{repository}#{tag}#{sort_key}",
                    entry=entry,
                )
            )  # type: ignore[arg-type]
        for (incident_id, note), found in self._notes.items():
            if not found.delivered and found.notification.pending:
                at = f"{found.deliver_at}#deliver#{incident_id}#{note}"
                work.append(Work("deliver", at, incident_id=incident_id, note=note))
        for incident_id, at in self._closing.items():
            work.append(Work("close", f"{at}#close#{incident_id}", incident_id=incident_id))
        due = sorted((w for w in work if w.at <= upto), key=lambda w: w.at)
        return due[:limit]

    # ------------------------------------------------------------------ Writer

    def commit(self, commit: Commit) -> None:
        """Check every condition first, then apply everything: atomic like a transaction."""
        self.calls += 1
        self._check(commit)
        self._apply(commit)

    def _check(self, commit: Commit) -> None:
        image_of_event = self._images.get(commit.event_image or ("", ""), _Image())
        if commit.event_id and commit.event_id in image_of_event.applied:
            raise LedgerConflict("event already applied")
        for change in commit.images:
            image = self._images.get((change.repository, change.digest), _Image())
            for location, presence in change.after.presence.items():
                if change.before.presence.get(location) != presence:
                    stored = image.presence.get(location)
                    if (stored.rev if stored else 0) != presence.rev:
                        raise LedgerConflict("presence changed meanwhile")
            for replica in change.after.replicas:
                key = (replica.source, replica.destination)
                old = {(r.source, r.destination): r for r in change.before.replicas}.get(key)
                if old != replica:
                    stored_replica = image.replicas.get(key)
                    if (stored_replica.rev if stored_replica else 0) != replica.rev:
                        raise LedgerConflict("replica changed meanwhile")
        for new in self._opened(commit):
            if new.alert["incident_id"] in self._incidents:
                raise LedgerConflict("incident exists")
        for change in commit.images:
            for alert in change.restated:
                if alert["incident_id"] not in self._incidents:
                    raise LedgerConflict("no incident to restate")
        for incident, _ in commit.resolved:
            stored_incident = self._incidents.get(incident.incident_id)
            if stored_incident is None or stored_incident.state != "open":
                raise LedgerConflict("incident not open")

    @staticmethod
    def _opened(commit: Commit) -> list[NewIncident]:
        return [*commit.opened, *(i for c in commit.images for i in c.opened)]

    def _apply(self, commit: Commit) -> None:
        counts = commit.counts
        if commit.event_id and commit.event_image:
            self._images.setdefault(commit.event_image, _Image()).applied.add(commit.event_id)
        if commit.tag_entry is not None:
            entry = commit.tag_entry
            self._entries.setdefault((entry.location, entry.repository, entry.tag), {})[
                entry.sort_key
            ] = entry
            queue = "untag" if entry.removed_from else "judge" if commit.judge_entry else None
            if queue:
                self._queued[(entry.location, entry.repository, entry.tag, entry.sort_key)] = queue
            head_key = (entry.repository, entry.location, entry.tag)
            head = self._heads.get(head_key)
            if head is None or head.sort_key < entry.sort_key:
                self._heads[head_key] = entry
        closed: dict[str, str] = {}
        for change in commit.images:
            self._apply_image(change)
            counts = counts + change.counts
            for alert in change.restated:
                known = self._incidents[alert["incident_id"]]
                self._incidents[known.incident_id] = replace(
                    known, alert=alert, detected_at=alert["detected_at"]
                )
            closed.update({incident_id: iso(at) for incident_id, at in change.closed})
        for new in self._opened(commit):
            self._open(new)
        for incident, recovery in commit.resolved:
            self._incidents[incident.incident_id] = replace(
                self._incidents[incident.incident_id],
                state="resolved",
                resolved_at=recovery["detected_at"],
            )
            self._note(incident.incident_id, "RECOVERED", recovery, recovery["detected_at"])
        closed.update({incident_id: iso(at) for incident_id, at in commit.recheck})
        self._closing.update(closed)
        for incident_id in commit.closing_done:
            self._closing.pop(incident_id, None)
        for entry in commit.judged:
            self._queued.pop((entry.location, entry.repository, entry.tag, entry.sort_key), None)
        if commit.register:
            self._repositories.add(commit.register)
        self._count(counts)

    def _apply_image(self, change: ImageChange) -> None:
        image = self._images.setdefault((change.repository, change.digest), _Image())
        for location, presence in change.after.presence.items():
            if change.before.presence.get(location) != presence:
                image.presence[location] = replace(presence, rev=presence.rev + 1)
        before = {(r.source, r.destination): r for r in change.before.replicas}
        for replica in change.after.replicas:
            key = (replica.source, replica.destination)
            if before.get(key) != replica:
                image.replicas[key] = replace(replica, rev=replica.rev + 1)

    def _open(self, new: NewIncident) -> None:
        alert = new.alert
        state = "resolved" if new.resolved_at_once else "open"
        self._incidents[alert["incident_id"]] = Incident(
            alert["incident_id"],
            alert["kind"],
            state,  # type: ignore[arg-type]
            alert,
            alert["detected_at"],
            alert["detected_at"] if new.resolved_at_once else None,
        )
        self._note(alert["incident_id"], "OPEN", alert, iso(new.deliver_at))

    def _note(self, incident_id: str, note: str, alert: dict[str, Any], at: str) -> None:
        self._notes[(incident_id, note)] = _Note(
            Notification(incident_id, note, alert, self.channels, {}),
            at,
            delivered=not self.channels,
        )

    def _count(self, counts: Counts) -> None:
        self._status["pending"] += counts.pending
        self._status["missing"] += counts.missing
        self._status["failed"] += counts.failed
        self._status["drifted"] += counts.drifted
        self._status["undeleted"] += counts.undeleted
        for name, moments in (("ARRIVED", counts.arrivals), ("OVERWRITTEN", counts.overwrites)):
            for moment, delta in moments:
                key = (name, _minute(moment))
                self._buckets[key] = self._buckets.get(key, 0) + delta


def _catalog_key(replica: Replica) -> str:
    pushed = iso(replica.pushed_at) if replica.pushed_at else ""
    return f"{_loc(replica.destination)}#{pushed}#{replica.digest}#{_loc(replica.source)}"


def _minute(moment: datetime) -> str:
    return iso(moment)[:16]


def _cursor(offset: int, listing: str) -> str:
    return f"{listing}@{offset}"


def _offset(cursor: str | None, listing: str) -> int:
    if cursor is None:
        return 0
    name, _, number = cursor.rpartition("@")
    if name != listing:
        raise InvalidRequest("cursor belongs to another listing; pass this listing's next_cursor")
    if not number.isdigit():
        raise InvalidRequest("cursor is not valid; pass next_cursor from a previous page")
    return int(number)


_sent = itertools.count()


class RecordingChannel:
    """An alert channel that records what it was sent; `failures` makes the next sends fail."""

    def __init__(self, name: str = "sns", max_tries: int | None = None) -> None:
        self.name = name
        if max_tries is not None:
            self.max_tries = max_tries
        self.sent: list[dict[str, Any]] = []
        self.failures = 0

    def send(self, alert: dict[str, Any]) -> None:
        if self.failures:
            self.failures -= 1
            raise DeliveryFailed(f"{self.name} is down (test)")
        self.sent.append(alert)

    def kinds(self) -> list[str]:
        return [a["kind"] for a in self.sent]


def fake_deps(
    config: list[dict[str, Any]] | None = None,
    channels: Iterable[RecordingChannel] | None = None,
    clock: datetime | None = None,
    registries: Any = None,
    **env: str,
) -> Any:
    """Deps wired to one InMemoryLedger and recording channels, as bootstrap wires DynamoDB."""
    import json

    from chalicelib.ports import Deps
    from chalicelib.settings import Settings
    from tests import events as ev

    settings = Settings.from_env(
        {
            "AUDIT_TABLE": "in-memory",
            "ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:in-memory",
            "REPLICATION_CONFIG": json.dumps(ev.DEFAULT_CONFIG if config is None else config),
            **env,
        }
    )
    recording = list(channels) if channels is not None else [RecordingChannel()]
    ledger = InMemoryLedger(c.name for c in recording)
    now = clock or ev.at(24 * 60)
    return Deps(
        settings=settings,
        images=ledger,
        tags=ledger,
        incidents=ledger,
        outbox=ledger,
        counters=ledger,
        work=ledger,
        writer=ledger,
        channels=recording,
        clock=lambda: now,
        registries=registries,
    )


class InMemoryRegistries:
    """The registries as the sweep asks them: images and tags per (location, repository);
    `down` holds locations that answer RegistryUnavailable."""

    def __init__(self) -> None:
        self.images: dict[tuple[Location, str], dict[str, datetime]] = {}
        self.tags: dict[tuple[Location, str], dict[str, str]] = {}
        self.statuses: dict[tuple[Location, str, str, Location], str] = {}
        self.down: set[Location] = set()
        self.calls = 0

    def put(self, location: Location, repository: str, digest: str, at: datetime, tag=None) -> None:
        self.images.setdefault((location, repository), {})[digest] = at
        if tag:
            self.tags.setdefault((location, repository), {})[tag] = digest

    def _repository(self, location: Location, repository: str) -> None:
        from chalicelib.core.errors import RegistryUnavailable, RepositoryNotFound

        self.calls += 1
        if location in self.down:
            raise RegistryUnavailable(location.account, location.region, "AccessDenied", "test")
        if (location, repository) not in self.images:
            raise RepositoryNotFound(location.account, location.region, repository)

    def find_digests(self, location: Location, repository: str, digests: Iterable[str]) -> dict:
        self._repository(location, repository)
        held = self.images[(location, repository)]
        return {d: held[d] for d in digests if d in held}

    def tag_digests(self, location: Location, repository: str, tags: Iterable[str]) -> dict:
        self._repository(location, repository)
        held = self.tags.get((location, repository), {})
        return {t: held[t] for t in tags if t in held}

    def replication_status(
        self, source: Location, repository: str, digest: str, destination: Location
    ) -> str | None:
        self._repository(source, repository)
        return self.statuses.get((source, repository, digest, destination))
