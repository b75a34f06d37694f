"""The ReplicationLag metric: one value per replica arriving, with its destination as dimension,
emitted once (not again for a duplicate or a later event about the same replica)."""

from __future__ import annotations

import json

import pytest

from chalicelib.core.lifecycle import ImagePushed, Location, ReplicationReported
from chalicelib.usecases import recording
from tests import events as ev
from tests.fakes import RecordingChannel, fake_deps

DEV, PROD, DR = Location(*ev.DEV), Location(*ev.PROD), Location(*ev.DR)


def lag_documents(printed: str) -> list[dict]:
    documents = [json.loads(line) for line in printed.splitlines() if line.startswith("{")]
    return [d for d in documents if "ReplicationLag" in d]


@pytest.fixture
def deps(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    return fake_deps(channels=[RecordingChannel("sns")])


def test_each_arrival_reports_its_lag_once_per_destination(deps, capsys):
    digest = ev.digest("lag")
    recording.record_image_action(ImagePushed("p1", ev.at(0), DEV, "team/api", digest, "v1"), deps)
    arrival = ReplicationReported("r1", ev.at(7), PROD, DEV, "team/api", digest, "v1", True)
    recording.record_replication(arrival, deps)
    recording.record_replication(arrival, deps)  # a duplicate: no second value
    pushed_there = ImagePushed("p2", ev.at(9), PROD, "team/api", digest, "v1")
    recording.record_image_action(pushed_there, deps)  # already arrived: nothing new
    recording.record_replication(
        ReplicationReported("r2", ev.at(12), DR, DEV, "team/api", digest, "v1", True), deps
    )
    found = lag_documents(capsys.readouterr().out)
    assert [(d["destination"], d["ReplicationLag"]) for d in found] == [
        (f"{PROD.account}/{PROD.region}", [7 * 60.0]),
        (f"{DR.account}/{DR.region}", [12 * 60.0]),
    ]
    (metric,) = found[0]["_aws"]["CloudWatchMetrics"]
    assert metric["Namespace"] == "EcrReplicationAuditor"
    assert metric["Metrics"] == [{"Name": "ReplicationLag", "Unit": "Seconds"}]
    assert found[0]["service"] == "ecr-replication-auditor"
