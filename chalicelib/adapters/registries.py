"""AuditedRegistries: every monitored registry through the audit role, as the sweep asks them.

The role cache (adapters/roles.py) keeps credentials and clients per account until shortly
before they expire, so an EcrRegistry is cheap to make for each question."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from chalicelib.adapters.ecr import EcrRegistry, registry_for
from chalicelib.core.lifecycle import Location


class AuditedRegistries:
    def __init__(self, roles: Any) -> None:
        self._roles = roles

    def _registry(self, location: Location) -> EcrRegistry:
        return registry_for(self._roles, location)

    def find_digests(
        self, location: Location, repository: str, digests: Iterable[str]
    ) -> dict[str, datetime]:
        return self._registry(location).find_digests(repository, digests)

    def tag_digests(
        self, location: Location, repository: str, tags: Iterable[str]
    ) -> dict[str, str]:
        return self._registry(location).tag_digests(repository, tags)

    def replication_status(
        self, source: Location, repository: str, digest: str, destination: Location
    ) -> str | None:
        """ECR's own status of that replication from the source registry, for an alert."""
        for status in self._registry(source).replication_status(repository, digest):
            if status.destination == destination:
                code = f" ({status.failure_code})" if status.failure_code else ""
                return f"ECR replication status {status.status}{code}"
        return None
