"""TAG_DRIFT decisions: does a replica's tag in the destination registry name the source's image?

Pure functions, no I/O: the sweep asks both registries (EcrRegistry.tag_digests) and hands the
answers here. The documented cause of drift is tag immutability in the destination: ECR then
replicates the image "but won't contain the duplicated tag", so the destination tag keeps the
old digest and no event ever says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from chalicelib.core.lifecycle import Replica

DriftOpening = Literal["open", "none"]
DriftRecovery = Literal["destination_fixed", "source_moved", "source_gone"]


@dataclass(frozen=True)
class DriftCheck:
    """What the registries said about one due, tagged replica's tag."""

    replica: Replica
    source_digest: str | None  # the digest the tag names in the source registry (None: no tag)
    destination_digest: str | None  # the same tag in the destination registry (None: no tag)
    explained_by_overwrite: bool = False  # a TAG_OVERWRITTEN at the destination accounts for it


def drift_opens(check: DriftCheck) -> DriftOpening:
    """`open` when the destination's tag names another image than the source's, for a replica
    whose tag the source still names, and nothing the ledger knows explains it.

    Not judged: an untagged replica; one that has not arrived (REPLICA_MISSING's business, not
    drift's); a source tag that moved on or went since this push (the newer push's replica is
    judged when it is due); a divergence a TAG_OVERWRITTEN already reported (someone pushed over
    the tag at the destination, or another source replicated over it).
    """
    replica = check.replica
    if not replica.tag or replica.state != "replicated":
        return "none"
    if check.source_digest != replica.digest:
        return "none"
    if check.destination_digest == check.source_digest or check.explained_by_overwrite:
        return "none"
    return "open"


def drift_recovery(
    incident: Mapping[str, Any], source_digest: str | None, destination_digest: str | None
) -> DriftRecovery | None:
    """For an open TAG_DRIFT incident (its alert document: `digest` is the source's digest the
    tag should name), why it is over now, or None while it lasts.

    Over when the destination tag names that digest, or the source tag moved on (then the newer
    push is judged on its own) or is gone.
    """
    wanted = incident["digest"]
    if destination_digest == wanted:
        return "destination_fixed"
    if source_digest is None:
        return "source_gone"
    if source_digest != wanted:
        return "source_moved"
    return None
