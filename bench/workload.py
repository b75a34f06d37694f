"""The bench's synthetic organisation: one source registry replicating `org/*` to three
destinations and `one/*` to the first of them, its events, and delivery to the handlers."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.core.lifecycle import parse_time
from chalicelib.local.scenario import digest as label_digest
from chalicelib.local.scenario import image_action, replication_action, scheduled_event

SOURCE = ("111111111111", "us-west-2")
DESTINATIONS = [("222222222222", "eu-west-1"), ("333333333333", "us-east-1"),
                ("444444444444", "ap-southeast-2")]  # fmt: skip
GRACE = timedelta(seconds=1800)
__all__ = ["parse_time"]  # for the bench: event times back to datetimes

REPLICATION_CONFIG: list[dict[str, Any]] = [
    {
        "registryId": SOURCE[0],
        "region": SOURCE[1],
        "replicationConfiguration": {
            "rules": [
                {
                    "destinations": [{"registryId": a, "region": r} for a, r in DESTINATIONS],
                    "repositoryFilters": [{"filter": "org/", "filterType": "PREFIX_MATCH"}],
                },
                {
                    "destinations": [
                        {"registryId": DESTINATIONS[0][0], "region": DESTINATIONS[0][1]}
                    ],
                    "repositoryFilters": [{"filter": "one/", "filterType": "PREFIX_MATCH"}],
                },
            ]
        },
    }
]


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def environment() -> dict[str, str]:
    """The app's settings for this organisation (besides the table and topic)."""
    return {
        "REPLICATION_CONFIG": json.dumps(REPLICATION_CONFIG),
        "REPLICATION_GRACE_SECONDS": str(int(GRACE.total_seconds())),
    }


def digest(label: str) -> str:
    return label_digest(label)


def push(where: tuple[str, str], repo: str, tag: str, dgst: str, when: datetime) -> dict:
    return image_action("PUSH", where, repo, tag, dgst, when)


def delete(where: tuple[str, str], repo: str, tag: str, dgst: str, when: datetime) -> dict:
    return image_action("DELETE", where, repo, tag, dgst, when)


def replicated(
    dest: tuple[str, str], repo: str, tag: str, dgst: str, when: datetime, ok: bool = True
) -> dict:
    return replication_action(dest, SOURCE, repo, tag, dgst, when, ok)


def schedule(when: datetime) -> dict:
    return scheduled_event(when)


def image_events(
    label: str, when: datetime, repo: str = "org/bench", lag: timedelta = timedelta(seconds=40)
) -> list[dict]:
    """A push at the source and its three replications arriving `lag` later."""
    dgst = digest(label)
    tag = f"t-{dgst[7:19]}"
    return [push(SOURCE, repo, tag, dgst, when)] + [
        replicated(d, repo, tag, dgst, when + lag) for d in DESTINATIONS
    ]


def deliver(app: Any, event: dict, context: Any = None) -> dict:
    """Invoke the handler EventBridge would invoke, as the Lambda runtime does."""
    kind = event["detail-type"]
    if kind == "ECR Image Action":
        return dict(app.on_image_action(event, context))
    if kind == "ECR Replication Action":
        return dict(app.on_replication_action(event, context))
    if kind == "Scheduled Event":
        return dict(app.sweep(event, context))
    raise ValueError(f"no handler for {kind}")


def use_table(env: dict[str, str]) -> Any:
    """Point the app at `env`'s table and topic; the app module (imported once)."""
    from chalicelib import bootstrap

    os.environ.update(env)
    bootstrap.reset()
    import app

    return app
