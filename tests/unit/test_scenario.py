"""The demo's scenario day: well-formed events, times anchored just before "now"."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.core.lifecycle import parse_time
from chalicelib.entrypoints import ecr_events
from chalicelib.local import scenario

NOW = datetime(2026, 11, 27, 10, 2, 31, tzinfo=UTC)


@pytest.fixture(scope="module")
def day() -> scenario.Scenario:
    return scenario.build(NOW)


def test_the_day_ends_just_before_now_and_fits_the_24h_window(day: scenario.Scenario) -> None:
    times = [parse_time(e["time"]) for e in day.events]
    assert NOW - timedelta(minutes=15) <= max(times) == day.end < NOW
    assert min(times) >= day.start > NOW - timedelta(hours=24)


def test_every_ecr_event_parses_as_the_app_would(day: scenario.Scenario) -> None:
    for event in day.events:
        if event["detail-type"] == "ECR Image Action":
            ecr_events.parse_image_action(event, NOW)
        elif event["detail-type"] == "ECR Replication Action":
            ecr_events.parse_replication_action(event, NOW)
        else:
            assert event["source"] == "aws.events"
            ecr_events.parse_schedule_time(event, NOW)


def test_sweeps_fall_on_the_five_minute_schedule(day: scenario.Scenario) -> None:
    sweeps = [parse_time(e["time"]) for e in day.events if e["source"] == "aws.events"]
    assert sweeps == sorted(sweeps)
    assert all(moment.minute % 5 == 0 and moment.second == 0 for moment in sweeps)
    assert len(sweeps) < 288, "only the marks that matter, not every one of the day"


def test_delivery_is_best_effort_like_ecr(day: scenario.Scenario) -> None:
    ids = Counter(e["id"] for e in day.events)
    duplicates = [event_id for event_id, n in ids.items() if n > 1]
    assert len(duplicates) == 1, "one event is delivered twice, with the same id"
    times = [e["time"] for e in day.events]
    assert times != sorted(times), "one event is delivered late, out of order"


def test_the_day_is_the_same_story_whatever_the_clock() -> None:
    def shape(built: scenario.Scenario) -> list[tuple[str, str | None, str | None]]:
        return [
            (e["detail-type"], e["detail"].get("repository-name"), e["detail"].get("image-tag"))
            for e in built.events
            if e["source"] == "aws.ecr"
        ]

    assert shape(scenario.build(NOW)) == shape(scenario.build(NOW + timedelta(minutes=37)))


def test_the_day_has_a_buildx_push_and_a_tag_removal(day: scenario.Scenario) -> None:
    assert day.untagged_pushes == len(scenario.CHILDREN)  # the index's children, untagged
    assert day.tag_removals == 1
