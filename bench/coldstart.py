"""One fresh process, as a Lambda cold start: import, handle one event, report; run by run.py.

    python bench/coldstart.py MODE SEED OUT [EVENTS]

MODE is `baseline` (`import chalice, boto3` and one DynamoDB PutItem: the least any handler
of a Chalice app on DynamoDB does), `push`, `replication`, `sweep` or `api` (import `app` and
invoke that handler once, the way the Lambda runtime does: `handler(event, context)`), or
`rss` (import `app`, then handle EVENTS events of every kind through the handlers). The
environment names the emulator and the table. OUT receives one JSON object: the wall-clock
time the work was done (the parent started its clock before spawning this process), the peak
resident set size, and which heavy modules were loaded.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Modules a handler should not load unless it uses them (cold start, memory).
HEAVY = (
    "pydantic",
    "slack_sdk",
    "aws_xray_sdk",
    "moto",
    "click",
    "chalice.cli",
    "chalice.test",
    "aws_lambda_powertools.tracing",
    "aws_lambda_powertools.utilities.parser",
    "jmespath",
    "s3transfer",
)


class Context:
    """The bits of the Lambda context the handlers read."""

    function_name = "bench"
    aws_request_id = "bench"

    def __init__(self, budget_ms: float = 60_000) -> None:
        self._deadline = time.monotonic() + budget_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return int((self._deadline - time.monotonic()) * 1000)


def api_event(path: str) -> dict:
    """A REST API proxy event for GET `path`, as API Gateway sends it to the Lambda."""
    return {
        "resource": path,
        "path": path,
        "httpMethod": "GET",
        "headers": {"Host": "bench.example", "Accept": "application/json"},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": "GET",
            "path": f"/api{path}",
            "stage": "api",
            "requestId": "bench",
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": None,
        "isBase64Encoded": False,
    }


def events_for(seed: int, when: datetime) -> dict[str, dict]:
    sys.path.insert(0, str(ROOT))
    from bench import workload

    dgst = workload.digest(f"cold {seed}")
    return {
        "push": workload.push(workload.SOURCE, "org/cold", "v1", dgst, when),
        "replication": workload.replicated(workload.DESTINATIONS[0], "org/cold", "v1", dgst, when),
        "sweep": workload.schedule(when),
    }


def main() -> None:
    mode, seed, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    count = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    when = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    if mode == "baseline":
        import boto3
        import chalice  # noqa: F401

        boto3.client("dynamodb").put_item(
            TableName=os.environ["AUDIT_TABLE"],
            Item={"pk": {"S": f"BENCH#{seed}"}, "sk": {"S": "cold"}},
        )
    else:
        events = events_for(seed, when)  # built before the import: not part of the handler
        sys.path.insert(0, str(ROOT))
        import app

        if mode == "api":
            response = app.app(api_event("/status"), Context())
            assert response["statusCode"] == 200, response
        elif mode == "rss":
            from bench import workload

            for n in range(count):
                for event in workload.image_events(f"rss {seed} {n}", when):
                    workload.deliver(app, event, Context())
                if n % 10 == 9:
                    app.sweep(workload.schedule(when + timedelta(hours=1)), Context())
                    app.app(api_event("/status"), Context())
        else:
            handler = {
                "push": app.on_image_action,
                "replication": app.on_replication_action,
                "sweep": app.sweep,
            }[mode]
            result = handler(events[mode], Context())
            assert result.get("outcome") == "recorded", result
    done = time.time()
    heavy = sorted(m for m in HEAVY if m in sys.modules)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    Path(out).write_text(json.dumps({"done": done, "peak_kb": peak_kb, "heavy": heavy}))


if __name__ == "__main__":
    main()
