"""HTTP edge: query-parameter validation and the JSON error shape for app.py's routes."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from chalicelib.domain import DIGEST_RE, REPOSITORY_RE, TAG_RE
from chalicelib.errors import InvalidRequest, NotFound
from chalicelib.observability import logger

DEFAULT_LIMIT = 50
MAX_LIMIT = 100


def _only(params: Mapping[str, str], allowed: set[str]) -> None:
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise InvalidRequest(
            f"unknown query parameter(s): {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(allowed))}"
        )


def _limit(params: Mapping[str, str]) -> int:
    text = params.get("limit")
    if text is None:
        return DEFAULT_LIMIT
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise InvalidRequest(f"limit must be a whole number from 1 to {MAX_LIMIT}")
    return int(text)


def _cursor(params: Mapping[str, str]) -> str | None:
    cursor = params.get("cursor")
    if cursor is not None and not cursor:
        raise InvalidRequest("cursor must not be empty")
    return cursor


def incidents_query(params: Mapping[str, str] | None) -> tuple[str, int, str | None]:
    params = params or {}
    _only(params, {"state", "limit", "cursor"})
    state = params.get("state", "open")
    if state not in ("open", "resolved", "all"):
        raise InvalidRequest("state must be one of open, resolved, all")
    return state, _limit(params), _cursor(params)


def images_query(
    params: Mapping[str, str] | None,
) -> tuple[str, str | None, str | None, int, str | None]:
    params = params or {}
    _only(params, {"repository", "digest", "tag", "limit", "cursor"})
    repository = params.get("repository")
    if not repository:
        raise InvalidRequest("repository is required, e.g. /images?repository=team/api")
    if len(repository) > 256 or not REPOSITORY_RE.match(repository):
        raise InvalidRequest("repository is not a valid ECR repository name")
    digest, tag = params.get("digest"), params.get("tag")
    if digest is not None and tag is not None:
        raise InvalidRequest("pass digest or tag, not both")
    if digest is not None and (len(digest) > 512 or not DIGEST_RE.match(digest)):
        raise InvalidRequest("digest must look like sha256:<hex>")
    if tag is not None and not TAG_RE.match(tag):
        raise InvalidRequest("tag is not a valid image tag")
    if (digest is not None or tag is not None) and ("cursor" in params or "limit" in params):
        raise InvalidRequest("limit and cursor apply only when listing a whole repository")
    return repository, digest, tag, _limit(params), _cursor(params)


def respond(produce: Callable[[], Any]) -> Any:
    """Run a route body; map the project's errors to `{"error": ...}` with a 4xx status."""
    from chalice import Response

    try:
        return produce()
    except InvalidRequest as error:
        return Response(body={"error": str(error)}, status_code=400)
    except NotFound as error:
        return Response(body={"error": str(error)}, status_code=404)


def json_errors(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """Chalice middleware: every error response uses our shape, never a stack trace."""
    from chalice import Response

    try:
        response = get_response(event)
    except Exception:
        logger.exception("unhandled error in route")
        return Response(body={"error": "internal error"}, status_code=500)
    body = response.body
    if response.status_code >= 400 and isinstance(body, dict) and "error" not in body:
        message = body.get("Message") or body.get("message") or "request failed"
        return Response(
            body={"error": message}, status_code=response.status_code, headers=response.headers
        )
    return response


def dashboard_html() -> str:
    """The self-contained dashboard page (read once per container)."""
    return _read_dashboard()


@functools.cache
def _read_dashboard() -> str:
    return (Path(__file__).parent / "dashboard.html").read_text(encoding="utf-8")
