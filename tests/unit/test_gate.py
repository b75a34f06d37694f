"""The deploy gate's verdicts on the in-memory ledger, and its waiting loop on a fake clock."""

from __future__ import annotations

import pytest

from chalicelib.cli import wait_text
from chalicelib.core.lifecycle import ImagePushed, Location, Replica, ReplicationReported
from chalicelib.usecases import delivery, gate, recording, sweep
from tests import events as ev
from tests.fakes import fake_deps

DEV, PROD, DR = Location(*ev.DEV), Location(*ev.PROD), Location(*ev.DR)
REPO = "team/api"
D1, D2 = ev.digest(1), ev.digest(2)
_ids = iter(range(10**6))


def push(where, tag, digest, minute, repo=REPO):
    return ImagePushed(f"p{next(_ids)}", ev.at(minute), where, repo, digest, tag)


def replicated(dest, tag, digest, minute, ok=True, source=DEV):
    return ReplicationReported(
        f"r{next(_ids)}", ev.at(minute), dest, source, REPO, digest, tag, ok, "DENIED"
    )


def record(deps, *facts):
    for fact in facts:
        if isinstance(fact, ReplicationReported):
            outcome = recording.record_replication(fact, deps)
        else:
            outcome = recording.record_image_action(fact, deps)
        delivery.deliver(outcome.notes, deps)


@pytest.fixture
def deps():
    return fake_deps()


def by_digest(deps, digest=D1, **kw):
    return gate.image_state(REPO, deps, digest=digest, **kw)


def by_tag(deps, tag="v1", **kw):
    return gate.image_state(REPO, deps, tag=tag, **kw)


def test_an_image_the_ledger_does_not_know_is_waited_for(deps):
    for verdict in (by_digest(deps), by_tag(deps)):
        assert verdict.state == "unknown" and not verdict.final
        assert "no record" in verdict.note


def test_pending_until_every_destination_has_it(deps):
    record(deps, push(DEV, "v1", D1, 0))
    verdict = by_tag(deps)
    assert verdict.state == "pending" and verdict.digests == (D1,)
    assert {r.destination: r.state for r in verdict.replicas} == {PROD: "pending", DR: "pending"}
    record(deps, replicated(PROD, "v1", D1, 3))
    assert by_digest(deps).state == "pending"
    record(deps, replicated(DR, "v1", D1, 5))
    for verdict in (by_digest(deps), by_tag(deps)):
        assert verdict.state == "replicated" and verdict.final and verdict.ok


def test_a_failed_or_missing_replica_is_final_at_once(deps):
    record(deps, push(DEV, "v1", D1, 0), replicated(PROD, "v1", D1, 2, ok=False))
    verdict = by_tag(deps)
    assert (verdict.state, verdict.final, verdict.ok) == ("failed", True, False)
    record(deps, push(DEV, "v2", D2, 0))
    sweep.sweep(ev.at(31), deps)
    assert by_tag(deps, "v2").state == "missing"


def test_an_early_success_does_not_open_the_gate_before_the_push_is_recorded(deps):
    # ECR's events come in any order: prod's SUCCESS first, the push (expecting DR too) later.
    record(deps, replicated(PROD, "v1", D1, 3))
    verdict = by_digest(deps)
    assert verdict.state == "pending"
    waiting = {r.destination: r for r in verdict.replicas}
    assert waiting[PROD].state == "replicated" and waiting[DR].state == "pending"
    assert waiting[DR].pushed_at is None  # not recorded yet: expected from the rules
    line = wait_text.progress_line(verdict, 3, {})
    assert "1 of 2 present" in line and "the source's push is not recorded yet" in line
    record(deps, push(DEV, "v1", D1, 0))
    assert by_digest(deps).state == "pending"
    record(deps, replicated(DR, "v1", D1, 6))
    assert by_digest(deps).state == "replicated"


def test_a_tag_follows_the_source_not_a_destination_that_diverges(deps):
    record(deps, push(PROD, "v1", D2, 0))  # a local push in prod, no rule there
    verdict = by_tag(deps)
    assert verdict.state == "unknown" and "not yet at a source" in verdict.note
    record(deps, push(DEV, "v1", D1, 1))
    verdict = by_tag(deps)
    assert verdict.digests == (D1,) and verdict.state == "pending"


def test_the_tag_moving_on_at_the_source_is_followed(deps):
    record(deps, push(DEV, "v1", D1, 0), replicated(PROD, "v1", D1, 1), replicated(DR, "v1", D1, 1))
    assert by_tag(deps).state == "replicated"
    record(deps, push(DEV, "v1", D2, 5))
    verdict = by_tag(deps)
    assert verdict.digests == (D2,) and verdict.state == "pending"


def test_nothing_expected_is_a_pass_with_the_reason(deps):
    record(deps, push(DEV, None, D1, 0))  # an untagged platform manifest
    verdict = by_digest(deps)
    assert (verdict.state, verdict.ok) == ("nothing_expected", True)
    assert "untagged" in verdict.note
    uncovered = fake_deps(config=[ev.registry(ev.DEV, ([ev.PROD], ["team/"]))])
    record(uncovered, push(DEV, "v1", D1, 0, repo="other/api"))
    verdict = gate.image_state("other/api", uncovered, tag="v1")
    assert verdict.state == "nothing_expected" and "no replication rule" in verdict.note


def test_a_cancelled_replica_fails_the_gate(deps):
    from chalicelib.core.lifecycle import ImageDeleted

    record(deps, push(DEV, "v1", D1, 0))
    recording.record_image_action(ImageDeleted("del", ev.at(2), DEV, REPO, D1, None), deps)
    assert by_digest(deps).state == "cancelled"


def test_exactly_one_of_digest_and_tag():
    with pytest.raises(ValueError):
        gate.image_state(REPO, fake_deps())
    with pytest.raises(ValueError):
        gate.image_state(REPO, fake_deps(), digest=D1, tag="v1")


# ----------------------------------------------------------------------------- the loop


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def verdict(state, *replica_states):
    replicas = tuple(
        Replica(REPO, D1, DEV, dest, "v1", ev.at(0), ev.at(30), state=s)
        for dest, s in zip((PROD, DR), replica_states, strict=False)
    )
    return gate.Verdict(state, REPO, "v1", (D1,), replicas)


def test_wait_reports_each_change_once_and_stops_when_final():
    looks = iter(
        [
            verdict("unknown"),
            verdict("pending", "pending", "pending"),
            verdict("pending", "pending", "pending"),
            verdict("pending", "replicated", "pending"),
            verdict("replicated", "replicated", "replicated"),
        ]
    )
    seen = []
    t = FakeTime()
    result = gate.wait_for(
        lambda: next(looks),
        timeout=100,
        interval=5,
        progress=lambda v, elapsed: seen.append((v.state, elapsed)),
        clock=t.clock,
        sleep=t.sleep,
    )
    assert not result.timed_out and result.verdict.state == "replicated"
    assert seen == [("unknown", 0), ("pending", 5), ("pending", 15), ("replicated", 20)]
    assert t.sleeps == [5, 5, 5, 5]


def test_wait_gives_up_at_the_timeout_without_oversleeping():
    t = FakeTime()
    result = gate.wait_for(
        lambda: verdict("pending", "pending"), timeout=12, interval=5, clock=t.clock, sleep=t.sleep
    )
    assert result.timed_out and result.waited == 12
    assert t.sleeps == [5, 5, 2]
    line = wait_text.outcome_line(result, {"222222222222/eu-west-1": "prod"}, 12)
    assert line.startswith("TIMEOUT after 12 s") and "prod 222222222222/eu-west-1" in line
    assert wait_text.document(result, 12)["state"] == "timeout"


def test_wait_keeps_going_through_trouble_it_is_told_to_tolerate():
    t = FakeTime()
    calls = iter([RuntimeError("throttled"), verdict("failed", "failed")])

    def look():
        value = next(calls)
        if isinstance(value, Exception):
            raise value
        return value

    troubles = []
    result = gate.wait_for(
        look,
        timeout=60,
        interval=1,
        trouble=lambda e, elapsed: troubles.append(str(e)) or True,
        clock=t.clock,
        sleep=t.sleep,
    )
    assert troubles == ["throttled"] and result.verdict.state == "failed"
    assert wait_text.outcome_line(result, {}, 60).startswith("FAILED: team/api:v1 is failed in")
    with pytest.raises(RuntimeError):
        gate.wait_for(
            lambda: (_ for _ in ()).throw(RuntimeError("bug")),
            timeout=1,
            interval=1,
            clock=t.clock,
            sleep=t.sleep,
        )
