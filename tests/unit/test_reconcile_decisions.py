"""reconcile on the in-memory ledger and registries: what the registries show is recorded, once,
without an alert; disagreements are marked; tag heads are corrected."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.cli import reconcile_text
from chalicelib.core import reconciliation
from chalicelib.core.lifecycle import ImageFacts, ImagePushed, Location, ReplicationReported
from chalicelib.core.reconciliation import RegistryImage, ReplicationStatus
from chalicelib.usecases import delivery, queries, reconcile, recording, sweep
from chalicelib.usecases.reconcile import Selection
from tests import events as ev
from tests.fakes import RecordingChannel, fake_deps
from tests.registry_fakes import Registries

DEV, PROD, DR = Location(*ev.DEV), Location(*ev.PROD), Location(*ev.DR)
REPO = "team/api"
D1, D2, D3 = ev.digest(1), ev.digest(2), ev.digest(3)
NOW = ev.at(24 * 60)  # fake_deps' clock
GRACE = timedelta(minutes=30)
_ids = iter(range(10**6))


@pytest.fixture
def sns():
    return RecordingChannel("sns")


@pytest.fixture
def deps(sns):
    return fake_deps(channels=[sns])


@pytest.fixture
def registries():
    found = Registries()
    for where in (DEV, PROD, DR):
        found(where).create(REPO)
    return found


def record(deps, *facts):
    for fact in facts:
        if isinstance(fact, ReplicationReported):
            outcome = recording.record_replication(fact, deps)
        else:
            outcome = recording.record_image_action(fact, deps)
        delivery.deliver(outcome.notes, deps)


def push(where, tag, digest, minute):
    return ImagePushed(f"p{next(_ids)}", ev.at(minute), where, REPO, digest, tag)


def arrived(dest, tag, digest, minute):
    return ReplicationReported(f"r{next(_ids)}", ev.at(minute), dest, DEV, REPO, digest, tag, True)


def run(deps, registries, selection=None, **kw):
    return reconcile.reconcile_repository(
        REPO, deps, registries, deps.settings.replication, selection or Selection(), **kw
    )


def states(deps, digest=D1):
    return {r.destination: r.state for r in deps.images.load(REPO, digest).facts.replicas}


def sweep_kinds(deps, sns, minute=24 * 60 + 5):
    sweep.sweep(ev.at(minute), deps)
    return sns.kinds()


# ----------------------------------------------------------------------------- learn


def image(digest, minute, *tags):
    return RegistryImage(digest, ev.at(minute), tuple(tags), "ACTIVE")


def test_learn_records_an_old_image_where_it_is_and_expects_no_overdue_replica():
    config = fake_deps().settings.replication
    sightings = {DEV: image(D1, 0, "v1", "latest"), PROD: image(D1, 4)}
    after = reconciliation.learn(ImageFacts(), REPO, D1, sightings, config, GRACE, NOW)
    assert after.present_at(DEV) == ev.at(0) and after.presence[DEV].tags == {"v1", "latest"}
    (replica,) = after.replicas  # to prod, where it is; none to DR, where it never went
    assert (replica.destination, replica.state, replica.replicated_at) == (
        PROD,
        "replicated",
        ev.at(4),
    )
    assert replica.tag == "latest" and replica.lag_seconds == 240


def test_learn_expects_a_recent_image_as_its_push_would_have():
    config = fake_deps().settings.replication
    sightings = {DEV: image(D1, 24 * 60 - 10, "v1")}
    sightings[PROD] = image(D1, 24 * 60 - 8)
    after = reconciliation.learn(ImageFacts(), REPO, D1, sightings, config, GRACE, NOW, True)
    assert {r.destination: (r.state, r.due_at, r.drift_check) for r in after.replicas} == {
        PROD: ("replicated", ev.at(24 * 60 + 20), False),  # history: no drift check
        DR: ("pending", ev.at(24 * 60 + 20), True),  # as a push would have: judged when due
    }


def test_learn_expects_nothing_of_an_untagged_image():
    config = fake_deps().settings.replication
    after = reconciliation.learn(ImageFacts(), REPO, D1, {DEV: image(D1, 0)}, config, GRACE, NOW)
    assert after.replicas == () and after.present_at(DEV) == ev.at(0)


def test_head_correction_moves_the_head_forward_whatever_the_push_time():
    from chalicelib.core.judgement import TagEntry

    head = TagEntry(PROD, REPO, "v1", ev.at(10), "e1", D1, "replication", DEV)
    later = reconciliation.head_correction(PROD, REPO, "v1", image(D2, 20), head)
    assert later.time == ev.at(20) and later.kind == "push" and later.digest == D2
    older = reconciliation.head_correction(PROD, REPO, "v1", image(D2, 5), head)
    assert older.time == ev.at(10) + timedelta(seconds=1)
    assert older.event_id.startswith("reconcile-") and older.event_id != later.event_id
    assert reconciliation.head_correction(PROD, REPO, "v1", image(D2, 5), None).time == ev.at(5)


# ----------------------------------------------------------------------------- the use case


def test_a_replica_the_ledger_thought_pending_is_recorded_as_arrived_without_alert(
    deps, sns, registries
):
    record(deps, push(DEV, "v1", D1, 24 * 60 - 40))  # due 10 minutes ago, the sweep not run
    record(deps, arrived(PROD, "v1", D1, 24 * 60 - 38))
    registries(DEV).put(REPO, D1, "v1", ev.at(24 * 60 - 40))
    registries(PROD).put(REPO, D1, "v1", ev.at(24 * 60 - 38))
    registries(DR).put(REPO, D1, "v1", ev.at(24 * 60 - 35))  # its event was lost
    report = run(deps, registries, Selection(tag="v1"))
    assert states(deps) == {PROD: "replicated", DR: "replicated"}
    assert (report.recorded, report.arrived, report.predating) == (1, 1, 0)
    (dr,) = [r for r in report.replicas if r.destination == DR]
    assert (dr.before, dr.after, dr.present, dr.disagrees) == ("pending", "replicated", True, True)
    assert sweep_kinds(deps, sns) == []
    counts = deps.counters.status_counts(NOW)
    assert (counts.pending, counts.missing, counts.replicated_24h) == (0, 0, 2)
    again = run(deps, registries, Selection(tag="v1"))
    assert (again.recorded, again.arrived, again.corrected) == (0, 0, 0)


def test_a_missing_replica_found_present_closes_its_incident_with_one_recovery(
    deps, sns, registries
):
    record(deps, push(DEV, "v1", D1, 0), arrived(PROD, "v1", D1, 3))
    sweep.sweep(ev.at(31), deps)
    assert sns.kinds() == ["REPLICA_MISSING"]
    registries(DEV).put(REPO, D1, "v1", ev.at(0))
    registries(PROD).put(REPO, D1, "v1", ev.at(3))
    registries(DR).put(REPO, D1, "v1", ev.at(45))
    run(deps, registries, Selection(digest=D1))
    assert states(deps)[DR] == "replicated"
    assert sweep_kinds(deps, sns) == ["REPLICA_MISSING", "RECOVERED"]
    assert sns.sent[-1]["lag_seconds"] == 45 * 60


def test_an_image_that_predates_the_auditor_is_recorded_and_listed_as_never_reached(
    deps, sns, registries
):
    registries(DEV).put(REPO, D1, "v0", ev.at(-90 * 24 * 60))
    registries(PROD).put(REPO, D1, "v0", ev.at(-90 * 24 * 60 + 2))
    report = run(deps, registries)
    assert report.predating == 1 and report.recorded == 1
    assert states(deps) == {PROD: "replicated"}
    (never,) = report.never_reached
    assert (never.source, never.destination, never.before, never.present) == (
        DEV,
        DR,
        None,
        False,
    )
    described = queries.describe_images(REPO, None, "v0", 10, None, deps)
    assert {(loc["account"], loc["tags"]["v0"]) for loc in described["locations"]} == {
        (DEV.account, D1),
        (PROD.account, D1),
    }
    assert sweep_kinds(deps, sns) == []
    text = reconcile_text.render_text(report, {})
    assert "(never reached: a backfill candidate)" in text
    assert "1 image(s): 1 recorded (1 new to the ledger)" in text


def test_a_destination_tag_that_differs_is_marked_and_corrected(deps, sns, registries):
    record(deps, push(DEV, "v1", D1, 0), arrived(PROD, "v1", D1, 3), arrived(DR, "v1", D1, 3))
    # The sweep has judged the events' tag entries. (One still waiting for its judgement
    # would be judged against the corrected head as its successor, as for any late event.)
    sweep.sweep(ev.at(10), deps)
    registries(DEV).put(REPO, D1, "v1", ev.at(0))
    registries(DR).put(REPO, D1, "v1", ev.at(3))
    registries(PROD).put(REPO, D1, "v1", ev.at(3))
    registries(PROD).put(REPO, D2, "v1", ev.at(50))  # pushed by hand in prod, event lost
    report = run(deps, registries, Selection(tag="v1"))
    (prod,) = [v for v in report.locations if v.location == PROD]
    (tag,) = prod.tags
    assert (tag.registry, tag.ledger, tag.corrected, tag.agrees) == (D2, D1, True, False)
    assert report.corrected == 1
    assert deps.tags.repository_tags(REPO)[PROD] == {"v1": D2}
    head = deps.tags.heads_as_of(PROD, REPO, ["v1"], NOW)["v1"]
    assert (head.time, head.kind, head.event_id[:10]) == (ev.at(50), "push", "reconcile-")
    assert states(deps, D2) == {}  # a local image in prod: nothing expected of it
    text = reconcile_text.render_text(report, {"222222222222/eu-west-1": "prod"})
    assert "prod 222222222222/eu-west-1 (destination)" in text
    assert f"! tag v1 -> {D2[:19]}  ledger: {D1[:19]} -> corrected" in text
    assert sweep_kinds(deps, sns) == []  # history, not an overwrite to alert on
    assert run(deps, registries, Selection(tag="v1")).corrected == 0


def test_a_tag_the_ledger_knows_but_the_registry_lacks_is_reported_not_removed(deps, registries):
    record(deps, push(DEV, "v1", D1, 0), arrived(PROD, "v1", D1, 3))
    registries(DEV).put(REPO, D1, "v1", ev.at(0))
    registries(PROD).put(REPO, D1, None, ev.at(3))  # the tag went; the image stayed
    report = run(deps, registries, Selection(digest=D1))
    (prod,) = [v for v in report.locations if v.location == PROD]
    assert [(t.tag, t.registry, t.ledger, t.corrected) for t in prod.tags] == [
        ("v1", None, D1, False)
    ]
    assert deps.tags.repository_tags(REPO)[PROD] == {"v1": D1}
    assert "(not in the registry)" in reconcile_text.render_text(report, {})


def test_a_registry_that_cannot_be_asked_is_reported_and_the_rest_recorded(deps, registries):
    record(deps, push(DEV, "v1", D1, 24 * 60 - 40))
    registries(DEV).put(REPO, D1, "v1", ev.at(24 * 60 - 40))
    registries(PROD).put(REPO, D1, "v1", ev.at(24 * 60 - 38))
    registries(DR).unavailable = "access denied"
    report = run(deps, registries, Selection(tag="v1"))
    assert states(deps) == {PROD: "replicated", DR: "pending"}
    assert report.errors == [f"{DR}: ECR registry {DR.account}/{DR.region}: access denied"]
    (dr,) = [r for r in report.replicas if r.destination == DR]
    assert dr.present is None and not dr.disagrees and report.never_reached == []
    assert "? could not ask" in reconcile_text.render_text(report, {})


def test_ecrs_own_status_is_shown_for_a_replica_not_there(deps, registries):
    record(deps, push(DEV, "v1", D1, 24 * 60 - 10))
    registries(DEV).put(REPO, D1, "v1", ev.at(24 * 60 - 10))
    registries(PROD).put(REPO, D1, "v1", ev.at(24 * 60 - 8))
    registries(DEV).statuses[(REPO, D1)] = [
        ReplicationStatus(PROD, "COMPLETE", None),
        ReplicationStatus(DR, "FAILED", "REPLICATION_DESTINATION_POLICY_DENIED"),
    ]
    report = run(deps, registries, Selection(tag="v1"))
    ecr = {r.destination: r.ecr for r in report.replicas}
    assert ecr == {PROD: "COMPLETE", DR: "FAILED (REPLICATION_DESTINATION_POLICY_DENIED)"}
    document = reconcile_text.render_json(report)
    assert document["summary"]["arrived"] == 1
    assert {r["ecr_status"] for r in document["replicas"]} == set(ecr.values())


def test_a_repository_missing_in_a_destination_means_absent_there(deps, registries):
    registries(DEV).put(REPO, D3, "v3", ev.at(-5000))
    del registries(DR).repos[REPO]
    report = run(deps, registries)
    (dr,) = [v for v in report.locations if v.location == DR]
    assert not dr.exists
    assert {(r.destination, r.present) for r in report.replicas} == {(PROD, False), (DR, False)}
    assert len(report.never_reached) == 2
