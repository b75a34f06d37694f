"""The two deployment paths define the same thing: `make package` (CloudFormation, after the SAM
transform) and `make package-terraform` of each stage, and infra/forwarder.json and the
member-account module. Resources one to one, event patterns, schedule, targets' retries and
dead-letter queue, IAM statements, table, keys, topics, alarms, dashboard, API gateway
responses, parameters and outputs. A resource added on one side only fails here until the other
side has it (or the difference is listed below with its reason)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.infra.parity import (
    Terraform,
    as_list,
    camel,
    cfn,
    cfn_statements,
    tf_statements,
)
from tests.infra.templates import ROOT, Packaged
from tests.infra.terraform import (
    MEMBER_MODULE,
    TerraformPackage,
    blocks,
    load_directory,
)

STAGES = ("dev", "prod")

# CloudFormation logical id (after the SAM transform) -> Terraform address.
APP_RESOURCES = {
    "AuditTable": "aws_dynamodb_table.audit",
    "AlertKey": "aws_kms_key.alerts",
    "AlertKeyAlias": "aws_kms_alias.alerts",
    "DashboardLinkKey": "aws_kms_key.dashboard_links",
    "DashboardLinkKeyAlias": "aws_kms_alias.dashboard_links",
    "CursorKeySecret": "aws_secretsmanager_secret.cursor_key",
    "AlertTopic": "aws_sns_topic.alerts",
    "OpsTopic": "aws_sns_topic.ops",
    "DeadLetterQueue": "aws_sqs_queue.dead_letter",
    "DeadLetterQueuePolicy": "aws_sqs_queue_policy.dead_letter",
    "OnImageAction": "aws_lambda_function.on_image_action",
    "OnReplicationAction": "aws_lambda_function.on_replication_action",
    "Sweep": "aws_lambda_function.sweep",
    "APIHandler": "aws_lambda_function.api_handler",
    "DashboardLink": "aws_lambda_function.dashboard_link",
    "GateToken": "aws_lambda_function.gate_token",
    "OnImageActionRole": "aws_iam_role.on_image_action_role",
    "OnReplicationActionRole": "aws_iam_role.on_replication_action_role",
    "SweepRole": "aws_iam_role.sweep_role",
    "ApiHandlerRole": "aws_iam_role.api_handler_role",
    "DashboardLinkRole": "aws_iam_role.dashboard_link_role",
    "GateTokenRole": "aws_iam_role.gate_token_role",
    "OnImageActionLogGroup": "aws_cloudwatch_log_group.on_image_action-log-group",
    "OnReplicationActionLogGroup": "aws_cloudwatch_log_group.on_replication_action-log-group",
    "SweepLogGroup": "aws_cloudwatch_log_group.sweep-log-group",
    "ApiHandlerLogGroup": "aws_cloudwatch_log_group.api_handler-log-group",
    "DashboardLinkLogGroup": "aws_cloudwatch_log_group.dashboard_link-log-group",
    "GateTokenLogGroup": "aws_cloudwatch_log_group.gate_token-log-group",
    "OnImageActionOnImageActionEvent": "aws_cloudwatch_event_rule.on_image_action-event",
    "OnReplicationActionOnReplicationActionEvent": (
        "aws_cloudwatch_event_rule.on_replication_action-event"
    ),
    "SweepSweepEvent": "aws_cloudwatch_event_rule.sweep-event",
    "OnImageActionOnImageActionEventPermission": "aws_lambda_permission.on_image_action-event",
    "OnReplicationActionOnReplicationActionEventPermission": (
        "aws_lambda_permission.on_replication_action-event"
    ),
    "SweepSweepEventPermission": "aws_lambda_permission.sweep-event",
    "APIHandlerInvokePermission": "aws_lambda_permission.rest_api_invoke",
    "DashboardLinkInvokePermission": "aws_lambda_permission.dashboard_link_invoke",
    "GateTokenInvokePermission": "aws_lambda_permission.gate_token_invoke",
    "RestAPI": "aws_api_gateway_rest_api.rest_api",
    "RestAPIDeployment": "aws_api_gateway_deployment.rest_api",  # + the SAM hash
    "RestAPIapiStage": "aws_api_gateway_stage.api",
    "DeadLetterQueueAlarm": "aws_cloudwatch_metric_alarm.dead_letter_queue",
    "FunctionErrorsAlarm": "aws_cloudwatch_metric_alarm.function_errors",
    "FunctionThrottlesAlarm": "aws_cloudwatch_metric_alarm.function_throttles",
    "SweepDeadManAlarm": "aws_cloudwatch_metric_alarm.sweep_dead_man",
    "OperationsDashboard": "aws_cloudwatch_dashboard.operations",
    # EventBridge keeps one resource policy per bus: one Terraform resource, both statements.
    "OrganizationBusPolicy": "aws_cloudwatch_event_bus_policy.forwarded_ecr_events",
    "AccountsBusPolicy": "aws_cloudwatch_event_bus_policy.forwarded_ecr_events",
}
# Terraform resources that CloudFormation writes inside another resource.
TERRAFORM_ONLY = {
    "aws_iam_role_policy": "CloudFormation: the role's Policies",
    "aws_cloudwatch_event_target": "CloudFormation: the rule's Targets",
    "aws_secretsmanager_secret_version": "CloudFormation: the secret's GenerateSecretString",
    "aws_api_gateway_gateway_response": "CloudFormation: the API body's gateway responses",
}
TYPES = {
    "AWS::DynamoDB::Table": "aws_dynamodb_table",
    "AWS::KMS::Key": "aws_kms_key",
    "AWS::KMS::Alias": "aws_kms_alias",
    "AWS::SecretsManager::Secret": "aws_secretsmanager_secret",
    "AWS::SNS::Topic": "aws_sns_topic",
    "AWS::SQS::Queue": "aws_sqs_queue",
    "AWS::SQS::QueuePolicy": "aws_sqs_queue_policy",
    "AWS::Lambda::Function": "aws_lambda_function",
    "AWS::IAM::Role": "aws_iam_role",
    "AWS::Logs::LogGroup": "aws_cloudwatch_log_group",
    "AWS::Events::Rule": "aws_cloudwatch_event_rule",
    "AWS::Lambda::Permission": "aws_lambda_permission",
    "AWS::ApiGateway::RestApi": "aws_api_gateway_rest_api",
    "AWS::ApiGateway::Deployment": "aws_api_gateway_deployment",
    "AWS::ApiGateway::Stage": "aws_api_gateway_stage",
    "AWS::CloudWatch::Alarm": "aws_cloudwatch_metric_alarm",
    "AWS::CloudWatch::Dashboard": "aws_cloudwatch_dashboard",
    "AWS::Events::EventBusPolicy": "aws_cloudwatch_event_bus_policy",
}


class Paths:
    """One stage's two packages and the vocabulary that compares them."""

    def __init__(self, cfn_package: Packaged, tf_package: TerraformPackage) -> None:
        self.cfn = cfn_package.cfn
        self.tf_config = tf_package.config
        self.types = {k: v["Type"] for k, v in self.cfn["Resources"].items()}
        self.logical = {_logical(k): k for k in self.cfn["Resources"]}
        resources = {self.logical[k]: v for k, v in APP_RESOURCES.items() if k in self.logical}
        self.terraform = Terraform(self.tf_config, resources, self.types)

    def cfn_properties(self, logical: str) -> dict[str, Any]:
        return dict(cfn(self.cfn["Resources"][self.logical[logical]]["Properties"], self.types))

    def tf_resource(self, logical: str) -> dict[str, Any]:
        type_, name = APP_RESOURCES[logical].split(".", 1)
        return dict(self.tf_config["resource"][type_][name])

    def tf(self, node: Any) -> Any:
        return self.terraform.value(node)

    def tf_document(self, value: str) -> list[dict[str, Any]]:
        match = re.fullmatch(r"\$\{data\.aws_iam_policy_document\.(\w+)\.json\}", value)
        assert match, value
        document = self.tf_config["data"]["aws_iam_policy_document"][match.group(1)]
        return tf_statements(document, self.terraform)


def _logical(logical_id: str) -> str:
    return "RestAPIDeployment" if logical_id.startswith("RestAPIDeployment") else logical_id


@pytest.fixture(scope="module", params=STAGES)
def paths(request: pytest.FixtureRequest, package_stage: Any, terraform_stage: Any) -> Paths:
    return Paths(package_stage(request.param), terraform_stage(request.param))


def test_every_resource_has_its_counterpart(paths: Paths) -> None:
    unmapped = sorted(set(paths.logical) - set(APP_RESOURCES))
    assert unmapped == [], "CloudFormation resources with no Terraform counterpart"
    for logical, address in APP_RESOURCES.items():
        cfn_type = paths.types[paths.logical[logical]]
        assert address.split(".")[0] == TYPES[cfn_type], logical
    declared = {
        f"{type_}.{name}" for type_, named in paths.tf_config["resource"].items() for name in named
    }
    extra = {
        a for a in declared - set(APP_RESOURCES.values()) if a.split(".")[0] not in TERRAFORM_ONLY
    }
    assert extra == set(), "Terraform resources with no CloudFormation counterpart"
    assert set(APP_RESOURCES.values()) <= declared


def test_event_patterns_schedule_and_rule_names(paths: Paths) -> None:
    for logical in (
        "OnImageActionOnImageActionEvent",
        "OnReplicationActionOnReplicationActionEvent",
        "SweepSweepEvent",
    ):
        mine, theirs = paths.cfn_properties(logical), paths.tf_resource(logical)
        assert mine["Name"] == paths.tf(theirs["name"])
        if "EventPattern" in mine:
            assert mine["EventPattern"] == json.loads(theirs["event_pattern"])
        else:
            assert mine["ScheduleExpression"] == paths.tf(theirs["schedule_expression"])
            assert mine["ScheduleExpression"] == "{SweepSchedule}"


def test_every_rule_target_has_the_same_retries_and_dead_letter_queue(paths: Paths) -> None:
    targets = paths.tf_config["resource"]["aws_cloudwatch_event_target"]
    for logical in (
        "OnImageActionOnImageActionEvent",
        "OnReplicationActionOnReplicationActionEvent",
        "SweepSweepEvent",
    ):
        (mine,) = paths.cfn_properties(logical)["Targets"]
        theirs = targets[APP_RESOURCES[logical].split(".")[1]]
        assert mine["Arn"] == paths.tf(theirs["arn"])
        assert paths.tf(theirs["rule"]) == "{" + paths.logical[logical] + "}"
        (dead_letter,) = blocks(theirs, "dead_letter_config")
        assert (
            mine["DeadLetterConfig"]["Arn"]
            == paths.tf(dead_letter["arn"])
            == ("{DeadLetterQueue.Arn}")
        )
        (retry,) = blocks(theirs, "retry_policy")
        assert mine["RetryPolicy"] == {
            "MaximumRetryAttempts": retry["maximum_retry_attempts"],
            "MaximumEventAgeInSeconds": retry["maximum_event_age_in_seconds"],
        }


FUNCTIONS = (
    "OnImageAction",
    "OnReplicationAction",
    "Sweep",
    "APIHandler",
    "DashboardLink",
    "GateToken",
)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_functions_alike(paths: Paths, function: str) -> None:
    mine, theirs = paths.cfn_properties(function), paths.tf_resource(function)
    assert mine["FunctionName"] == paths.tf(theirs["function_name"])
    assert (mine["Handler"], mine["Runtime"], mine["MemorySize"], mine["Timeout"]) == (
        theirs["handler"],
        theirs["runtime"],
        theirs["memory_size"],
        theirs["timeout"],
    )
    assert mine["Architectures"] == theirs["architectures"]
    assert mine["Role"] == paths.tf(theirs["role"])
    (environment,) = blocks(theirs, "environment")
    assert mine["Environment"]["Variables"] == paths.tf(environment["variables"])
    dead_letter = [paths.tf(b["target_arn"]) for b in blocks(theirs, "dead_letter_config")]
    assert dead_letter == (
        [mine["DeadLetterConfig"]["TargetArn"]] if "DeadLetterConfig" in mine else []
    )


def test_log_groups_alike(paths: Paths) -> None:
    for logical in [k for k in APP_RESOURCES if k.endswith("LogGroup")]:
        mine, theirs = paths.cfn_properties(logical), paths.tf_resource(logical)
        function = re.sub(r"\{(\w+)\}", r"\1", mine["LogGroupName"].split("/")[-1])
        name = paths.cfn_properties(function)["FunctionName"]
        assert paths.tf(theirs["name"]) == f"/aws/lambda/{name}"
        assert mine["RetentionInDays"] == theirs["retention_in_days"]


@pytest.mark.parametrize(
    "role",
    [
        "OnImageActionRole",
        "OnReplicationActionRole",
        "SweepRole",
        "ApiHandlerRole",
        "DashboardLinkRole",
        "GateTokenRole",
    ],
)
def test_function_roles_have_the_same_statements(paths: Paths, role: str) -> None:
    mine, theirs = paths.cfn_properties(role), paths.tf_resource(role)
    assert (
        json.loads(theirs["assume_role_policy"])["Statement"]
        == mine["AssumeRolePolicyDocument"]["Statement"]
    )
    (policy,) = mine["Policies"]
    raw = paths.cfn["Resources"][paths.logical[role]]["Properties"]["Policies"][0]
    expected = cfn_statements(raw["PolicyDocument"], paths.types)
    address = APP_RESOURCES[role].split(".")[1]
    document = paths.tf_config["resource"]["aws_iam_role_policy"][address]["policy"]
    assert paths.tf_document(document) == expected
    assert policy
    authorizer = role in ("DashboardLinkRole", "GateTokenRole")  # kms:VerifyMac and logs only
    assert {s["If"] for s in expected} == (
        {None} if authorizer else {None, "HasSlackSecret", "HasAuditRole"}
    )


def test_the_table_alike(paths: Paths) -> None:
    mine, theirs = paths.cfn_properties("AuditTable"), paths.tf_resource("AuditTable")
    assert mine["BillingMode"] == theirs["billing_mode"]
    keys = {k["KeyType"]: k["AttributeName"] for k in mine["KeySchema"]}
    assert keys == {"HASH": theirs["hash_key"], "RANGE": theirs["range_key"]}
    assert {(a["AttributeName"], a["AttributeType"]) for a in mine["AttributeDefinitions"]} == {
        (a["name"], a["type"]) for a in blocks(theirs, "attribute")
    }
    assert {
        (
            index["IndexName"],
            tuple((k["KeyType"], k["AttributeName"]) for k in index["KeySchema"]),
            index["Projection"]["ProjectionType"],
        )
        for index in mine["GlobalSecondaryIndexes"]
    } == {
        (g["name"], (("HASH", g["hash_key"]), ("RANGE", g["range_key"])), g["projection_type"])
        for g in blocks(theirs, "global_secondary_index")
    }
    (ttl,) = blocks(theirs, "ttl")
    assert mine["TimeToLiveSpecification"] == {
        "AttributeName": ttl["attribute_name"],
        "Enabled": ttl["enabled"],
    }
    (recovery,) = blocks(theirs, "point_in_time_recovery")
    assert (
        mine["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]
        is recovery["enabled"]
        is True
    )
    (encryption,) = blocks(theirs, "server_side_encryption")
    assert mine["SSESpecification"] == {"SSEEnabled": encryption["enabled"]}
    assert "kms_key_arn" not in encryption  # both: the AWS managed key
    assert mine["DeletionProtectionEnabled"] == {"Fn::If": ["IsProd", True, False]}
    assert paths.tf(theirs["deletion_protection_enabled"]) == '${local.stage == "prod"}'


def test_keys_secret_topics_and_queue_alike(paths: Paths) -> None:
    for key in ("AlertKey", "DashboardLinkKey"):
        mine, theirs = paths.cfn_properties(key), paths.tf_resource(key)
        raw = paths.cfn["Resources"][key]["Properties"]["KeyPolicy"]
        assert paths.tf_document(theirs["policy"]) == cfn_statements(raw, paths.types)
        assert mine["Description"] == paths.tf(theirs["description"])
        assert mine.get("EnableKeyRotation", False) == theirs.get("enable_key_rotation", False)
        assert mine.get("KeySpec", "SYMMETRIC_DEFAULT") == theirs.get(
            "customer_master_key_spec", "SYMMETRIC_DEFAULT"
        )
        assert mine.get("KeyUsage", "ENCRYPT_DECRYPT") == theirs.get("key_usage", "ENCRYPT_DECRYPT")
    # Known difference: CloudFormation retains the alert key when the stack goes; a Terraform
    # destroy schedules its deletion for 30 days (cancellable). Retain has no Terraform form.
    assert paths.cfn["Resources"]["AlertKey"]["DeletionPolicy"] == "Retain"
    assert paths.tf_resource("AlertKey")["deletion_window_in_days"] == 30
    for alias in ("AlertKeyAlias", "DashboardLinkKeyAlias"):
        mine, theirs = paths.cfn_properties(alias), paths.tf_resource(alias)
        assert mine["AliasName"] == paths.tf(theirs["name"])
        assert mine["TargetKeyId"] == paths.tf(theirs["target_key_id"])
    mine, theirs = paths.cfn_properties("CursorKeySecret"), paths.tf_resource("CursorKeySecret")
    assert mine["Description"] == paths.tf(theirs["description"])
    assert paths.tf(theirs["kms_key_id"]) in (mine["KmsKeyId"], "{AlertKey.Arn}")
    generated = paths.tf_config["data"]["aws_secretsmanager_random_password"]["cursor_key"]
    assert mine["GenerateSecretString"] == {
        "PasswordLength": generated["password_length"],
        "ExcludePunctuation": generated["exclude_punctuation"],
    }
    for topic in ("AlertTopic", "OpsTopic"):
        mine, theirs = paths.cfn_properties(topic), paths.tf_resource(topic)
        assert mine["DisplayName"] == theirs["display_name"]
        assert mine["KmsMasterKeyId"] == paths.tf(theirs["kms_master_key_id"])
    mine, theirs = paths.cfn_properties("DeadLetterQueue"), paths.tf_resource("DeadLetterQueue")
    assert mine == {
        "MessageRetentionPeriod": theirs["message_retention_seconds"],
        "SqsManagedSseEnabled": theirs["sqs_managed_sse_enabled"],
    }
    raw = paths.cfn["Resources"]["DeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]
    theirs = paths.tf_resource("DeadLetterQueuePolicy")
    assert paths.tf(theirs["queue_url"]) == "{DeadLetterQueue}"
    assert paths.tf_document(theirs["policy"]) == cfn_statements(raw, paths.types)


def test_bus_policies_alike(paths: Paths) -> None:
    theirs = paths.tf_resource("OrganizationBusPolicy")
    assert theirs["event_bus_name"] == "default"
    statements = paths.tf_document(theirs["policy"])
    expected = []
    for logical in ("OrganizationBusPolicy", "AccountsBusPolicy"):
        resource = paths.cfn["Resources"][logical]
        assert resource["Properties"]["EventBusName"] == "default"
        (statement,) = cfn_statements(
            {
                "Statement": {
                    "Fn::If": [
                        resource["Condition"],
                        resource["Properties"]["Statement"],
                        {"Ref": "AWS::NoValue"},
                    ]
                }
            },
            paths.types,
        )
        expected.append(statement)
    assert statements == sorted(expected, key=repr)
    # Present when either statement is: like each CloudFormation resource's condition.
    assert theirs["count"] == '${var.organization_id == "" && var.source_accounts == "" ? 0 : 1}'


def _alarm(properties: dict[str, Any]) -> dict[str, Any]:
    queries = []
    for query in properties.get("Metrics", []):
        entry = {k: query[k] for k in ("Id", "ReturnData", "Expression", "Label") if k in query}
        if "MetricStat" in query:
            stat = query["MetricStat"]
            entry |= {
                "Namespace": stat["Metric"]["Namespace"],
                "MetricName": stat["Metric"]["MetricName"],
                "Dimensions": {d["Name"]: d["Value"] for d in stat["Metric"]["Dimensions"]},
                "Period": stat["Period"],
                "Stat": stat["Stat"],
            }
        queries.append(entry)
    single: dict[str, Any] = {
        k: properties[k]
        for k in ("Namespace", "MetricName", "Statistic", "Period")
        if k in properties
    }
    if "Dimensions" in properties:
        single["Dimensions"] = {d["Name"]: d["Value"] for d in properties["Dimensions"]}
    return {
        "AlarmDescription": properties["AlarmDescription"],
        "ActionsEnabled": properties["ActionsEnabled"],
        "AlarmActions": properties["AlarmActions"],
        "OKActions": properties["OKActions"],
        "EvaluationPeriods": properties["EvaluationPeriods"],
        "DatapointsToAlarm": properties.get("DatapointsToAlarm"),
        "Threshold": properties["Threshold"],
        "ComparisonOperator": properties["ComparisonOperator"],
        "TreatMissingData": properties["TreatMissingData"],
        "Metric": single,
        "Metrics": queries,
    }


def _tf_alarm(paths: Paths, resource: dict[str, Any]) -> dict[str, Any]:
    queries = []
    for query in blocks(resource, "metric_query"):
        entry: dict[str, Any] = {"Id": query["id"], "ReturnData": query["return_data"]}
        if "expression" in query:
            entry["Expression"] = query["expression"]
        if "label" in query:
            entry["Label"] = query["label"]
        for metric in blocks(query, "metric"):
            entry |= {
                "Namespace": metric["namespace"],
                "MetricName": metric["metric_name"],
                "Dimensions": paths.tf(metric["dimensions"]),
                "Period": metric["period"],
                "Stat": metric["stat"],
            }
        queries.append(entry)
    single = {
        name: resource[key]
        for name, key in (
            ("Namespace", "namespace"),
            ("MetricName", "metric_name"),
            ("Statistic", "statistic"),
            ("Period", "period"),
        )
        if key in resource
    }
    if "dimensions" in resource:
        single["Dimensions"] = paths.tf(resource["dimensions"])
    return {
        "AlarmDescription": resource["alarm_description"],
        "ActionsEnabled": resource["actions_enabled"],
        "AlarmActions": paths.tf(resource["alarm_actions"]),
        "OKActions": paths.tf(resource["ok_actions"]),
        "EvaluationPeriods": resource["evaluation_periods"],
        "DatapointsToAlarm": resource.get("datapoints_to_alarm"),
        "Threshold": resource["threshold"],
        "ComparisonOperator": resource["comparison_operator"],
        "TreatMissingData": resource["treat_missing_data"],
        "Metric": single,
        "Metrics": queries,
    }


@pytest.mark.parametrize(
    "alarm",
    ["DeadLetterQueueAlarm", "FunctionErrorsAlarm", "FunctionThrottlesAlarm", "SweepDeadManAlarm"],
)
def test_alarms_alike(paths: Paths, alarm: str) -> None:
    assert _alarm(paths.cfn_properties(alarm)) == _tf_alarm(paths, paths.tf_resource(alarm))


def test_the_dashboard_alike(paths: Paths) -> None:
    mine = paths.cfn_properties("OperationsDashboard")
    theirs = paths.tf_resource("OperationsDashboard")
    assert mine["DashboardName"] == paths.tf(theirs["dashboard_name"])
    call = re.fullmatch(
        r'\$\{templatefile\("\$\{path\.module\}/(.+?)", \{(.*)\}\)\}',
        theirs["dashboard_body"],
        re.S,
    )
    assert call, theirs["dashboard_body"]
    variables = dict(re.findall(r"(\w+)\s*=\s*([\w.]+)", call.group(2)))
    template = (ROOT / "infra" / "terraform" / "app" / call.group(1)).read_text()
    body = re.sub(
        r"\$\{(\w+)\}", lambda m: str(paths.terraform.expression(variables[m.group(1)])), template
    )
    assert json.loads(body) == json.loads(mine["DashboardBody"])


def test_gateway_responses_alike(paths: Paths) -> None:
    body = paths.cfn["Resources"][paths.logical["RestAPI"]]["Properties"]["Body"]
    mine = body["x-amazon-apigateway-gateway-responses"]
    theirs = paths.tf_config["locals"]["gateway_responses"]
    resource = paths.tf_config["resource"]["aws_api_gateway_gateway_response"]["json"]
    assert resource["response_parameters"] == {
        "gatewayresponse.header.Content-Type": "'application/json'"
    }
    assert set(mine) == set(theirs)
    for kind, response in mine.items():
        assert response["responseParameters"] == resource["response_parameters"], kind
        assert response["responseTemplates"]["application/json"] == theirs[kind]["template"]
        assert response.get("statusCode") == theirs[kind]["status_code"], kind


def test_the_api_alike(paths: Paths) -> None:
    body = paths.cfn["Resources"][paths.logical["RestAPI"]]["Properties"]["Body"]
    swagger = json.loads(paths.tf_config["locals"]["chalice_api_swagger"])
    assert set(swagger["paths"]) == set(body["paths"])
    assert swagger["securityDefinitions"].keys() == body["securityDefinitions"].keys()
    assert (
        paths.cfn_properties("RestAPIapiStage")["StageName"]
        == paths.tf_resource("RestAPIapiStage")["stage_name"]
    )


def test_parameters_are_variables(paths: Paths) -> None:
    parameters = {k: v for k, v in paths.cfn["Parameters"].items() if k != "Stage"}
    variables = paths.tf_config["variable"]
    assert {camel(name) for name in variables} - {"Name"} == set(parameters)
    for name, variable in variables.items():
        if name == "name":
            continue
        parameter = parameters[camel(name)]
        default = variable["default"]
        assert str(default) == str(parameter["Default"]), name
        conditions = " ".join(v["condition"] for v in blocks(variable, "validation"))
        if "AllowedValues" in parameter:
            listed = re.search(r"contains\(\[(.*?)\]", conditions)
            assert listed, name
            assert re.findall(r'"([^"]*)"', listed.group(1)) == parameter["AllowedValues"]
        if "AllowedPattern" in parameter:
            pattern = re.search(r'regex\("((?:[^"\\]|\\.)*)"', conditions)
            assert pattern, name
            assert _hcl_literal(pattern.group(1)) == parameter["AllowedPattern"], name
        if "MinValue" in parameter:
            assert f">= {parameter['MinValue']}" in conditions


def _hcl_literal(text: str) -> str:
    """The value of an HCL string literal's contents (its `\\` and `\"` escapes undone)."""
    return re.sub(r"\\(.)", r"\1", text)


# Outputs built differently on each side, that name the same thing.
OUTPUTS_BY_CONSTRUCTION = {
    # CloudFormation spells out the stage URL; Terraform has the stage's invoke_url.
    "DashboardUrl": ("/api/view", "${aws_api_gateway_stage.api.invoke_url}/view"),
    "GateUrl": ("/api/gate", "${aws_api_gateway_stage.api.invoke_url}/gate"),
    "EndpointURL": ("/api/", "${aws_api_gateway_stage.api.invoke_url}/"),
}


def test_outputs_alike(paths: Paths) -> None:
    outputs = paths.tf_config["output"]
    for name, output in paths.cfn["Outputs"].items():
        assert name in outputs, name
        if name in OUTPUTS_BY_CONSTRUCTION:
            suffix, value = OUTPUTS_BY_CONSTRUCTION[name]
            assert cfn(output["Value"]).endswith(suffix) and outputs[name]["value"] == value
            continue
        assert cfn(output["Value"], paths.types) == paths.tf(outputs[name]["value"]), name


# ----------------------------------------------------------------------------- member accounts

FORWARDER_RESOURCES = {
    "ForwarderRole": "aws_iam_role.forwarder",
    "ForwarderDeadLetterQueue": "aws_sqs_queue.dead_letter",
    "ForwarderDeadLetterQueuePolicy": "aws_sqs_queue_policy.dead_letter",
    "ForwardEcrEventsRule": "aws_cloudwatch_event_rule.forward",
    "AuditRole": "aws_iam_role.audit",
}
FORWARDER_TERRAFORM_ONLY = {
    "aws_iam_role_policy.forwarder": "CloudFormation: ForwarderRole's Policies",
    "aws_iam_role_policy.audit": "CloudFormation: AuditRole's Policies",
    "aws_cloudwatch_event_target.forward": "CloudFormation: the rule's Targets",
}


@pytest.fixture(scope="module")
def member() -> tuple[dict[str, Any], Terraform]:
    config = load_directory(MEMBER_MODULE)
    forwarder = json.loads((ROOT / "infra" / "forwarder.json").read_text())
    types = {k: v["Type"] for k, v in forwarder["Resources"].items()}
    terraform = Terraform(config, FORWARDER_RESOURCES, types)
    return forwarder, terraform


def _module_value(value: Any) -> Any:
    """The module takes lists and one instance per Region: CloudFormation's `split(,,{X})` of a
    comma-separated parameter is the list variable, and `[each.key]` is that Region's resource."""
    if isinstance(value, list):
        return [_module_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _module_value(v) for k, v in value.items()}
    if isinstance(value, str):
        return re.sub(r"split\(,,(\{\w+\})\)", r"\1", value)
    return value


def test_member_module_has_every_forwarder_resource(member: tuple[dict, Terraform]) -> None:
    forwarder, terraform = member
    assert set(forwarder["Resources"]) == set(FORWARDER_RESOURCES)
    declared = {f"{t}.{n}" for t, named in terraform.config["resource"].items() for n in named}
    assert declared == set(FORWARDER_RESOURCES.values()) | set(FORWARDER_TERRAFORM_ONLY)


def test_member_module_forwards_the_same_events_the_same_way(
    member: tuple[dict, Terraform],
) -> None:
    forwarder, terraform = member
    rule = forwarder["Resources"]["ForwardEcrEventsRule"]["Properties"]
    resource = terraform.config["resource"]["aws_cloudwatch_event_rule"]["forward"]
    assert rule["EventPattern"] == terraform.value(terraform.config["locals"]["event_pattern"])
    assert resource["event_pattern"] == "${jsonencode(local.event_pattern)}"
    assert (rule["EventBusName"], rule["State"], rule["Description"]) == (
        resource["event_bus_name"],
        resource["state"],
        resource["description"],
    )
    (target,) = cfn(rule["Targets"])
    theirs = terraform.config["resource"]["aws_cloudwatch_event_target"]["forward"]
    assert target["Id"] == theirs["target_id"]
    assert target["Arn"] == terraform.value(theirs["arn"])
    assert target["RoleArn"] == terraform.value(theirs["role_arn"])
    (retry,) = blocks(theirs, "retry_policy")
    assert target["RetryPolicy"] == {
        "MaximumRetryAttempts": retry["maximum_retry_attempts"],
        "MaximumEventAgeInSeconds": retry["maximum_event_age_in_seconds"],
    }
    (dead_letter,) = blocks(theirs, "dead_letter_config")
    assert terraform.value(dead_letter["arn"]) == "${aws_sqs_queue.dead_letter[each.key].arn}"
    assert target["DeadLetterConfig"]["Arn"] == "{ForwarderDeadLetterQueue.Arn}"
    queue = forwarder["Resources"]["ForwarderDeadLetterQueue"]["Properties"]
    theirs = terraform.config["resource"]["aws_sqs_queue"]["dead_letter"]
    assert queue == {
        "MessageRetentionPeriod": theirs["message_retention_seconds"],
        "SqsManagedSseEnabled": theirs["sqs_managed_sse_enabled"],
    }


def _per_region(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    text = json.dumps(statements)
    for tf, logical in (
        (r"\$\{aws_sqs_queue.dead_letter\[each.key\].arn\}", "{ForwarderDeadLetterQueue.Arn}"),
        (r"\$\{aws_cloudwatch_event_rule.forward\[each.key\].arn\}", "{ForwardEcrEventsRule.Arn}"),
    ):
        text = re.sub(tf, logical, text)
    return list(json.loads(text))


def test_member_module_roles_and_policies_alike(member: tuple[dict, Terraform]) -> None:
    forwarder, terraform = member
    config, types = terraform.config, terraform.cfn_types
    documents = config["data"]["aws_iam_policy_document"]

    def statements(name: str) -> list[dict[str, Any]]:
        return _module_value(tf_statements(documents[name], terraform))

    def expected(document: dict[str, Any]) -> list[dict[str, Any]]:
        return _module_value(cfn_statements(document, types))

    resources = forwarder["Resources"]
    role = resources["ForwarderRole"]["Properties"]
    assert statements("forwarder_trust") == expected(role["AssumeRolePolicyDocument"])
    (policy,) = role["Policies"]
    assert statements("forwarder") == expected(policy["PolicyDocument"])
    assert config["resource"]["aws_iam_role_policy"]["forwarder"]["name"] == policy["PolicyName"]
    queue_policy = resources["ForwarderDeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]
    assert _per_region(statements("dead_letter")) == expected(queue_policy)
    audit = resources["AuditRole"]["Properties"]
    theirs = config["resource"]["aws_iam_role"]["audit"]
    assert statements("audit_trust") == expected(audit["AssumeRolePolicyDocument"])
    assert (audit["Description"], audit["MaxSessionDuration"]) == (
        theirs["description"],
        theirs["max_session_duration"],
    )
    assert cfn(audit["RoleName"]) == terraform.value(theirs["name"]) == "{AuditRoleName}"
    (policy,) = audit["Policies"]
    assert statements("audit") == expected(policy["PolicyDocument"])
    assert config["resource"]["aws_iam_role_policy"]["audit"]["name"] == policy["PolicyName"]
    # Created on the same condition: a role name and principals that may assume it.
    assert resources["AuditRole"]["Condition"] == "CreateAuditRole"
    assert config["locals"]["create_audit_role"] == (
        '${var.audit_role_name != "" && length(var.audit_principal_arns) > 0}'
    )


def test_member_module_variables_are_the_forwarder_parameters(
    member: tuple[dict, Terraform],
) -> None:
    forwarder, terraform = member
    variables = terraform.config["variable"]
    # One module instance covers an account's Regions: `regions` replaces the StackSet's Region
    # list and AuditRoleRegion (IAM is global, so the module makes the role once).
    assert {camel(name) for name in variables} - {"Regions"} == set(forwarder["Parameters"]) - {
        "AuditRoleRegion"
    }
    for name, variable in variables.items():
        parameter = forwarder["Parameters"].get(camel(name))
        if parameter is None:
            continue
        if "Default" in parameter:
            default = variable["default"]
            assert (default if not isinstance(default, list) else ",".join(default)) == parameter[
                "Default"
            ]
        if "AllowedPattern" in parameter:
            conditions = " ".join(v["condition"] for v in blocks(variable, "validation"))
            pattern = re.search(r'regex\("((?:[^"\\]|\\.)*)"', conditions)
            assert pattern, name
            mine = _hcl_literal(pattern.group(1))
            theirs = parameter["AllowedPattern"]
            # The list variable checks one element; the parameter a comma-separated list.
            assert mine == theirs or mine.strip("^$") in theirs, name
    for region_list in as_list(variables["regions"]["type"]):
        assert region_list == "${list(string)}"
