"""Renderings of the alert document for people: Amazon Q Developer chat notifications and Slack.

Pure functions of one alert document (documents.alert_document); no I/O. The SNS adapter publishes
`render_chatbot` when ALERT_FORMAT=chatbot, the Slack adapter posts `render_slack`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.core.alert_text import (
    CONTEXT_VALUE_MAX,
    SLACK_BLOCKS_MAX,
    SLACK_FIELD_MAX,
    SLACK_FIELDS_MAX,
    SLACK_HEADER_MAX,
    SLACK_SECTION_MAX,
    as_text,
    clip,
    code,
    details,
    escape,
    location_text,
    next_steps,
    repository_arn,
    runbook_link,
    title,
)
from chalicelib.core.documents import ALERT_KEYS
from chalicelib.core.workloads import workload_lines

# ----------------------------------------------------------------------------- chatbot


def _location_names(alert: Mapping[str, Any], names: Mapping[str, str] | None) -> dict[str, str]:
    """`source_name` / `destination_name` context entries for the locations LOCATION_NAMES names."""
    found = {}
    for key in ("source", "destination"):
        location = alert.get(key)
        name = (names or {}).get(location_text(location)) if location else None
        if name:
            found[f"{key}_name"] = name
    return found


def render_chatbot(
    alert: Mapping[str, Any], names: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Amazon Q Developer in chat applications custom notification (schema version 1.0).

    `threadId` is the incident id, so a RECOVERED (same incident id) threads under its alert.
    """
    description = "\n".join(
        [
            escape(alert["summary"]),
            *(f"• {label}: {value}" for label, value in details(alert, names)),
            *(f"• {escape(line)}" for line in workload_lines(alert)),
        ]
    )
    destination = alert["destination"] or {}
    keywords = [
        alert["kind"],
        alert["severity"],
        clip(alert["repository"], 100),
        *(v for v in (destination.get("account"), destination.get("region")) if v),
    ]
    destination_name = (names or {}).get(location_text(destination)) if destination else None
    if destination_name:
        keywords.append(destination_name)
    if alert["cause"]:
        keywords.append(alert["cause"])
    resources = [
        arn
        for arn in (
            repository_arn(alert["repository"], alert["destination"]),
            repository_arn(alert["repository"], alert["source"]),
        )
        if arn
    ]
    context_keys = [*ALERT_KEYS, *(k for k in alert if k not in ALERT_KEYS)]
    return {
        "version": "1.0",
        "source": "custom",
        "id": f"{alert['incident_id']}:{alert['kind']}",
        "content": {
            "textType": "client-markdown",
            "title": title(alert, 250),
            "description": description,
            "nextSteps": next_steps(alert),
            "keywords": keywords,
        },
        "metadata": {
            "threadId": alert["incident_id"],
            "summary": alert["summary"],
            "eventType": alert["kind"],
            "relatedResources": list(dict.fromkeys(resources)),
            "additionalContext": {
                **{key: clip(as_text(alert.get(key)), CONTEXT_VALUE_MAX) for key in context_keys},
                **_location_names(alert, names),
            },
        },
    }


# ----------------------------------------------------------------------------- slack


def _full_values(alert: Mapping[str, Any]) -> str:
    """Full, copyable identifiers: the fields above shorten them."""
    lines = [f"repository: {alert['repository']}"]
    if alert["tag"]:
        lines.append(f"tag:        {alert['tag']}")
    lines.append(f"digest:     {alert['digest']}")
    if alert["previous_digest"]:
        lines.append(f"previous:   {alert['previous_digest']}")
    body = escape("\n".join(lines)).replace("```", "'''")
    return f"```{clip(body, SLACK_SECTION_MAX - 6)}```"


def _workloads_block(alert: Mapping[str, Any]) -> list[dict[str, Any]]:
    lines = workload_lines(alert)
    if not lines:
        return []
    text = "*What runs it*\n" + "\n".join(f"• {escape(line)}" for line in lines)
    return [{"type": "section", "text": {"type": "mrkdwn", "text": clip(text, SLACK_SECTION_MAX)}}]


def render_slack(
    alert: Mapping[str, Any], names: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Slack incoming-webhook payload: a fallback `text` and Block Kit blocks within limits."""
    fields = [
        {"type": "mrkdwn", "text": clip(f"*{label}*\n{value}", SLACK_FIELD_MAX)}
        for label, value in details(alert, names)
    ][:SLACK_FIELDS_MAX]
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": title(alert, SLACK_HEADER_MAX), "emoji": True},
        },
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": clip(escape(alert["summary"]), SLACK_SECTION_MAX)},
            "fields": fields,
        },
        *_workloads_block(alert),
        {"type": "section", "text": {"type": "mrkdwn", "text": _full_values(alert)}},
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": clip(
                        f"incident {code(alert['incident_id'], 200)} · {alert['severity']}"
                        + (f" · <{url}|runbook>" if (url := runbook_link(alert)) else ""),
                        SLACK_FIELD_MAX,
                    ),
                }
            ],
        },
    ]
    return {"text": alert["summary"], "blocks": blocks[:SLACK_BLOCKS_MAX]}
