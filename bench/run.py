"""Benchmark: the performance budget, every figure a ratio to a baseline measured in the same
run, each target marked ok or MISS.

Runs against the bench's moto server (bench/emulator.py: moto with DynamoDB's per-partition
costs, and per-key unit accounting) on 127.0.0.1. Absolute times depend on the machine (and on
its load), so times are medians of repeated runs and printed as ratios to a baseline measured
in the same run; request and item counts are exact and machine independent.

    python bench/run.py [--quick | --full] [--section NAME ...]

`--full` runs the sizes the targets name (100,000 settled replicas, a minute of 200 pushes per
second, a burst of 200 buildx images); the default run scales those workloads down to finish
in a few minutes on two cores (the ratios, counts and units per push do not depend on the
size; the output says which sizes ran).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.probe import Probe, Sample  # noqa: E402
from bench.workload import use_table  # noqa: E402

PROBE = Probe()


@dataclass
class Report:
    """Every target of the run, printed again together at the end."""

    rows: list[tuple[str, str, str, bool]] = field(default_factory=list)

    def target(self, name: str, value: float, limit: float, unit: str = "x") -> bool:
        ok = value <= limit if unit != "x>=" else value >= limit
        shown = f"{value:.2f}x" if unit in ("x", "x>=") else f"{value:g} {unit}"
        bound = (
            f">= {limit:g}x"
            if unit == "x>="
            else f"<= {limit:g}{'x' if unit == 'x' else ' ' + unit}"
        )
        self.rows.append((name, shown, bound, ok))
        print(f"  {name:58} {shown:>12}  target {bound:10} {'ok' if ok else 'MISS'}")
        return ok

    def summary(self) -> int:
        print("\nSummary")
        for name, shown, bound, ok in self.rows:
            print(f"  {'ok  ' if ok else 'MISS'} {name:58} {shown:>12}  ({bound})")
        missed = sum(1 for *_, ok in self.rows if not ok)
        print(f"\n{len(self.rows) - missed} of {len(self.rows)} targets met")
        return 0


def median(values: list[float]) -> float:
    return statistics.median(values)


def ratio(value: float, baseline: float) -> float:
    """value / baseline, where 0 / 0 is 1 (equal) rather than an error."""
    if value == baseline:
        return 1.0
    return value / baseline if baseline else float("inf")


def heading(text: str) -> None:
    print(f"\n{text}\n{'-' * len(text)}")


# ----------------------------------------------------------------------------- cold start

COLD_MODES = ("push", "replication", "sweep", "api")


def lambda_environment(env: dict[str, str]) -> dict[str, str]:
    """A child's environment as Lambda would give it: the app's, plus .chalice/config.json's."""
    import json

    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    return {
        **os.environ,
        **config.get("environment_variables", {}),
        **env,
        "POWERTOOLS_METRICS_DISABLED": "false",
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }


def cold_events(seed: int) -> dict[str, Any]:
    from bench import workload

    when = workload.now() - timedelta(minutes=5)
    dgst = workload.digest(f"cold {seed} {uuid.uuid4()}")
    return {
        "seed": seed,
        "push": workload.push(workload.SOURCE, "org/cold", "v1", dgst, when),
        "replication": workload.replicated(workload.DESTINATIONS[0], "org/cold", "v1", dgst, when),
        "sweep": workload.schedule(when),
    }


def cold_start(env: dict[str, str], rounds: int, report: Report) -> None:
    heading(f"1. Cold start: fresh processes, median of {rounds} interleaved rounds")
    print(
        "  baseline: a fresh process doing `import chalice, boto3` and one DynamoDB PutItem;\n"
        "  handlers: a fresh process importing `app` and handling one event through its Lambda\n"
        "  handler (Lambda's init plus the first invocation). Wall time from spawn to done;\n"
        "  CPU time (user+sys of the child) is the steadier figure on a loaded machine."
    )
    modes = ("baseline", *COLD_MODES)
    wall: dict[str, list[float]] = {m: [] for m in modes}
    cpu: dict[str, list[float]] = {m: [] for m in modes}
    heavy: dict[str, list[str]] = {}
    child_env = lambda_environment(env)
    with tempfile.TemporaryDirectory() as tmp:
        app_dir = packaged_app(Path(tmp) / "package")
        for n in range(rounds):
            events = Path(tmp) / f"events-{n}.json"
            events.write_text(json.dumps(cold_events(n)))
            for mode in modes:
                result = _child(mode, Path(tmp) / f"{mode}-{n}.json", events, child_env, app_dir)
                wall[mode].append(result["seconds"])
                cpu[mode].append(result["cpu"])
                heavy[mode] = result["heavy"]
    base_wall, base_cpu = median(wall["baseline"]), median(cpu["baseline"])
    print(
        f"  {'process':12} {'wall':>8} {'ratio':>6} {'CPU':>8} {'ratio':>6}  heavy modules loaded"
    )
    for mode in modes:
        w, c = median(wall[mode]), median(cpu[mode])
        print(
            f"  {mode:12} {w * 1000:6.0f}ms {w / base_wall:5.2f}x {c * 1000:6.0f}ms "
            f"{c / base_cpu:5.2f}x  {', '.join(heavy[mode]) or '-'}"
        )
    for mode in COLD_MODES:
        label = "GET /status" if mode == "api" else f"{mode} handler"
        report.target(f"cold start, {label} (wall)", median(wall[mode]) / base_wall, 1.3)
    for mode in COLD_MODES:
        label = "GET /status" if mode == "api" else f"{mode} handler"
        report.target(f"cold start, {label} (CPU)", median(cpu[mode]) / base_cpu, 1.3)


def packaged_app(directory: Path) -> Path:
    """app.py and chalicelib/ as the deployment package holds them: with bytecode compiled by
    `make package` (scripts/compile_package.py), since Lambda cannot write any (its code
    directory is read-only) and would otherwise compile every module on every cold start. The
    baseline's chalice and boto3 come with the bytecode pip wrote when it installed them."""
    from scripts.compile_package import compile_tree

    directory.mkdir()
    shutil.copy(ROOT / "app.py", directory / "app.py")
    shutil.copytree(
        ROOT / "chalicelib", directory / "chalicelib", ignore=shutil.ignore_patterns("__pycache__")
    )
    compile_tree(directory)
    return directory


def _child(
    mode: str, out: Path, events: Path, env: dict[str, str], app_dir: Path = ROOT
) -> dict[str, Any]:
    started = time.time()
    coldstart = str(ROOT / "bench" / "coldstart.py")
    subprocess.run(
        [sys.executable, coldstart, mode, str(out), str(events), str(app_dir)],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        cwd=str(ROOT),
    )
    result = dict(json.loads(out.read_text()))
    result["seconds"] = result["done"] - started
    return result


# ----------------------------------------------------------------------------- in process


def timed(action: Callable[[], Any]) -> tuple[float, Sample]:
    before = PROBE.sample()
    start = time.perf_counter()
    action()
    return time.perf_counter() - start, PROBE.since(before)


def get_status(app: Any) -> None:
    from bench.coldstart import Context, api_event

    response = app.app(api_event("/status"), Context())
    assert response["statusCode"] == 200, response


def sweep_at(app: Any, when: Any) -> None:
    import contextlib
    import io

    from bench import workload
    from bench.coldstart import Context

    # Powertools prints a metric set once it holds 100 values, even with metrics disabled.
    with contextlib.redirect_stdout(io.StringIO()):
        result = app.sweep(workload.schedule(when), Context(600_000))
    assert result["outcome"] == "recorded", result


# ----------------------------------------------------------------------------- requests


def requests_per_event(app: Any, repeat: int, report: Report) -> None:
    from bench import workload

    heading(f"2. DynamoDB requests per event (exact counts; median of {repeat})")
    start = workload.now() - timedelta(hours=3)
    images = [
        workload.image_events(f"kinds {uuid.uuid4()}", start + timedelta(seconds=i))
        for i in range(repeat)
    ]
    rows: list[tuple[str, float, float, float | None]] = []

    def run(name: str, events: list[dict], limit: float | None) -> None:
        samples = [timed(lambda e=e: workload.deliver(app, e))[1] for e in events]
        requests = median([s.requests for s in samples])
        rows.append((name, requests, median([s.items for s in samples]), limit))
        ops = ", ".join(f"{op} {n}" for op, n in samples[-1].operations)
        print(
            f"  {name:46} {requests:4.0f} requests  {median([s.items for s in samples]):4.0f}"
            f" items read  ({ops})"
        )

    def at_destination(event: dict, d: int) -> dict:
        detail = event["detail"]
        when = workload.parse_time(event["time"]) + timedelta(seconds=40)
        return workload.push(
            workload.DESTINATIONS[d], detail["repository-name"], detail["image-tag"],
            detail["image-digest"], when,
        )  # fmt: skip

    run("new PUSH at the source (3 destinations)", [i[0] for i in images], 2)
    run("replication SUCCESS (replica arrives)", [i[1] for i in images], 2)
    run("PUSH of the replica at a destination", [at_destination(i[0], 1) for i in images], 2)
    run("duplicate PUSH", [i[0] for i in images], 1)
    run("duplicate SUCCESS", [i[1] for i in images], 1)
    failed = [dict(i[3], detail={**i[3]["detail"], "result": "FAILED"}) for i in images]
    failed = [dict(e, id=f"failed-{e['id']}") for e in failed]
    run("REPLICATION FAILED (opens incident, publishes)", failed, None)
    run("duplicate FAILED", failed, 1)
    deletes = [
        workload.delete(workload.SOURCE, i[0]["detail"]["repository-name"],
                        i[0]["detail"]["image-tag"], i[0]["detail"]["image-digest"],
                        start + timedelta(minutes=5))
        for i in images
    ]  # fmt: skip
    run("DELETE of a tag at the source", deletes, None)
    sweep_at(app, start + timedelta(minutes=10))  # judges everything above
    samples = [
        timed(lambda: sweep_at(app, start + timedelta(minutes=10)))[1] for _ in range(repeat)
    ]
    from chalicelib.adapters.ledger.keys import WORK_SHARDS  # one Query per work shard

    rows.append(("idle sweep (nothing due)", median([s.requests for s in samples]),
                 median([s.items for s in samples]), WORK_SHARDS))  # fmt: skip
    print(f"  {'idle sweep (nothing due)':46} {rows[-1][1]:4.0f} requests  {rows[-1][2]:4.0f}"
          " items read")  # fmt: skip
    samples = [timed(lambda: get_status(app))[1] for _ in range(repeat)]
    rows.append(("GET /status", median([s.requests for s in samples]),
                 median([s.items for s in samples]), 3))  # fmt: skip
    print(f"  {'GET /status':46} {rows[-1][1]:4.0f} requests  {rows[-1][2]:4.0f} items read")
    for name, requests, _, limit in rows:
        if limit is not None:
            report.target(f"requests: {name}", requests, limit, "requests")


# ----------------------------------------------------------------------------- history


def _due_sweeps(app: Any, label: str, repeat: int) -> list[tuple[float, Sample]]:
    """10 due replicas swept, `repeat` times (each time 10 new pushes, due by then)."""
    from bench import workload

    runs = []
    base = workload.now() - timedelta(hours=4)
    for i in range(repeat):
        pushed = base + timedelta(minutes=2 * i)
        for k in range(10):
            event = workload.image_events(f"due {label} {i} {k}", pushed, repo=f"one/due-{k}")[0]
            workload.deliver(app, event)
        due = pushed + workload.GRACE + timedelta(minutes=1)
        runs.append(timed(lambda: sweep_at(app, due)))  # noqa: B023
    return runs


def _alternating(
    envs: dict[str, dict[str, str]], endpoint: str, rounds: int, stock: bool
) -> dict[str, dict[str, list[tuple[float, Sample]]]]:
    """Idle sweeps and /status on each table in turn, so that both see the same load."""
    from bench import probe, workload

    idle = workload.now()  # everything the due sweeps left is long done by now
    found: dict[str, dict[str, list[tuple[float, Sample]]]] = {
        label: {"idle sweep": [], "GET /status": []} for label in envs
    }
    from botocore.exceptions import ReadTimeoutError

    probe.emulator_mode(endpoint, stock=stock)
    try:
        for _ in range(rounds):
            for label, env in envs.items():
                app = use_table(env)
                try:
                    sweep_at(app, idle)  # warm: the clients are made on first use
                    get_status(app)
                except ReadTimeoutError:  # stock moto on a large table: > 10 s a request
                    print(f"  stock moto, {label}: a request took over 10 s, not measured")
                    return {label: {} for label in envs}
                for _ in range(3):
                    found[label]["idle sweep"].append(timed(lambda: sweep_at(app, idle)))  # noqa: B023
                    found[label]["GET /status"].append(timed(lambda: get_status(app)))  # noqa: B023
    finally:
        probe.emulator_mode(endpoint, stock=False)
    return found


def flat_with_history(
    envs: tuple[dict[str, str], dict[str, str]],
    endpoint: str,
    size: int,
    repeat: int,
    report: Report,
) -> None:
    import boto3

    from bench import history, workload

    heading(f"3. Flat with history: {size:,} settled replicas vs none, the same 10 due items")
    start = time.perf_counter()
    when = workload.now() - timedelta(hours=30)
    written = history.seed(boto3.session.Session(), envs[1]["AUDIT_TABLE"], size, when)
    print(
        f"  seeded {written:,} items ({size:,} replicas, their presence and tag entries) with "
        f"BatchWriteItem in {time.perf_counter() - start:.0f} s"
    )
    from chalicelib import bootstrap

    # One sweep lane here: "outside emulator" (wall minus the round trips) is then the app's own
    # time; concurrent lanes' round trips overlap and would sum to more than the wall time.
    print("  (the sweep in one lane: see section 6 for its concurrent lanes)")
    tables = dict(zip(("none", "history"), envs, strict=True))
    lanes, bootstrap.SWEEP_WORKERS = bootstrap.SWEEP_WORKERS, 1
    try:
        results: dict[str, dict[str, list[tuple[float, Sample]]]] = {
            label: {"sweep, 10 due": _due_sweeps(use_table(env), label, repeat)}
            for label, env in tables.items()
        }
        for stock in (False, True):
            for label, runs in _alternating(tables, endpoint, 5, stock).items():
                for what, found in runs.items():
                    results[label][what + (" (stock moto)" if stock else "")] = found
    finally:
        bootstrap.SWEEP_WORKERS = lanes
        bootstrap.reset()
    print(f"  {'':28} {'requests':>9} {'items read':>11} {'wall':>8} {'outside emulator':>17}")
    for what in results["none"]:
        for label in ("none", "history"):
            runs = results[label].get(what)
            if not runs:
                continue
            wall = median([w for w, _ in runs])
            outside = median([w - s.waited for w, s in runs])
            print(
                f"  {what + ', ' + label:32} {median([s.requests for _, s in runs]):5.0f} "
                f"{median([s.items for _, s in runs]):11.0f} {wall * 1000:6.1f}ms "
                f"{outside * 1000:10.1f}ms"
            )
    for what in ("sweep, 10 due", "idle sweep", "GET /status"):
        none, hist = results["none"][what], results["history"][what]
        for name, value in (
            ("requests", lambda runs: median([s.requests for _, s in runs])),
            ("items read", lambda runs: median([s.items for _, s in runs])),
        ):
            report.target(f"history/none: {what}, {name}", ratio(value(hist), value(none)), 1.1)
        wall = [median([w for w, _ in runs]) for runs in (none, hist)]
        report.target(f"history/none: {what}, wall time", wall[1] / wall[0], 1.5)
    for what in ("idle sweep (stock moto)", "GET /status (stock moto)"):
        if not all(results[label].get(what) for label in ("none", "history")):
            continue
        wall = [median([w for w, _ in results[label][what]]) for label in ("none", "history")]
        print(
            f"  not a target: {what}, wall time history/none {wall[1] / wall[0]:.1f}x "
            "(moto walks the whole table for every Query: an emulator artefact)"
        )


# ----------------------------------------------------------------------------- memory


def peak_memory(env: dict[str, str], images: int, report: Report) -> None:
    from bench import workload

    heading(f"5. Peak RSS of a handler process ({images * 4} events, sweeps, /status)")
    start = workload.now() - timedelta(hours=8)
    events: list[dict] = []
    for n in range(images):
        events += workload.image_events(f"rss {uuid.uuid4()}", start + timedelta(minutes=n),
                                        repo=f"org/rss-{n % 50}")  # fmt: skip
        if n % 25 == 24:
            events.append(workload.schedule(start + timedelta(minutes=n + 40)))
    child_env = lambda_environment(env)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.json"
        path.write_text(json.dumps({"seed": 0, "events": events}))
        rss = _child("rss", Path(tmp) / "rss.json", path, child_env)
        path.write_text(json.dumps({"seed": 1}))
        base = _child("baseline", Path(tmp) / "base.json", path, child_env)
    peak, base_peak = rss["peak_kb"] / 1024, base["peak_kb"] / 1024
    print(f"  handler process: {peak:.0f} MB peak; the baseline process: {base_peak:.0f} MB")
    report.target("peak RSS of a handler process", round(peak), 128, "MB")


# ----------------------------------------------------------------------------- capacity


LANES_LATENCY_MS = 40  # long beside moto's own few ms a request, so that waits dominate


def sweep_capacity(env: dict[str, str], due: int, report: Report) -> tuple[int, float]:
    """Due replicas decided per second of sweep here; then the lanes' speed-up over one lane
    when every request waits a round trip (the emulator itself answers one at a time)."""
    from bench import workload
    from bench.probe import emulator_latency
    from chalicelib import bootstrap
    from chalicelib.entrypoints import handlers

    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    timeout = config.get("lambda_timeout", 60)
    budget = timeout - handlers.SWEEP_RESERVE_MS / 1000
    workers = bootstrap.SWEEP_WORKERS
    heading(f"6. Sweep capacity: {due} due replicas, one sweep invocation")
    app = use_table(env)

    def decide(count: int, lanes: int) -> tuple[float, Sample]:
        bootstrap.SWEEP_WORKERS = lanes
        bootstrap.reset()
        pushed = workload.now() - timedelta(hours=10)
        for k in range(count):  # "one/" repositories replicate to one destination
            label = f"capacity {uuid.uuid4()}"
            event = workload.image_events(label, pushed, repo=f"one/cap-{lanes}-{k}")[0]
            workload.deliver(app, event)
        when = pushed + workload.GRACE + timedelta(minutes=1)
        return timed(lambda: sweep_at(app, when))

    rates: dict[int, float] = {}
    try:
        wall, sample = decide(due, workers)
        rate = due / wall
        print(
            f"  {due} due replicas decided (each: REPLICA_MISSING opened, its alert published) "
            f"in {wall:.1f} s = {rate:.0f} per second here, {workers} lanes;\n"
            f"  {sample.requests / due:.1f} DynamoDB requests each."
        )
        print(
            f"  One invocation's budget: lambda_timeout {timeout} s - SWEEP_RESERVE_MS "
            f"{handlers.SWEEP_RESERVE_MS / 1000:.0f} s = {budget:.0f} s: {rate * budget:,.0f} due "
            "replicas here.\n  Beyond that the sweep stops and the next invocation (a minute "
            "later) continues where it\n  stopped (tests/e2e/test_sweep_budget.py: nothing lost, "
            "nothing repeated)."
        )
        few = max(due // 4, 20)
        print(
            f"  Lanes: {few} due replicas, every request waiting {LANES_LATENCY_MS} ms before the "
            "emulator (which\n  still answers one at a time) takes it, as a network round trip "
            "would:"
        )
        emulator_latency(env["AWS_ENDPOINT_URL"], LANES_LATENCY_MS)
        for lanes in (1, workers):
            wall, sample = decide(few, lanes)
            rates[lanes] = few / wall
            print(
                f"    {lanes} lane{'s' if lanes > 1 else ' '}: {wall:5.1f} s = "
                f"{rates[lanes]:5.1f} due replicas per second"
            )
    finally:
        emulator_latency(env["AWS_ENDPOINT_URL"], 0)
        bootstrap.SWEEP_WORKERS = workers
        bootstrap.reset()
    speedup = rates[workers] / rates[1]
    # The emulator does one request at a time: no number of lanes can go faster than its own
    # time per due replica, measured above without the round trip. DynamoDB has no such bound.
    bound = min(workers, (1 / rates[1]) / (1 / rate))
    print(
        f"  The lanes' speed-up: {speedup:.2f}x; the emulator's one-at-a-time bound here: "
        f"{bound:.2f}x (DynamoDB's: {workers}x)."
    )
    report.target(
        f"sweep: {workers} lanes' speed-up, share of what the emulator allows",
        speedup / bound,
        0.75,
        "x>=",
    )
    return workers, speedup / bound


# ----------------------------------------------------------------------------- set-up


def environment(endpoint: str) -> dict[str, str]:
    """Provision a table and topic on the emulator; the app's environment for them."""
    import boto3

    from bench import workload
    from chalicelib.local.provision import provision

    os.environ["AWS_ENDPOINT_URL"] = endpoint
    env = provision(boto3.session.Session(), suffix=uuid.uuid4().hex[:8])
    env.update(workload.environment(), AWS_ENDPOINT_URL=endpoint)
    return env


SECTIONS = ("cold", "requests", "history", "memory", "capacity", "envelope", "burst")
ENVELOPE_RATE = 200  # pushes per second (issue 19's envelope)


def scale_envelope(
    env: dict[str, str], rate: int, seconds: int, report: Report, lanes: tuple[int, float] | None
) -> None:
    from bench import envelope

    app = use_table(env)
    envelope.run(app, env["AWS_ENDPOINT_URL"], PROBE, rate, seconds, report, lanes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="the sizes the targets name")
    parser.add_argument("--rounds", type=int, default=7, help="cold-start rounds")
    parser.add_argument("--repeat", type=int, default=7, help="runs per in-process figure")
    parser.add_argument("--section", action="append", choices=SECTIONS, help="only these")
    parser.add_argument(
        "--history", type=int, help="settled replicas (default 10,000; --full 100,000)"
    )
    parser.add_argument("--burst", type=int, help="burst images (default 84; --full 200)")
    args = parser.parse_args()
    history_size = args.history or (100_000 if args.full else 10_000)
    images = args.burst or (200 if args.full else 84)  # 84 images: 1,008 events
    seconds = 60 if args.full else 1  # 200 pushes/s: 48,000 events (--full) or 800
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_MAX_ATTEMPTS="1",
        POWERTOOLS_METRICS_DISABLED="true",
        POWERTOOLS_LOG_LEVEL="ERROR",
        PYTHONPATH=str(ROOT),
    )
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(name, None)
    from chalicelib.local.emulator import start_moto

    report = Report()
    wanted = args.section or list(SECTIONS)
    started = time.perf_counter()
    print(
        f"sizes: {'--full' if args.full else 'default (--full for the sizes the targets name)'}"
        f": history {history_size:,} replicas; envelope {seconds} s of {ENVELOPE_RATE} "
        f"pushes/s ({seconds * ENVELOPE_RATE * 4:,} events); burst {images} images"
    )
    with start_moto(module="bench.emulator") as server:
        env = environment(server.endpoint)
        if "cold" in wanted:
            cold_start(env, args.rounds, report)
        PROBE.install()
        if "requests" in wanted:
            requests_per_event(use_table(env), args.repeat, report)
        if "history" in wanted:
            envs = (environment(server.endpoint), environment(server.endpoint))
            flat_with_history(envs, server.endpoint, history_size, 5, report)
        if "memory" in wanted:
            peak_memory(env, 100, report)
        lanes = None
        if "capacity" in wanted:
            due = 300 if not args.full else 1000
            lanes = sweep_capacity(environment(server.endpoint), due, report)
        if "envelope" in wanted:
            env = environment(server.endpoint)
            scale_envelope(env, ENVELOPE_RATE, seconds, report, lanes)
        if "burst" in wanted:
            from bench import burst

            burst.section(server.endpoint, environment, images, report)
    code = report.summary()
    print(f"bench took {time.perf_counter() - started:.0f} s")
    return code


if __name__ == "__main__":
    sys.exit(main())
