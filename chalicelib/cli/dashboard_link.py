"""`dashboard-link`: a short-lived link that opens a deployed stage's dashboard."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from chalicelib.cli.common import USAGE, CliError, Commands


def _stack_outputs(session: Any, stack: str, config: Any) -> tuple[str, str]:
    """The API's URL and the dashboard-link key of a deployed stack."""
    from botocore.exceptions import ClientError

    try:
        found = session.client("cloudformation", config=config).describe_stacks(StackName=stack)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ValidationError":
            raise
        raise CliError(
            f"no stack {stack!r} in {session.region_name or 'this region'}; pass the stack name "
            "of `make deploy-guide` and the audit account's region (AWS_DEFAULT_REGION)",
            USAGE,
        ) from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in found["Stacks"][0].get("Outputs", [])}
    missing = [k for k in ("EndpointURL", "DashboardLinkKeyArn") if k not in outputs]
    if missing:
        raise CliError(
            f"stack {stack!r} has no {' or '.join(missing)} output; deploy this version of the "
            "template (make package) first",
            USAGE,
        )
    return outputs["EndpointURL"], outputs["DashboardLinkKeyArn"]


def run(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime, timedelta

    from chalicelib.core import links
    from chalicelib.local import aws_errors

    max_hours = links.MAX_LIFETIME.total_seconds() / 3600
    if not 1 / 60 <= args.hours <= max_hours:
        raise CliError(f"--hours must be from 0.02 (a minute) to {max_hours:g}", USAGE)
    if (args.stack and (args.url or args.key)) or (not args.stack and not (args.url and args.key)):
        raise CliError(
            "pass --stack NAME (a deployed stage), or --url API_URL with --key KEY_ID", USAGE
        )
    aws_errors.check_endpoint_reachable()
    import boto3

    from chalicelib.adapters.kms import KmsMac

    session = boto3.session.Session()
    config = aws_errors.client_config()
    try:
        base, key = (
            _stack_outputs(session, args.stack, config) if args.stack else (args.url, args.key)
        )
        try:
            subject = session.client("sts", config=config).get_caller_identity()["Arn"]
        except Exception:  # the link still works; the API's logs will say "unknown"
            subject = "unknown"
        mac = KmsMac(session.client("kms", config=config), key)
        lifetime = timedelta(hours=args.hours)
        token, link = links.mint(mac, datetime.now(UTC), lifetime, subject)
    except CliError:
        raise
    except Exception as error:
        hint = "pass the KMS key of the stage's DashboardLinkKeyArn output, or use --stack"
        described = aws_errors.describe(error, missing_hint=hint)
        if described is None:
            raise
        raise described from error
    print(links.url(base.rstrip("/") + "/view", token))
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
