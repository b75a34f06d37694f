"""`migrate`: move a ledger written by an earlier release to this release's key layout, in
place (docs/ledger.md, "Upgrading"); resumable, and harmless to run again."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from datetime import UTC, datetime

from chalicelib.cli.common import (
    FAILED,
    USAGE,
    CliError,
    Commands,
    ledger_settings,
    load_env_file,
)


def run(args: argparse.Namespace) -> int:
    from chalicelib.local import aws_errors

    if args.max_seconds is not None and args.max_seconds < 0:
        raise CliError(f"--max-seconds {args.max_seconds:g} is negative", USAGE)
    load_env_file(args.env_file)
    settings = ledger_settings()
    aws_errors.check_endpoint_reachable()
    import boto3

    from chalicelib import bootstrap
    from chalicelib.core.errors import LedgerLayoutError

    client = boto3.session.Session().client("dynamodb", config=aws_errors.client_config())
    layout = bootstrap.build_ledger_only(settings, client).layout
    assert layout is not None
    stop = time.monotonic() + args.max_seconds if args.max_seconds is not None else None

    def has_time() -> bool:
        return stop is None or time.monotonic() < stop

    def progress(line: str) -> None:
        print(line, file=sys.stderr if args.json else sys.stdout, flush=True)

    try:
        report = layout.migrate(datetime.now(UTC), has_time, progress)
    except LedgerLayoutError as error:
        raise CliError(str(error), FAILED) from None
    except Exception as error:
        described = aws_errors.describe(error, table=settings.audit_table)
        if described is None:
            raise
        raise described from error
    if args.json:
        print(json.dumps(dataclasses.asdict(report), indent=2))
    if not report.done:
        raise CliError("the migration stopped before the end; run `migrate` again to resume")
    return 0


def register(commands: Commands) -> None:
    migrate = commands.add(
        "migrate",
        "move the ledger's table to this release's key layout, in place (resumable)",
        "Run it once after upgrading from a release whose ledger has no layout marker (the "
        "handlers refuse such\na ledger until then; the next sweep would migrate it too). "
        "Only the items every event shared move:\nthe work queue, the catalogue of "
        "repositories and the counters (rebuilt from the ledger's facts).\n"
        "Running it again, or beside a sweep doing the same, is harmless.\n\n"
        "examples:\n  python -m chalicelib.cli migrate --env-file env.json\n"
        "  AUDIT_TABLE=ecr-replication-auditor-prod python -m chalicelib.cli migrate --json",
    )
    migrate.add_argument(
        "--env-file", metavar="F", help="JSON object of environment variables (provision's)"
    )
    migrate.add_argument(
        "--max-seconds",
        type=float,
        metavar="S",
        help="stop after about S seconds (exit 1); run again to resume where it stopped",
    )
    migrate.add_argument(
        "--json", action="store_true", help="print what was done as JSON (progress to stderr)"
    )
    migrate.set_defaults(func=run)
