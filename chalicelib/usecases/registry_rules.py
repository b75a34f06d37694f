"""Replication rules read from ECR itself (REPLICATION_SOURCES), kept in the ledger, merged with
REPLICATION_CONFIG into the one ReplicationConfig the auditor decides with.

Each listed source registry's rules come from DescribeRegistry through the audit role and are
stored (one ledger item per source) so that every invocation need not ask ECR: they are read
again once they are older than an hour. A refresh that fails keeps the last known rules and logs
one line naming the registry and the problem; a source never read yet has no rules (its pushes
expect nothing) until a refresh succeeds, which the result reports so callers can say so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib.core.errors import ConfigError, RegistryUnavailable, RepositoryNotFound
from chalicelib.core.lifecycle import Location, iso
from chalicelib.core.rules import ReplicationConfig, parse_replication_config
from chalicelib.ports import RulesReader, RulesStore, StoredRules

REFRESH_EVERY = timedelta(hours=1)  # PRODUCT: "refreshed at least hourly"
REREAD_EVERY = timedelta(minutes=5)  # a warm container re-reads the ledger's copy this often
RETRY_AFTER = timedelta(minutes=5)  # after a failed refresh, do not ask that registry again sooner


@dataclass(frozen=True)
class DiscoveredRules:
    config: ReplicationConfig  # REPLICATION_CONFIG's registries, then the discovered ones
    refreshed: tuple[Location, ...] = ()  # read from ECR by this call
    stale: tuple[Location, ...] = ()  # refresh failed: the last known rules are used
    unknown: tuple[Location, ...] = ()  # never read successfully: no rules for now


def merge(static: ReplicationConfig, items: Sequence[Mapping[str, Any]]) -> ReplicationConfig:
    """REPLICATION_CONFIG plus discovered registries (settings forbid listing one in both)."""
    discovered = parse_replication_config([dict(item) for item in items])
    return ReplicationConfig(static.sources + discovered.sources)


class RuleDiscovery:
    """The rules of REPLICATION_SOURCES, refreshed from ECR at least hourly (see module doc)."""

    def __init__(
        self,
        static: ReplicationConfig,
        sources: Sequence[Location],
        registry: Callable[[Location], RulesReader],
        store: RulesStore,
        *,
        log: Callable[[str], None] | None = None,
        refresh_every: timedelta = REFRESH_EVERY,
        reread_every: timedelta = REREAD_EVERY,
        retry_after: timedelta = RETRY_AFTER,
    ) -> None:
        self._static = static
        self._sources = tuple(sources)
        self._registry = registry
        self._store = store
        self._log = log if log is not None else _warn
        self._refresh_every = refresh_every
        self._reread_every = reread_every
        self._retry_after = retry_after
        self._memo: tuple[datetime, DiscoveredRules] | None = None
        self._retry_at: dict[Location, datetime] = {}

    def rules(self, now: datetime) -> DiscoveredRules:
        if not self._sources:
            return DiscoveredRules(self._static)
        if self._memo is not None and self._memo[0] <= now < self._memo[0] + self._reread_every:
            return self._memo[1]
        stored = self._store.load_all()
        items: list[Mapping[str, Any]] = []
        refreshed: list[Location] = []
        stale: list[Location] = []
        unknown: list[Location] = []
        for source in self._sources:
            known = stored.get(source)
            if known is not None and now - known.fetched_at < self._refresh_every:
                items.append(known.registry)
                continue
            fresh = None
            if now >= self._retry_at.get(source, now):
                fresh = self._refresh(source, known, now)
            if fresh is not None:
                items.append(fresh.registry)
                refreshed.append(source)
            elif known is not None:
                items.append(known.registry)
                stale.append(source)
            else:
                unknown.append(source)
        result = DiscoveredRules(
            merge(self._static, items), tuple(refreshed), tuple(stale), tuple(unknown)
        )
        self._memo = (now, result)
        return result

    def _refresh(
        self, source: Location, known: StoredRules | None, now: datetime
    ) -> StoredRules | None:
        try:
            item = self._registry(source).replication_rules()
            item = {**item, "registryId": source.account, "region": source.region}
            merge(ReplicationConfig(), [item])  # validate before keeping it
        except (RegistryUnavailable, RepositoryNotFound, ConfigError) as error:
            self._retry_at[source] = now + self._retry_after
            kept = (
                f"keeping the rules read at {iso(known.fetched_at)}"
                if known
                else "no rules known yet"
            )
            self._log(f"replication rules of {source}: refresh failed ({error}); {kept}")
            return None
        fresh = StoredRules(source, item, now)
        self._store.save(fresh)
        self._retry_at.pop(source, None)
        return fresh


def _warn(message: str) -> None:
    from chalicelib.observability import logger

    logger.warning(message)
