"""Fault injection: the demo's multi-account day plus extra traffic, delivered with a fraction of
DynamoDB and SNS calls failing before or after they take effect, with DynamoDB's transaction
conflict rule on and each sweep delivered twice at once, each failed invocation retried as
EventBridge and Lambda would. The ledger and the alerts must equal a fault-free run's: nothing
lost, and duplicates only from SNS acknowledgements that were lost.

FAULT_RATE=0.3 FAULT_SEED=7 for other mixes; figures of the last run go to
test-artifacts/fault-injection.json.
"""

from __future__ import annotations

import json
import os
import random
import threading
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError, EndpointConnectionError

from chalicelib import bootstrap
from chalicelib.local import scenario
from chalicelib.local.provision import provision, subscribe_queue
from chalicelib.usecases import queries
from tests.conftest import ROOT, Alerts

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)  # the day ends just before it
RATE = float(os.environ.get("FAULT_RATE", "0.15"))
MAX_TRIES = 40


def extra_traffic(day: scenario.Scenario) -> list[dict[str, Any]]:
    """Twenty more releases through the day: each replicates to prod, most to DR."""
    events = []
    for n in range(20):
        when = day.start + timedelta(minutes=37 * n + 11)
        repo, tag, digest = f"team/svc{n % 5}", f"v{n}", scenario.digest(f"svc-{n}")
        events.append(scenario.image_action("PUSH", scenario.DEV, repo, tag, digest, when))
        for dest, delay in ((scenario.PROD, 3), (scenario.DR, 4)):
            if dest == scenario.DR and n % 7 == 3:
                continue  # a replica that never arrives
            events.append(
                scenario.replication_action(
                    dest, scenario.DEV, repo, tag, digest, when + timedelta(minutes=delay), True
                )
            )
    return events


def history() -> list[dict[str, Any]]:
    day = scenario.build(NOW)
    events = day.events + extra_traffic(day)
    events.sort(key=lambda e: (e["time"], e["source"] == "aws.events"))
    tail = [scenario.scheduled_event(day.end + timedelta(hours=h)) for h in (1, 2, 3)]
    return events + tail  # late sweeps: every lease has run out, every retry is done


class Faults:
    """Fails DynamoDB and SNS calls before they reach the emulator or after it answered."""

    def __init__(self, rate: float, seed: int) -> None:
        self.rate = rate
        self.random = random.Random(seed)
        self.injected: Counter[str] = Counter()
        self.enabled = False

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        original = BaseClient._make_api_call
        faults = self

        def call(client: Any, operation: str, params: Any) -> Any:
            service = client.meta.service_model.service_name
            if not faults.enabled or service not in ("dynamodb", "sns"):
                return original(client, operation, params)
            roll = faults.random.random()
            if roll < faults.rate / 2:
                faults.injected[f"{service} before"] += 1
                code = "ThrottlingException" if service == "dynamodb" else "Throttled"
                error = {"Error": {"Code": code, "Message": "injected before the call"}}
                raise ClientError(error, operation)  # type: ignore[arg-type]
            result = original(client, operation, params)
            if roll < faults.rate:
                faults.injected[f"{service} after"] += 1
                raise EndpointConnectionError(endpoint_url="injected: response lost")
            return result

        monkeypatch.setattr(BaseClient, "_make_api_call", call)


def run(events, session, monkeypatch, faults: Faults | None) -> dict[str, Any]:
    env = provision(session, suffix=uuid.uuid4().hex[:10])
    env["REPLICATION_CONFIG"] = json.dumps(scenario.REPLICATION_CONFIG)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    bootstrap.reset()
    alerts = Alerts(
        session.client("sqs"),
        subscribe_queue(session, env["ALERT_TOPIC_ARN"], f"q-{uuid.uuid4().hex[:8]}"),
    )
    import app as app_module
    from chalicelib.local.replay import Replayer

    retries = 0
    clock = {"now": NOW}
    guard = threading.Lock()
    failures: list[str] = []
    with Replayer(app_module.app, ROOT) as replayer:
        # Wall-clock time follows the history, so that delivery leases run out as in life.
        bootstrap.deps().clock = lambda: clock["now"]

        def deliver(event: dict[str, Any], direct: bool = False) -> None:
            """Until it succeeds; `direct`: the handler called as Lambda calls it, not through
            chalice's test client (which swaps os.environ for the invocation: two at once
            would leave the swap in place)."""
            nonlocal retries
            last: Exception | None = None
            for _attempt in range(MAX_TRIES):
                try:
                    if direct:
                        outcome = app_module.sweep(json.loads(json.dumps(event)), None)["outcome"]
                    else:
                        outcome = replayer.deliver(event).outcome
                except Exception as error:  # the invocation failed: it is delivered again
                    with guard:
                        retries += 1
                    last = error
                    continue
                assert outcome != "rejected", event["id"]
                return
            failures.append(f"event {event['id']} failed {MAX_TRIES} times, last: {last!r}")

        if faults:
            faults.enabled = True
        try:
            for event in events:
                clock["now"] = max(
                    clock["now"], datetime.fromisoformat(event["time"].replace("Z", "+00:00"))
                )
                # With faults, each sweep twice at once (EventBridge's at-least-once delivery
                # racing itself): the two meet the conflict rule on the same work.
                copies = 2 if faults and event["source"] == "aws.events" else 1
                threads = [
                    threading.Thread(target=deliver, args=(event, copies > 1))
                    for _ in range(copies)
                ]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                if failures:
                    pytest.fail(failures[0])
        finally:
            if faults:
                faults.enabled = False
    deps = bootstrap.deps()
    repos = sorted(deps.images.repositories())
    ledger = {
        "images": {
            repo: _sorted(queries.describe_images(repo, None, None, 100, None, deps))
            for repo in repos
        },
        "tags": {
            repo: queries.describe_images(repo, None, None, 100, None, deps)["locations"]
            for repo in repos
        },
        "status": {k: v for k, v in queries.status(deps).items() if k != "as_of"},
        "matrix": queries.repositories(deps),
        "incidents": sorted(
            json.dumps(i, sort_keys=True)
            for i in queries.list_incidents("all", 100, None, deps)["incidents"]
        ),
    }
    received = [json.dumps(a["body"], sort_keys=True) for a in alerts.drain()]
    return {"ledger": ledger, "alerts": received, "retries": retries}


def _sorted(images: dict[str, Any]) -> dict[str, Any]:
    images["replicas"] = sorted(images["replicas"], key=lambda r: json.dumps(r, sort_keys=True))
    return images


@pytest.mark.parametrize("seed", [int(os.environ.get("FAULT_SEED", "1"))])
def test_faults_lose_nothing_and_duplicate_only_lost_acknowledgements(
    seed, session, monkeypatch, auditor_env, moto_endpoint
):
    from tests.conftest import emulator_conflicts

    events = history()
    clean = run(events, session, monkeypatch, None)
    faults = Faults(RATE, seed)
    faults.install(monkeypatch)
    # ...and DynamoDB's transaction conflict rule: the sweep's eight lanes meet it
    emulator_conflicts(moto_endpoint, {"service_ms": [5, 15], "seed": seed})
    try:
        faulty = run(events, session, monkeypatch, faults)
        refused = emulator_conflicts(moto_endpoint)["refused"]
    finally:
        emulator_conflicts(moto_endpoint, {"service_ms": None})

    assert faulty["ledger"] == clean["ledger"]
    expected, got = Counter(clean["alerts"]), Counter(faulty["alerts"])
    lost = expected - got
    duplicates = sum((got - expected).values())
    assert not lost, f"alerts lost: {list(lost)[:2]}"
    assert set(got) == set(expected), "an alert that the fault-free run did not send"
    assert duplicates <= faults.injected["sns after"], "a duplicate not explained by a lost ack"
    assert sum(faults.injected.values()) > 50, "the faults did not really happen"
    assert sum(refused.values()) > 0, "the conflict rule never refused anything"

    figures = {
        "events": len(events),
        "faults_injected": dict(faults.injected),
        "invocations_retried": faulty["retries"],
        "requests_refused_by_the_conflict_rule": refused,
        "alerts_expected": sum(expected.values()),
        "alerts_lost": sum(lost.values()),
        "duplicates_from_lost_sns_acks": duplicates,
        "ledger_differences": 0,
    }
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "fault-injection.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(f"fault-injection figures: {figures}")
