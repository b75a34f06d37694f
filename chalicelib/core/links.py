"""Signed tokens that open the API without SigV4: dashboard links and deploy-gate tokens.

A token is `v1.<payload>.<mac>`: the payload (base64url JSON) says when it was issued, when it
expires and who minted it, and a gate token also the repository prefix it may ask about; the MAC
is HMAC-SHA-256 over the payload by a KMS HMAC key, so the key never leaves KMS, minting needs
`kms:GenerateMac` on that key (an IAM decision, and one CloudTrail entry per token), and checking
needs `kms:VerifyMac` (the authorizers' only permission). Each kind of token signs with its own
context, so a dashboard link is no gate token and the reverse, though one key signs both.
Pure functions over a `Mac` port; the KMS adapter is chalicelib/adapters/kms.py.
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
CLOCK_SKEW = timedelta(minutes=5)
MAX_TOKEN_LENGTH = 2048
SUBJECT_MAX = 200
_SUBJECT_SAFE = re.compile(r"[^A-Za-z0-9:/+=,.@_-]")


class Mac(Protocol):
    """Generates and verifies MACs with a key that stays elsewhere (KMS)."""

    def generate(self, message: bytes) -> bytes: ...

    def verify(self, message: bytes, mac: bytes) -> bool: ...


class InvalidToken(ValueError):
    """The token is malformed, expired, too long-lived or not signed by the key."""


InvalidLink = InvalidToken  # a dashboard link's refusal (the name its callers know)


@dataclass(frozen=True)
class Purpose:
    """One kind of token: what its MAC is bound to and how long it may live."""

    name: str
    context: bytes  # binds a MAC to this use: the key signing anything else makes no token
    max_lifetime: timedelta  # enforced when checking, whatever the minter asked for


DASHBOARD_LINK = Purpose(
    "dashboard link", b"ecr-replication-auditor/dashboard-link/", timedelta(hours=24)
)
# A CI system keeps its gate token as a secret for months; the scope limits what it can read.
GATE_TOKEN = Purpose("gate token", b"ecr-replication-auditor/gate-token/", timedelta(days=366))

CONTEXT = DASHBOARD_LINK.context
DEFAULT_LIFETIME = timedelta(hours=8)  # a working day on a wall screen or a laptop
MAX_LIFETIME = DASHBOARD_LINK.max_lifetime
GATE_DEFAULT_LIFETIME = timedelta(days=90)
# A repository prefix: what ECR allows in a name, or nothing (every repository).
_PREFIX = re.compile(r"(?:[a-z0-9][a-z0-9._/-]{0,255})?")


@dataclass(frozen=True)
class Link:
    issued_at: datetime
    expires_at: datetime
    subject: str  # who minted it (their ARN), for the API's logs


@dataclass(frozen=True)
class GateToken:
    issued_at: datetime
    expires_at: datetime
    subject: str
    prefix: str  # the repositories it may ask about: those whose name starts with it

    def covers(self, repository: str) -> bool:
        return repository.startswith(self.prefix)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise InvalidLink("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise InvalidLink("not base64url") from None


def _message(purpose: Purpose, payload: str) -> bytes:
    return purpose.context + VERSION.encode() + b"." + payload.encode("ascii")


def sign(
    purpose: Purpose,
    mac: Mac,
    now: datetime,
    lifetime: timedelta,
    subject: str,
    extra: dict[str, str] | None = None,
) -> tuple[str, dict[str, object]]:
    """A token of `purpose` valid from `now` for `lifetime`, and the claims it carries."""
    subject = _SUBJECT_SAFE.sub("_", subject)[:SUBJECT_MAX] or "unknown"
    issued, expires = int(now.timestamp()), int((now + lifetime).timestamp())
    claims: dict[str, object] = {"iat": issued, "exp": expires, "sub": subject, **(extra or {})}
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{VERSION}.{payload}.{_b64(mac.generate(_message(purpose, payload)))}", claims


def verify(purpose: Purpose, token: str, mac: Mac, now: datetime) -> dict[str, object]:
    """The claims of a token of `purpose`; InvalidToken saying why not. Cheap checks before
    KMS: only a well-formed, current token costs a VerifyMac."""
    token = token.strip()
    if token[:7].lower() == "bearer ":
        token = token[7:].strip()
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidToken("missing or too long")
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != VERSION:
        raise InvalidToken(f"not a {VERSION} {purpose.name}")
    _, payload, signature = parts
    try:
        claims = json.loads(_unb64(payload))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidToken("payload is not JSON") from None
    if not isinstance(claims, dict):
        raise InvalidToken("payload is not an object")
    issued, expires, subject = claims.get("iat"), claims.get("exp"), claims.get("sub", "")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (issued, expires)):
        raise InvalidToken("iat and exp must be whole seconds")
    assert isinstance(issued, int) and isinstance(expires, int)  # for mypy
    if not isinstance(subject, str):
        raise InvalidToken("sub must be a string")
    moment = now.timestamp()
    if expires <= moment:
        raise InvalidToken("expired")
    if issued > moment + CLOCK_SKEW.total_seconds():
        raise InvalidToken("issued in the future")
    if expires - issued > purpose.max_lifetime.total_seconds():
        raise InvalidToken("lives longer than the maximum")
    if not mac.verify(_message(purpose, payload), _unb64(signature)):
        raise InvalidToken("bad signature")
    claims["sub"] = _SUBJECT_SAFE.sub("_", subject)[:SUBJECT_MAX]
    return claims


def _at(seconds: object, now: datetime) -> datetime:
    assert isinstance(seconds, int)
    return datetime.fromtimestamp(seconds, now.tzinfo)


# ----------------------------------------------------------------------------- dashboard links


def mint(mac: Mac, now: datetime, lifetime: timedelta, subject: str) -> tuple[str, Link]:
    """A dashboard link's token valid from `now` for `lifetime` (at most MAX_LIFETIME)."""
    if not timedelta(minutes=1) <= lifetime <= MAX_LIFETIME:
        raise ValueError(f"a link lives from 1 minute to {MAX_LIFETIME.total_seconds() / 3600:g} h")
    token, claims = sign(DASHBOARD_LINK, mac, now, lifetime, subject)
    return token, Link(_at(claims["iat"], now), _at(claims["exp"], now), str(claims["sub"]))


def check(token: str, mac: Mac, now: datetime) -> Link:
    """The link a token stands for; InvalidLink saying why not."""
    claims = verify(DASHBOARD_LINK, token, mac, now)
    return Link(_at(claims["iat"], now), _at(claims["exp"], now), str(claims["sub"]))


# ----------------------------------------------------------------------------- gate tokens


def valid_prefix(prefix: str) -> bool:
    return bool(_PREFIX.fullmatch(prefix))


def mint_gate(
    mac: Mac, now: datetime, lifetime: timedelta, subject: str, prefix: str
) -> tuple[str, GateToken]:
    """A token for `GET /gate` on the repositories starting with `prefix` ("": every one)."""
    if not timedelta(minutes=1) <= lifetime <= GATE_TOKEN.max_lifetime:
        raise ValueError(f"a gate token lives from 1 minute to {GATE_TOKEN.max_lifetime.days} days")
    if not valid_prefix(prefix):
        raise ValueError("the repository prefix has characters no ECR repository name has")
    token, claims = sign(GATE_TOKEN, mac, now, lifetime, subject, {"pfx": prefix})
    issued, expires = _at(claims["iat"], now), _at(claims["exp"], now)
    return token, GateToken(issued, expires, str(claims["sub"]), prefix)


def check_gate(token: str, mac: Mac, now: datetime) -> GateToken:
    """The gate token a bearer token stands for; InvalidToken saying why not."""
    claims = verify(GATE_TOKEN, token, mac, now)
    prefix = claims.get("pfx")
    if not isinstance(prefix, str) or not valid_prefix(prefix):
        raise InvalidToken("no repository prefix")
    return GateToken(_at(claims["iat"], now), _at(claims["exp"], now), str(claims["sub"]), prefix)


def url(base: str, token: str) -> str:
    """The link a person opens: the token in the fragment, which browsers never send."""
    return f"{base.rstrip('/')}#token={token}"
