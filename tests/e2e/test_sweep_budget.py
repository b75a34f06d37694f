"""The sweep's time budget through the real Lambda handler: an invocation whose context runs out
of time stops before its reserve, and the next invocation continues where it stopped; every
due replica alerts exactly once, whichever step the budget cut."""

from __future__ import annotations

import pytest

from tests import events as ev

IMAGES = 12  # each expects a replica in prod and one in DR: 24 due replicas


class RunningOut:
    """A Lambda context whose remaining time drops by `step_ms` every time it is asked (a
    budget spent by the sweep's own progress, not by the clock)."""

    def __init__(self, start_ms: int, step_ms: int) -> None:
        self.left, self.step = start_ms, step_ms

    def get_remaining_time_in_millis(self) -> int:
        self.left -= self.step
        return self.left


@pytest.mark.parametrize(
    ("budget", "decided_first"),
    [
        ((40_000, 2_000), "some"),  # cut while deciding the due replicas
        ((60_000, 1_000), "all"),  # all decided, cut while delivering their alerts
    ],
    ids=["cut-while-deciding", "cut-while-delivering"],
)
def test_a_sweep_out_of_time_hands_over_without_losing_or_repeating(
    replay, alerts, client, budget, decided_first
):
    import app as app_module

    for n in range(IMAGES):
        replay(ev.push(ev.DEV, f"team/budget-{n}", "v1", ev.digest(f"budget {n}"), ev.at(0)))
    due = 2 * IMAGES

    context = RunningOut(*budget)
    assert app_module.sweep(ev.schedule(ev.at(31)), context)["outcome"] == "recorded"
    assert context.left <= 15_000 + budget[1]  # it ran into its reserve and stopped there
    first = alerts.drain()
    missing = client.http.get("/status").json_body["counts"]["missing"]
    assert len(first) < due  # stopped early: work was left in the queue
    if decided_first == "some":
        assert 0 < missing < due
    else:
        assert missing == due and first

    # The next scheduled invocation (a minute later) with its whole budget finishes the work.
    assert app_module.sweep(ev.schedule(ev.at(32)), RunningOut(600_000, 1))["outcome"] == (
        "recorded"
    )
    later = alerts.drain()
    sent = [a["body"] for a in first + later]
    assert [a["kind"] for a in sent] == ["REPLICA_MISSING"] * due  # nothing lost
    assert len({a["incident_id"] for a in sent}) == due  # nothing repeated
    assert client.http.get("/status").json_body["counts"]["missing"] == due

    app_module.sweep(ev.schedule(ev.at(33)), RunningOut(600_000, 1))
    assert alerts.drain() == []
