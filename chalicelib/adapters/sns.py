"""SnsAlerts: publish alert documents to the SNS topic with filterable message attributes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from chalicelib.core.errors import DeliveryFailed

ATTRIBUTE_KEYS = (
    "kind",
    "severity",
    "repository",
    "destination_account",
    "destination_region",
    "dedup_id",
)


def message_attributes(alert: dict[str, Any]) -> dict[str, dict[str, str]]:
    destination = alert.get("destination") or {}
    recovered = alert["kind"] == "RECOVERED"
    values = {
        "kind": alert["kind"],
        "severity": alert["severity"],
        "repository": alert["repository"],
        "destination_account": destination.get("account"),
        "destination_region": destination.get("region"),
        # The same on every copy of one notification: the only duplicates (a publish whose
        # acknowledgement was lost, sent again) can be dropped by consumers on it.
        "dedup_id": f"{alert['incident_id']}#{'RECOVERED' if recovered else 'OPEN'}",
    }
    return {
        key: {"DataType": "String", "StringValue": str(value)}
        for key, value in values.items()
        if value  # SNS rejects empty string attributes
    }


class SnsAlerts:
    """One channel: the alert topic. `alert_format` is `json` or `chatbot`."""

    name = "sns"

    def __init__(
        self,
        client: Any,
        topic_arn: str,
        alert_format: str = "json",
        names: Mapping[str, str] | None = None,
    ) -> None:
        self._client = client
        self._topic_arn = topic_arn
        self._format = alert_format
        self._names = dict(names or {})

    def render(self, alert: dict[str, Any]) -> str:
        if self._format == "chatbot":
            from chalicelib.core.alert_formats import render_chatbot

            return json.dumps(render_chatbot(alert, self._names))
        return json.dumps(alert)

    def send(self, alert: dict[str, Any]) -> None:
        try:
            self._client.publish(
                TopicArn=self._topic_arn,
                Subject=alert["summary"],
                Message=self.render(alert),
                MessageAttributes=message_attributes(alert),
            )
        except Exception as error:
            if not hasattr(error, "response") and not _is_connection_error(error):
                raise
            raise DeliveryFailed(f"SNS publish failed: {_describe(error)}") from error


def _is_connection_error(error: Exception) -> bool:
    from botocore.exceptions import BotoCoreError

    return isinstance(error, BotoCoreError)


def _describe(error: Exception) -> str:
    response = getattr(error, "response", None)
    if response:
        err = response.get("Error", {})
        return f"{err.get('Code')}: {err.get('Message')}"
    return type(error).__name__
