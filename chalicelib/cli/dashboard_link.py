"""`dashboard-link`: a short-lived link that opens a deployed stage's dashboard."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from chalicelib.cli import signing
from chalicelib.cli.common import USAGE, CliError, Commands


def run(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime, timedelta

    from chalicelib.core import links

    max_hours = links.MAX_LIFETIME.total_seconds() / 3600
    if not 1 / 60 <= args.hours <= max_hours:
        raise CliError(f"--hours must be from 0.02 (a minute) to {max_hours:g}", USAGE)
    if (args.stack and (args.url or args.key)) or (not args.stack and not (args.url and args.key)):
        raise CliError(
            "pass --stack NAME (a deployed stage), or --url API_URL with --key KEY_ID", USAGE
        )
    found: dict[str, str] = {}

    def key_of(session: Any, config: Any) -> str:
        base, key = (
            signing.stack_outputs(session, args.stack, config)
            if args.stack
            else (args.url, args.key)
        )
        found["base"] = base
        return str(key)

    lifetime = timedelta(hours=args.hours)
    token, link = signing.with_stage_key(
        key_of, lambda mac, subject: links.mint(mac, datetime.now(UTC), lifetime, subject)
    )
    print(links.url(found["base"].rstrip("/") + "/view", token))
    print(
        f"valid until {link.expires_at:%Y-%m-%d %H:%M} UTC; anyone holding this link can read "
        "the dashboard until then (README: Opening the dashboard in a browser)",
        file=sys.stderr,
    )
    return 0


def register(commands: Commands) -> None:
    link = commands.add(
        "dashboard-link",
        "mint a short-lived link that opens a deployed stage's dashboard in a browser",
        "The link carries a token signed by the stage's KMS HMAC key (kms:GenerateMac); the\n"
        "dashboard sends it with every request and the API checks it (kms:VerifyMac). Anyone\n"
        "holding the link can read the dashboard until it expires.\n\n"
        "examples:\n"
        "  python -m chalicelib.cli dashboard-link --stack ecr-replication-auditor-prod\n"
        "  python -m chalicelib.cli dashboard-link --stack ecr-replication-auditor-prod --hours 1\n"
        "  python -m chalicelib.cli dashboard-link --url https://abc123.execute-api.eu-west-1"
        ".amazonaws.com/api/ \\\n      --key arn:aws:kms:eu-west-1:999999999999:key/…",
    )
    link.add_argument(
        "--stack", metavar="NAME", help="the deployed stack: reads its EndpointURL and key"
    )
    link.add_argument("--url", metavar="API_URL", help="the API's base URL (instead of --stack)")
    link.add_argument("--key", metavar="KEY_ID", help="the KMS HMAC key id or ARN (with --url)")
    link.add_argument(
        "--hours",
        type=float,
        default=8.0,
        metavar="H",
        help="how long the link works (default 8, at most 24)",
    )
    link.set_defaults(func=run)
