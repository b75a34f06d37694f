"""TAG_DRIFT decisions, the TAG_DRIFT and DELETE_NOT_REPLICATED alert documents and their chat
renderings; deleteReplication kept per rule."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.core import documents, lifecycle
from chalicelib.core.alert_formats import render_chatbot, render_slack
from chalicelib.core.documents import ALERT_KEYS
from chalicelib.core.drift import DriftCheck, drift_opens, drift_recovery
from chalicelib.core.errors import ConfigError
from chalicelib.core.lifecycle import Location
from chalicelib.core.rules import parse_replication_config
from tests import events as ev

DEV, PROD = Location(*ev.DEV), Location(*ev.PROD)
CONFIG = parse_replication_config(ev.DEFAULT_CONFIG)
OLD, NEW, OTHER = ev.digest("old"), ev.digest("new"), ev.digest("other")


def replica(
    tag: str | None = "latest", state: lifecycle.ReplicaState = "replicated"
) -> lifecycle.Replica:
    push = lifecycle.ImagePushed("e1", ev.at(0), DEV, "team/api", NEW, tag or "any")
    (first, *_) = lifecycle.expected_replicas(CONFIG, push, timedelta(minutes=30))
    arrived = ev.at(3) if state == "replicated" else None
    return replace(first, tag=tag, state=state, replicated_at=arrived)  # untagged: known by digest


# ----------------------------------------------------------------------------- opening


def test_destination_keeping_the_old_digest_is_drift() -> None:
    assert drift_opens(DriftCheck(replica(), source_digest=NEW, destination_digest=OLD)) == "open"


def test_destination_without_the_tag_is_drift_too() -> None:
    assert drift_opens(DriftCheck(replica(), NEW, None)) == "open"


@pytest.mark.parametrize(
    "check",
    [
        DriftCheck(replica(), NEW, NEW),  # in step
        DriftCheck(replica(), OTHER, OLD),  # the source moved on: the newer push is judged later
        DriftCheck(replica(), None, OLD),  # the source tag is gone
        DriftCheck(replica(), NEW, OLD, explained_by_overwrite=True),  # TAG_OVERWRITTEN said so
        DriftCheck(replica(tag=None), NEW, OLD),  # untagged replica: no tag to drift
        DriftCheck(replica(state="missing"), NEW, OLD),  # REPLICA_MISSING's business
        DriftCheck(replica(state="pending"), NEW, OLD),
    ],
    ids=["in-step", "source-moved", "source-gone", "overwrite", "untagged", "missing", "pending"],
)
def test_no_drift(check: DriftCheck) -> None:
    assert drift_opens(check) == "none"


# ----------------------------------------------------------------------------- recovery


def drift() -> dict[str, Any]:
    return documents.drift_alert(replica(), NEW, OLD, ev.at(35))


def test_drift_lasts_while_the_destination_tag_names_another_image() -> None:
    assert drift_recovery(drift(), source_digest=NEW, destination_digest=OLD) is None
    assert drift_recovery(drift(), NEW, OTHER) is None
    assert drift_recovery(drift(), NEW, None) is None


def test_drift_recovers_when_fixed_or_when_the_source_moves_on_or_goes() -> None:
    assert drift_recovery(drift(), NEW, NEW) == "destination_fixed"
    assert drift_recovery(drift(), None, NEW) == "destination_fixed"
    assert drift_recovery(drift(), OTHER, OLD) == "source_moved"
    assert drift_recovery(drift(), None, OLD) == "source_gone"


# ----------------------------------------------------------------------------- documents


def test_drift_alert_document() -> None:
    doc = drift()
    assert list(doc) == list(ALERT_KEYS)
    assert doc["kind"] == "TAG_DRIFT" and doc["severity"] == "warning"
    assert (doc["digest"], doc["previous_digest"]) == (NEW, OLD)  # source's, destination's
    assert doc["source"] == DEV.as_dict() and doc["destination"] == PROD.as_dict()
    assert doc["tag"] == "latest" and doc["cause"] is None
    assert doc["due_at"] == "2026-11-27T10:30:00Z" and doc["detected_at"] == "2026-11-27T10:35:00Z"
    old, new = OLD.split(":")[1][:12], NEW.split(":")[1][:12]
    assert doc["summary"] == (
        f"Tag drift: team/api:latest in 222222222222/eu-west-1 is {old}, source {new}"
    )
    assert len(doc["summary"]) < 100


def test_drift_incident_is_stable_per_destination_tag_and_source_digest() -> None:
    assert (
        drift()["incident_id"]
        == documents.drift_alert(replica(), NEW, OTHER, ev.at(90))["incident_id"]
    )
    assert (
        drift()["incident_id"]
        != documents.drift_alert(replica(), OTHER, OLD, ev.at(35))["incident_id"]
    )
    assert drift()["incident_id"].startswith("tag-drift-")


def test_drift_recovery_carries_the_incident() -> None:
    recovered = documents.recovery_alert(drift(), ev.at(50), None)
    assert recovered["resolves"] == "TAG_DRIFT" and recovered["severity"] == "info"
    assert recovered["incident_id"] == drift()["incident_id"]
    assert recovered["summary"].startswith("Recovered: TAG_DRIFT for team/api:latest")


def delete_not_replicated() -> dict[str, Any]:
    r = replica()
    return documents.alert_document(
        kind="DELETE_NOT_REPLICATED",
        incident_id="delete-not-replicated-1",
        repository=r.repository,
        tag=r.tag,
        digest=r.digest,
        source=r.source.as_dict(),
        destination=r.destination.as_dict(),
        detected_at=lifecycle.iso(ev.at(40)),
    )


def test_delete_not_replicated_is_a_warning_with_a_summary() -> None:
    doc = delete_not_replicated()
    assert doc["severity"] == "warning"
    assert (
        doc["summary"] == "Delete not replicated: team/api:latest still in 222222222222/eu-west-1"
    )


# ----------------------------------------------------------------------------- renderings


def labels(payload: dict[str, Any]) -> list[str]:
    return [f["text"].split("\n")[0].strip("*") for f in payload["blocks"][1]["fields"]]


def test_drift_renders_source_and_destination_digests_and_the_immutability_hint() -> None:
    slack = render_slack(drift())
    assert {"Source digest", "Destination digest", "Due"} <= set(labels(slack))
    assert slack["blocks"][0]["text"]["text"].startswith("🟠 TAG_DRIFT: team/api")
    chat = render_chatbot(drift())
    steps = " ".join(chat["content"]["nextSteps"])
    assert "imageTagMutability" in steps and "IMMUTABLE_WITH_EXCLUSION" in steps
    assert NEW in steps and OLD in steps
    assert chat["metadata"]["additionalContext"]["previous_digest"] == OLD
    assert chat["metadata"]["threadId"] == drift()["incident_id"]
    json.dumps(chat)


def test_drift_without_a_destination_image_says_so() -> None:
    doc = documents.drift_alert(replica(), NEW, None, ev.at(35))
    assert "is no image" in doc["summary"]
    field = next(f for f in render_slack(doc)["blocks"][1]["fields"] if "Destination" in f["text"])
    assert "no image" in field["text"]


def test_delete_not_replicated_renders_with_delete_commands() -> None:
    chat = render_chatbot(delete_not_replicated())
    steps = " ".join(chat["content"]["nextSteps"])
    assert "deleteReplication" in steps and "batch-delete-image" in steps
    assert (
        "DELETE_NOT_REPLICATED"
        in render_slack(delete_not_replicated())["blocks"][0]["text"]["text"]
    )


# ----------------------------------------------------------------------------- deleteReplication


def rules(**extra: Any) -> list[dict[str, Any]]:
    rule = {"destinations": [{"registryId": PROD.account, "region": PROD.region}], **extra}
    return [
        {
            "registryId": DEV.account,
            "region": DEV.region,
            "replicationConfiguration": {"rules": [rule]},
        }
    ]


def test_delete_replication_flag_is_kept_per_rule() -> None:
    (on,) = parse_replication_config(rules(deleteReplication={"enabled": True})).sources[0].rules
    (off,) = parse_replication_config(rules(deleteReplication={"enabled": False})).sources[0].rules
    (absent,) = parse_replication_config(rules()).sources[0].rules
    assert (on.replicate_deletions, off.replicate_deletions, absent.replicate_deletions) == (
        True,
        False,
        False,
    )


def test_a_malformed_delete_replication_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"rules\[0\]\.deleteReplication"):
        parse_replication_config(rules(deleteReplication={"enabled": "yes"}))
