"""Assertions on the template `make package` builds, per stage, after the SAM transform."""

from __future__ import annotations

import ast
import functools
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.infra.templates import ROOT, Packaged, as_list, cfn_lint, statements

EVENT_FUNCTIONS = ("OnImageAction", "OnReplicationAction", "Sweep")
FUNCTIONS = (*EVENT_FUNCTIONS, "APIHandler")


def test_cfn_lint_passes(packaged: Packaged) -> None:
    assert cfn_lint(packaged.directory / "sam.json") == []


def test_every_function_runs_on_python_3_13(packaged: Packaged) -> None:
    """Chalice names the runtime after the Python that packaged it (`make venv`: python3.13);
    python3.11 runs on Amazon Linux 2, which reached its end of life in June 2026."""
    functions = packaged.resources("AWS::Lambda::Function")
    assert len(functions) >= 5
    assert {f["Properties"]["Runtime"] for f in functions.values()} == {"python3.13"}


def settings_variables() -> set[str]:
    """Every variable the settings object reads (`env.get("NAME", …)` in chalicelib/settings.py)."""
    tree = ast.parse((ROOT / "chalicelib" / "settings.py").read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "env"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names.add(str(node.args[0].value))
    return names


def test_settings_reader_is_where_we_think() -> None:
    assert {"AUDIT_TABLE", "ALERT_TOPIC_ARN", "REPLICATION_CONFIG"} <= settings_variables()


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function_gets_every_variable_it_reads(packaged: Packaged, function: str) -> None:
    variables = packaged.cfn["Resources"][function]["Properties"]["Environment"]["Variables"]
    wanted = settings_variables() | {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"}
    assert wanted <= set(variables), wanted - set(variables)
    # Wired from the stack's own resources, not typed in by hand.
    assert variables["AUDIT_TABLE"] == {"Ref": "AuditTable"}
    assert variables["ALERT_TOPIC_ARN"] == {"Ref": "AlertTopic"}
    assert variables["SLACK_WEBHOOK_SECRET_ARN"] == {"Ref": "SlackWebhookSecretArn"}
    assert variables["POWERTOOLS_SERVICE_NAME"] == "ecr-replication-auditor"
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "EcrReplicationAuditor"
    assert variables["DASHBOARD_LINK_KEY_ARN"] == {"Fn::GetAtt": ["DashboardLinkKey", "Arn"]}
    for value in variables.values():  # Lambda takes strings only
        assert isinstance(value, str) or set(value) in ({"Ref"}, {"Fn::GetAtt"})


def test_every_route_is_iam_authorised_except_the_dashboard_link_view(packaged: Packaged) -> None:
    from app import app
    from chalicelib.entrypoints import browser

    body = packaged.cfn["Resources"]["RestAPI"]["Properties"]["Body"]
    schemes = {
        name
        for name, scheme in body["securityDefinitions"].items()
        if scheme.get("x-amazon-apigateway-authtype") == "awsSigv4"
    }
    assert schemes
    assert set(body["paths"]) == set(app.routes)
    view_data = {browser.PREFIX + path for path in browser.DATA_ROUTES}
    for path, methods in body["paths"].items():
        for method, operation in methods.items():
            if method == "options":  # CORS pre-flight, if ever enabled, carries no data
                continue
            security = operation.get("security", [])
            if path == browser.PREFIX:  # the static page, the same HTML as the source: no data
                assert (method, security) == ("get", []), (path, method)
            elif path in view_data:  # read-only data for a browser holding a dashboard link
                assert (method, security) == ("get", [{"dashboard_link": []}]), (path, method)
            elif path == "/gate":  # the deploy gate for a CI system holding a gate token
                assert (method, security) == ("get", [{"gate_token": []}]), (path, method)
            else:
                assert security and all(set(s) <= schemes for s in security), (path, method)


@pytest.mark.parametrize(
    "scheme_name,function", [("dashboard_link", "DashboardLink"), ("gate_token", "GateToken")]
)
def test_tokens_are_checked_by_token_authorizers_with_a_short_cache(
    packaged: Packaged, scheme_name: str, function: str
) -> None:
    from chalicelib.entrypoints import browser, gate

    body = packaged.cfn["Resources"]["RestAPI"]["Properties"]["Body"]
    scheme = body["securityDefinitions"][scheme_name]
    assert scheme["x-amazon-apigateway-authtype"] == "custom"
    authorizer = scheme["x-amazon-apigateway-authorizer"]
    assert authorizer["type"] == "token" and scheme["name"] == "Authorization"
    cache = (
        browser.AUTHORIZER_CACHE_SECONDS
        if function == "DashboardLink"
        else gate.AUTHORIZER_CACHE_SECONDS
    )
    assert authorizer["authorizerResultTtlInSeconds"] == cache <= 300
    assert f"${{{function}.Arn}}" in authorizer["authorizerUri"]["Fn::Sub"]


def test_dashboard_link_key_is_an_hmac_key_only_iam_principals_of_the_account_use(
    packaged: Packaged,
) -> None:
    key = packaged.cfn["Resources"]["DashboardLinkKey"]["Properties"]
    assert (key["KeySpec"], key["KeyUsage"]) == ("HMAC_256", "GENERATE_VERIFY_MAC")
    (statement,) = key["KeyPolicy"]["Statement"]
    # the key policy delegates to IAM: minting a link needs kms:GenerateMac granted by IAM
    assert statement["Principal"] == {
        "AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
    }
    outputs = packaged.cfn["Outputs"]
    assert outputs["DashboardLinkKeyArn"]["Value"] == {"Fn::GetAtt": ["DashboardLinkKey", "Arn"]}
    assert "EndpointURL" in outputs, "ecr-audit dashboard-link --stack reads it"


@pytest.mark.parametrize(
    "role,policy,sid",
    [
        ("DashboardLinkRole", "policy-dashboard-link.json", "VerifyDashboardLinks"),
        ("GateTokenRole", "policy-gate-token.json", "VerifyGateTokens"),
    ],
)
def test_the_authorizers_may_only_verify_tokens_and_write_their_logs(
    packaged: Packaged, role: str, policy: str, sid: str
) -> None:
    properties = packaged.cfn["Resources"][role]["Properties"]
    expected = json.loads((ROOT / ".chalice" / policy).read_text())
    assert [p["PolicyDocument"] for p in properties["Policies"]] == [expected]
    assert allowed_actions(expected) == {
        "kms:VerifyMac",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }
    by_sid = {s["Sid"]: s for s in statements(expected)}
    assert by_sid[sid]["Resource"] == {"Fn::GetAtt": ["DashboardLinkKey", "Arn"]}
    # what the authorizer's code calls is exactly that
    assert code_calls(authorizer=True) == {("kms", "verify_mac"), ("kms", "generate_mac")}


def test_every_rule_target_has_a_dead_letter_queue_and_retry_policy(packaged: Packaged) -> None:
    rules = packaged.resources("AWS::Events::Rule")
    assert len(rules) == 3
    for logical_id, rule in rules.items():
        for target in rule["Properties"]["Targets"]:
            assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}}
            policy = target["RetryPolicy"]
            assert 0 <= policy["MaximumRetryAttempts"] <= 185, logical_id
            assert 60 <= policy["MaximumEventAgeInSeconds"] <= 86400, logical_id


def test_ecr_events_are_retried_for_the_full_day(packaged: Packaged) -> None:
    # ECR sends each event once, best effort: losing one is only caught by the next sweep.
    for rule in packaged.resources("AWS::Events::Rule").values():
        if "EventPattern" in rule["Properties"]:
            (target,) = rule["Properties"]["Targets"]
            assert target["RetryPolicy"] == {
                "MaximumRetryAttempts": 185,
                "MaximumEventAgeInSeconds": 86400,
            }


def test_dead_letter_queue_accepts_exactly_this_stacks_rules(packaged: Packaged) -> None:
    rules = packaged.resources("AWS::Events::Rule")
    names = sorted(r["Properties"]["Name"]["Fn::Sub"] for r in rules.values())
    (policy,) = packaged.resources("AWS::SQS::QueuePolicy").values()
    allow = [
        s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"
    ]
    (statement,) = allow
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    arns = sorted(a["Fn::Sub"] for a in statement["Condition"]["ArnEquals"]["aws:SourceArn"])
    prefix = "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/"
    assert arns == [prefix + name for name in names]


@pytest.mark.parametrize("function", EVENT_FUNCTIONS)
def test_failed_invocations_are_dead_lettered_too(packaged: Packaged, function: str) -> None:
    # The rule's DLQ only catches events EventBridge could not hand to Lambda; errors raised
    # by the handler after Lambda's own retries land here.
    props = packaged.cfn["Resources"][function]["Properties"]
    assert props["DeadLetterConfig"] == {"TargetArn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}}


def test_no_policy_statement_allows_every_action(packaged: Packaged) -> None:
    found = list(statements(packaged.cfn))
    assert len(found) > 10
    for statement in found:
        for key in ("Action", "NotAction"):
            assert "*" not in as_list(statement.get(key, [])), statement


def role_policies(packaged: Packaged) -> list[dict[str, Any]]:
    roles = packaged.resources("AWS::IAM::Role")
    assert {r["Properties"]["Policies"][0]["PolicyName"] for r in roles.values()}
    return [p["PolicyDocument"] for r in roles.values() for p in r["Properties"]["Policies"]]


def test_function_roles_use_the_stage_policy_file_and_nothing_else(packaged: Packaged) -> None:
    expected = json.loads((ROOT / ".chalice" / f"policy-{packaged.stage}.json").read_text())
    roles = packaged.resources("AWS::IAM::Role")
    assert len(roles) == len(FUNCTIONS) + 2
    roles.pop("DashboardLinkRole")  # their own policies: test_the_authorizers_may_only_verify…
    roles.pop("GateTokenRole")
    for role in roles.values():
        assert "ManagedPolicyArns" not in role["Properties"]
        assert [p["PolicyDocument"] for p in role["Properties"]["Policies"]] == [expected]


def test_function_roles_name_their_resources(packaged: Packaged) -> None:
    for document in role_policies(packaged):
        for statement in statements(document):
            for resource in as_list(statement["Resource"]):
                assert resource != "*", statement
                assert isinstance(resource, dict), f"hard-coded resource {resource}"


# What a call in chalicelib needs from IAM. A call not listed here fails the test below, so a new
# AWS call cannot ship without its permission.
CALL_PERMISSIONS = {
    ("dynamodb", "get_item"): {"dynamodb:GetItem"},
    ("dynamodb", "batch_get_item"): {"dynamodb:BatchGetItem"},
    ("dynamodb", "put_item"): {"dynamodb:PutItem"},
    ("dynamodb", "update_item"): {"dynamodb:UpdateItem"},
    ("dynamodb", "delete_item"): {"dynamodb:DeleteItem"},
    ("dynamodb", "query"): {"dynamodb:Query"},
    ("dynamodb", "transact_write_items"): set(),  # checked per item kind, below
    ("sns", "publish"): {"sns:Publish"},
    ("secretsmanager", "get_secret_value"): {"secretsmanager:GetSecretValue"},
    ("sts", "assume_role"): {"sts:AssumeRole"},  # the audit role in each monitored account
}
# ECR is asked through the audit role, so these are granted by the member-account template's
# AuditRole (infra/forwarder.json), not by the stage policy; tests/infra/test_forwarder_template.py
# checks that role allows exactly these.
ECR_READ_CALLS = {
    ("ecr", "describe_images"): "ecr:DescribeImages",
    ("ecr", "list_images"): "ecr:ListImages",
    ("ecr", "describe_image_replication_status"): "ecr:DescribeImageReplicationStatus",
    ("ecr", "describe_repositories"): "ecr:DescribeRepositories",
    ("ecr", "describe_registry"): "ecr:DescribeRegistry",
    ("ecr", "get_registry_policy"): "ecr:GetRegistryPolicy",
}
CALL_PERMISSIONS.update({call: set() for call in ECR_READ_CALLS})
TRANSACT_ITEM_PERMISSIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}
# Needed by the platform rather than by a call in our code.
PLATFORM_PERMISSIONS = {
    "logs:CreateLogStream",
    "logs:PutLogEvents",  # Lambda writes the function's logs
    "kms:GenerateDataKey",
    "kms:Decrypt",  # publishing to the KMS-encrypted alert topic
    "sqs:SendMessage",  # Lambda dead-letters failed asynchronous invocations
}


@functools.cache
def aws_operations() -> dict[str, set[str]]:
    """snake_case operation names of the services the app may call, from botocore's models."""
    import botocore.session

    session = botocore.session.get_session()
    operations = {}
    for service in ("dynamodb", "sns", "secretsmanager", "sqs", "kms", "ecr", "events", "sts"):
        model = session.get_service_model(service)
        operations[service] = {
            re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower() for name in model.operation_names
        }
    return operations


# The dashboard-link authorizer's code: its role has its own policy file. GenerateMac there is
# called by people minting links (the CLI), never by a function.
AUTHORIZER_FILES = {"chalicelib/adapters/kms.py"}


def code_calls(authorizer: bool = False) -> set[tuple[str, str]]:
    """(service, operation) for every call on something named *client* in the Lambda code
    but the authorizer's files (or, with `authorizer`, in those files only)."""
    operations = aws_operations()
    calls = set()
    files = [ROOT / "app.py", *(ROOT / "chalicelib").rglob("*.py")]
    for path in files:
        relative = path.relative_to(ROOT)
        if "local" in relative.parts or "cli" in relative.parts:
            continue  # developer tooling, never run in Lambda
        if (relative.as_posix() in AUTHORIZER_FILES) != authorizer:
            continue
        source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            receiver = ast.get_source_segment(source, node.func.value) or ""
            if "client" not in receiver.lower():
                continue
            services = [s for s, ops in operations.items() if node.func.attr in ops]
            if services:
                hint = next((s for s in services if s in receiver or s in path.stem), services[0])
                calls.add((hint, node.func.attr))
    return calls


def transact_item_kinds() -> set[str]:
    kinds = set()
    for path in (ROOT / "chalicelib").rglob("*.py"):
        # the ledger's writer builds the items that table.py sends in one transaction
        if "transact_write_items" not in path.read_text() and "ledger" not in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Dict):
                for key in node.keys:
                    if isinstance(key, ast.Constant) and key.value in TRANSACT_ITEM_PERMISSIONS:
                        kinds.add(key.value)
    return kinds


def allowed_actions(document: dict[str, Any]) -> set[str]:
    return {a for s in statements(document) if s["Effect"] == "Allow" for a in as_list(s["Action"])}


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_policy_allows_every_call_the_code_makes_and_no_more(stage: str) -> None:
    document = json.loads((ROOT / ".chalice" / f"policy-{stage}.json").read_text())
    calls = code_calls()
    assert ("dynamodb", "query") in calls and ("sns", "publish") in calls
    unmapped = calls - set(CALL_PERMISSIONS)
    assert not unmapped, f"add these AWS calls to CALL_PERMISSIONS and the policy: {unmapped}"
    needed = set().union(*(CALL_PERMISSIONS[c] for c in calls))
    needed |= {TRANSACT_ITEM_PERMISSIONS[k] for k in transact_item_kinds()}
    if ("secretsmanager", "get_secret_value") not in calls:
        needed.add("secretsmanager:GetSecretValue")  # the optional Slack secret (issue: Slack)
    allowed = allowed_actions(document)
    assert needed <= allowed, f"missing permissions: {needed - allowed}"
    assert allowed - needed <= PLATFORM_PERMISSIONS, f"unused permissions: {allowed - needed}"


def test_policy_scopes_each_permission_to_its_resource() -> None:
    document = json.loads((ROOT / ".chalice" / "policy-prod.json").read_text())
    by_sid = {s["Sid"]: s for s in statements(document)}
    assert by_sid["LedgerItems"]["Resource"] == {"Fn::GetAtt": ["AuditTable", "Arn"]}
    index_arns = {r["Fn::Sub"] for r in by_sid["LedgerIndexes"]["Resource"]}
    template = json.loads((ROOT / "infra" / "app-resources.json").read_text())
    indexes = template["Resources"]["AuditTable"]["Properties"]["GlobalSecondaryIndexes"]
    assert index_arns == {f"${{AuditTable.Arn}}/index/{i['IndexName']}" for i in indexes}
    assert by_sid["LedgerIndexes"]["Action"] == ["dynamodb:Query"]
    assert by_sid["PublishAlerts"]["Resource"] == {"Ref": "AlertTopic"}
    assert by_sid["EncryptAlerts"]["Resource"] == {"Fn::GetAtt": ["AlertKey", "Arn"]}
    assert by_sid["DeadLetterFailedInvocations"]["Resource"] == {
        "Fn::GetAtt": ["DeadLetterQueue", "Arn"]
    }
    assert by_sid["ReadSlackWebhook"]["Resource"] == {"Ref": "SlackWebhookSecretArn"}
    # Only when a secret is configured, never a wildcard over every secret.
    conditional = {s["Fn::If"][0]: s["Fn::If"] for s in document["Statement"] if "Fn::If" in s}
    assert set(conditional) == {"HasSlackSecret", "HasAuditRole"}
    assert all(branches[2] == {"Ref": "AWS::NoValue"} for branches in conditional.values())
    # Only the audit role's name, in any monitored account, and only when one is configured.
    assert by_sid["AssumeAuditRole"]["Action"] == ["sts:AssumeRole"]
    assert by_sid["AssumeAuditRole"]["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:iam::*:role/${AuditRoleName}"
    }


def test_table_is_on_demand_recoverable_expiring_and_protected_in_prod(packaged: Packaged) -> None:
    props = packaged.cfn["Resources"]["AuditTable"]["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["TimeToLiveSpecification"]["Enabled"] is True
    assert props["DeletionProtectionEnabled"] == {"Fn::If": ["IsProd", True, False]}
    assert packaged.cfn["Conditions"]["IsProd"] == {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}


def test_local_provisioning_reads_the_same_table(packaged: Packaged) -> None:
    from chalicelib.local.provision import table_request

    props = packaged.cfn["Resources"]["AuditTable"]["Properties"]
    request = table_request("t")
    assert request["KeySchema"] == props["KeySchema"]
    assert request["AttributeDefinitions"] == props["AttributeDefinitions"]
    assert [g["IndexName"] for g in request["GlobalSecondaryIndexes"]] == ["work", "catalog"]


def test_topics_are_encrypted_with_the_stacks_key(packaged: Packaged) -> None:
    topics = packaged.resources("AWS::SNS::Topic")
    assert set(topics) == {"AlertTopic", "OpsTopic"}
    for topic in topics.values():
        assert topic["Properties"]["KmsMasterKeyId"] == {"Ref": "AlertKey"}
    key = packaged.cfn["Resources"]["AlertKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    # CloudWatch must be able to use the key, or alarms cannot reach the encrypted topic.
    principals = [s["Principal"] for s in key["KeyPolicy"]["Statement"]]
    assert {"Service": "cloudwatch.amazonaws.com"} in principals


def alarms(packaged: Packaged) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in packaged.resources("AWS::CloudWatch::Alarm").items()}


def test_every_alarm_notifies_the_ops_topic(packaged: Packaged) -> None:
    found = alarms(packaged)
    assert set(found) == {
        "DeadLetterQueueAlarm",
        "FunctionErrorsAlarm",
        "FunctionThrottlesAlarm",
        "SweepDeadManAlarm",
    }
    for alarm in found.values():
        assert alarm["AlarmActions"] == [{"Ref": "OpsTopic"}]


def test_dead_letter_alarm_fires_on_the_first_message(packaged: Packaged) -> None:
    alarm = alarms(packaged)["DeadLetterQueueAlarm"]
    assert alarm["Namespace"] == "AWS/SQS"
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]}}
    ]
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)


@pytest.mark.parametrize(
    "alarm_id,metric", [("FunctionErrorsAlarm", "Errors"), ("FunctionThrottlesAlarm", "Throttles")]
)
def test_error_and_throttle_alarms_cover_every_function(
    packaged: Packaged, alarm_id: str, metric: str
) -> None:
    alarm = alarms(packaged)[alarm_id]
    stats = [m["MetricStat"]["Metric"] for m in alarm["Metrics"] if "MetricStat" in m]
    assert {s["MetricName"] for s in stats} == {metric}
    assert sorted(s["Dimensions"][0]["Value"]["Ref"] for s in stats) == sorted(FUNCTIONS)
    (expression,) = [m for m in alarm["Metrics"] if m.get("ReturnData")]
    assert all(f"m{i}" in expression["Expression"] for i in range(len(stats)))


def test_dead_man_alarm_watches_the_metric_the_sweep_emits(packaged: Packaged) -> None:
    from chalicelib import observability

    alarm = alarms(packaged)["SweepDeadManAlarm"]
    assert alarm["TreatMissingData"] == "breaching"
    assert alarm["Namespace"] == observability.metrics.namespace
    assert alarm["Dimensions"] == [{"Name": "service", "Value": observability.SERVICE}]
    assert alarm["MetricName"] == "SweepCompleted"
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("LessThanThreshold", 1)
    # Longer than one sweep period, so one late run does not page anyone.
    assert alarm["Period"] * alarm["EvaluationPeriods"] >= 3 * 300
    sources = "".join(p.read_text() for p in (ROOT / "chalicelib").rglob("*.py"))
    assert '"SweepCompleted"' in sources


def test_event_bus_accepts_only_ecr_events_from_the_organisation_or_listed_accounts(
    packaged: Packaged,
) -> None:
    policies = packaged.resources("AWS::Events::EventBusPolicy")
    assert {k: v["Condition"] for k, v in policies.items()} == {
        "OrganizationBusPolicy": "HasOrganization",
        "AccountsBusPolicy": "HasSourceAccounts",
    }
    org = policies["OrganizationBusPolicy"]["Properties"]["Statement"]
    accounts = policies["AccountsBusPolicy"]["Properties"]["Statement"]
    assert org["Condition"]["StringEquals"]["aws:PrincipalOrgID"] == {"Ref": "OrganizationId"}
    assert accounts["Principal"] == {"AWS": {"Fn::Split": [",", {"Ref": "SourceAccounts"}]}}
    for statement in (org, accounts):
        assert statement["Action"] == "events:PutEvents"
        assert statement["Condition"]["StringEquals"]["events:source"] == "aws.ecr"
        assert statement["Condition"]["ForAllValues:StringEquals"]["events:detail-type"] == [
            "ECR Image Action",
            "ECR Replication Action",
        ]
        resource = statement["Resource"]["Fn::Sub"]
        assert resource.endswith(":event-bus/default")


def test_log_groups_point_at_existing_functions(packaged: Packaged) -> None:
    # chalice 1.34 writes `${ApiHandler}` for the API's log group; the merge template fixes it.
    for logical_id, group in packaged.resources("AWS::Logs::LogGroup").items():
        (name,) = re.findall(r"\$\{(\w+)\}", group["Properties"]["LogGroupName"]["Fn::Sub"])
        assert name in packaged.cfn["Resources"], logical_id
    retention = {
        g["Properties"]["RetentionInDays"]
        for g in packaged.resources("AWS::Logs::LogGroup").values()
    }
    assert retention == ({365} if packaged.stage == "prod" else {30})


def test_function_names_fit_the_log_permission(packaged: Packaged) -> None:
    """The policy lets functions log to /aws/lambda/<stack>-*; every function is named so."""
    for function in FUNCTIONS:
        name = packaged.cfn["Resources"][function]["Properties"]["FunctionName"]["Fn::Sub"]
        assert name.startswith("${AWS::StackName}-")
    (logs,) = [
        s for s in statements(packaged.cfn["Resources"]["SweepRole"]) if s["Sid"] == "WriteOwnLogs"
    ]
    assert logs["Resource"]["Fn::Sub"].endswith(":log-group:/aws/lambda/${AWS::StackName}-*:*")


def test_merge_template_keeps_the_packaged_code(packaged: Packaged) -> None:
    for function in FUNCTIONS:
        assert packaged.sam["Resources"][function]["Properties"]["CodeUri"] == "./deployment.zip"
    assert Path(packaged.directory / "deployment.zip").stat().st_size > 0


def test_the_package_ships_bytecode_valid_for_its_own_sources(packaged: Packaged) -> None:
    """Lambda cannot write bytecode (read-only code directory): each module the handlers import
    must come with a .pyc whose source hash matches, or every cold start compiles it."""
    import importlib.util
    import zipfile

    with zipfile.ZipFile(packaged.directory / "deployment.zip") as archive:
        names = set(archive.namelist())
        sources = [n for n in names if n.endswith(".py")]
        handlers = {"app.py", "chalicelib/entrypoints/ecr_events.py", "botocore/session.py"}
        assert handlers <= set(sources)
        for source in sources:
            folder, _, module = source.rpartition("/")
            cached = f"{folder + '/' if folder else ''}__pycache__/{module[:-3]}.cpython-313.pyc"
            assert cached in names, f"no bytecode for {source}"
            header = archive.read(cached)[:16]
            flags = int.from_bytes(header[4:8], "little")
            assert flags == 0b11, f"{cached} is not hash-checked"  # hash-based, checked
            assert header[8:16] == importlib.util.source_hash(archive.read(source)), cached
