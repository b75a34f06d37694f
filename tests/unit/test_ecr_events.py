"""Edge models: AWS's documented samples are accepted, malformed events are named and refused."""

from __future__ import annotations

import copy
import json
from datetime import timedelta

import pytest

from chalicelib.core.errors import ConfigError, IgnoredEvent, InvalidEvent
from chalicelib.core.lifecycle import ImageDeleted, ImagePushed, Location
from chalicelib.entrypoints import ecr_events
from chalicelib.settings import Settings
from tests import events as ev

NOW = ev.at(60)  # the processing time of these tests
REAL = ev.SAMPLES / "real"  # copied verbatim from ../shared/events/real


def test_documented_push_and_delete_samples_parse():
    push = ecr_events.parse_image_action(ev.sample("ecr-image-action-push"), NOW)
    assert isinstance(push, ImagePushed)
    assert push.location == Location("123456789012", "us-west-2")
    assert push.repository == "my-repository-name" and push.tag == "latest"
    # the documented digest is 60 hex characters, not 64: accepted as AWS sends it
    assert push.digest.startswith("sha256:7f5b2640")
    delete = ecr_events.parse_image_action(ev.sample("ecr-image-action-delete"), NOW)
    assert isinstance(delete, ImageDeleted)


def test_documented_replication_samples_parse():
    ok = ecr_events.parse_replication_action(ev.sample("ecr-replication-action-success"), NOW)
    assert ok.succeeded and ok.location == Location("123456789012", "us-east-1")
    assert ok.source == Location("123456789012", "us-west-2")
    assert ok.repository == "docker-hub/alpine"
    failed = ecr_events.parse_replication_action(ev.sample("ecr-replication-action-failed"), NOW)
    # the documented FAILED sample's digest contains non-hex letters ('g'): still accepted
    assert not failed.succeeded and failed.digest.startswith("sha256:8g6c")


def test_unknown_fields_are_ignored_and_failure_details_kept():
    event = ev.sample("ecr-replication-action-failed")
    event["detail"]["failure-reason"] = "REGISTRY_POLICY_DENIED"
    event["detail"]["brand-new-field"] = {"x": 1}
    event["replay-name"] = "replay-1"
    report = ecr_events.parse_replication_action(event, NOW)
    assert report.failure_reason == "failure-reason=REGISTRY_POLICY_DENIED"


def test_push_without_tag_is_accepted():
    event = ev.sample("ecr-image-action-push")
    del event["detail"]["image-tag"]
    assert ecr_events.parse_image_action(event, NOW).tag is None


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda e: e["detail"].pop("image-digest"), "image-digest"),
        (lambda e: e["detail"].update({"image-digest": "not-a-digest"}), "image-digest"),
        (lambda e: e["detail"].update({"repository-name": 42}), "repository-name"),
        (lambda e: e.update({"account": "12"}), "account"),
        (lambda e: e.update({"time": "yesterday"}), "time"),
        (lambda e: e["detail"].update({"image-tag": "bad tag!"}), "image-tag"),
        (lambda e: e.update({"time": 1700000000}), "time"),
        (lambda e: e.update({"id": "x" * 129}), "id"),
        (lambda e: e.update({"id": "two words"}), "id"),
        (lambda e: e.update({"detail": "oops"}), "detail"),
        # Python's $ matches before a trailing newline: the patterns end in \Z instead.
        (lambda e: e.update({"account": "123456789012\n"}), "account"),
        (lambda e: e["detail"].update({"image-tag": "v1\n"}), "image-tag"),
        (lambda e: e["detail"].update({"repository-name": "team/api\n"}), "repository-name"),
    ],
)
def test_malformed_events_are_refused_with_the_problem_named(mutate, problem):
    event = copy.deepcopy(ev.sample("ecr-image-action-push"))
    mutate(event)
    with pytest.raises(InvalidEvent, match=problem):
        ecr_events.parse_image_action(event, NOW)


def test_real_captures_parse_with_media_types_and_untagged_pushes():
    """ECR users' own captures (../shared/events/real): media types, an untagged OCI push."""
    tagged = ecr_events.parse_image_action(
        json.loads((REAL / "push-2023-docker-v2-media-types.json").read_text()), NOW
    )
    assert isinstance(tagged, ImagePushed) and tagged.tag == "17-bullseye-slim"
    untagged = ecr_events.parse_image_action(
        json.loads((REAL / "push-2025-untagged-oci.json").read_text()), NOW
    )
    assert isinstance(untagged, ImagePushed) and untagged.tag is None


@pytest.mark.parametrize(
    "detail",
    [
        {"result": "FAILURE", "image-digest": "", "action-type": "PUSH"},
        {"action-type": "UPDATE_STORAGE_CLASS"},
    ],
)
def test_failed_pushes_and_storage_class_changes_are_ignored_not_rejected(detail):
    event = copy.deepcopy(ev.sample("ecr-image-action-push"))
    event["detail"].update(detail)
    with pytest.raises(IgnoredEvent, match="neither a push nor a deletion"):
        ecr_events.parse_image_action(event, NOW)


@pytest.mark.parametrize(
    ("time", "problem"),
    [
        ("0001-01-01T00:00:00Z", "before 2015"),
        ("0999-12-31T23:59:59Z", "before 2015"),
        ("2014-12-31T23:59:59Z", "before 2015"),
        ("9999-12-31T23:59:59Z", "more than a day ahead"),
        ("9999-12-31T23:59:59-23:59", "out of range"),
        ("0001-01-01T00:00:00+01:00", "out of range"),
    ],
)
def test_event_times_outside_the_sane_window_are_refused(time, problem):
    for event, parse in (
        (ev.sample("ecr-image-action-push"), ecr_events.parse_image_action),
        (ev.sample("ecr-replication-action-success"), ecr_events.parse_replication_action),
        (ev.schedule(ev.at(0)), ecr_events.parse_schedule_time),
    ):
        event["time"] = time
        with pytest.raises(InvalidEvent, match=problem):
            parse(event, NOW)


def test_the_window_edges_are_inside():
    event = ev.sample("ecr-image-action-push")
    event["time"] = "2015-01-01T00:00:00Z"
    assert ecr_events.parse_image_action(event, NOW).time.year == 2015
    ahead = NOW + timedelta(days=1)
    assert ecr_events.parse_schedule_time(ev.schedule(ahead), NOW) == ahead


def test_log_lines_show_a_bounded_printable_event_id():
    shown = ecr_events.event_id_of({"id": "a\nb" + "x" * 5000})
    assert "\n" not in shown and len(shown) <= ecr_events.MAX_EVENT_ID + 3


def test_replication_event_missing_its_source_is_refused():
    event = ev.sample("ecr-replication-action-success")
    del event["detail"]["source-account"]
    with pytest.raises(InvalidEvent, match="source-account"):
        ecr_events.parse_replication_action(event, NOW)


def test_schedule_time_is_the_sweeps_now():
    assert ecr_events.parse_schedule_time(ev.schedule(ev.at(5)), NOW) == ev.at(5)
    with pytest.raises(InvalidEvent):
        ecr_events.parse_schedule_time({"time": "soon"}, NOW)


BASE = {"AUDIT_TABLE": "t", "ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1:1:t"}


def test_settings_defaults_and_allowlist_from_config():
    import json

    settings = Settings.from_env({**BASE, "REPLICATION_CONFIG": json.dumps(ev.DEFAULT_CONFIG)})
    assert settings.grace.total_seconds() == 1800 and settings.alert_format == "json"
    assert settings.monitored_accounts == {ev.DEV[0], ev.PROD[0], ev.DR[0]}
    assert settings.slack_webhook_secret_arn is None
    explicit = Settings.from_env({**BASE, "MONITORED_ACCOUNTS": "123456789012, 210987654321"})
    assert explicit.monitored_accounts == {"123456789012", "210987654321"}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "AUDIT_TABLE"),
        ({"AUDIT_TABLE": "t"}, "ALERT_TOPIC_ARN"),
        ({**BASE, "REPLICATION_CONFIG": "{"}, "not valid JSON"),
        ({**BASE, "REPLICATION_GRACE_SECONDS": "soon"}, "positive whole number"),
        ({**BASE, "MONITORED_ACCOUNTS": "abc"}, "invalid account"),
        ({**BASE, "ALERT_FORMAT": "xml"}, "ALERT_FORMAT"),
    ],
)
def test_bad_settings_fail_with_a_clear_message(env, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)
