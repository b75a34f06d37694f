"""The composition root: builds the use cases' dependencies once, lazily, from Settings.

Nothing here runs at import time, so a cold start pays for boto3 only when a handler needs it.
Tests call `reset()` after changing the environment.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

from chalicelib.services import AlertChannel, Deps
from chalicelib.settings import Settings


def _client(session: Any, service: str) -> Any:
    # botocore honours AWS_ENDPOINT_URL and AWS_MAX_ATTEMPTS itself; standard retry mode
    # gives throttling back-off without hand-written loops.
    from botocore.config import Config

    return session.client(
        service, config=Config(retries={"mode": "standard"}, connect_timeout=5, read_timeout=10)
    )


def wall_clock() -> datetime:
    return datetime.now(UTC)


def _cursors(settings: Settings) -> Any:
    from chalicelib.adapters.cursors import CursorCodec, secret_key, table_key

    if settings.cursor_key_secret_arn:
        return CursorCodec(secret_key(settings.cursor_key_secret_arn))
    return CursorCodec(table_key(settings.audit_table))


def build(settings: Settings | None = None) -> Deps:
    import boto3

    from chalicelib.adapters.dynamodb import DynamoLedger
    from chalicelib.adapters.sns import SnsAlerts

    settings = settings or Settings.from_env()
    session = boto3.session.Session()
    channels: list[AlertChannel] = [
        SnsAlerts(_client(session, "sns"), settings.alert_topic_arn, settings.alert_format)
    ]
    if settings.slack_webhook_secret_arn:
        from chalicelib.adapters.slack import SlackAlerts, secret_webhook_url

        # A short timeout: a hung Slack must not eat the sweep's budget; the outbox retries.
        channels.append(
            SlackAlerts(secret_webhook_url(settings.slack_webhook_secret_arn), timeout=3.0)
        )
    return Deps(
        settings=settings,
        ledger=DynamoLedger(
            _client(session, "dynamodb"), settings.audit_table, cursors=_cursors(settings)
        ),
        channels=channels,
        clock=wall_clock,
    )


@functools.cache
def deps() -> Deps:
    return build()


def reset() -> None:
    deps.cache_clear()
