"""The deploy gate (`wait`, `GET /gate`): is every expected replica of one image present yet?

Answered from the ledger alone (an image's record and the repository's tag heads), so a CI job
needs nothing but read access to the table. `image_state` is one look and a verdict;
`wait_for` looks again every interval until the verdict is final or the time is up.

What counts as expected: the replicas the ledger recorded for the image. Until the source's
push is recorded (a replication event can be processed before it), the destinations the rules
name for that source count as expected too, so an early SUCCESS for one destination never opens
the gate while another is still to come. An image the ledger does not know yet may simply not
have been processed: that is a wait, not an error.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from chalicelib.core import documents, lifecycle
from chalicelib.core.errors import NotFound
from chalicelib.core.lifecycle import ImageFacts, Location, Replica
from chalicelib.core.rules import ReplicationConfig
from chalicelib.ports import Deps

State = Literal[
    "replicated",  # every expected replica is present
    "nothing_expected",  # the image is recorded and no replica is expected of it
    "failed",  # a replica failed (REPLICATION_FAILED)
    "missing",  # a replica is overdue (REPLICA_MISSING)
    "cancelled",  # the source deleted the image before it arrived
    "pending",  # some expected replica is not there yet
    "unknown",  # the ledger has no (usable) record of the image yet
]
FINAL: frozenset[str] = frozenset(
    {"replicated", "nothing_expected", "failed", "missing", "cancelled"}
)
PASSING: frozenset[str] = frozenset({"replicated", "nothing_expected"})
BAD_ORDER: tuple[State, ...] = ("failed", "missing", "cancelled")


UNKNOWN = "the auditor has no record of it yet"


@dataclass(frozen=True)
class Verdict:
    state: State
    repository: str
    tag: str | None
    digests: tuple[str, ...]
    replicas: tuple[Replica, ...]  # expected ones; not-yet-recorded ones have pushed_at None
    note: str = ""  # why, for `unknown` and `nothing_expected`
    known: bool = True  # False: the ledger has no record of the image at all

    @property
    def final(self) -> bool:
        return self.state in FINAL

    @property
    def ok(self) -> bool:
        return self.state in PASSING

    @property
    def image(self) -> str:
        if self.tag is not None:
            return f"{self.repository}:{self.tag}"
        return f"{self.repository}@{self.digests[0] if self.digests else '?'}"


def covering_sources(config: ReplicationConfig, repository: str) -> frozenset[Location]:
    """The source registries whose rules send `repository` somewhere."""
    return frozenset(
        s.location for s in config.sources if config.destinations_for(s.location, repository)
    )


def expected(
    facts: ImageFacts,
    repository: str,
    digest: str,
    config: ReplicationConfig,
    sources: frozenset[Location] | None = None,
) -> tuple[Replica, ...]:
    """The replicas the gate waits for: the recorded ones (from `sources`, if given), plus the
    rules' destinations of a source whose push the ledger has not recorded yet."""
    recorded = [r for r in facts.replicas if sources is None or r.source in sources]
    found = {(r.source, r.destination) for r in recorded}
    origins = {r.source for r in recorded} | set(sources or ())
    placeholders = []
    for source in sorted(origins):
        if facts.present_at(source) is not None:
            continue  # the push is recorded: its replicas were expected with it
        for destination in sorted(config.destinations_for(source, repository)):
            if (source, destination) in found:
                continue
            arrived = facts.present_at(destination)
            placeholders.append(
                Replica(
                    repository=repository,
                    digest=digest,
                    source=source,
                    destination=destination,
                    tag=None,
                    pushed_at=None,
                    due_at=None,
                    state="replicated" if arrived else "pending",
                    replicated_at=arrived,
                )
            )
    return tuple(sorted((*recorded, *placeholders), key=lambda r: (r.destination, r.source)))


def _judge(replicas: tuple[Replica, ...]) -> State:
    states = {r.state for r in replicas}
    for bad in BAD_ORDER:
        if bad in states:
            return bad
    return "replicated" if states == {"replicated"} else "pending"


def image_state(
    repository: str,
    deps: Deps,
    *,
    digest: str | None = None,
    tag: str | None = None,
    config: ReplicationConfig | None = None,
) -> Verdict:
    """One look at the ledger: the verdict on `repository@digest` or on `repository:tag`."""
    if (digest is None) == (tag is None):
        raise ValueError("give exactly one of digest and tag")
    rules = deps.settings.replication if config is None else config
    covering = covering_sources(rules, repository)
    if digest is not None:
        return _digest_state(repository, digest, deps, rules, covering)
    assert tag is not None
    return _tag_state(repository, tag, deps, rules, covering)


def _digest_state(
    repository: str,
    digest: str,
    deps: Deps,
    rules: ReplicationConfig,
    covering: frozenset[Location],
) -> Verdict:
    facts = deps.images.load(repository, digest).facts
    replicas = expected(facts, repository, digest, rules)

    def verdict(state: State, note: str = "") -> Verdict:
        return Verdict(state, repository, None, (digest,), replicas, note)

    if replicas:
        return verdict(_judge(replicas))
    if not facts.presence:
        return Verdict("unknown", repository, None, (digest,), (), UNKNOWN, False)
    at_sources = sorted(loc for loc in facts.presence if loc in covering)
    if not covering:
        return verdict("nothing_expected", f"no replication rule sends {repository} anywhere")
    if at_sources:
        source = at_sources[0]
        if facts.presence[source].tags:
            return verdict(
                "nothing_expected",
                f"the push at {source} expected no replica (no rule covered {repository} then)",
            )
        return verdict(
            "nothing_expected",
            f"pushed at {source} without a tag: an untagged image expects no replica of its "
            "own (it travels with its tagged index; wait for that)",
        )
    where = ", ".join(str(loc) for loc in sorted(facts.presence))
    return verdict(
        "unknown",
        f"recorded only at {where}, not yet at a source ({', '.join(map(str, sorted(covering)))})",
    )


def _tag_state(
    repository: str,
    tag: str,
    deps: Deps,
    rules: ReplicationConfig,
    covering: frozenset[Location],
) -> Verdict:
    heads = deps.tags.repository_tags(repository)
    named = {loc: tags[tag] for loc, tags in sorted(heads.items()) if tag in tags}
    if not named:
        return Verdict("unknown", repository, tag, (), (), UNKNOWN, False)
    facts: dict[str, ImageFacts] = {}
    targets: dict[str, set[Location]] = {}
    for location, digest in named.items():
        if digest not in facts:
            facts[digest] = deps.images.load(repository, digest).facts
        pushed_here = location in covering or any(
            r.source == location for r in facts[digest].replicas
        )
        if pushed_here:
            targets.setdefault(digest, set()).add(location)
    if not targets:
        where = ", ".join(f"{loc} ({documents.short_digest(d)})" for loc, d in named.items())
        if not covering:
            return Verdict(
                "nothing_expected",
                repository,
                tag,
                tuple(sorted(set(named.values()))),
                (),
                f"no replication rule sends {repository} anywhere",
            )
        return Verdict(
            "unknown", repository, tag, (), (), f"recorded only at {where}, not yet at a source"
        )
    replicas = tuple(
        r
        for digest, sources in sorted(targets.items())
        for r in expected(facts[digest], repository, digest, rules, frozenset(sources))
    )
    digests = tuple(sorted(targets))
    if not replicas:
        where = ", ".join(str(loc) for sources in targets.values() for loc in sorted(sources))
        return Verdict(
            "nothing_expected",
            repository,
            tag,
            digests,
            (),
            f"the push at {where} expected no replica (no rule covered {repository} then)",
        )
    return Verdict(_judge(replicas), repository, tag, digests, replicas)


# ----------------------------------------------------------------------------- waiting


@dataclass(frozen=True)
class WaitResult:
    verdict: Verdict
    timed_out: bool
    waited: float  # seconds


def wait_for(
    look: Callable[[], Verdict],
    *,
    timeout: float,
    interval: float,
    progress: Callable[[Verdict, float], None] = lambda verdict, elapsed: None,
    trouble: Callable[[Exception, float], bool] = lambda error, elapsed: False,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> WaitResult:
    """Look until the verdict is final or `timeout` seconds have passed.

    `progress` hears every verdict that differs from the previous one; `trouble` hears a look
    that raised and says whether to keep waiting (a throttled or briefly unreachable table) or
    to give up (True: keep waiting; False: the error propagates).
    """
    start = clock()
    shown: tuple[Any, ...] | None = None
    verdict: Verdict | None = None
    while True:
        try:
            verdict = look()
        except Exception as error:
            if not trouble(error, clock() - start):
                raise
        elapsed = clock() - start
        if verdict is not None:
            key = _progress_key(verdict)
            if key != shown:
                progress(verdict, elapsed)
                shown = key
            if verdict.final:
                return WaitResult(verdict, False, elapsed)
        if elapsed >= timeout:
            if verdict is None:
                raise TimeoutError(f"no answer from the ledger within {timeout:g} s")
            return WaitResult(verdict, True, elapsed)
        sleep(max(0.0, min(interval, timeout - elapsed)))


def _progress_key(verdict: Verdict) -> tuple[Any, ...]:
    """What a progress line shows: a new line only when one of these changes."""
    return (
        verdict.state,
        verdict.digests,
        verdict.note,
        tuple((r.source, r.destination, r.state) for r in verdict.replicas),
    )


# ----------------------------------------------------------------------------- GET /gate

# The gate's three answers for a CI system that polls: open, keep polling, stop.
GATE_STATES: dict[str, str] = {
    "replicated": "ready",
    "nothing_expected": "ready",
    "pending": "waiting",
    "unknown": "waiting",  # recorded somewhere, not yet at a source
    "failed": "failed",
    "missing": "failed",
    "cancelled": "failed",
}


def gate_answer(
    repository: str,
    deps: Deps,
    now: datetime,
    *,
    digest: str | None = None,
    tag: str | None = None,
) -> dict[str, Any]:
    """`GET /gate`: one look at the ledger as `{"repository", "digest", "tag", "state",
    "replicas", "as_of"}`; NotFound for an image the ledger has no record of."""
    verdict = image_state(repository, deps, digest=digest, tag=tag)
    if not verdict.known:
        what = f"{repository}:{tag}" if tag is not None else f"{repository}@{digest}"
        raise NotFound(
            f"no image {what} in the ledger (yet): check the name, or poll again after the "
            "push's ECR event has reached the auditor"
        )
    return {
        "repository": repository,
        # A tag names one digest, unless sources pushed different ones under it (then null).
        "digest": verdict.digests[0] if len(verdict.digests) == 1 else None,
        "tag": tag,
        "state": GATE_STATES[verdict.state],
        "replicas": [
            {"destination": r.destination.as_dict(), "state": r.state} for r in verdict.replicas
        ],
        "as_of": lifecycle.iso(now),
    }
