"""The HTTP API probed as an attacker would: hostile query parameters, unknown routes and
methods, forged, truncated and cross-listing cursors. Every answer is a 4xx `{"error": ...}`."""

from __future__ import annotations

import base64
import json
import logging
from urllib.parse import quote

import pytest

from tests import events as ev

REPO = "team/api"


def assert_error(response, status: int, fragment: str = "") -> None:
    assert response.status_code == status, response.body
    assert set(response.json_body) == {"error"}, response.body
    assert fragment in response.json_body["error"]


# ----------------------------------------------------------------------------- parameters


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("/incidents?limit=%C2%B2", "limit"),  # "²": str.isdigit() says yes, int() says no
        ("/incidents?limit=%D9%A3", "limit"),  # ARABIC-INDIC DIGIT THREE: int() reads 3
        ("/incidents?limit=%EF%BC%95", "limit"),  # FULLWIDTH DIGIT FIVE
        ("/incidents?limit=" + "9" * 5000, "limit"),  # int() refuses more than 4300 digits
        ("/incidents?limit=0050", "limit"),
        ("/incidents?limit=-5", "limit"),
        ("/incidents?limit=+5", "limit"),
        ("/incidents?limit=5%20", "limit"),
        ("/incidents?limit=", "limit"),
        ("/incidents?limit=5&limit=6", "more than once"),
        ("/incidents?state=open&state=all", "more than once"),
        ("/incidents?cursor=" + "A" * 5000, "cursor"),
        ("/incidents?cursor=%00", "cursor"),
        ("/incidents?cursor=abc%0A.def", "cursor"),
        ("/status?verbose=1", "this route takes none"),
        ("/repositories?repository=team/api", "this route takes none"),
        ("/status?" + "x" * 3000 + "=1", "unknown query parameter"),
        (f"/images?repository={quote(REPO)}%0A", "not a valid ECR repository"),
        ("/images?repository=" + "a" * 300, "not a valid ECR repository"),
        (f"/images?repository={REPO}&digest=sha256:abc%0A", "digest"),
        (f"/images?repository={REPO}&tag=v1%0A", "tag"),
        (f"/images?repository={REPO}&tag=" + "v" * 400, "tag"),
        (f"/images?repository={REPO}&limit=%C2%B3", "limit"),
    ],
)
def test_hostile_query_parameters_are_a_400(client, path, fragment):
    assert_error(client.http.get(path), 400, fragment)


def test_every_listed_parameter_still_works(client):
    assert client.http.get("/incidents?state=all&limit=100").status_code == 200
    assert client.http.get("/incidents?limit=1").status_code == 200
    assert client.http.get("/status").status_code == 200
    assert client.http.get("/repositories").status_code == 200


def test_the_dashboard_ignores_query_parameters(client):
    """A page, not an API: bookmarks with tracking parameters must still open it."""
    response = client.http.get("/?utm_source=wiki&refresh=1")
    assert response.status_code == 200 and b"<html" in response.body


# ----------------------------------------------------------------------------- routes


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/nope", 404),
        ("GET", "/status/extra", 404),
        ("GET", "/images/team/api", 404),
        ("PUT", "/nope", 404),
        ("DELETE", "/a/b/c/d", 404),
        ("POST", "/status", 405),
        ("DELETE", "/incidents", 405),
        ("PUT", "/images?repository=team/api", 405),
        ("PATCH", "/repositories", 405),
        ("POST", "/", 405),
        ("POST", "/openapi.json", 405),
    ],
)
def test_unknown_routes_and_methods_answer_the_error_shape(client, method, path, status):
    response = client.http.request(method, path, body=b"{}")
    assert_error(response, status)
    if status == 404:
        assert response.headers["Content-Type"] == "application/json"
        assert path.split("?")[0][:100] in response.json_body["error"]


# ----------------------------------------------------------------------------- cursors


def _incidents(replay, count: int) -> None:
    for n in range(count):
        replay(ev.push(ev.DEV, REPO, f"v{n}", ev.digest(n), ev.at(n)))
    replay(ev.schedule(ev.at(60)))  # count x 2 replicas missing


def _cursor(client, path: str) -> str:
    cursor = client.http.get(path).json_body["next_cursor"]
    assert cursor
    return cursor


def test_a_cursor_pages_through_and_is_signed(client, replay):
    _incidents(replay, 2)
    cursor = _cursor(client, "/incidents?limit=3")
    _, signature = cursor.split(".")
    assert len(signature) == 43  # 32 bytes of HMAC-SHA256, unpadded base64url
    rest = client.http.get(f"/incidents?limit=3&cursor={cursor}").json_body
    assert len(rest["incidents"]) == 1 and rest["next_cursor"] is None


def test_every_truncation_of_a_cursor_is_a_400(client, replay):
    _incidents(replay, 2)
    cursor = _cursor(client, "/incidents?limit=1")
    for cut in range(1, len(cursor)):
        assert_error(client.http.get(f"/incidents?limit=1&cursor={cursor[:cut]}"), 400, "cursor")


def test_a_cursor_is_refused_by_every_other_listing(client, replay):
    _incidents(replay, 2)
    replay(ev.push(ev.DEV, "team/web", "v1", ev.digest(9), ev.at(1)))
    replay(ev.push(ev.DEV, "team/web", "v2", ev.digest(8), ev.at(2)))
    cursors = {
        "/incidents?limit=1": _cursor(client, "/incidents?limit=1"),
        "/incidents?state=all&limit=1": _cursor(client, "/incidents?state=all&limit=1"),
        f"/images?repository={REPO}&limit=1": _cursor(client, f"/images?repository={REPO}&limit=1"),
        "/images?repository=team/web&limit=1": _cursor(
            client, "/images?repository=team/web&limit=1"
        ),
    }
    for listing, cursor in cursors.items():
        assert client.http.get(f"{listing}&cursor={cursor}").status_code == 200
        for other in cursors:
            if other != listing:
                assert_error(client.http.get(f"{other}&cursor={cursor}"), 400, "cursor")


# The listing the ledger signs `/incidents?state=open` pages for (index and partition value).
OPEN_INCIDENTS = "work:{':p': {'S': 'INCIDENT#open'}}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _codec(session, auditor_env):
    from chalicelib.adapters.cursors import CursorCodec

    secret = session.client("secretsmanager").get_secret_value(
        SecretId=auditor_env["CURSOR_KEY_SECRET_ARN"]
    )["SecretString"]
    return CursorCodec(lambda: secret.encode())


@pytest.mark.parametrize(
    "key",
    [
        {"pk": {"S": "INC#x"}, "sk": {"S": "INC"}},  # the case: no index attributes
        {"pk": {"S": "INC#x"}, "sk": {"S": "INC"}, "gsi1pk": {"S": "INCIDENT#open"}},
        {
            "pk": {"S": "INC#x"},
            "sk": {"S": "INC"},
            "gsi1pk": {"S": "INCIDENT#resolved"},  # another partition than the listing's
            "gsi1sk": {"S": "2026"},
        },
        {
            "pk": {"S": "INC#x"},
            "sk": {"S": "INC"},
            "gsi1pk": {"S": "INCIDENT#open"},
            "gsi1sk": {"N": "5"},  # not a string
        },
        {
            "pk": {"S": "INC#x"},
            "sk": {"S": "INC"},
            "gsi1pk": {"S": "INCIDENT#open"},
            "gsi1sk": {"S": "2026"},
            "extra": {"S": "x"},
        },
        {"pk": {"S": ""}, "sk": {"S": ""}, "gsi1pk": {"S": "INCIDENT#open"}, "gsi1sk": {"S": ""}},
        ["not", "a", "key"],
    ],
)
def test_a_signed_cursor_with_the_wrong_key_shape_is_a_400_not_a_500(
    client, session, auditor_env, key
):
    """Even with the signing key (leaked, or the derived fallback) DynamoDB never sees it."""
    codec = _codec(session, auditor_env)
    if isinstance(key, dict):
        cursor = codec.encode(key, OPEN_INCIDENTS)
    else:  # a payload that is not an object at all, signed as the codec would
        payload = _b64(json.dumps(key).encode())
        cursor = f"{payload}.{_b64(codec._sign(OPEN_INCIDENTS, payload))}"
    assert_error(client.http.get(f"/incidents?limit=1&cursor={cursor}"), 400, "cursor")


def test_the_signing_listing_is_what_the_ledger_signs(client, replay, session, auditor_env):
    """The test above forges for the right listing: a well-formed key signed so is accepted."""
    _incidents(replay, 2)
    codec = _codec(session, auditor_env)
    first = client.http.get("/incidents?limit=1").json_body
    key = json.loads(base64.urlsafe_b64decode(first["next_cursor"].split(".")[0] + "=="))
    cursor = codec.encode(key, OPEN_INCIDENTS)
    assert cursor == first["next_cursor"]
    assert client.http.get(f"/incidents?limit=1&cursor={cursor}").status_code == 200


def test_a_rotated_key_invalidates_old_cursors(client, replay, session, auditor_env):
    from aws_lambda_powertools.utilities import parameters

    _incidents(replay, 2)
    cursor = _cursor(client, "/incidents?limit=1")
    session.client("secretsmanager").put_secret_value(
        SecretId=auditor_env["CURSOR_KEY_SECRET_ARN"], SecretString="n" * 64
    )
    parameters.clear_caches()
    try:
        assert_error(client.http.get(f"/incidents?limit=1&cursor={cursor}"), 400, "cursor")
        fresh = _cursor(client, "/incidents?limit=1")
        assert client.http.get(f"/incidents?limit=1&cursor={fresh}").status_code == 200
    finally:
        parameters.clear_caches()


def test_without_a_key_secret_cursors_are_signed_with_a_derived_key(
    client, replay, configure, caplog
):
    _incidents(replay, 2)
    signed_with_secret = _cursor(client, "/incidents?limit=1")
    configure(CURSOR_KEY_SECRET_ARN=None)
    with caplog.at_level(logging.INFO, logger="ecr-replication-auditor"):
        derived = _cursor(client, "/incidents?limit=1")
        assert client.http.get(f"/incidents?limit=1&cursor={derived}").status_code == 200
        _cursor(client, "/incidents?limit=1")
    notes = [r for r in caplog.records if "CURSOR_KEY_SECRET_ARN is not set" in r.getMessage()]
    assert len(notes) == 1 and notes[0].levelno == logging.INFO
    assert derived != signed_with_secret
    assert_error(client.http.get(f"/incidents?limit=1&cursor={signed_with_secret}"), 400, "cursor")


def test_a_key_secret_too_short_to_be_a_key_is_refused(session):
    import uuid

    from aws_lambda_powertools.utilities import parameters

    from chalicelib.adapters.cursors import secret_key
    from chalicelib.core.errors import ConfigError

    arn = session.client("secretsmanager").create_secret(
        Name=f"short-{uuid.uuid4().hex[:8]}", SecretString="tiny"
    )["ARN"]
    parameters.clear_caches()
    with pytest.raises(ConfigError, match="CURSOR_KEY_SECRET_ARN"):
        secret_key(arn)()
    parameters.clear_caches()
