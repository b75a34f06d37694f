"""Chat renderings of alert documents: the Amazon Q Developer custom notification and Slack."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.core import documents, judgement, lifecycle, rules
from chalicelib.core.alert_formats import render_chatbot, render_slack
from chalicelib.core.alert_text import clip
from chalicelib.core.documents import ALERT_KEYS
from chalicelib.core.judgement import EntryKind, Origin, OverwriteCause, TagEntry
from chalicelib.core.lifecycle import Location
from tests import events as ev

DEV, PROD, DR = Location(*ev.DEV), Location(*ev.PROD), Location(*ev.DR)
CONFIG = rules.parse_replication_config(ev.DEFAULT_CONFIG)
CAUSES: tuple[OverwriteCause, ...] = (
    "replication_overwrote_local_tag",
    "local_push_overwrote_replica_tag",
    "replication_from_another_source",
)
LONG_REPOSITORY = "team/" + "a" * 251  # ECR's maximum: 256 characters
LONG_TAG = "v" + "1" * 299  # ECR's maximum: 300 characters


def replica(repository: str = "team/api", tag: str = "v1.4.2") -> lifecycle.Replica:
    push = lifecycle.ImagePushed("e1", ev.at(0), DEV, repository, ev.digest(1), tag)
    return lifecycle.expected_replicas(CONFIG, push, timedelta(minutes=30))[0]


def missing(**names: str) -> dict[str, Any]:
    return documents.replica_alert("REPLICA_MISSING", replica(**names), ev.at(35))


def failed(**names: str) -> dict[str, Any]:
    reason = "failure-reason=destination registry policy denies <ReplicateImage> & more"
    return documents.replica_alert("REPLICATION_FAILED", replica(**names), ev.at(5), reason)


def overwritten(
    cause: OverwriteCause, repository: str = "team/api", tag: str = "latest"
) -> dict[str, Any]:
    """A TAG_OVERWRITTEN at PROD, with the origins that make each cause."""
    origins = {
        "replication_overwrote_local_tag": (Origin(None), Origin(DEV)),
        "local_push_overwrote_replica_tag": (Origin(DEV), Origin(None)),
        "replication_from_another_source": (Origin(DR), Origin(DEV)),
    }
    previous_origin, current_origin = origins[cause]

    def entry(minute: int, n: int, origin: Origin) -> TagEntry:
        kind: EntryKind = "push" if origin.local else "replication"
        return TagEntry(
            PROD,
            repository,
            tag,
            ev.at(minute),
            f"e{n}",
            ev.digest(n),
            kind,
            origin.replicated_from,
        )

    previous, current = entry(1, 1, previous_origin), entry(2, 2, current_origin)
    assert judgement.overwrite_cause(previous, previous_origin, current, current_origin) == cause
    return documents.overwrite_alert(
        previous, current, cause, current_origin, previous_origin, ev.at(3)
    )


def recovered(**names: str) -> dict[str, Any]:
    return documents.recovery_alert(missing(**names), ev.at(40), 2460)


def every_kind(**names: str) -> list[dict[str, Any]]:
    return [
        missing(**names),
        failed(**names),
        *(overwritten(cause, **names) for cause in CAUSES),
        recovered(**names),
    ]


ALERTS = every_kind()
IDS = [f"{a['kind']}-{a['cause'] or ''}".rstrip("-") for a in ALERTS]


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def assert_within_slack_limits(payload: dict[str, Any]) -> None:
    blocks = payload["blocks"]
    assert payload["text"] and len(blocks) <= 50
    for block in blocks:
        if block["type"] == "header":
            assert block["text"]["type"] == "plain_text"
            assert utf16_len(block["text"]["text"]) <= 150
        elif block["type"] == "section":
            assert utf16_len(block["text"]["text"]) <= 3000
            fields = block.get("fields", [])
            assert len(fields) <= 10
            assert all(utf16_len(f["text"]) <= 2000 for f in fields)
        elif block["type"] == "context":
            assert all(utf16_len(e["text"]) <= 2000 for e in block["elements"])


# ----------------------------------------------------------------------------- chatbot


@pytest.mark.parametrize("alert", ALERTS, ids=IDS)
def test_chatbot_notification_follows_the_custom_schema(alert):
    doc = render_chatbot(alert)
    assert doc["version"] == "1.0" and doc["source"] == "custom"
    assert doc["id"] == f"{alert['incident_id']}:{alert['kind']}"
    content, metadata = doc["content"], doc["metadata"]
    assert content["textType"] == "client-markdown"
    assert alert["kind"] in content["title"] and "team/api" in content["title"]
    assert alert["summary"] in content["description"]
    assert content["nextSteps"] and all(isinstance(s, str) for s in content["nextSteps"])
    assert alert["kind"] in content["keywords"]
    assert metadata["threadId"] == alert["incident_id"]
    assert metadata["summary"] == alert["summary"]
    assert metadata["eventType"] == alert["kind"]
    json.dumps(doc)  # SNS carries it as a JSON string


@pytest.mark.parametrize("alert", ALERTS, ids=IDS)
def test_additional_context_carries_every_alert_field_as_text(alert):
    context = render_chatbot(alert)["metadata"]["additionalContext"]
    assert list(context) == list(ALERT_KEYS)
    assert all(isinstance(value, str) for value in context.values())
    assert context["destination"] == "222222222222/eu-west-1"
    for key in ALERT_KEYS:
        if alert[key] is None:
            assert context[key] == ""
        elif isinstance(alert[key], str):
            assert context[key] == alert[key]


def test_recovery_threads_under_the_alert_it_closes():
    alert = missing()
    recovery = documents.recovery_alert(alert, ev.at(40), 2460)
    opened, closed = render_chatbot(alert), render_chatbot(recovery)
    assert closed["metadata"]["threadId"] == opened["metadata"]["threadId"]
    assert closed["id"] != opened["id"]
    assert closed["content"]["nextSteps"] == [
        "No action needed.",
        f"Runbook: {documents.DEFAULT_RUNBOOK_BASE_URL}/recovered",
    ]
    assert closed["metadata"]["additionalContext"]["lag_seconds"] == "2460"
    assert "41 min" in closed["content"]["description"]


def test_related_resources_are_the_destination_and_source_repositories():
    doc = render_chatbot(missing())
    assert doc["metadata"]["relatedResources"] == [
        "arn:aws:ecr:eu-west-1:222222222222:repository/team/api",
        "arn:aws:ecr:us-west-2:111111111111:repository/team/api",
    ]


def test_next_steps_for_a_missing_replica_start_with_the_status_command():
    alert = missing()
    steps = render_chatbot(alert)["content"]["nextSteps"]
    assert (
        "aws ecr describe-image-replication-status --registry-id 111111111111 "
        f"--repository-name team/api --image-id imageDigest={alert['digest']} "
        "--region us-west-2" in steps[0]
    )


def test_next_steps_for_a_failed_replication_check_the_registry_policy_and_cloudtrail():
    steps = " ".join(render_chatbot(failed())["content"]["nextSteps"])
    assert "ecr:ReplicateImage" in steps and "ecr:CreateRepository" in steps
    assert "get-registry-policy --region eu-west-1" in steps
    assert "CloudTrail" in steps and "ReplicateImage" in steps


def test_next_steps_for_an_overwrite_depend_on_the_cause():
    steps = {cause: render_chatbot(overwritten(cause))["content"]["nextSteps"] for cause in CAUSES}
    assert len({json.dumps(s) for s in steps.values()}) == len(CAUSES)
    assert "PutImage" in " ".join(steps["local_push_overwrote_replica_tag"])
    assert "immutability" in " ".join(steps["replication_overwrote_local_tag"])
    assert "prefix filters" in " ".join(steps["replication_from_another_source"])


def test_chatbot_stays_small_with_the_longest_names_ecr_allows():
    for alert in every_kind(repository=LONG_REPOSITORY, tag=LONG_TAG):
        doc = render_chatbot(alert)
        assert len(json.dumps(doc).encode()) < 32 * 1024  # SNS allows 256 KB
        assert doc["metadata"]["additionalContext"]["repository"] == LONG_REPOSITORY
        assert doc["content"]["title"].endswith("…")


# ----------------------------------------------------------------------------- slack


@pytest.mark.parametrize("alert", ALERTS, ids=IDS)
def test_slack_message_names_kind_and_repository_within_limits(alert):
    payload = render_slack(alert)
    assert_within_slack_limits(payload)
    assert payload["text"] == alert["summary"]
    header = payload["blocks"][0]
    assert header["type"] == "header"
    assert alert["kind"] in header["text"]["text"] and "team/api" in header["text"]["text"]
    assert header["text"]["text"].startswith(
        {"critical": "🔴", "warning": "🟠", "info": "✅"}[alert["severity"]]
    )
    text = json.dumps(payload, ensure_ascii=False)
    assert alert["digest"] in text  # the full digest, in the code block
    assert alert["incident_id"] in json.dumps(payload["blocks"][-1])


def field_labels(payload: dict[str, Any]) -> list[str]:
    fields = payload["blocks"][1]["fields"]
    return [f["text"].split("\n")[0].strip("*") for f in fields]


def test_slack_fields_fit_each_kind():
    assert field_labels(render_slack(missing())) == [
        "Tag", "Digest", "Source → Destination", "Pushed", "Due", "Detected",
    ]  # fmt: skip
    assert "Failure reason" in field_labels(render_slack(failed()))
    overwrite = field_labels(render_slack(overwritten(CAUSES[0])))
    assert {"Previous digest", "Cause", "Tag moved"} <= set(overwrite) and "Due" not in overwrite
    recovery = field_labels(render_slack(recovered()))
    assert {"Resolves", "Replication lag", "Recovered"} <= set(recovery)


def test_slack_escapes_free_text():
    fields = json.dumps(render_slack(failed())["blocks"][1]["fields"])
    assert "&lt;ReplicateImage&gt; &amp; more" in fields
    assert "<ReplicateImage>" not in fields


@pytest.mark.parametrize("alert", every_kind(repository=LONG_REPOSITORY, tag=LONG_TAG), ids=IDS)
def test_slack_limits_hold_for_the_longest_names_ecr_allows(alert):
    payload = render_slack(alert)
    assert_within_slack_limits(payload)
    header = payload["blocks"][0]["text"]["text"]
    assert alert["kind"] in header and header.endswith("…")
    tag_field = next(f["text"] for f in payload["blocks"][1]["fields"] if "*Tag*" in f["text"])
    assert "…" in tag_field
    assert LONG_TAG in payload["blocks"][2]["text"]["text"]  # full value stays copyable


def test_clip_counts_astral_emoji_as_two_units():
    assert clip("🔴 abc", 6) == "🔴 abc"
    assert clip("🔴 abcd", 6) == "🔴 ab…"  # 2 + 1 + 2 + 1
    assert utf16_len(clip("🔴" * 100, 150)) <= 150
