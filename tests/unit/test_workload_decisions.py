"""The pure core of workload discovery: entries from what ECS and Lambda report, the workloads an
alert concerns, the lines chat renderings show, freshness, and the PINNED_DIGEST_MISSING moves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.core.lifecycle import Location
from chalicelib.core.workloads import (
    ImageUse,
    Pin,
    Workload,
    by_repository,
    concerned,
    is_stale,
    pin_move,
    pins_of,
    to_refresh,
    verdict,
    workload_line,
    workload_lines,
    workloads_of,
)

PROD = Location("222222222222", "eu-west-1")
DR = Location("333333333333", "us-east-1")
A, B = "sha256:" + "a1b2" * 16, "sha256:" + "c3d4" * 16
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def uri(where: Location, rest: str) -> str:
    return f"{where.account}.dkr.ecr.{where.region}.amazonaws.com/{rest}"


def ecs(name: str, *uses: ImageUse, where: Location = PROD) -> list[Workload]:
    return workloads_of(where, "ecs-service", name, uses)


def alert(kind: str, **fields: Any) -> dict[str, Any]:
    base = {
        "kind": kind,
        "resolves": None,
        "repository": "team/api",
        "tag": "latest",
        "digest": B,
        "previous_digest": A,
        "destination": PROD.as_dict(),
        "workloads": None,
    }
    return {**base, **fields}


def test_entries_keep_this_locations_registry_and_know_what_is_pinned() -> None:
    found = ecs(
        "prod/api",
        ImageUse(uri(PROD, "team/api:latest"), digest=A),  # resolved by ECS: pinned
        ImageUse(uri(PROD, "team/worker:v2"), digest=A, follows_tag=True),  # consistency off
        ImageUse(uri(PROD, f"team/cron@{B}")),  # written by digest
        ImageUse(uri(PROD, "team/web:v1")),  # nothing resolved (yet)
        ImageUse(uri(DR, "team/api:latest"), digest=A),  # another Region's registry
        ImageUse("public.ecr.aws/nginx/nginx:1"),  # another registry
    )
    assert [(w.repository, w.tag, w.digest, w.pinned) for w in found] == [
        ("team/api", "latest", A, True),
        ("team/cron", None, B, True),
        ("team/web", "v1", None, False),
        ("team/worker", "v2", A, False),
    ]
    assert found[0].alert_entry() == {
        "type": "ecs-service",
        "name": "prod/api",
        "account": PROD.account,
        "region": PROD.region,
        "image": uri(PROD, "team/api:latest"),
        "digest": A,
    }
    assert found[0].api_entry() == {**found[0].alert_entry(), "tag": "latest", "pinned": True}
    assert list(by_repository(found)) == ["team/api", "team/cron", "team/web", "team/worker"]


def test_a_workload_naming_the_same_image_twice_is_one_entry() -> None:
    twice = ecs(
        "prod/api", ImageUse(uri(PROD, "team/api:v1"), A), ImageUse(uri(PROD, "team/api:v1"), A)
    )
    assert len(twice) == 1


@pytest.mark.parametrize(
    "kind", ["TAG_OVERWRITTEN", "TAG_DRIFT", "REPLICA_MISSING", "REPLICATION_FAILED"]
)
def test_tag_kinds_concern_workloads_that_pull_the_tag_at_the_destination(kind: str) -> None:
    workloads = [
        *ecs("prod/api", ImageUse(uri(PROD, "team/api:latest"), A)),
        *ecs("prod/pinned", ImageUse(uri(PROD, f"team/api:latest@{A}"))),  # the tag is a label
        *ecs("prod/other-tag", ImageUse(uri(PROD, "team/api:v1"), A)),
        *ecs("prod/other-repo", ImageUse(uri(PROD, "team/web:latest"), A)),
        *ecs("dr/api", ImageUse(uri(DR, "team/api:latest"), A), where=DR),
        *workloads_of(
            PROD, "lambda-function", "resizer", [ImageUse(uri(PROD, "team/api:latest"), A)]
        ),
    ]
    names = [w["name"] for w in concerned(alert(kind), workloads) or []]
    assert names == ["prod/api", "resizer"]
    assert concerned(alert(kind), []) == []
    assert concerned(alert(kind), None) is None  # discovery off


def test_pinned_digest_missing_concerns_the_workloads_pinning_that_digest() -> None:
    workloads = [
        *ecs("prod/api", ImageUse(uri(PROD, "team/api:latest"), A)),
        *ecs("prod/loose", ImageUse(uri(PROD, "team/api:latest"), A, follows_tag=True)),
        *ecs("prod/newer", ImageUse(uri(PROD, "team/api:latest"), B)),
        *workloads_of(
            PROD, "lambda-function", "resizer", [ImageUse(uri(PROD, f"team/api@{A}"), A)]
        ),
    ]
    pinned = alert("PINNED_DIGEST_MISSING", tag=None, digest=A, previous_digest=None)
    assert [w["name"] for w in concerned(pinned, workloads) or []] == ["prod/api", "resizer"]
    recovered = {**pinned, "kind": "RECOVERED", "resolves": "PINNED_DIGEST_MISSING"}
    assert concerned(recovered, workloads) == concerned(pinned, workloads)


def test_a_deletion_not_replicated_concerns_the_tag_or_the_digest() -> None:
    workloads = [
        *ecs("prod/by-tag", ImageUse(uri(PROD, "team/api:v1"), B)),
        *ecs("prod/by-digest", ImageUse(uri(PROD, "team/api:v9"), A)),
        *ecs("prod/neither", ImageUse(uri(PROD, "team/api:v9"), B)),
    ]
    undeleted = alert("DELETE_NOT_REPLICATED", tag="v1", digest=A)
    assert [w["name"] for w in concerned(undeleted, workloads) or []] == [
        "prod/by-digest",
        "prod/by-tag",
    ]


def test_lines_say_what_runs_and_what_the_next_deployment_takes() -> None:
    overwritten = alert("TAG_OVERWRITTEN")
    service = {"type": "ecs-service", "name": "prod/api", "digest": A}
    function = {"type": "lambda-function", "name": "resizer", "digest": A}
    assert workload_line(overwritten, service) == (
        "ECS prod/api runs a1b2a1b2a1b2…; its next deployment takes c3d4c3d4c3d4…"
    )
    assert workload_line(overwritten, function) == (
        "Lambda resizer runs a1b2a1b2a1b2…; its next code update takes c3d4c3d4c3d4…"
    )
    assert workload_line(overwritten, {**service, "digest": B}).endswith(
        "the digest the tag names now"
    )
    assert workload_line(overwritten, {**service, "digest": None}).startswith(
        "ECS prod/api runs an unknown digest;"
    )
    missing = alert("REPLICA_MISSING", tag="v1.4.2")
    assert workload_line(missing, service).endswith("its next deployment pulls team/api:v1.4.2")
    pinned = alert("PINNED_DIGEST_MISSING", tag=None, digest=A)
    assert "fails to pull" in workload_line(pinned, service)
    recovered = {**pinned, "kind": "RECOVERED", "resolves": "PINNED_DIGEST_MISSING"}
    assert workload_line(recovered, function) == "Lambda resizer pinned a1b2a1b2a1b2…"
    assert workload_line(
        {**overwritten, "kind": "RECOVERED", "resolves": "TAG_DRIFT"}, service
    ) == ("ECS prod/api ran a1b2a1b2a1b2…")
    assert "restoring the function" in workload_line(pinned, function)
    many = {**overwritten, "workloads": [service] * 12}
    assert len(workload_lines(many)) == 11 and workload_lines(many)[-1] == "… and 2 more"
    assert workload_lines({**overwritten, "workloads": None}) == []


def test_inventories_older_than_fifteen_minutes_are_read_again_oldest_first() -> None:
    assert is_stale(None, NOW)
    assert not is_stale(NOW - timedelta(minutes=14, seconds=59), NOW)
    assert is_stale(NOW - timedelta(minutes=15), NOW)
    third = Location("444444444444", "eu-west-1")
    refreshed = {
        PROD: NOW - timedelta(minutes=40),
        DR: NOW - timedelta(minutes=20),
        third: None,
        Location("555555555555", "eu-west-1"): NOW - timedelta(minutes=1),
    }
    assert to_refresh(refreshed, NOW, limit=10) == [third, PROD, DR]
    assert to_refresh(refreshed, NOW, limit=2) == [third, PROD]


def test_pins_group_the_workloads_pinning_each_digest() -> None:
    workloads = [
        *ecs("prod/api", ImageUse(uri(PROD, "team/api:latest"), A)),
        *ecs("prod/api-canary", ImageUse(uri(PROD, "team/api:latest"), A)),
        *ecs("prod/loose", ImageUse(uri(PROD, "team/api:latest"), B, follows_tag=True)),
        *ecs("prod/unknown", ImageUse(uri(PROD, "team/api:latest"))),
    ]
    pins = pins_of(workloads)
    assert list(pins) == [Pin(PROD, "team/api", A)]
    assert [w.name for w in pins[Pin(PROD, "team/api", A)]] == ["prod/api", "prod/api-canary"]


def test_the_registry_decides_a_pin_and_the_ledger_when_the_registry_cannot_be_asked() -> None:
    assert verdict(listed=True, deleted_there=True) == "present"  # pushed again since
    assert verdict(listed=False, deleted_there=False) == "missing"  # an expiry without event
    assert verdict(listed=None, deleted_there=True) == "missing"
    assert verdict(listed=None, deleted_there=False) == "unknown"


@pytest.mark.parametrize(
    ("pinned_now", "state", "is_open", "move"),
    [
        (True, "missing", False, "open"),
        (True, "present", False, "keep"),
        (True, "unknown", False, "keep"),
        (False, "missing", False, "keep"),  # nothing pins it: nobody is hurt
        (True, "missing", True, "keep"),  # one incident per (location, repository, digest)
        (True, "present", True, "recover"),  # the digest is back
        (False, "missing", True, "recover"),  # nothing references it any more
        (True, "unknown", True, "keep"),
    ],
)
def test_a_pin_opens_once_and_recovers_when_the_digest_is_back_or_unreferenced(
    pinned_now: bool, state: Any, is_open: bool, move: str
) -> None:
    assert pin_move(pinned_now, state, NOW if is_open else None) == move


# --------------------------------------------------------------------------- WORKLOAD_TYPES

BASE = {"AUDIT_TABLE": "t", "ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1:111111111111:t"}


@pytest.mark.parametrize(
    ("env", "types"),
    [
        ({}, set()),  # no audit role: discovery off
        ({"AUDIT_ROLE_NAME": "auditor"}, {"ecs", "lambda"}),
        ({"AUDIT_ROLE_NAME": "auditor", "WORKLOAD_TYPES": "ecs"}, {"ecs"}),
        ({"AUDIT_ROLE_NAME": "auditor", "WORKLOAD_TYPES": " Lambda , ecs "}, {"ecs", "lambda"}),
        ({"AUDIT_ROLE_NAME": "auditor", "WORKLOAD_TYPES": "none"}, set()),
        ({"WORKLOAD_TYPES": "none"}, set()),
    ],
)
def test_workload_types_default_to_both_with_the_audit_role(env: dict, types: set) -> None:
    from chalicelib.settings import Settings

    assert Settings.from_env({**BASE, **env}).workload_types == types


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"AUDIT_ROLE_NAME": "auditor", "WORKLOAD_TYPES": "eks"}, "must be ecs, lambda"),
        ({"AUDIT_ROLE_NAME": "auditor", "WORKLOAD_TYPES": "none,ecs"}, "must be ecs, lambda"),
        ({"AUDIT_ROLE_NAME": "auditor", "WORKLOAD_TYPES": ","}, "must be ecs, lambda"),
        ({"WORKLOAD_TYPES": "ecs"}, "needs AUDIT_ROLE_NAME"),
    ],
)
def test_bad_workload_types_are_refused_with_what_to_do(env: dict, message: str) -> None:
    from chalicelib.core.errors import ConfigError
    from chalicelib.settings import Settings

    with pytest.raises(ConfigError, match=message):
        Settings.from_env({**BASE, **env})


# --------------------------------------------------------------------------- doctor's warnings


def test_doctor_warns_where_deletions_replicate_into_pinned_digests() -> None:
    from chalicelib.core.rules import parse_replication_config
    from chalicelib.core.workload_risks import deletion_risks
    from tests import events as ev

    dev = Location(*ev.DEV)
    raw = ev.registry(ev.DEV, ([ev.PROD], ["secure/"]), ([ev.PROD, ev.DR], ["team/"]))
    raw["replicationConfiguration"]["rules"][0]["deleteReplication"] = {"enabled": True}
    config = parse_replication_config([raw])
    prod = Location(*ev.PROD)
    workloads = [
        *ecs("prod/vault", ImageUse(uri(prod, f"secure/vault@{A}")), where=prod),
        *ecs("prod/loose", ImageUse(uri(prod, "secure/vault:v1"), B, follows_tag=True), where=prod),
        *ecs("prod/api", ImageUse(uri(prod, "team/api:latest"), A), where=prod),  # no deletions
    ]
    (warning,) = deletion_risks(config, workloads)
    assert warning.startswith(f"{dev} -> {prod}: deletions of secure/vault replicate, and ")
    assert "ECS prod/vault pins a1b2a1b2a1b2" in warning and "prod/loose" not in warning


def test_doctor_warns_of_lambda_functions_without_a_replica_in_their_region() -> None:
    from chalicelib.core.rules import parse_replication_config
    from chalicelib.core.workload_risks import lambda_without_replica
    from tests import events as ev

    config = parse_replication_config([ev.registry(ev.DEV, ([ev.PROD], ["team/"]))])
    prod, dev = Location(*ev.PROD), Location(*ev.DEV)
    fn = workloads_of
    workloads = [
        *fn(prod, "lambda-function", "replicated", [ImageUse(uri(prod, "team/api:v1"), A)]),
        *fn(prod, "lambda-function", "local", [ImageUse(uri(prod, "ops/cron:v1"), A)]),
        *fn(dev, "lambda-function", "at-source", [ImageUse(uri(dev, "team/api:v1"), A)]),
        *ecs("prod/svc", ImageUse(uri(prod, "ops/cron:v1"), A)),  # ECS: not this warning
    ]
    (warning,) = lambda_without_replica(config, workloads)
    assert warning.startswith(f"Lambda local in {prod} runs ops/cron, which no replication rule")
