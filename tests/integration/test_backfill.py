"""EcrBackfills through botocore's Stubber (moto has no backfill API): requests and answers on
the shapes of botocore's own ECR model (1.44.8), which the Stubber validates both ways; errors
mapped; and the use cases (start one per destination Region, follow and record) on top."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.stub import Stubber

from chalicelib.core.errors import RegistryUnavailable
from chalicelib.core.lifecycle import Location
from chalicelib.local.backfills import EcrBackfills
from chalicelib.usecases import backfill, sweep
from chalicelib.usecases.backfill import BackfillInProgress, BackfillLimit
from tests import events as ev
from tests.fakes import RecordingChannel, fake_deps

DEV, PROD, DR = Location(*ev.DEV), Location(*ev.PROD), Location(*ev.DR)
IDS = [f"0000000{n}-aaaa-bbbb-cccc-dddddddddddd" for n in range(4)]
STARTED = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
ENDED = datetime(2026, 11, 28, 9, 40, tzinfo=UTC)


@pytest.fixture
def stubbed(session: Any) -> Any:
    client = session.client("ecr", region_name=DEV.region)
    with Stubber(client) as stub:
        yield EcrBackfills(client, DEV), stub
        stub.assert_no_pending_responses()


def summary(n: int, destination: Location, status: str, **more: Any) -> dict[str, Any]:
    return {
        "replicationBackfillId": IDS[n],
        "destination": {"region": destination.region, "registryId": destination.account},
        "status": status,
        "startedAt": STARTED,
        **more,
    }


def test_start_sends_the_source_registry_and_one_destination(stubbed: Any) -> None:
    api, stub = stubbed
    stub.add_response(
        "start_replication_backfill",
        {
            "replicationBackfillId": IDS[0],
            "registryId": DEV.account,
            "destination": {"region": PROD.region, "registryId": PROD.account},
            "status": "PREPARING",
            "startedAt": STARTED,
        },
        {
            "registryId": DEV.account,
            "destination": {"region": PROD.region, "registryId": PROD.account},
        },
    )
    started = api.start(PROD)
    assert (started.backfill_id, started.source, started.destination) == (IDS[0], DEV, PROD)
    assert started.status == "PREPARING" and started.total is None and started.started_at == STARTED


@pytest.mark.parametrize(
    ("code", "raised"),
    [
        ("ReplicationBackfillInProgressException", BackfillInProgress),
        ("LimitExceededException", BackfillLimit),
        ("AccessDeniedException", RegistryUnavailable),
        ("ValidationException", RegistryUnavailable),
    ],
)
def test_refusals_are_the_projects_errors(stubbed: Any, code: str, raised: type) -> None:
    api, stub = stubbed
    stub.add_client_error("start_replication_backfill", code, "no")
    with pytest.raises(raised) as caught:
        api.start(PROD)
    if raised is RegistryUnavailable:
        assert caught.value.account == DEV.account and str(caught.value).startswith(
            f"ECR registry {DEV.account}/{DEV.region}:"
        )


def test_backfills_are_listed_page_by_page_with_their_progress(stubbed: Any) -> None:
    api, stub = stubbed
    progress = {
        "totalReplicationCount": 10,
        "completedReplicationCount": 7,
        "failedReplicationCount": 1,
        "failureCodes": ["REPLICATION_DESTINATION_POLICY_DENIED"],
    }
    stub.add_response(
        "list_replication_backfills",
        {"backfills": [summary(0, PROD, "IN_PROGRESS", progress=progress)], "nextToken": "t2"},
        {"registryId": DEV.account, "maxResults": 50},
    )
    stub.add_response(
        "list_replication_backfills",
        {"backfills": [summary(1, DR, "PREPARING")]},
        {"registryId": DEV.account, "maxResults": 50, "nextToken": "t2"},
    )
    first, second = api.backfills()
    assert (first.status, first.total, first.completed, first.failed) == ("IN_PROGRESS", 10, 7, 1)
    assert first.failure_codes == ("REPLICATION_DESTINATION_POLICY_DENIED",)
    assert (second.destination, second.total) == (DR, None)  # no progress while PREPARING


def test_results_are_read_page_by_page(stubbed: Any) -> None:
    api, stub = stubbed
    base = {"registryId": DEV.account, "replicationBackfillId": IDS[0], "maxResults": 1000}
    stub.add_response(
        "describe_replication_backfill_results",
        {
            "replicationBackfillId": IDS[0],
            "status": "COMPLETE",
            "results": [
                {
                    "repositoryName": "team/api",
                    "imageId": {"imageDigest": ev.digest(1), "imageTag": "v1"},
                    "status": "COMPLETE",
                }
            ],
            "nextToken": "n2",
        },
        base,
    )
    stub.add_response(
        "describe_replication_backfill_results",
        {
            "results": [
                {
                    "repositoryName": "team/web",
                    "imageId": {"imageDigest": ev.digest(2), "imageTag": "v2"},
                    "status": "FAILED",
                    "failureCode": "REPLICATION_DESTINATION_POLICY_DENIED",
                    "subImageFailureCodes": ["CMK_DISABLED"],
                }
            ]
        },
        {**base, "nextToken": "n2"},
    )
    ok, failed = api.results(IDS[0])
    assert (ok.repository, ok.digest, ok.tag, ok.status) == (
        "team/api",
        ev.digest(1),
        "v1",
        "COMPLETE",
    )
    assert (failed.failure_code, failed.sub_image_failure_codes) == (
        "REPLICATION_DESTINATION_POLICY_DENIED",
        ("CMK_DISABLED",),
    )


def test_start_backfills_on_the_adapter_one_per_region(stubbed: Any) -> None:
    api, stub = stubbed
    prod2 = Location("444444444444", PROD.region)
    stub.add_response(
        "list_replication_backfills",
        {"backfills": [summary(0, DR, "COMPLETE", endedAt=ENDED)]},  # ended: no obstacle
        {"registryId": DEV.account, "maxResults": 50},
    )
    stub.add_response(
        "start_replication_backfill",
        {"replicationBackfillId": IDS[2], "status": "PREPARING"},
        {
            "registryId": DEV.account,
            "destination": {"region": PROD.region, "registryId": PROD.account},
        },
    )
    stub.add_response(
        "start_replication_backfill",
        {"replicationBackfillId": IDS[1], "status": "PREPARING"},
        {"registryId": DEV.account, "destination": {"region": DR.region, "registryId": DR.account}},
    )
    started = backfill.start_backfills([(DEV, DR), (DEV, PROD), (DEV, prod2)], lambda s: api)
    assert [(s.destination, s.outcome) for s in started] == [
        (PROD, "started"),
        (DR, "started"),
        (prod2, "waiting"),  # prod's Region is busy with the backfill just started
    ]


def test_follow_on_the_adapter_records_the_completed_images(stubbed: Any) -> None:
    from chalicelib.core.lifecycle import ImagePushed
    from chalicelib.usecases import recording

    api, stub = stubbed
    sns = RecordingChannel()
    deps = fake_deps(channels=[sns])
    old = datetime(2025, 1, 1, tzinfo=UTC)
    recording.record_image_action(ImagePushed("p", old, DEV, "team/api", ev.digest(1), None), deps)
    stub.add_response(
        "list_replication_backfills",
        {"backfills": [summary(0, PROD, "FAILED", endedAt=ENDED, failureCode="THRESHOLD")]},
        {"registryId": DEV.account, "maxResults": 50},
    )
    stub.add_response(
        "describe_replication_backfill_results",
        {
            "results": [
                {
                    "repositoryName": "team/api",
                    "imageId": {"imageDigest": ev.digest(1), "imageTag": "v1"},
                    "status": "COMPLETE",
                },
            ]
        },
        {"registryId": DEV.account, "replicationBackfillId": IDS[0], "maxResults": 1000},
    )
    (followed,), errors = backfill.follow([DEV], lambda s: api, deps)
    assert errors == [] and followed.recorded == 1
    (replica,) = deps.images.load("team/api", ev.digest(1)).facts.replicas
    assert (replica.state, replica.pushed_at, replica.replicated_at) == ("replicated", old, ENDED)
    text = backfill.render_followed([followed], [])
    assert f"{IDS[0]} {DEV} -> {PROD}: FAILED (THRESHOLD), ended 2026-11-28T09:40:00Z" in text
    document = backfill.render_json([followed], [])
    assert document["backfills"][0]["results"][0]["status"] == "COMPLETE"
    sweep.sweep(ev.at(24 * 60), deps)
    assert sns.kinds() == []
