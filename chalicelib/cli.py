"""Command line: `python -m chalicelib.cli {demo,provision,replay,status}` (alias `ecr-audit`)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

DESCRIPTION = """\
ECR Replication Auditor: did every image really arrive everywhere, with the right tag?

commands:
  demo        run a local AWS emulator, replay a multi-account scenario, serve the dashboard
  provision   create the table and topic at AWS_ENDPOINT_URL; print the app's environment (JSON)
  replay      deliver EventBridge events from files to the matching handlers
  status      print the auditor's status as a table (or --json)

Examples:
  python -m chalicelib.cli demo --once
  AWS_ENDPOINT_URL=http://127.0.0.1:5000 python -m chalicelib.cli provision > env.json
  python -m chalicelib.cli replay --env-file env.json events.jsonl
  python -m chalicelib.cli status --env-file env.json
"""


def _load_env_file(path: str | None) -> None:
    if not path:
        return
    try:
        values = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise SystemExit(f"error: cannot read --env-file {path}: {error}") from None
    if not isinstance(values, dict):
        raise SystemExit(f"error: --env-file {path} must hold a JSON object")
    for key, value in values.items():
        os.environ.setdefault(key, value if isinstance(value, str) else json.dumps(value))


def _settings_or_exit() -> Any:
    from chalicelib.domain import ConfigError
    from chalicelib.settings import Settings

    try:
        return Settings.from_env()
    except ConfigError as error:
        raise SystemExit(
            f"error: {error}\nhint: run `provision` and pass its output with --env-file"
        ) from None


def cmd_provision(args: argparse.Namespace) -> int:
    import boto3

    from chalicelib.local.provision import provision

    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if not endpoint and not args.real_aws:
        print(
            "error: AWS_ENDPOINT_URL is not set; refusing to create resources in a real AWS "
            "account (pass --real-aws if you mean it)",
            file=sys.stderr,
        )
        return 2
    print(f"provisioning at {endpoint or 'AWS'} ...", file=sys.stderr)
    env = provision(boto3.session.Session(), suffix=args.suffix)
    if endpoint:
        env["AWS_ENDPOINT_URL"] = endpoint
    print(json.dumps(env, indent=2))
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    """Deliver each event; exit 2 when any was refused (bad input), 0 otherwise."""
    from chalicelib.local.replay import read_events

    events: list[Any] = []
    for path in args.files:
        try:
            events.extend(read_events([path]))
        except OSError as error:
            print(f"error: cannot read {path}: {error.strerror or error}", file=sys.stderr)
            return 2
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    _load_env_file(args.env_file)
    _settings_or_exit()
    import app as app_module
    from chalicelib.local.replay import Replayer

    counts = dict.fromkeys(("delivered", "rejected", "ignored", "unmatched"), 0)
    with Replayer(app_module.app, ROOT) as replayer:
        for number, event in enumerate(events, 1):
            delivery = replayer.deliver(event)
            counts[delivery.outcome] += 1
            label = (
                f"{event.get('detail-type', '?')} {event.get('id', '')}"
                if isinstance(event, dict)
                else "?"
            )
            if delivery.outcome == "rejected":
                print(
                    f"[{number}/{len(events)}] rejected {label}: {delivery.reason}", file=sys.stderr
                )
            elif not args.quiet:
                target = ", ".join(delivery.handlers) or "no matching handler"
                why = f" ({delivery.reason})" if delivery.outcome == "ignored" else ""
                print(
                    f"[{number}/{len(events)}] {label} -> {target}: {delivery.outcome}{why}",
                    file=sys.stderr,
                )
    summary = ", ".join(f"{n} {name}" for name, n in counts.items())
    print(f"replayed {len(events)} event(s): {summary}", file=sys.stderr)
    return 2 if counts["rejected"] else 0


def render_status(status: dict[str, Any]) -> str:
    counts = status["counts"]
    lines = [
        f"ECR replication status as of {status['as_of']}: "
        + ("HEALTHY" if status["healthy"] else "UNHEALTHY"),
        (
            f"pending {counts['pending']}   missing {counts['missing']}   "
            f"failed {counts['failed']}   replicated (24h) {counts['replicated_24h']}   "
            f"overwritten (24h) {counts['overwritten_24h']}"
        ),
        "",
        f"Open incidents: {status['open_incidents']}",
    ]
    rows = [
        (
            i["kind"],
            i["repository"],
            i["tag"] or "-",
            f"{i['destination']['account']}/{i['destination']['region']}"
            if i["destination"]
            else "-",
            i["detected_at"],
        )
        for i in status["incidents"]
    ]
    if rows:
        header = ("KIND", "REPOSITORY", "TAG", "DESTINATION", "DETECTED")
        widths = [max(len(str(r[c])) for r in [header, *rows]) for c in range(len(header))]
        for row in [header, *rows]:
            cells = (str(v).ljust(w) for v, w in zip(row, widths, strict=True))
            lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def cmd_status(args: argparse.Namespace) -> int:
    _load_env_file(args.env_file)
    _settings_or_exit()
    from chalicelib import bootstrap, queries

    status = queries.status(bootstrap.deps())
    print(json.dumps(status, indent=2) if args.json else render_status(status))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from chalicelib.local.demo import run_demo

    return run_demo(port=args.port, once=args.once, speed=args.speed)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m chalicelib.cli",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = top.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = commands.add_parser("demo", help="local demo against an embedded AWS emulator")
    demo.add_argument("--port", type=int, default=8000, help="HTTP port (default 8000)")
    demo.add_argument("--once", action="store_true", help="exit after printing the status")
    demo.add_argument(
        "--speed", type=float, default=0.0, help="seconds to pause between events (default 0)"
    )
    demo.set_defaults(func=cmd_demo)

    prov = commands.add_parser("provision", help="create table and topic, print env JSON")
    prov.add_argument("--suffix", help="resource name suffix (default: random)")
    prov.add_argument("--real-aws", action="store_true", help="allow running without an emulator")
    prov.set_defaults(func=cmd_provision)

    replay = commands.add_parser("replay", help="deliver EventBridge events to the handlers")
    replay.add_argument("files", nargs="+", metavar="FILE", help="JSON lines or JSON arrays")
    replay.add_argument("--env-file", help="JSON object of environment variables (provision's)")
    replay.add_argument("--quiet", action="store_true", help="no per-event progress lines")
    replay.set_defaults(func=cmd_replay)

    status = commands.add_parser("status", help="print the status")
    status.add_argument("--json", action="store_true", help="print the JSON document")
    status.add_argument("--env-file", help="JSON object of environment variables (provision's)")
    status.set_defaults(func=cmd_status)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    # Local runs have no CloudWatch agent to read EMF metric lines from stdout.
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    args = parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
