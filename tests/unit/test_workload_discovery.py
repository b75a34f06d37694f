"""Workload discovery on fakes: the sweep keeps every monitored location's inventory fresh within
its bound, alerts name the workloads they concern (reading a stale inventory first), a failed
read leaves them unknown and the alert intact, and PINNED_DIGEST_MISSING opens once and
recovers when the digest is back or nothing pins it."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.core.lifecycle import ImageDeleted, ImagePushed, Location, ReplicationReported
from chalicelib.core.workloads import ImageUse, Pin, workloads_of
from chalicelib.usecases import delivery, pins, recording
from chalicelib.usecases import sweep as sweep_module
from tests import events as ev
from tests.fakes import InMemoryRegistries, RecordingChannel, fake_deps
from tests.workload_helpers import InMemoryWorkloadReader, InMemoryWorkloadStore

DEV, PROD, DR = Location(*ev.DEV), Location(*ev.PROD), Location(*ev.DR)
REPO = "team/api"
D1, D2 = ev.digest(1), ev.digest(2)
_ids = iter(range(10**6))


def uri(where: Location, rest: str) -> str:
    return f"{where.account}.dkr.ecr.{where.region}.amazonaws.com/{REPO}{rest}"


def service(name: str, rest: str, runs: str | None, where: Location = PROD) -> Any:
    (found,) = workloads_of(where, "ecs-service", name, [ImageUse(uri(where, rest), runs)])
    return found


def function(name: str, rest: str, runs: str | None, where: Location = PROD) -> Any:
    (found,) = workloads_of(where, "lambda-function", name, [ImageUse(uri(where, rest), runs)])
    return found


class World:
    def __init__(self, **env: str) -> None:
        self.sns = RecordingChannel("sns")
        self.registries = InMemoryRegistries()
        self.deps = fake_deps(
            channels=[self.sns], registries=self.registries, AUDIT_ROLE_NAME="auditor", **env
        )
        self.reader = InMemoryWorkloadReader(tuple(sorted(self.deps.settings.workload_types)))
        self.store = InMemoryWorkloadStore()
        if self.deps.settings.workload_types:
            self.deps.workloads, self.deps.inventory = self.reader, self.store

    def record(self, fact: Any) -> None:
        use = (
            recording.record_replication
            if isinstance(fact, ReplicationReported)
            else recording.record_image_action
        )
        delivery.deliver(use(fact, self.deps).notes, self.deps)

    def sweep(self, minute: float) -> None:
        sweep_module.sweep(ev.at(minute), self.deps)

    def alerts(self, kind: str | None = None) -> list[dict[str, Any]]:
        sent = self.sns.sent
        return [a for a in sent if kind in (None, a["kind"], a.get("resolves"))]


def push(where: Location, tag: str | None, digest: str, minute: float) -> ImagePushed:
    return ImagePushed(f"p{next(_ids)}", ev.at(minute), where, REPO, digest, tag)


def test_the_sweep_reads_each_inventory_then_again_once_it_is_fifteen_minutes_old() -> None:
    world = World()
    world.sweep(0)
    assert sorted(world.reader.reads) == sorted([DEV, DR, PROD])
    world.sweep(14)
    assert len(world.reader.reads) == 3
    world.sweep(15)
    assert len(world.reader.reads) == 6


def test_a_sweep_reads_at_most_its_bound_of_inventories_never_read_first() -> None:
    many = [ev.registry(ev.DEV, ([(f"4{n:011}", "eu-west-1") for n in range(25)], []))]
    world = World(REPLICATION_CONFIG=json.dumps(many))
    world.sweep(0)
    assert len(world.reader.reads) == pins.MAX_REFRESHES
    world.sweep(1)
    world.sweep(2)
    assert len(set(world.reader.reads)) == 26  # every location read within three sweeps
    assert len(world.reader.reads) == 26


def test_an_overdue_replica_names_the_workloads_pulling_its_tag_at_the_destination() -> None:
    world = World()
    world.reader.run(
        service("prod/api", ":v1", D2),
        function("resizer", ":v1", D2),
        service("prod/other", ":v9", D2),
        service("dr/api", ":v1", D2, where=DR),
    )
    world.record(push(DEV, "v1", D1, 0))
    world.sweep(31)
    named = {
        Location(**a["destination"]): [w["name"] for w in a["workloads"]]
        for a in world.alerts("REPLICA_MISSING")
    }
    assert named == {PROD: ["prod/api", "resizer"], DR: ["dr/api"]}
    entry = world.alerts("REPLICA_MISSING")[0]["workloads"][0]
    assert set(entry) == {"type", "name", "account", "region", "image", "digest"}


def test_an_alert_about_a_location_read_long_ago_reads_it_first() -> None:
    world = World()
    world.sweep(0)
    world.reader.run(service("prod/api", ":v1", D2))  # deployed after the sweep's read
    world.record(push(DEV, "v1", D1, 0))
    fail = ReplicationReported("f1", ev.at(20), PROD, DEV, REPO, D1, "v1", False, "boom")
    world.deps.clock = lambda: ev.at(20)
    world.record(fail)  # 20 minutes after the read: read again before the alert
    (failed,) = world.alerts("REPLICATION_FAILED")
    assert [w["name"] for w in failed["workloads"]] == ["prod/api"]
    assert world.reader.reads.count(PROD) == 2


def test_a_throttled_read_leaves_workloads_unknown_and_the_alert_intact(
    caplog: pytest.LogCaptureFixture,
) -> None:
    world = World()
    world.reader.run(service("prod/api", ":v1", D2))
    world.reader.failing[(PROD, "ecs")] = f"ECS services of account {PROD.account} unknown"
    world.record(push(DEV, "v1", D1, 0))
    world.record(ReplicationReported("f1", ev.at(1), PROD, DEV, REPO, D1, "v1", False, "x"))
    (failed,) = world.alerts("REPLICATION_FAILED")
    assert failed["workloads"] == []
    assert world.store.saved[PROD].problems == {
        "ecs": f"ECS services of account {PROD.account} unknown"
    }


def test_without_discovery_workloads_is_null() -> None:
    world = World(WORKLOAD_TYPES="none")
    world.record(push(DEV, "v1", D1, 0))
    world.record(ReplicationReported("f1", ev.at(1), PROD, DEV, REPO, D1, "v1", False, "x"))
    (failed,) = world.alerts("REPLICATION_FAILED")
    assert failed["workloads"] is None and world.reader.reads == []


# --------------------------------------------------------------------------- pinned digests


def pinned_world() -> World:
    world = World()
    world.registries.put(PROD, REPO, D2, ev.at(0))  # the registry has D2, not D1
    world.reader.run(service("prod/api", ":latest", D1), function("resizer", f"@{D1}", D1))
    return world


def test_a_pinned_digest_gone_from_the_registry_opens_one_incident_naming_its_workloads() -> None:
    world = pinned_world()
    world.sweep(0)
    (opened,) = world.alerts("PINNED_DIGEST_MISSING")
    assert opened["severity"] == "critical" and opened["digest"] == D1 and opened["tag"] is None
    assert opened["destination"] == PROD.as_dict()
    assert [w["name"] for w in opened["workloads"]] == ["prod/api", "resizer"]
    world.sweep(1)
    world.sweep(16)  # read again, still missing: the same incident
    assert len(world.alerts("PINNED_DIGEST_MISSING")) == 1
    assert world.store.pins == {Pin(PROD, REPO, D1): ev.at(0)}


def test_it_recovers_by_the_next_sweep_once_the_digest_is_back() -> None:
    world = pinned_world()
    world.sweep(0)
    world.registries.put(PROD, REPO, D1, ev.at(3))
    world.sweep(4)  # not a read of the inventory (4 minutes old): the open pin is checked
    assert [a["kind"] for a in world.alerts()] == ["PINNED_DIGEST_MISSING", "RECOVERED"]
    assert world.store.pins == {}


def test_it_recovers_once_nothing_pins_the_digest() -> None:
    world = pinned_world()
    world.sweep(0)
    world.reader.stop("prod/api")
    world.reader.stop("resizer")
    world.sweep(5)
    assert [a["kind"] for a in world.alerts()] == ["PINNED_DIGEST_MISSING"]  # not read yet
    world.sweep(15)
    assert [a["kind"] for a in world.alerts()] == ["PINNED_DIGEST_MISSING", "RECOVERED"]


def test_an_unknown_workload_type_never_recovers_a_pin_as_unreferenced() -> None:
    world = pinned_world()
    world.sweep(0)
    world.reader.stop("prod/api")
    world.reader.failing[(PROD, "lambda")] = "throttled"
    world.sweep(15)
    world.sweep(31)  # lambda unknown for more than 15 minutes: the function may still pin it
    assert [a["kind"] for a in world.alerts()] == ["PINNED_DIGEST_MISSING"]


def test_without_the_registry_the_ledgers_deletion_decides() -> None:
    world = World()
    world.registries.down.add(PROD)
    world.reader.run(service("prod/api", ":latest", D1))
    world.record(push(PROD, "latest", D1, 0))
    world.sweep(1)
    assert world.alerts("PINNED_DIGEST_MISSING") == []
    world.record(ImageDeleted("d1", ev.at(2), PROD, REPO, D1, None))
    world.sweep(16)
    (opened,) = world.alerts("PINNED_DIGEST_MISSING")
    assert opened["source"] is None


def test_a_pin_opened_before_a_crash_opens_the_same_incident_at_the_next_sweep() -> None:
    world = pinned_world()
    world.store.pin_opened(Pin(PROD, REPO, D1), ev.at(0) - timedelta(minutes=1))  # no incident
    world.sweep(0)
    (opened,) = world.alerts("PINNED_DIGEST_MISSING")
    assert opened["detected_at"] == "2026-11-27T10:00:00Z"
    assert world.store.pins == {Pin(PROD, REPO, D1): ev.at(0) - timedelta(minutes=1)}
