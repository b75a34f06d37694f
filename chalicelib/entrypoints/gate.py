"""`GET /gate`: the deploy gate for CI systems that cannot sign SigV4 requests.

Kargo's `http` step, GitLab and Jenkins jobs, GitHub Actions without an AWS role poll it with
`Authorization: Bearer <token>`, a gate token that `ecr-audit gate-token` minted
(chalicelib/core/links.py: KMS HMAC, scoped to a repository prefix, expiring). The `gate_token`
authorizer checks the signature and expiry: a forged, expired or missing token is a 401 (the
authorizer fails with "Unauthorized", which API Gateway and the local gateway answer so). It
passes the token's prefix on; the route answers 403 for a repository outside it (a TOKEN
authorizer never sees the query), and the verdict of chalicelib/usecases/gate.py otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalice import AuthResponse, AuthRoute, Blueprint, Response

from chalicelib import bootstrap
from chalicelib.core.errors import Forbidden
from chalicelib.entrypoints import api
from chalicelib.observability import logger

PATH = "/gate"
# API Gateway keeps an answer per token this long: an expired token may pass for at most this
# much more, and KMS sees one VerifyMac per token per period however often a pipeline polls.
AUTHORIZER_CACHE_SECONDS = 60

gate = Blueprint(__name__)


class Unauthorized(Exception):
    """Raised by the authorizer with API Gateway's magic message: the caller gets a 401."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


@gate.authorizer(ttl_seconds=AUTHORIZER_CACHE_SECONDS)
def gate_token(auth_request: Any) -> Any:
    from chalicelib.core import links

    try:
        token = links.check_gate(auth_request.token, bootstrap.link_mac(), bootstrap.wall_clock())
    except links.InvalidToken as problem:
        logger.info("gate token refused", extra={"reason": str(problem)})
        raise Unauthorized() from None
    # KMS unreachable or the key disabled: the authorizer fails (a 500), never a silent allow.
    logger.info(
        "gate token accepted",
        extra={
            "subject": token.subject,
            "prefix": token.prefix,
            "expires_at": str(token.expires_at),
        },
    )
    return AuthResponse(
        routes=[AuthRoute(PATH, ["GET"])],
        principal_id=f"gate:{token.subject}",
        context={"prefix": token.prefix, "expires_at": token.expires_at.isoformat()},
    )


def scope(context: Mapping[str, Any] | None) -> str:
    """The repository prefix the authorizer passed on; none at all is a refusal."""
    authorizer = (context or {}).get("authorizer") or {}
    prefix = authorizer.get("prefix")
    if not isinstance(prefix, str):
        raise Forbidden("no gate token was checked for this request")
    return prefix


@gate.route(PATH, methods=["GET"], authorizer=gate_token)
def get_gate() -> Response:
    request = gate.current_request

    def body() -> dict:
        from chalicelib.usecases import gate as gate_usecase

        repository, digest, tag = api.gate_query(request.query_params)
        prefix = scope(request.context)
        if not repository.startswith(prefix):
            raise Forbidden(
                f"this gate token covers repositories starting with {prefix!r}, not {repository!r}"
            )
        deps = bootstrap.deps()
        return gate_usecase.gate_answer(
            repository, deps, bootstrap.wall_clock(), digest=digest, tag=tag
        )

    return api.respond(body)
