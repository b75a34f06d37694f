"""PINNED_DIGEST_MISSING documents and the `workloads` key in every alert document, Slack and
Amazon Q renderings."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.core import documents
from chalicelib.core.alert_formats import render_chatbot, render_slack
from chalicelib.core.documents import ALERT_KEYS
from chalicelib.core.lifecycle import Location

PROD = Location("222222222222", "eu-west-1")
DEV = Location("111111111111", "us-west-2")
A, B = "sha256:" + "a1b2" * 16, "sha256:" + "c3d4" * 16
SINCE = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
SERVICE = {
    "type": "ecs-service",
    "name": "prod/api",
    "account": PROD.account,
    "region": PROD.region,
    "image": f"{PROD.account}.dkr.ecr.{PROD.region}.amazonaws.com/team/api:latest",
    "digest": A,
}
FUNCTION = {**SERVICE, "type": "lambda-function", "name": "resizer", "image": "…@" + A}


def pinned(workloads: list[dict[str, Any]] | None = None, source: Location | None = DEV) -> dict:
    return documents.pinned_alert(
        PROD, "team/api", A, SINCE, source, [SERVICE, FUNCTION] if workloads is None else workloads,
        SINCE + timedelta(minutes=1),
    )  # fmt: skip


def test_a_pinned_digest_missing_document_is_critical_and_names_location_digest_workloads() -> None:
    doc = pinned()
    assert list(doc) == list(ALERT_KEYS) and doc["workloads"] == [SERVICE, FUNCTION]
    assert doc["kind"] == "PINNED_DIGEST_MISSING" and doc["severity"] == "critical"
    assert (doc["tag"], doc["digest"], doc["previous_digest"]) == (None, A, None)
    assert doc["destination"] == PROD.as_dict() and doc["source"] == DEV.as_dict()
    assert doc["summary"] == (
        "Pinned digest missing: team/api@sha256:a1b2a1b2a1b2 in 222222222222/eu-west-1 "
        "(2 workloads)"
    )
    assert pinned(source=None)["source"] is None


def test_one_incident_per_location_repository_digest_and_absence() -> None:
    assert pinned()["incident_id"] == pinned([])["incident_id"]  # whatever the workloads
    later = documents.pinned_alert(PROD, "team/api", A, SINCE + timedelta(hours=1), None, [], SINCE)
    assert later["incident_id"] != pinned()["incident_id"]
    elsewhere = documents.pinned_alert(DEV, "team/api", A, SINCE, None, [], SINCE)
    assert elsewhere["incident_id"] != pinned()["incident_id"]


def test_a_recovery_carries_the_workloads_and_an_old_incident_without_them_recovers_too() -> None:
    recovered = documents.recovery_alert(pinned(), SINCE + timedelta(hours=2), None)
    assert recovered["resolves"] == "PINNED_DIGEST_MISSING"
    assert recovered["workloads"] == [SERVICE, FUNCTION]
    old = {k: v for k, v in pinned().items() if k != "workloads"}  # stored before the key
    assert documents.recovery_alert(old, SINCE, None)["workloads"] is None


def test_slack_shows_what_runs_the_image() -> None:
    overwritten = {
        **pinned(),
        "kind": "TAG_OVERWRITTEN",
        "severity": "warning",
        "tag": "latest",
        "digest": B,
        "previous_digest": A,
        "cause": "replication_overwrote_local_tag",
    }
    blocks = render_slack(overwritten)["blocks"]
    (what,) = [b for b in blocks if b.get("text", {}).get("text", "").startswith("*What runs it*")]
    assert what["text"]["text"] == (
        "*What runs it*\n"
        "• ECS prod/api runs a1b2a1b2a1b2…; its next deployment takes c3d4c3d4c3d4…\n"
        "• Lambda resizer runs a1b2a1b2a1b2…; its next code update takes c3d4c3d4c3d4…"
    )
    text = json.dumps(render_slack(pinned()), ensure_ascii=False)
    assert "ECS prod/api pins a1b2a1b2a1b2…: a scale-out, task replacement or rollback" in text
    assert "*Source → Destination*" in text
    unknown_source = json.dumps(render_slack(pinned(source=None)), ensure_ascii=False)
    assert "*Location*" in unknown_source and "Source" not in unknown_source
    none = render_slack(pinned([]))["blocks"]
    assert not any("What runs it" in json.dumps(b) for b in none)


def test_amazon_q_lists_the_workloads_and_keeps_them_as_json_in_the_context() -> None:
    message = render_chatbot(pinned())
    assert (
        "• Lambda resizer pins a1b2a1b2a1b2…: updating or restoring the function fails"
        in (message["content"]["description"])
    )
    context = message["metadata"]["additionalContext"]
    assert json.loads(context["workloads"]) == [SERVICE, FUNCTION]
    assert any("describe-images" in step for step in message["content"]["nextSteps"])
    off = render_chatbot({**pinned(), "workloads": None})
    assert off["metadata"]["additionalContext"]["workloads"] == ""
