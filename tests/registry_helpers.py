"""Test helpers for the registry side: several moto accounts, images with chosen digests, and the
in-memory rules store (the fake of registry_rules.RulesStore)."""

from __future__ import annotations

import json
import random
import uuid
from typing import Any

from chalicelib.core.lifecycle import Location
from chalicelib.usecases.registry_rules import StoredRules

ROLE = "ecr-replication-auditor-read"
MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"


def unique(name: str) -> str:
    """moto's state lives as long as the server: give every test its own repositories."""
    return f"{name}-{uuid.uuid4().hex[:8]}"


def new_account() -> str:
    return "4" + "".join(random.choices("0123456789", k=11))


def manifest(digest: str) -> str:
    # A distinct manifest per digest: moto treats an identical manifest as the same image.
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MEDIA_TYPE,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": digest,
                "size": 1,
            },
            "layers": [],
        }
    )


def put_image(ecr: Any, repository: str, digest: str, tag: str | None = None) -> None:
    params: dict[str, Any] = {
        "repositoryName": repository,
        "imageManifest": manifest(digest),
        "imageDigest": digest,
    }
    if tag:
        params["imageTag"] = tag
    ecr.put_image(**params)


class InMemoryRulesStore:
    """The rules store's fake: records what it was given, like the ledger item would."""

    def __init__(self) -> None:
        self.items: dict[Location, StoredRules] = {}
        self.loads = 0
        self.saves: list[StoredRules] = []

    def load_all(self) -> dict[Location, StoredRules]:
        self.loads += 1
        return dict(self.items)

    def save(self, rules: StoredRules) -> None:
        self.saves.append(rules)
        current = self.items.get(rules.source)
        if current is None or current.fetched_at < rules.fetched_at:
            self.items[rules.source] = rules
