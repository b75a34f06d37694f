"""SlackAlerts against a real local HTTP server, and the webhook secret against the moto server."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.adapters.slack import SlackAlerts, secret_webhook_url
from chalicelib.core import documents, lifecycle, rules
from chalicelib.core.alert_formats import render_slack
from chalicelib.core.errors import DeliveryFailed
from chalicelib.local.emulator import free_port
from tests import events as ev
from tests.webhook import HOOK_PATH, Webhook

CONFIG = rules.parse_replication_config(ev.DEFAULT_CONFIG)
TIMEOUT = 1.0


def alert() -> dict[str, Any]:
    push = lifecycle.ImagePushed(
        "e", ev.at(0), lifecycle.Location(*ev.DEV), "team/api", ev.digest(1), "v1"
    )
    replica = lifecycle.expected_replicas(CONFIG, push, timedelta(minutes=30))[0]
    return documents.replica_alert("REPLICA_MISSING", replica, ev.at(31))


def slack(url: str) -> SlackAlerts:
    return SlackAlerts(lambda: url, timeout=TIMEOUT)


def assert_no_secret(text: str, webhook: Webhook) -> None:
    assert webhook.url not in text and HOOK_PATH not in text and "s3cr3t" not in text


# ----------------------------------------------------------------------------- posting


def test_posts_the_block_kit_message_as_json(webhook):
    doc = alert()
    slack(webhook.url).send(doc)
    [request] = webhook.requests
    assert request["path"] == HOOK_PATH
    assert request["headers"]["Content-Type"].startswith("application/json")
    body = json.loads(request["body"])
    assert body == render_slack(doc)
    assert "REPLICA_MISSING" in body["blocks"][0]["text"]["text"]


def test_a_server_error_is_a_delivery_failure_without_the_url(webhook):
    webhook.replies.append((500, {}, "internal_error"))
    with pytest.raises(DeliveryFailed, match="HTTP 500") as failure:
        slack(webhook.url).send(alert())
    assert_no_secret(str(failure.value), webhook)
    assert len(webhook.requests) == 1  # the auditor's next sweep retries, not the SDK


def test_an_error_body_is_never_repeated_except_slacks_own_error_code(webhook):
    webhook.replies.append((404, {}, f"no_service: {webhook.url} ({HOOK_PATH})"))
    with pytest.raises(DeliveryFailed) as failure:
        slack(webhook.url).send(alert())
    assert str(failure.value) == "Slack webhook answered HTTP 404"
    webhook.replies.append((403, {}, "invalid_token"))
    with pytest.raises(DeliveryFailed) as failure:
        slack(webhook.url).send(alert())
    assert str(failure.value) == "Slack webhook answered HTTP 403: invalid_token"


def test_a_short_rate_limit_is_retried_by_the_sdk(webhook):
    webhook.replies.append((429, {"Retry-After": "1"}, "rate_limited"))
    started = time.monotonic()
    slack(webhook.url).send(alert())
    assert len(webhook.requests) == 2
    assert time.monotonic() - started >= 1  # it honoured Retry-After
    assert webhook.requests[0]["body"] == webhook.requests[1]["body"]


def test_a_long_rate_limit_is_left_to_the_next_sweep(webhook):
    webhook.replies.append((429, {"Retry-After": "120"}, "rate_limited"))
    started = time.monotonic()
    with pytest.raises(DeliveryFailed, match="HTTP 429"):
        slack(webhook.url).send(alert())
    assert time.monotonic() - started < 1 and len(webhook.requests) == 1


def test_a_hanging_webhook_times_out_quickly(webhook):
    webhook.replies.append("hang")
    started = time.monotonic()
    with pytest.raises(DeliveryFailed, match="Slack webhook post failed") as failure:
        slack(webhook.url).send(alert())
    assert time.monotonic() - started < 3 * TIMEOUT
    assert_no_secret(str(failure.value), webhook)
    assert failure.value.__cause__ is None and failure.value.__suppress_context__


def test_a_refused_connection_is_a_delivery_failure():
    url = f"http://127.0.0.1:{free_port()}{HOOK_PATH}"  # nothing listens there
    with pytest.raises(DeliveryFailed, match="Slack webhook post failed") as failure:
        slack(url).send(alert())
    assert url not in str(failure.value) and HOOK_PATH not in str(failure.value)


def test_the_url_is_never_logged(webhook, caplog):
    caplog.set_level(logging.DEBUG)  # every logger, including slack_sdk's own
    webhook.replies.extend([(500, {}, "x"), "hang"])
    for _ in range(2):
        with pytest.raises(DeliveryFailed):
            slack(webhook.url).send(alert())
    slack(webhook.url).send(alert())
    with pytest.raises(DeliveryFailed):  # slack_sdk logs connection errors itself
        slack(f"http://127.0.0.1:{free_port()}{HOOK_PATH}").send(alert())
    assert "s3cr3t" not in caplog.text


# ----------------------------------------------------------------------------- the secret


@pytest.fixture
def secrets(moto_endpoint: str, session: Any) -> Iterator[Any]:
    from aws_lambda_powertools.utilities import parameters

    # Powertools caches values (and its client) per process: each test starts cold.
    parameters.clear_caches()
    yield session.client("secretsmanager")
    parameters.clear_caches()


def new_secret(client: Any, value: str) -> str:
    return client.create_secret(Name=f"slack-{uuid.uuid4().hex[:10]}", SecretString=value)["ARN"]


def test_the_secret_holds_the_url_and_is_read_lazily_and_cached(secrets, api_calls):
    arn = new_secret(secrets, "https://hooks.slack.com/services/T0/B0/abc\n")
    before = api_calls.count("secretsmanager")
    read = secret_webhook_url(arn)
    assert api_calls.count("secretsmanager") == before  # nothing read until needed
    assert read() == "https://hooks.slack.com/services/T0/B0/abc"
    assert read() == "https://hooks.slack.com/services/T0/B0/abc"
    assert api_calls.count("secretsmanager") == before + 1


@pytest.mark.parametrize(
    "value",
    [
        "not a url",
        "hooks.slack.com/services/T0/B0/abc",
        "ftp://example.com/hook",
        "https://[::1/hook",
        "https://hooks.slack.com/services/T0 B0",
        "",
    ],
)
def test_a_secret_that_is_not_an_http_url_is_refused_without_echoing_it(secrets, value):
    arn = new_secret(secrets, value or " ")
    with pytest.raises(DeliveryFailed) as failure:
        secret_webhook_url(arn)()
    assert str(failure.value) == "Slack webhook secret does not hold an http(s) URL"


def test_an_unreadable_secret_is_a_delivery_failure(secrets):
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf"
    with pytest.raises(DeliveryFailed, match="could not read the Slack webhook secret"):
        secret_webhook_url(arn)()


def test_slack_alerts_post_to_the_url_from_the_secret(secrets, webhook):
    arn = new_secret(secrets, webhook.url)
    SlackAlerts(secret_webhook_url(arn), timeout=TIMEOUT).send(alert())
    [request] = webhook.requests
    assert request["path"] == HOOK_PATH
