"""What runs the images: the workloads of a location that reference its registry, those an alert
concerns, and the digests they pin (PINNED_DIGEST_MISSING). Pure: no I/O.

A workload is an ECS service or a Lambda function packaged as an image. Its entry names the
image reference as written and the digest it runs where ECS or Lambda report it: an ECS
service revision's resolved digest (container image resolution, `versionConsistency` on by
default), a task's `imageDigest`, a function's `ResolvedImageUri`. A workload is **pinned** to
that digest when a tag move does not change what it runs or pulls next time it scales out,
replaces a task, rolls back or is restored: a reference written with a digest, an ECS service
whose revision resolved the tag, a Lambda function (it keeps its resolved image until its code
is updated).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from chalicelib.core.image_references import parse_image_reference
from chalicelib.core.lifecycle import Location

WorkloadType = Literal["ecs-service", "lambda-function"]
# WORKLOAD_TYPES names what is read ("ecs", "lambda"); entries name what was found
TYPE_OF: dict[str, WorkloadType] = {"ecs": "ecs-service", "lambda": "lambda-function"}
FRESH_FOR = timedelta(minutes=15)  # an inventory older than this is read again before use
# Kinds whose workloads are those naming the alert's tag: their next deployment (or new
# task, or code update) pulls what the tag names now.
BY_TAG = frozenset({"TAG_OVERWRITTEN", "TAG_DRIFT", "REPLICA_MISSING", "REPLICATION_FAILED"})
PINNED_KIND = "PINNED_DIGEST_MISSING"
LABEL: dict[str, str] = {"ecs-service": "ECS", "lambda-function": "Lambda"}
NEXT: dict[str, str] = {"ecs-service": "deployment", "lambda-function": "code update"}


@dataclass(frozen=True)
class ImageUse:
    """One image a workload names, as ECS or Lambda report it, before it is parsed."""

    image: str  # the reference as written (container definition, ImageUri)
    digest: str | None = None  # the digest ECS resolved or Lambda's ResolvedImageUri names
    follows_tag: bool = False  # ECS `versionConsistency: disabled`: new tasks pull the tag


@dataclass(frozen=True, order=True)
class Workload:
    """One workload's use of one repository of its own location's registry."""

    repository: str
    type: WorkloadType
    name: str  # <cluster>/<service>, or the function's name
    account: str
    region: str
    image: str
    tag: str | None  # the tag the reference names (None: by digest only)
    digest: str | None  # the digest it runs, where known
    pinned: bool

    @property
    def location(self) -> Location:
        return Location(self.account, self.region)

    @property
    def by_digest(self) -> bool:
        """The reference as written names a digest (`@sha256:…`), so its tag is only a label."""
        reference = parse_image_reference(self.image)
        return reference is not None and reference.pinned

    def alert_entry(self) -> dict[str, Any]:
        """The entry an alert document's `workloads` lists."""
        return {
            "type": self.type,
            "name": self.name,
            "account": self.account,
            "region": self.region,
            "image": self.image,
            "digest": self.digest,
        }

    def api_entry(self) -> dict[str, Any]:
        """The entry GET /workloads lists."""
        return {**self.alert_entry(), "tag": self.tag, "pinned": self.pinned}


def workloads_of(
    location: Location, kind: WorkloadType, name: str, uses: Iterable[ImageUse]
) -> list[Workload]:
    """The entries of one workload: its references to images of `location`'s registry (other
    registries, other accounts and Regions are not this location's business)."""
    found: dict[tuple[str, str], Workload] = {}
    for use in uses:
        reference = parse_image_reference(use.image)
        if reference is None or Location(reference.account, reference.region) != location:
            continue
        digest = reference.digest or use.digest
        pinned = digest is not None and (reference.pinned or not use.follows_tag)
        workload = Workload(
            reference.repository,
            kind,
            name,
            location.account,
            location.region,
            use.image,
            reference.tag,
            digest,
            pinned,
        )
        found.setdefault((use.image, digest or ""), workload)
    return sorted(found.values())


def by_repository(workloads: Iterable[Workload]) -> dict[str, tuple[Workload, ...]]:
    grouped: dict[str, list[Workload]] = {}
    for workload in workloads:
        grouped.setdefault(workload.repository, []).append(workload)
    return {repository: tuple(sorted(found)) for repository, found in sorted(grouped.items())}


# --------------------------------------------------------------------------- alerts


def concerned(
    alert: Mapping[str, Any], workloads: Iterable[Workload] | None
) -> list[dict[str, Any]] | None:
    """The alert's `workloads`: at its destination, those naming its repository with its tag
    (the tag kinds) or its digest (PINNED_DIGEST_MISSING; DELETE_NOT_REPLICATED: either).
    None when discovery is off; [] when none is known."""
    if workloads is None:
        return None
    kind = alert["resolves"] if alert["kind"] == "RECOVERED" else alert["kind"]
    destination = alert.get("destination") or {}
    where = Location(str(destination.get("account")), str(destination.get("region")))
    return [
        w.alert_entry()
        for w in sorted(workloads)
        if w.location == where and w.repository == alert["repository"] and _concerns(kind, alert, w)
    ]


def _concerns(kind: str, alert: Mapping[str, Any], workload: Workload) -> bool:
    by_tag = alert["tag"] is not None and workload.tag == alert["tag"] and not workload.by_digest
    by_digest = alert["digest"] is not None and workload.digest == alert["digest"]
    if kind == PINNED_KIND:
        return by_digest and workload.pinned
    if kind in BY_TAG:
        return by_tag
    return by_tag or by_digest


def _short(digest: str | None) -> str:
    if not digest:
        return "an unknown digest"
    value = digest.partition(":")[2] or digest
    return f"{value[:12]}…" if len(value) > 12 else value


def workload_line(alert: Mapping[str, Any], entry: Mapping[str, Any]) -> str:
    """One line a person reads: "ECS prod/api runs a1b2…; its next deployment takes c3d4…"."""
    kind = alert["resolves"] if alert["kind"] == "RECOVERED" else alert["kind"]
    who = f"{LABEL.get(entry['type'], entry['type'])} {entry['name']}"
    runs = _short(entry.get("digest"))
    after = NEXT.get(entry["type"], "deployment")
    if alert["kind"] == "RECOVERED":  # what the incident concerned when it opened
        return f"{who} {'pinned' if kind == PINNED_KIND else 'ran'} {runs}"
    if kind == PINNED_KIND:
        if entry["type"] == "lambda-function":
            return f"{who} pins {runs}: updating or restoring the function fails to pull it"
        return f"{who} pins {runs}: a scale-out, task replacement or rollback fails to pull it"
    takes = alert["digest"]
    if kind in ("REPLICA_MISSING", "REPLICATION_FAILED"):
        return f"{who} runs {runs}; its next {after} pulls {alert['repository']}:{alert['tag']}"
    if takes and entry.get("digest") == takes:
        return f"{who} runs {runs}, the digest the tag names now"
    return f"{who} runs {runs}; its next {after} takes {_short(takes)}"


def workload_lines(alert: Mapping[str, Any], limit: int = 10) -> list[str]:
    entries = alert.get("workloads") or []
    lines = [workload_line(alert, entry) for entry in entries[:limit]]
    if len(entries) > limit:
        lines.append(f"… and {len(entries) - limit} more")
    return lines


# --------------------------------------------------------------------------- freshness


def is_stale(
    refreshed_at: datetime | None, now: datetime, fresh_for: timedelta = FRESH_FOR
) -> bool:
    return refreshed_at is None or refreshed_at + fresh_for <= now


def to_refresh(
    refreshed: Mapping[Location, datetime | None], now: datetime, limit: int
) -> list[Location]:
    """The locations whose inventory is stale, never read first, then oldest first."""
    stale = [where for where, at in refreshed.items() if is_stale(at, now)]
    oldest = sorted(
        stale, key=lambda where: (refreshed[where] is not None, refreshed[where], where)
    )
    return oldest[:limit]


# --------------------------------------------------------------------------- pinned digests


@dataclass(frozen=True, order=True)
class Pin:
    """A digest workloads of a location pin in its registry."""

    location: Location
    repository: str
    digest: str


def pins_of(workloads: Iterable[Workload]) -> dict[Pin, tuple[Workload, ...]]:
    found: dict[Pin, list[Workload]] = {}
    for workload in workloads:
        if workload.pinned and workload.digest:
            pin = Pin(workload.location, workload.repository, workload.digest)
            found.setdefault(pin, []).append(workload)
    return {pin: tuple(sorted(users)) for pin, users in sorted(found.items())}


Verdict = Literal["missing", "present", "unknown"]


def verdict(listed: bool | None, deleted_there: bool) -> Verdict:
    """Whether a pinned digest is still in its registry: the registry's answer where it was
    asked (`listed`), else the ledger's knowledge of a deletion there; unknown otherwise."""
    if listed is not None:
        return "present" if listed else "missing"
    return "missing" if deleted_there else "unknown"


PinMove = Literal["open", "recover", "keep"]


def pin_move(pinned_now: bool, state: Verdict, open_since: datetime | None) -> PinMove:
    """What a pin check does: open PINNED_DIGEST_MISSING when a pinned digest is missing and no
    incident is open for it; recover an open one once the digest is back or no workload pins it
    any more; keep everything as it is otherwise (unknown never opens nor recovers)."""
    if open_since is None:
        return "open" if pinned_now and state == "missing" else "keep"
    if not pinned_now or state == "present":
        return "recover"
    return "keep"


# --------------------------------------------------------------------------- inventories


@dataclass(frozen=True)
class Reading:
    """One read of a location's workloads: per type (`ecs`, `lambda`) what was found, or the
    one-line reason it could not be read (throttled, access denied...): then it is unknown."""

    location: Location
    found: Mapping[str, tuple[Workload, ...]]
    problems: Mapping[str, str]

    @property
    def workloads(self) -> tuple[Workload, ...]:
        return tuple(sorted(w for found in self.found.values() for w in found))


def pinned_next_steps(alert: Mapping[str, Any]) -> list[str]:
    """What an on-call person checks for PINNED_DIGEST_MISSING, commands ready to paste."""
    repository, digest = alert["repository"], alert["digest"]
    where = alert.get("destination") or {}
    account, region = where.get("account", "ACCOUNT"), where.get("region", "REGION")
    return [
        f"Confirm it is gone: `aws ecr describe-images --repository-name {repository} "
        f"--image-ids imageDigest={digest} --region {region}` in {account} "
        "(ImageNotFoundException).",
        "Running tasks and functions keep working; the next scale-out, task replacement "
        "(Fargate retirement included), rollback or function restore fails with "
        "CannotPullContainerError.",
        "Restore the image there (push it again, or replicate it from its source with "
        "`aws ecr start-replication-backfill`), or deploy the workloads listed to a digest the "
        "registry has (`aws ecs update-service --force-new-deployment`, `aws lambda "
        "update-function-code --image-uri …`).",
        "Lifecycle rules and rules that replicate deletions (`deleteReplication`) remove "
        "digests that running workloads pin: `ecr-audit doctor` lists where that can happen.",
        "This incident recovers when the digest is back or no workload pins it any more.",
    ]


@dataclass(frozen=True)
class LocationInventory:
    """What the ledger keeps of one location's workloads: per type read (`ecs`, `lambda`) when
    it was last read whole and why the last read failed, if it did; the entries as last read
    (all of them, or one repository's); the pins with an open PINNED_DIGEST_MISSING."""

    location: Location
    refreshed: Mapping[str, datetime] = field(default_factory=dict)
    problems: Mapping[str, str] = field(default_factory=dict)
    workloads: tuple[Workload, ...] = ()
    open_pins: Mapping[Pin, datetime] = field(default_factory=dict)

    def refreshed_at(self, types: Iterable[str]) -> datetime | None:
        """When every type in `types` was last read whole (None: one never was)."""
        times = [self.refreshed.get(kind) for kind in types]
        return None if not times or None in times else min(t for t in times if t)

    def known(self, types: Iterable[str], now: datetime) -> tuple[Workload, ...]:
        """The entries of the types read whole within FRESH_FOR: the others are unknown."""
        fresh = {TYPE_OF[k] for k in types if not is_stale(self.refreshed.get(k), now)}
        return tuple(w for w in self.workloads if w.type in fresh)

    @property
    def repositories(self) -> frozenset[str]:
        return frozenset(w.repository for w in self.workloads)


def merged(
    previous: LocationInventory | None, reading: Reading, now: datetime
) -> LocationInventory:
    """The inventory after a read: the types read replace their entries; a type that failed
    keeps its last entries and time (they become unknown once stale) and records why."""
    before = previous or LocationInventory(reading.location)
    refreshed = {**before.refreshed, **dict.fromkeys(reading.found, now)}
    problems = {k: v for k, v in before.problems.items() if k not in reading.found}
    problems.update(reading.problems)
    kept = tuple(w for w in before.workloads if w.type not in {TYPE_OF[k] for k in reading.found})
    return LocationInventory(
        reading.location,
        refreshed,
        problems,
        tuple(sorted((*kept, *reading.workloads))),
        before.open_pins,
    )
