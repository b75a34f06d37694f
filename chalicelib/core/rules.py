"""ECR replication rules: which destinations a source registry sends each repository to,
parsed and validated from `describe-registry` outputs (REPLICATION_CONFIG, or read from ECR)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.core.errors import ConfigError
from chalicelib.core.lifecycle import ACCOUNT_RE, REGION_RE, Location


@dataclass(frozen=True)
class ReplicationRule:
    destinations: tuple[Location, ...]
    prefixes: tuple[str, ...] = ()  # empty: every repository
    replicate_deletions: bool = False  # the rule's `deleteReplication.enabled` (ECR, Nov 2026)

    def matches(self, repository: str) -> bool:
        return not self.prefixes or any(repository.startswith(p) for p in self.prefixes)


@dataclass(frozen=True)
class SourceRegistry:
    location: Location
    rules: tuple[ReplicationRule, ...]


@dataclass(frozen=True)
class ReplicationConfig:
    """Every monitored source registry with its ECR replication rules."""

    sources: tuple[SourceRegistry, ...] = ()

    def destinations_for(self, source: Location, repository: str) -> frozenset[Location]:
        """ECR semantics: union over the rules whose filters match; the source itself is ignored."""
        found: set[Location] = set()
        for registry in self.sources:
            if registry.location != source:
                continue
            for rule in registry.rules:
                if rule.matches(repository):
                    found.update(rule.destinations)
        found.discard(source)
        return frozenset(found)

    def deletions_replicated_to(self, source: Location, repository: str) -> frozenset[Location]:
        """Destinations to which a rule of `source` that replicates deletions sends the
        repository (`deleteReplication`, ECR since November 2026)."""
        found: set[Location] = set()
        for registry in self.sources:
            if registry.location == source:
                for rule in registry.rules:
                    if rule.replicate_deletions and rule.matches(repository):
                        found.update(rule.destinations)
        found.discard(source)
        return frozenset(found)

    def sources_replicating_to(self, destination: Location, repository: str) -> frozenset[Location]:
        return frozenset(
            registry.location
            for registry in self.sources
            if destination in self.destinations_for(registry.location, repository)
        )

    def is_replica_location(self, location: Location, repository: str) -> bool:
        return bool(self.sources_replicating_to(location, repository))

    def names_replication(self, source: Location, destination: Location, repository: str) -> bool:
        """Whether a rule of `source` sends `repository` to `destination` (never to itself)."""
        return destination in self.destinations_for(source, repository)

    def accounts(self) -> frozenset[str]:
        named: set[str] = set()
        for registry in self.sources:
            named.add(registry.location.account)
            for rule in registry.rules:
                named.update(d.account for d in rule.destinations)
        return frozenset(named)


MAX_RULES = 10
MAX_DESTINATIONS = 25
MAX_FILTERS = 100


def parse_replication_config(raw: Any) -> ReplicationConfig:
    """Validate the `describe-registry` outputs (plus region) that REPLICATION_CONFIG holds."""
    if not isinstance(raw, list):
        raise ConfigError("REPLICATION_CONFIG must be a JSON array of registries")
    sources: list[SourceRegistry] = []
    seen: set[Location] = set()
    for index, item in enumerate(raw):
        where = f"REPLICATION_CONFIG[{index}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{where} must be an object")
        registry_id = item.get("registryId")
        region = item.get("region")
        if not isinstance(registry_id, str) or not ACCOUNT_RE.match(registry_id):
            raise ConfigError(f"{where}.registryId must be a 12-digit account id")
        if not isinstance(region, str) or not REGION_RE.match(region):
            raise ConfigError(f"{where}.region must be an AWS region name such as us-west-2")
        location = Location(registry_id, region)
        if location in seen:
            raise ConfigError(f"{where}: registry {location} is listed twice")
        seen.add(location)
        replication = item.get("replicationConfiguration", {"rules": []})
        if not isinstance(replication, dict) or not isinstance(replication.get("rules"), list):
            raise ConfigError(f"{where}.replicationConfiguration.rules must be an array")
        rules = tuple(
            _parse_rule(rule, f"{where}.replicationConfiguration.rules[{n}]")
            for n, rule in enumerate(replication["rules"])
        )
        if len(rules) > MAX_RULES:
            raise ConfigError(f"{where}: ECR allows at most {MAX_RULES} rules, found {len(rules)}")
        unique = {d for rule in rules for d in rule.destinations}
        if len(unique) > MAX_DESTINATIONS:
            raise ConfigError(
                f"{where}: ECR allows at most {MAX_DESTINATIONS} unique destinations, "
                f"found {len(unique)}"
            )
        sources.append(SourceRegistry(location, rules))
    return ReplicationConfig(tuple(sources))


def _parse_rule(rule: Any, where: str) -> ReplicationRule:
    if not isinstance(rule, dict) or not isinstance(rule.get("destinations"), list):
        raise ConfigError(f"{where}.destinations must be an array")
    destinations = []
    for n, dest in enumerate(rule["destinations"]):
        if not isinstance(dest, dict):
            raise ConfigError(f"{where}.destinations[{n}] must be an object")
        registry_id, region = dest.get("registryId"), dest.get("region")
        if not isinstance(registry_id, str) or not ACCOUNT_RE.match(registry_id):
            raise ConfigError(f"{where}.destinations[{n}].registryId must be a 12-digit account id")
        if not isinstance(region, str) or not REGION_RE.match(region):
            raise ConfigError(f"{where}.destinations[{n}].region must be an AWS region name")
        destinations.append(Location(registry_id, region))
    filters = rule.get("repositoryFilters", [])
    if not isinstance(filters, list) or len(filters) > MAX_FILTERS:
        raise ConfigError(f"{where}.repositoryFilters must be an array of at most {MAX_FILTERS}")
    prefixes = []
    for n, flt in enumerate(filters):
        if not isinstance(flt, dict) or flt.get("filterType") != "PREFIX_MATCH":
            raise ConfigError(f"{where}.repositoryFilters[{n}].filterType must be PREFIX_MATCH")
        value = flt.get("filter")
        if not isinstance(value, str) or not 2 <= len(value) <= 256:
            raise ConfigError(f"{where}.repositoryFilters[{n}].filter must be 2-256 characters")
        prefixes.append(value)
    deletions = rule.get("deleteReplication") or {"enabled": False}
    if not isinstance(deletions, dict) or not isinstance(deletions.get("enabled"), bool):
        raise ConfigError(f"{where}.deleteReplication must be an object with a boolean `enabled`")
    return ReplicationRule(tuple(destinations), tuple(prefixes), deletions["enabled"])
