"""The ports the use cases depend on: narrow protocols per aggregate of the ledger, the alert
channels, and the value types that cross them. DynamoDB adapters (chalicelib/adapters/ledger/)
and the in-memory fakes under tests/ implement them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from chalicelib.core.decisions import Counts, ImageChange, NewIncident
from chalicelib.core.documents import StatusCounts
from chalicelib.core.judgement import TagEntry
from chalicelib.core.lifecycle import ImageFacts, Location, Replica
from chalicelib.core.rules import ReplicationConfig
from chalicelib.core.workloads import LocationInventory, Pin, Reading, Workload
from chalicelib.settings import Settings

# ----------------------------------------------------------------------------- values


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next_cursor: str | None


@dataclass(frozen=True)
class Incident:
    """An incident and its alert document: the one published when it opened, moved to an
    earlier fact if one was delivered after (decisions.ImageChange.restated)."""

    incident_id: str
    kind: str
    state: Literal["open", "resolved"]
    alert: dict[str, Any]
    detected_at: str
    resolved_at: str | None = None


@dataclass(frozen=True)
class Notification:
    """One alert in the outbox, with the channels it still has to reach and their tries."""

    incident_id: str
    note: str  # OPEN or RECOVERED
    alert: dict[str, Any]
    pending: frozenset[str]
    tries: Mapping[str, int] = field(default_factory=dict)

    @property
    def dedup_id(self) -> str:
        """The same for every copy of this notification: consumers may deduplicate on it."""
        return f"{self.incident_id}#{self.note}"


@dataclass(frozen=True)
class ImageRecord:
    """What the ledger holds about one repository@digest, and which events it has applied."""

    facts: ImageFacts
    applied: frozenset[str] = frozenset()


WorkKind = Literal["due", "judge", "untag", "deliver", "close"]


@dataclass(frozen=True)
class Work:
    """One piece of sweep work that has come due: a replica, a tag entry to judge, a
    notification to deliver, or an incident whose replica closed."""

    kind: WorkKind
    at: str  # its place in the queue (time, then identity)
    replica: Replica | None = None
    entry: TagEntry | None = None
    incident_id: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Commit:
    """Everything one event or one sweep step writes, applied atomically or not at all."""

    event_id: str | None = None  # recorded as applied (on `event_image`) with the rest
    event_image: tuple[str, str] | None = None
    event_time: datetime | None = None
    tag_entry: TagEntry | None = None
    judge_entry: bool = False  # the new tag entry waits for the overwrite judgement
    images: tuple[ImageChange, ...] = ()
    opened: tuple[NewIncident, ...] = ()  # incidents of no image change (overwrites)
    resolved: tuple[tuple[Incident, dict[str, Any]], ...] = ()  # with their RECOVERED document
    closing_done: tuple[str, ...] = ()  # incident ids whose closing check is finished
    recheck: tuple[tuple[str, datetime], ...] = ()  # incidents to check again at a time
    judged: tuple[TagEntry, ...] = ()  # entries that leave the judge queues
    register: str | None = None  # a repository with expected replicas
    counts: Counts = field(default_factory=Counts)


@dataclass
class Migration:
    """What a layout migration did (it may stop early and resume: `done` says whether the
    ledger is in the new layout now)."""

    from_version: int | None
    to_version: int
    done: bool = False
    moved: dict[str, int] = field(default_factory=dict)  # items moved, by step
    counters_before: dict[str, int] = field(default_factory=dict)  # the old layout's values
    counters_after: dict[str, int] = field(default_factory=dict)  # rebuilt from the facts
    seconds: float = 0.0


# ----------------------------------------------------------------------------- ports


class LedgerConflict(Exception):
    """A commit raced another writer or found its event applied; the caller re-reads."""


class LedgerBusy(LedgerConflict):
    """A commit was refused, writing nothing, because another request was writing one of its
    items (DynamoDB's transaction conflict) or because DynamoDB throttled it: the caller waits
    a little (jittered), then re-reads and decides again."""


class Images(Protocol):
    def load(self, repository: str, digest: str) -> ImageRecord: ...

    def replicas_page(self, repository: str, limit: int, cursor: str | None) -> Page: ...

    def newest_replica(self, repository: str, destination: Location) -> Replica | None: ...

    def repository_known(self, repository: str) -> bool: ...

    def repositories(self) -> list[str]: ...


class TagHistory(Protocol):
    def heads_as_of(
        self, location: Location, repository: str, tags: Iterable[str], moment: datetime
    ) -> dict[str, TagEntry | None]: ...

    def neighbours(self, entry: TagEntry) -> tuple[TagEntry | None, TagEntry | None]: ...

    def repository_tags(self, repository: str) -> dict[Location, dict[str, str]]: ...


class Incidents(Protocol):
    def incident(self, incident_id: str) -> Incident | None: ...

    def incidents_page(self, state: str, limit: int, cursor: str | None) -> Page: ...


class Outbox(Protocol):
    def notification(self, incident_id: str, note: str) -> Notification | None: ...

    def claim(self, notification: Notification, now: datetime, lease: timedelta) -> bool: ...

    def replace_alert(self, notification: Notification, alert: dict[str, Any]) -> None: ...

    def settle(
        self,
        notification: Notification,
        remaining: frozenset[str],
        tries: Mapping[str, int],
        now: datetime,
    ) -> None: ...


class Counters(Protocol):
    def status_counts(self, now: datetime) -> StatusCounts: ...


class WorkQueue(Protocol):
    def due_work(self, now: datetime, limit: int) -> list[Work]: ...


class LedgerLayout(Protocol):
    """The ledger's key layout: whether it must be migrated first, and the migration."""

    def needs_migration(self) -> bool: ...

    def migrate(
        self, now: datetime, has_time: Callable[[], bool], progress: Callable[[str], None]
    ) -> Migration:
        """Migrate as far as `has_time` allows (`now`: the 24 h counts to keep end there)."""
        ...


class Writer(Protocol):
    def commit(self, commit: Commit) -> None:
        """Apply atomically; LedgerConflict when a condition failed (re-read and decide),
        LedgerBusy when nothing was written because an item was busy (wait, then the same)."""
        ...


class Registries(Protocol):
    """The ECR registries themselves, asked read-only through the audit role. Raise
    RegistryUnavailable (a one-line reason naming the account) or RepositoryNotFound."""

    def find_digests(
        self, location: Location, repository: str, digests: Iterable[str]
    ) -> dict[str, datetime]: ...

    def tag_digests(
        self, location: Location, repository: str, tags: Iterable[str]
    ) -> dict[str, str]: ...

    def replication_status(
        self, source: Location, repository: str, digest: str, destination: Location
    ) -> str | None: ...


class WorkloadReader(Protocol):
    """What runs in a location (ECS services, Lambda image functions), read through the audit
    role; a type that cannot be read is reported in `Reading.problems`, never raised."""

    types: tuple[str, ...]  # WORKLOAD_TYPES: "ecs", "lambda"

    def read(self, location: Location) -> Reading: ...


class WorkloadStore(Protocol):
    """The workload inventories kept in the ledger, per location and per (location,
    repository), so that an alert reads what concerns it with one request."""

    def inventories(self, locations: Iterable[Location]) -> dict[Location, LocationInventory]:
        """Each location's inventory without its entries (when it was read, open pins)."""
        ...

    def inventory(
        self, location: Location, repository: str | None = None
    ) -> LocationInventory | None:
        """One location's inventory with its entries (of `repository` only: one request)."""
        ...

    def save(self, inventory: LocationInventory, previous: LocationInventory | None) -> None: ...

    def pin_opened(self, pin: Pin, since: datetime) -> None: ...

    def pin_closed(self, pin: Pin) -> None: ...

    def repository_workloads(self, repository: str) -> list[Workload]: ...


class AlertChannel(Protocol):
    """An alert channel; one with a `max_tries` attribute is given up after that many."""

    name: str

    def send(self, alert: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class StoredRules:
    """One source registry's rules as ECR gave them, and when."""

    source: Location
    registry: Mapping[str, Any]  # a REPLICATION_CONFIG item: describe-registry output + region
    fetched_at: datetime


class RulesStore(Protocol):
    """Where the rules read from ECR (REPLICATION_SOURCES) are kept between invocations."""

    def load_all(self) -> dict[Location, StoredRules]: ...

    def save(self, rules: StoredRules) -> None: ...


class RulesReader(Protocol):
    """What discovery needs of a registry (EcrRegistry has it)."""

    def replication_rules(self) -> dict[str, Any]: ...


# ----------------------------------------------------------------------------- the bundle


@dataclass
class Deps:
    """The ports and the clock, built once by bootstrap.py (or by a test)."""

    settings: Settings
    images: Images
    tags: TagHistory
    incidents: Incidents
    outbox: Outbox
    counters: Counters
    work: WorkQueue
    writer: Writer
    channels: Sequence[AlertChannel]
    clock: Callable[[], datetime]
    registries: Registries | None = None  # with AUDIT_ROLE_NAME: the registries are asked
    layout: LedgerLayout | None = None  # None: nothing to check (the in-memory fakes)
    discovery: Any = None  # with REPLICATION_SOURCES: a RuleDiscovery (registry_rules.py)
    # with WORKLOAD_TYPES (and AUDIT_ROLE_NAME): what runs the images, and where it is kept
    workloads: WorkloadReader | None = None
    inventory: WorkloadStore | None = None
    # Sweep steps in flight at once (sweep.py): the deployed app's adapters are thread-safe;
    # the in-memory fakes of the tests are not, and keep 1.
    sweep_workers: int = 1

    def rules(self, now: datetime) -> ReplicationConfig:
        """REPLICATION_CONFIG, plus the rules read from ECR for REPLICATION_SOURCES."""
        if self.discovery is None:
            return self.settings.replication
        return self.discovery.rules(now).config  # type: ignore[no-any-return]
