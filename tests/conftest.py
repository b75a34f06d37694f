"""Shared fixtures: one moto server per session (HTTP on 127.0.0.1), fresh resources per test."""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.local.emulator import start_moto
from tests import events as ev
from tests.webhook import Webhook

ROOT = Path(__file__).resolve().parents[1]

# No real AWS credentials or endpoints may leak into a test run.
for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
    os.environ.pop(name, None)
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_MAX_ATTEMPTS="1",
    POWERTOOLS_METRICS_DISABLED="true",
    POWERTOOLS_LOG_LEVEL="WARNING",
)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server = start_moto()
    os.environ["AWS_ENDPOINT_URL"] = server.endpoint
    try:
        yield server.endpoint
    finally:
        server.stop()


@pytest.fixture
def session(moto_endpoint: str) -> Any:
    import boto3

    return boto3.session.Session(region_name="us-east-1")


class Alerts:
    """Reads alerts back from an SQS queue subscribed to the alert topic."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs = sqs
        self.queue_url = queue_url
        self.received: list[dict[str, Any]] = []

    def drain(self) -> list[dict[str, Any]]:
        """Every alert published since the last drain, in publish order."""
        new = []
        while True:
            response = self._sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=0,
                MessageAttributeNames=["All"],
            )
            messages = response.get("Messages", [])
            if not messages:
                break
            for message in messages:
                envelope = json.loads(message["Body"])
                new.append(
                    {
                        "subject": envelope.get("Subject"),
                        "body": json.loads(envelope["Message"]),
                        "attributes": {
                            k: v["Value"] for k, v in envelope.get("MessageAttributes", {}).items()
                        },
                    }
                )
                self._sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        self.received.extend(new)
        return new

    def kinds(self) -> list[str]:
        return [a["body"]["kind"] for a in self.drain()]


@pytest.fixture
def auditor_env(session: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Fresh table and topic for one test, the app's environment set, the composition reset."""
    from chalicelib import bootstrap
    from chalicelib.local.provision import provision

    env = provision(session, suffix=uuid.uuid4().hex[:10])
    env.update(
        REPLICATION_CONFIG=json.dumps(ev.DEFAULT_CONFIG),
        REPLICATION_GRACE_SECONDS="1800",
        ALERT_FORMAT="json",
    )
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("MONITORED_ACCOUNTS", raising=False)
    monkeypatch.delenv("SLACK_WEBHOOK_SECRET_ARN", raising=False)
    bootstrap.reset()
    yield env
    bootstrap.reset()


@pytest.fixture
def alerts(session: Any, auditor_env: dict[str, str]) -> Alerts:
    from chalicelib.local.provision import subscribe_queue

    url = subscribe_queue(
        session, auditor_env["ALERT_TOPIC_ARN"], f"alerts-{uuid.uuid4().hex[:10]}"
    )
    return Alerts(session.client("sqs"), url)


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch, auditor_env: dict[str, str]):
    """Change settings for one test: configure(REPLICATION_CONFIG=[...], MONITORED_ACCOUNTS=...)."""
    from chalicelib import bootstrap

    def apply(**values: Any) -> None:
        for key, value in values.items():
            if value is None:
                monkeypatch.delenv(key, raising=False)
            else:
                monkeypatch.setenv(key, value if isinstance(value, str) else json.dumps(value))
        bootstrap.reset()

    return apply


class ApiCalls:
    """Every AWS API call made in a test, as (service, operation); DynamoDB Scan is refused."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def count(self, service: str, since: int = 0) -> int:
        return sum(1 for s, _ in self.calls[since:] if s == service)


@pytest.fixture(autouse=True)
def api_calls(monkeypatch: pytest.MonkeyPatch) -> ApiCalls:
    """Guard: no code path may Scan the ledger (hot paths: GetItem, Query, conditional writes)."""
    from botocore.client import BaseClient

    recorder = ApiCalls()
    original = BaseClient._make_api_call

    def recording(self: Any, operation_name: str, api_params: Any) -> Any:
        service = self.meta.service_model.service_name
        if service == "dynamodb" and operation_name == "Scan":
            raise AssertionError("DynamoDB Scan called: use GetItem, Query or an index")
        recorder.calls.append((service, operation_name))
        return original(self, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    return recorder


@pytest.fixture
def replay(auditor_env: dict[str, str]) -> Iterator[Any]:
    """Deliver one event to the app's matching handlers, as EventBridge would."""
    import app as app_module
    from chalicelib.local.replay import Replayer

    with Replayer(app_module.app, ROOT) as replayer:
        yield replayer.deliver


@pytest.fixture
def client(auditor_env: dict[str, str]) -> Iterator[Any]:
    """The real Chalice app through chalice.test.Client."""
    from chalice.test import Client

    import app as app_module
    from chalicelib.entrypoints import local_gateway as gateway

    gateway.install()  # whichever fixture imported app.py first
    with Client(app_module.app, project_dir=str(ROOT)) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def webhook_server() -> Iterator[Webhook]:
    hook = Webhook()
    thread = threading.Thread(target=hook.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        hook.release.set()
        hook.server.shutdown()
        hook.server.server_close()


@pytest.fixture
def webhook(webhook_server: Webhook) -> Iterator[Webhook]:
    webhook_server.reset()
    yield webhook_server
    webhook_server.reset()
