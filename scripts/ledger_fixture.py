"""Write a ledger as the checked-out release writes it, for the layout migration's tests.

Replays the first half of the demo's scenario day (chalicelib/local/scenario.py, ending at a
fixed NOW) through the app's handlers against a fresh emulator, then dumps every item of the
table and the ledger's answers at that moment (images, status, repository matrix, incidents),
and records what the release does next: the answers and the alerts after the rest of the day
and three later sweeps (new events on old images, replicas coming due, incidents resolving).
A migrated copy of the dump must give the same.

tests/fixtures/ledger-v2.json was written at commit 1573574 (ledger v2, layout 2: before the
marker):

    python scripts/ledger_fixture.py tests/fixtures/ledger-v2.json
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)  # the scenario's day ends just before
HANDLERS = {
    "ECR Image Action": "on_image_action",
    "ECR Replication Action": "on_replication_action",
    "Scheduled Event": "sweep",
}


def answers(deps: Any) -> dict[str, Any]:
    """What the ledger says, order-free and without cursors (they are signed per table)."""
    from chalicelib.usecases import queries  # chalicelib.queries at commit 1573574

    repos = sorted(deps.images.repositories())
    images = {}
    for repo in repos:
        found = queries.describe_images(repo, None, None, 100, None, deps)
        assert not found.get("next_cursor"), f"{repo}: more than one page"
        found["replicas"] = sorted(found["replicas"], key=lambda r: json.dumps(r, sort_keys=True))
        images[repo] = found
    incidents = queries.list_incidents("all", 100, None, deps)
    assert not incidents.get("next_cursor"), "more than one page of incidents"
    return {
        "images": images,
        "status": {k: v for k, v in queries.status(deps).items() if k != "as_of"},
        "matrix": queries.repositories(deps),
        "incidents": sorted(
            (i for i in incidents["incidents"]), key=lambda i: str(i.get("incident_id"))
        ),
    }


def main(path: str) -> None:
    import boto3

    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_MAX_ATTEMPTS="1",
        POWERTOOLS_METRICS_DISABLED="true",
        POWERTOOLS_LOG_LEVEL="ERROR",
    )
    from chalicelib import bootstrap
    from chalicelib.local import scenario
    from chalicelib.local.emulator import start_moto
    from chalicelib.local.provision import provision, subscribe_queue

    day = scenario.build(NOW)
    events = day.events + extra_traffic(day)
    events.sort(key=lambda e: (e["time"], e["source"] == "aws.events"))
    later = [scenario.scheduled_event(day.end + timedelta(hours=h)) for h in (1, 2, 3)]
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    with start_moto() as server:
        os.environ["AWS_ENDPOINT_URL"] = server.endpoint
        session = boto3.session.Session()
        env = provision(session, suffix=uuid.uuid4().hex[:10])
        env["REPLICATION_CONFIG"] = json.dumps(scenario.REPLICATION_CONFIG)
        os.environ.update(env)
        os.environ.pop("MONITORED_ACCOUNTS", None)
        bootstrap.reset()
        import app as app_module

        sqs = session.client("sqs")
        queue = subscribe_queue(session, env["ALERT_TOPIC_ARN"], f"q-{uuid.uuid4().hex[:8]}")
        clock = {"now": NOW - timedelta(days=1)}
        bootstrap.deps().clock = lambda: clock["now"]

        def deliver(event: dict[str, Any]) -> None:
            moment = datetime.fromisoformat(event["time"].replace("Z", "+00:00"))
            clock["now"] = max(clock["now"], moment)
            getattr(app_module, HANDLERS[event["detail-type"]])(event, None)

        half = len(events) // 2
        for event in events[:half]:
            deliver(event)
        drain(sqs, queue)  # alerts before the dump: not part of the fixture
        dumped_at = clock["now"]
        table = env["AUDIT_TABLE"]
        items = scan(session.client("dynamodb"), table)
        before = answers(bootstrap.deps())
        rest = events[half:] + later
        for event in rest:
            deliver(event)
        after = answers(bootstrap.deps())
        alerts = sorted(json.dumps(a, sort_keys=True) for a in drain(sqs, queue))
    fixture = {
        "written_by": f"commit {commit}, python scripts/ledger_fixture.py",
        "replication_config": scenario.REPLICATION_CONFIG,
        "grace_seconds": scenario.GRACE_SECONDS,
        "dumped_at": dumped_at.isoformat(),
        "items": items,
        "answers": before,
        "then": {
            "events": rest,
            "answers": after,
            "alerts": [json.loads(a) for a in alerts],
        },
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(fixture, indent=1, sort_keys=True) + "\n")
    print(f"{path}: {len(items)} items, then {len(rest)} events and {len(alerts)} alerts")


def extra_traffic(day: Any) -> list[dict[str, Any]]:
    """Twenty more releases through the day (tests/e2e/test_faults.py's): each replicates to
    prod, most to DR, some fail there."""
    from chalicelib.local import scenario

    events = []
    for n in range(20):
        when = day.start + timedelta(minutes=37 * n + 11)
        repo, tag, digest = f"team/svc{n % 5}", f"v{n}", scenario.digest(f"svc-{n}")
        events.append(scenario.image_action("PUSH", scenario.DEV, repo, tag, digest, when))
        for dest, delay in ((scenario.PROD, 3), (scenario.DR, 4)):
            if dest == scenario.DR and n % 7 == 3:
                continue  # a replica that never arrives
            ok = not (dest == scenario.DR and n % 9 == 5)
            events.append(
                scenario.replication_action(
                    dest, scenario.DEV, repo, tag, digest, when + timedelta(minutes=delay), ok
                )
            )
    return events


def scan(client: Any, table: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = client.scan(**kwargs)
        found += page["Items"]
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return sorted(found, key=lambda i: (i["pk"]["S"], i["sk"]["S"]))


def drain(sqs: Any, queue: str) -> list[dict[str, Any]]:
    found = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages")
        if not messages:
            return found
        for message in messages:
            found.append(json.loads(json.loads(message["Body"])["Message"]))
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/ledger-v2.json")
