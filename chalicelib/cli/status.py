"""`status`: the auditor's counts, open incidents and each newest image's replicas."""

from __future__ import annotations

import argparse
import json

from chalicelib.cli.common import Commands, ledger_settings, load_env_file


def run(args: argparse.Namespace) -> int:
    from chalicelib.local import aws_errors

    load_env_file(args.env_file)
    settings = ledger_settings()
    aws_errors.check_endpoint_reachable()
    from chalicelib import bootstrap
    from chalicelib.core import status_text
    from chalicelib.usecases import queries

    deps = bootstrap.build(settings)
    try:
        status = queries.status(deps)
        if args.json:
            print(json.dumps(status, indent=2))
            return 0
        print(status_text.render_status(status, queries.repositories(deps)))
    except Exception as error:
        described = aws_errors.describe(error, table=settings.audit_table)
        if described is None:
            raise
        raise described from error
    return 0


def register(commands: Commands) -> None:
    status = commands.add(
        "status",
        "print the auditor's status: counts, open incidents, each newest image's replicas",
        "examples:\n  python -m chalicelib.cli status --env-file env.json\n"
        "  python -m chalicelib.cli status --env-file env.json --json | jq .counts",
    )
    status.add_argument(
        "--json", action="store_true", help="print the GET /status document instead"
    )
    status.add_argument(
        "--env-file", metavar="F", help="JSON object of environment variables (provision's)"
    )
    status.set_defaults(func=run)
