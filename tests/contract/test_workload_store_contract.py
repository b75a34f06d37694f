"""One contract, two implementations of the workload store: the in-memory fake and the DynamoDB
adapter (adapters/ledger/workloads.py, against the moto server over HTTP)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.core.lifecycle import Location
from chalicelib.core.workloads import LocationInventory, Pin, Workload
from tests.workload_helpers import InMemoryWorkloadStore

PROD = Location("222222222222", "eu-west-1")
DR = Location("333333333333", "us-east-1")
A, B = "sha256:" + "a" * 64, "sha256:" + "b" * 64
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["fake", "dynamodb"])
def store(request: pytest.FixtureRequest) -> Any:
    if request.param == "fake":
        return InMemoryWorkloadStore()
    from chalicelib.adapters import ledger
    from chalicelib.adapters.ledger.workloads import DynamoWorkloads
    from chalicelib.local.provision import provision

    session = request.getfixturevalue("session")
    env = provision(session, suffix=uuid.uuid4().hex[:10])
    return DynamoWorkloads(ledger.Table(session.client("dynamodb"), env["AUDIT_TABLE"]))


def workload(
    where: Location, repository: str, name: str, digest: str | None = A, **more: Any
) -> Workload:
    values = {
        "type": "ecs-service", "image": f"{where.account}.dkr.ecr.{where.region}.amazonaws.com/"
        f"{repository}:latest", "tag": "latest", "pinned": digest is not None, **more,
    }  # fmt: skip
    return Workload(
        repository, values["type"], name, where.account, where.region, values["image"],
        values["tag"], digest, values["pinned"],
    )  # fmt: skip


def inventory(where: Location, *workloads: Workload, **more: Any) -> LocationInventory:
    return LocationInventory(
        where,
        more.get("refreshed", {"ecs": NOW, "lambda": NOW - timedelta(minutes=3)}),
        more.get("problems", {}),
        tuple(sorted(workloads)),
    )


def test_an_inventory_is_read_whole_or_one_repository_at_a_time(store: Any) -> None:
    api, web = workload(PROD, "team/api", "prod/api"), workload(PROD, "team/web", "prod/web", None)
    fn = workload(PROD, "team/api", "resizer", B, type="lambda-function", tag=None, image="x@" + B)
    saved = inventory(PROD, api, web, fn, problems={"lambda": "throttled"})
    store.save(saved, None)
    assert store.inventory(PROD) == saved
    assert store.inventory(PROD, "team/api").workloads == tuple(sorted((api, fn)))
    assert store.inventory(PROD, "team/none").workloads == ()
    assert store.inventory(DR) is None and store.inventory(DR, "team/api") is None
    states = store.inventories([PROD, DR])
    assert list(states) == [PROD]
    assert states[PROD].refreshed == saved.refreshed and states[PROD].workloads == ()
    assert states[PROD].problems == {"lambda": "throttled"}


def test_a_refresh_replaces_the_entries_and_drops_repositories_no_longer_named(store: Any) -> None:
    first = inventory(PROD, workload(PROD, "team/api", "prod/api"), workload(PROD, "team/web", "w"))
    store.save(first, None)
    store.save(inventory(DR, workload(DR, "team/api", "dr/api", B)), None)
    second = inventory(PROD, workload(PROD, "team/api", "prod/api", B), refreshed={"ecs": NOW})
    store.save(second, first)
    assert store.inventory(PROD) == second
    assert store.repository_workloads("team/web") == []
    assert [(w.name, w.digest) for w in store.repository_workloads("team/api")] == [
        ("dr/api", B),
        ("prod/api", B),
    ]


def test_pins_open_once_survive_refreshes_and_close(store: Any) -> None:
    saved = inventory(PROD, workload(PROD, "team/api", "prod/api"))
    store.save(saved, None)
    pin = Pin(PROD, "team/api", A)
    store.pin_opened(pin, NOW)
    store.pin_opened(pin, NOW + timedelta(minutes=5))  # the first absence is kept
    store.save(inventory(PROD, refreshed={"ecs": NOW + timedelta(minutes=15)}), saved)
    assert store.inventories([PROD])[PROD].open_pins == {pin: NOW}
    assert store.inventory(PROD, "team/api").open_pins == {pin: NOW}
    store.pin_closed(pin)
    store.pin_closed(pin)  # closing twice is harmless
    assert store.inventory(PROD).open_pins == {}
