"""`GET /gate` end to end: tokens minted with the stage's KMS key (moto), checked by the app's
`gate_token` authorizer, answers from the ledger that real-shaped events built."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests import events as ev


@pytest.fixture
def mac(session: Any, auditor_env: dict[str, str]) -> Any:
    from chalicelib.adapters.kms import KmsMac

    return KmsMac(session.client("kms"), auditor_env["DASHBOARD_LINK_KEY_ARN"])


def gate_token(mac: Any, prefix: str = "team/", lifetime: timedelta = timedelta(days=1), now=None):
    from chalicelib.core import links

    return links.mint_gate(mac, now or datetime.now(UTC), lifetime, "ci", prefix)[0]


def gate(client: Any, query: str, token: str | None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return client.http.get(f"/gate?{query}", headers=headers)


def answer(client: Any, query: str, token: str) -> dict[str, Any]:
    """A 200 answer, checked against the Gate schema of the shipped OpenAPI document."""
    import json
    from pathlib import Path

    from openapi_schema_validator import OAS30Validator

    response = gate(client, query, token)
    assert response.status_code == 200, response.body
    body = dict(response.json_body)
    assert set(body) == {"repository", "digest", "tag", "state", "replicas", "as_of"}
    document = json.loads(
        (Path(__file__).parents[2] / "chalicelib" / "entrypoints" / "openapi.json").read_text()
    )
    schema = {"$ref": "#/components/schemas/Gate", "components": document["components"]}
    OAS30Validator(schema).validate(body)
    return body


def states(body: dict[str, Any]) -> dict[str, str]:
    return {r["destination"]["account"]: r["state"] for r in body["replicas"]}


NOW = datetime.now(UTC).replace(microsecond=0)


def when(minutes: float) -> datetime:
    """Event times within the last hour: recent enough for no replica to be overdue yet."""
    return NOW - timedelta(minutes=60) + timedelta(minutes=minutes)


def test_pending_ready_and_failed_images(client, replay, mac):
    token = gate_token(mac)
    d1, d2 = ev.digest("gate-1"), ev.digest("gate-2")
    replay(ev.push(ev.DEV, "team/api", "v1", d1, when(0)))
    pending = answer(client, "repository=team/api&tag=v1", token)
    assert (pending["state"], pending["digest"], pending["tag"]) == ("waiting", d1, "v1")
    assert states(pending) == {"222222222222": "pending", "333333333333": "pending"}
    assert pending["replicas"][0]["destination"] == {
        "account": "222222222222",
        "region": "eu-west-1",
    }

    replay(ev.replication(ev.PROD, ev.DEV, "team/api", "v1", d1, when(3)))
    half = answer(client, f"repository=team/api&digest={d1}", token)
    assert half["state"] == "waiting" and half["tag"] is None and half["digest"] == d1
    assert states(half) == {"222222222222": "replicated", "333333333333": "pending"}
    replay(ev.replication(ev.DR, ev.DEV, "team/api", "v1", d1, when(4)))
    assert answer(client, "repository=team/api&tag=v1", token)["state"] == "ready"

    replay(ev.push(ev.DEV, "team/web", "v2", d2, when(5)))
    replay(ev.replication(ev.DR, ev.DEV, "team/web", "v2", d2, when(7), ok=False))
    failed = answer(client, "repository=team/web&tag=v2", token)
    assert failed["state"] == "failed"
    assert states(failed) == {"222222222222": "pending", "333333333333": "failed"}


def test_an_unknown_image_is_a_404(client, replay, mac):
    token = gate_token(mac)
    response = gate(client, "repository=team/api&tag=nope", token)
    assert response.status_code == 404 and "no image team/api:nope" in response.json_body["error"]
    missing = gate(client, f"repository=team/api&digest={ev.digest('never')}", token)
    assert missing.status_code == 404


def test_a_token_answers_only_inside_its_prefix(client, replay, mac):
    replay(ev.push(ev.DEV, "team/api", "v1", ev.digest("scope"), when(0)))
    replay(ev.push(ev.DEV, "ops/agent", "v1", ev.digest("scope-ops"), when(0)))
    team = gate_token(mac, "team/")
    outside = gate(client, "repository=ops/agent&tag=v1", team)
    assert outside.status_code == 403
    assert outside.json_body == {
        "error": "this gate token covers repositories starting with 'team/', not 'ops/agent'"
    }
    assert gate(client, "repository=team/api&tag=v1", team).status_code == 200
    everything = gate_token(mac, "")
    assert gate(client, "repository=ops/agent&tag=v1", everything).status_code == 200


def test_forged_expired_and_missing_tokens_are_401(client, replay, session, mac):
    from chalicelib.adapters.kms import KmsMac
    from chalicelib.core import links

    replay(ev.push(ev.DEV, "team/api", "v1", ev.digest("forged"), when(0)))
    other_key = session.client("kms").create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")
    stranger = KmsMac(session.client("kms"), other_key["KeyMetadata"]["Arn"])
    expired = gate_token(
        mac, lifetime=timedelta(minutes=1), now=datetime.now(UTC) - timedelta(hours=1)
    )
    dashboard_link, _ = links.mint(mac, datetime.now(UTC), timedelta(hours=1), "viewer")
    valid = gate_token(mac)
    version, payload, signature = valid.split(".")
    for token in (
        gate_token(stranger),
        expired,
        dashboard_link,  # signed by the same key for another use
        f"{version}.{payload}.{signature[:-4]}AAAA",
        "not-a-token",
    ):
        response = gate(client, "repository=team/api&tag=v1", token)
        assert response.status_code == 401, (token, response.body)
        assert response.json_body == {"error": "Unauthorized"}
    assert gate(client, "repository=team/api&tag=v1", None).status_code == 401


@pytest.mark.parametrize(
    "query,problem",
    [
        ("tag=v1", "repository is required"),
        ("repository=team/api", "exactly one of digest and tag"),
        ("repository=team/api&tag=v1&digest=sha256:" + "a" * 64, "not both"),
        ("repository=Team/API&tag=v1", "not a valid ECR repository name"),
        ("repository=team/api&tag=v1&limit=5", "unknown query parameter"),
    ],
)
def test_bad_queries_are_400_with_a_valid_token(client, mac, query, problem):
    response = gate(client, query, gate_token(mac))
    assert response.status_code == 400 and problem in response.json_body["error"]


def test_the_route_refuses_a_request_no_authorizer_checked():
    """Fail closed: without the authorizer's prefix (a misconfigured stage), no answer."""
    from chalicelib.core.errors import Forbidden
    from chalicelib.entrypoints.gate import scope

    for context in (None, {}, {"authorizer": {}}, {"authorizer": {"prefix": 7}}):
        with pytest.raises(Forbidden):
            scope(context)
    assert scope({"authorizer": {"prefix": "team/"}}) == "team/"


# ----------------------------------------------------------------------------- the command


def test_the_cli_mints_a_token_the_gate_accepts(client, replay, auditor_env, tmp_path):
    import json

    from tests.e2e.test_cli import cli

    replay(ev.push(ev.DEV, "team/api", "v1", ev.digest("cli"), when(0)))
    minted = cli(
        "gate-token", "--key", auditor_env["DASHBOARD_LINK_KEY_ARN"], "--repository-prefix", "team/"
    )
    assert minted.returncode == 0, minted.stderr
    token = minted.stdout.strip()
    assert "for GET /gate on repositories starting with 'team/'" in minted.stderr
    assert answer(client, "repository=team/api&tag=v1", token)["state"] == "waiting"
    assert gate(client, "repository=ops/agent&tag=v1", token).status_code == 403
    # The key also comes from provision's environment file, as the other commands read it.
    env_file = tmp_path / "env.json"
    env_file.write_text(json.dumps(auditor_env))
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "DASHBOARD_LINK_KEY_ARN"}
    minted = subprocess.run(
        [
            sys.executable,
            "-m",
            "chalicelib.cli",
            "gate-token",
            "--env-file",
            str(env_file),
            "--repository-prefix",
            "",
            "--days",
            "1",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert minted.returncode == 0, minted.stderr
    assert "on every repository" in minted.stderr
    assert gate(client, "repository=team/api&tag=v1", minted.stdout.strip()).status_code == 200


def test_the_cli_refuses_bad_token_requests(moto_endpoint):
    from tests.e2e.test_cli import cli, one_line_error

    no_key = {"DASHBOARD_LINK_KEY_ARN": ""}
    one_line_error(cli("gate-token", env=no_key), 2, "--repository-prefix")
    one_line_error(cli("gate-token", "--repository-prefix", "team/", env=no_key), 2, "--stack")
    one_line_error(cli("gate-token", "--repository-prefix", "Team/", "--key", "k"), 2, "e.g. team/")
    one_line_error(
        cli("gate-token", "--repository-prefix", "team/", "--days", "400", "--key", "k"),
        2,
        "--days",
    )
    one_line_error(
        cli("gate-token", "--repository-prefix", "t", "--stack", "s", "--key", "k"), 2, "not both"
    )
    unknown = cli("gate-token", "--repository-prefix", "team/", "--key", "alias/nope")
    one_line_error(unknown, 2, "alias/nope", "DashboardLinkKeyArn")
