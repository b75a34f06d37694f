"""Dashboard links end to end: minted by the CLI, checked by the app's authorizer, KMS in moto."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests import events as ev
from tests.e2e.test_cli import cli, one_line_error


@pytest.fixture
def mac(session: Any, auditor_env: dict[str, str]) -> Any:
    from chalicelib.adapters.kms import KmsMac

    return KmsMac(session.client("kms"), auditor_env["DASHBOARD_LINK_KEY_ARN"])


def token_for(mac: Any, lifetime: timedelta = timedelta(hours=1), now: datetime | None = None):
    from chalicelib.core import links

    return links.mint(mac, now or datetime.now(UTC), lifetime, "tester")[0]


def get(client: Any, path: str, token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.http.get(path, headers=headers)


def test_a_link_reads_the_same_data_as_the_signed_api(client, replay, mac):
    replay(ev.push(ev.DEV, "team/api", "v1", ev.digest(1), ev.at(0)))
    replay(ev.schedule(ev.at(40)))
    token = token_for(mac)
    for path in ("/status", "/repositories", "/incidents?state=open"):
        through_link = get(client, "/view" + path, token)
        assert through_link.status_code == 200, (path, through_link.body)
        body, signed = through_link.json_body, client.http.get(path).json_body
        body.pop("as_of", None), signed.pop("as_of", None)
        assert body == signed, path
    assert get(client, "/view/status", token).json_body["open_incidents"] == 2


def test_without_a_valid_link_the_view_gives_no_data(client, session, mac):
    from chalicelib.adapters.kms import KmsMac

    other_key = session.client("kms").create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")
    stranger = KmsMac(session.client("kms"), other_key["KeyMetadata"]["Arn"])
    expired = token_for(mac, timedelta(minutes=1), datetime.now(UTC) - timedelta(minutes=2))
    assert get(client, "/view/status").status_code == 401
    for token in (token_for(stranger), expired, "v1.e30.AA", token_for(mac) + "x"):
        for path in ("/view/status", "/view/repositories", "/view/incidents"):
            response = get(client, path, token)
            assert response.status_code == 403, (path, token, response.body)
            assert b"healthy" not in response.body and b"repositories" not in response.body


def test_the_view_validates_its_parameters_like_the_api(client, mac):
    token = token_for(mac)
    bad = get(client, "/view/status?verbose=1", token)
    assert bad.status_code == 400 and "unknown query parameter" in bad.json_body["error"]
    bad = get(client, "/view/incidents?state=nope", token)
    assert bad.status_code == 400 and "state must be one of" in bad.json_body["error"]


def test_the_page_itself_holds_no_data_and_runs_only_its_own_code(client):
    from chalicelib.entrypoints.api import dashboard_html

    page = client.http.get("/view")
    assert page.status_code == 200
    assert page.body.decode() == dashboard_html()
    headers = {k.lower(): v for k, v in page.headers.items()}
    policy = dict(
        part.strip().split(" ", 1) for part in headers["content-security-policy"].split(";")
    )
    html = page.body.decode()
    for tag, directive in (("script", "script-src"), ("style", "style-src")):
        (inline,) = re.findall(rf"<{tag}>(.*?)</{tag}>", html, re.S)
        digest = base64.b64encode(hashlib.sha256(inline.encode()).digest()).decode()
        assert policy[directive] == f"'sha256-{digest}'", directive
    assert policy["default-src"] == "'none'" and policy["connect-src"] == "'self'"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["cache-control"] == "no-store"


def test_the_cli_mints_a_link_the_app_accepts(client, auditor_env):
    minted = cli(
        "dashboard-link",
        "--url",
        "https://abc123.execute-api.eu-west-1.amazonaws.com/api/",
        "--key",
        auditor_env["DASHBOARD_LINK_KEY_ARN"],
        "--hours",
        "2",
    )
    assert minted.returncode == 0, minted.stderr
    link = minted.stdout.strip()
    prefix = "https://abc123.execute-api.eu-west-1.amazonaws.com/api/view#token="
    assert link.startswith(prefix)
    assert "anyone holding this link can read the dashboard" in minted.stderr
    assert get(client, "/view/status", link.removeprefix(prefix)).status_code == 200


def test_the_cli_reads_url_and_key_from_the_stack(client, session, auditor_env):
    template = {
        "Resources": {"Placeholder": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {
            "EndpointURL": {"Value": "https://xyz.execute-api.us-east-1.amazonaws.com/api/"},
            "DashboardLinkKeyArn": {"Value": auditor_env["DASHBOARD_LINK_KEY_ARN"]},
        },
    }
    name = f"auditor-{auditor_env['AUDIT_TABLE'][-10:]}"
    session.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))
    minted = cli("dashboard-link", "--stack", name, "--hours", "0.5")
    assert minted.returncode == 0, minted.stderr
    token = minted.stdout.strip().split("#token=", 1)[1]
    assert get(client, "/view/repositories", token).status_code == 200


def test_the_cli_refuses_bad_link_requests(moto_endpoint):
    one_line_error(cli("dashboard-link"), 2, "--stack")
    one_line_error(cli("dashboard-link", "--url", "https://x/api"), 2, "--key")
    one_line_error(cli("dashboard-link", "--stack", "s", "--key", "k"), 2, "--stack")
    one_line_error(cli("dashboard-link", "--stack", "s", "--hours", "25"), 2, "--hours")
    one_line_error(cli("dashboard-link", "--stack", "no-such-stack"), 2, "no stack")
    unknown_key = cli("dashboard-link", "--url", "https://x/api", "--key", "alias/nope")
    one_line_error(unknown_key, 2, "alias/nope", "DashboardLinkKeyArn")
