"""The scale envelope, checked by simulation: a synthetic organisation through the handlers.

500 repositories, one source replicating to three destinations, RATE pushes per second for
SECONDS seconds (event time); each replica arrives 5 to 90 s after its push; a sweep every
minute. Every request carries the simulated second it belongs to (the events') or the sweep's
minute, and the bench's emulator charges each write and read to the partition key of the
table or index it lands in. DynamoDB serves at most 1,000 write units and 3,000 read units
per second per partition: for each hot key, units per push say its load at RATE (a steady
state: every push brings its replications and its sweep work) and at which push rate it would
reach that limit.
"""

from __future__ import annotations

import contextlib
import io
import random
import time
from collections import defaultdict
from datetime import timedelta
from typing import Any

from bench import workload
from bench.probe import Probe, emulator_usage

WCU_LIMIT, RCU_LIMIT = 1000, 3000
REPOSITORIES = 500
# DynamoDB answers single-item requests in single-digit milliseconds; the sweep waits on each.
REQUEST_LATENCY = 0.006


def events(rate: int, seconds: int, start: Any, seed: int = 12) -> list[tuple[float, int, dict]]:
    """(time offset, order, event) of the pushes, their replications and the minute sweeps."""
    rng = random.Random(seed)
    found: list[tuple[float, int, dict]] = []
    last = 0
    for second in range(seconds):
        for k in range(rate):
            n = second * rate + k
            repo = f"org/team-{rng.randrange(REPOSITORIES)}"
            dgst = workload.digest(f"envelope {seed} {n}")
            tag = f"b{n}"
            when = start + timedelta(seconds=second)
            found.append((second, 0, workload.push(workload.SOURCE, repo, tag, dgst, when)))
            for destination in workload.DESTINATIONS:
                lag = rng.randint(5, 90)
                last = max(last, second + lag)
                arrived = when + timedelta(seconds=lag)
                found.append((second + lag, 1, workload.replicated(destination, repo, tag, dgst,
                                                                   arrived)))  # fmt: skip
    for minute in range(60, last + 120, 60):
        found.append((minute, 2, workload.schedule(start + timedelta(seconds=minute))))
    found.sort(key=lambda e: (e[0], e[1]))
    return found


def run(
    app: Any,
    endpoint: str,
    probe: Probe,
    rate: int,
    seconds: int,
    report: Any,
    lanes: tuple[int, float] | None = None,
) -> None:
    """Simulate, print the hottest keys and the sweep's pace, and report the targets: at
    `rate` pushes per second no partition key above half of DynamoDB's per-partition limits,
    and the sweep keeping up. `lanes`: the sweep's lanes and the share of their ideal speed-up
    measured in section 6."""
    print(f"\n7. The scale envelope: {REPOSITORIES} repositories, 3 destinations, {rate} "
          f"pushes/s for {seconds} s\n{'-' * 78}")  # fmt: skip
    start = workload.now().replace(second=0) - timedelta(hours=12)
    timeline = events(rate, seconds, start)
    emulator_usage(endpoint)  # start from zero
    handled: dict[int, int] = defaultdict(int)
    sweep_requests = 0
    handler_time = handler_wait = 0.0
    for offset, order, event in timeline:
        if order == 2:
            probe.tag = f"sweep@{int(offset)}"
            before = probe.sample()
            with contextlib.redirect_stdout(io.StringIO()):  # Powertools' 100-value flushes
                result = workload.deliver(app, event)
            sweep_requests += probe.since(before).requests
        else:
            probe.tag = str(int(offset))
            before = probe.sample()
            t0 = time.perf_counter()
            result = workload.deliver(app, event)
            handler_time += time.perf_counter() - t0
            handler_wait += probe.since(before).waited
            handled[order] += 1
        assert result["outcome"] == "recorded", result
    probe.tag = ""
    usage = emulator_usage(endpoint)
    pushes, arrivals = handled[0], handled[1]
    print(
        f"  {pushes:,} pushes and {arrivals:,} replications through the handlers; the app's "
        f"own time per event (outside the emulator): "
        f"{(handler_time - handler_wait) / (pushes + arrivals) * 1000:.1f} ms"
    )
    shares = _table(usage, pushes, rate)
    writes = sum(row[4] for row in usage["writes"])
    reads = sum(row[4] for row in usage["reads"])
    requests = sum(row[3] for row in usage["reads"] + usage["writes"])
    print(
        f"  Per push, with its 3 replications and their sweep work, table and indexes: "
        f"{writes / pushes:.1f} write units, {reads / pushes:.1f} read units "
        f"({requests / pushes:.1f} item reads and writes)"
    )
    for book, limit in (("writes", WCU_LIMIT), ("reads", RCU_LIMIT)):
        key, share = shares[book]
        unit = "WCU" if book == "writes" else "RCU"
        print(f"  hottest for {book}: {key}, {share:.0%} of its partition's {limit:,} {unit}/s")
        report.target(f"envelope: hottest key's {book} at {rate} pushes/s, % of {limit:,} {unit}/s",
                      round(share * 100, 1), 50, "%")  # fmt: skip
    per_push = sweep_requests / max(pushes, 1)
    serial = 45 / 60 / (per_push * REQUEST_LATENCY)
    print(
        f"  The sweep: {sweep_requests:,} requests for {arrivals:,} tag moves to judge (one per "
        f"arrival) = {per_push:.1f} requests per push;\n  one lane at a time, at "
        f"~{REQUEST_LATENCY * 1000:.0f} ms a request and 45 s of each minute, one sweep "
        f"invocation keeps up with about {serial:.0f} pushes/s."
    )
    if lanes is None:
        print("  (run section 6, capacity, for the speed-up of the sweep's concurrent lanes)")
        return
    workers, share = lanes
    share = min(share, 1.0)
    pace = serial * workers * share
    print(
        f"  Its {workers} concurrent lanes reach {share:.0%} of their ideal speed-up (section 6, "
        f"measured against what the\n  emulator allows; on DynamoDB taken to hold up to "
        f"{workers} lanes): about {pace:.0f} pushes/s."
    )
    report.target(f"envelope: the sweep keeps up with {rate} pushes/s (estimated)",
                  round(rate / pace, 2), 1.0)  # fmt: skip


def _table(usage: dict[str, Any], pushes: int, rate: int) -> dict[str, tuple[str, float]]:
    """The hottest partition keys: write and read units per second (events), per sweep, per
    push, their load at `rate` pushes per second as a share of the per-partition limit, and
    the push rate at which each would reach that limit. Keys of which there are many (one
    per image, tag, repository or shard) are shown by their hottest one. Returns the hottest
    key's share of the limit, for writes and for reads."""
    stats: dict[tuple[str, str, str], dict[str, Any]] = {}
    for book in ("writes", "reads"):
        for tag, target, key, _, units in usage[book]:
            entry = stats.setdefault(
                (book, target, key), {"total": 0.0, "sweep": 0.0, "seconds": defaultdict(float)}
            )
            entry["total"] += units
            if tag.startswith("sweep@"):
                entry["sweep"] += units
            elif tag:
                entry["seconds"][tag] += units
    hottest: dict[tuple[str, str, str], tuple[str, dict[str, Any], int]] = {}
    for (book, target, key), entry in stats.items():
        group = (book, target, _kind(key))
        known = hottest.get(group)
        count = (known[2] if known else 0) + 1
        if known is None or entry["total"] > known[1]["total"]:
            hottest[group] = (key, entry, count)
        else:
            hottest[group] = (known[0], known[1], count)
    rows = sorted(hottest.items(), key=lambda kv: -kv[1][1]["total"])
    print(f"  {'':4} {'partition key (table or index: key)':46} {'peak/s':>7} {'sweeps':>7} "
          f"{'/push':>6} {f'at {rate} p/s':>13} {'limit at':>11}")  # fmt: skip
    shares: dict[str, tuple[str, float]] = {"writes": ("-", 0.0), "reads": ("-", 0.0)}
    for book in ("writes", "reads"):
        limit = WCU_LIMIT if book == "writes" else RCU_LIMIT
        ranked = [r for r in rows if r[0][0] == book][:8]
        for (_, target, kind), (key, entry, count) in ranked:
            per_push = entry["total"] / max(pushes, 1)
            at = limit / per_push if per_push else float("inf")
            peak = max(entry["seconds"].values(), default=0.0)
            shown = key if count == 1 else f"{kind} (hottest of {count:,})"
            where = "table" if target == "table" else target
            load = per_push * rate / limit
            if load > shares[book][1]:
                shares[book] = (f"{where}: {shown}", load)
            print(f"  {'WCU' if book == 'writes' else 'RCU':4} {where + ': ' + _cut(shown):46} "
                  f"{peak:7.0f} {entry['sweep']:7.0f} {per_push:6.2f} "
                  f"{per_push * rate:7.0f} ({load:3.0%}) {at:7.0f} p/s")  # fmt: skip
    return shares


def _kind(key: str) -> str:
    for prefix in ("IMG#", "TAGH#", "INC#", "REPO#"):
        if key.startswith(prefix):
            return f"{prefix}<each>"
    for prefix in ("COUNTS#", "WORK#", "REPOS#"):  # the shards of what was one key
        if key.startswith(prefix) and key[len(prefix) :].isdigit():
            return f"{prefix}<shard>"
    return key


def _cut(text: str) -> str:
    return text if len(text) <= 46 else text[:43] + "..."
