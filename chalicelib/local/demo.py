"""`cli demo`: a local emulator, the scenario day replayed with its alerts, then API + dashboard.

Everything runs on 127.0.0.1 in this process tree: a moto server child for AWS, the app's
handlers invoked in-process, Chalice's local HTTP server for the API. No AWS account is touched:
the environment is forced to the emulator and fake credentials before any client exists.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from chalicelib.core.workloads import workload_lines
from chalicelib.local import demo_env
from chalicelib.local import scenario as day
from chalicelib.local.console import Console, alert_line, place

ROOT = Path(__file__).resolve().parents[2]

# Variables that could point boto3 at a real account or change what the demo shows.
SCRUBBED = (
    "AWS_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "MONITORED_ACCOUNTS",
    "SLACK_WEBHOOK_SECRET_ARN",
)


class AlertFeed:
    """Alerts read back from an SQS queue subscribed to the alert topic, in publish order."""

    def __init__(self, session: Any, topic_arn: str) -> None:
        from chalicelib.local.provision import subscribe_queue

        self._sqs = session.client("sqs")
        self._url = subscribe_queue(session, topic_arn, f"demo-alerts-{uuid.uuid4().hex[:8]}")

    def drain(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while True:
            messages = self._sqs.receive_message(
                QueueUrl=self._url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                return found
            for message in messages:
                # raw delivery is off: the body is the SNS envelope around our alert document
                found.append(json.loads(json.loads(message["Body"])["Message"]))
            self._sqs.delete_message_batch(
                QueueUrl=self._url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]}
                    for n, m in enumerate(messages)
                ],
            )


def _isolate_environment(endpoint: str, scenario: day.Scenario) -> None:
    for name in SCRUBBED:
        os.environ.pop(name, None)
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="demo",
        AWS_SECRET_ACCESS_KEY="demo",
        AWS_MAX_ATTEMPTS="1",
        REPLICATION_CONFIG=json.dumps(scenario.replication_config),
        REPLICATION_GRACE_SECONDS=str(scenario.grace_seconds),
        ALERT_FORMAT="json",
        LOCATION_NAMES=json.dumps(day.LOCATION_NAMES),
        AUDIT_ROLE_NAME="ecr-replication-auditor-read",  # the emulator's registries are asked
    )
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")


@contextmanager
def _interruptible() -> Iterator[None]:
    """Ctrl-C and `kill PID` both end in the same clean-up: the moto child must not outlive us.

    SIGINT is set explicitly because a shell starts background jobs with it ignored, and
    Python keeps an inherited "ignore".
    """

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _describe_topology(scenario: day.Scenario) -> list[str]:
    lines = []
    for registry in scenario.replication_config:
        source = place({"account": registry["registryId"], "region": registry["region"]})
        for rule in registry["replicationConfiguration"]["rules"]:
            prefixes = [f["filter"] + "*" for f in rule.get("repositoryFilters", [])]
            targets = ", ".join(
                place({"account": d["registryId"], "region": d["region"]})
                for d in rule["destinations"]
            )
            deletions = (rule.get("deleteReplication") or {}).get("enabled") is True
            lines.append(
                f"{source} -> {targets}  for {', '.join(prefixes) or 'every repository'}"
                + (", deletions too" if deletions else "")
            )
    return lines


def _names(scenario: day.Scenario) -> tuple[str, str]:
    """The sources' and the destinations' names, in the order the rules give them."""

    def name(account: str, region: str) -> str:
        return place({"account": account, "region": region}).split(" ")[0]

    sources: list[str] = []
    destinations: list[str] = []
    for registry in scenario.replication_config:
        sources.append(name(registry["registryId"], registry["region"]))
        for rule in registry["replicationConfiguration"]["rules"]:
            for d in rule["destinations"]:
                destinations.append(name(d["registryId"], d["region"]))
    return " and ".join(dict.fromkeys(sources)), " and ".join(dict.fromkeys(destinations))


def _port_problem(port: int) -> str | None:
    """Why 127.0.0.1:port cannot be listened on, or None if it can (right now)."""
    import socket

    probe = socket.socket()
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as HTTPServer does
    try:
        probe.bind(("127.0.0.1", port))
    except OSError as error:
        return error.strerror or str(error)
    finally:
        probe.close()
    return None


def _bind_server(app: Any, port: int) -> Any:
    from chalice.config import Config
    from chalice.local import create_local_server

    from chalicelib.entrypoints import local_gateway as gateway

    gateway.install()  # unknown routes answer a JSON 404, as the app's other errors
    config = Config.create(chalice_app=app, chalice_stage="dev", project_dir=str(ROOT))
    return create_local_server(app, config, "127.0.0.1", port)


def run_demo(
    port: int,
    once: bool,
    speed: float,
    stream: TextIO | None = None,
    env_file: Path = demo_env.ENV_FILE,
) -> int:
    """Run the whole demo; returns the process exit code. While it serves, `env_file` holds the
    environment that points the command line at its emulator."""
    console = Console(stream or sys.stdout)
    # A busy port should fail now rather than after the show. It is not held open meanwhile:
    # clients polling for the API would queue up on it during the replay.
    problem = None if once else _port_problem(port)
    if problem:
        console.line(f"error: cannot listen on 127.0.0.1:{port}: {problem}")
        console.line("hint: pass another port, e.g. --port 8080")
        return 2
    moto = None
    server = None
    written: str | None = None
    try:
        with _interruptible():
            from chalicelib.local.emulator import start_moto

            started = time.monotonic()
            console.line("ECR Replication Auditor - local demo (no AWS account needed)")
            moto = start_moto()
            scenario = day.build()
            feed, registries = _set_up(moto.endpoint, scenario, console)
            import app as app_module

            alerts = _replay(app_module.app, scenario, feed, registries, console, speed)
            console.line(
                f"  replayed {len(scenario.events)} events ({scenario.sweeps} sweeps, "
                f"{scenario.untagged_pushes} untagged pushes, {scenario.tag_removals} tag "
                f"removal) and published {len(alerts)} alerts; "
                f"{time.monotonic() - started:.1f} s in all"
            )
            _print_state(console)
            if once:
                return 0
            try:
                server = _bind_server(app_module.app, port)
            except OSError as error:
                console.line(f"error: cannot listen on 127.0.0.1:{port}: {error.strerror}")
                return 2
            written = demo_env.write(env_file)
            _serve(server, port, console, env_file)
            return 0
    except KeyboardInterrupt:
        console.line()
        console.line("stopping: " + ("HTTP server and " if server else "") + "AWS emulator")
        # Ctrl-C is how a served demo ends; during set-up or the replay it is an interruption.
        return 0 if server is not None else 130
    finally:
        if server is not None:
            server.server.server_close()
        if moto is not None:
            moto.stop()
        demo_env.remove(env_file, written)


def _set_up(endpoint: str, scenario: day.Scenario, console: Console) -> tuple[AlertFeed, Any]:
    """Point everything at the emulator, create the resources and the registries' cross-account
    set-up, subscribe the alert feed."""
    _isolate_environment(endpoint, scenario)
    console.line(f"  emulator   moto server at {endpoint}")
    import boto3

    from chalicelib import bootstrap
    from chalicelib.local.provision import provision

    session = boto3.session.Session()
    env = provision(session)
    os.environ.update(env)
    bootstrap.reset()
    bootstrap.deps()  # built now, from the environment above
    console.line(f"  ledger     DynamoDB table {env['AUDIT_TABLE']}")
    console.line(f"  alerts     SNS topic {env['ALERT_TOPIC_ARN']}")
    for number, text in enumerate(_describe_topology(scenario)):
        console.line(f"  {'replicates' if number == 0 else '':<10} {text}")
    console.line(f"  grace      {scenario.grace_seconds // 60} min after a push")
    from chalicelib.local.registries import RegistryMirror

    registries = RegistryMirror(session, scenario.immutable)
    registries.set_up(scenario.replication_config)
    sources, destinations = _names(scenario)
    console.line(
        f"  set-up     {sources}'s replication rules in its registry; registry policies in "
        f"{destinations} let {sources} replicate there (`doctor` checks them)"
    )
    return AlertFeed(session, env["ALERT_TOPIC_ARN"]), registries


def _print_state(console: Console) -> None:
    """The status table, then the newest image's replicas per repository."""
    from chalicelib import bootstrap
    from chalicelib.core.status_text import render_status
    from chalicelib.usecases import queries

    deps = bootstrap.deps()
    console.line()
    console.line(render_status(queries.status(deps), queries.repositories(deps)))


def _serve(server: Any, port: int, console: Console, env_file: Path) -> None:
    base = f"http://127.0.0.1:{port}"
    console.line()
    console.line(f"Dashboard  {base}/")
    console.line(
        f"API        {base}/status  {base}/incidents?state=all  "
        f"{base}/repositories  {base}/images?repository=team/api"
    )
    console.line(f"Link       {demo_link(base)}")
    console.line(
        "           (a dashboard link, as `dashboard-link` mints one for a deployed stage)"
    )
    console.line(f"CLI        {demo_env.cli_command()} status --env-file {env_file}")
    console.line(
        f"           ({env_file} points wait, reconcile and doctor at this demo too, while it runs)"
    )
    console.line("Serving until Ctrl-C.")
    with warnings.catch_warnings():
        # Chalice local cannot check IAM auth; the server listens on loopback only.
        warnings.filterwarnings("ignore", message="IAMAuthorizer is not a supported")
        server.server.serve_forever()


def demo_link(base: str) -> str:
    """A dashboard link to this demo's `/view`, signed by the emulator's KMS key."""
    from datetime import UTC

    from chalicelib import bootstrap
    from chalicelib.core import links

    token, _ = links.mint(bootstrap.link_mac(), datetime.now(UTC), links.DEFAULT_LIFETIME, "demo")
    return links.url(f"{base}/view", token)


def _replay(
    app: Any,
    scenario: day.Scenario,
    feed: AlertFeed,
    registries: Any,
    console: Console,
    speed: float,
) -> list[dict[str, Any]]:
    from chalicelib.local.replay import Replayer

    start, end = scenario.start, scenario.end
    console.line()
    console.line(
        f"Replaying a simulated day, {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC "
        "(alerts as they are published):"
    )
    import boto3

    from chalicelib.local.workload_mirror import WorkloadMirror
    from chalicelib.observability import logger

    # The app's warnings (a registry check that could not run, say) would only clutter the
    # story: the alerts are what the demo shows.
    logger.setLevel("ERROR")
    for where, repository, tag, image in scenario.preexisting:
        registries.put(where, repository, image, tag, start)  # there before the day began
    workloads = WorkloadMirror(boto3.session.Session())
    deployments = sorted(scenario.workloads, key=lambda action: action.at)
    published: list[dict[str, Any]] = []
    total = len(scenario.events)
    with Replayer(app, ROOT) as replayer:
        for done, event in enumerate(scenario.events, 1):
            moment = datetime.fromisoformat(event["time"].replace("Z", "+00:00"))
            while deployments and deployments[0].at <= moment:
                workloads.apply(deployments.pop(0))  # what teams deployed by then
            registries.apply(event)  # what ECR did, then the event it emitted
            delivery = replayer.deliver(event)
            if delivery.outcome == "rejected":  # the story itself is wrong: say so loudly
                raise RuntimeError(
                    f"the demo's event {event['id']} was rejected: {delivery.reason}"
                )
            for alert in feed.drain():
                published.append(alert)
                console.line(alert_line(alert, console))
                for line in workload_lines(alert) if alert["kind"] != "RECOVERED" else ():
                    console.line(f"{'':9}{console.arrow()} {line}")
            console.progress(done, total, f"{moment:%H:%M}")
            if speed > 0:
                time.sleep(speed)
    return published
