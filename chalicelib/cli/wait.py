"""`wait`: the deploy gate, until every expected replica of one image is present."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from chalicelib.cli.common import (
    FAILED,
    USAGE,
    CliError,
    Commands,
    check_image_arguments,
    ledger_settings,
    load_env_file,
)


def _stored_rules(settings: Any, client: Any) -> Any:
    """REPLICATION_CONFIG plus the rules REPLICATION_SOURCES keeps in the ledger (no role)."""
    from chalicelib.adapters.rules_store import DynamoRulesStore
    from chalicelib.usecases.registry_rules import merge

    if not settings.replication_sources:
        return settings.replication
    stored = DynamoRulesStore(client, settings.audit_table).load_all()
    items = [stored[s].registry for s in settings.replication_sources if s in stored]
    return merge(settings.replication, items)


def run(args: argparse.Namespace) -> int:
    from chalicelib.local import aws_errors

    if args.timeout < 0 or args.timeout > 86400:
        raise CliError("--timeout must be from 0 to 86400 seconds", USAGE)
    if not 0 < args.interval <= 3600:
        raise CliError("--interval must be more than 0 and at most 3600 seconds", USAGE)
    check_image_arguments(args)
    load_env_file(args.env_file)
    settings = ledger_settings()
    aws_errors.check_endpoint_reachable()
    import boto3

    from chalicelib import bootstrap
    from chalicelib.cli import wait_text
    from chalicelib.usecases import gate

    client = boto3.session.Session().client("dynamodb", config=aws_errors.client_config())
    deps = bootstrap.build_ledger_only(settings, client)
    names = settings.location_names
    config = _stored_rules(settings, client)

    def look() -> Any:
        return gate.image_state(
            args.repository, deps, digest=args.digest, tag=args.tag, config=config
        )

    def progress(verdict: Any, elapsed: float) -> None:
        print(wait_text.progress_line(verdict, elapsed, names), file=sys.stderr, flush=True)

    def trouble(error: Exception, elapsed: float) -> bool:
        described = aws_errors.describe(error, table=settings.audit_table)
        if described is None or described.code == USAGE:
            return False  # a bug, or something to fix first: say so at once
        print(f"[{elapsed:5.0f}s] warning: {described}; still waiting", file=sys.stderr)
        return True

    try:
        result = gate.wait_for(
            look, timeout=args.timeout, interval=args.interval, progress=progress, trouble=trouble
        )
    except TimeoutError as error:
        raise CliError(f"{error}; check the table and the credentials", FAILED) from None
    if args.json:
        print(json.dumps(wait_text.document(result, args.timeout), indent=2))
    else:
        print(wait_text.outcome_line(result, names, args.timeout))
    return 0 if result.verdict.ok and not result.timed_out else 1


def register(commands: Commands) -> None:
    wait = commands.add(
        "wait",
        "wait until every expected replica of one image is present (a deploy gate)",
        "Reads the ledger (AUDIT_TABLE) with any credentials allowed dynamodb:Query on the table,\n"
        "so it runs in CI against a deployed stage. Prints a progress line whenever a replica\n"
        "changes state (stderr), then the outcome (stdout, or the JSON document with --json).\n"
        "An image the auditor has not recorded yet is waited for: its push may not be processed.\n"
        "Exit 0 when every expected replica is present (or none is expected), 1 at once when\n"
        "one failed, went missing or its source image was deleted, 1 at the timeout, 2 on bad\n"
        "usage.\n\n"
        "examples:\n"
        "  python -m chalicelib.cli wait --repository team/api --tag v1.4.2 --timeout 1800\n"
        "  python -m chalicelib.cli wait --env-file env.json --repository team/api \\\n"
        "      --digest sha256:0123… --timeout 600 --interval 5 --json",
    )
    wait.add_argument("--repository", required=True, metavar="R", help="repository name")
    image = wait.add_mutually_exclusive_group(required=True)
    image.add_argument("--digest", metavar="D", help="the image digest (sha256:…)")
    image.add_argument("--tag", metavar="T", help="the tag at the source (its current digest)")
    wait.add_argument(
        "--timeout",
        type=float,
        default=1800.0,
        metavar="SECONDS",
        help="give up (exit 1) after this long (default 1800, the default grace period)",
    )
    wait.add_argument(
        "--interval",
        type=float,
        default=10.0,
        metavar="S",
        help="seconds between looks at the ledger (default 10; each look is 1-3 Queries)",
    )
    wait.add_argument("--json", action="store_true", help="print the outcome as a JSON document")
    wait.add_argument("--env-file", metavar="F", help="JSON object of environment variables")
    wait.set_defaults(func=run)
