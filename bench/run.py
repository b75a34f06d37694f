"""Benchmark: the performance budget, every figure a ratio to a baseline measured in the same
run, each target marked ok or MISS.

Runs against the bench's moto server (bench/emulator.py: moto with DynamoDB's per-partition
costs, and per-key unit accounting) on 127.0.0.1. Absolute times depend on the machine (and on
its load), so times are medians of repeated runs and printed as ratios to a baseline measured
in the same run; request and item counts are exact and machine independent.

    python bench/run.py [--quick | --full] [--section NAME ...]

`--full` runs the sizes the targets name (100,000 settled replicas, 10,000 events, a minute
of 50 pushes per second); the default run scales the three big workloads down to finish in
a few minutes on two cores (the ratios and counts do not depend on the size; the output says
which sizes ran).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.probe import Probe, Sample  # noqa: E402

PROBE = Probe()


@dataclass
class Report:
    """Every target of the run, printed again together at the end."""

    rows: list[tuple[str, str, str, bool]] = field(default_factory=list)

    def target(self, name: str, value: float, limit: float, unit: str = "x") -> bool:
        ok = value <= limit if unit != "x>=" else value >= limit
        shown = f"{value:.2f}x" if unit in ("x", "x>=") else f"{value:g} {unit}"
        bound = (
            f">= {limit:g}x" if unit == "x>=" else f"<= {limit:g}{'x' if unit == 'x' else ' ' + unit}"
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

    when = workload.now() - workload.timedelta(minutes=5)
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
        for n in range(rounds):
            events = Path(tmp) / f"events-{n}.json"
            events.write_text(json.dumps(cold_events(n)))
            for mode in modes:
                result = _child(mode, Path(tmp) / f"{mode}-{n}.json", events, child_env)
                wall[mode].append(result["seconds"])
                cpu[mode].append(result["cpu"])
                heavy[mode] = result["heavy"]
    base_wall, base_cpu = median(wall["baseline"]), median(cpu["baseline"])
    print(f"  {'process':12} {'wall':>8} {'ratio':>6} {'CPU':>8} {'ratio':>6}  heavy modules loaded")
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


def _child(mode: str, out: Path, events: Path, env: dict[str, str]) -> dict[str, Any]:
    started = time.time()
    subprocess.run(
        [sys.executable, str(ROOT / "bench" / "coldstart.py"), mode, str(out), str(events)],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        cwd=str(ROOT),
    )
    result = dict(json.loads(out.read_text()))
    result["seconds"] = result["done"] - started
    return result


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="the sizes the targets name")
    parser.add_argument("--rounds", type=int, default=7, help="cold-start rounds")
    parser.add_argument("--section", action="append", help="run only these sections")
    args = parser.parse_args()
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
    sections: dict[str, Callable[..., None]] = {"cold": cold_start}
    wanted = args.section or list(sections)
    started = time.perf_counter()
    with start_moto(module="bench.emulator") as server:
        env = environment(server.endpoint)
        if "cold" in wanted:
            cold_start(env, args.rounds, report)
    code = report.summary()
    print(f"bench took {time.perf_counter() - started:.0f} s")
    return code


_ = Sample  # re-exported for the sections below

if __name__ == "__main__":
    sys.exit(main())
