"""`provision`: the table and topic at AWS_ENDPOINT_URL, and the app's environment as JSON."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from chalicelib.cli.common import USAGE, CliError, Commands

SUFFIX_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


def _read_replication_config(path: str) -> list[dict[str, Any]]:
    """A `describe-registry` output plus "region" (or an array of them), validated."""
    from chalicelib.core.errors import ConfigError
    from chalicelib.core.rules import parse_replication_config

    try:
        raw = json.loads(Path(path).read_text())
    except OSError as error:
        raise CliError(
            f"cannot read --replication-config {path}: {error.strerror or error}; "
            "see examples/replication-config.json for the format",
            USAGE,
        ) from None
    except json.JSONDecodeError as error:
        raise CliError(f"--replication-config {path} is not JSON: {error}", USAGE) from None
    registries = raw if isinstance(raw, list) else [raw]
    for index, item in enumerate(registries):
        if isinstance(item, dict) and "registryId" in item and "region" not in item:
            raise CliError(
                f'--replication-config {path}: registry {index} has no "region"; add the source '
                'registry\'s region next to "registryId" (describe-registry does not print it)',
                USAGE,
            )
    try:
        parse_replication_config(registries)
    except ConfigError as error:
        raise CliError(
            f"--replication-config {path}: {error}; see examples/replication-config.json",
            USAGE,
        ) from None
    return registries


def _location_names(text: str | None) -> dict[str, str]:
    from chalicelib.core.errors import ConfigError
    from chalicelib.settings import parse_location_names

    try:
        return parse_location_names(text or "")
    except ConfigError as error:
        raise CliError(f"--location-names: {error}", USAGE) from None


def run(args: argparse.Namespace) -> int:
    from chalicelib.local import aws_errors

    # Inputs first: a bad file fails before anything is created.
    rules: list[dict[str, Any]] | None = None
    names: dict[str, str] = {}
    if args.demo_rules:
        from chalicelib.local import scenario

        rules, names = scenario.REPLICATION_CONFIG, dict(scenario.LOCATION_NAMES)
    elif args.replication_config:
        rules = _read_replication_config(args.replication_config)
    names.update(_location_names(args.location_names))
    if args.suffix is not None and not SUFFIX_RE.match(args.suffix):
        raise CliError("--suffix must be 1-40 letters, digits, '-' or '_'", USAGE)
    endpoint = aws_errors.endpoint()
    if not endpoint and not args.real_aws:
        raise CliError(
            "AWS_ENDPOINT_URL is not set; refusing to create resources in a real AWS account "
            "(set AWS_ENDPOINT_URL to an emulator, or pass --real-aws if you mean it)",
            USAGE,
        )
    aws_errors.check_endpoint_reachable()
    import boto3

    from chalicelib.local.provision import provision

    session = boto3.session.Session()
    print(f"provisioning at {aws_errors.where()} ...", file=sys.stderr)
    env = provision(session, suffix=args.suffix, client_config=aws_errors.client_config())
    if endpoint:
        env["AWS_ENDPOINT_URL"] = endpoint
    if session.region_name:
        env["AWS_DEFAULT_REGION"] = session.region_name
    if rules is None:
        print(
            "note: no replication rules given, so every ECR event will be ignored as from an "
            "unmonitored account; pass --replication-config FILE or --demo-rules",
            file=sys.stderr,
        )
    else:
        env["REPLICATION_CONFIG"] = json.dumps(rules, separators=(",", ":"))
    if names:
        env["LOCATION_NAMES"] = json.dumps(names, separators=(",", ":"))
    print(json.dumps(env, indent=2))
    return 0


def register(commands: Commands) -> None:
    prov = commands.add(
        "provision",
        "create the table and topic at AWS_ENDPOINT_URL and print the app's environment as JSON",
        "The JSON goes to stdout (redirect it to env.json for --env-file); progress to stderr.\n"
        "REPLICATION_CONFIG is included when rules are given, LOCATION_NAMES when names are.\n\n"
        "examples:\n"
        "  python -m chalicelib.cli provision --replication-config examples/replication-config.json"
        " > env.json\n"
        "  python -m chalicelib.cli provision --demo-rules > env.json\n"
        "  python -m chalicelib.cli provision --replication-config rules.json \\\n"
        "      --location-names '222222222222/eu-west-1=prod,333333333333/us-east-1=dr' > env.json",
    )
    rules = prov.add_mutually_exclusive_group()
    rules.add_argument(
        "--replication-config",
        metavar="FILE",
        help='replication rules: `aws ecr describe-registry` output plus "region", or a JSON '
        "array of those (see examples/replication-config.json)",
    )
    rules.add_argument(
        "--demo-rules",
        action="store_true",
        help="the demo's rules (dev replicating to prod and dr) and location names",
    )
    prov.add_argument(
        "--location-names",
        metavar="NAMES",
        help="friendly names, 'ACCOUNT/REGION=NAME,...' or a JSON object (LOCATION_NAMES)",
    )
    prov.add_argument(
        "--suffix", metavar="S", help="resource name suffix (default: 8 random hex digits)"
    )
    prov.add_argument(
        "--real-aws",
        action="store_true",
        help="allow creating the resources in the AWS account of your credentials "
        "when AWS_ENDPOINT_URL is not set",
    )
    prov.set_defaults(func=run)
