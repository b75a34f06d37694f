"""DynamoLedger against the moto server over HTTP: idempotency and conditional writes."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from chalicelib import bootstrap, domain
from chalicelib.adapters.dynamodb import DynamoLedger
from chalicelib.domain import Location, TagEntry
from chalicelib.errors import InvalidRequest
from tests import events as ev

DEV, PROD = Location(*ev.DEV), Location(*ev.PROD)
CONFIG = domain.parse_replication_config(ev.DEFAULT_CONFIG)


@pytest.fixture
def ledger(auditor_env) -> DynamoLedger:
    return bootstrap.deps().ledger


def replica(minute=0, n=1):
    push = domain.ImagePushed("e", ev.at(minute), DEV, "team/api", ev.digest(n), "v1")
    return domain.expected_replicas(CONFIG, push, timedelta(minutes=30))[0]


def tag(minute, n, event_id=None):
    return TagEntry(
        PROD, "team/api", "latest", ev.at(minute), event_id or f"e{minute}", ev.digest(n), "push"
    )


def test_tag_entries_are_idempotent_and_heads_never_move_back(ledger):
    assert ledger.record_tag(tag(5, 2), judge=True) is True
    assert ledger.record_tag(tag(5, 2), judge=True) is False  # duplicate delivery
    assert ledger.record_tag(tag(1, 1), judge=True) is True  # older, learnt late
    assert ledger.repository_tags("team/api") == {PROD: {"latest": ev.digest(2)}}
    before, after = ledger.neighbours(tag(1, 1))
    assert before is None and after == tag(5, 2)
    assert [e.time for e in ledger.unjudged_entries(ev.at(60), 10)] == [ev.at(1), ev.at(5)]
    assert ledger.unjudged_entries(ev.at(2), 10) == [tag(1, 1)]
    ledger.mark_judged(tag(1, 1))
    assert ledger.unjudged_entries(ev.at(60), 10) == [tag(5, 2)]


def test_presence_keeps_the_first_sighting_and_the_last_deletion(ledger):
    for minute in (7, 3, 9):
        ledger.record_presence(PROD, "team/api", ev.digest(1), ev.at(minute))
    for minute in (20, 30, 25, 30):
        ledger.record_deletion(PROD, "team/api", ev.digest(1), ev.at(minute))
    facts = ledger.image_facts("team/api", ev.digest(1))
    assert facts.present_at(PROD) == ev.at(3)
    assert facts.presence[PROD].deletions == {ev.at(20), ev.at(25), ev.at(30)}
    assert facts.deleted_since(PROD, ev.at(21)) == ev.at(25)


def test_expect_creates_once_and_moves_push_time_earlier(ledger):
    late, early = replica(10), replica(2)
    assert ledger.expect(late) is True
    assert ledger.expect(late) is False
    ledger.expect(early)
    [stored] = ledger.image_facts("team/api", ev.digest(1)).replicas
    assert stored.pushed_at == ev.at(2) and stored.due_at == ev.at(32)
    assert [r.replica_id for r in ledger.due_replicas(ev.at(32), 10)] == [late.replica_id]
    assert ledger.due_replicas(ev.at(31), 10) == []
    assert ledger.count_pending() == 1


def test_transitions_are_conditional(ledger):
    r = replica()
    ledger.expect(r)
    old = ledger.transition(r, "replicated", ("pending", "missing"), ev.at(4))
    assert old is not None and old.state == "pending"
    assert ledger.transition(r, "replicated", ("pending", "missing"), ev.at(5)) is None
    assert ledger.count_pending() == 0
    assert ledger.correct_arrival(domain.with_state(r, state="replicated"), ev.at(3)) is True
    assert ledger.correct_arrival(domain.with_state(r, state="replicated"), ev.at(4)) is False


def test_an_incident_opens_once_and_resolves_once(ledger):
    r = replica()
    ledger.expect(r)
    alert = domain.replica_alert("REPLICA_MISSING", r, ev.at(31))
    channels = frozenset({"sns"})
    assert ledger.open_incident(alert, channels, r, "missing", ("pending",)) is True
    assert ledger.open_incident(alert, channels, r, "missing", ("pending",)) is False
    assert ledger.open_incident_kinds() == ["REPLICA_MISSING"]
    recovery = domain.recovery_alert(alert, ev.at(40), 2400)
    assert ledger.resolve_incident(alert["incident_id"], recovery, channels) is True
    assert ledger.resolve_incident(alert["incident_id"], recovery, channels) is False
    assert ledger.open_incident_kinds() == []
    notes = {(n.incident_id, n.note) for n in ledger.outbox(10)}
    assert notes == {(alert["incident_id"], "OPEN"), (alert["incident_id"], "RECOVERED")}


def test_an_outbox_lease_is_exclusive_until_settled(ledger):
    r = replica()
    ledger.expect(r)
    alert = domain.replica_alert("REPLICA_MISSING", r, ev.at(31))
    ledger.open_incident(alert, frozenset({"sns", "slack"}), r, "missing", ("pending",))
    [note] = ledger.outbox(10)
    now = ev.at(31)
    assert ledger.claim(note, now, timedelta(minutes=2)) is True
    assert ledger.claim(note, now, timedelta(minutes=2)) is False
    assert ledger.claim(note, now + timedelta(minutes=3), timedelta(minutes=2)) is True
    ledger.settle(note, frozenset({"slack"}), 1, now)
    [again] = ledger.outbox(10)
    assert again.pending == {"slack"} and again.slack_tries == 1
    assert json.loads(json.dumps(again.alert)) == alert
    ledger.settle(again, frozenset(), 2, now)
    assert ledger.outbox(10) == []


def test_infrastructure_errors_propagate(ledger, auditor_env, session):
    session.client("dynamodb").delete_table(TableName=auditor_env["AUDIT_TABLE"])
    with pytest.raises(Exception) as raised:
        ledger.open_incident(
            domain.replica_alert("REPLICA_MISSING", replica(), ev.at(31)), frozenset({"sns"})
        )
    assert "ResourceNotFound" in type(raised.value).__name__ or "ResourceNotFound" in str(
        raised.value
    )


def test_garbage_cursors_are_a_client_error(ledger):
    for cursor in ("%%%", "eyJ4IjogMX0=", "W10="):
        with pytest.raises(InvalidRequest):
            ledger.incidents_page("open", 10, cursor)
