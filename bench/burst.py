"""The burst: Lambda's parallel invocations against DynamoDB's transaction conflict rule.

`docker buildx` pushes of IMAGES images at once (each a tagged index and two untagged platform
manifests, in repositories replicating to three destinations), then every manifest's
replication event from every destination, then the sweeps: delivered by WORKERS concurrent
invocations (1, 8, 32 and 64; the 1-worker run is the serial reference), each event handled
as Lambda handles an asynchronous invocation (a handler that raises is invoked again later,
twice at most, then the event goes to the dead-letter queue).
The emulator models DynamoDB's conflict rule (chalicelib/local/emulated_conflicts.py: each
transaction holds its items for 5-15 ms). The final ledger (the API's images, status and
repositories) and the alerts published are compared with the serial run's.

    python bench/run.py --section burst
"""

from __future__ import annotations

import collections
import contextlib
import io
import json
import threading
import time
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bench import workload

SERVICE_MS = (5, 15)  # an in-region DynamoDB transaction's time
ATTEMPTS = 3  # Lambda's asynchronous invocation: the first attempt and two retries
REPOSITORIES = 20
CHILDREN = ("linux-amd64", "linux-arm64")
# A REPLICATION_FAILED is published at once with what is known then (the delivery tests' rule,
# tests/delivery.py): these fields depend on which events came first, not on conflicts.
ARRIVAL_DEPENDENT = {"REPLICATION_FAILED": frozenset({"pushed_at", "due_at", "tag", "summary"})}


@dataclass
class Tally:
    """What a delivery did: invocations, the ones that raised, and the events dead-lettered."""

    events: int = 0
    invocations: int = 0
    errors: int = 0
    first_failed: int = 0  # events whose first invocation raised
    dead_letters: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def add(self, other: Tally) -> None:
        self.events += other.events
        self.invocations += other.invocations
        self.errors += other.errors
        self.first_failed += other.first_failed
        self.dead_letters += other.dead_letters
        self.kinds.update(other.kinds)
        self.seconds += other.seconds

    @property
    def retries(self) -> int:
        return self.invocations - self.events


@dataclass(frozen=True)
class Burst:
    """The events, in the three waves they are delivered in."""

    pushes: list[dict]
    replications: list[dict]
    sweeps: list[dict]
    repositories: tuple[str, ...]

    @property
    def size(self) -> int:
        return len(self.pushes) + len(self.replications) + len(self.sweeps)


def build(images: int, start: datetime) -> Burst:
    """IMAGES buildx images pushed within a second; every tenth image's index never reaches
    the last destination (REPLICA_MISSING at the late sweep), every 25th fails to reach the
    second (REPLICATION_FAILED); everything else arrives 40 s after its push."""
    pushes: list[dict] = []
    replications: list[dict] = []
    repositories = tuple(f"org/burst-{n}" for n in range(min(REPOSITORIES, images)))
    for n in range(images):
        repo = repositories[n % len(repositories)]
        build_label = f"burst {start.isoformat()} {n}"
        index = workload.digest(build_label)
        children = [workload.digest(f"{build_label} {child}") for child in CHILDREN]
        when = start + timedelta(milliseconds=5 * n)
        when = when.replace(microsecond=0)
        for child in children:
            pushes.append(workload.push(workload.SOURCE, repo, "", child, when))
        pushes.append(workload.push(workload.SOURCE, repo, f"v{n}", index, when))
        arrived = when + timedelta(seconds=40)
        for d, destination in enumerate(workload.DESTINATIONS):
            for child in children:
                replications.append(workload.replicated(destination, repo, "", child, arrived))
            if d == 2 and n % 10 == 9:
                continue  # never arrives
            ok = not (d == 1 and n % 25 == 24)
            replications.append(
                workload.replicated(destination, repo, f"v{n}", index, arrived, ok=ok)
            )
    last = start + timedelta(seconds=40)
    sweeps = [workload.schedule(last + timedelta(minutes=m)) for m in (1, 35)]
    return Burst(pushes, replications, sweeps, repositories)


# ----------------------------------------------------------------------------- delivery


class Context:
    """The Lambda context the handlers read: a fresh 60 s budget per invocation."""

    function_name = "burst"
    aws_request_id = "burst"

    def __init__(self, budget_ms: float = 60_000) -> None:
        self._deadline = time.monotonic() + budget_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return int((self._deadline - time.monotonic()) * 1000)


def deliver(app: Any, events: list[dict], workers: int) -> Tally:
    """Every event invoked by `workers` concurrent invocations, all released together; one that
    raises goes back to the end of the queue (Lambda retries later), at most ATTEMPTS tries."""
    pending: collections.deque[tuple[dict, int]] = collections.deque((e, 1) for e in events)
    guard = threading.Lock()
    start = threading.Barrier(workers)
    tally = Tally(events=len(events))

    def work() -> None:
        start.wait()
        while True:
            with guard:
                if not pending:
                    return
                event, attempt = pending.popleft()
                tally.invocations += 1
            try:
                workload.deliver(app, json.loads(json.dumps(event)), Context())
            except Exception as error:
                with guard:
                    tally.errors += 1
                    tally.first_failed += attempt == 1
                    tally.kinds[_kind(error)] += 1
                    if attempt < ATTEMPTS:
                        pending.append((event, attempt + 1))
                    else:
                        tally.dead_letters += 1

    began = time.perf_counter()
    threads = [threading.Thread(target=work, name=f"lambda-{n}") for n in range(workers)]
    # Powertools prints a metric set once it holds 100 values. sys.stdout is one for all
    # threads: redirected here, once, not in each of them.
    with contextlib.redirect_stdout(io.StringIO()):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    tally.seconds = time.perf_counter() - began
    return tally


def _kind(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    code = response.get("Error", {}).get("Code")
    reasons = {r.get("Code") for r in response.get("CancellationReasons") or []} - {"None"}
    if code and reasons:
        return f"{code} ({', '.join(sorted(str(r) for r in reasons))})"
    return str(code or type(error).__name__)


# ----------------------------------------------------------------------------- outcome


def api(app: Any, path: str, query: dict[str, str] | None = None) -> Any:
    """GET `path` through the app's API handler, as API Gateway invokes it."""
    event = {
        "resource": path,
        "path": path,
        "httpMethod": "GET",
        "headers": {"Host": "bench.example", "Accept": "application/json"},
        "multiValueHeaders": {},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in (query or {}).items()} or None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": "GET",
            "path": f"/api{path}",
            "stage": "api",
            "requestId": "burst",
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": None,
        "isBase64Encoded": False,
    }
    response = app.app(event, Context())
    assert response["statusCode"] == 200, response
    return json.loads(response["body"])


def outcome(app: Any, repositories: tuple[str, ...], alerts: Any) -> dict[str, Any]:
    """The ledger as the API shows it and the alerts published, both order-free."""
    images = {}
    for repository in repositories:
        query = {"repository": repository, "limit": "100"}
        document = api(app, "/images", query)
        replicas = list(document["replicas"])
        while document["next_cursor"]:
            document = api(app, "/images", {**query, "cursor": document["next_cursor"]})
            replicas += document["replicas"]
        replicas.sort(key=lambda r: json.dumps(r, sort_keys=True))
        images[repository] = {"locations": document["locations"], "replicas": replicas}
    status = api(app, "/status")
    status.pop("as_of")
    status["incidents"].sort(key=lambda a: a["incident_id"])
    return {
        "images": images,
        "status": status,
        "repositories": api(app, "/repositories"),
        "alerts": sorted(json.dumps(_comparable(a), sort_keys=True) for a in alerts()),
    }


def _comparable(alert: dict[str, Any]) -> dict[str, Any]:
    left_out = ARRIVAL_DEPENDENT.get(alert["kind"], frozenset())
    return {k: v for k, v in alert.items() if k not in left_out}


def alert_reader(session: Any, topic_arn: str) -> Any:
    """A function returning every alert published to the topic since it was last called."""
    from chalicelib.local.provision import subscribe_queue

    sqs = session.client("sqs")
    queue = subscribe_queue(session, topic_arn, f"burst-{uuid.uuid4().hex[:8]}")

    def drain() -> list[dict[str, Any]]:
        found = []
        while True:
            messages = sqs.receive_message(
                QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                return found
            for message in messages:
                found.append(json.loads(json.loads(message["Body"])["Message"]))
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])

    return drain


# ----------------------------------------------------------------------------- runs


def conflicts(endpoint: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """The emulator's conflict mode: set it (`body`) or read its counters."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{endpoint}/_emulator/conflicts", data=data)
    with urllib.request.urlopen(request, timeout=30) as response:
        return dict(json.loads(response.read()))


@dataclass
class Run:
    workers: int
    tally: Tally
    outcome: dict[str, Any]
    refused: dict[str, Any]


def run(endpoint: str, environment: Any, burst: Burst, workers: int, conflict_mode: bool) -> Run:
    """A fresh table and topic; the burst delivered by `workers` invocations in three waves."""
    import boto3

    from bench.workload import use_table

    env = environment(endpoint)
    app = use_table(env)
    alerts = alert_reader(boto3.session.Session(), env["ALERT_TOPIC_ARN"])
    conflicts(endpoint, {"service_ms": list(SERVICE_MS) if conflict_mode else None, "seed": 19})
    tally = Tally()
    try:
        for wave in (burst.pushes, burst.replications, burst.sweeps):
            tally.add(deliver(app, wave, workers))
        refused = conflicts(endpoint)
    finally:
        conflicts(endpoint, {"service_ms": None})
    return Run(workers, tally, outcome(app, burst.repositories, alerts), refused)


def section(endpoint: str, environment: Any, images: int, report: Any) -> None:
    """Print the burst table and report its targets."""
    start = workload.now().replace(second=0) - timedelta(hours=2)
    burst = build(images, start)
    print(
        f"\n8. Burst: {images} buildx images (index + {len(CHILDREN)} untagged manifests) pushed "
        f"at once, 3 destinations:\n   {len(burst.pushes)} pushes, then "
        f"{len(burst.replications)} replication events, then {len(burst.sweeps)} sweeps "
        f"({burst.size} events); DynamoDB's conflict rule\n   on (each transaction holds its "
        f"items {SERVICE_MS[0]}-{SERVICE_MS[1]} ms); a failed invocation is retried up to "
        f"{ATTEMPTS - 1} times, then dead-lettered;\n   'refused': requests the rule refused "
        f"(each one waited for and decided again, or an error)\n{'-' * 78}"
    )
    print(
        "  The 1-worker run is the serial reference: one invocation at a time (only a sweep's "
        "own lanes\n  can meet each other there); every run's ledger and alerts are compared "
        "with it."
    )
    print(
        f"  {'workers':>7} {'invocations':>11} {'errors':>7} {'error %':>8} {'1st tries':>9} "
        f"{'retries':>8} {'dead letters':>12} {'= serial':>9} {'refused':>8} {'time':>6}  "
        "errors by kind"
    )
    serial: Run | None = None
    for workers in (1, 8, 32, 64):
        burst_run = run(endpoint, environment, burst, workers, conflict_mode=True)
        serial = serial or burst_run
        tally = burst_run.tally
        differs = [k for k in serial.outcome if serial.outcome[k] != burst_run.outcome[k]]
        share = 100 * tally.errors / max(tally.invocations, 1)
        # requests DynamoDB's rule refused: each one waited for and decided again, or an error
        refused = sum(burst_run.refused.get("refused", {}).values())
        kinds = ", ".join(f"{k} {n}" for k, n in tally.kinds.most_common(3)) or "-"
        print(
            f"  {workers:>7} {tally.invocations:>11} {tally.errors:>7} {share:>7.1f}% "
            f"{tally.first_failed:>9} {tally.retries:>8} {tally.dead_letters:>12} "
            f"{'yes' if not differs else 'NO':>9} {refused:>8} {tally.seconds:>5.0f}s  {kinds}"
        )
        if differs:
            print(f"          differs from serial in: {', '.join(differs)}")
            _differences(serial.outcome, burst_run.outcome)
        hot = burst_run.refused.get("refused_items", [])[:3]
        if hot:
            shown = ", ".join(f"{k.split(' ', 1)[1]} ({n})" for k, n in hot)
            print(f"          items most refused on: {shown}")
        if workers in (32, 64):
            report.target(f"burst, {workers} workers: events dead-lettered", tally.dead_letters,
                          0, "events")  # fmt: skip
            report.target(f"burst, {workers} workers: invocations erroring", round(share, 2), 1,
                          "%")  # fmt: skip
            report.target(f"burst, {workers} workers: outcomes differing from serial",
                          len(differs), 0, "parts")  # fmt: skip


def _differences(serial: dict[str, Any], burst: dict[str, Any]) -> None:
    status = {k: (serial["status"][k], burst["status"][k]) for k in serial["status"]
              if k != "incidents" and serial["status"][k] != burst["status"][k]}  # fmt: skip
    if status:
        print(f"          /status serial vs burst: {status}")
    alerts = len(serial["alerts"]), len(burst["alerts"])
    if alerts[0] != alerts[1]:
        print(f"          alerts serial vs burst: {alerts[0]} vs {alerts[1]}")
