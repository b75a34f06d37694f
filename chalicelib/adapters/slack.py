"""SlackAlerts: post each alert to a Slack incoming webhook whose URL lives in Secrets Manager.

The webhook URL is a credential: it is never logged and never put in an exception message.
A failed post is described by its status code (and Slack's own error code) or the kind of
network error only: response bodies and SDK error texts are never repeated, since a webhook,
a proxy or the SDK may echo the URL in any encoding.
slack_sdk and the Secrets Manager client are imported on first use to keep cold starts small.
"""

from __future__ import annotations

import functools
import html
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from chalicelib.core.errors import DeliveryFailed

SECRET_MAX_AGE_SECONDS = 300
DEFAULT_TIMEOUT_SECONDS = 5.0
# The auditor retries a failed post on the next sweeps, so the SDK itself retries little and
# never waits long: a sweep must not stall on a rate-limited webhook.
MAX_RETRIES = 1
MAX_RETRY_AFTER_SECONDS = 5
# Error bodies of Slack incoming webhooks (api.slack.com/messaging/webhooks#handling_errors):
# the only response text ever repeated in a log line or an exception.
SLACK_ERROR_CODES = frozenset(
    {
        "invalid_payload",
        "user_not_found",
        "channel_not_found",
        "channel_is_archived",
        "action_prohibited",
        "posting_to_general_channel_denied",
        "too_many_attachments",
        "no_service",
        "no_service_id",
        "no_team",
        "team_disabled",
        "invalid_token",
        "no_text",
        "rate_limited",
    }
)

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


def _secret_forms(url: str) -> set[str]:
    """The parts of a webhook URL that grant posting, lower-cased: the URL, its path and query,
    the part after /services/ and each of its long segments (a Slack URL ends with
    /services/<team>/<bot>/<token>), and the last path segment of any other URL."""
    parts = urlsplit(url)
    tail = parts.path.split("/services/", 1)[1] if "/services/" in parts.path else ""
    segments = [s for s in parts.path.split("/") if s]
    forms = {url, parts.netloc + parts.path, parts.path, parts.query, tail}
    forms.update(s for s in tail.split("/") if len(s) >= 8)
    if segments:
        forms.add(segments[-1])
    return {f.lower() for f in forms if len(f) >= 4}


_UNICODE_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def _decodings(text: str) -> set[str]:
    """text and what it reads as once JSON escapes, percent-encoding and HTML entities are
    undone, in any order and nesting (a few rounds)."""
    seen = {text}
    frontier = {text}
    for _ in range(4):
        step = set()
        for item in frontier:
            step.add(unquote(item))
            step.add(html.unescape(item))
            step.add(item.replace("\\/", "/"))
            step.add(_UNICODE_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), item))
        frontier = step - seen
        seen |= step
        if not frontier:
            break
    return seen


def mentions_secret(text: str, url: str) -> bool:
    """Whether text holds the webhook URL, its path or its token in any usual encoding."""
    secrets = _secret_forms(url)
    return any(s in form.lower() for form in _decodings(text) for s in secrets)


def _safe_reason(error: Exception, url: str) -> str:
    """A short reason for a failed post that cannot carry the URL: only OS-level reasons
    ("Connection refused", "timed out") are kept, and only if they mention no secret."""
    reason: object = getattr(error, "reason", error)  # URLError wraps the socket error
    text = ""
    if isinstance(reason, OSError):
        text = reason.strerror or (str(reason) if isinstance(reason, TimeoutError) else "")
    elif isinstance(reason, str) and isinstance(error, OSError):
        text = reason
    text = text[:100]
    return "" if not text or mentions_secret(text, url) else f": {text}"


def _safe_body(body: object) -> str:
    """Slack's own error codes ("invalid_token", "no_service") are kept; any other body is
    dropped, since a webhook (or a proxy in front of it) may echo the URL in any encoding."""
    text = str(body or "").strip()
    return f": {text}" if text in SLACK_ERROR_CODES else ""


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

        from chalicelib.core.alert_formats import render_slack

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
            raise DeliveryFailed(
                f"Slack webhook post failed: {type(error).__name__}{_safe_reason(error, url)}"
            ) from None  # the chained exception would carry the URL into tracebacks
        if not 200 <= response.status_code < 300:
            raise DeliveryFailed(
                f"Slack webhook answered HTTP {response.status_code}{_safe_body(response.body)}"
            )


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
