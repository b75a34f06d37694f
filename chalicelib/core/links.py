"""Dashboard links: short-lived, signed tokens that let a browser read the dashboard without SigV4.

A token is `v1.<payload>.<mac>`: the payload (base64url JSON) says when it was issued, when it
expires and who minted it; the MAC is HMAC-SHA-256 over the payload by a KMS HMAC key, so the
key never leaves KMS, minting needs `kms:GenerateMac` on that key (an IAM decision, and one
CloudTrail entry per link), and checking needs `kms:VerifyMac` (the authorizer's only
permission). Pure functions over a `Mac` port; the KMS adapter is chalicelib/adapters/kms.py.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

VERSION = "v1"
# Binds a MAC to this use: the same key signing anything else cannot make a valid link.
CONTEXT = b"ecr-replication-auditor/dashboard-link/"
DEFAULT_LIFETIME = timedelta(hours=8)  # a working day on a wall screen or a laptop
MAX_LIFETIME = timedelta(hours=24)  # enforced when checking, whatever the minter asked for
CLOCK_SKEW = timedelta(minutes=5)
MAX_TOKEN_LENGTH = 2048
SUBJECT_MAX = 200
_SUBJECT_SAFE = re.compile(r"[^A-Za-z0-9:/+=,.@_-]")


class Mac(Protocol):
    """Generates and verifies MACs with a key that stays elsewhere (KMS)."""

    def generate(self, message: bytes) -> bytes: ...

    def verify(self, message: bytes, mac: bytes) -> bool: ...


class InvalidLink(ValueError):
    """The token is malformed, expired, too long-lived or not signed by the key."""


@dataclass(frozen=True)
class Link:
    issued_at: datetime
    expires_at: datetime
    subject: str  # who minted it (their ARN), for the API's logs


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise InvalidLink("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise InvalidLink("not base64url") from None


def _message(payload: str) -> bytes:
    return CONTEXT + VERSION.encode() + b"." + payload.encode("ascii")


def mint(mac: Mac, now: datetime, lifetime: timedelta, subject: str) -> tuple[str, Link]:
    """A token valid from `now` for `lifetime` (at most MAX_LIFETIME)."""
    if not timedelta(minutes=1) <= lifetime <= MAX_LIFETIME:
        raise ValueError(f"a link lives from 1 minute to {MAX_LIFETIME.total_seconds() / 3600:g} h")
    subject = _SUBJECT_SAFE.sub("_", subject)[:SUBJECT_MAX] or "unknown"
    issued, expires = int(now.timestamp()), int((now + lifetime).timestamp())
    body = json.dumps({"iat": issued, "exp": expires, "sub": subject}, separators=(",", ":"))
    payload = _b64(body.encode())
    token = f"{VERSION}.{payload}.{_b64(mac.generate(_message(payload)))}"
    link = Link(
        datetime.fromtimestamp(issued, now.tzinfo),
        datetime.fromtimestamp(expires, now.tzinfo),
        subject,
    )
    return token, link


def check(token: str, mac: Mac, now: datetime) -> Link:
    """The link a token stands for; InvalidLink saying why not. Cheap checks before KMS."""
    token = token.strip()
    if token[:7].lower() == "bearer ":
        token = token[7:].strip()
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidLink("missing or too long")
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != VERSION:
        raise InvalidLink(f"not a {VERSION} dashboard link")
    _, payload, signature = parts
    try:
        claims = json.loads(_unb64(payload))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidLink("payload is not JSON") from None
    if not isinstance(claims, dict):
        raise InvalidLink("payload is not an object")
    issued, expires, subject = claims.get("iat"), claims.get("exp"), claims.get("sub", "")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (issued, expires)):
        raise InvalidLink("iat and exp must be whole seconds")
    assert isinstance(issued, int) and isinstance(expires, int)  # for mypy
    if not isinstance(subject, str):
        raise InvalidLink("sub must be a string")
    moment = now.timestamp()
    if expires <= moment:
        raise InvalidLink("expired")
    if issued > moment + CLOCK_SKEW.total_seconds():
        raise InvalidLink("issued in the future")
    if expires - issued > MAX_LIFETIME.total_seconds():
        raise InvalidLink("lives longer than the maximum")
    if not mac.verify(_message(payload), _unb64(signature)):
        raise InvalidLink("bad signature")
    return Link(
        datetime.fromtimestamp(issued, now.tzinfo),
        datetime.fromtimestamp(expires, now.tzinfo),
        _SUBJECT_SAFE.sub("_", subject)[:SUBJECT_MAX],
    )


def url(base: str, token: str) -> str:
    """The link a person opens: the token in the fragment, which browsers never send."""
    return f"{base.rstrip('/')}#token={token}"
