"""`reconcile`'s report as people and machines read it: per location, each tag's digest in the
registry and the ledger, each replica's state, and where they disagree."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.core import documents, lifecycle
from chalicelib.core.lifecycle import Location
from chalicelib.core.reconciliation import ReplicaView, RepositoryReport

# ----------------------------------------------------------------------------- rendering


def _place(location: Location, names: Mapping[str, str]) -> str:
    name = names.get(str(location))
    return f"{name} {location}" if name else str(location)


def _short(digest: str | None) -> str:
    return documents.short_digest(digest) if digest else "-"


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
        present += f" since {lifecycle.iso(replica.arrived_at)}"
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
        text += f" (expected by {lifecycle.iso(replica.due_at)})"  # alerted then, if still absent
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
                "arrived_at": lifecycle.format_time(r.arrived_at),
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
