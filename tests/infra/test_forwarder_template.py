"""The member-account forwarder template: lint, least privilege, delivery, StackSet-ready."""

from __future__ import annotations

import json
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
    assert len(found) == 9
    for statement in found:
        assert "*" not in as_list(statement["Action"])
        if statement["Effect"] == "Allow":
            assert not any(a.endswith(":*") for a in as_list(statement["Action"]))


def test_stackset_ready_no_fixed_names(forwarder: dict[str, Any]) -> None:
    # One stack per account and Region: a fixed IAM name would collide across Regions.
    for logical_id, resource in forwarder["Resources"].items():
        props = resource["Properties"]
        if logical_id == "AuditRole":
            continue  # its name is the point; one Region only creates it (below)
        assert not {"RoleName", "QueueName", "Name"} & set(props)
    assert set(forwarder["Parameters"]) == {
        "AuditAccountId",
        "AuditRegion",
        "AuditEventBusName",
        "AuditRoleName",
        "AuditPrincipalArns",
        "AuditRoleRegion",
    }
    assert "Transform" not in forwarder  # StackSets with macros need extra capabilities


def test_audit_role_is_optional_and_made_in_one_region_only(forwarder: dict[str, Any]) -> None:
    role = forwarder["Resources"]["AuditRole"]
    assert role["Condition"] == "CreateAuditRole"
    conditions = forwarder["Conditions"]
    assert conditions["CreateAuditRole"] == {
        "Fn::And": [{"Condition": "HasAuditRole"}, {"Condition": "InAuditRoleRegion"}]
    }
    region_test = json.dumps(conditions["InAuditRoleRegion"])
    assert '{"Ref": "AWS::Region"}' in region_test and '{"Ref": "AuditRoleRegion"}' in region_test
    assert role["Properties"]["RoleName"] == {"Ref": "AuditRoleName"}
    assert forwarder["Parameters"]["AuditRoleName"]["Default"] == ""  # events only by default


def test_audit_role_trusts_only_the_audit_accounts_listed_principals(
    forwarder: dict[str, Any],
) -> None:
    props = forwarder["Resources"]["AuditRole"]["Properties"]
    (trust,) = props["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Effect"] == "Allow" and trust["Action"] == "sts:AssumeRole"
    assert trust["Principal"] == {
        "AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AuditAccountId}:root"}
    }
    assert trust["Condition"] == {
        "StringEquals": {"aws:PrincipalAccount": {"Ref": "AuditAccountId"}},
        "ArnLike": {"aws:PrincipalArn": {"Fn::Split": [",", {"Ref": "AuditPrincipalArns"}]}},
    }
    assert props["MaxSessionDuration"] == 3600


def test_audit_role_may_only_read_what_the_code_asks_ecr() -> None:
    from tests.infra.test_packaged_template import ECR_READ_CALLS, code_calls

    template = json.loads(FORWARDER_TEMPLATE.read_text())
    policies = template["Resources"]["AuditRole"]["Properties"]["Policies"]
    (policy,) = [p for p in policies if p["PolicyName"] == "ReadEcrRegistries"]
    allowed = [
        a
        for s in statements(policy)
        if s["Effect"] == "Allow"
        for a in as_list(s["Action"])
        if a.startswith("ecr:")  # the workloads' reads: below
    ]
    asked = {call for call in code_calls() if call[0] == "ecr"}
    assert asked == set(ECR_READ_CALLS), "map every ECR call the code makes in ECR_READ_CALLS"
    assert sorted(allowed) == sorted(ECR_READ_CALLS.values())
    assert all(a.startswith(("ecr:Describe", "ecr:List", "ecr:Get")) for a in allowed)
    by_sid = {s["Sid"]: s for s in statements(policy)}
    assert by_sid["ReadImagesAndReplicationStatus"]["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:ecr:*:${AWS::AccountId}:repository/*"
    }
    # Registry-level reads have no resource-level permissions in IAM.
    assert sorted(by_sid["ReadRegistrySettings"]["Action"]) == [
        "ecr:DescribeRegistry",
        "ecr:GetRegistryPolicy",
    ]


# What workload discovery calls (adapters/ecs_services.py, adapters/lambda_functions.py), some
# through paginators, and the IAM action of each.
WORKLOAD_READ_CALLS = {
    ("ecs", "list_clusters"): "ecs:ListClusters",
    ("ecs", "list_services"): "ecs:ListServices",
    ("ecs", "describe_services"): "ecs:DescribeServices",
    ("ecs", "describe_service_revisions"): "ecs:DescribeServiceRevisions",
    ("ecs", "describe_task_definition"): "ecs:DescribeTaskDefinition",
    ("ecs", "list_tasks"): "ecs:ListTasks",
    ("ecs", "describe_tasks"): "ecs:DescribeTasks",
    ("lambda", "list_functions"): "lambda:ListFunctions",
    ("lambda", "get_function"): "lambda:GetFunction",
}


def workload_calls() -> set[tuple[str, str]]:
    """(service, operation) of every call the workload readers make, direct or paginated."""
    import re

    from tests.infra.templates import ROOT

    found = set()
    for service, module in (("ecs", "ecs_services"), ("lambda", "lambda_functions")):
        source = (ROOT / "chalicelib" / "adapters" / f"{module}.py").read_text()
        found |= {(service, op) for op in re.findall(r"client\.(\w+)\(", source)}
        found |= {(service, op) for op in re.findall(r"\b_?listed\(\s*client,\s*\"(\w+)\"", source)}
        found |= {(service, op) for op in re.findall(r"get_paginator\(\"(\w+)\"\)", source)}
    return {call for call in found if call[1] != "get_paginator"}


def test_audit_role_may_read_exactly_what_workload_discovery_asks() -> None:
    template = json.loads(FORWARDER_TEMPLATE.read_text())
    policies = template["Resources"]["AuditRole"]["Properties"]["Policies"]
    (policy,) = [p for p in policies if p["PolicyName"] == "ReadEcrRegistries"]
    allowed = sorted(
        a
        for s in statements(policy)
        if s["Sid"] in ("DescribeWhatRuns", "ListWhatRuns")
        for a in as_list(s["Action"])
    )
    every = {a for s in statements(policy) for a in as_list(s["Action"])}
    assert {a for a in every if not a.startswith("ecr:")} == set(allowed)
    assert workload_calls() == set(WORKLOAD_READ_CALLS), "map every call in WORKLOAD_READ_CALLS"
    assert allowed == sorted(WORKLOAD_READ_CALLS.values())
    assert all(a.split(":")[1].startswith(("Describe", "List", "Get")) for a in allowed)
    by_sid = {s["Sid"]: s for s in statements(policy)}
    # what has resource-level permissions is scoped to this account's resources
    assert by_sid["DescribeWhatRuns"]["Resource"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:ecs:*:${AWS::AccountId}:service/*"},
        {"Fn::Sub": "arn:${AWS::Partition}:ecs:*:${AWS::AccountId}:service-revision/*"},
        {"Fn::Sub": "arn:${AWS::Partition}:ecs:*:${AWS::AccountId}:task/*"},
        {"Fn::Sub": "arn:${AWS::Partition}:lambda:*:${AWS::AccountId}:function:*"},
    ]
