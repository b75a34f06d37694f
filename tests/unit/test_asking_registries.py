"""Asking the registries (AUDIT_ROLE_NAME): lost events, ECR's own status, TAG_DRIFT, on fakes."""

from __future__ import annotations

import logging

import pytest

from chalicelib.usecases import sweep as sweep_module
from tests import events as ev
from tests.fakes import InMemoryRegistries, RecordingChannel, fake_deps
from tests.unit.test_services import DEV, DR, PROD, REPO, push, record, replicated, states, sweep

D0, D1, D2 = ev.digest(0), ev.digest(1), ev.digest(2)


@pytest.fixture
def registries():
    return InMemoryRegistries()


@pytest.fixture
def sns():
    return RecordingChannel("sns")


@pytest.fixture
def deps(sns, registries):
    return fake_deps(channels=[sns], registries=registries)


def test_a_lost_success_event_raises_nothing_and_records_the_arrival(deps, sns, registries):
    record(push(DEV, "v1", D1, 0), deps)
    for dest in (PROD, DR):
        registries.put(dest, REPO, D1, ev.at(4), tag="v1")
    registries.put(DEV, REPO, D1, ev.at(0), tag="v1")
    sweep(31, deps)
    assert sns.kinds() == []
    assert states(deps) == {PROD: "replicated", DR: "replicated"}
    replicas = deps.images.load(REPO, D1).facts.replicas
    assert {r.replicated_at for r in replicas} == {ev.at(4)}  # the registry's imagePushedAt
    assert deps.counters.status_counts(ev.at(40)).replicated_24h == 2


def test_a_real_gap_is_alerted_with_ecrs_own_status(deps, sns, registries):
    record(push(DEV, "v1", D1, 0), deps)
    registries.put(PROD, REPO, D1, ev.at(4), tag="v1")
    registries.put(DR, REPO, D0, ev.at(-60), tag="old")  # the repository is there, not the image
    registries.put(DEV, REPO, D1, ev.at(0), tag="v1")
    registries.statuses[(DEV, REPO, D1, DR)] = "ECR replication status FAILED (REPLICATION_ERROR)"
    sweep(31, deps)
    [missing] = sns.sent
    assert missing["kind"] == "REPLICA_MISSING" and missing["destination"] == DR.as_dict()
    assert missing["failure_reason"] == "ECR replication status FAILED (REPLICATION_ERROR)"


def test_a_destination_without_the_repository_is_missing(deps, sns, registries):
    record(push(DEV, "v1", D1, 0), deps)
    registries.put(PROD, REPO, D1, ev.at(4), tag="v1")
    registries.put(DEV, REPO, D1, ev.at(0), tag="v1")  # DR has no such repository
    sweep(31, deps)
    assert [a["destination"] for a in sns.sent] == [DR.as_dict()]


def test_a_registry_that_cannot_be_asked_still_lets_the_alert_out(deps, sns, registries, caplog):
    record(push(DEV, "v1", D1, 0), deps)
    registries.down = {PROD, DR, DEV}
    with caplog.at_level(logging.WARNING):
        sweep(31, deps)
    assert sns.kinds() == ["REPLICA_MISSING", "REPLICA_MISSING"]
    lines = [r.getMessage() for r in caplog.records if "registry check skipped" in r.getMessage()]
    assert len(lines) == 2 and all("AccessDenied" in line for line in lines)  # one per account


def test_an_immutable_destination_keeping_the_old_tag_is_drift_until_fixed(deps, sns, registries):
    record(push(DEV, "latest", D1, 0), deps)
    for dest in (PROD, DR):
        record(replicated(dest, "latest", D1, 3), deps)
    registries.put(DEV, REPO, D1, ev.at(0), tag="latest")
    registries.put(PROD, REPO, D1, ev.at(3), tag="latest")
    registries.put(DR, REPO, D1, ev.at(3))
    registries.tags[(DR, REPO)] = {"latest": D0}  # "won't contain the duplicated tag"
    sweep(31, deps)
    [drift] = sns.sent
    assert (drift["kind"], drift["severity"], drift["destination"]) == (
        "TAG_DRIFT",
        "warning",
        DR.as_dict(),
    )
    assert (drift["digest"], drift["previous_digest"]) == (D1, D0)
    status = deps.counters.status_counts(ev.at(32))
    assert status.drifted == 1 and status.missing == 0
    sweep(40, deps)  # not re-checked before its time, and still drifting
    registries.tags[(DR, REPO)] = {"latest": D1}
    sweep(50, deps)
    assert sns.kinds() == ["TAG_DRIFT", "RECOVERED"]
    assert sns.sent[1]["resolves"] == "TAG_DRIFT"
    assert deps.counters.status_counts(ev.at(51)).drifted == 0


def test_a_tag_overwrite_the_ledger_saw_is_not_drift(deps, sns, registries):
    record(push(DEV, "latest", D1, 0), deps)
    for dest in (PROD, DR):
        record(replicated(dest, "latest", D1, 3), deps)
    record(push(PROD, "latest", D2, 10), deps)  # a hand-pushed tag in prod
    for where, digest in ((DEV, D1), (PROD, D2), (DR, D1)):
        registries.put(where, REPO, digest, ev.at(3), tag="latest")
    sweep(31, deps)
    assert [a["kind"] for a in sns.sent] == ["TAG_OVERWRITTEN"]


@pytest.mark.parametrize("arrival", ["untagged push at prod", "registry check only"])
def test_prods_own_tag_kept_by_an_immutable_repository_is_drift(deps, sns, registries, arrival):
    """The setting this project exists for: prod pushed its own `latest` (IMMUTABLE there), then
    dev's `latest` replicates in without the tag. The tag never moved at prod, so no
    TAG_OVERWRITTEN was raised, and nothing else explains the divergence: TAG_DRIFT."""
    record(push(PROD, "latest", D0, -60), deps)  # prod's own push, an hour before
    record(push(DEV, "latest", D1, 0), deps)
    record(replicated(DR, "latest", D1, 3), deps)
    if arrival == "untagged push at prod":
        record(push(PROD, None, D1, 3), deps)  # ECR's PUSH for the replica, without the tag
    registries.put(DEV, REPO, D1, ev.at(0), tag="latest")
    registries.put(DR, REPO, D1, ev.at(3), tag="latest")
    registries.put(PROD, REPO, D0, ev.at(-60), tag="latest")
    registries.put(PROD, REPO, D1, ev.at(3))  # replicated "but won't contain the duplicated tag"
    sweep(31, deps)
    [drift] = sns.sent
    assert (drift["kind"], drift["destination"]) == ("TAG_DRIFT", PROD.as_dict())
    assert (drift["digest"], drift["previous_digest"]) == (D1, D0)
    assert states(deps) == {PROD: "replicated", DR: "replicated"}


def test_a_hand_pushed_tag_reported_as_overwritten_explains_the_divergence_later(
    deps, sns, registries
):
    """An overwrite the ledger judged and reported, then re-pushed with the same digest: the
    divergence is still the one that TAG_OVERWRITTEN told of, not drift."""
    record(push(DEV, "latest", D1, 0), deps)
    for dest in (PROD, DR):
        record(replicated(dest, "latest", D1, 3), deps)
    record(push(PROD, "latest", D2, 10), deps)  # a hand-pushed tag in prod: TAG_OVERWRITTEN
    record(push(PROD, "latest", D2, 12), deps)  # pushed again, same digest: no move
    for where, digest in ((DEV, D1), (PROD, D2), (DR, D1)):
        registries.put(where, REPO, digest, ev.at(3), tag="latest")
    sweep(31, deps)
    assert [a["kind"] for a in sns.sent] == ["TAG_OVERWRITTEN"]


def test_without_registries_nothing_is_asked_and_no_drift_is_checked(sns):
    deps = fake_deps(channels=[sns])
    record(push(DEV, "latest", D1, 0), deps)
    for dest in (PROD, DR):
        record(replicated(dest, "latest", D1, 3), deps)
    sweep_module.sweep(ev.at(10), deps)  # judges the tag entries
    assert not any(r.drift_check for r in deps.images.load(REPO, D1).facts.replicas)
    before = deps.work.calls
    sweep_module.sweep(ev.at(31), deps)  # nothing is due at the due time: no drift check
    assert sns.kinds() == [] and deps.work.calls == before + 1  # an idle sweep: one read


def deleting_config() -> list:
    config = ev.registry(ev.DEV, ([ev.PROD, ev.DR], []))
    config["replicationConfiguration"]["rules"][0]["deleteReplication"] = {"enabled": True}
    return [config]


def delete(where, digest, minute):
    from chalicelib.core.lifecycle import ImageDeleted

    return ImageDeleted(f"del-{where.account}-{minute}", ev.at(minute), where, REPO, digest, None)


def test_a_deletion_the_rule_replicates_must_reach_every_destination(sns):
    deps = fake_deps(config=deleting_config(), channels=[sns])
    record(push(DEV, "v1", D1, 0), deps)
    for dest in (PROD, DR):
        record(replicated(dest, "v1", D1, 3), deps)
    record(delete(DEV, D1, 40), deps)  # e.g. a leaked image removed at the source
    record(delete(PROD, D1, 45), deps)  # replicated to prod; DR still has it
    sweep(69, deps)
    assert [a["kind"] for a in sns.sent if a["kind"] != "TAG_OVERWRITTEN"] == []
    sweep(71, deps)
    [undeleted] = [a for a in sns.sent if a["kind"] == "DELETE_NOT_REPLICATED"]
    assert undeleted["destination"] == DR.as_dict() and undeleted["severity"] == "warning"
    record(delete(DR, D1, 80), deps)
    sweep(90, deps)
    assert sns.kinds()[-1] == "RECOVERED" and sns.sent[-1]["resolves"] == "DELETE_NOT_REPLICATED"
    incidents = deps.incidents.incidents_page("open", 10, None).items
    assert incidents == []


def test_without_delete_replication_a_deletion_expects_nothing_elsewhere(sns):
    deps = fake_deps(channels=[sns])
    record(push(DEV, "v1", D1, 0), deps)
    for dest in (PROD, DR):
        record(replicated(dest, "v1", D1, 3), deps)
    record(delete(DEV, D1, 40), deps)
    sweep(120, deps)
    assert "DELETE_NOT_REPLICATED" not in sns.kinds()


def test_a_registry_that_no_longer_lists_the_image_settles_the_deletion(sns, registries):
    deps = fake_deps(config=deleting_config(), channels=[sns], registries=registries)
    record(push(DEV, "v1", D1, 0), deps)
    for dest in (PROD, DR):
        record(replicated(dest, "v1", D1, 3), deps)
        registries.put(dest, REPO, D0, ev.at(-60), tag="old")  # the repository, not D1
    registries.put(DEV, REPO, D1, ev.at(0), tag="v1")
    record(delete(DEV, D1, 40), deps)  # no DELETE events at the destinations: lost
    sweep(120, deps)
    assert "DELETE_NOT_REPLICATED" not in sns.kinds()
