"""The pure core: replication rules, replica lifecycle, overwrite judgement, alert documents."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest

from chalicelib.core import documents, judgement, lifecycle
from chalicelib.core.errors import ConfigError
from chalicelib.core.judgement import Origin, TagEntry
from chalicelib.core.lifecycle import ImageFacts, ImagePushed, Location, Presence
from chalicelib.core.rules import parse_replication_config
from tests import events as ev

DEV, PROD, DR = Location(*ev.DEV), Location(*ev.PROD), Location(*ev.DR)
SAMPLES = ev.SAMPLES


def config_from_sample(name: str, where=ev.DEV):
    rules = json.loads((SAMPLES / f"{name}.json").read_text())
    return parse_replication_config(
        [{"registryId": where[0], "region": where[1], "replicationConfiguration": rules}]
    )


# ----------------------------------------------------------------------- rules


def test_documented_prefix_filter_sample():
    config = config_from_sample("ecr-replication-config-prefix-filter")
    dest = Location("111122223333", "us-west-1")
    assert config.destinations_for(DEV, "prod-api") == {dest}
    assert config.destinations_for(DEV, "production/web") == {dest}
    assert config.destinations_for(DEV, "team/prod") == frozenset()


def test_documented_multiple_rules_sample_is_a_union():
    config = config_from_sample("ecr-replication-config-multiple-rules")
    assert config.destinations_for(DEV, "prod-x") == {Location("111122223333", "us-west-2")}
    assert config.destinations_for(DEV, "test-x") == {Location("111122223333", "us-east-2")}
    assert config.destinations_for(DEV, "other") == frozenset()


def test_rule_without_filters_matches_every_repository_and_ignores_the_source():
    config = parse_replication_config(
        [ev.registry(ev.DEV, ([ev.DEV, ev.PROD], []), ([ev.DR], ["team/"]))]
    )
    assert config.destinations_for(DEV, "anything") == {PROD}
    assert config.destinations_for(DEV, "team/api") == {PROD, DR}
    assert config.destinations_for(PROD, "team/api") == frozenset()
    assert config.is_replica_location(PROD, "x") and not config.is_replica_location(DEV, "x")
    assert config.accounts() == {ev.DEV[0], ev.PROD[0], ev.DR[0]}


def test_cross_account_sample():
    config = config_from_sample("ecr-replication-config-cross-account")
    assert config.destinations_for(DEV, "r") == {Location("444455556666", "us-west-2")}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({}, "JSON array"),
        ([{"registryId": "1", "region": "us-west-2"}], "12-digit"),
        ([{"registryId": "111111111111", "region": "US WEST"}], "region"),
        ([ev.registry(ev.DEV, *[([ev.PROD], [])] * 11)], "at most 10 rules"),
        (
            [ev.registry(ev.DEV, ([(f"{n:012d}", "us-east-1") for n in range(26)], []))],
            "at most 25 unique destinations",
        ),
        (
            [
                {
                    "registryId": "111111111111",
                    "region": "us-west-2",
                    "replicationConfiguration": {
                        "rules": [
                            {
                                "destinations": [],
                                "repositoryFilters": [{"filter": "ab", "filterType": "SUFFIX"}],
                            }
                        ]
                    },
                }
            ],
            "PREFIX_MATCH",
        ),
        ([ev.registry(ev.DEV, ([ev.PROD], ["x"]))], "2-256"),
        ([ev.registry(ev.DEV), ev.registry(ev.DEV)], "listed twice"),
    ],
)
def test_invalid_configuration_is_rejected_with_a_pointer(raw, message):
    with pytest.raises(ConfigError, match=message):
        parse_replication_config(raw)


def test_twenty_five_destinations_spread_over_rules_are_accepted():
    dests = [(f"{n:012d}", "us-east-1") for n in range(25)]
    config = parse_replication_config([ev.registry(ev.DEV, (dests[:13], []), (dests[13:], []))])
    assert len(config.destinations_for(DEV, "r")) == 25


# ----------------------------------------------------------------------- replicas

PUSH = ImagePushed("e1", ev.at(0), DEV, "team/api", ev.digest(1), "v1")
CONFIG = parse_replication_config(ev.DEFAULT_CONFIG)


def test_a_push_expects_one_replica_per_destination_due_after_grace():
    replicas = lifecycle.expected_replicas(CONFIG, PUSH, timedelta(minutes=30))
    assert [r.destination for r in replicas] == sorted([PROD, DR])
    assert {r.due_at for r in replicas} == {ev.at(30)}
    assert {r.state for r in replicas} == {"pending"}


def test_a_push_that_matches_no_rule_expects_nothing():
    push = ImagePushed("e1", ev.at(0), PROD, "team/api", ev.digest(1), "v1")
    assert lifecycle.expected_replicas(CONFIG, push, timedelta(minutes=30)) == []


def test_reconcile_prefers_arrival_and_cancels_on_source_delete():
    replica = lifecycle.expected_replicas(CONFIG, PUSH, timedelta(minutes=30))[0]
    nothing = ImageFacts({DEV: Presence(first_seen=ev.at(0))})
    assert lifecycle.reconcile(replica, nothing) is None
    arrived = ImageFacts({replica.destination: Presence(first_seen=ev.at(4))})
    assert lifecycle.reconcile(replica, arrived) == ("arrive", ev.at(4))
    deleted = ImageFacts(
        {DEV: Presence(first_seen=ev.at(0), deletions=frozenset({ev.at(-5), ev.at(20), ev.at(10)}))}
    )  # the first deletion after the push cancels; one before it belonged to an older push
    assert lifecycle.reconcile(replica, deleted) == ("cancel", ev.at(10))
    done = lifecycle.with_state(replica, state="replicated", replicated_at=ev.at(4))
    assert lifecycle.reconcile(done, arrived) is None
    earlier = ImageFacts({replica.destination: Presence(first_seen=ev.at(3))})
    assert lifecycle.reconcile(done, earlier) == ("arrived_earlier", ev.at(3))
    cancelled = lifecycle.with_state(replica, state="cancelled")
    assert lifecycle.reconcile(cancelled, arrived) == ("arrive", ev.at(4))  # the copy exists


def test_closing_time_is_the_earliest_on_the_complete_history():
    replica = lifecycle.expected_replicas(CONFIG, PUSH, timedelta(minutes=30))[0]
    facts = ImageFacts(
        {
            replica.destination: Presence(first_seen=ev.at(40)),
            DEV: Presence(first_seen=ev.at(0), deletions=frozenset({ev.at(50), ev.at(45)})),
        }
    )
    assert lifecycle.closed_at(replica, facts) is None  # still open
    arrived = lifecycle.with_state(replica, state="replicated")
    assert lifecycle.closed_at(arrived, facts) == ev.at(40)
    assert lifecycle.closed_at(lifecycle.with_state(replica, state="cancelled"), facts) == ev.at(45)


def test_overdue_only_when_pending_and_past_due():
    replica = lifecycle.expected_replicas(CONFIG, PUSH, timedelta(minutes=30))[0]
    assert not lifecycle.is_overdue(replica, ev.at(29))
    assert lifecycle.is_overdue(replica, ev.at(30))
    assert not lifecycle.is_overdue(lifecycle.with_state(replica, state="failed"), ev.at(31))


def test_lag_is_arrival_minus_push():
    replica = lifecycle.with_state(
        lifecycle.expected_replicas(CONFIG, PUSH, timedelta(minutes=30))[0], replicated_at=ev.at(7)
    )
    assert replica.lag_seconds == 420


# ----------------------------------------------------------------------- overwrites


def entry(minute, digest_n, kind="push", source=None, where=PROD):
    return TagEntry(
        where,
        "team/api",
        "latest",
        ev.at(minute),
        f"id{minute}",
        ev.digest(digest_n) if digest_n else None,
        kind,
        source,
    )


LOCAL, FROM_DEV, FROM_DR = Origin(None), Origin(DEV), Origin(DR)


@pytest.mark.parametrize(
    ("previous_origin", "current_origin", "expected"),
    [
        (LOCAL, FROM_DEV, "replication_overwrote_local_tag"),
        (FROM_DEV, LOCAL, "local_push_overwrote_replica_tag"),
        (FROM_DEV, FROM_DR, "replication_from_another_source"),
        (FROM_DEV, FROM_DEV, None),  # ordinary propagation of the source's tag move
        (LOCAL, LOCAL, None),
    ],
)
def test_overwrite_causes(previous_origin, current_origin, expected):
    assert judgement.overwrite_cause(entry(0, 1), previous_origin, entry(5, 2), current_origin) == (
        expected
    )


def test_same_digest_or_deleted_tag_is_no_overwrite():
    assert judgement.overwrite_cause(entry(0, 1), LOCAL, entry(5, 1), FROM_DEV) is None
    assert judgement.overwrite_cause(entry(0, None, "delete"), LOCAL, entry(5, 2), FROM_DEV) is None


def test_a_push_of_a_replicated_digest_is_the_replica_arriving():
    assert judgement.classify(entry(0, 1), [DEV]) == FROM_DEV
    assert judgement.classify(entry(0, 1), []) == LOCAL
    assert judgement.classify(entry(0, 1, "replication", DR), []) == FROM_DR


# ----------------------------------------------------------------------- alerts


def test_alert_document_has_every_key_and_an_sns_safe_subject():
    replica = lifecycle.expected_replicas(CONFIG, PUSH, timedelta(minutes=30))[0]
    doc = documents.replica_alert("REPLICA_MISSING", replica, ev.at(35))
    assert tuple(doc) == documents.ALERT_KEYS
    assert doc["severity"] == "critical" and doc["schema"] == documents.ALERT_SCHEMA
    assert doc["pushed_at"] == "2026-11-27T10:00:00Z" and doc["due_at"] == "2026-11-27T10:30:00Z"
    long = lifecycle.with_state(replica, repository="a" * 250, tag="t" * 120)
    summary = documents.replica_alert("REPLICA_MISSING", long, ev.at(35))["summary"]
    assert len(summary) < 100 and summary.isascii()


def test_recovery_carries_the_incident_and_lag():
    replica = lifecycle.expected_replicas(CONFIG, PUSH, timedelta(minutes=30))[0]
    opened = documents.replica_alert("REPLICATION_FAILED", replica, ev.at(3), "denied")
    recovered = documents.recovery_alert(opened, ev.at(9), 540)
    assert recovered["incident_id"] == opened["incident_id"]
    assert recovered["kind"] == "RECOVERED" and recovered["severity"] == "info"
    assert recovered["resolves"] == "REPLICATION_FAILED" and recovered["lag_seconds"] == 540


def test_incident_ids_are_stable_and_distinct():
    a, b = lifecycle.expected_replicas(CONFIG, PUSH, timedelta(minutes=30))
    assert documents.incident_id_for("REPLICA_MISSING", a) == documents.incident_id_for(
        "REPLICA_MISSING", a
    )
    assert documents.incident_id_for("REPLICA_MISSING", a) != documents.incident_id_for(
        "REPLICA_MISSING", b
    )
    assert documents.incident_id_for("REPLICA_MISSING", a) != documents.incident_id_for(
        "REPLICATION_FAILED", a
    )


def test_time_parsing_accepts_eventbridge_timestamps():
    assert lifecycle.parse_time("2019-11-16T01:54:34Z") == lifecycle.parse_time(
        "2019-11-16T01:54:34+00:00"
    )
    moment = lifecycle.parse_time("2019-11-16T01:54:34Z")
    assert lifecycle.format_time(moment) == "2019-11-16T01:54:34Z"


def test_facts_become_tag_observations():
    pushed = judgement.tag_entry(PUSH)
    assert pushed is not None and (pushed.kind, pushed.digest, pushed.source) == (
        "push",
        PUSH.digest,
        None,
    )
    deleted = judgement.tag_entry(
        lifecycle.ImageDeleted("e2", ev.at(5), DEV, "team/api", PUSH.digest, "v1")
    )
    assert deleted is not None and deleted.kind == "delete" and deleted.digest is None
    report = lifecycle.ReplicationReported(
        "e3", ev.at(3), PROD, DEV, "team/api", PUSH.digest, "v1", succeeded=True
    )
    arrived = judgement.tag_entry(report)
    assert arrived is not None and arrived.kind == "replication" and arrived.source == DEV
    assert judgement.tag_entry(replace(report, succeeded=False)) is None
    assert judgement.tag_entry(replace(PUSH, tag=None)) is None  # pushed by digest


def test_a_failure_is_news_only_for_a_replica_still_expected_and_absent():
    replica = lifecycle.expected_replicas(CONFIG, PUSH, timedelta(minutes=30))[0]
    absent = ImageFacts({DEV: Presence(first_seen=ev.at(0))})
    present = ImageFacts({replica.destination: Presence(first_seen=ev.at(4))})
    assert lifecycle.failure_is_news(replica, absent)
    assert lifecycle.failure_is_news(lifecycle.with_state(replica, state="missing"), absent)
    assert not lifecycle.failure_is_news(replica, present)
    for state in ("failed", "cancelled", "replicated"):
        assert not lifecycle.failure_is_news(lifecycle.with_state(replica, state=state), absent)


# ----------------------------------------------------------------------- real-world events


def test_an_untagged_push_at_a_source_expects_no_replica_of_its_own():
    config = parse_replication_config(ev.DEFAULT_CONFIG)
    assert lifecycle.expected_replicas(config, replace(PUSH, tag=None), timedelta(minutes=30)) == []


def test_only_a_source_whose_rules_name_the_destination_is_trusted():
    config = parse_replication_config(
        [ev.registry(ev.DEV, ([ev.PROD], ["team/"])), ev.registry(ev.DR, ([ev.PROD], ["ops/"]))]
    )
    assert config.names_replication(DEV, PROD, "team/api")
    assert not config.names_replication(DEV, PROD, "other/api")  # no rule for the repository
    assert not config.names_replication(DR, PROD, "team/api")  # DR's rules cover ops/ only
    assert not config.names_replication(Location("444444444444", "ap-south-1"), PROD, "team/api")
    assert not config.names_replication(PROD, PROD, "team/api")  # the destination itself


@pytest.mark.parametrize(
    ("moment", "problem"),
    [
        (lifecycle.EARLIEST_EVENT - timedelta(seconds=1), "before 2015"),
        (ev.at(0) + timedelta(days=1, seconds=1), "more than a day ahead"),
        (lifecycle.EARLIEST_EVENT, None),
        (ev.at(0) + timedelta(days=1), None),
    ],
)
def test_the_sane_window_of_event_times(moment, problem):
    found = lifecycle.event_time_problem(moment, ev.at(0))
    assert (found is None) if problem is None else (problem in found)


def test_times_keep_four_digit_years():
    assert lifecycle.iso(ev.parse("2026-11-27T10:00:00Z").replace(year=1)) == "0001-11-27T10:00:00Z"


def removal(tag="v1", minute=10):
    return TagEntry(PROD, "team/api", tag, ev.at(minute), "r", None, "delete", None, ev.digest(1))


def test_a_tag_removal_deletes_the_image_only_when_no_tag_names_it_any_more():
    other = entry(5, 1)  # another tag still names digest 1 as of the removal
    moved = entry(6, 2)  # another tag that moved on to digest 2
    assert not judgement.removal_deletes_image(removal(), {"v1": removal(), "stable": other})
    assert judgement.removal_deletes_image(removal(), {"v1": removal(), "latest": moved})
    assert judgement.removal_deletes_image(removal(), {"v1": removal(), "never": None})


def test_a_delete_fact_remembers_the_digest_its_tag_named():
    fact = lifecycle.ImageDeleted("d1", ev.at(3), DEV, "team/api", ev.digest(1), "v1")
    found = judgement.tag_entry(fact)
    assert found is not None and found.digest is None and found.removed_from == ev.digest(1)
