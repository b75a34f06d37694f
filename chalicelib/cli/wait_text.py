"""`wait`'s report as people and machines read it: a progress line per change, the outcome
line, and the `--json` document."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.core import documents, lifecycle
from chalicelib.core.lifecycle import Location, Replica
from chalicelib.usecases.gate import Verdict, WaitResult


def _place(location: Location, names: Mapping[str, str]) -> str:
    name = names.get(str(location))
    return f"{name} {location}" if name else str(location)


def progress_line(verdict: Verdict, elapsed: float, names: Mapping[str, str]) -> str:
    """`[  12s] team/api:v1 sha256:…: 1 of 2 present; replicated: prod …; pending: dr …`"""
    head = f"[{elapsed:5.0f}s] {verdict.image}"
    if verdict.tag is not None and verdict.digests:
        head += " (" + ", ".join(documents.short_digest(d) for d in verdict.digests) + ")"
    if not verdict.replicas:
        return f"{head}: {verdict.state.replace('_', ' ')}: {verdict.note}"
    groups: dict[str, list[str]] = {}
    for replica in verdict.replicas:
        groups.setdefault(replica.state, []).append(_replica_text(replica, names))
    present = len(groups.get("replicated", []))
    parts = [f"{present} of {len(verdict.replicas)} present"]
    for state in ("replicated", "pending", "missing", "failed", "cancelled"):
        if state in groups:
            parts.append(f"{state}: {', '.join(groups[state])}")
    return f"{head}: " + "; ".join(parts)


def _replica_text(replica: Replica, names: Mapping[str, str]) -> str:
    text = _place(replica.destination, names)
    if replica.state == "replicated" and replica.lag_seconds is not None:
        text += f" after {replica.lag_seconds // 60} min"
    elif replica.state == "pending" and replica.pushed_at is None:
        text += " (the source's push is not recorded yet)"
    elif replica.state == "pending" and replica.due_at is not None:
        text += f" (due {lifecycle.iso(replica.due_at)})"
    elif replica.state == "failed" and replica.failure_reason:
        text += f" ({replica.failure_reason})"
    return text


def outcome_line(result: WaitResult, names: Mapping[str, str], timeout: float) -> str:
    """The last line: what the gate decided, and what to do when it did not open."""
    verdict = result.verdict
    if verdict.state == "replicated":
        return f"OK: every expected replica of {verdict.image} is present"
    if verdict.state == "nothing_expected":
        return f"OK: nothing to wait for: {verdict.note}"
    if not result.timed_out:
        bad = [r for r in verdict.replicas if r.state == verdict.state]
        where = ", ".join(_replica_text(r, names) for r in bad)
        return f"FAILED: {verdict.image} is {verdict.state} in {where}"
    if verdict.state == "unknown":
        return (
            f"TIMEOUT after {timeout:g} s: {verdict.note} ({verdict.image}); check the repository "
            "and tag or digest, and that the source's ECR events reach the auditor"
        )
    pending = [r for r in verdict.replicas if r.state == "pending"]
    return f"TIMEOUT after {timeout:g} s: {verdict.image} still pending in " + ", ".join(
        _replica_text(r, names) for r in pending
    )


def document(result: WaitResult, timeout: float) -> dict[str, Any]:
    """The `--json` document."""
    verdict = result.verdict
    return {
        "repository": verdict.repository,
        "tag": verdict.tag,
        "digests": list(verdict.digests),
        "state": "timeout" if result.timed_out else verdict.state,
        "image_state": verdict.state,
        "ok": verdict.ok and not result.timed_out,
        "timed_out": result.timed_out,
        "timeout_seconds": timeout,
        "waited_seconds": round(result.waited, 1),
        "note": verdict.note or None,
        "replicas": [_replica_view(r) for r in verdict.replicas],
    }


def _replica_view(replica: Replica) -> dict[str, Any]:
    return {
        **documents.replica_document(replica),
        "recorded": replica.pushed_at is not None or replica.rev > 0,
        "failure_reason": replica.failure_reason,
    }
