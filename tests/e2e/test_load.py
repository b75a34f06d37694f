"""Load: LOAD_EVENTS events (default 200; 10000 for the full run) from 20 repositories
replicating to 4 destinations, shuffled and delivered by 4 concurrent workers through app.py's
handlers against the moto server; then every expected replica's final state is read back
through `GET /images` (all pages, signed cursors) and compared with what the events imply.

    LOAD_EVENTS=10000 .venv/bin/python -m pytest tests/e2e/test_load.py

The figures (events, replicas verified, wrong final states, duration) land in
test-artifacts/load-<events>.json; nothing here asserts on time.
"""

from __future__ import annotations

import json
import os
import random
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from tests import events as ev
from tests.delivery import Deliveries, all_images, deliver, provision_run

EVENTS = int(os.environ.get("LOAD_EVENTS", "200"))
WORKERS = 4
REPOS = tuple(f"team/service-{n:02d}" for n in range(20))
DESTINATIONS = (ev.PROD, ev.DR, ("444444444444", "eu-central-1"), ("555555555555", "ap-south-1"))
CONFIG = [ev.registry(ev.DEV, (list(DESTINATIONS), []))]
ARTIFACT = Path(__file__).resolve().parents[2] / "test-artifacts" / f"load-{EVENTS}.json"


def workload(count: int, seed: int = 13) -> tuple[list[dict[str, Any]], dict[tuple, str]]:
    """`count` events and the final state each expected replica must end in:
    per push, each destination's replica arrives (a SUCCESS, or a PUSH there, sometimes
    delivered twice), fails for good, or never arrives."""
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    expected: dict[tuple, str] = {}
    n = 0
    while len(events) < count:
        repo = REPOS[n % len(REPOS)]
        digest = ev.digest(f"load-{n}")
        pushed = ev.T0 + timedelta(seconds=30 * n)
        events.append(ev.push(ev.DEV, repo, f"v{n}", digest, pushed))
        for dest in DESTINATIONS:
            roll = rng.random()
            when = pushed + timedelta(minutes=rng.randint(1, 20))
            if roll < 0.75:
                events.append(ev.replication(dest, ev.DEV, repo, f"v{n}", digest, when))
                if rng.random() < 0.1:
                    events.append(json.loads(json.dumps(events[-1])))  # delivered twice
                state = "replicated"
            elif roll < 0.85:
                events.append(ev.push(dest, repo, f"v{n}", digest, when))  # arrival seen as a PUSH
                state = "replicated"
            elif roll < 0.92:
                events.append(ev.replication(dest, ev.DEV, repo, f"v{n}", digest, when, ok=False))
                state = "failed"
            else:
                state = "missing"
            expected[(repo, digest, dest)] = state
        n += 1
    # Cut to `count`: replicas whose events were cut are not expected to have arrived.
    kept = events[:count]
    arrived = {
        (e["detail"]["repository-name"], e["detail"]["image-digest"], (e["account"], e["region"]))
        for e in kept
        if e["account"] != ev.DEV[0]
    }
    pushed_digests = {e["detail"]["image-digest"] for e in kept if e["account"] == ev.DEV[0]}
    final = {
        key: state if key in arrived else "missing"
        for key, state in expected.items()
        if key[1] in pushed_digests
    }
    rng.shuffle(kept)
    return kept, final


def test_every_replica_ends_in_the_state_its_events_imply(session, monkeypatch):
    from chalice.test import Client

    import app as app_module
    from tests.conftest import ROOT

    events, expected = workload(EVENTS)
    alerts = provision_run(session, monkeypatch, CONFIG)
    report = Deliveries()
    started = time.monotonic()
    deliver(events, WORKERS, report)
    delivered = time.monotonic()
    last = max(ev.parse(e["time"]) for e in events)
    with Client(app_module.app, project_dir=str(ROOT)) as client:
        # Sweeps after the grace period until nothing is pending (each handles a bounded batch).
        sweeps = 0
        for minutes in range(65, 200, 5):
            deliver([ev.schedule(last + timedelta(minutes=minutes))], 1, report)
            sweeps += 1
            if client.http.get("/status").json_body["counts"]["pending"] == 0:
                break
        swept = time.monotonic()
        seen: dict[tuple, str] = {}
        for repo in REPOS:
            for replica in all_images(client, repo)["replicas"]:
                dest = (replica["destination"]["account"], replica["destination"]["region"])
                seen[(repo, replica["digest"], dest)] = replica["state"]
        status = client.http.get("/status").json_body
    wrong = sorted(
        f"{key}: expected {state}, found {seen.get(key)}"
        for key, state in expected.items()
        if seen.get(key) != state
    )
    unexpected = sorted(str(key) for key in set(seen) - set(expected))
    ARTIFACT.parent.mkdir(exist_ok=True)
    ARTIFACT.write_text(
        json.dumps(
            {
                "events": len(events),
                "workers": WORKERS,
                "repositories": len(REPOS),
                "destinations": len(DESTINATIONS),
                "replicas_verified": len(expected),
                "wrong_final_states": len(wrong) + len(unexpected),
                "states": {s: list(expected.values()).count(s) for s in set(expected.values())},
                "retried_invocations": len(report.retried),
                "sweeps": sweeps,
                "seconds": {
                    "delivery": round(delivered - started, 1),
                    "sweeps": round(swept - delivered, 1),
                },
                "examples_of_wrong_states": (wrong + unexpected)[:20],
            },
            indent=2,
        )
        + "\n"
    )
    assert wrong == [] and unexpected == []
    counts = status["counts"]
    assert counts["pending"] == 0
    assert counts["failed"] == list(expected.values()).count("failed")
    assert counts["missing"] == list(expected.values()).count("missing")
    assert len(alerts.drain()) == counts["failed"] + counts["missing"]
