"""Every deployed rule's event pattern, run through moto's EventBridge matcher against the real
AWS sample events: it takes what its handler needs and nothing else ECR emits."""

from __future__ import annotations

import json
from typing import Any

import pytest
from moto.events.models import EventPattern

from tests.infra.templates import OTHER_EVENTS, Packaged, sample_event

IMAGE_ACTIONS = ["ecr-image-action-push", "ecr-image-action-delete"]
REPLICATION_ACTIONS = ["ecr-replication-action-success", "ecr-replication-action-failed"]
OTHER_ECR_EVENTS = json.loads(OTHER_EVENTS.read_text())


def matches(pattern: Any, event: dict[str, Any]) -> bool:
    text = pattern if isinstance(pattern, str) else json.dumps(pattern)
    return bool(EventPattern.load(text).matches_event(event))  # type: ignore[arg-type]


def forged(name: str) -> dict[str, Any]:
    """The same event from a custom source: not what AWS sends, must not be taken for ECR's."""
    return {**sample_event(name), "source": "com.example.ecr"}


@pytest.fixture(scope="module")
def rules_by_function(package_stage: Any) -> dict[str, dict[str, Any]]:
    packaged: Packaged = package_stage("dev")
    found = {}
    for rule in packaged.resources("AWS::Events::Rule").values():
        (target,) = rule["Properties"]["Targets"]
        found[target["Arn"]["Fn::GetAtt"][0]] = rule["Properties"]
    return found


def test_each_event_handler_has_one_rule(rules_by_function: dict[str, Any]) -> None:
    assert set(rules_by_function) == {"OnImageAction", "OnReplicationAction", "Sweep"}


@pytest.mark.parametrize("name", IMAGE_ACTIONS)
def test_image_action_rule_takes_push_and_delete(rules_by_function: dict, name: str) -> None:
    assert matches(rules_by_function["OnImageAction"]["EventPattern"], sample_event(name))


@pytest.mark.parametrize("name", REPLICATION_ACTIONS)
def test_replication_rule_takes_success_and_failure(rules_by_function: dict, name: str) -> None:
    assert matches(rules_by_function["OnReplicationAction"]["EventPattern"], sample_event(name))


@pytest.mark.parametrize(
    "event",
    [sample_event(n) for n in REPLICATION_ACTIONS]
    + OTHER_ECR_EVENTS
    + [forged(n) for n in IMAGE_ACTIONS],
    ids=lambda e: f"{e['source']}:{e['detail-type']}:{e['detail'].get('action-type', '')}",
)
def test_image_action_rule_rejects_everything_else(rules_by_function: dict, event: dict) -> None:
    assert not matches(rules_by_function["OnImageAction"]["EventPattern"], event)


@pytest.mark.parametrize(
    "event",
    [sample_event(n) for n in IMAGE_ACTIONS]
    + OTHER_ECR_EVENTS
    + [forged(n) for n in REPLICATION_ACTIONS],
    ids=lambda e: f"{e['source']}:{e['detail-type']}:{e['detail'].get('action-type', '')}",
)
def test_replication_rule_rejects_everything_else(rules_by_function: dict, event: dict) -> None:
    assert not matches(rules_by_function["OnReplicationAction"]["EventPattern"], event)


def test_sweep_runs_at_the_rate_of_a_deployment_parameter(
    rules_by_function: dict, package_stage: Any
) -> None:
    assert rules_by_function["Sweep"]["ScheduleExpression"] == {"Ref": "SweepSchedule"}
    assert "EventPattern" not in rules_by_function["Sweep"]
    parameter = package_stage("dev").cfn["Parameters"]["SweepSchedule"]
    assert parameter["Default"] == "rate(1 minute)"  # RECOVERED within a minute by default
    # the dead-man alarm expects a completed sweep in every 5-minute period
    assert all(rate.startswith("rate(") for rate in parameter["AllowedValues"])
    assert parameter["AllowedValues"][-1] == "rate(5 minutes)"


def test_deployed_patterns_are_the_ones_the_app_registers(rules_by_function: dict) -> None:
    # `replay` routes local events with the app's own patterns: deployment must agree with it.
    from app import app
    from chalicelib.local.replay import handler_patterns

    registered = dict(handler_patterns(app))
    assert rules_by_function["OnImageAction"]["EventPattern"] == registered["on_image_action"]
    assert (
        rules_by_function["OnReplicationAction"]["EventPattern"]
        == (registered["on_replication_action"])
    )


def forwarder_pattern(forwarder: dict[str, Any]) -> Any:
    return forwarder["Resources"]["ForwardEcrEventsRule"]["Properties"]["EventPattern"]


@pytest.mark.parametrize("name", IMAGE_ACTIONS + REPLICATION_ACTIONS)
def test_forwarder_sends_every_image_and_replication_event(forwarder: dict, name: str) -> None:
    assert matches(forwarder_pattern(forwarder), sample_event(name))


@pytest.mark.parametrize(
    "event",
    OTHER_ECR_EVENTS[:3]
    + OTHER_ECR_EVENTS[4:]
    + [forged(n) for n in IMAGE_ACTIONS + REPLICATION_ACTIONS],
    ids=lambda e: f"{e['source']}:{e['detail-type']}",
)
def test_forwarder_keeps_other_events_home(forwarder: dict, event: dict) -> None:
    assert not matches(forwarder_pattern(forwarder), event)


def test_forwarder_covers_every_app_rule(forwarder: dict, rules_by_function: dict) -> None:
    """Anything an app rule takes from a member account must have been forwarded to it."""
    fwd = forwarder_pattern(forwarder)
    for function in ("OnImageAction", "OnReplicationAction"):
        pattern = rules_by_function[function]["EventPattern"]
        assert set(pattern["source"]) <= set(fwd["source"])
        assert set(pattern["detail-type"]) <= set(fwd["detail-type"])
