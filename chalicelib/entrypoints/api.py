"""HTTP edge: query-parameter validation and the JSON error shape for app.py's routes."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from chalicelib.core.errors import Forbidden, InvalidRequest, LedgerLayoutError, NotFound
from chalicelib.core.lifecycle import DIGEST_RE, REPOSITORY_RE, TAG_RE
from chalicelib.observability import logger

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
MAX_REPOSITORY_LENGTH = 256
MAX_DIGEST_LENGTH = 512
MAX_CURSOR_LENGTH = 2048
# ASCII only: str.isdigit() accepts "²" and "٣", which int() then refuses or misreads.
_LIMIT = re.compile(r"[0-9]{1,3}")
_CURSOR = re.compile(r"[A-Za-z0-9_.=-]+")


def _names(names: list[str]) -> str:
    """Parameter names for an error message: a few, each cut short (they are user input)."""
    shown = [n[:40] + ("…" if len(n) > 40 else "") for n in names[:5]]
    return ", ".join(shown) + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def _only(params: Mapping[str, str], allowed: set[str]) -> None:
    """Every route refuses query parameters it does not take, and repeated ones."""
    unknown = sorted(set(params) - allowed)
    if unknown:
        takes = f"allowed: {', '.join(sorted(allowed))}" if allowed else "this route takes none"
        raise InvalidRequest(f"unknown query parameter(s): {_names(unknown)}; {takes}")
    getlist = getattr(params, "getlist", None)
    if getlist is not None:
        repeated = sorted(name for name in params if len(getlist(name)) > 1)
        if repeated:
            raise InvalidRequest(f"query parameter(s) given more than once: {_names(repeated)}")


def _limit(params: Mapping[str, str]) -> int:
    text = params.get("limit")
    if text is None:
        return DEFAULT_LIMIT
    if not _LIMIT.fullmatch(text) or not 1 <= int(text) <= MAX_LIMIT:
        raise InvalidRequest(f"limit must be a whole number from 1 to {MAX_LIMIT}")
    return int(text)


def _cursor(params: Mapping[str, str]) -> str | None:
    cursor = params.get("cursor")
    if cursor is None:
        return None
    if not cursor or len(cursor) > MAX_CURSOR_LENGTH or not _CURSOR.fullmatch(cursor):
        raise InvalidRequest("cursor is not valid; pass next_cursor from a previous page")
    return cursor


def no_query(params: Mapping[str, str] | None) -> None:
    """`/status`, `/repositories`, `/openapi.json`: no query parameters at all."""
    _only(params or {}, set())


def incidents_query(params: Mapping[str, str] | None) -> tuple[str, int, str | None]:
    params = params or {}
    _only(params, {"state", "limit", "cursor"})
    state = params.get("state", "open")
    if state not in ("open", "resolved", "all"):
        raise InvalidRequest("state must be one of open, resolved, all")
    return state, _limit(params), _cursor(params)


def workloads_query(params: Mapping[str, str] | None) -> str:
    """`/workloads?repository=R`: the repository, validated."""
    params = params or {}
    _only(params, {"repository"})
    return _repository(params, "/workloads?repository=team/api")


def _repository(params: Mapping[str, str], example: str) -> str:
    repository = params.get("repository")
    if not repository:
        raise InvalidRequest(f"repository is required, e.g. {example}")
    if len(repository) > MAX_REPOSITORY_LENGTH or not REPOSITORY_RE.fullmatch(repository):
        raise InvalidRequest("repository is not a valid ECR repository name")
    return repository


def images_query(
    params: Mapping[str, str] | None,
) -> tuple[str, str | None, str | None, int, str | None]:
    params = params or {}
    _only(params, {"repository", "digest", "tag", "limit", "cursor"})
    repository = _repository(params, "/images?repository=team/api")
    digest, tag = params.get("digest"), params.get("tag")
    if digest is not None and tag is not None:
        raise InvalidRequest("pass digest or tag, not both")
    if digest is not None and (len(digest) > MAX_DIGEST_LENGTH or not DIGEST_RE.fullmatch(digest)):
        raise InvalidRequest("digest must look like sha256:<hex>")
    if tag is not None and not TAG_RE.fullmatch(tag):
        raise InvalidRequest("tag is not a valid image tag")
    if (digest is not None or tag is not None) and ("cursor" in params or "limit" in params):
        raise InvalidRequest("limit and cursor apply only when listing a whole repository")
    return repository, digest, tag, _limit(params), _cursor(params)


def gate_query(params: Mapping[str, str] | None) -> tuple[str, str | None, str | None]:
    """`GET /gate`'s parameters: repository and exactly one of digest and tag."""
    params = params or {}
    _only(params, {"repository", "digest", "tag"})
    if not params.get("repository"):
        raise InvalidRequest("repository is required, e.g. /gate?repository=team/api&tag=v1")
    repository, digest, tag, _, _ = images_query(params)
    if (digest is None) == (tag is None):
        raise InvalidRequest("pass exactly one of digest and tag")
    return repository, digest, tag


def respond(produce: Callable[[], Any]) -> Any:
    """Run a route body; map the project's errors to `{"error": ...}` with a 4xx status (a
    ledger in a layout this release does not know: 503, saying what to do)."""
    from chalice import Response

    try:
        return produce()
    except InvalidRequest as error:
        return Response(body={"error": str(error)}, status_code=400)
    except NotFound as error:
        return Response(body={"error": str(error)}, status_code=404)
    except Forbidden as error:
        return Response(body={"error": str(error)}, status_code=403)
    except LedgerLayoutError as error:
        logger.error(str(error))
        return Response(body={"error": str(error)}, status_code=503)


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


def openapi_document() -> dict[str, Any]:
    """`GET /openapi.json`: the OpenAPI 3 description of this API, shipped beside this module."""
    return _read_openapi()


@functools.cache
def _read_openapi() -> dict[str, Any]:
    return dict(json.loads((Path(__file__).parent / "openapi.json").read_text(encoding="utf-8")))
