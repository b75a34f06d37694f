"""SnsAlerts against the moto server: subject, body, attributes, and failures as DeliveryFailed."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from chalicelib.adapters.sns import SnsAlerts
from chalicelib.core import documents, lifecycle, rules
from chalicelib.core.errors import DeliveryFailed
from chalicelib.local.provision import subscribe_queue
from tests import events as ev
from tests.conftest import Alerts

CONFIG = rules.parse_replication_config(ev.DEFAULT_CONFIG)


def alert():
    push = lifecycle.ImagePushed(
        "e", ev.at(0), lifecycle.Location(*ev.DEV), "team/api", ev.digest(1), "v1"
    )
    replica = lifecycle.expected_replicas(CONFIG, push, timedelta(minutes=30))[0]
    return documents.replica_alert("REPLICA_MISSING", replica, ev.at(31))


def test_publishes_the_document_with_subject_and_attributes(session):
    sns = session.client("sns")
    topic = sns.create_topic(Name=f"t-{uuid.uuid4().hex[:8]}")["TopicArn"]
    queue = Alerts(
        session.client("sqs"), subscribe_queue(session, topic, f"q-{uuid.uuid4().hex[:8]}")
    )
    doc = alert()
    SnsAlerts(sns, topic).send(doc)
    [got] = queue.drain()
    assert got["body"] == doc and got["subject"] == doc["summary"]
    assert got["attributes"] == {
        "kind": "REPLICA_MISSING",
        "severity": "critical",
        "repository": "team/api",
        "destination_account": doc["destination"]["account"],
        "destination_region": doc["destination"]["region"],
        "dedup_id": f"{doc['incident_id']}#OPEN",
    }


def test_a_missing_topic_is_a_delivery_failure(session):
    sns = session.client("sns")
    with pytest.raises(DeliveryFailed, match="SNS publish failed"):
        SnsAlerts(sns, "arn:aws:sns:us-east-1:123456789012:nope").send(alert())
