"""SlackAlerts: post each alert to a Slack incoming webhook whose URL lives in Secrets Manager.

The webhook URL is a credential: it is never logged and never put in an exception message.
slack_sdk and the Secrets Manager client are imported on first use to keep cold starts small.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from chalicelib.errors import DeliveryFailed

SECRET_MAX_AGE_SECONDS = 300
DEFAULT_TIMEOUT_SECONDS = 5.0
# The auditor retries a failed post on the next sweeps, so the SDK itself retries little and
# never waits long: a sweep must not stall on a rate-limited webhook.
MAX_RETRIES = 1
MAX_RETRY_AFTER_SECONDS = 5

# slack_sdk logs request URLs at DEBUG and connection errors at ERROR; our own logs say what
# failed, so its logger is silenced rather than risk the webhook URL reaching CloudWatch.
_sdk_logger = logging.getLogger(f"{__name__}.sdk")
_sdk_logger.setLevel(logging.CRITICAL + 1)
_sdk_logger.propagate = False


@functools.cache
def _retry_handlers() -> tuple[Any, ...]:
    """slack_sdk's built-in handlers, few tries; they keep no state of their own, so one set
    serves every post."""
    from slack_sdk.http_retry.builtin_handlers import (
        ConnectionErrorRetryHandler,
        RateLimitErrorRetryHandler,
    )
    from slack_sdk.http_retry.request import HttpRequest
    from slack_sdk.http_retry.response import HttpResponse
    from slack_sdk.http_retry.state import RetryState

    class BoundedRateLimitRetryHandler(RateLimitErrorRetryHandler):
        """Retries a 429 only when Slack asks for a short wait (Retry-After)."""

        def _can_retry(
            self,
            *,
            state: RetryState,
            request: HttpRequest,
            response: HttpResponse | None = None,
            error: Exception | None = None,
        ) -> bool:
            if response is None or response.status_code != 429:
                return False
            waits = [v[0] for k, v in response.headers.items() if k.lower() == "retry-after"]
            try:
                return int(waits[0] if waits else 1) <= MAX_RETRY_AFTER_SECONDS
            except ValueError:
                return False

    return (
        ConnectionErrorRetryHandler(max_retry_count=MAX_RETRIES),
        BoundedRateLimitRetryHandler(max_retry_count=MAX_RETRIES),
    )


def _scrub(text: str, url: str) -> str:
    """Remove the webhook URL and its secret path from text that may end up in logs."""
    path = urlsplit(url).path
    for secret in (url, path if len(path) > 1 else ""):
        if secret:
            text = text.replace(secret, "<webhook>")
    return text


class SlackAlerts:
    """One channel: a Slack incoming webhook. Any non-2xx answer or network error is a
    DeliveryFailed, which the outbox retries on later sweeps."""

    name = "slack"
    max_tries = 5  # then given up with an error log and a metric; SNS is retried until it works

    def __init__(
        self,
        webhook_url: Callable[[], str],
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        names: Mapping[str, str] | None = None,
    ) -> None:
        self._webhook_url = webhook_url
        self._timeout = timeout
        self._names = dict(names or {})  # LOCATION_NAMES, for "prod 222222222222/eu-west-1"

    def send(self, alert: dict[str, Any]) -> None:
        from slack_sdk.webhook import WebhookClient

        from chalicelib.alert_formats import render_slack

        url = self._webhook_url()
        client = WebhookClient(
            url,
            timeout=self._timeout,  # type: ignore[arg-type]  # urllib accepts float seconds
            logger=_sdk_logger,
            retry_handlers=list(_retry_handlers()),
        )
        try:
            response = client.send_dict(render_slack(alert, self._names))
        except Exception as error:  # timeouts, refused connections, DNS: all transient here
            reason = _scrub(str(error), url)[:200]
            raise DeliveryFailed(
                f"Slack webhook post failed: {type(error).__name__}: {reason}"
            ) from None  # the chained exception would carry the URL into tracebacks
        if not 200 <= response.status_code < 300:
            body = _scrub(str(response.body or ""), url)[:200]
            raise DeliveryFailed(f"Slack webhook answered HTTP {response.status_code}: {body}")


def secret_webhook_url(secret_arn: str) -> Callable[[], str]:
    """A callable returning the webhook URL held in the secret, read on first use and cached
    for SECRET_MAX_AGE_SECONDS, so a rotated URL is picked up without a redeploy."""

    def read() -> str:
        from aws_lambda_powertools.utilities.parameters import GetParameterError, get_secret

        try:
            value = get_secret(secret_arn, max_age=SECRET_MAX_AGE_SECONDS)
        except GetParameterError as error:
            # The message names the secret and the API error, never the value.
            raise DeliveryFailed(f"could not read the Slack webhook secret: {error}") from None
        url = value.strip() if isinstance(value, str) else ""
        if not _is_http_url(url):
            raise DeliveryFailed("Slack webhook secret does not hold an http(s) URL")
        return url

    return read


def _is_http_url(text: str) -> bool:
    try:
        parts = urlsplit(text)
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.netloc)
        and not any(c.isspace() for c in text)
    )
