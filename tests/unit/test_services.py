"""The use cases on in-memory fakes: the decision table, the lifecycle and the delivery rules,
fast and with no network (the same rules run end to end in tests/e2e)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.core.lifecycle import ImageDeleted, ImagePushed, Location, ReplicationReported
from chalicelib.usecases import delivery, recording
from chalicelib.usecases import sweep as sweep_module
from tests import events as ev
from tests.fakes import RecordingChannel, fake_deps

DEV, PROD, DR = Location(*ev.DEV), Location(*ev.PROD), Location(*ev.DR)
REPO = "team/api"
D1, D2 = ev.digest(1), ev.digest(2)
_ids = iter(range(10**6))


def push(where, tag, digest, minute):
    return ImagePushed(f"p{next(_ids)}", ev.at(minute), where, REPO, digest, tag)


def delete(where, tag, digest, minute):
    return ImageDeleted(f"d{next(_ids)}", ev.at(minute), where, REPO, digest, tag)


def replicated(dest, tag, digest, minute, ok=True, source=DEV):
    return ReplicationReported(
        f"r{next(_ids)}", ev.at(minute), dest, source, REPO, digest, tag, ok, None
    )


@pytest.fixture
def sns():
    return RecordingChannel("sns")


@pytest.fixture
def deps(sns):
    return fake_deps(channels=[sns])


def record(fact, deps):
    use_case = (
        recording.record_replication
        if isinstance(fact, ReplicationReported)
        else recording.record_image_action
    )
    delivery.deliver(use_case(fact, deps).notes, deps)


def sweep(minute, deps):
    return sweep_module.sweep(ev.at(minute), deps)


def states(deps, digest=D1):
    facts = deps.images.load(REPO, digest).facts
    return {r.destination: r.state for r in facts.replicas}


def test_a_replica_still_absent_at_its_due_time_goes_missing_once(deps, sns):
    record(push(DEV, "v1", D1, 0), deps)
    record(replicated(PROD, "v1", D1, 3), deps)
    sweep(29, deps)
    assert sns.kinds() == []
    sweep(31, deps)
    sweep(36, deps)
    assert sns.kinds() == ["REPLICA_MISSING"]
    assert sns.sent[0]["destination"] == DR.as_dict()
    assert states(deps) == {PROD: "replicated", DR: "missing"}
    counts = deps.counters.status_counts(ev.at(40))
    assert (counts.pending, counts.missing, counts.replicated_24h) == (0, 1, 1)


def test_a_failure_alerts_at_once_and_recovers_with_its_lag(deps, sns):
    record(push(DEV, "v1", D1, 0), deps)
    record(replicated(PROD, "v1", D1, 2, ok=False), deps)
    assert sns.kinds() == ["REPLICATION_FAILED"]
    record(replicated(PROD, "v1", D1, 9), deps)
    record(replicated(DR, "v1", D1, 9), deps)
    sweep(10, deps)
    assert sns.kinds() == ["REPLICATION_FAILED", "RECOVERED"]
    recovered = sns.sent[1]
    assert recovered["resolves"] == "REPLICATION_FAILED" and recovered["lag_seconds"] == 9 * 60
    assert recovered["incident_id"] == sns.sent[0]["incident_id"]
    assert deps.counters.status_counts(ev.at(11)).failed == 0


def test_a_failure_before_its_push_waits_for_the_push_document(deps, sns):
    record(replicated(PROD, "v1", D1, 3, ok=False), deps)
    assert sns.kinds() == []
    record(push(DEV, "v1", D1, 0), deps)
    sweep(5, deps)
    [failed] = sns.sent
    assert failed["pushed_at"] == "2026-11-27T10:00:00Z"
    [incident] = deps.incidents.incidents_page("open", 10, None).items
    assert incident.alert == failed  # the document kept is the one published


def test_an_earlier_failure_delivered_late_moves_the_open_incident_to_it(deps, sns):
    record(push(DEV, "v1", D1, 0), deps)
    record(replicated(PROD, "v1", D1, 19, ok=False), deps)
    record(replicated(PROD, "v1", D1, 6, ok=False), deps)
    assert sns.kinds() == ["REPLICATION_FAILED"]  # announced once, with the time then known
    [incident] = deps.incidents.incidents_page("open", 10, None).items
    assert incident.detected_at == incident.alert["detected_at"] == "2026-11-27T10:06:00Z"
    assert incident.alert["incident_id"] == sns.sent[0]["incident_id"]
    record(replicated(PROD, "v1", D1, 12, ok=False), deps)  # between: changes nothing
    [same] = deps.incidents.incidents_page("open", 10, None).items
    assert same == incident


def test_an_earlier_push_learnt_after_a_failure_moves_its_document_to_that_push(deps, sns):
    """Found by the delivery property: the image pushed as v1 at 15 and as latest at 51 fails
    to replicate at 29. Delivered latest, FAILED, then v1, the open incident first named the
    push it knew (latest, 51); once the earlier push is known it names that one, as in time
    order, so that /status does not depend on the delivery order."""
    in_time_order = fake_deps(channels=[RecordingChannel("sns")])
    for fact in (push(DEV, "v1", D1, 15), replicated(DR, "v1", D1, 29, ok=False)):
        record(fact, in_time_order)
    record(push(DEV, "latest", D1, 51), in_time_order)
    for fact in (push(DEV, "latest", D1, 51), replicated(DR, "v1", D1, 29, ok=False)):
        record(fact, deps)
    record(push(DEV, "v1", D1, 15), deps)
    [expected] = in_time_order.incidents.incidents_page("open", 10, None).items
    [incident] = deps.incidents.incidents_page("open", 10, None).items
    assert (incident.alert["tag"], incident.alert["pushed_at"]) == ("v1", "2026-11-27T10:15:00Z")
    assert incident.alert == expected.alert and incident.detected_at == expected.detected_at


def test_a_duplicate_event_reads_once_and_writes_nothing(deps):
    event = push(DEV, "v1", D1, 0)
    record(event, deps)
    before = deps.writer.calls
    record(event, deps)
    assert deps.writer.calls == before + 1  # one load, no commit


def test_untagged_children_expect_nothing_and_an_untagged_replica_arrives(deps, sns):
    record(push(DEV, None, D2, 0), deps)  # a platform manifest of the index
    record(push(DEV, "v1", D1, 0), deps)
    record(push(PROD, None, D1, 2), deps)  # the destination's own untagged PUSH
    record(replicated(DR, "", D1, 2), deps)  # an untagged SUCCESS
    sweep(60, deps)
    assert sns.kinds() == []
    assert states(deps, D2) == {}
    assert states(deps) == {PROD: "replicated", DR: "replicated"}


@pytest.mark.parametrize(
    ("removals", "expected"),
    [
        ([("stable", 5)], {PROD: "missing", DR: "missing"}),
        ([("stable", 5), ("v1", 6)], {PROD: "cancelled", DR: "cancelled"}),
        ([("v1", 6), ("stable", 5)], {PROD: "cancelled", DR: "cancelled"}),
    ],
)
def test_only_the_last_tag_removed_deletes_the_image(deps, removals, expected):
    record(push(DEV, "v1", D1, 0), deps)
    record(push(DEV, "stable", D1, 1), deps)
    for tag, minute in removals:
        record(delete(DEV, tag, D1, minute), deps)
    sweep(60, deps)
    assert states(deps) == expected


def test_an_untagged_delete_at_the_source_cancels_and_recovers(deps, sns):
    record(push(DEV, "v1", D1, 0), deps)
    sweep(31, deps)
    record(delete(DEV, None, D1, 40), deps)
    sweep(45, deps)
    assert sns.kinds() == ["REPLICA_MISSING", "REPLICA_MISSING", "RECOVERED", "RECOVERED"]
    assert {a["lag_seconds"] for a in sns.sent[2:]} == {None}
    assert states(deps) == {PROD: "cancelled", DR: "cancelled"}


@pytest.mark.parametrize(
    ("events", "cause"),
    [
        (
            [
                push(PROD, "latest", D2, 0),
                push(DEV, "latest", D1, 1),
                replicated(PROD, "latest", D1, 2),
            ],
            "replication_overwrote_local_tag",
        ),
        (
            [push(DEV, "v1", D1, 0), replicated(PROD, "v1", D1, 2), push(PROD, "v1", D2, 20)],
            "local_push_overwrote_replica_tag",
        ),
    ],
)
def test_tag_overwrites_are_judged_on_the_history(deps, sns, events, cause):
    for event in events:
        record(event, deps)
    sweep(25, deps)
    overwrites = [a for a in sns.sent if a["kind"] == "TAG_OVERWRITTEN"]
    assert [a["cause"] for a in overwrites] == [cause]
    assert deps.counters.status_counts(ev.at(26)).overwritten_24h == 1
    sweep(26, deps)  # judged once
    assert len([a for a in sns.sent if a["kind"] == "TAG_OVERWRITTEN"]) == 1


def test_propagation_of_the_sources_own_tag_move_is_silent(deps, sns):
    for minute, digest in ((0, D1), (10, D2)):
        record(push(DEV, "latest", digest, minute), deps)
        record(replicated(PROD, "latest", digest, minute + 1), deps)
        record(replicated(DR, "latest", digest, minute + 1), deps)
    sweep(15, deps)
    assert sns.kinds() == []


def test_an_older_event_never_moves_a_tag_back(deps):
    record(push(DEV, "latest", D2, 10), deps)
    record(push(DEV, "latest", D1, 5), deps)
    assert deps.tags.repository_tags(REPO) == {DEV: {"latest": D2}}


def test_a_channel_without_a_limit_is_retried_until_it_works(sns):
    deps = fake_deps(channels=[sns])
    sns.failures = 3
    record(push(DEV, "v1", D1, 0), deps)
    record(replicated(PROD, "v1", D1, 2, ok=False), deps)
    for minute in (5, 10, 15, 20):
        sweep(minute, deps)
    assert sns.kinds() == ["REPLICATION_FAILED"]


def test_a_channel_with_a_limit_is_given_up_and_never_touches_the_others():
    sns, slack = RecordingChannel("sns"), RecordingChannel("slack", max_tries=5)
    slack.failures = 100
    deps = fake_deps(channels=[sns, slack])
    record(push(DEV, "v1", D1, 0), deps)
    record(replicated(DR, "v1", D1, 2), deps)
    record(replicated(PROD, "v1", D1, 2, ok=False), deps)
    for minute in range(5, 60, 5):
        sweep(minute, deps)
    assert sns.kinds().count("REPLICATION_FAILED") == 1
    assert slack.failures == 100 - 5


def test_the_sweep_works_in_time_order_and_stops_when_out_of_time(deps, sns):
    for n in range(5):
        record(push(DEV, "v1", ev.digest(n), n), deps)
    budget = iter([True] * 3 + [False] * 100)
    sweep_module.sweep(ev.at(60), deps, lambda: next(budget))
    opened = deps.incidents.incidents_page("open", 100, None).items
    assert 0 < len(opened) < 10  # stopped early
    sweep(60, deps)
    assert sns.kinds() == ["REPLICA_MISSING"] * 10  # nothing lost, nothing repeated
    assert len({a["incident_id"] for a in sns.sent}) == 10


def test_the_status_counts_cost_one_read_whatever_the_history(deps):
    for n in range(20):
        record(push(DEV, "v1", ev.digest(n), n), deps)
        record(replicated(PROD, "v1", ev.digest(n), n + 1), deps)
    before = deps.counters.calls
    counts = deps.counters.status_counts(ev.at(30))
    assert deps.counters.calls == before + 1
    assert (counts.pending, counts.replicated_24h) == (20, 20)
    assert deps.counters.status_counts(ev.at(30) + timedelta(days=2)).replicated_24h == 0
