"""Asking the registries end to end: the real app with AUDIT_ROLE_NAME against ECR in several
moto accounts (assumed roles), events replayed as EventBridge would deliver them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.adapters.roles import AuditRoles
from chalicelib.core.lifecycle import Location
from tests import events as ev
from tests.registry_helpers import ROLE, put_image, unique

DEV, PROD, DR = Location(*ev.DEV), Location(*ev.PROD), Location(*ev.DR)
D0, D1 = ev.digest("old"), ev.digest("new")
# Registries stamp images with the wall clock: the story happens just before it.
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def ecr(session: Any, configure: Any) -> Any:
    configure(AUDIT_ROLE_NAME=ROLE)
    roles = AuditRoles(ROLE, session=session)
    return lambda where: roles.client("ecr", where.account, where.region)


@pytest.fixture
def repo(ecr: Any) -> str:
    name = unique("team/api")
    for where in (DEV, PROD, DR):
        ecr(where).create_repository(repositoryName=name)
    return name


def kinds(alerts: Any) -> list[tuple[str, str]]:
    return [(a["body"]["kind"], a["body"]["destination"]["account"]) for a in alerts.drain()]


def test_a_lost_success_raises_nothing_and_records_the_arrival(replay, alerts, client, ecr, repo):
    replay(ev.push(ev.DEV, repo, "v1", D1, at(0)))
    for where in (DEV, PROD, DR):
        put_image(ecr(where), repo, D1, "v1")  # replicated; the SUCCESS events were lost
    replay(ev.schedule(at(31)))
    assert kinds(alerts) == []
    body = client.http.get(f"/images?repository={repo}&digest={D1}").json_body
    assert {r["state"] for r in body["replicas"]} == {"replicated"}


def test_a_real_gap_and_a_missing_repository_are_still_alerted(replay, alerts, ecr):
    name = unique("team/web")
    for where in (DEV, PROD):  # DR never got the repository
        ecr(where).create_repository(repositoryName=name)
    put_image(ecr(DEV), name, D1, "v1")
    replay(ev.push(ev.DEV, name, "v1", D1, at(0)))
    replay(ev.schedule(at(31)))  # PROD has the repository but not the image
    assert sorted(kinds(alerts)) == [
        ("REPLICA_MISSING", PROD.account),
        ("REPLICA_MISSING", DR.account),
    ]


def test_an_immutable_destination_drifts_until_its_tag_is_fixed(
    replay, alerts, client, ecr, session
):
    name = unique("team/api")
    ecr(DEV).create_repository(repositoryName=name)
    ecr(PROD).create_repository(repositoryName=name)
    ecr(DR).create_repository(repositoryName=name, imageTagMutability="IMMUTABLE")
    put_image(ecr(DR), name, D0, "latest")  # DR's own old `latest`
    for where in (DEV, PROD):
        put_image(ecr(where), name, D1, "latest")
    put_image(ecr(DR), name, D1)  # replicated "but won't contain the duplicated tag"
    replay(ev.push(ev.DEV, name, "latest", D1, at(0)))
    for dest in (ev.PROD, ev.DR):
        replay(ev.replication(dest, ev.DEV, name, "latest", D1, at(3)))
    replay(ev.schedule(at(31)))
    [drift] = [a["body"] for a in alerts.drain()]
    assert (drift["kind"], drift["destination"]["account"]) == ("TAG_DRIFT", DR.account)
    assert (drift["digest"], drift["previous_digest"]) == (D1, D0)
    status = client.http.get("/status").json_body
    assert status["counts"]["drifted"] == 1 and status["open_incidents"] == 1
    # Someone fixes DR: the old image goes, the tag is set on the replica.
    ecr(DR).batch_delete_image(repositoryName=name, imageIds=[{"imageTag": "latest"}])
    ecr(DR).batch_delete_image(repositoryName=name, imageIds=[{"imageDigest": D1}])
    put_image(ecr(DR), name, D1, "latest")
    replay(ev.schedule(at(50)))
    [recovered] = [a["body"] for a in alerts.drain()]
    assert (recovered["kind"], recovered["resolves"]) == ("RECOVERED", "TAG_DRIFT")
    assert client.http.get("/status").json_body["counts"]["drifted"] == 0


def test_a_destinations_own_tag_in_an_immutable_repository_drifts(replay, alerts, ecr):
    """Prod pushed its own `latest` before dev's replicated in (IMMUTABLE at prod): ECR copies
    the image without the tag and says so with an untagged PUSH there. The tag never moved, no
    TAG_OVERWRITTEN explains anything: TAG_DRIFT, with prod's digest as the previous one."""
    name = unique("team/api")
    ecr(DEV).create_repository(repositoryName=name)
    ecr(DR).create_repository(repositoryName=name)
    ecr(PROD).create_repository(repositoryName=name, imageTagMutability="IMMUTABLE")
    put_image(ecr(PROD), name, D0, "latest")
    replay(ev.push(ev.PROD, name, "latest", D0, at(-60)))  # prod's own latest, recorded
    for where in (DEV, DR):
        put_image(ecr(where), name, D1, "latest")
    put_image(ecr(PROD), name, D1)  # the replica, untagged
    replay(ev.push(ev.DEV, name, "latest", D1, at(0)))
    replay(ev.replication(ev.DR, ev.DEV, name, "latest", D1, at(3)))
    replay(ev.push(ev.PROD, name, "", D1, at(3)))  # ECR's PUSH for the replica at prod
    replay(ev.schedule(at(31)))
    [drift] = [a["body"] for a in alerts.drain()]
    assert (drift["kind"], drift["destination"]["account"]) == ("TAG_DRIFT", PROD.account)
    assert (drift["digest"], drift["previous_digest"]) == (D1, D0)
