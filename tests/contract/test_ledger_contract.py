"""One contract, two implementations: the in-memory fake and the DynamoDB adapters (against the
moto server over HTTP) run through the same cases, so the fast tests on the fake mean something.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from chalicelib.core import decisions, documents, judgement, lifecycle, rules, verdicts
from chalicelib.core.decisions import Counts, NewIncident
from chalicelib.core.errors import InvalidRequest
from chalicelib.core.lifecycle import ImageFacts, Location, Replica
from chalicelib.ports import Commit, LedgerConflict
from tests import events as ev
from tests.fakes import InMemoryLedger

DEV, PROD, DR = Location(*ev.DEV), Location(*ev.PROD), Location(*ev.DR)
REPO, D1, D2 = "team/api", ev.digest(1), ev.digest(2)


@pytest.fixture(params=["fake", "dynamodb"])
def ledger(request: pytest.FixtureRequest) -> Any:
    """Every ledger port, from one implementation."""
    if request.param == "fake":
        fake = InMemoryLedger(["sns"])
        return SimpleNamespace(
            images=fake,
            tags=fake,
            incidents=fake,
            outbox=fake,
            counters=fake,
            work=fake,
            writer=fake,
        )
    from chalicelib.adapters import ledger as dynamo
    from chalicelib.local.provision import provision

    session = request.getfixturevalue("session")
    env = provision(session, suffix=uuid.uuid4().hex[:10])
    table = dynamo.Table(session.client("dynamodb"), env["AUDIT_TABLE"])
    return SimpleNamespace(
        images=dynamo.DynamoImages(table),
        tags=dynamo.DynamoTagHistory(table),
        incidents=dynamo.DynamoIncidents(table),
        outbox=dynamo.DynamoOutbox(table),
        counters=dynamo.DynamoCounters(table),
        work=dynamo.DynamoWorkQueue(table),
        writer=dynamo.DynamoWriter(table, frozenset({"sns"})),
    )


def replica(dest=PROD, digest=D1, minute=0, **changes: Any) -> Replica:
    base = Replica(REPO, digest, DEV, dest, "v1", ev.at(minute), ev.at(minute + 30))
    return replace(base, **changes)


def push_commit(ledger: Any, event_id: str, digest=D1, minute=0, tag="v1") -> Commit:
    fact = lifecycle.ImagePushed(event_id, ev.at(minute), DEV, REPO, digest, tag)
    before = ledger.images.load(REPO, digest).facts
    config = rules.parse_replication_config(ev.DEFAULT_CONFIG)
    after = decisions.on_push(fact, before, config, timedelta(minutes=30))
    return Commit(
        event_id=event_id,
        event_image=(REPO, digest),
        event_time=fact.time,
        tag_entry=judgement.tag_entry(fact),
        images=(decisions.change(REPO, digest, before, after),),
        register=REPO,
    )


def test_an_event_commit_is_recorded_whole_and_applied_once(ledger):
    ledger.writer.commit(push_commit(ledger, "e1"))
    record = ledger.images.load(REPO, D1)
    assert record.applied == {"e1"}
    assert [(r.destination, r.state) for r in record.facts.replicas] == [
        (PROD, "pending"),
        (DR, "pending"),
    ]
    assert record.facts.presence[DEV].tags == {"v1"} and record.facts.presence[DEV].rev == 1
    assert ledger.tags.repository_tags(REPO) == {DEV: {"v1": D1}}
    assert ledger.images.repositories() == [REPO]
    assert ledger.counters.status_counts(ev.at(1)).pending == 2
    with pytest.raises(LedgerConflict):
        ledger.writer.commit(push_commit(ledger, "e1"))  # its marker is there


def test_a_commit_decided_on_stale_reads_writes_nothing(ledger):
    stale_a = push_commit(ledger, "a")
    stale_b = push_commit(ledger, "b", minute=-5)  # decided on the same (empty) reads
    ledger.writer.commit(stale_a)
    with pytest.raises(LedgerConflict):
        ledger.writer.commit(stale_b)
    record = ledger.images.load(REPO, D1)
    assert record.applied == {"a"}  # nothing of b: not its marker, not its replicas
    assert {r.pushed_at for r in record.facts.replicas} == {ev.at(0)}
    assert ledger.counters.status_counts(ev.at(1)).pending == 2


def test_an_older_tag_entry_is_kept_without_moving_the_head(ledger):
    ledger.writer.commit(push_commit(ledger, "new", digest=D2, minute=10))
    ledger.writer.commit(push_commit(ledger, "old", digest=D1, minute=5))
    assert ledger.tags.repository_tags(REPO) == {DEV: {"v1": D2}}
    heads = ledger.tags.heads_as_of(DEV, REPO, ["v1", "other"], ev.at(7))
    assert heads["v1"] is not None and heads["v1"].digest == D1 and heads["other"] is None
    old = heads["v1"]
    before, after = ledger.tags.neighbours(old)
    assert before is None and after is not None and after.digest == D2
    assert ledger.images.load(REPO, D1).applied == {"old"}


def test_work_comes_due_by_time_and_leaves_when_done(ledger):
    ledger.writer.commit(push_commit(ledger, "e1"))
    assert ledger.work.due_work(ev.at(29), 10) == []
    due = ledger.work.due_work(ev.at(30), 10)
    assert [(w.kind, w.replica.destination) for w in due] == [("due", PROD), ("due", DR)]
    record = ledger.images.load(REPO, D1)
    after, opened = verdicts.on_due(due[0].replica, record.facts, ev.at(30))
    ledger.writer.commit(Commit(images=(decisions.change(REPO, D1, record.facts, after, opened),)))
    kinds = [(w.kind, w.incident_id or "") for w in ledger.work.due_work(ev.at(30), 10)]
    incident_id = opened[0].alert["incident_id"]
    assert sorted(kinds) == [("deliver", incident_id), ("due", "")]
    counts = ledger.counters.status_counts(ev.at(31))
    assert (counts.pending, counts.missing) == (1, 1)


def test_a_removal_waits_for_its_judgement(ledger):
    ledger.writer.commit(push_commit(ledger, "e1"))
    fact = lifecycle.ImageDeleted("d1", ev.at(5), DEV, REPO, D1, "v1")
    facts = ledger.images.load(REPO, D1).facts
    entry = judgement.tag_entry(fact)
    change = decisions.change(REPO, D1, facts, facts)
    ledger.writer.commit(
        Commit(event_id="d1", event_image=(REPO, D1), tag_entry=entry, images=(change,))
    )
    [work] = [w for w in ledger.work.due_work(ev.at(5), 10) if w.kind == "untag"]
    assert work.entry == entry
    ledger.writer.commit(Commit(judged=(entry,)))
    assert [w for w in ledger.work.due_work(ev.at(60), 10) if w.kind == "untag"] == []
    assert ledger.tags.repository_tags(REPO) == {}


def test_tag_removals_to_check_are_kept_and_come_due_at_the_earliest(ledger):
    ledger.writer.commit(push_commit(ledger, "e1"))
    facts = ledger.images.load(REPO, D1).facts
    checks = frozenset(
        {
            lifecycle.UntagCheck(ev.at(90), ev.at(60), "rc-1"),
            lifecycle.UntagCheck(ev.at(70), ev.at(40), "latest"),
        }
    )
    arrived = [replace(r, state="replicated", replicated_at=ev.at(3)) for r in facts.replicas]
    arrived[0] = replace(arrived[0], untag_checks=checks)
    after = ImageFacts(facts.presence, tuple(arrived))
    ledger.writer.commit(Commit(images=(decisions.change(REPO, D1, facts, after),)))
    stored = ledger.images.load(REPO, D1).facts.replicas
    assert [r.untag_checks for r in stored] == [checks, frozenset()]
    assert ledger.work.due_work(ev.at(69), 10) == []
    [due] = ledger.work.due_work(ev.at(70), 10)
    assert (due.kind, due.replica.destination, due.replica.untag_checks) == ("due", PROD, checks)
    done = replace(stored[0], untag_checks=frozenset())
    ledger.writer.commit(
        Commit(
            images=(
                decisions.change(
                    REPO,
                    D1,
                    ImageFacts(facts.presence, stored),
                    ImageFacts(facts.presence, (done, stored[1])),
                ),
            )
        )
    )
    assert ledger.work.due_work(ev.at(200), 10) == []


def alert(kind="REPLICA_MISSING", minute=30, digest=D1) -> dict:
    return documents.replica_alert(kind, replica(digest=digest), ev.at(minute))  # type: ignore[arg-type]


def test_incidents_open_once_resolve_once_and_page_newest_first(ledger):
    for n in range(3):
        ledger.writer.commit(
            Commit(opened=(NewIncident(alert(minute=30 + n, digest=ev.digest(n)), ev.at(30 + n)),))
        )
    with pytest.raises(LedgerConflict):
        ledger.writer.commit(
            Commit(opened=(NewIncident(alert(minute=30, digest=ev.digest(0)), ev.at(30)),))
        )
    first = ledger.incidents.incidents_page("open", 2, None)
    assert [i.detected_at for i in first.items] == ["2026-11-27T10:32:00Z", "2026-11-27T10:31:00Z"]
    second = ledger.incidents.incidents_page("open", 2, first.next_cursor)
    assert [i.detected_at for i in second.items] == ["2026-11-27T10:30:00Z"]
    with pytest.raises(InvalidRequest):
        ledger.incidents.incidents_page("resolved", 2, first.next_cursor)
    incident = ledger.incidents.incident(first.items[0].incident_id)
    recovery = documents.recovery_alert(incident.alert, ev.at(40), 600)
    resolve = Commit(
        resolved=((incident, recovery),), counts=decisions.resolved_counts(incident.kind)
    )
    ledger.writer.commit(resolve)
    with pytest.raises(LedgerConflict):
        ledger.writer.commit(resolve)
    assert ledger.incidents.incident(incident.incident_id).state == "resolved"
    assert len(ledger.incidents.incidents_page("all", 10, None).items) == 3


def test_a_restated_incident_moves_to_its_earlier_time_in_the_listings(ledger):
    later, other = alert("REPLICATION_FAILED", minute=40), alert(minute=35, digest=D2)
    ledger.writer.commit(
        Commit(opened=(NewIncident(later, ev.at(40)), NewIncident(other, ev.at(35))))
    )
    earlier = {**later, "detected_at": "2026-11-27T10:31:00Z"}
    facts = ledger.images.load(REPO, D1).facts
    same = decisions.ImageChange(REPO, D1, facts, facts, restated=(earlier,))
    ledger.writer.commit(Commit(images=(same,)))
    moved = ledger.incidents.incident(later["incident_id"])
    assert (moved.detected_at, moved.alert, moved.state) == (
        earlier["detected_at"],
        earlier,
        "open",
    )
    newest = ledger.incidents.incidents_page("open", 10, None).items
    assert [i.incident_id for i in newest] == [other["incident_id"], later["incident_id"]]
    unknown = {
        **alert("REPLICATION_FAILED", digest=ev.digest(9)),
        "detected_at": earlier["detected_at"],
    }
    with pytest.raises(LedgerConflict):  # nothing to restate: the whole commit is refused
        ledger.writer.commit(
            Commit(images=(decisions.ImageChange(REPO, D1, facts, facts, restated=(unknown,)),))
        )


def test_the_outbox_leases_settles_and_completes_held_documents(ledger):
    held = NewIncident(alert("REPLICATION_FAILED"), ev.at(32), held=True)
    ledger.writer.commit(Commit(opened=(held,)))
    incident_id = held.alert["incident_id"]
    assert [w for w in ledger.work.due_work(ev.at(31), 10) if w.kind == "deliver"] == []
    [work] = ledger.work.due_work(ev.at(32), 10)
    note = ledger.outbox.notification(work.incident_id, work.note)
    assert note.pending == {"sns"} and note.dedup_id == f"{incident_id}#OPEN"
    completed = {**note.alert, "failure_reason": "complete"}
    ledger.outbox.replace_alert(note, completed)
    assert ledger.incidents.incident(incident_id).alert == completed
    now = ev.at(33)
    assert ledger.outbox.claim(note, now, timedelta(minutes=2)) is True
    assert ledger.outbox.claim(note, now, timedelta(minutes=2)) is False
    assert ledger.outbox.claim(note, now + timedelta(minutes=3), timedelta(minutes=2)) is True
    ledger.outbox.settle(note, frozenset({"sns"}), {"sns": 1}, now)
    assert ledger.outbox.notification(incident_id, "OPEN").tries == {"sns": 1}
    ledger.outbox.settle(note, frozenset(), {"sns": 1}, now)
    assert ledger.work.due_work(ev.at(60), 10) == []
    assert ledger.outbox.claim(note, now + timedelta(hours=1), timedelta(minutes=2)) is False


def test_counters_count_each_arrival_once_in_its_minute(ledger):
    counts = Counts(arrivals=((ev.at(10), 1), (ev.at(10), 1), (ev.at(20), 1), (ev.at(20), -1)))
    ledger.writer.commit(Commit(counts=counts + Counts(overwrites=((ev.at(15), 1),))))
    at = ledger.counters.status_counts
    assert (at(ev.at(30)).replicated_24h, at(ev.at(30)).overwritten_24h) == (2, 1)
    assert at(ev.at(10) + timedelta(hours=24)).replicated_24h == 0  # the window has passed
    assert at(ev.at(9)).replicated_24h == 0  # not yet


def test_the_catalogue_pages_replicas_and_finds_the_newest(ledger):
    for n in range(3):
        ledger.writer.commit(push_commit(ledger, f"e{n}", digest=ev.digest(n), minute=n))
    assert ledger.images.repository_known(REPO) and not ledger.images.repository_known("nope/x")
    first = ledger.images.replicas_page(REPO, 4, None)
    rest = ledger.images.replicas_page(REPO, 4, first.next_cursor)
    assert len(first.items) == 4 and len(rest.items) == 2 and rest.next_cursor is None
    newest = ledger.images.newest_replica(REPO, PROD)
    assert newest is not None and newest.digest == ev.digest(2)
    assert ledger.images.load(REPO, ev.digest(9)).facts == ImageFacts()
