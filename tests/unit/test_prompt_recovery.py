"""An event that settles an open incident has its RECOVERED by the next scheduled sweep, not at
a later periodic re-check (PRODUCT.md, "Rules that hold whatever the delivery"): every kind that
an event can settle, on fakes. The re-check of TAG_DRIFT and DELETE_NOT_REPLICATED comes 15
minutes after the alert; each case here settles it before then and sweeps once, a minute later."""

from __future__ import annotations

import pytest

from tests import events as ev
from tests.fakes import InMemoryRegistries, RecordingChannel, fake_deps
from tests.unit.test_services import DEV, DR, PROD, REPO, delete, push, record, replicated, sweep

D0, D1, D2 = ev.digest(0), ev.digest(1), ev.digest(2)


def deleting_config() -> list:
    config = ev.registry(ev.DEV, ([ev.PROD, ev.DR], []))
    config["replicationConfiguration"]["rules"][0]["deleteReplication"] = {"enabled": True}
    return [config]


@pytest.fixture
def sns():
    return RecordingChannel("sns")


def recovered(sns, kind: str) -> list[dict]:
    return [a for a in sns.sent if a["kind"] == "RECOVERED" and a["resolves"] == kind]


def test_a_replica_arriving_after_its_alert_recovers_at_the_next_sweep(sns):
    deps = fake_deps(channels=[sns])
    record(push(DEV, "v1", D1, 0), deps)
    record(replicated(PROD, "v1", D1, 3), deps)
    sweep(31, deps)
    assert sns.kinds() == ["REPLICA_MISSING"]
    record(replicated(DR, "v1", D1, 33), deps)
    sweep(34, deps)
    assert len(recovered(sns, "REPLICA_MISSING")) == 1


def test_a_success_after_a_failure_recovers_at_the_next_sweep(sns):
    deps = fake_deps(channels=[sns])
    record(push(DEV, "v1", D1, 0), deps)
    record(replicated(PROD, "v1", D1, 2, ok=False), deps)
    record(replicated(PROD, "v1", D1, 9), deps)
    sweep(10, deps)
    assert len(recovered(sns, "REPLICATION_FAILED")) == 1


def undeleted_image(sns):
    """dev deletes team/api@D1 at minute 40 (its rule replicates deletions); prod follows, DR
    does not: DELETE_NOT_REPLICATED at 71 (re-checked at 86)."""
    deps = fake_deps(config=deleting_config(), channels=[sns])
    record(push(DEV, "v1", D1, 0), deps)
    for dest in (PROD, DR):
        record(replicated(dest, "v1", D1, 3), deps)
    record(delete(DEV, None, D1, 40), deps)
    record(delete(PROD, None, D1, 45), deps)
    sweep(71, deps)
    assert sns.kinds() == ["DELETE_NOT_REPLICATED"]
    return deps


@pytest.mark.parametrize("how", ["delete by digest", "delete of its last tag"])
def test_a_deletion_reaching_the_destination_recovers_at_the_next_sweep(sns, how):
    deps = undeleted_image(sns)
    record(delete(DR, None if how == "delete by digest" else "v1", D1, 75), deps)
    sweep(76, deps)
    assert len(recovered(sns, "DELETE_NOT_REPLICATED")) == 1
    assert deps.counters.status_counts(ev.at(77)).undeleted == 0


def untagged_at_source(sns):
    """dev removes `latest` from team/api@D1 (which keeps v1) at 40; neither destination drops
    it: DELETE_NOT_REPLICATED per destination at 71, naming the tag (re-checked at 86)."""
    deps = fake_deps(config=deleting_config(), channels=[sns])
    for tag in ("v1", "latest"):
        record(push(DEV, tag, D1, 0), deps)
        for dest in (PROD, DR):
            record(replicated(dest, tag, D1, 3), deps)
    record(delete(DEV, "latest", D1, 40), deps)
    sweep(71, deps)
    assert sns.kinds() == ["DELETE_NOT_REPLICATED", "DELETE_NOT_REPLICATED"]
    return deps


def test_a_tag_removal_reaching_the_destination_recovers_at_the_next_sweep(sns):
    deps = untagged_at_source(sns)
    record(delete(DR, "latest", D1, 75), deps)
    sweep(76, deps)
    [done] = recovered(sns, "DELETE_NOT_REPLICATED")
    assert done["destination"] == DR.as_dict() and done["tag"] == "latest"


def test_a_drifting_tag_fixed_by_a_push_there_recovers_at_the_next_sweep(sns):
    registries = InMemoryRegistries()
    deps = fake_deps(channels=[sns], registries=registries)
    record(push(DEV, "latest", D1, 0), deps)
    for dest in (PROD, DR):
        record(replicated(dest, "latest", D1, 3), deps)
    registries.put(DEV, REPO, D1, ev.at(0), tag="latest")
    registries.put(PROD, REPO, D1, ev.at(3), tag="latest")
    registries.put(DR, REPO, D1, ev.at(3))
    registries.tags[(DR, REPO)] = {"latest": D0}  # immutable there: the old digest stays
    sweep(31, deps)
    assert sns.kinds() == ["TAG_DRIFT"]
    registries.tags[(DR, REPO)] = {"latest": D1}  # someone re-tags the replica in DR
    record(push(DR, "latest", D1, 35), deps)
    sweep(36, deps)
    assert len(recovered(sns, "TAG_DRIFT")) == 1
