"""Property: malformed, out-of-range and oversized events thrown at every handler get only the
documented outcome, write nothing, and leave every later sweep and route working.

Runs the real Chalice handlers against the moto server. MALFORMED_EXAMPLES=2000 for a soak;
the figures of the last run are written to test-artifacts/malformed-input.json.
"""

from __future__ import annotations

import copy
import json
import os
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import events as ev
from tests.conftest import ROOT

REPO = "team/api"
HANDLERS = ("on_image_action", "on_replication_action", "sweep")
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
ENVELOPE = (
    "version",
    "id",
    "detail-type",
    "source",
    "account",
    "time",
    "region",
    "resources",
    "detail",
)

HOSTILE_TIMES = (
    "0001-01-01T00:00:00Z",
    "0999-12-31T23:59:59Z",
    "2014-12-31T23:59:59Z",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00+23:59",
    "2026-11-27T10:00:00+99:00",
    "2026-02-30T10:00:00Z",
    "2026-11-27",
    "1700000000",
    "",
    "yesterday",
)


def valid_events() -> st.SearchStrategy[dict[str, Any]]:
    digest = st.sampled_from([ev.digest(n) for n in range(3)])
    tag = st.sampled_from(["v1", "latest", "", None])
    when = st.integers(0, 120).map(ev.at)
    return st.one_of(
        st.builds(lambda t, d, w: ev.push(ev.DEV, REPO, t, d, w), tag, digest, when),
        st.builds(lambda t, d, w: ev.delete(ev.DEV, REPO, t, d, w), tag, digest, when),
        st.builds(
            lambda dest, t, d, w, ok: ev.replication(dest, ev.DEV, REPO, t or "", d, w, ok),
            st.sampled_from([ev.PROD, ev.DR]),
            tag,
            digest,
            when,
            st.booleans(),
        ),
        st.builds(ev.schedule, when),
    )


hostile_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.text(max_size=40),
    st.sampled_from(HOSTILE_TIMES),
    st.integers(129, 6000).map(lambda n: "x" * n),  # oversized ids, names, tags
    st.just("sha256:" + "a" * 600),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
)


@st.composite
def hostile_events(draw: st.DrawFn) -> tuple[dict[str, Any], bool]:
    """A valid event with 1-3 mutations; True when an envelope key was removed."""
    event = copy.deepcopy(draw(valid_events()))
    envelope_missing = False
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(["envelope", "detail"]))
        detail = event.get("detail")
        target = detail if where == "detail" and isinstance(detail, dict) else event
        keys = sorted(target) or ["id"]
        key = draw(st.sampled_from([*keys, "unexpected-key"]))
        if draw(st.integers(0, 9)) == 0 and key in target:
            del target[key]
            envelope_missing |= target is event and key in ENVELOPE
        else:
            target[key] = draw(hostile_values)
    return event, envelope_missing


def test_hostile_events_get_only_the_documented_outcome(client, api_calls, alerts, replay):
    tally: Counter[str] = Counter()
    crashes: list[str] = []

    @settings(
        max_examples=int(os.environ.get("MALFORMED_EXAMPLES", "300")),
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=hostile_events(), handler=st.sampled_from(HANDLERS))
    def throw(case: tuple[dict[str, Any], bool], handler: str) -> None:
        event, envelope_missing = case
        start = len(api_calls.calls)
        try:
            result = client.lambda_.invoke(handler, event).payload
        except KeyError:
            # Chalice's event class reads every envelope key before any code of ours runs:
            # the invocation fails, so EventBridge retries and the dead-letter queue keeps it.
            assert envelope_missing, f"KeyError for a whole envelope: {event!r:.300}"
            outcome = "refused_by_runtime"
        except Exception as error:  # anything else is a crash
            crashes.append(f"{handler}: {type(error).__name__}: {error} for {event!r:.300}")
            return
        else:
            outcome = result["outcome"]
            assert outcome in ("recorded", "ignored", "rejected"), result
        writes = sum(1 for s, op in api_calls.calls[start:] if s == "dynamodb" and op in WRITES)
        tally["cases"] += 1
        tally[outcome] += 1
        if outcome != "recorded":
            tally["writes_for_refused"] += writes
            assert writes == 0, f"{outcome} event wrote {writes} item(s): {event!r:.300}"

    throw()
    assert crashes == [], crashes[:3]
    assert tally["rejected"] > tally["cases"] // 4, tally  # the strategy really is hostile

    # Afterwards a sweep, every route and a good event all still work.
    assert replay(ev.push(ev.DEV, REPO, "v9", ev.digest(9), ev.at(200))).outcome == "delivered"
    assert replay(ev.schedule(ev.at(300))).outcome == "delivered"
    for path in ("/status", "/incidents?state=all", "/repositories", f"/images?repository={REPO}"):
        response = client.http.get(path)
        assert response.status_code == 200, (path, response.body)
    assert client.http.get("/").status_code == 200
    assert "REPLICA_MISSING" in alerts.kinds()  # the good push's replicas went missing

    figures = {**tally, "crashes": len(crashes)}
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "malformed-input.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(f"malformed-input figures: {figures}")
