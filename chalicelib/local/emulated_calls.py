"""The emulator's workload layer's plumbing (emulated_workloads.py): one intercepted call and
its answer, the JSON 1.1 error and answer shapes, the list calls' pages, and image
references resolved against moto's ECR."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from chalicelib.core.image_references import ImageReference, parse_image_reference

App = Callable[..., Iterable[bytes]]


class ApiError(Exception):
    """An AWS error answer: its code, message and HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


@dataclass
class Answer:
    """An HTTP answer: status, headers, body."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"{}")

    def with_json(self, value: Any) -> Answer:
        data = json.dumps(value, default=str).encode()
        headers = [(k, v) for k, v in self.headers if k.lower() != "content-length"]
        return Answer(self.status, [*headers, ("Content-Length", str(len(data)))], data)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass
class Call:
    """One signed request: who made it, where, which operation; it can go on to moto."""

    account: str
    region: str
    service: str
    operation: str
    environ: dict[str, Any]
    raw: bytes
    app: App

    def body(self) -> dict[str, Any]:
        try:
            value = json.loads(self.raw or b"{}")
        except ValueError:
            raise ApiError("SerializationException", "the request body is not JSON") from None
        if not isinstance(value, dict):
            raise ApiError("SerializationException", "the request body is not a JSON object")
        return value

    def query(self, name: str) -> str | None:
        from urllib.parse import parse_qs

        values = parse_qs(self.environ.get("QUERY_STRING", "")).get(name)
        return values[0] if values else None

    def forward(self, raw: bytes | None = None) -> Answer:
        """moto's answer to this request (with `raw` as its body when given)."""
        data = self.raw if raw is None else raw
        environ = {**self.environ, "wsgi.input": io.BytesIO(data), "CONTENT_LENGTH": str(len(data))}
        seen: dict[str, Any] = {}

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            seen["status"], seen["headers"] = status, headers
            return lambda _data: None

        result = self.app(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return Answer(int(str(seen["status"]).split()[0]), list(seen["headers"]), body)


class Registries:
    """moto's ECR, read as ECS and Lambda read it when they resolve an image."""

    def __init__(self, backends: Any = None) -> None:
        if backends is None:
            from moto.ecr.models import ecr_backends as backends
        self._backends = backends

    def digest_of(self, reference: ImageReference) -> str | None:
        """The digest `reference` names in its registry now, None when it names nothing there."""
        if reference.account not in self._backends:
            return None
        repository = self._backends[reference.account][reference.region].repositories.get(
            reference.repository
        )
        if repository is None:
            return None
        for image in repository.images:
            if reference.digest is not None:
                if image.image_digest == reference.digest:
                    return str(image.image_digest)
            elif reference.tag in image.image_tags:
                return str(image.image_digest)
        return None

    def resolve(self, image: str) -> str | None:
        """The digest an image string resolves to now; None for other registries or no image."""
        reference = parse_image_reference(image)
        return None if reference is None else self.digest_of(reference)


def json_error(error: ApiError) -> Answer:
    """The JSON 1.1 protocol's error answer (ECS, ECR)."""
    data = json.dumps({"__type": error.code, "message": error.message}).encode()
    return Answer(error.status, [("Content-Type", "application/x-amz-json-1.1")], data)


def json_answer(value: Any) -> Answer:
    data = json.dumps(value, default=str).encode()
    return Answer(200, [("Content-Type", "application/x-amz-json-1.1")], data)


def page(
    items: list[Any], size: Any, token: Any, default: int, largest: int, name: str = "maxResults"
) -> tuple[list[Any], str | None]:
    """One page of `items` and the token of the next (None at the end), as the list calls give
    them; a size out of bounds or a token this layer did not give is InvalidParameterException."""
    size = default if size is None else size
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= largest:
        raise ApiError("InvalidParameterException", f"{name} must be between 1 and {largest}")
    start = 0
    if token is not None:
        if (
            not isinstance(token, str)
            or not token.startswith("emulated-")
            or not token[9:].isdigit()
        ):
            raise ApiError("InvalidParameterException", "Invalid token")
        start = int(token[9:])
    end = start + size
    return items[start:end], (f"emulated-{end}" if end < len(items) else None)
