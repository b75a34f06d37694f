"""PRODUCT.md's decision table and delivery rules, end to end through the Chalice app."""

from __future__ import annotations

import threading

from chalicelib import bootstrap
from chalicelib.usecases import queries
from chalicelib.usecases import sweep as sweep_module
from tests import events as ev

REPO = "team/api"
D1, D2, D3 = ev.digest(1), ev.digest(2), ev.digest(3)
OTHER = ("444444444444", "ap-south-1")


def kinds_and_causes(alerts):
    return [(a["body"]["kind"], a["body"]["cause"]) for a in alerts.drain()]


def test_a_pushed_tag_over_a_replicated_one_diverges(replay, alerts):
    replay(ev.push(ev.DEV, REPO, "v1", D1, ev.at(0)))
    replay(ev.replication(ev.PROD, ev.DEV, REPO, "v1", D1, ev.at(2)))
    replay(ev.replication(ev.DR, ev.DEV, REPO, "v1", D1, ev.at(2)))
    replay(ev.push(ev.PROD, REPO, "v1", D2, ev.at(20)))  # hot-fix pushed by hand in prod
    replay(ev.schedule(ev.at(25)))
    got = alerts.drain()
    assert [(a["body"]["kind"], a["body"]["cause"]) for a in got] == [
        ("TAG_OVERWRITTEN", "local_push_overwrote_replica_tag")
    ]
    assert got[0]["body"]["source"] == {"account": ev.DEV[0], "region": ev.DEV[1]}
    assert got[0]["attributes"]["destination_account"] == ev.PROD[0]


def test_two_sources_fighting_over_one_destination_tag(replay, alerts, configure):
    configure(
        REPLICATION_CONFIG=[
            ev.registry(ev.DEV, ([ev.PROD], [])),
            ev.registry(OTHER, ([ev.PROD], [])),
        ]
    )
    replay(ev.push(ev.DEV, REPO, "latest", D1, ev.at(0)))
    replay(ev.replication(ev.PROD, ev.DEV, REPO, "latest", D1, ev.at(2)))
    replay(ev.push(OTHER, REPO, "latest", D2, ev.at(5)))
    replay(ev.replication(ev.PROD, OTHER, REPO, "latest", D2, ev.at(7)))
    replay(ev.schedule(ev.at(10)))
    assert kinds_and_causes(alerts) == [("TAG_OVERWRITTEN", "replication_from_another_source")]


def test_ordinary_propagation_of_the_sources_tag_move_is_silent(replay, alerts):
    for minute, digest in ((0, D1), (10, D2)):
        replay(ev.push(ev.DEV, REPO, "latest", digest, ev.at(minute)))
        replay(ev.replication(ev.PROD, ev.DEV, REPO, "latest", digest, ev.at(minute + 1)))
        replay(ev.replication(ev.DR, ev.DEV, REPO, "latest", digest, ev.at(minute + 1)))
    replay(ev.schedule(ev.at(15)))
    assert alerts.kinds() == []


def test_local_push_learnt_after_the_replication_that_overwrote_it(replay, alerts):
    replay(ev.push(ev.DEV, REPO, "latest", D1, ev.at(5)))
    replay(ev.replication(ev.PROD, ev.DEV, REPO, "latest", D1, ev.at(7)))
    replay(ev.replication(ev.DR, ev.DEV, REPO, "latest", D1, ev.at(7)))
    replay(ev.schedule(ev.at(10)))
    assert alerts.kinds() == []
    replay(ev.push(ev.PROD, REPO, "latest", D2, ev.at(1)))  # delivered late
    replay(ev.schedule(ev.at(15)))
    assert kinds_and_causes(alerts) == [("TAG_OVERWRITTEN", "replication_overwrote_local_tag")]


def test_replica_reported_only_by_a_destination_push_counts_the_same(replay, alerts, client):
    replay(ev.push(ev.PROD, REPO, "latest", D2, ev.at(0)))
    replay(ev.push(ev.DEV, REPO, "latest", D1, ev.at(5)))
    replay(ev.push(ev.PROD, REPO, "latest", D1, ev.at(7)))  # ECR's PUSH for the replica
    replay(ev.push(ev.DR, REPO, "latest", D1, ev.at(7)))
    replay(ev.schedule(ev.at(60)))
    assert kinds_and_causes(alerts) == [("TAG_OVERWRITTEN", "replication_overwrote_local_tag")]
    body = client.http.get(f"/images?repository={REPO}&digest={D1}").json_body
    assert {r["state"] for r in body["replicas"]} == {"replicated"}
    prod = next(loc for loc in body["locations"] if loc["account"] == ev.PROD[0])
    assert prod["tags"] == {"latest": D1}


def test_push_and_success_for_the_same_replica_both_arriving(replay, alerts):
    replay(ev.push(ev.DEV, REPO, "v1", D1, ev.at(0)))
    for dest in (ev.PROD, ev.DR):
        replay(ev.replication(dest, ev.DEV, REPO, "v1", D1, ev.at(3)))
        replay(ev.push(dest, REPO, "v1", D1, ev.at(4)))
    replay(ev.schedule(ev.at(60)))
    assert alerts.kinds() == []


def test_delete_at_source_cancels_expectations_and_resolves_open_incidents(replay, alerts, client):
    replay(ev.push(ev.DEV, REPO, "v1", D1, ev.at(0)))
    replay(ev.replication(ev.PROD, ev.DEV, REPO, "v1", D1, ev.at(2)))
    replay(ev.schedule(ev.at(31)))
    missing = alerts.drain()
    assert [a["body"]["kind"] for a in missing] == ["REPLICA_MISSING"]
    replay(ev.delete(ev.DEV, REPO, "v1", D1, ev.at(40)))
    replay(ev.schedule(ev.at(45)))
    recovered = alerts.drain()
    assert [a["body"]["kind"] for a in recovered] == ["RECOVERED"]
    assert recovered[0]["body"]["incident_id"] == missing[0]["body"]["incident_id"]
    assert recovered[0]["body"]["lag_seconds"] is None
    states = {
        r["destination"]["account"]: r["state"]
        for r in client.http.get(f"/images?repository={REPO}&digest={D1}").json_body["replicas"]
    }
    assert states == {ev.PROD[0]: "replicated", ev.DR[0]: "cancelled"}


def test_delete_before_due_means_no_missing_alert(replay, alerts):
    replay(ev.push(ev.DEV, REPO, "v1", D1, ev.at(0)))
    replay(ev.delete(ev.DEV, REPO, "v1", D1, ev.at(5)))
    replay(ev.schedule(ev.at(60)))
    assert alerts.kinds() == []


def test_delete_at_destination_is_recorded_and_raises_nothing(replay, alerts, client):
    replay(ev.push(ev.DEV, REPO, "v1", D1, ev.at(0)))
    replay(ev.replication(ev.PROD, ev.DEV, REPO, "v1", D1, ev.at(2)))
    replay(ev.replication(ev.DR, ev.DEV, REPO, "v1", D1, ev.at(2)))
    replay(ev.delete(ev.PROD, REPO, "v1", D1, ev.at(20)))
    replay(ev.schedule(ev.at(60)))
    assert alerts.kinds() == []
    body = client.http.get(f"/images?repository={REPO}&tag=v1").json_body
    prod = [loc for loc in body["locations"] if loc["account"] == ev.PROD[0]]
    assert prod == []  # the tag is gone there; the replica stays recorded as arrived


def test_failed_older_than_a_recorded_success_is_superseded(replay, alerts):
    replay(ev.push(ev.DEV, REPO, "v1", D1, ev.at(0)))
    replay(ev.replication(ev.PROD, ev.DEV, REPO, "v1", D1, ev.at(9)))
    replay(ev.replication(ev.PROD, ev.DEV, REPO, "v1", D1, ev.at(3), ok=False))
    replay(ev.replication(ev.DR, ev.DEV, REPO, "v1", D1, ev.at(9)))
    replay(ev.schedule(ev.at(60)))
    assert alerts.kinds() == []


def test_failure_before_the_source_push_is_known(replay, alerts, client):
    replay(ev.replication(ev.PROD, ev.DEV, REPO, "v1", D1, ev.at(3), ok=False))
    assert alerts.drain() == []  # held briefly for its push, so the document is whole
    replay(ev.push(ev.DEV, REPO, "v1", D1, ev.at(0)))
    replay(ev.schedule(ev.at(5)))
    [failed] = alerts.drain()
    assert failed["body"]["kind"] == "REPLICATION_FAILED"
    assert (failed["body"]["pushed_at"], failed["body"]["due_at"]) == (
        "2026-11-27T10:00:00Z",
        "2026-11-27T10:30:00Z",
    )
    [kept] = client.http.get("/incidents").json_body["incidents"]
    assert {k: kept[k] for k in failed["body"]} == failed["body"]  # published is what is kept
    replay(ev.schedule(ev.at(40)))  # DR is missing; PROD is failed, so no MISSING for PROD
    got = alerts.drain()
    assert [(a["body"]["kind"], a["body"]["destination"]["account"]) for a in got] == [
        ("REPLICA_MISSING", ev.DR[0])
    ]


def test_push_that_matches_no_rule_never_alerts(replay, alerts, configure):
    configure(REPLICATION_CONFIG=[ev.registry(ev.DEV, ([ev.PROD], ["prod-"]))])
    replay(ev.push(ev.DEV, "scratch/tool", "v1", D1, ev.at(0)))
    replay(ev.push(ev.PROD, "scratch/tool", "v1", D2, ev.at(1)))
    replay(ev.schedule(ev.at(120)))
    assert alerts.kinds() == []


def test_events_from_unmonitored_accounts_are_ignored(replay, alerts, client, caplog):
    replay(ev.push(OTHER, REPO, "v1", D1, ev.at(0), event_id="stranger-1"))
    assert client.http.get(f"/images?repository={REPO}").status_code == 404
    assert any(
        "stranger-1" in r.getMessage() and OTHER[0] in r.getMessage() for r in caplog.records
    )


def test_explicit_allowlist(replay, alerts, configure, client):
    configure(MONITORED_ACCOUNTS=ev.PROD[0])
    replay(ev.push(ev.DEV, REPO, "v1", D1, ev.at(0)))  # dev is not on the list
    replay(ev.schedule(ev.at(60)))  # the sweep's own schedule is not subject to it
    assert alerts.kinds() == []
    assert client.http.get(f"/images?repository={REPO}").status_code == 404


def test_malformed_event_is_logged_by_id_and_writes_nothing(
    replay, alerts, session, auditor_env, caplog
):
    event = ev.push(ev.DEV, REPO, "v1", D1, ev.at(0), event_id="bad-event-1")
    event["detail"]["image-digest"] = "definitely not a digest"
    assert replay(event).handlers == ["on_image_action"]
    lines = [r.getMessage() for r in caplog.records if "bad-event-1" in r.getMessage()]
    assert lines == [
        "rejected event bad-event-1: detail.image-digest: invalid value 'definitely not a digest'"
    ]
    table = session.client("dynamodb").describe_table(TableName=auditor_env["AUDIT_TABLE"])
    assert table["Table"]["ItemCount"] == 0
    replay(ev.push(ev.DEV, REPO, "v1", D1, ev.at(1)))  # the next good event is unaffected
    replay(ev.schedule(ev.at(40)))
    assert alerts.kinds() == ["REPLICA_MISSING", "REPLICA_MISSING"]


def test_duplicate_delivery_changes_nothing(replay, alerts, client):
    events = [
        ev.push(ev.DEV, REPO, "v1", D1, ev.at(0)),
        ev.replication(ev.PROD, ev.DEV, REPO, "v1", D1, ev.at(2), ok=False),
        ev.schedule(ev.at(31)),
        ev.replication(ev.PROD, ev.DEV, REPO, "v1", D1, ev.at(40)),
        ev.replication(ev.DR, ev.DEV, REPO, "v1", D1, ev.at(45)),
        ev.schedule(ev.at(50)),
    ]
    for event in events:
        replay(event)
        replay(event)
    assert alerts.kinds() == ["REPLICATION_FAILED", "REPLICA_MISSING", "RECOVERED", "RECOVERED"]
    status = client.http.get("/status").json_body
    assert status["healthy"] is True and status["open_incidents"] == 0


def test_racing_sweeps_open_and_notify_an_incident_once(replay, alerts):
    replay(ev.push(ev.DEV, REPO, "v1", D1, ev.at(0)))
    deps = bootstrap.deps()
    errors = []

    def run():
        try:
            sweep_module.sweep(ev.at(31), deps)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(alerts.kinds()) == ["REPLICA_MISSING", "REPLICA_MISSING"]


def test_sns_outage_keeps_the_alert_until_the_next_sweep_delivers_it_once(
    replay, session, auditor_env, configure
):
    from chalicelib.local.provision import subscribe_queue
    from tests.conftest import Alerts

    later_topic = auditor_env["ALERT_TOPIC_ARN"] + "-not-yet"
    configure(ALERT_TOPIC_ARN=later_topic)
    replay(ev.push(ev.DEV, REPO, "v1", D1, ev.at(0)))
    replay(ev.replication(ev.PROD, ev.DEV, REPO, "v1", D1, ev.at(2), ok=False))  # publish fails
    status = queries.status(bootstrap.deps())
    assert status["counts"]["failed"] == 1  # recorded although not yet delivered
    session.client("sns").create_topic(Name=later_topic.rsplit(":", 1)[1])
    alerts = Alerts(session.client("sqs"), subscribe_queue(session, later_topic, "late-alerts"))
    replay(ev.schedule(ev.at(10)))
    replay(ev.schedule(ev.at(15)))
    assert alerts.kinds() == ["REPLICATION_FAILED"]


def test_sns_message_attributes_allow_filtering_on_severity(replay, session, auditor_env):
    from chalicelib.local.provision import subscribe_queue
    from tests.conftest import Alerts

    critical = Alerts(
        session.client("sqs"),
        subscribe_queue(
            session,
            auditor_env["ALERT_TOPIC_ARN"],
            "critical-only",
            filter_policy={"severity": ["critical"]},
        ),
    )
    everything = Alerts(
        session.client("sqs"),
        subscribe_queue(session, auditor_env["ALERT_TOPIC_ARN"], "everything"),
    )
    replay(ev.push(ev.PROD, REPO, "latest", D2, ev.at(0)))
    replay(ev.push(ev.DEV, REPO, "latest", D1, ev.at(1)))
    replay(ev.replication(ev.PROD, ev.DEV, REPO, "latest", D1, ev.at(2), ok=False))
    replay(ev.replication(ev.PROD, ev.DEV, REPO, "latest", D1, ev.at(3)))
    replay(ev.schedule(ev.at(60)))
    assert sorted(everything.kinds()) == [
        "RECOVERED",
        "REPLICATION_FAILED",
        "REPLICA_MISSING",
        "TAG_OVERWRITTEN",
    ]
    assert sorted(critical.kinds()) == ["REPLICATION_FAILED", "REPLICA_MISSING"]
    for alert in everything.received:
        assert set(alert["attributes"]) == {
            "kind",
            "severity",
            "repository",
            "destination_account",
            "destination_region",
            "dedup_id",
        }
        note = "RECOVERED" if alert["body"]["kind"] == "RECOVERED" else "OPEN"
        assert alert["attributes"]["dedup_id"] == f"{alert['body']['incident_id']}#{note}"


def test_expected_replicas_are_per_digest_not_per_push_or_tag(replay, alerts, client):
    replay(ev.push(ev.DEV, REPO, "v1", D1, ev.at(0)))
    replay(ev.push(ev.DEV, REPO, "latest", D1, ev.at(1)))  # same digest, another tag
    replay(ev.push(ev.DEV, REPO, "v1", D1, ev.at(2)))  # pushed again
    replay(ev.schedule(ev.at(40)))
    got = alerts.drain()
    assert sorted(a["body"]["destination"]["account"] for a in got) == [ev.PROD[0], ev.DR[0]]
    assert {a["body"]["due_at"] for a in got} == {"2026-11-27T10:30:00Z"}  # from the first push
    replicas = client.http.get(f"/images?repository={REPO}&digest={D1}").json_body["replicas"]
    assert len(replicas) == 2 and {r["tag"] for r in replicas} == {"v1"}
