"""Real-shaped EventBridge events, built from the AWS documentation samples in tests/events/."""

from __future__ import annotations

import copy
import itertools
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from chalicelib.local.scenario import scheduled_event

SAMPLES = Path(__file__).parent / "events"
_ids = itertools.count(1)

DEV = ("111111111111", "us-west-2")
PROD = ("222222222222", "eu-west-1")
DR = ("333333333333", "us-east-1")

T0 = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)


def sample(name: str) -> dict[str, Any]:
    return json.loads((SAMPLES / f"{name}.json").read_text())


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def digest(n: int | str) -> str:
    return "sha256:" + hashlib_hex(str(n))


def hashlib_hex(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


def _event(name: str, where: tuple[str, str], when: datetime, event_id: str | None) -> dict:
    event = copy.deepcopy(sample(name))
    event["id"] = event_id or str(uuid.UUID(int=next(_ids)))
    event["account"], event["region"] = where
    event["time"] = _iso(when)
    return event


def _image_action(name, where, repo, tag, dgst, when, event_id) -> dict[str, Any]:
    event = _event(name, where, when, event_id)
    event["detail"].update({"repository-name": repo, "image-digest": dgst})
    if tag is None:  # a push by digest alone
        event["detail"].pop("image-tag", None)
    else:
        event["detail"]["image-tag"] = tag
    return event


def push(where, repo, tag, dgst, when, event_id=None) -> dict[str, Any]:
    return _image_action("ecr-image-action-push", where, repo, tag, dgst, when, event_id)


def delete(where, repo, tag, dgst, when, event_id=None) -> dict[str, Any]:
    return _image_action("ecr-image-action-delete", where, repo, tag, dgst, when, event_id)


def replication(dest, source, repo, tag, dgst, when, ok=True, event_id=None) -> dict[str, Any]:
    name = "ecr-replication-action-success" if ok else "ecr-replication-action-failed"
    event = _event(name, dest, when, event_id)
    event["resources"] = [f"arn:aws:ecr:{dest[1]}:{dest[0]}:repository/{repo}"]
    event["detail"].update(
        {
            "repository-name": repo,
            "image-digest": dgst,
            "image-tag": tag,
            "source-account": source[0],
            "source-region": source[1],
        }
    )
    return event


def schedule(when: datetime) -> dict[str, Any]:
    """The sweep's schedule event (no AWS sample exists for it; the demo builds the same)."""
    return scheduled_event(when)


def registry(where, *rules) -> dict[str, Any]:
    """One REPLICATION_CONFIG item; each rule is (destinations, prefixes)."""
    return {
        "registryId": where[0],
        "region": where[1],
        "replicationConfiguration": {
            "rules": [
                {
                    "destinations": [{"registryId": d[0], "region": d[1]} for d in dests],
                    **(
                        {
                            "repositoryFilters": [
                                {"filter": p, "filterType": "PREFIX_MATCH"} for p in prefixes
                            ]
                        }
                        if prefixes
                        else {}
                    ),
                }
                for dests, prefixes in rules
            ]
        },
    }


# The standard topology of the tests: dev replicates every repository to prod and DR.
DEFAULT_CONFIG = [registry(DEV, ([PROD, DR], []))]


def parse(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
