"""The dashboard for browsers without SigV4: `/view` routes behind a dashboard-link authorizer.

A person opens `…/view#token=…` (minted by `ecr-audit dashboard-link`). The page itself is the
same static HTML as `GET /` and holds no data, so it needs no credentials; every request for
data sends the token as `Authorization: Bearer …`, checked by the `dashboard_link` authorizer
(chalicelib/core/links.py, a KMS HMAC key). Read-only: three GET routes, nothing else.
The IAM-authorised routes in app.py are unchanged. Threat model: README, "Opening the
dashboard in a browser".
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from collections.abc import Mapping
from typing import Any

from chalice import AuthResponse, AuthRoute, Blueprint, Response

from chalicelib import bootstrap
from chalicelib.core.errors import InvalidRequest
from chalicelib.entrypoints import api
from chalicelib.observability import logger
from chalicelib.usecases import queries

PREFIX = "/view"
DATA_ROUTES = ("/status", "/repositories", "/incidents")
# API Gateway keeps an answer per token this long: a revoked or expired link may read on for
# at most this much, and KMS sees one VerifyMac per token per period.
AUTHORIZER_CACHE_SECONDS = 60

view = Blueprint(__name__)


@view.authorizer(ttl_seconds=AUTHORIZER_CACHE_SECONDS)
def dashboard_link(auth_request: Any) -> Any:
    from chalicelib.core import links

    try:
        link = links.check(auth_request.token, bootstrap.link_mac(), bootstrap.wall_clock())
    except links.InvalidLink as problem:
        logger.info("dashboard link refused", extra={"reason": str(problem)})
        return _deny(auth_request.method_arn)
    except Exception:  # KMS unreachable or the key disabled: refuse, and say why in the log
        logger.exception("dashboard link could not be checked")
        return _deny(auth_request.method_arn)
    # Once per token and cache period: who minted the link that reads the dashboard.
    logger.info(
        "dashboard link accepted",
        extra={"subject": link.subject, "expires_at": link.expires_at.isoformat()},
    )
    return AuthResponse(
        routes=[AuthRoute(PREFIX + path, ["GET"]) for path in DATA_ROUTES],
        principal_id=f"link:{link.subject}",
        context={"expires_at": link.expires_at.isoformat()},
    )


def _deny(method_arn: str) -> dict[str, Any]:
    return {
        "principalId": "anonymous",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": method_arn}
            ],
        },
    }


def _no_parameters(params: Mapping[str, str] | None) -> None:
    if params:
        raise InvalidRequest(
            f"unknown query parameter(s): {', '.join(sorted(params))}; this route takes none"
        )


@view.route("/", methods=["GET"])
def page() -> Response:
    return Response(body=api.dashboard_html(), headers=page_headers())


@view.route("/status", methods=["GET"], authorizer=dashboard_link)
def status() -> Response:
    def body() -> dict:
        _no_parameters(view.current_request.query_params)
        return queries.status(bootstrap.deps())

    return api.respond(body)


@view.route("/repositories", methods=["GET"], authorizer=dashboard_link)
def repositories() -> Response:
    def body() -> dict:
        _no_parameters(view.current_request.query_params)
        return queries.repositories(bootstrap.deps())

    return api.respond(body)


@view.route("/incidents", methods=["GET"], authorizer=dashboard_link)
def incidents() -> Response:
    def body() -> dict:
        state, limit, cursor = api.incidents_query(view.current_request.query_params)
        return queries.list_incidents(state, limit, cursor, bootstrap.deps())

    return api.respond(body)


def page_headers() -> dict[str, str | list[str]]:
    """The page may run its own inline script and style and talk to its own origin only, so
    even a bug in it cannot send the token elsewhere; it leaks no Referer and is not cached."""
    script, style = _inline_hashes()
    policy = "; ".join(
        [
            "default-src 'none'",
            f"script-src '{script}'",
            f"style-src '{style}'",
            "connect-src 'self'",
            "img-src data:",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'self'",
        ]
    )
    return {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": policy,
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }


@functools.cache
def _inline_hashes() -> tuple[str, str]:
    """CSP source expressions for the page's one inline script and one inline style."""
    page = api.dashboard_html()

    def digest(tag: str) -> str:
        (content,) = re.findall(rf"<{tag}>(.*?)</{tag}>", page, re.S)
        hashed = base64.b64encode(hashlib.sha256(content.encode()).digest()).decode()
        return f"sha256-{hashed}"

    return digest("script"), digest("style")
