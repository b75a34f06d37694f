"""Tag removals under a rule that replicates deletions (DELETE_NOT_REPLICATED for one tag), and
the replica tag of two pushes in the same second, on fakes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.core import decisions, documents, judgement, lifecycle
from chalicelib.core.alert_formats import render_chatbot
from chalicelib.core.alert_text import next_steps
from chalicelib.core.lifecycle import ImagePushed, Replica, UntagCheck
from chalicelib.core.rules import parse_replication_config
from tests import events as ev
from tests.fakes import InMemoryRegistries, RecordingChannel, fake_deps
from tests.unit.test_services import DEV, DR, PROD, REPO, delete, push, record, replicated, sweep

D1, D2 = ev.digest(1), ev.digest(2)


def deleting_config() -> list:
    config = ev.registry(ev.DEV, ([ev.PROD, ev.DR], []))
    config["replicationConfiguration"]["rules"][0]["deleteReplication"] = {"enabled": True}
    return [config]


@pytest.fixture
def sns():
    return RecordingChannel("sns")


@pytest.fixture
def deps(sns):
    return fake_deps(config=deleting_config(), channels=[sns])


def released(deps, registries=None):
    """team/api pushed as v1 and latest at dev (minute 0), both tags replicated to prod and DR;
    at minute 40 dev removes `latest` (the image keeps v1)."""
    record(push(DEV, "v1", D1, 0), deps)
    record(push(DEV, "latest", D1, 0), deps)
    for dest in (PROD, DR):
        for tag in ("v1", "latest"):
            record(replicated(dest, tag, D1, 3), deps)
            if registries is not None:
                registries.put(dest, REPO, D1, ev.at(3), tag=tag)
    record(delete(DEV, "latest", D1, 40), deps)


def undeleted(sns):
    return [a for a in sns.sent if a["kind"] == "DELETE_NOT_REPLICATED"]


def test_a_tag_removal_replicated_in_time_raises_nothing(deps, sns):
    released(deps)
    for dest in (PROD, DR):
        record(delete(dest, "latest", D1, 45), deps)
    sweep(71, deps)
    assert sns.kinds() == []
    assert all(not r.untag_checks for r in deps.images.load(REPO, D1).facts.replicas)
    before = deps.work.calls
    sweep(200, deps)  # nothing left to check: an idle sweep is one read of the queue
    assert deps.work.calls == before + 1 and sns.kinds() == []


def test_a_tag_removal_not_replicated_alerts_once_naming_the_tag_then_recovers(deps, sns):
    released(deps)
    record(delete(PROD, "latest", D1, 45), deps)  # prod drops it, DR does not
    sweep(69, deps)
    assert sns.kinds() == []
    sweep(71, deps)
    [alert] = undeleted(sns)
    assert (alert["tag"], alert["digest"], alert["cause"]) == ("latest", D1, "tag_removed")
    assert alert["destination"] == DR.as_dict() and alert["severity"] == "warning"
    assert alert["due_at"] == lifecycle.iso(ev.at(70))
    assert alert["summary"].startswith("Tag removal not replicated: team/api:latest still on")
    assert deps.counters.status_counts(ev.at(72)).undeleted == 1
    sweep(80, deps)
    sweep(100, deps)  # re-checked: DR still has it, nothing new
    assert sns.kinds() == ["DELETE_NOT_REPLICATED"]
    record(delete(DR, "latest", D1, 101), deps)
    sweep(120, deps)
    assert sns.kinds() == ["DELETE_NOT_REPLICATED", "RECOVERED"]
    recovered = sns.sent[-1]
    assert (recovered["resolves"], recovered["incident_id"]) == (
        "DELETE_NOT_REPLICATED",
        alert["incident_id"],
    )
    assert deps.counters.status_counts(ev.at(121)).undeleted == 0
    sweep(300, deps)
    assert len(sns.sent) == 2  # each notifies exactly once


def test_a_re_push_of_the_tag_at_the_source_cancels_the_expectation(deps, sns):
    released(deps)
    record(push(DEV, "latest", D1, 50), deps)  # put back before the grace ran out
    sweep(120, deps)
    assert undeleted(sns) == []
    assert all(not r.untag_checks for r in deps.images.load(REPO, D1).facts.replicas)


def test_the_tag_moved_to_another_image_at_the_source_cancels_it_too(deps, sns):
    released(deps)
    record(push(DEV, "latest", D2, 50), deps)
    sweep(120, deps)
    assert undeleted(sns) == []


def test_a_re_push_after_the_alert_recovers_it(deps, sns):
    released(deps)
    sweep(71, deps)
    assert sorted(a["destination"]["account"] for a in undeleted(sns)) == [
        PROD.account,
        DR.account,
    ]
    record(push(DEV, "latest", D1, 75), deps)
    sweep(90, deps)
    assert sns.kinds().count("RECOVERED") == 2


def test_the_destination_tag_moving_elsewhere_fulfils_the_removal(deps, sns):
    released(deps)
    for dest in (PROD, DR):
        record(push(dest, "latest", D2, 50), deps)  # the tag names another image there now
    sweep(120, deps)
    assert undeleted(sns) == []


def test_the_destination_deleting_the_image_fulfils_the_removal(deps, sns):
    released(deps)
    for dest in (PROD, DR):
        record(delete(dest, None, D1, 50), deps)
    sweep(120, deps)
    assert undeleted(sns) == []


def test_a_last_tag_removal_is_an_image_deletion_checked_once(deps, sns):
    released(deps)
    record(delete(DEV, "v1", D1, 41), deps)  # the last tag: the image is gone at dev
    sweep(120, deps)
    alerts = undeleted(sns)
    assert sorted((a["destination"]["account"], a["cause"]) for a in alerts) == [
        (PROD.account, None),
        (DR.account, None),
    ]


def test_without_delete_replication_a_tag_removal_expects_nothing(sns):
    deps = fake_deps(channels=[sns])
    released(deps)
    sweep(120, deps)
    assert undeleted(sns) == []
    assert all(not r.untag_checks for r in deps.images.load(REPO, D1).facts.replicas)


def test_a_registry_without_the_tag_settles_it_when_no_event_came(sns):
    registries = InMemoryRegistries()
    deps = fake_deps(config=deleting_config(), channels=[sns], registries=registries)
    released(deps, registries)
    registries.put(DEV, REPO, D1, ev.at(0), tag="v1")
    registries.tags[(PROD, REPO)].pop("latest")  # removed there; the DELETE event was lost
    sweep(71, deps)
    [alert] = undeleted(sns)  # DR's registry still has it
    assert alert["destination"] == DR.as_dict() and alert["tag"] == "latest"
    registries.tags[(DR, REPO)].pop("latest")
    sweep(90, deps)
    assert sns.kinds()[-1] == "RECOVERED" and sns.sent[-1]["resolves"] == "DELETE_NOT_REPLICATED"


def test_a_registry_that_cannot_be_asked_leaves_the_decision_to_the_ledger(sns):
    registries = InMemoryRegistries()
    deps = fake_deps(config=deleting_config(), channels=[sns], registries=registries)
    released(deps, registries)
    record(delete(PROD, "latest", D1, 45), deps)
    registries.down = {DR}
    sweep(71, deps)
    assert [a["destination"] for a in undeleted(sns)] == [DR.as_dict()]


# ----------------------------------------------------------------------------- the core alone


def replica(**changes) -> Replica:
    base = Replica(REPO, D1, DEV, DR, "v1", ev.at(0), ev.at(30), state="replicated")
    return Replica(**{**base.__dict__, **changes})


def test_the_alert_document_names_the_tag_and_renders_its_commands():
    check = UntagCheck(ev.at(70), ev.at(40), "latest")
    doc = documents.untag_alert(replica(), check, ev.at(71))
    assert set(doc) == set(documents.ALERT_KEYS)
    assert (doc["tag"], doc["cause"]) == ("latest", "tag_removed")
    assert doc["detected_at"] == lifecycle.iso(ev.at(71))
    other = documents.untag_alert(replica(), UntagCheck(ev.at(90), ev.at(60), "latest"), ev.at(91))
    assert other["incident_id"] != doc["incident_id"]  # one incident per removal
    steps = " ".join(next_steps(doc))
    assert "batch-delete-image" in steps and "imageTag=latest" in steps
    assert "Tag removal not replicated" in render_chatbot(doc)["content"]["description"]


def test_an_untag_check_is_set_per_covered_destination_once():
    config = parse_replication_config(deleting_config())
    facts = lifecycle.ImageFacts({}, (replica(destination=PROD), replica()))
    removal = judgement.tag_entry(lifecycle.ImageDeleted("d", ev.at(40), DEV, REPO, D1, "latest"))
    assert removal is not None
    once = decisions.on_untag(removal, facts, config, timedelta(minutes=30))
    twice = decisions.on_untag(removal, once, config, timedelta(minutes=30))
    assert once == twice
    assert {r.untag_checks for r in once.replicas} == {
        frozenset({UntagCheck(ev.at(70), ev.at(40), "latest")})
    }


@pytest.mark.parametrize("first", ["v1", "latest"])
def test_two_pushes_in_the_same_second_name_one_replica_tag_whatever_came_first(first):
    config = parse_replication_config(ev.DEFAULT_CONFIG)
    pushes = {
        tag: ImagePushed(f"e-{tag}", ev.at(0), DEV, REPO, D1, tag) for tag in ("v1", "latest")
    }
    second = "v1" if first == "latest" else "latest"
    facts = lifecycle.ImageFacts()
    for tag in (first, second):
        facts = decisions.on_push(pushes[tag], facts, config, timedelta(minutes=30))
    assert {r.tag for r in facts.replicas} == {"latest"}
