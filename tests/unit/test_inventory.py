"""reconcile --all on the in-memory ledger and registries: every covered repository, a
checkpoint after each, a clean stop on Ctrl-C, a resume that finishes the walk; the rate limit
on a fake clock; backfills started one per destination Region and followed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.adapters.throttle import RateLimit, RoleClient
from chalicelib.core.lifecycle import Location
from chalicelib.usecases import backfill, inventory, sweep
from chalicelib.usecases.backfill import Backfill, BackfillInProgress, BackfillResult
from tests import events as ev
from tests.fakes import RecordingChannel, fake_deps
from tests.registry_fakes import InMemoryCheckpointStore, Registries

DEV, PROD, DR = Location(*ev.DEV), Location(*ev.PROD), Location(*ev.DR)
OLD = ev.at(-365 * 24 * 60)
CONFIG = [ev.registry(ev.DEV, ([ev.PROD, ev.DR], ["team/"]))]


@pytest.fixture
def sns():
    return RecordingChannel("sns")


@pytest.fixture
def deps(sns):
    return fake_deps(config=CONFIG, channels=[sns])


def estate(repositories=6, images=3):
    """Dev's team/ repositories with old images, prod holding every other one, DR none."""
    registries = Registries()
    registries(DEV).create("other/tool")  # no rule covers it
    registries(DEV).put("other/tool", ev.digest("tool"), "v1", OLD)
    for r in range(repositories):
        name = f"team/svc{r}"
        for where in (DEV, PROD, DR):
            registries(where).create(name)
        for i in range(images):
            digest = ev.digest(f"{r}-{i}")
            registries(DEV).put(name, digest, f"v{i}", OLD + timedelta(minutes=i))
            if i % 2 == 0:
                registries(PROD).put(name, digest, f"v{i}", OLD + timedelta(minutes=i + 1))
    return registries


def run(deps, registries, store, **kw):
    return inventory.walk(deps, registries, deps.settings.replication, store, **kw)


def test_every_covered_repository_is_walked_and_recorded_without_alerts(deps, sns):
    registries, store = estate(), InMemoryCheckpointStore()
    seen = []
    result = run(deps, registries, store, progress=seen.append)
    c = result.checkpoint
    assert (result.total, c.repositories, c.images, c.finished) == (6, 6, 18, True)
    assert c.recorded == 18 and c.predating == 18 and c.arrived == 12
    # never reached: every image in DR, the odd ones in prod
    assert c.never_total == 6 * 3 + 6 * 1
    assert c.pairs == [[str(DEV), str(PROD)], [str(DEV), str(DR)]]
    assert [p.done for p in seen] == list(range(7)) and seen[-1].eta == 0
    assert "other/tool" not in {n["repository"] for n in c.never_reached}
    assert store.saves == 7
    sweep.sweep(ev.at(60), deps)
    assert sns.kinds() == []
    assert result.calls_now == registries.calls - 1  # all but the planning listing
    again = run(deps, registries, InMemoryCheckpointStore())
    assert again.checkpoint.recorded == 0 and again.checkpoint.never_total == c.never_total


def test_ctrl_c_mid_walk_keeps_the_checkpoint_and_resume_finishes(deps):
    registries, store = estate(), InMemoryCheckpointStore()
    calls = [0]

    def interrupt_once(registry):
        calls[0] += 1
        if calls[0] == 12:  # a few repositories in
            raise KeyboardInterrupt

    for registry in registries.at.values():
        registry.before_call = interrupt_once
    first = run(deps, registries, store)
    assert first.interrupted and not first.checkpoint.finished
    done = first.checkpoint.repositories
    assert 0 < done < 6 and store.load().last_done == f"team/svc{done - 1}"
    assert "reconcile --all --resume" in inventory.render_text(first)
    for registry in registries.at.values():
        registry.before_call = None
    second = run(deps, registries, store, resume=True)
    assert second.resumed and second.checkpoint.finished and second.done_now == 6 - done
    assert second.checkpoint.repositories == 6 and second.checkpoint.images == 18
    straight = run(fake_deps(config=CONFIG), estate(), InMemoryCheckpointStore())
    assert second.checkpoint.never_total == straight.checkpoint.never_total
    assert second.checkpoint.predating == straight.checkpoint.predating


def test_after_a_crash_resume_goes_on_from_the_last_repository_finished(deps):
    registries, store = estate(), InMemoryCheckpointStore()

    def crash(registry):
        if registry.location == PROD and registry.calls == 3:
            raise RuntimeError("the process died")

    registries(PROD).before_call = crash
    with pytest.raises(RuntimeError):
        run(deps, registries, store)
    kept = store.load()
    assert kept.repositories == 2 and not kept.finished
    registries(PROD).before_call = None
    result = run(deps, registries, store, resume=True)
    assert result.checkpoint.finished and result.done_now == 4
    assert result.checkpoint.recorded == 18


def test_resume_of_a_finished_walk_walks_again_from_the_start(deps):
    registries, store = estate(repositories=2), InMemoryCheckpointStore()
    run(deps, registries, store)
    again = run(deps, registries, store, resume=True)
    assert not again.resumed and again.done_now == 2


def test_a_source_that_cannot_be_listed_is_reported(deps):
    registries = estate(repositories=1)
    registries(DEV).unavailable = "access denied"
    result = run(deps, registries, InMemoryCheckpointStore())
    assert result.total == 0 and "cannot list the repositories" in result.planning_errors[0]


def test_progress_text_has_counts_rate_and_eta():
    p = inventory.Progress(done=3, total=12, images=40, never=2, calls=50, elapsed=10.0, eta=30.0)
    text = inventory.progress_text(p, width=12)
    assert text == (
        "[###---------] 3/12 repositories  40 images  2 never reached  5.0 calls/s  ETA 30s"
    )


# ----------------------------------------------------------------------------- rate limit


class FakeTime:
    def __init__(self):
        self.now = 100.0

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_the_rate_limit_spaces_calls_evenly():
    t = FakeTime()
    limit = RateLimit(4, clock=t.clock, sleep=t.sleep)
    moments = []
    for _ in range(9):
        limit.wait()
        moments.append(t.now - 100)
    assert moments == [0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0]
    t.now += 10  # idle: no burst is saved up
    limit.wait()
    limit.wait()
    assert t.now - 100 == pytest.approx(12.25)


def test_a_role_client_asks_for_the_current_client_at_each_call():
    made = []

    class Client:
        def __init__(self, n):
            self.n = n

        def describe_images(self, **kw):
            return (self.n, kw)

    def make():
        made.append(Client(len(made)))
        return made[-1]

    t = FakeTime()
    client = RoleClient(make, RateLimit(1, clock=t.clock, sleep=t.sleep))
    assert client.describe_images(repositoryName="a") == (0, {"repositoryName": "a"})
    assert client.describe_images(repositoryName="b")[0] == 1
    assert t.now == 101.0


# ----------------------------------------------------------------------------- backfill


class FakeBackfills:
    """One source registry's backfills as ECR would keep them."""

    def __init__(self, location, existing=(), refuse=None):
        self.location = location
        self.items = list(existing)
        self.refuse = refuse
        self.started = []
        self.result_pages = {}

    def backfills(self):
        return list(self.items)

    def start(self, destination):
        if self.refuse:
            raise self.refuse("refused")
        backfill = Backfill(f"id-{len(self.items)}", self.location, destination, "PREPARING")
        self.items.append(backfill)
        self.started.append(destination)
        return backfill

    def results(self, backfill_id):
        return self.result_pages.get(backfill_id, [])


def test_one_backfill_per_destination_region_at_a_time():
    prod2 = Location("444444444444", PROD.region)  # another destination in prod's Region
    running = Backfill("old", DEV, DR, "IN_PROGRESS")
    api = FakeBackfills(DEV, [running])
    started = backfill.start_backfills([(DEV, PROD), (DEV, prod2), (DEV, DR)], lambda s: api)
    outcomes = {(s.destination, s.outcome) for s in started}
    assert outcomes == {(PROD, "started"), (prod2, "waiting"), (DR, "in_progress")}
    assert api.started == [PROD]
    text = backfill.render_started(started)
    assert "ECR allows one per Region" in text and "backfill old is IN_PROGRESS" in text


def test_a_refused_start_says_to_try_again_later():
    api = FakeBackfills(DEV, refuse=BackfillInProgress)
    (started,) = backfill.start_backfills([(DEV, PROD)], lambda s: api)
    assert started.outcome == "waiting" and "run --backfill again" in started.note


def test_following_records_what_a_finished_backfill_replicated(deps, sns):
    d1, d2 = ev.digest("b1"), ev.digest("b2")
    registries = estate(repositories=0)
    registries(DEV).create("team/old")
    registries(DEV).put("team/old", d1, "v1", OLD)
    registries(DEV).put("team/old", d2, "v2", OLD)
    for where in (PROD, DR):
        registries(where).create("team/old")
    run(deps, registries, InMemoryCheckpointStore())
    assert deps.images.load("team/old", d1).facts.replicas == ()
    done = Backfill(
        "b-1",
        DEV,
        PROD,
        "COMPLETE",
        started_at=ev.at(0),
        ended_at=ev.at(20),
        total=2,
        completed=1,
        failed=1,
        failure_codes=("REPLICATION_DESTINATION_POLICY_DENIED",),
    )
    api = FakeBackfills(DEV, [done, Backfill("b-2", DEV, DR, "IN_PROGRESS", ev.at(30))])
    api.result_pages["b-1"] = [
        BackfillResult("team/old", d1, "v1", "COMPLETE"),
        BackfillResult("team/old", d2, "v2", "FAILED", "REPLICATION_DESTINATION_POLICY_DENIED"),
    ]
    followed, errors = backfill.follow([DEV], lambda s: api, deps)
    assert errors == [] and [f.recorded for f in followed] == [1, 0]
    (replica,) = deps.images.load("team/old", d1).facts.replicas
    assert (replica.destination, replica.state, replica.replicated_at) == (
        PROD,
        "replicated",
        ev.at(20),
    )
    assert replica.pushed_at == OLD
    text = backfill.render_followed(followed, errors)
    assert "b-1 111111111111/us-west-2 -> 222222222222/eu-west-1: COMPLETE" in text
    assert "FAILED team/old:v2" in text and "b-2" in text and "no progress yet" in text
    sweep.sweep(ev.at(60), deps)
    assert sns.kinds() == []
    again, _ = backfill.follow([DEV], lambda s: api, deps)
    assert [f.recorded for f in again] == [0, 0]
