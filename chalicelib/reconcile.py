"""reconcile: ask every location's registry what one repository holds, and record what it says.

Events are best effort, and ECR replicates only what is pushed after a rule exists: the ledger
can miss an arrival, a tag move, or a whole image that predates the auditor. This asks the
registries (through the audit role) and, per image, writes what they show as ONE Commit:
the digest seen where it is (at its `imagePushedAt`), replicas found present counted as
arrived, the push of an image the ledger never heard of recorded as it would have been. Nothing
here opens an incident: history does not page anyone. (An incident that was open for a replica
found present closes as usual, and the sweep sends its RECOVERED.) Tag heads that differ from the
registry are corrected with one synthetic tag entry each.

`learn` is the pure decision; `reconcile_repository` reads, decides and writes; `render_*`
format the report.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from chalicelib import decisions, domain, services
from chalicelib.domain import (
    ImageFacts,
    Location,
    Replica,
    TagEntry,
)
from chalicelib.errors import RegistryUnavailable, RepositoryNotFound
from chalicelib.ports import Commit, Deps, RegistryImage, ReplicationStatus
from chalicelib.rules import ReplicationConfig, parse_replication_config

ONE_SECOND = timedelta(seconds=1)


class Registry(Protocol):
    """What reconcile asks of one registry (EcrRegistry has it; tests have a fake)."""

    location: Location

    def all_images(self, repository: str) -> list[RegistryImage]: ...

    def images(self, repository: str, digests: Iterable[str]) -> dict[str, RegistryImage]: ...

    def tag_digests(self, repository: str, tags: Iterable[str]) -> dict[str, str]: ...

    def replication_status(self, repository: str, digest: str) -> list[ReplicationStatus]: ...


RegistryOf = Callable[[Location], Registry]


@dataclass(frozen=True)
class Selection:
    """What to reconcile in a repository: one tag, one digest, or (neither) every image."""

    tag: str | None = None
    digest: str | None = None

    def __str__(self) -> str:
        if self.tag is not None:
            return f"tag {self.tag}"
        if self.digest is not None:
            return f"digest {self.digest}"
        return "every image"


# ----------------------------------------------------------------------------- the decision


def learn(
    facts: ImageFacts,
    repository: str,
    digest: str,
    sightings: Mapping[Location, RegistryImage],
    config: ReplicationConfig,
    grace: timedelta,
    now: datetime,
    check_drift: bool = False,
) -> ImageFacts:
    """The image's facts once the registries' `sightings` of it are known.

    Each sighting is the digest present there since its `imagePushedAt`, under its tags. A
    tagged image at a source whose replica the ledger never expected (its push predates the
    auditor, or its event was lost) gets that replica recorded as the push would have: where the
    destination has it, it arrives at once; where it does not, it is expected only if still
    within its grace period (then the sweep judges it as any other); an older one is not
    expected, since ECR replicates only what is pushed after a rule exists (the caller lists it
    as never reached, a backfill candidate), and an expectation already overdue would alert.
    An expected one is due for the TAG_DRIFT check with `check_drift`, as after a push; one
    found present is history and is not.
    """
    after = facts
    for location, image in sorted(sightings.items()):
        tags: list[str | None] = [*sorted(image.tags)] or [None]
        for tag in tags:
            after = decisions.seen(after, location, image.pushed_at, tag)
    for source, image in sorted(sightings.items()):
        if not image.tags:
            continue  # untagged: travels with its index, expects nothing of its own
        known = {(r.source, r.destination) for r in after.replicas}
        for destination in sorted(config.destinations_for(source, repository)):
            due = image.pushed_at + grace
            if (source, destination) in known or (destination not in sightings and due <= now):
                continue
            replica = Replica(
                repository=repository,
                digest=digest,
                source=source,
                destination=destination,
                tag=sorted(image.tags)[0],
                pushed_at=image.pushed_at,
                due_at=due,
                drift_check=check_drift and destination not in sightings,
            )
            after = decisions.expect(after, replica)
    return decisions.reconcile_all(after)


def head_correction(
    location: Location,
    repository: str,
    tag: str,
    image: RegistryImage,
    head: TagEntry | None,
) -> TagEntry:
    """The tag entry that moves the ledger's head of `tag` to what the registry shows.

    Timed at the image's push when that is later than the head (the tag most likely moved with
    the push); otherwise a second after the head, since the move happened after what the ledger
    knows and an older entry never moves a head. The id is synthetic and stable.
    """
    moment = image.pushed_at
    if head is not None and moment <= head.time:
        moment = head.time + ONE_SECOND
    seed = "\x1f".join((str(location), repository, tag, image.digest, domain.iso(moment)))
    return TagEntry(
        location=location,
        repository=repository,
        tag=tag,
        time=moment,
        event_id=f"reconcile-{hashlib.sha256(seed.encode()).hexdigest()[:20]}",
        digest=image.digest,
        kind="push",
    )


# ----------------------------------------------------------------------------- the report


@dataclass
class TagView:
    tag: str
    registry: str | None  # the digest the registry's tag names; None: no such tag there
    ledger: str | None  # the ledger's head before; None: the ledger knows no such tag there
    corrected: bool = False

    @property
    def agrees(self) -> bool:
        return self.registry == self.ledger


@dataclass
class LocationView:
    location: Location
    role: str  # source, destination, or source and destination
    exists: bool = True  # the repository exists there
    error: str | None = None  # the registry could not be asked
    tags: list[TagView] = field(default_factory=list)


@dataclass
class ReplicaView:
    digest: str
    tags: tuple[str, ...]  # the image's tags at the source
    source: Location
    destination: Location
    before: str | None  # the ledger's state before; None: not expected
    after: str | None  # and after
    present: bool | None  # in the destination registry; None: it could not be asked
    arrived_at: datetime | None
    ecr: str | None = None  # ECR's own replication status, from the source registry
    due_at: datetime | None = None  # the ledger's due time, for a pending one

    @property
    def disagrees(self) -> bool:
        return (self.present is True and self.before != "replicated") or (
            self.present is False and self.before == "replicated"
        )


@dataclass
class RepositoryReport:
    repository: str
    selection: Selection
    locations: list[LocationView] = field(default_factory=list)
    replicas: list[ReplicaView] = field(default_factory=list)
    images: int = 0  # images the registries showed
    recorded: int = 0  # images whose facts changed (one commit each)
    predating: int = 0  # images the ledger had no record of
    arrived: int = 0  # replicas recorded as arrived by this run
    corrected: int = 0  # tag heads corrected
    errors: list[str] = field(default_factory=list)
    calls: int = 0  # registry API calls

    @property
    def never_reached(self) -> list[ReplicaView]:
        """Tagged source images a destination does not have and will not get by itself: not
        expected (older than the grace period when first seen) or already missing or failed.
        A pending one is still on its way."""
        return [
            r
            for r in self.replicas
            if r.present is False and r.after in (None, "missing", "failed", "cancelled")
        ]


# ----------------------------------------------------------------------------- asking


@dataclass
class _Asked:
    view: LocationView
    registry: Registry | None
    images: dict[str, RegistryImage] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)  # tag -> digest, as far as asked
    listed: bool = False  # `images` is the whole repository

    @property
    def usable(self) -> bool:
        return self.view.error is None


def _ask(asked: _Asked, question: Callable[[Registry], Any], default: Any) -> Any:
    if not asked.usable or not asked.view.exists or asked.registry is None:
        return default
    try:
        return question(asked.registry)
    except RepositoryNotFound:
        asked.view.exists = False
    except RegistryUnavailable as error:
        asked.view.error = str(error)
    return default


def roles_of(config: ReplicationConfig, repository: str) -> dict[Location, str]:
    """Every location the rules involve for `repository`: its sources and their destinations."""
    roles: dict[Location, set[str]] = {}
    for registry in config.sources:
        destinations = config.destinations_for(registry.location, repository)
        if not destinations:
            continue
        roles.setdefault(registry.location, set()).add("source")
        for destination in destinations:
            roles.setdefault(destination, set()).add("destination")
    ordered = sorted(roles.items(), key=lambda kv: ("source" not in kv[1], kv[0]))  # sources first
    return {loc: " and ".join(sorted(r, reverse=True)) for loc, r in ordered}


def reconcile_repository(
    repository: str,
    deps: Deps,
    registry_of: RegistryOf,
    config: ReplicationConfig,
    selection: Selection = Selection(),
    *,
    ask_status: bool = True,
) -> RepositoryReport:
    """Ask each location's registry about `selection` in `repository`; record what it shows."""
    now = deps.clock()
    report = RepositoryReport(repository, selection)
    roles = roles_of(config, repository)
    asked: dict[Location, _Asked] = {}
    for location, role in roles.items():
        view = LocationView(location, role)
        report.locations.append(view)
        try:
            registry: Registry | None = registry_of(location)
        except RegistryUnavailable as error:
            view.error, registry = str(error), None
        asked[location] = _Asked(view, registry)
    calls_before = {loc: getattr(one.registry, "calls", 0) for loc, one in asked.items()}
    ledger_tags = deps.tags.repository_tags(repository)
    digests = _digests(repository, selection, roles, asked, ledger_tags)
    for one in asked.values():
        if not one.listed and digests:
            one.images = _ask(one, lambda r: r.images(repository, sorted(digests)), {})
        if selection.tag is None:
            for image in one.images.values():
                one.tags.update(dict.fromkeys(image.tags, image.digest))
    corrections: list[tuple[TagView, TagEntry]] = []
    for location, one in asked.items():
        corrections += _tags(
            repository, selection, one, ledger_tags.get(location, {}), digests, deps
        )
    digests |= {entry.digest for _, entry in corrections if entry.digest}
    report.images = len({d for one in asked.values() for d in one.images})
    statuses: dict[tuple[str, Location], dict[Location, ReplicationStatus | str]] = {}
    for digest in sorted(digests):
        sightings = {loc: one.images[digest] for loc, one in asked.items() if digest in one.images}
        if ask_status:
            statuses.update(_statuses(repository, digest, sightings, roles, asked))
        # The image's first tag correction rides in its commit (a Commit holds one tag entry).
        first = next((c for c in corrections if c[1].digest == digest), None)
        if _record_image(
            repository, digest, sightings, deps, config, now, report, asked, statuses, first
        ):
            corrections.remove(first)  # type: ignore[arg-type]
    for tag_view, entry in corrections:
        correction = Commit(tag_entry=entry)
        services.commit(lambda: correction, deps)  # noqa: B023 (called at once)
        _corrected(tag_view, report)
    report.errors = [f"{v.location}: {v.error}" for v in report.locations if v.error]
    report.calls = sum(
        getattr(one.registry, "calls", 0) - calls_before[loc] for loc, one in asked.items()
    )
    return report


def _digests(
    repository: str,
    selection: Selection,
    roles: Mapping[Location, str],
    asked: Mapping[Location, _Asked],
    ledger_tags: Mapping[Location, Mapping[str, str]],
) -> set[str]:
    """The digests to ask every location about (a first pass where the selection needs one)."""
    if selection.digest is not None:
        return {selection.digest}
    if selection.tag is not None:
        tag = selection.tag
        found: set[str] = set()
        for location, one in asked.items():
            one.tags = _ask(one, lambda r: r.tag_digests(repository, [tag]), {})
            found.update(one.tags.values())
            if tag in ledger_tags.get(location, {}):
                found.add(ledger_tags[location][tag])
        return found
    found = set()
    for location, one in asked.items():
        if "source" in roles[location]:
            images = _ask(one, lambda r: r.all_images(repository), [])
            one.images, one.listed = {i.digest: i for i in images}, one.usable
            found.update(one.images)
    for location_tags in ledger_tags.values():
        found.update(location_tags.values())
    return found


def _statuses(
    repository: str,
    digest: str,
    sightings: Mapping[Location, RegistryImage],
    roles: Mapping[Location, str],
    asked: Mapping[Location, _Asked],
) -> dict[tuple[str, Location], dict[Location, ReplicationStatus | str]]:
    """ECR's own replication status of the image, from each source registry that has it."""
    found: dict[tuple[str, Location], dict[Location, ReplicationStatus | str]] = {}
    for source, image in sightings.items():
        registry = asked[source].registry
        if "source" not in roles[source] or not image.tags or registry is None:
            continue
        if all(d in sightings for d in roles if d != source and "destination" in roles[d]):
            continue  # every destination has it: ECR's view adds nothing
        try:
            found[(digest, source)] = {
                s.destination: s for s in registry.replication_status(repository, digest)
            }
        except (RegistryUnavailable, RepositoryNotFound) as error:
            reason = getattr(error, "reason", "repository not found")
            found[(digest, source)] = {d: f"unavailable ({reason})" for d in roles}
    return found


def _record_image(
    repository: str,
    digest: str,
    sightings: Mapping[Location, RegistryImage],
    deps: Deps,
    config: ReplicationConfig,
    now: datetime,
    report: RepositoryReport,
    asked: Mapping[Location, _Asked],
    statuses: Mapping[tuple[str, Location], Mapping[Location, ReplicationStatus | str]],
    correction: tuple[TagView, TagEntry] | None = None,
) -> bool:
    """One commit: the image's new facts, and `correction` with them; True when the
    correction was committed."""
    outcome: dict[str, ImageFacts] = {}
    changed = [False]

    def decide() -> Commit | None:
        record = deps.images.load(repository, digest)
        before = record.facts
        after = learn(
            before,
            repository,
            digest,
            sightings,
            config,
            deps.settings.grace,
            now,
            check_drift=bool(deps.settings.audit_role_name),
        )
        outcome.update(before=before, after=after)
        change = decisions.change(repository, digest, before, after)
        changed[0] = change.changed
        if not change.changed and correction is None:
            return None
        added = {(r.source, r.destination) for r in after.replicas} - {
            (r.source, r.destination) for r in before.replicas
        }
        return Commit(
            images=(change,) if change.changed else (),
            tag_entry=correction[1] if correction else None,
            register=repository if added else None,
        )

    committed = services.commit(decide, deps) is not None
    if committed and changed[0]:
        report.recorded += 1
    if committed and correction is not None:
        _corrected(correction[0], report)
    before, after = outcome["before"], outcome["after"]
    if not before.presence and not before.replicas:
        report.predating += 1
    old = {(r.source, r.destination): r for r in before.replicas}
    new = {(r.source, r.destination): r for r in after.replicas}
    pairs = set(new)
    for source, image in sightings.items():
        if image.tags:
            pairs.update((source, d) for d in config.destinations_for(source, repository))
    for source, destination in sorted(pairs):
        at_source = sightings.get(source)
        if at_source is None and (source, destination) not in old:
            continue
        was, now_is = old.get((source, destination)), new.get((source, destination))
        if (
            now_is is not None
            and now_is.state == "replicated"
            and (was is None or was.state != "replicated")
        ):
            report.arrived += 1
        there = asked[destination]
        present = (digest in there.images) if there.usable else None
        status = statuses.get((digest, source), {}).get(destination)
        report.replicas.append(
            ReplicaView(
                digest=digest,
                tags=tuple(sorted(at_source.tags)) if at_source else (),
                source=source,
                destination=destination,
                before=was.state if was else None,
                after=now_is.state if now_is else None,
                present=present,
                arrived_at=there.images[digest].pushed_at if present else None,
                ecr=_status_text(status),
                due_at=now_is.due_at if now_is else None,
            )
        )
    return committed and correction is not None


def _status_text(status: ReplicationStatus | str | None) -> str | None:
    if status is None or isinstance(status, str):
        return status
    return f"{status.status} ({status.failure_code})" if status.failure_code else status.status


def _tags(
    repository: str,
    selection: Selection,
    asked: _Asked,
    ledger: Mapping[str, str],
    digests: set[str],
    deps: Deps,
) -> list[tuple[TagView, TagEntry]]:
    """Compare the location's tags with the ledger's heads; the corrections of those that
    differ (committed by the caller).

    A ledger tag the answers so far do not show is asked about (it may name another image
    there now), unless the answers are complete already (a tag asked for, a whole listing).
    """
    if not asked.usable or not asked.view.exists:
        return []
    location = asked.view.location
    in_scope = {
        tag
        for tag, digest in ledger.items()
        if (
            tag == selection.tag
            if selection.tag is not None
            else digest == selection.digest
            if selection.digest is not None
            else asked.listed or digest in digests
        )
    }
    complete = selection.tag is not None or asked.listed
    unseen = sorted(in_scope - set(asked.tags))
    if unseen and not complete:
        asked.tags.update(_ask(asked, lambda r: r.tag_digests(repository, unseen), {}))
        others = sorted(set(asked.tags.values()) - set(asked.images))
        if others:
            asked.images.update(_ask(asked, lambda r: r.images(repository, others), {}))
        if not asked.usable:
            return []
    corrections = []
    for tag in sorted(in_scope | set(asked.tags)):
        registry_digest = asked.tags.get(tag)
        view = TagView(tag, registry_digest, ledger.get(tag))
        asked.view.tags.append(view)
        image = asked.images.get(registry_digest or "")
        if view.agrees or image is None:
            continue  # a tag the registry lacks is reported, not removed (no deletion event)
        head = deps.tags.heads_as_of(location, repository, [tag], deps.clock())[tag]
        corrections.append((view, head_correction(location, repository, tag, image, head)))
    return corrections


def _corrected(view: TagView, report: RepositoryReport) -> None:
    view.corrected = True
    report.corrected += 1


def live_rules(
    static: ReplicationConfig, sources: Iterable[Location], registry_of: Callable[[Location], Any]
) -> tuple[ReplicationConfig, list[str]]:
    """REPLICATION_CONFIG plus the rules of REPLICATION_SOURCES read now (DescribeRegistry
    through the audit role), and a line per source whose rules could not be read."""
    items: list[dict[str, Any]] = []
    errors: list[str] = []
    for source in sources:
        try:
            item = registry_of(source).replication_rules()
            items.append({**item, "registryId": source.account, "region": source.region})
        except (RegistryUnavailable, RepositoryNotFound) as error:
            errors.append(f"cannot read the replication rules of {source}: {error}")
    return ReplicationConfig(static.sources + parse_replication_config(items).sources), errors


# ----------------------------------------------------------------------------- rendering


def _place(location: Location, names: Mapping[str, str]) -> str:
    name = names.get(str(location))
    return f"{name} {location}" if name else str(location)


def _short(digest: str | None) -> str:
    return domain.short_digest(digest) if digest else "-"


def render_text(report: RepositoryReport, names: Mapping[str, str]) -> str:
    """Per location: its tags (registry vs ledger) and the replicas it should hold.
    `!` marks where the registry and the ledger disagree."""
    lines = [f"{report.repository} ({report.selection})"]
    by_destination: dict[Location, list[ReplicaView]] = {}
    for replica in report.replicas:
        by_destination.setdefault(replica.destination, []).append(replica)
    for view in report.locations:
        lines.append(f"{_place(view.location, names)} ({view.role})")
        if view.error:
            lines.append(f"  ? could not ask: {view.error}")
            continue
        if not view.exists:
            lines.append(f"  no repository {report.repository} there")
        for tag in view.tags:
            mark = " " if tag.agrees else "!"
            text = f"  {mark} tag {tag.tag} -> {_short(tag.registry)}"
            if tag.registry is None:
                text = f"  {mark} tag {tag.tag} -> (not in the registry)"
            if not tag.agrees:
                text += f"  ledger: {_short(tag.ledger)}"
                text += " -> corrected" if tag.corrected else " (left as is)"
            lines.append(text)
        for replica in by_destination.get(view.location, []):
            lines.append("  " + _replica_line(replica, names))
    lines.append(summary_line(report))
    return "\n".join(lines)


def _replica_line(replica: ReplicaView, names: Mapping[str, str]) -> str:
    present = {True: "present", False: "absent", None: "unknown"}[replica.present]
    if replica.present and replica.arrived_at:
        present += f" since {domain.iso(replica.arrived_at)}"
    mark = "!" if replica.disagrees else " "
    tags = f" ({', '.join(replica.tags)})" if replica.tags else ""
    text = (
        f"{mark} replica {_short(replica.digest)}{tags} from {_place(replica.source, names)}: "
        f"registry {present}; ledger {replica.before or 'not expected'}"
    )
    if replica.after != replica.before:
        text += f" -> recorded {replica.after}"
    if replica.present is False and replica.after is None:
        text += " (never reached: a backfill candidate)"
    elif replica.present is False and replica.after == "pending" and replica.due_at:
        text += f" (expected by {domain.iso(replica.due_at)})"  # alerted then, if still absent
    if replica.ecr:
        text += f"; ECR: {replica.ecr}"
    return text


def summary_line(report: RepositoryReport) -> str:
    return (
        f"{report.images} image(s): {report.recorded} recorded ({report.predating} new to the "
        f"ledger), {report.arrived} replica(s) recorded as arrived, {report.corrected} tag "
        f"head(s) corrected, {len(report.never_reached)} replica(s) never reached"
        + (f", {len(report.errors)} registry error(s)" if report.errors else "")
    )


def render_json(report: RepositoryReport) -> dict[str, Any]:
    return {
        "repository": report.repository,
        "tag": report.selection.tag,
        "digest": report.selection.digest,
        "locations": [
            {
                **v.location.as_dict(),
                "role": v.role,
                "repository_exists": v.exists,
                "error": v.error,
                "tags": [
                    {
                        "tag": t.tag,
                        "registry": t.registry,
                        "ledger": t.ledger,
                        "agrees": t.agrees,
                        "corrected": t.corrected,
                    }
                    for t in v.tags
                ],
            }
            for v in report.locations
        ],
        "replicas": [
            {
                "digest": r.digest,
                "tags": list(r.tags),
                "source": r.source.as_dict(),
                "destination": r.destination.as_dict(),
                "ledger_before": r.before,
                "ledger_after": r.after,
                "registry_present": r.present,
                "arrived_at": domain.format_time(r.arrived_at),
                "ecr_status": r.ecr,
                "disagrees": r.disagrees,
            }
            for r in report.replicas
        ],
        "summary": {
            "images": report.images,
            "recorded": report.recorded,
            "new_to_ledger": report.predating,
            "arrived": report.arrived,
            "tags_corrected": report.corrected,
            "never_reached": len(report.never_reached),
            "registry_calls": report.calls,
        },
        "errors": report.errors,
    }
