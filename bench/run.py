"""Benchmark: cost of each kind of event, and whether /status and the sweep grow with history.

Runs against a moto server it starts on 127.0.0.1. Absolute times depend on the machine, so
every time is printed as a ratio to a baseline measured in the same run: one DynamoDB PutItem
round trip to the same server. DynamoDB request counts are exact and machine independent.

    python bench/run.py [--history 400] [--repeat 30]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chalicelib.local.emulator import start_moto  # noqa: E402
from chalicelib.local.scenario import (  # noqa: E402
    DEV,
    DR,
    PROD,
    REPLICATION_CONFIG,
    image_action,
    replication_action,
)
from chalicelib.local.scenario import digest as scenario_digest  # noqa: E402
from chalicelib.local.scenario import scheduled_event as schedule  # noqa: E402

T0 = datetime(2026, 11, 27, tzinfo=UTC)
REPO = "team/bench-a"
CALLS: Counter[str] = Counter()


def _count_calls() -> None:
    from botocore.client import BaseClient

    original = BaseClient._make_api_call

    def counting(self: Any, operation: str, params: Any) -> Any:
        if self.meta.service_model.service_name == "dynamodb":
            CALLS[operation] += 1
        return original(self, operation, params)

    BaseClient._make_api_call = counting  # type: ignore[method-assign]


def push(where, repo, tag, dgst, when):
    return image_action("PUSH", where, repo, tag, dgst, when)


def delete(where, repo, tag, dgst, when):
    return image_action("DELETE", where, repo, tag, dgst, when)


def replicated(dest, repo, tag, dgst, when, ok=True):
    return replication_action(dest, DEV, repo, tag, dgst, when, ok)


def digest(n: int) -> str:
    return scenario_digest(f"bench {n}")


def measure(action, repeat: int) -> tuple[float, float]:
    """(median seconds, median DynamoDB requests) over `repeat` runs of action(i)."""
    times, requests = [], []
    for i in range(repeat):
        before = sum(CALLS.values())
        start = time.perf_counter()
        action(i)
        times.append(time.perf_counter() - start)
        requests.append(sum(CALLS.values()) - before)
    return statistics.median(times), statistics.median(requests)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--history", type=int, default=400, help="images in the large history")
    parser.add_argument("--repeat", type=int, default=30, help="runs per measurement")
    args = parser.parse_args()
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_MAX_ATTEMPTS="1",
        POWERTOOLS_METRICS_DISABLED="true",
        POWERTOOLS_LOG_LEVEL="ERROR",
    )
    with start_moto() as server:
        os.environ["AWS_ENDPOINT_URL"] = server.endpoint
        import boto3

        from chalicelib import bootstrap, queries
        from chalicelib.local.provision import provision
        from chalicelib.local.replay import Replayer

        session = boto3.session.Session()
        env = provision(session)
        os.environ.update(env, REPLICATION_CONFIG=json.dumps(REPLICATION_CONFIG))
        bootstrap.reset()
        _count_calls()
        import app as app_module

        dynamodb = session.client("dynamodb")
        baseline, _ = measure(
            lambda i: dynamodb.put_item(
                TableName=env["AUDIT_TABLE"], Item={"pk": {"S": f"BENCH#{i}"}, "sk": {"S": "x"}}
            ),
            args.repeat,
        )
        print(f"baseline: one PutItem round trip = {baseline * 1000:.2f} ms (1.00x)\n")
        rows = []
        with Replayer(app_module.app, ROOT) as replayer:
            deliver = replayer.deliver
            cases = [
                (
                    "PUSH at source (2 destinations)",
                    lambda i: deliver(push(DEV, REPO, "v1", digest(i), T0 + timedelta(seconds=i))),
                ),
                (
                    "REPLICATION SUCCESS",
                    lambda i: deliver(
                        replicated(
                            PROD,
                            REPO,
                            "v1",
                            digest(i),
                            T0 + timedelta(minutes=2, seconds=i),
                        )
                    ),
                ),
                (
                    "PUSH at destination (replica)",
                    lambda i: deliver(
                        push(
                            DR,
                            REPO,
                            "v1",
                            digest(i),
                            T0 + timedelta(minutes=3, seconds=i),
                        )
                    ),
                ),
                (
                    "duplicate SUCCESS",
                    lambda i: deliver(
                        replicated(PROD, REPO, "v1", digest(0), T0 + timedelta(minutes=2))
                    ),
                ),
                (
                    "REPLICATION FAILED (opens incident)",
                    lambda i: deliver(
                        replicated(PROD, "team/bench-b", "v1", digest(1000 + i), T0, ok=False)
                    ),
                ),
                (
                    "DELETE at source",
                    lambda i: deliver(
                        delete(
                            DEV,
                            REPO,
                            "v1",
                            digest(i),
                            T0 + timedelta(minutes=4, seconds=i),
                        )
                    ),
                ),
                ("sweep with nothing due", lambda i: deliver(schedule(T0 + timedelta(minutes=5)))),
            ]
            for name, action in cases:
                seconds, requests = measure(action, args.repeat)
                rows.append((name, seconds / baseline, requests))
            print(f"{'event':40} {'time vs baseline':>17} {'DynamoDB requests':>18}")
            for name, ratio, requests in rows:
                print(f"{name:40} {ratio:16.1f}x {requests:18.1f}")

            # Does the cost of /status and of a sweep grow with history? Compare a small and a
            # large history of fully replicated images.
            print()
            deps = bootstrap.deps()
            results = {}
            for label, size, offset in (("small", 20, 10_000), ("large", args.history, 20_000)):
                for n in range(size):
                    d = digest(offset + n)
                    when = T0 + timedelta(hours=1, seconds=n)
                    deliver(push(DEV, f"team/hist-{label}", "v1", d, when))
                    deliver(replicated(PROD, f"team/hist-{label}", "v1", d, when))
                    deliver(replicated(DR, f"team/hist-{label}", "v1", d, when))
                deliver(schedule(T0 + timedelta(hours=3)))  # judges the new tag entries once
                status_s, status_r = measure(lambda i: queries.status(deps), args.repeat)
                sweep_s, sweep_r = measure(
                    lambda i: deliver(schedule(T0 + timedelta(hours=3))), args.repeat
                )
                results[label] = (status_s, status_r, sweep_s, sweep_r)
                print(
                    f"history {label:5} ({size:4} images): /status {status_s / baseline:5.1f}x "
                    f"({status_r:.0f} requests), sweep {sweep_s / baseline:5.1f}x "
                    f"({sweep_r:.0f} requests)"
                )
            small, large = results["small"], results["large"]
            print(
                f"\nlarge/small history: /status {large[0] / small[0]:.2f}x time, "
                f"{large[1] / small[1]:.2f}x requests; sweep {large[2] / small[2]:.2f}x time, "
                f"{large[3] / small[3]:.2f}x requests (1.00x = independent of history)"
            )
            print(
                "note: moto evaluates every Query by reading the whole table, so its times grow "
                "with the table; request counts are what DynamoDB bills and what scales."
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
