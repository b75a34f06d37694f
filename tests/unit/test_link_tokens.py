"""Dashboard-link tokens: what the authorizer accepts and refuses, on an in-memory HMAC key."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.core import links

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


class InMemoryMac:
    """HMAC-SHA-256 with a key held here, as KMS holds it there; records what it verified."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)
        self.verified = 0

    def generate(self, message: bytes) -> bytes:
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def verify(self, message: bytes, mac: bytes) -> bool:
        self.verified += 1
        return hmac.compare_digest(self.generate(message), mac)


def signed(mac: InMemoryMac, claims: object) -> str:
    """A token whose payload the key really signed, whatever it says."""
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    signature = mac.generate(links.CONTEXT + b"v1." + payload.encode())
    return f"v1.{payload}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def test_a_minted_link_is_accepted_until_it_expires() -> None:
    mac = InMemoryMac()
    token, link = links.mint(mac, NOW, timedelta(hours=8), "arn:aws:iam::123456789012:user/ana")
    assert link.expires_at == NOW + timedelta(hours=8)
    checked = links.check(token, mac, NOW + timedelta(hours=7, minutes=59))
    assert checked.subject == "arn:aws:iam::123456789012:user/ana"
    assert links.check("Bearer " + token, mac, NOW).expires_at == link.expires_at
    with pytest.raises(links.InvalidLink, match="expired"):
        links.check(token, mac, NOW + timedelta(hours=8))


def test_a_link_from_another_key_or_tampered_is_refused() -> None:
    mac = InMemoryMac()
    token, _ = links.mint(mac, NOW, timedelta(hours=1), "ana")
    with pytest.raises(links.InvalidLink, match="bad signature"):
        links.check(token, InMemoryMac(), NOW)
    version, payload, signature = token.split(".")
    longer = signed(InMemoryMac(), {"iat": 0, "exp": 1}).split(".")[1]  # someone else's payload
    for forged in (
        f"{version}.{longer}.{signature}",
        f"{version}.{payload}.{signature[:-2]}AA",
        f"{version}.{payload}.",
    ):
        with pytest.raises(links.InvalidLink):
            links.check(forged, mac, NOW)


@pytest.mark.parametrize(
    "claims,problem",
    [
        ({"iat": 0, "exp": 2_000_000_000}, "lives longer than the maximum"),
        ({"iat": int(NOW.timestamp()) + 3600, "exp": int(NOW.timestamp()) + 7200}, "future"),
        ({"iat": "0", "exp": 2_000_000_000}, "whole seconds"),
        ({"iat": True, "exp": 2_000_000_000}, "whole seconds"),
        ({"exp": 2_000_000_000}, "whole seconds"),
        ([1, 2], "not an object"),
        (
            {"iat": int(NOW.timestamp()), "exp": int(NOW.timestamp()) + 60, "sub": 7},
            "sub must be a string",
        ),
    ],
)
def test_a_signed_token_still_obeys_the_rules(claims: object, problem: str) -> None:
    """The key signing something does not make it a valid link: the checker enforces limits."""
    mac = InMemoryMac()
    with pytest.raises(links.InvalidLink, match=problem):
        links.check(signed(mac, claims), mac, NOW)


@pytest.mark.parametrize(
    "token",
    ["", "Bearer ", "v2.a.b", "v1.a", "v1.!!.b", "v1.bm90IGpzb24.AA", "v1." + "a" * 3000 + ".b"],
)
def test_garbage_is_refused_without_asking_the_key(token: str) -> None:
    mac = InMemoryMac()
    with pytest.raises(links.InvalidLink):
        links.check(token, mac, NOW)
    assert mac.verified == 0, "cheap checks come before KMS"


def test_expired_links_are_refused_without_asking_the_key() -> None:
    mac = InMemoryMac()
    token, _ = links.mint(mac, NOW, timedelta(minutes=5), "ana")
    with pytest.raises(links.InvalidLink, match="expired"):
        links.check(token, mac, NOW + timedelta(hours=1))
    assert mac.verified == 0


@pytest.mark.parametrize("lifetime", [timedelta(seconds=30), timedelta(hours=25)])
def test_minting_refuses_a_lifetime_out_of_bounds(lifetime: timedelta) -> None:
    with pytest.raises(ValueError, match="a link lives"):
        links.mint(InMemoryMac(), NOW, lifetime, "ana")


def test_the_subject_is_kept_printable_and_short() -> None:
    mac = InMemoryMac()
    token, link = links.mint(mac, NOW, timedelta(hours=1), "evil\nname<script>" + "x" * 500)
    assert "\n" not in link.subject and "<" not in link.subject
    assert len(link.subject) <= links.SUBJECT_MAX
    assert links.check(token, mac, NOW).subject == link.subject


def test_the_url_carries_the_token_in_the_fragment() -> None:
    assert links.url("https://x/api/view/", "v1.a.b") == "https://x/api/view#token=v1.a.b"


# ----------------------------------------------------------------------------- gate tokens


def test_a_gate_token_covers_its_prefix_until_it_expires() -> None:
    mac = InMemoryMac()
    token, minted = links.mint_gate(mac, NOW, timedelta(days=90), "ci-role", "team/")
    assert minted.prefix == "team/" and minted.expires_at == NOW + timedelta(days=90)
    checked = links.check_gate("Bearer " + token, mac, NOW + timedelta(days=89))
    assert checked == minted
    assert checked.covers("team/api") and checked.covers("team/web/worker")
    assert not checked.covers("ops/agent") and not checked.covers("team")
    with pytest.raises(links.InvalidToken, match="expired"):
        links.check_gate(token, mac, NOW + timedelta(days=90))


def test_an_empty_prefix_covers_every_repository() -> None:
    mac = InMemoryMac()
    token, _ = links.mint_gate(mac, NOW, timedelta(days=1), "platform", "")
    assert links.check_gate(token, mac, NOW).covers("anything/at/all")


def test_a_dashboard_link_is_no_gate_token_and_the_reverse() -> None:
    """One key signs both; the context bound into each MAC keeps them apart."""
    mac = InMemoryMac()
    link, _ = links.mint(mac, NOW, timedelta(hours=1), "ana")
    gate, _ = links.mint_gate(mac, NOW, timedelta(hours=1), "ci", "team/")
    with pytest.raises(links.InvalidToken, match="bad signature"):
        links.check_gate(link, mac, NOW)
    with pytest.raises(links.InvalidToken, match="bad signature"):
        links.check(gate, mac, NOW)


def test_a_gate_token_cannot_be_widened_or_forged() -> None:
    mac = InMemoryMac()
    token, _ = links.mint_gate(mac, NOW, timedelta(days=1), "ci", "team/")
    version, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    widened = base64.urlsafe_b64encode(json.dumps({**claims, "pfx": ""}).encode()).rstrip(b"=")
    with pytest.raises(links.InvalidToken, match="bad signature"):
        links.check_gate(f"{version}.{widened.decode()}.{signature}", mac, NOW)
    other, _ = links.mint_gate(InMemoryMac(), NOW, timedelta(days=1), "ci", "team/")
    with pytest.raises(links.InvalidToken, match="bad signature"):
        links.check_gate(other, mac, NOW)


def test_a_signed_gate_token_still_obeys_the_rules() -> None:
    mac = InMemoryMac()
    now = int(NOW.timestamp())

    def signed_gate(claims: dict) -> str:
        payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
        mac_bytes = mac.generate(links.GATE_TOKEN.context + b"v1." + payload.encode())
        return f"v1.{payload}.{base64.urlsafe_b64encode(mac_bytes).rstrip(b'=').decode()}"

    forever = {"iat": now, "exp": now + 400 * 86400, "sub": "ci", "pfx": "team/"}
    with pytest.raises(links.InvalidToken, match="lives longer than the maximum"):
        links.check_gate(signed_gate(forever), mac, NOW)
    for prefix in (None, 7, "Team/", "../x"):
        claims = {"iat": now, "exp": now + 60, "sub": "ci", "pfx": prefix}
        with pytest.raises(links.InvalidToken, match="no repository prefix"):
            links.check_gate(signed_gate(claims), mac, NOW)


@pytest.mark.parametrize(
    "lifetime,prefix,problem",
    [
        (timedelta(days=367), "team/", "a gate token lives"),
        (timedelta(seconds=5), "team/", "a gate token lives"),
        (timedelta(days=1), "Team/", "characters no ECR repository name has"),
        (timedelta(days=1), "team api", "characters no ECR repository name has"),
    ],
)
def test_minting_a_gate_token_refuses_bad_requests(
    lifetime: timedelta, prefix: str, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        links.mint_gate(InMemoryMac(), NOW, lifetime, "ci", prefix)
