"""Deliver events to the app's handlers from several threads at once, as parallel Lambda
invocations would, and read the outcome back through the HTTP API and the alert queue."""

from __future__ import annotations

import collections
import copy
import json
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

# Which handler of app.py EventBridge invokes for an event (the rules of app.py's decorators).
HANDLERS = {
    "ECR Image Action": "on_image_action",
    "ECR Replication Action": "on_replication_action",
    "Scheduled Event": "sweep",
}
# A REPLICATION_FAILED is published at once, with what is known then: its push's time (and
# so its due time) only if the PUSH arrived first, and the tag of the first push of that
# digest to arrive (v1 or latest). The stored incident catches up; the message sent cannot
# (the delivery-order property test leaves the times out too). Sweep-decided alerts compare
# whole.
ARRIVAL_DEPENDENT = {"REPLICATION_FAILED": frozenset({"pushed_at", "due_at", "tag", "summary"})}
# EventBridge retries a failed invocation (185 tries over a day for the ECR rules).
MAX_TRIES = 5


@dataclass
class Deliveries:
    """What a delivery run did: invocations, and the ones that raised and were retried."""

    invocations: int = 0
    retried: list[str] = field(default_factory=list)


def invoke(event: dict[str, Any]) -> None:
    """One Lambda invocation: the handler of app.py, called as Lambda calls it."""
    import app as app_module

    handler = getattr(app_module, HANDLERS[event["detail-type"]])
    handler(copy.deepcopy(event), None)


def deliver(events: Iterable[dict[str, Any]], workers: int, report: Deliveries) -> None:
    """Every event invoked once (retried like EventBridge if it raises), `workers` at a time,
    all workers released together."""
    pending = collections.deque(events)
    lock = threading.Lock()
    start = threading.Barrier(workers)
    failures: list[BaseException] = []

    def work() -> None:
        start.wait()
        while True:
            with lock:
                if not pending:
                    return
                event = pending.popleft()
                report.invocations += 1
            for attempt in range(1, MAX_TRIES + 1):
                try:
                    invoke(event)
                    break
                except Exception as error:
                    with lock:
                        report.retried.append(f"{event['id']}: {type(error).__name__}: {error}")
                    if attempt == MAX_TRIES:
                        with lock:
                            failures.append(error)

    threads = [threading.Thread(target=work, name=f"lambda-{n}") for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


def provision_run(session: Any, monkeypatch: Any, config: list[dict[str, Any]]) -> Any:
    """A fresh table, topic and alert queue; the app's environment pointed at them."""
    from chalicelib import bootstrap
    from chalicelib.local.provision import provision, subscribe_queue
    from tests.conftest import Alerts

    env = provision(session, suffix=uuid.uuid4().hex[:10])
    env.update(REPLICATION_CONFIG=json.dumps(config), REPLICATION_GRACE_SECONDS="1800")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("MONITORED_ACCOUNTS", raising=False)
    monkeypatch.delenv("SLACK_WEBHOOK_SECRET_ARN", raising=False)
    bootstrap.reset()
    bootstrap.deps()  # built once, before any thread needs it
    queue = subscribe_queue(session, env["ALERT_TOPIC_ARN"], f"q-{uuid.uuid4().hex[:8]}")
    return Alerts(session.client("sqs"), queue)


def all_images(client: Any, repository: str, limit: int = 100) -> dict[str, Any]:
    """GET /images for a whole repository, every page followed through its cursor."""
    path = f"/images?repository={repository}&limit={limit}"
    response = client.http.get(path)
    assert response.status_code == 200, response.body
    document = response.json_body
    replicas = list(document["replicas"])
    while document["next_cursor"]:
        response = client.http.get(f"{path}&cursor={document['next_cursor']}")
        assert response.status_code == 200, response.body
        document = response.json_body
        replicas += document["replicas"]
    return {"locations": document["locations"], "replicas": replicas}


def outcome(client: Any, repositories: Iterable[str], alerts: Any) -> dict[str, Any]:
    """The ledger as the API shows it, and every alert published (less ARRIVAL_DEPENDENT),
    both order-free."""
    images = {}
    for repository in sorted(repositories):
        found = all_images(client, repository)
        found["replicas"].sort(key=lambda r: json.dumps(r, sort_keys=True))
        images[repository] = found
    status = client.http.get("/status").json_body
    status.pop("as_of")
    status["incidents"].sort(key=lambda a: a["incident_id"])
    published = sorted(json.dumps(_comparable(a["body"]), sort_keys=True) for a in alerts.drain())
    return {
        "images": images,
        "status": status,
        "repositories": client.http.get("/repositories").json_body,
        "alerts": published,
    }


def _comparable(alert: dict[str, Any]) -> dict[str, Any]:
    left_out = ARRIVAL_DEPENDENT.get(alert["kind"], frozenset())
    return {k: v for k, v in alert.items() if k not in left_out}
