"""The member-account forwarder template: lint, least privilege, delivery, StackSet-ready."""

from __future__ import annotations

from typing import Any

from tests.infra.templates import FORWARDER_TEMPLATE, as_list, cfn_lint, statements

AUDIT_BUS = (
    "arn:${AWS::Partition}:events:${AuditRegion}:${AuditAccountId}:event-bus/${AuditEventBusName}"
)


def test_cfn_lint_passes() -> None:
    assert cfn_lint(FORWARDER_TEMPLATE) == []


def test_rule_on_default_bus_targets_the_audit_bus_with_a_role(forwarder: dict[str, Any]) -> None:
    rule = forwarder["Resources"]["ForwardEcrEventsRule"]["Properties"]
    assert rule["EventBusName"] == "default"  # where AWS services put their events
    assert rule["State"] == "ENABLED"
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::Sub": AUDIT_BUS}
    assert target["RoleArn"] == {"Fn::GetAtt": ["ForwarderRole", "Arn"]}


def test_rule_target_has_dead_letter_queue_and_retry_policy(forwarder: dict[str, Any]) -> None:
    (target,) = forwarder["Resources"]["ForwardEcrEventsRule"]["Properties"]["Targets"]
    assert target["DeadLetterConfig"] == {
        "Arn": {"Fn::GetAtt": ["ForwarderDeadLetterQueue", "Arn"]}
    }
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
    policy = forwarder["Resources"]["ForwarderDeadLetterQueuePolicy"]["Properties"]
    (allow,) = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert allow["Condition"]["ArnEquals"]["aws:SourceArn"] == {
        "Fn::GetAtt": ["ForwardEcrEventsRule", "Arn"]
    }


def test_role_may_only_put_events_on_the_audit_bus(forwarder: dict[str, Any]) -> None:
    role = forwarder["Resources"]["ForwarderRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    (policy,) = role["Policies"]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement == {
        "Effect": "Allow",
        "Action": "events:PutEvents",
        "Resource": {"Fn::Sub": AUDIT_BUS},
    }


def test_no_statement_allows_every_action(forwarder: dict[str, Any]) -> None:
    found = list(statements(forwarder))
    assert len(found) == 4
    for statement in found:
        assert "*" not in as_list(statement["Action"])


def test_stackset_ready_no_fixed_names(forwarder: dict[str, Any]) -> None:
    # One stack per account and Region: a fixed IAM name would collide across Regions.
    for resource in forwarder["Resources"].values():
        props = resource["Properties"]
        assert not {"RoleName", "QueueName", "Name"} & set(props)
    assert set(forwarder["Parameters"]) == {"AuditAccountId", "AuditRegion", "AuditEventBusName"}
    assert "Transform" not in forwarder  # StackSets with macros need extra capabilities
