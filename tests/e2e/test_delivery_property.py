"""Property: duplicated, shuffled delivery (sweeps last) gives the ledger, status and alerts of
delivery once in time order. Runs the real app against the moto server."""

from __future__ import annotations

import json
import os
import uuid
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from chalicelib import bootstrap
from chalicelib.local.provision import provision, subscribe_queue
from tests import events as ev
from tests.conftest import Alerts

REPOS = ("team/api", "team/web")
TAGS = ("latest", "v1")
DESTS = (ev.PROD, ev.DR)
DIGESTS = tuple(ev.digest(n) for n in range(4))


@st.composite
def scenarios(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A plausible history: dev pushes, replications (some failing first), local pushes,
    untagged pushes (buildx children, replicas' own PUSHes), tag removals and deletes."""
    minute = 0.0
    events: list[dict[str, Any]] = []
    pushed: list[tuple[str, str, str]] = []
    for _ in range(draw(st.integers(3, 9))):
        minute += draw(st.integers(1, 12))
        step = draw(
            st.sampled_from(["push", "push", "replicate", "local", "untag", "untagged", "delete"])
        )
        when = ev.at(minute)
        if step == "push" or not pushed:
            image = (
                draw(st.sampled_from(REPOS)),
                draw(st.sampled_from(TAGS)),
                draw(st.sampled_from(DIGESTS)),
            )
            pushed.append(image)
            events.append(ev.push(ev.DEV, image[0], image[1], image[2], when))
        elif step == "replicate":
            repo, tag, digest = draw(st.sampled_from(pushed))
            dest = draw(st.sampled_from(DESTS))
            if draw(st.booleans()):  # a failure first, then the retry succeeds (or never does)
                events.append(ev.replication(dest, ev.DEV, repo, tag, digest, when, ok=False))
                when += timedelta(minutes=draw(st.integers(1, 5)))
                if draw(st.booleans()):
                    continue
            events.append(ev.replication(dest, ev.DEV, repo, tag, digest, when))
            minute = (when - ev.T0).total_seconds() / 60
        elif step == "local":
            repo, tag = draw(st.sampled_from(REPOS)), draw(st.sampled_from(TAGS))
            events.append(
                ev.push(
                    draw(st.sampled_from(DESTS)), repo, tag, draw(st.sampled_from(DIGESTS)), when
                )
            )
        elif step == "untagged":  # a buildx child at the source, or a replica's own PUSH
            repo, _, digest = draw(st.sampled_from(pushed))
            where = draw(st.sampled_from((ev.DEV, *DESTS)))
            if where == ev.DEV:
                digest = draw(st.sampled_from(DIGESTS))
            events.append(ev.push(where, repo, None, digest, when))
        elif step == "untag":  # removes one tag; the image goes only with its last tag
            repo, tag, digest = draw(st.sampled_from(pushed))
            events.append(ev.delete(ev.DEV, repo, tag, digest, when))
        else:
            repo, _, digest = draw(st.sampled_from(pushed))
            events.append(ev.delete(ev.DEV, repo, None, digest, when))
    return events


def sweeps_after(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    last = max(ev.parse(e["time"]) for e in events)
    return [ev.schedule(last + timedelta(minutes=m)) for m in (1, 31, 65, 120)]


def superseded(order: list[dict[str, Any]]) -> bool:
    """A FAILED delivered after its replica was already known present at the destination, or
    after the source deleted the image: PRODUCT.md's "arrives already superseded". Also a
    FAILED delivered after a later failure of the same replica: the incident was already
    announced with the later time (its stored document then moves to the earlier one)."""
    known: set[tuple] = set()
    failed_at: dict[tuple, str] = {}
    for event in order:
        if event["source"] != "aws.ecr":
            continue
        d = event["detail"]
        image = (d["repository-name"], d["image-digest"])
        if event["detail-type"] == "ECR Replication Action" and d["result"] == "FAILED":
            present = (event["account"], event["region"], *image, "present")
            deleted = (d["source-account"], d["source-region"], *image, "deleted")
            if present in known or deleted in known:
                return True
            replica = (event["account"], event["region"], *image)
            if failed_at.setdefault(replica, event["time"]) > event["time"]:
                return True
        else:
            # A tag removal deletes an image only once a sweep judges it, and sweeps come last.
            if d.get("action-type") == "DELETE" and d.get("image-tag"):
                continue
            fact = "deleted" if d.get("action-type") == "DELETE" else "present"
            known.add((event["account"], event["region"], *image, fact))
    return False


def first_deliveries(order: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen, firsts = set(), []
    for event in order:
        if event["id"] not in seen:
            seen.add(event["id"])
            firsts.append(event)
    return firsts


ALERT_FIELDS = (
    "kind",
    "incident_id",
    "cause",
    "repository",
    "digest",
    "previous_digest",
    "destination",
    "source",
    "resolves",
    "detected_at",
)


def run(order, session, monkeypatch, replay_factory):
    env = provision(session, suffix=uuid.uuid4().hex[:10])
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    bootstrap.reset()
    alerts = Alerts(
        session.client("sqs"),
        subscribe_queue(session, env["ALERT_TOPIC_ARN"], f"q-{uuid.uuid4().hex[:8]}"),
    )
    with replay_factory() as replayer:
        for event in order:
            replayer.deliver(event)
    deps = bootstrap.deps()
    from chalicelib.usecases import queries

    ledger = {
        repo: _normalise(queries.describe_images(repo, None, None, 100, None, deps))
        for repo in REPOS
        if _known(repo, deps)
    }
    status = queries.status(deps)
    status.pop("as_of")
    matrix = queries.repositories(deps)
    sent = sorted(
        json.dumps({k: a["body"][k] for k in ALERT_FIELDS}, sort_keys=True) for a in alerts.drain()
    )
    return ledger, status, matrix, sent


def _known(repo, deps):
    from chalicelib.core.errors import NotFound
    from chalicelib.usecases import queries

    try:
        queries.describe_images(repo, None, None, 1, None, deps)
    except NotFound:
        return False
    return True


def _normalise(images):
    images["replicas"] = sorted(images["replicas"], key=lambda r: json.dumps(r, sort_keys=True))
    return images


# Each example replays two full histories against the moto server (~3 s); shrinking such
# examples takes minutes, so failures are reported unshrunk. PROPERTY_EXAMPLES=200 for a soak.
@settings(
    max_examples=int(os.environ.get("PROPERTY_EXAMPLES", "12")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(scenario=scenarios(), data=st.data())
def test_any_order_and_duplication_gives_the_same_outcome(
    scenario, data, session, monkeypatch, auditor_env
):
    import app as app_module
    from chalicelib.local.replay import Replayer
    from tests.conftest import ROOT

    def replayer():
        return Replayer(app_module.app, ROOT)

    monkeypatch.setenv("REPLICATION_CONFIG", json.dumps(ev.DEFAULT_CONFIG))
    sweeps = sweeps_after(scenario)
    in_time_order = sorted(scenario, key=lambda e: (e["time"], e["id"])) + sweeps
    shuffled = data.draw(st.permutations(scenario + scenario)) + sweeps

    expected = run(in_time_order, session, monkeypatch, replayer)
    actual = run(shuffled, session, monkeypatch, replayer)
    assert actual[0] == expected[0], "ledger differs"
    assert actual[1] == expected[1], "status differs"
    assert actual[2] == expected[2], "matrix differs"
    if not superseded(first_deliveries(shuffled)) and not superseded(in_time_order):
        assert actual[3] == expected[3], "alerts differ"


@settings(
    max_examples=int(os.environ.get("PROPERTY_EXAMPLES", "8")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(scenario=scenarios())
def test_concurrent_sweep_lanes_decide_as_one_lane_does(
    scenario, session, monkeypatch, auditor_env
):
    """The sweep runs repositories and incidents in concurrent lanes (bootstrap.SWEEP_WORKERS):
    the ledger, status and alerts are those of the same sweeps run one step at a time."""
    import app as app_module
    from chalicelib.local.replay import Replayer
    from tests.conftest import ROOT

    def replayer():
        return Replayer(app_module.app, ROOT)

    monkeypatch.setenv("REPLICATION_CONFIG", json.dumps(ev.DEFAULT_CONFIG))
    in_time_order = sorted(scenario, key=lambda e: (e["time"], e["id"])) + sweeps_after(scenario)
    monkeypatch.setattr(bootstrap, "SWEEP_WORKERS", 1)
    serial = run(in_time_order, session, monkeypatch, replayer)
    monkeypatch.setattr(bootstrap, "SWEEP_WORKERS", 8)
    concurrent = run(in_time_order, session, monkeypatch, replayer)
    assert bootstrap.deps().sweep_workers == 8
    assert concurrent == serial


def test_a_failure_delivered_after_a_later_one_gives_the_same_ledger(
    session, monkeypatch, auditor_env
):
    """Found by the property above: the incident opened by the later FAILED moves to the
    earlier one when it arrives, so the ledger and /status do not depend on the order."""
    import app as app_module
    from chalicelib.local.replay import Replayer
    from tests.conftest import ROOT

    def replayer():
        return Replayer(app_module.app, ROOT)

    monkeypatch.setenv("REPLICATION_CONFIG", json.dumps(ev.DEFAULT_CONFIG))
    repo, image, other = REPOS[0], DIGESTS[1], DIGESTS[0]
    pushed = ev.push(ev.DEV, repo, "v1", image, ev.at(3))
    first = ev.replication(ev.PROD, ev.DEV, repo, "v1", image, ev.at(6), ok=False)
    local = ev.push(ev.PROD, repo, "v1", other, ev.at(13))
    second = ev.replication(ev.PROD, ev.DEV, repo, "v1", image, ev.at(19), ok=False)
    history = [pushed, first, local, second]
    sweeps = sweeps_after(history)
    expected = run(history + sweeps, session, monkeypatch, replayer)
    actual = run([pushed, second, pushed, first, local, *sweeps], session, monkeypatch, replayer)
    assert actual[:3] == expected[:3]
    [incident] = [i for i in actual[1]["incidents"] if i["kind"] == "REPLICATION_FAILED"]
    assert incident["detected_at"] == "2026-11-27T10:06:00Z"
