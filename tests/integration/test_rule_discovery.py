"""Rules read from DescribeRegistry (REPLICATION_SOURCES): the store contract (in-memory fake and
the DynamoDB item on moto, same cases), and discovery on moto with several accounts."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.adapters.ecr import registry_for
from chalicelib.adapters.roles import AuditRoles
from chalicelib.adapters.rules_store import DynamoRulesStore
from chalicelib.core.errors import RegistryUnavailable
from chalicelib.core.lifecycle import ImagePushed, Location, expected_replicas
from chalicelib.core.rules import parse_replication_config
from chalicelib.usecases.registry_rules import RuleDiscovery, StoredRules
from tests import events as ev
from tests.registry_helpers import ROLE, InMemoryRulesStore, new_account

PROD, DR = Location(*ev.PROD), Location(*ev.DR)


def item(source: Location, destination: Location, prefix: str = "team/") -> dict[str, Any]:
    return {
        "registryId": source.account,
        "region": source.region,
        "replicationConfiguration": {
            "rules": [
                {
                    "destinations": [
                        {"region": destination.region, "registryId": destination.account}
                    ],
                    "repositoryFilters": [{"filter": prefix, "filterType": "PREFIX_MATCH"}],
                }
            ]
        },
    }


@pytest.fixture(params=["memory", "dynamodb"])
def store(request: pytest.FixtureRequest) -> Any:
    if request.param == "memory":
        return InMemoryRulesStore()
    session = request.getfixturevalue("session")
    from chalicelib.local.provision import provision

    env = provision(session, suffix=uuid.uuid4().hex[:10])
    return DynamoRulesStore(session.client("dynamodb"), env["AUDIT_TABLE"])


def test_store_keeps_one_item_per_source_and_never_goes_back_in_time(store: Any) -> None:
    one, two = Location("111111111111", "us-west-2"), Location("111111111111", "eu-west-1")
    assert store.load_all() == {}
    store.save(StoredRules(one, item(one, PROD), ev.at(0)))
    store.save(StoredRules(two, item(two, DR), ev.at(0)))
    store.save(StoredRules(one, item(one, DR), ev.at(60)))
    store.save(StoredRules(one, item(one, PROD, "old/"), ev.at(30)))  # an older refresh, late
    loaded = store.load_all()
    assert set(loaded) == {one, two}
    assert loaded[one] == StoredRules(one, item(one, DR), ev.at(60))
    assert loaded[two].registry == item(two, DR)


def test_the_dynamodb_item_is_the_documented_key(session: Any) -> None:
    from chalicelib.local.provision import provision

    table = provision(session, suffix=uuid.uuid4().hex[:10])["AUDIT_TABLE"]
    source = Location("111111111111", "us-west-2")
    DynamoRulesStore(session.client("dynamodb"), table).save(
        StoredRules(source, item(source, PROD), ev.at(0))
    )
    got = session.client("dynamodb").get_item(
        TableName=table, Key={"pk": {"S": "RULES"}, "sk": {"S": "111111111111#us-west-2"}}
    )
    assert got["Item"]["fetched_at"] == {"S": "2026-11-27T10:00:00Z"}


# ----------------------------------------------------------------------------- discovery


class Logged(list[str]):
    def __call__(self, message: str) -> None:
        self.append(message)


@pytest.fixture
def roles(session: Any) -> AuditRoles:
    return AuditRoles(ROLE, session=session)


def source_with_rules(roles: AuditRoles, destination: Location, prefix: str = "team/") -> Location:
    source = Location(new_account(), "us-west-2")
    rules = item(source, destination, prefix)["replicationConfiguration"]
    rules["rules"][0]["deleteReplication"] = {"enabled": True}
    roles.client("ecr", source.account, source.region).put_replication_configuration(
        replicationConfiguration=rules
    )
    return source


def test_discovered_rules_create_the_expected_replicas(roles: AuditRoles, api_calls: Any) -> None:
    source = source_with_rules(roles, PROD)
    static = parse_replication_config([item(Location("111111111111", "us-west-2"), DR)])
    store = InMemoryRulesStore()
    discovery = RuleDiscovery(static, [source], lambda at: registry_for(roles, at), store)
    start = len(api_calls.calls)
    found = discovery.rules(ev.at(0))
    assert found.refreshed == (source,) and not found.stale and not found.unknown
    assert api_calls.calls[start:].count(("ecr", "DescribeRegistry")) == 1
    push = ImagePushed("e1", ev.at(0), source, "team/api", ev.digest(1), "v1")
    (replica,) = expected_replicas(found.config, push, timedelta(minutes=30))
    assert replica.destination == PROD
    assert found.config.sources[0].location == Location("111111111111", "us-west-2")
    (rule,) = found.config.sources[1].rules
    assert rule.replicate_deletions is True
    assert store.items[source].registry["replicationConfiguration"]["rules"][0][
        "deleteReplication"
    ] == {"enabled": True}


def test_rules_are_read_from_ecr_at_most_hourly_and_from_the_ledger_between(
    roles: AuditRoles, api_calls: Any
) -> None:
    source = source_with_rules(roles, PROD)
    store = InMemoryRulesStore()

    def discovery() -> RuleDiscovery:  # a new Lambda container each time
        return RuleDiscovery(
            parse_replication_config([]), [source], lambda at: registry_for(roles, at), store
        )

    warm = discovery()
    start = len(api_calls.calls)
    warm.rules(ev.at(0))
    warm.rules(ev.at(4))  # same container, within 5 min: nothing read at all
    assert store.loads == 1
    discovery().rules(ev.at(30))  # another container: the ledger's copy, no ECR call
    assert store.loads == 2
    assert api_calls.calls[start:].count(("ecr", "DescribeRegistry")) == 1
    assert discovery().rules(ev.at(61)).refreshed == (source,)  # over an hour: ECR again
    assert api_calls.calls[start:].count(("ecr", "DescribeRegistry")) == 2
    assert len(store.saves) == 2


class FailingRegistry:
    """An error-injecting registry: DescribeRegistry throttled."""

    def __init__(self, where: Location) -> None:
        self.where = where
        self.calls = 0

    def replication_rules(self) -> dict[str, Any]:
        self.calls += 1
        raise RegistryUnavailable(self.where.account, self.where.region, "throttled", "Rate")


def test_a_failed_refresh_keeps_the_last_known_rules_and_logs_one_line() -> None:
    source = Location("111111111111", "us-west-2")
    store = InMemoryRulesStore()
    store.save(StoredRules(source, item(source, PROD), ev.at(0)))
    failing = FailingRegistry(source)
    log = Logged()
    discovery = RuleDiscovery(
        parse_replication_config([]),
        [source],
        lambda _: failing,
        store,
        log=log,
        reread_every=timedelta(minutes=1),
    )
    found = discovery.rules(ev.at(90))
    assert found.stale == (source,) and not found.refreshed
    assert found.config.destinations_for(source, "team/api") == {PROD}
    assert log == [
        "replication rules of 111111111111/us-west-2: refresh failed (ECR registry "
        "111111111111/us-west-2: throttled: Rate); keeping the rules read at 2026-11-27T10:00:00Z"
    ]
    assert discovery.rules(ev.at(92)).stale == (source,)  # the retry waits 5 minutes
    assert failing.calls == 1
    discovery.rules(ev.at(96))
    assert failing.calls == 2 and len(log) == 2


def test_a_source_never_read_has_no_rules_and_says_so() -> None:
    source = Location("111111111111", "us-west-2")
    log = Logged()
    discovery = RuleDiscovery(
        parse_replication_config([]),
        [source],
        lambda _: FailingRegistry(source),
        InMemoryRulesStore(),
        log=log,
    )
    found = discovery.rules(ev.at(0))
    assert found.unknown == (source,)
    assert found.config.destinations_for(source, "team/api") == frozenset()
    assert log[0].endswith("no rules known yet")


def test_without_sources_nothing_is_read() -> None:
    store = InMemoryRulesStore()
    static = parse_replication_config([item(Location("111111111111", "us-west-2"), PROD)])
    found = RuleDiscovery(static, [], lambda _: FailingRegistry(PROD), store).rules(ev.at(0))
    assert found.config == static and store.loads == 0
