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

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from chalicelib.core import decisions
from chalicelib.core.errors import RegistryUnavailable, RepositoryNotFound
from chalicelib.core.judgement import TagEntry
from chalicelib.core.lifecycle import ImageFacts, Location
from chalicelib.core.reconciliation import (
    EVERY_IMAGE,
    LocationView,
    RegistryImage,
    ReplicationStatus,
    ReplicaView,
    RepositoryReport,
    Selection,
    TagView,
    head_correction,
    learn,
)
from chalicelib.core.rules import ReplicationConfig, parse_replication_config
from chalicelib.ports import Commit, Deps
from chalicelib.usecases import commits


class Registry(Protocol):
    """What reconcile asks of one registry (EcrRegistry has it; tests have a fake)."""

    location: Location

    def all_images(self, repository: str) -> list[RegistryImage]: ...

    def images(self, repository: str, digests: Iterable[str]) -> dict[str, RegistryImage]: ...

    def tag_digests(self, repository: str, tags: Iterable[str]) -> dict[str, str]: ...

    def replication_status(self, repository: str, digest: str) -> list[ReplicationStatus]: ...


RegistryOf = Callable[[Location], Registry]


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
    selection: Selection = EVERY_IMAGE,
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
        commits.commit(lambda: correction, deps)  # noqa: B023 (called at once)
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

    committed = commits.commit(decide, deps) is not None
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
