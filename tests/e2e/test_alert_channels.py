"""Alert channels end to end: Slack via a Secrets Manager webhook URL and a real local HTTP
server, failures isolated from SNS, and the Amazon Q Developer (chatbot) format."""

from __future__ import annotations

import json
import logging
import uuid

import pytest

from tests import events as ev

REPO = "team/api"
D1, D2 = ev.digest(1), ev.digest(2)


@pytest.fixture
def slack(webhook, session, configure):
    """The app configured with a Slack webhook secret pointing at the local server."""
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()
    arn = session.client("secretsmanager").create_secret(
        Name=f"slack-{uuid.uuid4().hex[:8]}", SecretString=webhook.url
    )["ARN"]
    configure(SLACK_WEBHOOK_SECRET_ARN=arn)
    yield webhook
    parameters.clear_caches()


def posted(webhook):
    return [json.loads(r["body"]) for r in webhook.requests]


def story(replay):
    """A failure that recovers, and a tag overwrite; each event delivered twice."""
    for event in (
        ev.push(ev.PROD, REPO, "latest", D2, ev.at(0)),
        ev.push(ev.DEV, REPO, "latest", D1, ev.at(1)),
        ev.replication(ev.PROD, ev.DEV, REPO, "latest", D1, ev.at(2), ok=False),
        ev.replication(ev.PROD, ev.DEV, REPO, "latest", D1, ev.at(4)),
        ev.replication(ev.DR, ev.DEV, REPO, "latest", D1, ev.at(4)),
        ev.schedule(ev.at(10)),
    ):
        replay(event)
        replay(event)


def test_one_slack_post_per_alert_under_duplicate_delivery(slack, replay, alerts):
    story(replay)
    # Different incidents are delivered by concurrent sweep lanes: in no particular order.
    sns = sorted(a["body"]["kind"] for a in alerts.drain())
    assert sns == ["RECOVERED", "REPLICATION_FAILED", "TAG_OVERWRITTEN"]
    headers = [p["blocks"][0]["text"]["text"] for p in posted(slack)]
    assert len(headers) == 3
    assert sorted(h.split(": ")[0].split(" ", 1)[1] for h in headers) == sns
    assert all(h.endswith(REPO) for h in headers)


def test_slack_down_then_up_is_retried_by_the_next_sweep_without_touching_sns(
    slack, replay, alerts
):
    slack.replies.extend([(500, {}, "internal_error"), (503, {}, "unavailable")])
    replay(ev.push(ev.DEV, REPO, "v1", D1, ev.at(0)))
    replay(ev.replication(ev.PROD, ev.DEV, REPO, "v1", D1, ev.at(2), ok=False))
    assert alerts.kinds() == ["REPLICATION_FAILED"]  # SNS is not held back by Slack
    assert len(slack.requests) == 1
    replay(ev.schedule(ev.at(5)))  # Slack still down
    replay(ev.schedule(ev.at(10)))  # Slack back: delivered
    replay(ev.schedule(ev.at(15)))  # nothing left to deliver
    assert len(slack.requests) == 3
    assert posted(slack)[-1]["blocks"][0]["text"]["text"].endswith(f"REPLICATION_FAILED: {REPO}")
    assert alerts.kinds() == []  # and SNS never saw a duplicate


def test_slack_gives_up_after_five_tries_with_a_logged_error(slack, replay, alerts, caplog):
    slack.replies.extend([(500, {}, "down")] * 10)
    replay(ev.push(ev.DEV, REPO, "v1", D1, ev.at(0)))
    replay(ev.replication(ev.DR, ev.DEV, REPO, "v1", D1, ev.at(2)))
    replay(ev.replication(ev.PROD, ev.DEV, REPO, "v1", D1, ev.at(2), ok=False))
    with caplog.at_level(logging.WARNING):
        for minute in range(5, 60, 5):
            replay(ev.schedule(ev.at(minute)))
    assert len(slack.requests) == 5
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in errors] == ["giving up on Slack delivery"]
    assert slack.url not in caplog.text
    assert alerts.kinds().count("REPLICATION_FAILED") == 1


def test_chatbot_format_threads_a_recovery_under_its_alert(replay, alerts, configure):
    configure(ALERT_FORMAT="chatbot")
    replay(ev.push(ev.DEV, REPO, "v1", D1, ev.at(0)))
    replay(ev.replication(ev.PROD, ev.DEV, REPO, "v1", D1, ev.at(2), ok=False))
    replay(ev.replication(ev.PROD, ev.DEV, REPO, "v1", D1, ev.at(6)))
    replay(ev.schedule(ev.at(10)))
    failed, recovered = alerts.drain()
    for message in (failed, recovered):
        body = message["body"]
        assert body["version"] == "1.0" and body["source"] == "custom"
        assert body["content"]["description"] and body["content"]["title"]
        assert isinstance(body["content"]["nextSteps"], list)
        assert all(isinstance(v, str) for v in body["metadata"]["additionalContext"].values())
    assert failed["body"]["metadata"]["threadId"] == recovered["body"]["metadata"]["threadId"]
    assert recovered["body"]["metadata"]["additionalContext"]["kind"] == "RECOVERED"
    # Subject and attributes are the same in both formats
    assert failed["subject"].startswith("Replication failed: team/api:v1")
    assert failed["attributes"]["severity"] == "critical"
