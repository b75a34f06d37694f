"""Tag removals under a rule that replicates deletions, end to end: the real app, events replayed
as EventBridge delivers them, the ledger in DynamoDB and alerts read back from SNS through SQS
(moto server); with AUDIT_ROLE_NAME, ECR in several moto accounts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.adapters.roles import AuditRoles
from chalicelib.core.lifecycle import Location
from tests import events as ev
from tests.registry_helpers import ROLE, put_image, unique

DEV, PROD, DR = Location(*ev.DEV), Location(*ev.PROD), Location(*ev.DR)
D1, D2 = ev.digest("tag-removal-1"), ev.digest("tag-removal-2")
# Registries stamp images with the wall clock: the story happens just before it.
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def deleting_config() -> list[dict[str, Any]]:
    config = ev.registry(ev.DEV, ([ev.PROD, ev.DR], []))
    config["replicationConfiguration"]["rules"][0]["deleteReplication"] = {"enabled": True}
    return [config]


@pytest.fixture
def deleting(configure: Any) -> None:
    configure(REPLICATION_CONFIG=deleting_config())


def release(replay: Any, repo: str) -> None:
    """v1 and latest pushed at dev, both replicated to prod and DR; at minute 40 dev removes
    `latest` (the image keeps v1); the sweep at 41 judges the removal."""
    for tag in ("v1", "latest"):
        replay(ev.push(ev.DEV, repo, tag, D1, at(0)))
        for dest in (ev.PROD, ev.DR):
            replay(ev.replication(dest, ev.DEV, repo, tag, D1, at(3)))
    replay(ev.delete(ev.DEV, repo, "latest", D1, at(40)))
    replay(ev.schedule(at(41)))


def bodies(alerts: Any) -> list[dict[str, Any]]:
    return [a["body"] for a in alerts.drain()]


def test_a_tag_removal_replicated_in_time_raises_nothing(deleting, replay, alerts):
    release(replay, "team/api")
    for dest in (ev.PROD, ev.DR):
        replay(ev.delete(dest, "team/api", "latest", D1, at(44)))
    replay(ev.schedule(at(71)))
    replay(ev.schedule(at(120)))
    assert bodies(alerts) == []


def test_a_tag_removal_not_replicated_alerts_once_then_recovers(deleting, replay, alerts, client):
    release(replay, "team/api")
    replay(ev.delete(ev.PROD, "team/api", "latest", D1, at(44)))  # DR keeps it
    replay(ev.schedule(at(69)))
    assert bodies(alerts) == []
    replay(ev.schedule(at(71)))
    replay(ev.schedule(at(71)))  # a redelivered schedule event changes nothing
    [alert] = bodies(alerts)
    assert (alert["kind"], alert["tag"], alert["digest"], alert["cause"]) == (
        "DELETE_NOT_REPLICATED",
        "latest",
        D1,
        "tag_removed",
    )
    assert alert["destination"] == DR.as_dict() and alert["severity"] == "warning"
    status = client.http.get("/status").json_body
    assert status["open_incidents"] == 1 and status["counts"]["undeleted"] == 1
    assert [i["tag"] for i in status["incidents"]] == ["latest"]
    replay(ev.schedule(at(90)))  # re-checked: still there
    assert bodies(alerts) == []
    replay(ev.delete(ev.DR, "team/api", "latest", D1, at(95)))
    replay(ev.schedule(at(110)))
    [recovered] = bodies(alerts)
    assert (recovered["kind"], recovered["resolves"], recovered["incident_id"]) == (
        "RECOVERED",
        "DELETE_NOT_REPLICATED",
        alert["incident_id"],
    )
    after = client.http.get("/status").json_body
    assert after["open_incidents"] == 0 and after["counts"]["undeleted"] == 0


def test_a_re_push_of_the_tag_at_the_source_cancels_it(deleting, replay, alerts):
    release(replay, "team/api")
    replay(ev.push(ev.DEV, "team/api", "latest", D2, at(50)))  # `latest` is back, elsewhere
    for dest in (ev.PROD, ev.DR):
        replay(ev.replication(dest, ev.DEV, "team/api", "latest", D2, at(53)))
    replay(ev.schedule(at(71)))
    replay(ev.schedule(at(120)))
    assert [a["kind"] for a in bodies(alerts) if a["kind"] == "DELETE_NOT_REPLICATED"] == []


def test_the_registry_check_sees_the_tag_gone_where_no_event_said_so(
    deleting, configure, session, replay, alerts
):
    configure(AUDIT_ROLE_NAME=ROLE)
    roles = AuditRoles(ROLE, session=session)

    def ecr(where: Location) -> Any:
        return roles.client("ecr", where.account, where.region)

    repo = unique("team/api")
    for where in (DEV, PROD, DR):
        ecr(where).create_repository(repositoryName=repo)
        put_image(ecr(where), repo, D1, "v1")
        put_image(ecr(where), repo, D1, "latest")
    release(replay, repo)
    for where in (DEV, PROD):  # replicated to prod, but its DELETE event was lost
        ecr(where).batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": "latest"}])
    replay(ev.schedule(at(71)))
    [alert] = bodies(alerts)  # DR's registry still has it
    assert (alert["kind"], alert["tag"], alert["destination"]) == (
        "DELETE_NOT_REPLICATED",
        "latest",
        DR.as_dict(),
    )
    ecr(DR).batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": "latest"}])
    replay(ev.schedule(at(90)))
    [recovered] = bodies(alerts)
    assert (recovered["kind"], recovered["resolves"]) == ("RECOVERED", "DELETE_NOT_REPLICATED")
