"""The HTTP API fuzzed with schemathesis from its shipped OpenAPI document, over real HTTP.

The server is `chalice local --no-autoreload` (a child process on a free 127.0.0.1 port) on a
ledger in the moto server, with a small day of events replayed in. Every response must conform
to chalicelib/entrypoints/openapi.json (status, content type, body schema), invalid input must
be refused, and nothing may answer 5xx; every error is exactly `{"error": "..."}` with a 4xx.
Random paths and methods probe the routes the document does not have. `FUZZ_EXAMPLES` (default
25 per operation and mode) bounds the run; the figures land in test-artifacts/api-fuzz.json.
"""

from __future__ import annotations

import collections
import json
import os
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import ignored_auth, positive_data_acceptance

from tests import events as ev
from tests.chalice_local import serving

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "chalicelib" / "entrypoints" / "openapi.json"
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
ARTIFACT = ROOT / "test-artifacts" / "api-fuzz.json"

schema = schemathesis.openapi.from_path(DOCUMENT)
schema.config.generation.update(modes=["positive", "negative"], max_examples=EXAMPLES)

STATUSES: collections.Counter[int] = collections.Counter()
BAD_ERRORS: list[str] = []


def record(method: str, path: str, status: int, content_type: str, body: bytes | None) -> None:
    """Count one answer; an error that is not a 4xx `{"error": str}` is kept for the report
    (`body` None: a HEAD request, whose answer has no body to check)."""
    STATUSES[status] += 1
    if status >= 500:
        BAD_ERRORS.append(f"{method} {path[:200]} -> {status}")
    if status < 400 or body is None:
        return
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    shaped = (
        isinstance(parsed, dict) and set(parsed) == {"error"} and isinstance(parsed["error"], str)
    )
    if status >= 500 or not shaped or not content_type.startswith("application/json"):
        BAD_ERRORS.append(f"{method} {path[:200]} -> {status} {content_type} {body[:200]!r}")


def day_of_events() -> list[dict[str, Any]]:
    """Pushes to three repositories, arrivals, a failure and a missing replica, sweeps."""
    events = []
    for n, repo in enumerate(("team/api", "team/web", "ops/agent")):
        for m in range(3):
            events.append(ev.push(ev.DEV, repo, f"v{m}", ev.digest(f"{repo}{m}"), ev.at(n + m)))
        events.append(
            ev.replication(ev.PROD, ev.DEV, repo, "v0", ev.digest(f"{repo}0"), ev.at(n + 5))
        )
    events.append(
        ev.replication(ev.DR, ev.DEV, "team/api", "v1", ev.digest("team/api1"), ev.at(9), False)
    )
    events.append(ev.schedule(ev.at(45)))  # the rest is missing by now
    events.append(
        ev.replication(ev.DR, ev.DEV, "team/web", "v0", ev.digest("team/web0"), ev.at(50))
    )
    events.append(ev.schedule(ev.at(55)))
    return events


@pytest.fixture(scope="module")
def fuzz_server(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app under `chalice local`, on a fresh ledger with a day of events replayed in."""
    import boto3

    import app as app_module
    from chalicelib import bootstrap
    from chalicelib.local.provision import provision
    from chalicelib.local.replay import Replayer

    session = boto3.session.Session(region_name="us-east-1")
    env = provision(session, suffix=f"fuzz-{uuid.uuid4().hex[:8]}")
    env.update(REPLICATION_CONFIG=json.dumps(ev.DEFAULT_CONFIG), ALERT_FORMAT="json")
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        patch.delenv("MONITORED_ACCOUNTS", raising=False)
        patch.delenv("SLACK_WEBHOOK_SECRET_ARN", raising=False)
        bootstrap.reset()
        with Replayer(app_module.app, ROOT) as replayer:
            for event in day_of_events():
                replayer.deliver(event)
        bootstrap.reset()
        log = tmp_path_factory.mktemp("chalice-local") / "server.log"
        with serving(os.environ, log) as base:
            yield base
        bootstrap.reset()


def test_the_document_names_every_route_of_the_app():
    from app import app

    document = json.loads(DOCUMENT.read_text())
    assert set(document["paths"]) == set(app.routes)
    for path, methods in app.routes.items():
        assert set(document["paths"][path]) == {m.lower() for m in methods}, path


def test_the_document_is_served(fuzz_server):
    with urllib.request.urlopen(f"{fuzz_server}/openapi.json") as response:
        assert response.headers["Content-Type"].startswith("application/json")
        assert json.loads(response.read()) == json.loads(DOCUMENT.read_text())


@schema.parametrize()
@settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_conforms_to_its_document(case, fuzz_server):
    response = case.call(base_url=fuzz_server, timeout=30)
    content_type = next(
        (v[0] for k, v in response.headers.items() if k.lower() == "content-type"), ""
    )
    record(case.method, case.formatted_path, response.status_code, content_type, response.content)
    # Every built-in check but two that do not fit: a schema-valid cursor is still refused
    # unless this deployment signed it (positive_data_acceptance), and local runs have no
    # authentication to ignore (ignored_auth; deployed stages use IAM).
    case.validate_response(response, excluded_checks=[positive_data_acceptance, ignored_auth])
    assert response.status_code < 500


SEGMENT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=12
).map(lambda s: urllib.parse.quote(s, safe=""))
METHODS = st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"])


@settings(
    max_examples=EXAMPLES * 4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(method=METHODS, segments=st.lists(SEGMENT, min_size=1, max_size=4), query=st.booleans())
def test_unknown_routes_and_methods_answer_the_error_shape(fuzz_server, method, segments, query):
    path = "/" + "/".join(segments) + ("?limit=1&x=%C2%B2" if query else "")
    request = urllib.request.Request(fuzz_server + path, method=method, data=b"{}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, headers, body = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, headers, body = error.code, error.headers, error.read()
    record(
        method, path, status, headers.get("Content-Type", ""), None if method == "HEAD" else body
    )
    assert status < 500
    if status < 400:  # only a GET of a route the app has (random text may spell one)
        from app import app

        assert method == "GET" and urllib.parse.urlsplit(path).path in app.routes


def test_fuzzing_found_no_server_error_and_only_json_errors(fuzz_server):
    """The figures of the whole module (run last): requests, statuses, misshapen errors."""
    total = sum(STATUSES.values())
    if not total:
        pytest.skip("run with the fuzzing tests above to get the figures")
    ARTIFACT.parent.mkdir(exist_ok=True)
    ARTIFACT.write_text(
        json.dumps(
            {
                "requests": total,
                "server_errors": sum(n for s, n in STATUSES.items() if s >= 500),
                "statuses": {str(s): n for s, n in sorted(STATUSES.items())},
                "misshapen_errors": BAD_ERRORS[:50],
                "examples_per_operation_and_mode": EXAMPLES,
            },
            indent=2,
        )
        + "\n"
    )
    assert BAD_ERRORS == []
    assert all(status < 500 for status in STATUSES)
    assert {200, 400, 404, 405} <= set(STATUSES)
