"""The commit loop against a busy ledger (tests/fakes.py's BusyWriter): a refused transaction
is waited for with jittered, growing pauses and decided again on fresh reads, for as long as
the invocation's patience allows, then the error propagates; a failed condition is decided
again, at once and then after short pauses, five times at most."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib.core import contention
from chalicelib.core.lifecycle import ImagePushed, Location
from chalicelib.ports import LedgerBusy, LedgerConflict
from chalicelib.usecases import commits, recording
from tests import events as ev
from tests.fakes import BusyWriter, fake_deps

PUSH = ImagePushed("e1", ev.at(0), Location(*ev.DEV), "team/api", ev.digest(1), "v1")


class Clock:
    """Monotonic time that moves only when the loop sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.pauses: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


def patient(clock: Clock, seconds: float) -> commits.Patience:
    return commits.Patience(clock.now + seconds, clock=lambda: clock.now, sleep=clock.sleep,
                            draw=lambda: 0.5)  # fmt: skip


def test_a_busy_ledger_is_waited_for_then_the_event_is_recorded_once():
    deps = fake_deps()
    ledger = deps.writer
    deps.writer = BusyWriter(ledger, busy=4)
    clock = Clock()
    with commits.patience(patient(clock, 10)):
        recording.record_image_action(PUSH, deps)
    assert deps.writer.refused == 4
    assert ledger.load("team/api", ev.digest(1)).applied == {"e1"}
    assert ledger.status_counts(ev.at(1)).pending == 2  # counted once
    # Full jitter under a cap that doubles: draw 0.5 gives half of 10, 20, 40, 80 ms.
    assert clock.pauses == [contention.delay(n, 0.5) for n in range(4)] == [0.005, 0.01, 0.02, 0.04]


def test_out_of_patience_the_error_propagates_and_nothing_is_written():
    deps = fake_deps()
    ledger = deps.writer
    deps.writer = BusyWriter(ledger, busy=1000)
    clock = Clock()
    with commits.patience(patient(clock, 2.0)), pytest.raises(LedgerBusy):
        recording.record_image_action(PUSH, deps)
    assert sum(clock.pauses) <= 2.0 and len(clock.pauses) > 5
    assert ledger.load("team/api", ev.digest(1)).applied == frozenset()


def test_a_failed_condition_is_decided_again_five_times_at_most():
    deps = fake_deps()
    decisions: list[int] = []
    commit = replace(marker_commit(), event_id="taken")
    deps.writer.commit(commit)  # its event marker is there: every commit of it conflicts

    def decide():
        decisions.append(1)
        return commit

    clock = Clock()
    with commits.patience(patient(clock, 10)), pytest.raises(LedgerConflict, match="gave up"):
        commits.commit(decide, deps)
    assert len(decisions) == commits.COMMIT_ATTEMPTS
    # at once the first time, then after a short jittered pause (racers fall out of step)
    assert clock.pauses == [0.005, 0.01, 0.02]


def marker_commit():
    from chalicelib.ports import Commit

    return Commit(event_id="x", event_image=("team/api", ev.digest(2)))


class Context:
    def __init__(self, ms: float) -> None:
        self.ms = ms

    def get_remaining_time_in_millis(self) -> float:
        return self.ms


def test_an_invocation_waits_until_shortly_before_its_timeout():
    import time

    lambda_like = commits.invocation_patience(Context(60_000).get_remaining_time_in_millis, 3_000)
    assert 56.5 < lambda_like.until - time.monotonic() <= 57.0
    local = commits.invocation_patience(Context(5_000).get_remaining_time_in_millis, 3_000)
    assert local.until - time.monotonic() == pytest.approx(commits.PATIENCE_SECONDS, abs=0.5)
    assert commits.invocation_patience(None, 3_000).until > time.monotonic()
