"""Local HTTP runs (`chalice local`, chalice.test.Client, the demo) answer an unknown route with
a 404 `{"error": ...}`, an unknown method (TRACE, CONNECT, any token) with a 405, and an
authorizer's refusal (the dashboard link's 401/403, a gate token's 401) in the same shape as
every other error. An authorizer that fails with "Unauthorized" is a 401 and any other failure
a 500, as API Gateway answers them.

Chalice's local gateway imitates API Gateway, which answers a path it has no resource for with
403 `{"message": "Missing Authentication Token"}` before the app runs, so the app's own error
middleware never sees it. Unknown methods of a known route reach the app and get its 405.
The deployed API answers both in the same `{"error": ...}` shape through the gateway responses
of infra/app-resources.json, with API Gateway's 403 (it does not tell unsigned callers which
routes exist).

It lives beside the app's modules rather than in chalicelib/local/ (the demo's and the tests'
tooling, which drives the app) because app.py installs it whenever chalice.local is loaded.
"""

from __future__ import annotations

import json
import sys
from typing import Any
from urllib.parse import urlsplit

_MARK = "_answers_unknown_routes_as_json"


def install_if_local() -> None:
    """Install only where Chalice's local gateway is in use: never imported in Lambda."""
    if "chalice.local" in sys.modules:
        install()


def install() -> None:
    """Make chalice.local answer unknown routes and methods in JSON (idempotent)."""
    from chalice.local import (
        ChaliceRequestHandler,
        LocalGateway,
        LocalGatewayException,
        RouteMatcher,
    )

    original = LocalGateway.handle_request
    if getattr(original, _MARK, False):
        return

    # http.server answers a method its handler has no do_<METHOD> for (TRACE, CONNECT, QUERY,
    # any token) with a 501 HTML page; passed to the app like the others, it gets a JSON 405
    # (or the 404 below).
    def any_method(self: Any, name: str) -> Any:
        if name.startswith("do_"):
            return self._generic_handle
        raise AttributeError(name)

    ChaliceRequestHandler.__getattr__ = any_method  # type: ignore[attr-defined]

    class RouteNotFound(LocalGatewayException):
        CODE = 404

    class AuthorizerFailed(LocalGatewayException):
        CODE = 500

    class Unauthorized(LocalGatewayException):
        CODE = 401

    def handle_request(self: Any, method: str, path: str, headers: Any, body: Any) -> Any:
        try:
            RouteMatcher(list(self._app_object.routes)).match_route(path)
        except ValueError:
            shown = urlsplit(path).path[:100]
            message = f"no route {method} {shown}; the API is described at /openapi.json"
            raise RouteNotFound(
                {"Content-Type": "application/json"}, json.dumps({"error": message}).encode()
            ) from None
        json_type = {"Content-Type": "application/json"}
        try:
            return original(self, method, path, headers, body)
        except LocalGatewayException as error:  # an authorizer's 401/403: the API's error shape
            error.body = _as_error(error.body)
            raise
        except Exception as error:  # only an authorizer's failure gets here (views answer 500)
            # API Gateway: a Lambda authorizer failing with "Unauthorized" is a 401, any other
            # failure a 500 (AUTHORIZER_FAILURE); never the route.
            if str(error) == "Unauthorized":
                raise Unauthorized(json_type, b'{"error": "Unauthorized"}') from None
            raise AuthorizerFailed(json_type, b'{"error": "the authorizer failed"}') from None

    setattr(handle_request, _MARK, True)
    LocalGateway.handle_request = handle_request  # type: ignore[method-assign]


def _as_error(body: bytes | None) -> bytes | None:
    """`{"message": ...}` (API Gateway's words) as `{"error": ...}`, as the deployed API's
    gateway responses answer."""
    try:
        parsed = json.loads(body or b"")
    except ValueError:
        return body
    if not isinstance(parsed, dict) or "error" in parsed:
        return body
    message = parsed.get("message") or parsed.get("Message")
    return json.dumps({"error": message}).encode() if isinstance(message, str) else body
