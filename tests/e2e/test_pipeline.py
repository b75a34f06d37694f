"""End to end through the Chalice app: real-shaped events in, SNS alerts (read from SQS) out."""

from __future__ import annotations

from tests import events as ev

D1 = ev.digest(1)
D2 = ev.digest(2)


def test_healthy_replication_raises_nothing(replay, alerts, client):
    replay(ev.push(ev.DEV, "team/api", "v1", D1, ev.at(0)))
    replay(ev.replication(ev.PROD, ev.DEV, "team/api", "v1", D1, ev.at(3)))
    replay(ev.replication(ev.DR, ev.DEV, "team/api", "v1", D1, ev.at(4)))
    replay(ev.schedule(ev.at(40)))
    assert alerts.kinds() == []
    images = client.http.get("/images?repository=team/api&digest=" + D1).json_body
    assert sorted(r["state"] for r in images["replicas"]) == ["replicated", "replicated"]


def test_missing_replica_alerts_once_then_recovers_with_lag(replay, alerts, client):
    assert replay(ev.push(ev.DEV, "team/api", "v1", D1, ev.at(0))).handlers == ["on_image_action"]
    replay(ev.replication(ev.PROD, ev.DEV, "team/api", "v1", D1, ev.at(3)))
    replay(ev.schedule(ev.at(29)))
    assert alerts.kinds() == []
    assert replay(ev.schedule(ev.at(31))).handlers == ["sweep"]
    replay(ev.schedule(ev.at(36)))
    got = alerts.drain()
    assert [a["body"]["kind"] for a in got] == ["REPLICA_MISSING"]
    missing = got[0]
    assert missing["body"]["destination"] == {"account": ev.DR[0], "region": ev.DR[1]}
    assert missing["body"]["due_at"] == "2026-11-27T10:30:00Z"
    assert missing["attributes"]["severity"] == "critical"
    assert missing["subject"] == missing["body"]["summary"]
    status = client.http.get("/status").json_body
    assert status["healthy"] is False
    assert status["counts"]["missing"] == 1
    assert status["incidents"][0]["incident_id"] == missing["body"]["incident_id"]

    replay(ev.replication(ev.DR, ev.DEV, "team/api", "v1", D1, ev.at(50)))
    assert alerts.kinds() == []  # recoveries are decided by the sweep, on the whole history
    replay(ev.schedule(ev.at(55)))
    recovered = alerts.drain()
    assert [a["body"]["kind"] for a in recovered] == ["RECOVERED"]
    assert recovered[0]["body"]["incident_id"] == missing["body"]["incident_id"]
    assert recovered[0]["body"]["resolves"] == "REPLICA_MISSING"
    assert recovered[0]["body"]["lag_seconds"] == 50 * 60
    assert recovered[0]["body"]["detected_at"] == "2026-11-27T10:50:00Z"  # when it arrived
    assert client.http.get("/status").json_body["healthy"] is True


def test_failed_then_success(replay, alerts):
    replay(ev.push(ev.DEV, "team/api", "v1", D1, ev.at(0)))
    replay(ev.replication(ev.PROD, ev.DEV, "team/api", "v1", D1, ev.at(2), ok=False))
    replay(ev.replication(ev.PROD, ev.DEV, "team/api", "v1", D1, ev.at(2), ok=False))
    assert alerts.kinds() == ["REPLICATION_FAILED"]
    replay(ev.replication(ev.PROD, ev.DEV, "team/api", "v1", D1, ev.at(9)))
    replay(ev.replication(ev.DR, ev.DEV, "team/api", "v1", D1, ev.at(9)))
    replay(ev.schedule(ev.at(60)))
    assert alerts.kinds() == ["RECOVERED"]


def test_replication_overwrites_prod_latest(replay, alerts):
    # prod pushed its own `latest`, then dev's replicated `latest` replaced it
    replay(ev.push(ev.PROD, "team/api", "latest", D2, ev.at(0)))
    replay(ev.push(ev.DEV, "team/api", "latest", D1, ev.at(5)))
    replay(ev.replication(ev.PROD, ev.DEV, "team/api", "latest", D1, ev.at(7)))
    replay(ev.replication(ev.DR, ev.DEV, "team/api", "latest", D1, ev.at(7)))
    replay(ev.schedule(ev.at(10)))
    got = alerts.drain()
    assert [a["body"]["kind"] for a in got] == ["TAG_OVERWRITTEN"]
    body = got[0]["body"]
    assert body["cause"] == "replication_overwrote_local_tag"
    assert body["previous_digest"] == D2 and body["digest"] == D1
    assert body["severity"] == "warning"
