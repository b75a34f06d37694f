"""Create the app's resources at AWS_ENDPOINT_URL from the deployment template's definitions.

The table schema lives once, in infra/app-resources.json; this module translates its
CloudFormation properties into API calls so that local runs and deployments cannot drift.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

TEMPLATE = Path(__file__).resolve().parents[2] / "infra" / "app-resources.json"


def template_resource(logical_id: str) -> dict[str, Any]:
    template = json.loads(TEMPLATE.read_text())
    return dict(template["Resources"][logical_id]["Properties"])


def table_request(table_name: str) -> dict[str, Any]:
    """CreateTable arguments equivalent to the template's AuditTable."""
    props = template_resource("AuditTable")
    request: dict[str, Any] = {
        "TableName": table_name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props["BillingMode"],
    }
    if props.get("GlobalSecondaryIndexes"):
        request["GlobalSecondaryIndexes"] = [
            {k: v for k, v in gsi.items() if k in ("IndexName", "KeySchema", "Projection")}
            for gsi in props["GlobalSecondaryIndexes"]
        ]
    return request


def mark_layout(dynamodb: Any, table_name: str) -> None:
    """A new table is in this release's layout (the marker the handlers check)."""
    from chalicelib.adapters.ledger import Table, layout

    layout.current(Table(dynamodb, table_name))


def provision(session: Any, suffix: str | None = None, client_config: Any = None) -> dict[str, str]:
    """Create table, topic and link key; return the environment variables the app needs.

    `client_config` is a botocore Config for the clients (the command line's short timeouts).
    """
    suffix = suffix or uuid.uuid4().hex[:8]
    table_name = f"ecr-replication-auditor-{suffix}"
    dynamodb = session.client("dynamodb", config=client_config)
    dynamodb.create_table(**table_request(table_name))
    dynamodb.get_waiter("table_exists").wait(TableName=table_name)
    ttl = template_resource("AuditTable").get("TimeToLiveSpecification")
    if ttl:
        dynamodb.update_time_to_live(TableName=table_name, TimeToLiveSpecification=ttl)
    mark_layout(dynamodb, table_name)
    topic_props = template_resource("AlertTopic")
    topic_name = f"{topic_props.get('TopicName', 'ecr-replication-auditor-alerts')}-{suffix}"
    sns = session.client("sns", config=client_config)
    topic_arn = sns.create_topic(Name=topic_name)["TopicArn"]
    link_key = template_resource("DashboardLinkKey")
    key_arn = session.client("kms", config=client_config).create_key(
        Description=f"ecr-replication-auditor-{suffix}: signs dashboard links",
        KeySpec=link_key["KeySpec"],
        KeyUsage=link_key["KeyUsage"],
    )["KeyMetadata"]["Arn"]
    return {
        "AUDIT_TABLE": table_name,
        "ALERT_TOPIC_ARN": topic_arn,
        "DASHBOARD_LINK_KEY_ARN": key_arn,
        "CURSOR_KEY_SECRET_ARN": create_cursor_key(session, suffix),
    }


def create_cursor_key(session: Any, suffix: str) -> str:
    """A random HMAC key for pagination cursors, as the template's CursorKeySecret generates."""
    import secrets

    return str(
        session.client("secretsmanager").create_secret(
            Name=f"ecr-replication-auditor-cursor-key-{suffix}",
            Description="HMAC key signing the API's pagination cursors",
            SecretString=secrets.token_urlsafe(48),
        )["ARN"]
    )


def subscribe_queue(
    session: Any, topic_arn: str, name: str, filter_policy: dict | None = None
) -> str:
    """An SQS queue subscribed (raw delivery off) to the topic, for reading alerts back."""
    sqs = session.client("sqs")
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    attributes = {}
    if filter_policy is not None:
        attributes["FilterPolicy"] = json.dumps(filter_policy)
    session.client("sns").subscribe(
        TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes=attributes
    )
    return str(queue_url)
