"""Deploy the templates into moto's CloudFormation to prove they create what they claim.

moto implements a subset of CloudFormation resource types; the app stack is deployed with the
types it knows (table, topics, key, queue, roles, functions, rules, log groups) and the rest
(alarms, queue and bus policies, API Gateway) is checked on the template only
(test_packaged_template.py). Properties moto accepts but ignores (TTL, point-in-time recovery,
deletion protection, the Lambda DLQ, a KMS key's KeySpec) are also checked there.
"""

from __future__ import annotations

import ast
import json
import time
import urllib.parse
from typing import Any

import pytest

from tests.infra.templates import FORWARDER_TEMPLATE, Packaged, sample_event, subset

MOTO_TYPES = {
    "AWS::DynamoDB::Table",
    "AWS::SNS::Topic",
    "AWS::SQS::Queue",
    "AWS::KMS::Key",
    "AWS::KMS::Alias",
    "AWS::IAM::Role",
    "AWS::Lambda::Function",
    "AWS::Lambda::Permission",
    "AWS::Events::Rule",
    "AWS::Logs::LogGroup",
}
AUDIT_ACCOUNT = "123456789012"  # moto's default account
MEMBER_ACCOUNT = "111111111111"
# moto cannot hand events to Lambda targets (it raises on the app stack's rules), so the forwarder
# here targets a Region of the audit account without the app stack, where capture queues stand in
# for the app's rules, with the app's own patterns.
FORWARD_REGION = "us-west-2"
STACK = "ecr-replication-auditor-dev"
CURSOR_KEY_STAND_IN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:cursor-key-AbCdEf"


@pytest.fixture(scope="module")
def audit(moto_env: str) -> Any:
    import boto3

    return boto3.session.Session(region_name="us-east-1")


@pytest.fixture(scope="module")
def app_stack(audit: Any, package_stage: Any) -> dict[str, Any]:
    packaged: Packaged = package_stage("dev")
    # moto's CloudFormation has no AWS::SecretsManager::Secret: the functions get a stand-in ARN
    template, left_out = subset(packaged.cfn, MOTO_TYPES, {"CursorKeySecret": CURSOR_KEY_STAND_IN})
    assert left_out == {
        "CursorKeySecret",
        "RestAPI",
        "RestAPIapiStage",
        "APIHandlerInvokePermission",
        "DashboardLinkInvokePermission",
        "GateTokenInvokePermission",
        "DeadLetterQueuePolicy",
        "OrganizationBusPolicy",
        "AccountsBusPolicy",
        "DeadLetterQueueAlarm",
        "FunctionErrorsAlarm",
        "FunctionThrottlesAlarm",
        "SweepDeadManAlarm",
        "OperationsDashboard",
    } | {k for k in packaged.cfn["Resources"] if k.startswith("RestAPIDeployment")}
    s3 = audit.client("s3")
    s3.create_bucket(Bucket="artifacts")
    s3.upload_file(str(packaged.directory / "deployment.zip"), "artifacts", "deployment.zip")
    cfn = audit.client("cloudformation")
    cfn.create_stack(
        StackName=STACK,
        TemplateBody=json.dumps(template),
        Capabilities=["CAPABILITY_IAM"],
        Parameters=[{"ParameterKey": "Stage", "ParameterValue": "dev"}],
    )
    stack = cfn.describe_stacks(StackName=STACK)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    summaries = cfn.list_stack_resources(StackName=STACK)["StackResourceSummaries"]
    return {s["LogicalResourceId"]: s["PhysicalResourceId"] for s in summaries}


def test_every_deployable_resource_is_created(app_stack: dict[str, Any]) -> None:
    for logical_id in (
        "AuditTable",
        "AlertTopic",
        "OpsTopic",
        "AlertKey",
        "DeadLetterQueue",
        "OnImageAction",
        "OnReplicationAction",
        "Sweep",
        "APIHandler",
        "DashboardLink",
        "DashboardLinkKey",
    ):
        assert app_stack[logical_id], logical_id


def test_table_has_the_keys_and_indexes_the_ledger_queries(audit: Any, app_stack: dict) -> None:
    table = audit.client("dynamodb").describe_table(TableName=app_stack["AuditTable"])["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert [k["AttributeName"] for k in table["KeySchema"]] == ["pk", "sk"]
    assert {g["IndexName"] for g in table["GlobalSecondaryIndexes"]} == {"work", "catalog"}


def test_topics_are_encrypted(audit: Any, app_stack: dict) -> None:
    sns = audit.client("sns")
    for logical_id in ("AlertTopic", "OpsTopic"):
        attributes = sns.get_topic_attributes(TopicArn=app_stack[logical_id])["Attributes"]
        assert attributes["KmsMasterKeyId"] == app_stack["AlertKey"]


def test_functions_receive_the_created_resources(audit: Any, app_stack: dict) -> None:
    lam = audit.client("lambda")
    for logical_id in ("OnImageAction", "OnReplicationAction", "Sweep", "APIHandler"):
        config = lam.get_function_configuration(FunctionName=app_stack[logical_id])
        variables = config["Environment"]["Variables"]
        assert variables["AUDIT_TABLE"] == app_stack["AuditTable"]
        assert variables["ALERT_TOPIC_ARN"] == app_stack["AlertTopic"]
        assert variables["CURSOR_KEY_SECRET_ARN"] == CURSOR_KEY_STAND_IN
        assert config["FunctionName"].startswith(f"{STACK}-")


def test_rules_deliver_to_their_function_with_dead_letter_queue_and_retries(
    audit: Any, app_stack: dict
) -> None:
    events = audit.client("events")
    queue_arn = audit.client("sqs").get_queue_attributes(
        QueueUrl=app_stack["DeadLetterQueue"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    rules = {r["Name"]: r for r in events.list_rules(NamePrefix=STACK)["Rules"]}
    assert set(rules) == {f"{STACK}-image-action", f"{STACK}-replication-action", f"{STACK}-sweep"}
    for name in rules:
        (target,) = events.list_targets_by_rule(Rule=name)["Targets"]
        assert target["DeadLetterConfig"] == {"Arn": queue_arn}
        assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
        assert target["Arn"].split(":function:")[1].startswith(f"{STACK}-")


def member_session(audit: Any, region: str) -> Any:
    """A session in another account, as a StackSet execution role would have."""
    import boto3

    credentials = audit.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{MEMBER_ACCOUNT}:role/AWSCloudFormationStackSetExecutionRole",
        RoleSessionName="infra-test",
    )["Credentials"]
    return boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
    )


@pytest.fixture(scope="module")
def member(audit: Any) -> Any:
    session = member_session(audit, "eu-west-1")
    assert session.client("sts").get_caller_identity()["Account"] == MEMBER_ACCOUNT
    cfn = session.client("cloudformation")
    cfn.create_stack(
        StackName="ecr-replication-auditor-forwarder",
        TemplateBody=FORWARDER_TEMPLATE.read_text(),
        Capabilities=["CAPABILITY_IAM"],
        Parameters=[
            {"ParameterKey": "AuditAccountId", "ParameterValue": AUDIT_ACCOUNT},
            {"ParameterKey": "AuditRegion", "ParameterValue": FORWARD_REGION},
        ],
    )
    stack = cfn.describe_stacks(StackName="ecr-replication-auditor-forwarder")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    return session


def test_forwarder_creates_rule_role_and_dead_letter_queue(member: Any) -> None:
    events = member.client("events")
    (rule,) = events.list_rules()["Rules"]
    assert json.loads(rule["EventPattern"]) == {
        "source": ["aws.ecr"],
        "detail-type": ["ECR Image Action", "ECR Replication Action"],
    }
    (target,) = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert target["Arn"] == f"arn:aws:events:{FORWARD_REGION}:{AUDIT_ACCOUNT}:event-bus/default"
    assert target["RoleArn"].startswith(f"arn:aws:iam::{MEMBER_ACCOUNT}:role/")
    assert target["DeadLetterConfig"]["Arn"].startswith(f"arn:aws:sqs:eu-west-1:{MEMBER_ACCOUNT}:")
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
    role_name = target["RoleArn"].rsplit("/", 1)[1]
    iam = member.client("iam")
    (policy_name,) = iam.list_role_policies(RoleName=role_name)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]
    if isinstance(document, str):  # moto keeps the template's dict as its Python repr
        document = ast.literal_eval(urllib.parse.unquote(document))
    assert document["Statement"][0]["Action"] == "events:PutEvents"


def capture_queue(audit: Any, name: str, pattern: Any) -> str:
    sqs = audit.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events = audit.client("events")
    events.put_rule(Name=name, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=name, Targets=[{"Id": "capture", "Arn": arn}])
    return str(url)


def drain(audit: Any, url: str) -> list[dict[str, Any]]:
    sqs = audit.client("sqs")
    bodies: list[dict[str, Any]] = []
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages and bodies:
            break
        bodies += [json.loads(m["Body"]) for m in messages]
    return bodies


def test_member_events_reach_the_audit_rules(audit: Any, member: Any, package_stage: Any) -> None:
    """ECR events put on a member account's default bus arrive where the app's rules match them."""
    import boto3

    packaged: Packaged = package_stage("dev")
    patterns = {
        rule["Properties"]["Targets"][0]["Arn"]["Fn::GetAtt"][0]: rule["Properties"]["EventPattern"]
        for rule in packaged.resources("AWS::Events::Rule").values()
        if "EventPattern" in rule["Properties"]
    }
    home = boto3.session.Session(region_name=FORWARD_REGION)
    image_queue = capture_queue(home, "image-actions", patterns["OnImageAction"])
    replication_queue = capture_queue(home, "replication-actions", patterns["OnReplicationAction"])
    member_events = member.client("events")
    sent = [
        "ecr-image-action-push",
        "ecr-image-action-delete",
        "ecr-replication-action-success",
        "ecr-replication-action-failed",
    ]
    entries = [
        {"Source": e["source"], "DetailType": e["detail-type"], "Detail": json.dumps(e["detail"])}
        for e in map(sample_event, sent)
    ]
    entries.append({"Source": "aws.ecr", "DetailType": "ECR Image Scan", "Detail": "{}"})
    assert member_events.put_events(Entries=entries)["FailedEntryCount"] == 0

    images = drain(home, image_queue)
    replications = drain(home, replication_queue)
    assert sorted(e["detail"]["action-type"] for e in images) == ["DELETE", "PUSH"]
    assert sorted(e["detail"]["result"] for e in replications) == ["FAILED", "SUCCESS"]
    assert all(e["source"] == "aws.ecr" for e in images + replications)


def test_the_authorizer_knows_the_dashboard_link_key(audit: Any, app_stack: dict) -> None:
    # moto creates every CloudFormation KMS key as a symmetric encryption key (it ignores
    # KeySpec and KeyUsage): the HMAC properties are checked on the template instead.
    config = audit.client("lambda").get_function_configuration(
        FunctionName=app_stack["DashboardLink"]
    )
    assert config["FunctionName"] == f"{STACK}-dashboard-link"
    variables = config["Environment"]["Variables"]
    key_id = app_stack["DashboardLinkKey"]  # the stack's output is the key's id (its Ref)
    assert variables["DASHBOARD_LINK_KEY_ARN"].endswith(f":key/{key_id}")
