"""One fresh process, as a Lambda cold start: import, handle one event, report; run by run.py.

    python bench/coldstart.py MODE OUT EVENTS_FILE [APP_DIR]

MODE is `baseline` (`import chalice, boto3` and one DynamoDB PutItem: the least any handler
of a Chalice app on DynamoDB does), `push`, `replication`, `sweep` or `api` (import `app` and
invoke that handler once, the way the Lambda runtime does: `handler(event, context)`), or
`rss` (import `app`, then handle every event in EVENTS_FILE through its handler, and GET
/status now and then). The environment names the emulator and the table. OUT receives one
JSON object: the wall-clock time the work was done (the parent started its clock before
spawning this process), the process's CPU time, its peak resident set size, and which heavy
modules it loaded. APP_DIR (default: the checkout) holds `app.py` and `chalicelib/` as the
deployment package does: run.py passes a copy compiled to bytecode, as `make package` ships it.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
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
    # (aws_lambda_powertools.tracing itself costs ~2 ms: Powertools' package imports it, and it
    # loads the X-Ray SDK only when a Tracer is made.)
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


def peak_kb(fallback: int) -> int:
    """This process's own peak RSS: VmHWM belongs to its memory map, made new by exec (Linux's
    ru_maxrss may carry the parent's peak across fork and exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return fallback


def main() -> None:
    mode, out, events_file = sys.argv[1], sys.argv[2], sys.argv[3]
    app_dir = sys.argv[4] if len(sys.argv) > 4 else str(ROOT)
    # The events are built by the parent: reading them is the cost of receiving them.
    events = json.loads(Path(events_file).read_text())
    if mode == "baseline":
        import boto3
        import chalice  # noqa: F401

        boto3.client("dynamodb").put_item(
            TableName=os.environ["AUDIT_TABLE"],
            Item={"pk": {"S": f"BENCH#{events['seed']}"}, "sk": {"S": "cold"}},
        )
    else:
        sys.path.insert(0, app_dir)
        import app

        if mode == "api":
            response = app.app(api_event("/status"), Context())
            assert response["statusCode"] == 200, response
        elif mode == "rss":
            handlers = {
                "ECR Image Action": app.on_image_action,
                "ECR Replication Action": app.on_replication_action,
                "Scheduled Event": app.sweep,
            }
            for n, event in enumerate(events["events"]):
                handlers[event["detail-type"]](event, Context())
                if n % 40 == 39:
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
    usage = resource.getrusage(resource.RUSAGE_SELF)
    Path(out).write_text(
        json.dumps(
            {
                "done": done,
                "cpu": usage.ru_utime + usage.ru_stime,
                "peak_kb": peak_kb(usage.ru_maxrss),
                "heavy": heavy,
            }
        )
    )


if __name__ == "__main__":
    main()
