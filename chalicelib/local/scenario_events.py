"""The EventBridge events the demo's scenario replays, shaped like AWS's documented samples
(events/ in the shared specification): ECR Image Action, ECR Replication Action and the
sweep's Scheduled Event, with deterministic ids (a redelivery keeps its id)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from hashlib import sha256
from typing import Any

Where = tuple[str, str]

# Deterministic ids: the same story gives the same event ids (a redelivery keeps its id).
_NAMESPACE = uuid.UUID("5f0c7f7e-1d5a-4c1e-9a53-2f6f3c0e8d11")


def digest(label: str) -> str:
    """A stable, real-looking sha256 digest for a build label."""
    return "sha256:" + sha256(label.encode()).hexdigest()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _envelope(detail_type: str, where: Where, when: datetime, detail: dict[str, Any]) -> dict:
    # Field order and values as in AWS's documented samples; only the variable parts change.
    fingerprint = json.dumps([detail_type, where, _iso(when), detail], sort_keys=True)
    return {
        "version": "0",
        "id": str(uuid.uuid5(_NAMESPACE, fingerprint)),
        "detail-type": detail_type,
        "source": "aws.ecr",
        "account": where[0],
        "time": _iso(when),
        "region": where[1],
        "resources": [],
        "detail": detail,
    }


def image_action(action: str, where: Where, repo: str, tag: str, dgst: str, when: datetime) -> dict:
    """An `ECR Image Action` (PUSH or DELETE), shaped like the documented sample."""
    return _envelope(
        "ECR Image Action",
        where,
        when,
        {
            "result": "SUCCESS",
            "repository-name": repo,
            "image-digest": dgst,
            "action-type": action,
            "image-tag": tag,
        },
    )


def replication_action(
    dest: Where, source: Where, repo: str, tag: str, dgst: str, when: datetime, ok: bool
) -> dict:
    """An `ECR Replication Action` emitted in the destination, as documented."""
    event = _envelope(
        "ECR Replication Action",
        dest,
        when,
        {
            "result": "SUCCESS" if ok else "FAILED",
            "repository-name": repo,
            "image-digest": dgst,
            "source-account": source[0],
            "action-type": "REPLICATE",
            "source-region": source[1],
            "image-tag": tag,
        },
    )
    event["resources"] = [f"arn:aws:ecr:{dest[1]}:{dest[0]}:repository/{repo}"]
    return event


def scheduled_event(when: datetime) -> dict[str, Any]:
    """The sweep's `rate(5 minutes)` trigger as EventBridge Scheduler delivers it."""
    return {
        "version": "0",
        "id": str(uuid.uuid5(_NAMESPACE, f"sweep {_iso(when)}")),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "999999999999",
        "time": _iso(when),
        "region": "us-east-1",
        "resources": [
            "arn:aws:events:us-east-1:999999999999:rule/ecr-replication-auditor-dev-sweep"
        ],
        "detail": {},
    }
