"""The Slack webhook URL never reaches a log line or an exception message, in any encoding.

A real local webhook answers every post with an error body (and headers) echoing its own URL
in one encoding after another; the app runs end to end with every logger at DEBUG (ours, the
root logger, and whatever botocore would print while reading the secret from Secrets Manager);
everything printed, logged or raised is then searched for every form of the secret.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import uuid
from urllib.parse import quote, urlencode, urlsplit

import pytest

from chalicelib.adapters.slack import SlackAlerts
from chalicelib.core.errors import DeliveryFailed
from chalicelib.local.emulator import free_port
from tests import events as ev
from tests.integration.test_slack import alert
from tests.webhook import HOOK_PATH

REPO = "team/api"
STATUSES = (500, 400, 403, 404, 502, 410)


def encodings(url: str) -> dict[str, str]:
    """The secret as a webhook, a proxy or an SDK might echo it back."""
    path = urlsplit(url).path
    tail = path.split("/services/", 1)[1]
    token = path.rsplit("/", 1)[1]

    def per_byte(text: str) -> str:
        return "".join(f"%{b:02X}" for b in text.encode())

    def entities(text: str) -> str:
        return "".join(f"&#{ord(c)};" for c in text)

    return {
        "url": url,
        "path": path,
        "token alone": token,
        "team/bot/token": tail,
        "JSON \\/ escapes": url.replace("/", "\\/"),
        "JSON \\u002f escapes": url.replace("/", "\\u002f"),
        "JSON document": json.dumps({"error": "invalid_token", "url": url}),
        "percent-encoded URL": quote(url, safe=""),
        "percent-encoded path": quote(path, safe=""),
        "percent-encoded, lower-case hex": quote(url, safe="").lower(),
        "percent-encoded twice": quote(quote(url, safe=""), safe=""),
        "token percent-encoded byte by byte": per_byte(token),
        "form-encoded": urlencode({"hook": url}),
        "HTML &#47;": url.replace("/", "&#47;"),
        "HTML &#x2F;": url.replace("/", "&#x2F;"),
        "HTML &sol;": url.replace("/", "&sol;"),
        "token as decimal entities": entities(token),
        "HTML link": f'<a href="{html.escape(url)}">{html.escape(url)}</a>',
        "token upper-case": token.upper(),
        "base64 URL": base64.b64encode(url.encode()).decode(),
        "base64 token": base64.b64encode(token.encode()).decode(),
        "url-safe base64 path": base64.urlsafe_b64encode(path.encode()).decode(),
        "hex token": token.encode().hex(),
        "JSON with token field": json.dumps({"ok": False, "token": token}),
    }


def leaks(text: str, forms: dict[str, str]) -> list[str]:
    """Names of the forms found in text, also once a JSON log line's escapes are undone."""
    variants = {text, text.replace("\\\\", "\\"), text.replace("\\/", "/")}
    found = []
    for name, form in forms.items():
        probes = {form, form.lower()} if len(form) >= 8 else {form}
        if any(p in v or p in v.lower() for p in probes for v in variants):
            found.append(name)
    return found


@pytest.fixture
def slack_app(webhook, session, configure):
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()
    arn = session.client("secretsmanager").create_secret(
        Name=f"slack-{uuid.uuid4().hex[:8]}", SecretString=webhook.url
    )["ARN"]
    configure(SLACK_WEBHOOK_SECRET_ARN=arn)
    yield webhook
    parameters.clear_caches()


@pytest.fixture
def debug_everywhere(monkeypatch, caplog):
    """Every log setting at its most verbose, as an operator chasing a problem would set it."""
    from chalicelib.observability import logger

    for name in ("POWERTOOLS_LOG_LEVEL", "LOG_LEVEL", "AWS_LAMBDA_LOG_LEVEL"):
        monkeypatch.setenv(name, "DEBUG")
    previous = logger.log_level
    logger.setLevel(logging.DEBUG)  # what POWERTOOLS_LOG_LEVEL=DEBUG gives at import
    caplog.set_level(logging.DEBUG)  # the root logger, as `chalice local` or Lambda may set it
    yield caplog
    logger.setLevel(previous)


def test_no_form_of_the_webhook_url_reaches_logs_or_errors(
    slack_app, replay, alerts, debug_everywhere, capfd
):
    url = slack_app.url
    forms = encodings(url)
    for n, text in enumerate(forms.values()):
        headers = {"X-Echo": quote(url, safe=""), "Link": f"<{url}>"}
        slack_app.replies.append((STATUSES[n % len(STATUSES)], headers, text))
    # Five failed replications: five alerts, each posted at once and retried by five sweeps
    # (before any replica is due), so four of them exhaust their tries on error bodies.
    for n in range(5):
        replay(ev.push(ev.DEV, REPO, f"v{n}", ev.digest(n), ev.at(n)))
        replay(ev.replication(ev.PROD, ev.DEV, REPO, f"v{n}", ev.digest(n), ev.at(n + 1), ok=False))
    for minute in range(10, 20, 2):
        replay(ev.schedule(ev.at(minute)))
    assert slack_app.replies == []  # every encoding was served
    assert len(slack_app.requests) >= len(forms)
    raised = []
    for text in forms.values():  # the adapter's own exceptions, message and repr
        slack_app.replies.append((500, {"X-Echo": url}, text))
        with pytest.raises(DeliveryFailed) as failure:
            SlackAlerts(lambda: url, timeout=1.0).send(alert())
        raised += [str(failure.value), repr(failure.value), str(failure.value.__cause__)]
    refused = f"http://127.0.0.1:{free_port()}{HOOK_PATH}"
    not_http = f"ftp://127.0.0.1{HOOK_PATH}"  # slack_sdk puts a URL it refuses in its error
    for target in (refused, not_http):
        with pytest.raises(DeliveryFailed) as failure:
            SlackAlerts(lambda target=target: target, timeout=1.0).send(alert())
        raised.append(str(failure.value))

    printed = capfd.readouterr()
    logged = debug_everywhere.text + "\n".join(
        json.dumps(r.__dict__, default=str) for r in debug_everywhere.records
    )
    everything = "\n".join([printed.out, printed.err, logged, *raised])
    # The capture is real: the failures were logged (root logger at DEBUG) and raised.
    assert "Slack delivery failed" in everything and "giving up on Slack delivery" in everything
    assert logging.getLogger().level == logging.DEBUG
    assert "Slack webhook answered HTTP 500" in raised[0]
    assert leaks(everything, forms) == []
    assert leaks(everything, encodings(refused)) == []
    assert alerts.kinds().count("REPLICATION_FAILED") == 5  # SNS unaffected throughout


def test_botocore_cannot_print_the_secret_value_at_debug(session, debug_everywhere, capfd):
    """botocore logs response bodies at DEBUG; its level is pinned whatever the settings say."""
    from aws_lambda_powertools.utilities import parameters

    import chalicelib.observability  # noqa: F401  (pins the third-party loggers)
    from chalicelib.adapters.slack import secret_webhook_url

    value = f"https://hooks.slack.com/services/T0LEAK/B0LEAK/{uuid.uuid4().hex}"
    arn = session.client("secretsmanager").create_secret(
        Name=f"slack-{uuid.uuid4().hex[:8]}", SecretString=value
    )["ARN"]
    parameters.clear_caches()
    assert secret_webhook_url(arn)() == value
    parameters.clear_caches()
    printed = capfd.readouterr()
    everything = printed.out + printed.err + debug_everywhere.text
    assert leaks(everything, encodings(value)) == []
    for name in ("botocore", "boto3", "urllib3"):
        assert logging.getLogger(name).getEffectiveLevel() >= logging.WARNING


def test_secret_values_are_logged_by_botocore_when_not_pinned(session, debug_everywhere):
    """The guard above is needed: botocore at DEBUG does print a GetSecretValue answer."""
    value = f"sentinel-{uuid.uuid4().hex}"
    client = session.client("secretsmanager")
    arn = client.create_secret(Name=f"probe-{uuid.uuid4().hex[:8]}", SecretString=value)["ARN"]
    botocore_logger = logging.getLogger("botocore")
    pinned = botocore_logger.level
    botocore_logger.setLevel(logging.DEBUG)
    try:
        client.get_secret_value(SecretId=arn)
    finally:
        botocore_logger.setLevel(pinned)
    assert value in debug_everywhere.text
    assert pinned == logging.WARNING
