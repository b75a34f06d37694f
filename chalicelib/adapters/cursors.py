"""Signed pagination cursors: a page's last DynamoDB key, bound to its listing by HMAC-SHA256.

A cursor is `<payload>.<signature>` in unpadded base64url: the payload is the JSON of the last
evaluated key, the signature HMAC-SHA256(key, "cursor/v1", listing, payload). A cursor that
was altered, truncated, made up, or taken from another listing (another state, index or
repository) fails verification and is a 400. A verified key must still hold exactly the
attributes the listing's index needs, as strings, with the listing's partition value, so even
a cursor signed with a leaked key cannot make DynamoDB fail.

The HMAC key comes from the secret named by CURSOR_KEY_SECRET_ARN (the deployment template
creates one); without it, it is derived from the table name, which detects tampering and
cross-listing use but lets anyone who knows the table name sign a cursor (still validated).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from typing import Any

from chalicelib.core.errors import InvalidRequest

VERSION = b"cursor/v1"
KEY_MAX_AGE_SECONDS = 300
MIN_SECRET_LENGTH = 32
MAX_VALUE_LENGTH = 1024  # DynamoDB key attributes are at most 2048 (hash) / 1024 (range) bytes

INVALID = "cursor is not valid for this listing; pass next_cursor from the previous page"


class CursorCodec:
    """Encodes and verifies the cursors of one deployment's listings."""

    def __init__(self, key: Callable[[], bytes]) -> None:
        self._key = key

    def encode(self, last_key: Mapping[str, Any], listing: str) -> str:
        payload = _b64(json.dumps(dict(last_key), sort_keys=True, separators=(",", ":")).encode())
        return f"{payload}.{_b64(self._sign(listing, payload))}"

    def decode(
        self, cursor: str, listing: str, attributes: frozenset[str], partition: tuple[str, str]
    ) -> dict[str, Any]:
        """The ExclusiveStartKey a cursor stands for; InvalidRequest unless this deployment
        signed it for this listing and it has the shape `attributes` and `partition` name."""
        payload, dot, signature = cursor.partition(".")
        if not dot or not payload or not signature:
            raise InvalidRequest(INVALID)
        try:
            given = _unb64(signature)
        except ValueError:
            raise InvalidRequest(INVALID) from None
        if not hmac.compare_digest(given, self._sign(listing, payload)):
            raise InvalidRequest(INVALID)
        try:
            key = json.loads(_unb64(payload))
        except ValueError:  # also UnicodeDecodeError and JSONDecodeError
            raise InvalidRequest(INVALID) from None
        if not _well_formed(key, attributes, partition):
            raise InvalidRequest(INVALID)
        return dict(key)

    def _sign(self, listing: str, payload: str) -> bytes:
        message = b"\n".join([VERSION, listing.encode(), payload.encode()])
        return hmac.new(self._key(), message, hashlib.sha256).digest()


def _well_formed(key: Any, attributes: frozenset[str], partition: tuple[str, str]) -> bool:
    if not isinstance(key, dict) or set(key) != attributes:
        return False
    for value in key.values():
        if not (isinstance(value, dict) and set(value) == {"S"} and isinstance(value["S"], str)):
            return False
        if not 0 < len(value["S"]) <= MAX_VALUE_LENGTH:
            return False
    name, expected = partition
    return bool(key[name]["S"] == expected)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as error:
        raise ValueError("not base64url") from error


def secret_key(secret_arn: str) -> Callable[[], bytes]:
    """The HMAC key held in a Secrets Manager secret, read on first use and cached for
    KEY_MAX_AGE_SECONDS (a rotated key is picked up; cursors signed before it turn invalid)."""

    def read() -> bytes:
        from aws_lambda_powertools.utilities.parameters import get_secret

        from chalicelib.core.errors import ConfigError

        value = get_secret(secret_arn, max_age=KEY_MAX_AGE_SECONDS)
        text = value.strip() if isinstance(value, str) else ""
        if len(text) < MIN_SECRET_LENGTH:
            raise ConfigError(
                f"CURSOR_KEY_SECRET_ARN: the secret must hold at least {MIN_SECRET_LENGTH} "
                "characters of random text"
            )
        return text.encode()

    return read


def table_key(table: str) -> Callable[[], bytes]:
    """The fallback key, derived from the table name; says so once per container."""

    @functools.cache
    def derive() -> bytes:
        from chalicelib.observability import logger

        logger.info(
            "CURSOR_KEY_SECRET_ARN is not set: pagination cursors are signed with a key derived "
            "from the table name, so they are tamper-evident but not secret"
        )
        return hashlib.sha256(b"ecr-replication-auditor " + VERSION + table.encode()).digest()

    return derive
