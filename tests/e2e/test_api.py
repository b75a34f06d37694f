"""The HTTP API through the real Chalice app: shapes, validation, pagination, errors."""

from __future__ import annotations

import pytest

from tests import events as ev

REPO = "team/api"


def _push_images(replay, count):
    for n in range(count):
        replay(ev.push(ev.DEV, REPO, f"v{n}", ev.digest(n), ev.at(n)))


def test_status_shape_on_an_empty_ledger(client):
    response = client.http.get("/status")
    assert response.status_code == 200
    body = response.json_body
    assert body["healthy"] is True and body["open_incidents"] == 0 and body["incidents"] == []
    assert set(body["counts"]) == {
        "pending",
        "missing",
        "failed",
        "drifted",
        "undeleted",
        "replicated_24h",
        "overwritten_24h",
    }
    assert body["as_of"].endswith("Z")


def test_status_counts_pending_and_24h_windows(client, replay):
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC).replace(microsecond=0)
    replay(ev.push(ev.DEV, REPO, "v1", ev.digest(1), now - timedelta(hours=30)))
    replay(ev.replication(ev.PROD, ev.DEV, REPO, "v1", ev.digest(1), now - timedelta(hours=25)))
    replay(ev.push(ev.DEV, REPO, "v2", ev.digest(2), now - timedelta(minutes=10)))
    replay(ev.replication(ev.PROD, ev.DEV, REPO, "v2", ev.digest(2), now - timedelta(minutes=5)))
    counts = client.http.get("/status").json_body["counts"]
    # v1 -> DR and v2 -> DR are pending; only v2's arrival in prod is inside the 24 h window
    assert counts["pending"] == 2 and counts["replicated_24h"] == 1


def test_incidents_pagination_and_states(client, replay):
    _push_images(replay, 3)
    replay(ev.schedule(ev.at(60)))  # 3 images x 2 destinations missing
    first = client.http.get("/incidents?limit=4").json_body
    assert len(first["incidents"]) == 4 and first["next_cursor"]
    rest = client.http.get(f"/incidents?limit=4&cursor={first['next_cursor']}").json_body
    assert len(rest["incidents"]) == 2
    ids = [i["incident_id"] for i in first["incidents"] + rest["incidents"]]
    assert len(set(ids)) == 6
    assert all(i["state"] == "open" and i["resolved_at"] is None for i in first["incidents"])
    status = client.http.get("/status").json_body
    assert status["open_incidents"] == 6
    assert client.http.get("/incidents?state=resolved").json_body["incidents"] == []
    replay(ev.replication(ev.DR, ev.DEV, REPO, "v0", ev.digest(0), ev.at(70)))
    replay(ev.schedule(ev.at(75)))
    resolved = client.http.get("/incidents?state=resolved").json_body["incidents"]
    assert [i["resolved_at"] for i in resolved] == ["2026-11-27T11:10:00Z"]
    assert len(client.http.get("/incidents?state=all&limit=100").json_body["incidents"]) == 6


def test_images_listing_is_paginated_and_filterable(client, replay):
    _push_images(replay, 3)
    replay(ev.replication(ev.PROD, ev.DEV, REPO, "v1", ev.digest(1), ev.at(5)))
    page = client.http.get(f"/images?repository={REPO}&limit=4").json_body
    assert page["repository"] == REPO and len(page["replicas"]) == 4 and page["next_cursor"]
    more = client.http.get(
        f"/images?repository={REPO}&limit=4&cursor={page['next_cursor']}"
    ).json_body
    assert len(more["replicas"]) == 2 and more["next_cursor"] is None
    by_tag = client.http.get(f"/images?repository={REPO}&tag=v1").json_body
    assert {r["digest"] for r in by_tag["replicas"]} == {ev.digest(1)}
    assert {(r["destination"]["account"], r["state"]) for r in by_tag["replicas"]} == {
        (ev.PROD[0], "replicated"),
        (ev.DR[0], "pending"),
    }
    assert by_tag["locations"] == [
        {"account": ev.DEV[0], "region": ev.DEV[1], "tags": {"v1": ev.digest(1)}},
        {"account": ev.PROD[0], "region": ev.PROD[1], "tags": {"v1": ev.digest(1)}},
    ]
    replica = by_tag["replicas"][0]
    assert set(replica) == {
        "digest",
        "tag",
        "source",
        "destination",
        "state",
        "pushed_at",
        "due_at",
        "replicated_at",
    }


def test_repositories_matrix_shows_the_newest_image_per_destination(client, replay):
    _push_images(replay, 2)
    replay(ev.replication(ev.PROD, ev.DEV, REPO, "v1", ev.digest(1), ev.at(3)))
    body = client.http.get("/repositories").json_body
    [row] = body["repositories"]
    cells = {c["destination"]["account"]: c for c in row["destinations"]}
    assert cells[ev.PROD[0]]["digest"] == ev.digest(1)
    assert cells[ev.PROD[0]]["state"] == "replicated" and cells[ev.PROD[0]]["lag_seconds"] == 120
    assert cells[ev.DR[0]]["state"] == "pending"


@pytest.mark.parametrize(
    ("path", "status", "fragment"),
    [
        ("/images", 400, "repository is required"),
        ("/images?repository=Not%20Valid", 400, "not a valid ECR repository"),
        ("/images?repository=team/api&digest=abc", 400, "digest"),
        ("/images?repository=team/api&digest=sha256:ab&tag=v1", 400, "not both"),
        ("/images?repository=team/api&tag=v1&limit=5", 400, "whole repository"),
        ("/images?repository=never/seen", 404, "not known"),
        ("/images?repository=team/api&colour=blue", 400, "unknown query parameter"),
        ("/incidents?state=closed", 400, "state must be one of"),
        ("/incidents?limit=0", 400, "limit"),
        ("/incidents?limit=abc", 400, "limit"),
        ("/incidents?limit=101", 400, "limit"),
        ("/incidents?cursor=%25%25%25", 400, "cursor"),
        ("/incidents?cursor=eyJ4IjogMX0=", 400, "cursor"),
    ],
)
def test_bad_requests_get_a_json_error(client, path, status, fragment):
    response = client.http.get(path)
    assert response.status_code == status
    assert set(response.json_body) == {"error"}
    assert fragment in response.json_body["error"]


def test_a_cursor_from_another_listing_is_refused(client, replay):
    _push_images(replay, 3)
    replay(ev.schedule(ev.at(60)))
    cursor = client.http.get("/incidents?limit=1").json_body["next_cursor"]
    response = client.http.get(f"/images?repository={REPO}&limit=1&cursor={cursor}")
    assert response.status_code == 400 and "cursor" in response.json_body["error"]


def test_unknown_method_uses_the_same_error_shape(client):
    response = client.http.post("/status", body=b"{}")
    assert response.status_code == 405
    assert "error" in response.json_body


def test_dashboard_is_self_contained_html(client):
    response = client.http.get("/")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    page = response.body.decode()
    assert "<html" in page and "http://" not in page and "https://" not in page
