"""A ledger written by the release before layout markers (commit 1573574), loaded into a new
table of the emulator: tests/fixtures/ledger-v2.json, written by scripts/ledger_fixture.py."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "ledger-v2.json"
HANDLERS = {
    "ECR Image Action": "on_image_action",
    "ECR Replication Action": "on_replication_action",
    "Scheduled Event": "sweep",
}


def fixture() -> dict[str, Any]:
    return dict(json.loads(FIXTURE.read_text()))


def load(session: Any, items: list[dict[str, Any]]) -> str:
    """A new table (the deployment template's schema, no layout marker) holding `items`."""
    from chalicelib.local.provision import table_request

    name = f"legacy-{uuid.uuid4().hex[:10]}"
    dynamodb = session.client("dynamodb")
    dynamodb.create_table(**table_request(name))
    for start in range(0, len(items), 25):  # BatchWriteItem's limit
        batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        dynamodb.batch_write_item(RequestItems={name: batch})
    return name


def answers(deps: Any) -> dict[str, Any]:
    """What the ledger says, as scripts/ledger_fixture.py records it."""
    from chalicelib.usecases import queries

    images = {}
    for repo in sorted(deps.images.repositories()):
        found = queries.describe_images(repo, None, None, 100, None, deps)
        found["replicas"] = sorted(found["replicas"], key=lambda r: json.dumps(r, sort_keys=True))
        images[repo] = found
    incidents = queries.list_incidents("all", 100, None, deps)
    return json.loads(
        json.dumps(
            {
                "images": images,
                "status": {k: v for k, v in queries.status(deps).items() if k != "as_of"},
                "matrix": queries.repositories(deps),
                "incidents": sorted(
                    incidents["incidents"], key=lambda i: str(i.get("incident_id"))
                ),
            }
        )
    )


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def replay(events: list[dict[str, Any]], clock: dict[str, datetime]) -> None:
    """Each event to its handler of app.py, the wall clock following the events' times."""
    import app as app_module

    for event in events:
        clock["now"] = max(clock["now"], moment(event["time"]))
        getattr(app_module, HANDLERS[event["detail-type"]])(event, None)


def added_fields(old: Any, new: Any, path: str = "") -> set[str]:
    """The names of the fields `new` has that `old` has not (a later release's additions to
    a document); AssertionError naming the place where a value of `old` differs in `new`."""
    if isinstance(old, dict) and isinstance(new, dict):
        missing = set(old) - set(new)
        assert not missing, f"{path or 'document'}: {sorted(missing)} gone"
        added = set(new) - set(old)
        for key in old:
            added |= added_fields(old[key], new[key], f"{path}.{key}")
        return added
    if isinstance(old, list) and isinstance(new, list):
        assert len(old) == len(new), f"{path}: {len(old)} entries before, {len(new)} after"
        added = set()
        for a, b in zip(old, new, strict=True):
            added |= added_fields(a, b, f"{path}[]")
        return added
    assert old == new, f"{path}: {old!r} before, {new!r} after"
    return set()
