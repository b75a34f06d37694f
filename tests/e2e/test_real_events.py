"""Event shapes ECR users really see (../shared/events/real): multi-arch buildx pushes, untagged
replicas, tag removals, failed pushes, untrusted sources and hostile times, end to end."""

from __future__ import annotations

import copy
import json

import pytest

from chalicelib import bootstrap
from tests import events as ev

REPO = "team/api"
INDEX, AMD64, ARM64, ATTEST = (ev.digest(n) for n in ("index", "amd64", "arm64", "attest"))
D1, D2 = ev.digest(1), ev.digest(2)
STRANGER = ("444444444444", "ap-south-1")

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def real_push(where, repo, tag, digest, when, media_type=OCI_MANIFEST):
    """A PUSH shaped like the 2025 capture: media types, `"image-tag": ""` when untagged."""
    event = copy.deepcopy(ev.sample("real/push-2025-untagged-oci"))
    event.update(id=ev.push(where, repo, tag, digest, when)["id"], time=ev._iso(when))
    event["account"], event["region"] = where
    event["detail"].update(
        {
            "repository-name": repo,
            "image-digest": digest,
            "image-tag": tag or "",
            "manifest-media-type": media_type,
        }
    )
    return event


def buildx_push(where, repo, tag, when):
    """`docker buildx build --platform linux/amd64,linux/arm64 --push`: children untagged, then
    the index tagged."""
    return [
        real_push(where, repo, None, AMD64, when),
        real_push(where, repo, None, ARM64, when),
        real_push(where, repo, None, ATTEST, when),
        real_push(where, repo, tag, INDEX, when, media_type=OCI_INDEX),
    ]


def states(client, digest):
    body = client.http.get(f"/images?repository={REPO}&digest={digest}").json_body
    return {r["destination"]["account"]: r["state"] for r in body["replicas"]}


def test_real_captures_are_recorded_not_rejected(replay, alerts, client, caplog, configure):
    configure(REPLICATION_CONFIG=[ev.registry(("123456789012", "us-east-1"), ([ev.PROD], []))])
    for name in ("real/push-2025-untagged-oci", "real/push-2023-docker-v2-media-types"):
        delivery = replay(ev.sample(name))
        assert delivery.outcome in ("delivered", "ignored"), delivery.reason
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


def test_a_multi_arch_buildx_push_expects_only_its_index(replay, alerts, client):
    for event in buildx_push(ev.DEV, REPO, "v1", ev.at(0)):
        assert replay(event).outcome == "delivered"
    for dest in (ev.PROD, ev.DR):
        replay(ev.replication(dest, ev.DEV, REPO, "v1", INDEX, ev.at(3)))
        for child in (AMD64, ARM64, ATTEST):  # children arrive untagged, as ECR reports them
            replay(ev.replication(dest, ev.DEV, REPO, "", child, ev.at(3)))
    replay(ev.schedule(ev.at(60)))
    assert alerts.kinds() == []
    assert states(client, INDEX) == {ev.PROD[0]: "replicated", ev.DR[0]: "replicated"}
    assert states(client, AMD64) == {}  # no replica of its own
    status = client.http.get("/status").json_body
    assert status["healthy"] and status["counts"]["pending"] == 0


def test_a_replica_reported_as_an_untagged_push_counts(replay, alerts, client):
    replay(ev.push(ev.DEV, REPO, "v1", D1, ev.at(0)))
    replay(real_push(ev.PROD, REPO, None, D1, ev.at(4)))  # the destination's untagged PUSH
    replay(ev.replication(ev.DR, ev.DEV, REPO, "v1", D1, ev.at(4)))
    replay(ev.schedule(ev.at(60)))
    assert alerts.kinds() == []
    assert states(client, D1) == {ev.PROD[0]: "replicated", ev.DR[0]: "replicated"}


def test_removing_one_of_two_tags_keeps_the_expectations(replay, alerts, client):
    replay(ev.push(ev.DEV, REPO, "v1", D1, ev.at(0)))
    replay(ev.push(ev.DEV, REPO, "stable", D1, ev.at(1)))
    replay(ev.delete(ev.DEV, REPO, "stable", D1, ev.at(5)))  # the image keeps v1
    replay(ev.schedule(ev.at(31)))
    assert alerts.kinds() == ["REPLICA_MISSING", "REPLICA_MISSING"]
    dev = client.http.get(f"/images?repository={REPO}&digest={D1}").json_body["locations"]
    assert dev == [{"account": ev.DEV[0], "region": ev.DEV[1], "tags": {"v1": D1}}]


def test_removing_the_last_tag_deletes_the_image(replay, alerts, client):
    replay(ev.push(ev.DEV, REPO, "v1", D1, ev.at(0)))
    replay(ev.push(ev.DEV, REPO, "stable", D1, ev.at(1)))
    replay(ev.delete(ev.DEV, REPO, "stable", D1, ev.at(5)))
    replay(ev.delete(ev.DEV, REPO, "v1", D1, ev.at(6)))
    replay(ev.schedule(ev.at(60)))
    assert alerts.kinds() == []
    assert states(client, D1) == {ev.PROD[0]: "cancelled", ev.DR[0]: "cancelled"}


def test_a_tag_removal_learnt_before_an_earlier_push_of_another_tag(replay, alerts, client):
    replay(ev.push(ev.DEV, REPO, "v1", D1, ev.at(0)))
    replay(ev.delete(ev.DEV, REPO, "v1", D1, ev.at(5)))
    replay(ev.push(ev.DEV, REPO, "stable", D1, ev.at(2)))  # delivered late: D1 kept a tag
    replay(ev.schedule(ev.at(31)))
    assert alerts.kinds() == ["REPLICA_MISSING", "REPLICA_MISSING"]


def test_a_tag_that_moved_away_no_longer_keeps_the_image(replay, alerts, client):
    replay(ev.push(ev.DEV, REPO, "latest", D1, ev.at(0)))
    replay(ev.push(ev.DEV, REPO, "v1", D1, ev.at(1)))
    replay(ev.push(ev.DEV, REPO, "latest", D2, ev.at(2)))  # latest moves on to D2
    replay(ev.delete(ev.DEV, REPO, "v1", D1, ev.at(3)))  # D1's last tag
    for dest in (ev.PROD, ev.DR):
        replay(ev.replication(dest, ev.DEV, REPO, "latest", D2, ev.at(4)))
    replay(ev.schedule(ev.at(60)))
    assert alerts.kinds() == []
    assert states(client, D1) == {ev.PROD[0]: "cancelled", ev.DR[0]: "cancelled"}


def test_an_untagged_delete_deletes_the_image(replay, alerts, client):
    replay(ev.push(ev.DEV, REPO, "v1", D1, ev.at(0)))
    replay(ev.delete(ev.DEV, REPO, None, D1, ev.at(5)))
    replay(ev.schedule(ev.at(60)))
    assert alerts.kinds() == []
    assert states(client, D1) == {ev.PROD[0]: "cancelled", ev.DR[0]: "cancelled"}


@pytest.mark.parametrize(
    "detail",
    [
        {"result": "FAILURE", "image-digest": "", "action-type": "PUSH"},
        {"action-type": "UPDATE_STORAGE_CLASS", "image-tag": "v1"},
    ],
    ids=["failed-push", "storage-class"],
)
def test_failed_pushes_and_archiving_are_neither_pushes_nor_deletions(
    replay, alerts, client, api_calls, detail
):
    replay(ev.push(ev.DEV, REPO, "v1", D1, ev.at(0)))
    event = ev.push(ev.DEV, REPO, "v1", D1, ev.at(2))
    event["detail"].update(detail)
    assert replay(event).outcome == "unmatched"  # the app's pattern does not subscribe to it
    before = api_calls.count("dynamodb")
    result = client.lambda_.invoke("on_image_action", event).payload  # delivered all the same
    assert result["outcome"] == "ignored" and "neither a push nor a deletion" in result["reason"]
    assert api_calls.count("dynamodb") == before
    replay(ev.schedule(ev.at(31)))
    assert alerts.kinds() == ["REPLICA_MISSING", "REPLICA_MISSING"]  # still expected


@pytest.mark.parametrize(
    "source",
    [STRANGER, ev.PROD],  # a source no rule names; the destination naming itself
    ids=["unknown-source", "itself"],
)
def test_replication_events_from_untrusted_sources_are_ignored(
    replay, alerts, client, api_calls, caplog, source
):
    bootstrap.deps().clock = lambda: ev.at(60)  # so that the 24 h window holds these events
    replay(ev.push(ev.DEV, REPO, "v1", D1, ev.at(0)))
    for dest in (ev.PROD, ev.DR):
        replay(ev.replication(dest, ev.DEV, REPO, "v1", D1, ev.at(2)))
    before = api_calls.count("dynamodb")
    failed = replay(ev.replication(ev.PROD, source, REPO, "v1", D1, ev.at(3), ok=False))
    succeeded = replay(ev.replication(ev.PROD, source, REPO, "v1", D2, ev.at(3)))
    assert (failed.outcome, succeeded.outcome) == ("ignored", "ignored")
    assert "which no configured rule names" in failed.reason
    assert api_calls.count("dynamodb") == before  # nothing written for them
    replay(ev.schedule(ev.at(60)))
    assert alerts.kinds() == []
    status = client.http.get("/status").json_body
    assert status["counts"]["replicated_24h"] == 2  # prod and DR, each once
    assert states(client, D2) == {}
    assert any("ignored event" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("time", "problem"),
    [
        ("0001-01-01T00:00:00Z", "before 2015"),
        ("9999-12-31T23:59:59Z", "more than a day ahead"),
        ("9999-12-31T23:59:59-12:00", "out of range"),
    ],
)
def test_a_hostile_time_is_rejected_and_breaks_nothing_later(
    replay, alerts, client, api_calls, caplog, time, problem
):
    replay(ev.push(ev.DEV, REPO, "v1", D1, ev.at(0)))
    for event in (
        ev.push(ev.DEV, REPO, "v1", D2, ev.at(1), event_id="hostile-1"),
        ev.replication(ev.PROD, ev.DEV, REPO, "v1", D1, ev.at(1), event_id="hostile-1"),
    ):
        event["time"] = time
        before = api_calls.count("dynamodb")
        delivery = replay(event)
        assert delivery.outcome == "rejected" and problem in (delivery.reason or "")
        assert api_calls.count("dynamodb") == before
    lines = [r.getMessage() for r in caplog.records if "hostile-1" in r.getMessage()]
    assert len(lines) == 2 and all(line.startswith("rejected event hostile-1: ") for line in lines)
    replay(ev.schedule(ev.at(31)))
    assert alerts.kinds() == ["REPLICA_MISSING", "REPLICA_MISSING"]
    for path in ("/status", "/repositories", f"/images?repository={REPO}", "/incidents"):
        assert client.http.get(path).status_code == 200, path


def test_an_oversized_event_id_is_rejected_before_any_write(replay, api_calls, caplog):
    event = ev.push(ev.DEV, REPO, "v1", D1, ev.at(0), event_id="x" * 5000)
    before = api_calls.count("dynamodb")
    delivery = replay(event)
    assert delivery.outcome == "rejected" and "id: longer than 128" in (delivery.reason or "")
    assert api_calls.count("dynamodb") == before
    assert all(len(r.getMessage()) < 400 for r in caplog.records)


def test_the_longest_valid_names_fit_dynamodbs_key_limits(replay, alerts, client):
    repo = "/".join(["a" * 60] * 4)[:256].rstrip("/")
    tag = "t" * 300
    digest = "sha256:" + "f" * 500
    event_id = "e" * 128
    assert replay(ev.push(ev.DEV, repo, tag, digest, ev.at(0), event_id=event_id)).outcome == (
        "delivered"
    )
    replay(ev.replication(ev.PROD, ev.DEV, repo, tag, digest, ev.at(2), event_id=event_id[:-1]))
    replay(ev.delete(ev.DEV, repo, tag, digest, ev.at(3), event_id=event_id[:-2]))
    replay(ev.schedule(ev.at(60)))
    assert json.dumps(client.http.get("/status").json_body)
    body = client.http.get(f"/images?repository={repo}&digest={digest}").json_body
    assert {r["state"] for r in body["replicas"]} == {"replicated", "cancelled"}
