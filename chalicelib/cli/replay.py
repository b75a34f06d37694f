"""`replay`: EventBridge events from files, or a dead-letter queue, to the matching handlers."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from chalicelib.cli.common import ROOT, USAGE, CliError, Commands, load_env_file, settings_or_exit


def run(args: argparse.Namespace) -> int:
    """Deliver each event; exit 2 when any was refused (bad input), 1 when a dead letter's
    handler failed again, 0 otherwise."""
    from chalicelib.local.replay import read_events

    if bool(args.files) == bool(args.from_queue):
        raise CliError("give event FILEs or --from-queue URL (one of the two)", USAGE)
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
    load_env_file(args.env_file)
    settings_or_exit()
    if args.quiet:
        from chalicelib.observability import logger

        logger.setLevel("CRITICAL")  # refusals are reported below, once, on one line each
    import app as app_module
    from chalicelib.local.replay import Replayer

    with Replayer(app_module.app, ROOT) as replayer:
        if args.from_queue:
            return _replay_queue(args, replayer)
        counts = dict.fromkeys(("delivered", "rejected", "ignored", "unmatched"), 0)
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


def _replay_queue(args: argparse.Namespace, replayer: Any) -> int:
    """`replay --from-queue URL`: the dead-letter queue's events, deleted once delivered."""
    import boto3

    from chalicelib.local.dead_letters import replay_queue

    sqs = boto3.session.Session().client("sqs")
    counts = replay_queue(
        sqs,
        args.from_queue,
        replayer.deliver,
        lambda line: None if args.quiet and "kept" not in line else print(line, file=sys.stderr),
    )
    summary = ", ".join(f"{n} {name}" for name, n in counts.items())
    kept = counts["rejected"] + counts["failed"]
    print(
        f"replayed {sum(counts.values())} dead letter(s): {summary}; {kept} kept", file=sys.stderr
    )
    if counts["failed"]:
        return 1
    return 2 if counts["rejected"] else 0


def register(commands: Commands) -> None:
    replay = commands.add(
        "replay",
        "deliver EventBridge events from files to the handlers whose patterns match",
        "FILE holds JSON lines, a JSON array or one JSON object; `Scheduled Event`s run the sweep\n"
        "as of their own time.\n\n"
        "examples:\n  python -m chalicelib.cli replay --env-file env.json examples/push.json\n"
        "  python -m chalicelib.local.scenario > day.jsonl && "
        "python -m chalicelib.cli replay --env-file env.json --quiet day.jsonl\n"
        "  python -m chalicelib.cli replay --from-queue "
        "https://sqs.eu-west-1.amazonaws.com/999999999999/ecr-audit-dlq",
    )
    replay.add_argument("files", nargs="*", metavar="FILE", help="JSON lines or JSON arrays")
    replay.add_argument(
        "--from-queue",
        metavar="URL",
        help="read the events from a dead-letter queue (SQS URL) instead; delivered ones are "
        "deleted from it, the others stay",
    )
    replay.add_argument(
        "--env-file", metavar="F", help="JSON object of environment variables (provision's)"
    )
    replay.add_argument(
        "--quiet",
        action="store_true",
        help="only refusals and the summary (no progress or log lines)",
    )
    replay.set_defaults(func=run)
