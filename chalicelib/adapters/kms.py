"""KmsMac: HMAC-SHA-256 with a KMS HMAC key (GenerateMac, VerifyMac), for dashboard links."""

from __future__ import annotations

from typing import Any

ALGORITHM = "HMAC_SHA_256"


class KmsMac:
    """The key material never leaves KMS; a MAC that does not verify is False, not an error."""

    def __init__(self, client: Any, key_id: str) -> None:
        self._client = client
        self._key_id = key_id

    def generate(self, message: bytes) -> bytes:
        answer = self._client.generate_mac(
            KeyId=self._key_id, Message=message, MacAlgorithm=ALGORITHM
        )
        return bytes(answer["Mac"])

    def verify(self, message: bytes, mac: bytes) -> bool:
        if not mac:
            return False
        try:
            answer = self._client.verify_mac(
                KeyId=self._key_id, Message=message, Mac=mac, MacAlgorithm=ALGORITHM
            )
        except self._client.exceptions.KMSInvalidMacException:
            return False
        return bool(answer.get("MacValid"))
