"""`gate-token`: a token a CI system sends to `GET /gate` instead of signing SigV4 requests."""

from __future__ import annotations

import argparse
import os
import sys

from chalicelib.cli import signing
from chalicelib.cli.common import USAGE, CliError, Commands, load_env_file

MAX_DAYS = 366


def _key(args: argparse.Namespace, session: object, config: object) -> str:
    if args.key and args.stack:
        raise CliError("pass --stack NAME or --key KEY_ID, not both", USAGE)
    if args.key:
        return str(args.key)
    if args.stack:
        return signing.stack_outputs(session, args.stack, config)[1]
    key = os.environ.get("DASHBOARD_LINK_KEY_ARN", "").strip()
    if not key:
        raise CliError(
            "no signing key: pass --stack NAME (a deployed stage), --key KEY_ID (its "
            "DashboardLinkKeyArn output), or --env-file with DASHBOARD_LINK_KEY_ARN",
            USAGE,
        )
    return key


def run(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime, timedelta

    from chalicelib.core import links

    if not 1 / 1440 <= args.days <= MAX_DAYS:
        raise CliError(f"--days must be from 0.001 (a minute and a half) to {MAX_DAYS}", USAGE)
    if not links.valid_prefix(args.repository_prefix):
        raise CliError(
            f"--repository-prefix {args.repository_prefix!r} cannot begin an ECR repository "
            "name (lowercase letters, digits, and . _ - / after the first); e.g. team/",
            USAGE,
        )
    load_env_file(args.env_file)
    token, minted = signing.with_stage_key(
        lambda session, config: _key(args, session, config),
        lambda mac, subject: links.mint_gate(
            mac, datetime.now(UTC), timedelta(days=args.days), subject, args.repository_prefix
        ),
    )
    print(token)
    scope = f"repositories starting with {minted.prefix!r}" if minted.prefix else "every repository"
    print(
        f"valid until {minted.expires_at:%Y-%m-%d %H:%M} UTC for GET /gate on {scope}; keep it "
        "in the CI system's secret store (whoever holds it can read those images' gate)",
        file=sys.stderr,
    )
    return 0


def register(commands: Commands) -> None:
    gate = commands.add(
        "gate-token",
        "mint a token for GET /gate, for CI systems that cannot sign SigV4 requests",
        "The token is signed by the stage's KMS HMAC key (kms:GenerateMac; the key of its\n"
        "DashboardLinkKeyArn output), expires, and answers only for repositories whose name\n"
        "starts with --repository-prefix (an empty prefix: every repository). A CI job sends\n"
        "it as `Authorization: Bearer <token>`; a forged or expired one gets 401, one outside\n"
        "its prefix 403. Printed on stdout; where it is valid, on stderr.\n\n"
        "examples:\n"
        "  python -m chalicelib.cli gate-token --stack ecr-replication-auditor-prod \\\n"
        "      --repository-prefix team/ --days 90\n"
        "  python -m chalicelib.cli gate-token --env-file env.json --repository-prefix team/api",
    )
    gate.add_argument(
        "--repository-prefix",
        required=True,
        metavar="P",
        help="the repositories the token may ask about: names starting with P (e.g. team/)",
    )
    gate.add_argument(
        "--days",
        type=float,
        default=links_default_days(),
        metavar="N",
        help=f"how long the token works (default 90, at most {MAX_DAYS})",
    )
    gate.add_argument(
        "--stack", metavar="NAME", help="the deployed stack: reads its DashboardLinkKeyArn"
    )
    gate.add_argument("--key", metavar="KEY_ID", help="the KMS HMAC key id or ARN")
    gate.add_argument("--env-file", metavar="F", help="JSON object of environment variables")
    gate.set_defaults(func=run)


def links_default_days() -> float:
    from chalicelib.core import links

    return links.GATE_DEFAULT_LIFETIME.days
