"""What `doctor` warns about once it knows what runs the images (workload discovery). Pure.

- A rule that replicates deletions (`deleteReplication`) into a destination where workloads pin
  digests of a repository it covers: a deletion at the source, a lifecycle expiry or a tag
  rebuild there, removes the digest those workloads pin (PINNED_DIGEST_MISSING, then a failed
  scale-out or rollback).
- A Lambda function packaged as an image of a repository that no rule replicates into its own
  Region (a function can only use images of its Region's registry): its image exists there only
  because someone pushed it there.
"""

from __future__ import annotations

from collections.abc import Iterable

from chalicelib.core.lifecycle import Location
from chalicelib.core.rules import ReplicationConfig
from chalicelib.core.workloads import LABEL, Workload


def _short(digest: str | None) -> str:
    value = (digest or "").partition(":")[2] or (digest or "?")
    return value[:12]


def deletion_risks(config: ReplicationConfig, workloads: Iterable[Workload]) -> list[str]:
    """One warning per (source, destination, repository) whose rule replicates deletions into a
    destination where workloads pin that repository's digests."""
    found: dict[tuple[Location, Location, str], list[Workload]] = {}
    for workload in workloads:
        if not workload.pinned:
            continue
        for source in config.sources_replicating_to(workload.location, workload.repository):
            covered = config.deletions_replicated_to(source, workload.repository)
            if workload.location in covered:
                key = (source, workload.location, workload.repository)
                found.setdefault(key, []).append(workload)
    warnings = []
    for (source, destination, repository), users in sorted(found.items()):
        pinned = "; ".join(
            f"{LABEL[w.type]} {w.name} pins {_short(w.digest)}" for w in sorted(users)[:5]
        )
        more = f" and {len(users) - 5} more" if len(users) > 5 else ""
        warnings.append(
            f"{source} -> {destination}: deletions of {repository} replicate, and {pinned}{more}: "
            "a deletion, lifecycle expiry or tag rebuild at the source removes what they pin "
            "(exclude pinned digests from lifecycle rules, or deploy them under tags the source "
            "keeps)"
        )
    return warnings


def lambda_without_replica(config: ReplicationConfig, workloads: Iterable[Workload]) -> list[str]:
    """One warning per Lambda function whose repository no rule replicates into its Region (and
    that is not pushed there by a source registry whose rules cover it)."""
    sources = {registry.location for registry in config.sources}
    warnings = []
    for workload in sorted(workloads):
        if workload.type != "lambda-function":
            continue
        where, repository = workload.location, workload.repository
        replicated = config.sources_replicating_to(where, repository)
        pushed_here = where in sources and bool(config.destinations_for(where, repository))
        if replicated or pushed_here:
            continue
        warnings.append(
            f"Lambda {workload.name} in {where} runs {repository}, which no replication rule "
            f"brings into {where.region} of {where.account}: a function can only use images of "
            "its own Region, so it depends on images pushed there by hand (add the Region to a "
            "rule's destinations to keep a replica there)"
        )
    return warnings
