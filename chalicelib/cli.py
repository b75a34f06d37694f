"""Command line: `python -m chalicelib.cli COMMAND` (alias `ecr-audit`); `--help` lists them.

Every command fails with one line, `error: <problem>; <fix>`, and exit code 2 for bad usage or
input or 1 for a failed check or an unreachable service (chalicelib/local/aws_errors.py).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chalicelib.local.aws_errors import FAILED, USAGE, CliError

ROOT = Path(__file__).resolve().parents[1]

DESCRIPTION = (
    "ECR Replication Auditor: did every image really arrive everywhere, with the right tag?"
)

EPILOG = """\
Run `COMMAND --help` for the options of one command.

exit codes: 0 done; 1 a failed check or an AWS endpoint that cannot be reached;
            2 bad usage or input (arguments, files, settings, credentials)

examples (`ecr-audit` is the same command; against an emulator, see README "Command line"):
  ecr-audit demo --once
  ecr-audit provision --replication-config examples/replication-config.json > env.json
  ecr-audit replay --env-file env.json examples/push.json
  ecr-audit status --env-file env.json
  AUDIT_ROLE_NAME=ecr-replication-auditor-read ecr-audit doctor
"""

SUFFIX_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


def _load_env_file(path: str | None) -> None:
    if not path:
        return
    try:
        values = json.loads(Path(path).read_text())
    except OSError as error:
        raise CliError(
            f"cannot read --env-file {path}: {error.strerror or error}; "
            "write it with `provision > env.json` first",
            USAGE,
        ) from None
    except json.JSONDecodeError as error:
        raise CliError(
            f"--env-file {path} is not JSON ({error}); pass the file `provision` printed", USAGE
        ) from None
    if not isinstance(values, dict):
        raise CliError(f"--env-file {path} must hold a JSON object, as `provision` prints", USAGE)
    for key, value in values.items():
        os.environ.setdefault(key, value if isinstance(value, str) else json.dumps(value))


def _settings_or_exit() -> Any:
    from chalicelib.errors import ConfigError
    from chalicelib.settings import Settings

    try:
        return Settings.from_env()
    except ConfigError as error:
        fix = (
            "run `provision` and pass its output with --env-file"
            if "required" in str(error)
            else "fix it in the --env-file or the environment"
        )
        raise CliError(f"{error}; {fix}", USAGE) from None


def _read_replication_config(path: str) -> list[dict[str, Any]]:
    """A `describe-registry` output plus "region" (or an array of them), validated."""
    from chalicelib.errors import ConfigError
    from chalicelib.rules import parse_replication_config

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
    from chalicelib.errors import ConfigError
    from chalicelib.settings import parse_location_names

    try:
        return parse_location_names(text or "")
    except ConfigError as error:
        raise CliError(f"--location-names: {error}", USAGE) from None


def cmd_provision(args: argparse.Namespace) -> int:
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


def cmd_replay(args: argparse.Namespace) -> int:
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
    _load_env_file(args.env_file)
    _settings_or_exit()
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


def cmd_status(args: argparse.Namespace) -> int:
    from chalicelib.local import aws_errors

    _load_env_file(args.env_file)
    settings = _settings_or_exit()
    aws_errors.check_endpoint_reachable()
    from chalicelib import bootstrap, queries, status_text

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


def cmd_dashboard_link(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime, timedelta

    from chalicelib import dashboard_link as links
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


def cmd_doctor(args: argparse.Namespace) -> int:
    _load_env_file(args.env_file)
    from chalicelib.errors import ConfigError
    from chalicelib.settings import Settings

    try:
        settings = Settings.from_env(ledger=False)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not settings.audit_role_name:
        print(
            "error: doctor asks the registries through the audit role: set AUDIT_ROLE_NAME "
            "(the role infra/forwarder.json creates in every monitored account)",
            file=sys.stderr,
        )
        return 2
    if not settings.replication.sources and not settings.replication_sources:
        print(
            "error: no replication rules to check: set REPLICATION_CONFIG or REPLICATION_SOURCES",
            file=sys.stderr,
        )
        return 2
    from chalicelib import doctor
    from chalicelib.adapters.ecr import registry_for
    from chalicelib.adapters.roles import AuditRoles

    roles = AuditRoles(settings.audit_role_name)
    report = doctor.run_doctor(
        settings.replication,
        settings.replication_sources,
        lambda location: registry_for(roles, location),
    )
    if args.json:
        print(json.dumps(doctor.render_json(report), indent=2))
    else:
        print(doctor.render_text(report))
    return 0 if report.ok else 1


def cmd_demo(args: argparse.Namespace) -> int:
    from chalicelib.local.demo import run_demo

    if not 1 <= args.port <= 65535:
        raise CliError("--port must be from 1 to 65535", USAGE)
    if args.speed < 0:
        raise CliError("--speed must be 0 or more seconds", USAGE)
    return run_demo(port=args.port, once=args.once, speed=args.speed)


class _Parser(argparse.ArgumentParser):
    """argparse, with its usage errors on one line that says where help is."""

    def error(self, message: str) -> Any:
        self.exit(USAGE, f"error: {message}; see `{self.prog} --help`\n")


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the examples' line breaks; wider option column than the default."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32)


def parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument(
        "--debug", action="store_true", help="print the traceback of an unexpected error"
    )
    alias = Path(sys.argv[0]).name == "ecr-audit"
    top = _Parser(
        prog="ecr-audit" if alias else "python -m chalicelib.cli",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=_Formatter,
        parents=[common],
    )
    commands = top.add_subparsers(
        dest="command", title="commands", metavar="COMMAND", required=True
    )

    def command(name: str, summary: str, epilog: str = "") -> argparse.ArgumentParser:
        return commands.add_parser(
            name,
            help=summary,
            description=summary[0].upper() + summary[1:] + ".",
            epilog=epilog,
            formatter_class=_Formatter,
            parents=[common],
        )

    demo = command(
        "demo",
        "run a local AWS emulator, replay a simulated day across three accounts, serve the "
        "dashboard",
        "Everything runs on 127.0.0.1; no AWS account is touched.\n\n"
        "examples:\n  python -m chalicelib.cli demo\n  python -m chalicelib.cli demo --once\n"
        "  python -m chalicelib.cli demo --port 9000 --speed 0.2",
    )
    demo.add_argument(
        "--port", type=int, default=8000, metavar="N", help="HTTP port on 127.0.0.1 (default 8000)"
    )
    demo.add_argument("--once", action="store_true", help="exit after printing the status")
    demo.add_argument(
        "--speed",
        type=float,
        default=0.0,
        metavar="S",
        help="seconds to pause between events, to watch the alerts arrive (default 0)",
    )
    demo.set_defaults(func=cmd_demo)

    prov = command(
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
    prov.set_defaults(func=cmd_provision)

    replay = command(
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
    replay.add_argument("--quiet", action="store_true", help="no per-event progress lines")
    replay.set_defaults(func=cmd_replay)

    status = command(
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
    status.set_defaults(func=cmd_status)

    link = command(
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
    link.set_defaults(func=cmd_dashboard_link)

    doc = command(
        "doctor",
        "check that each destination's registry policy lets its source replicate",
        "For each source and destination the replication rules name (REPLICATION_CONFIG, and\n"
        "REPLICATION_SOURCES read live with DescribeRegistry), reads the destination's registry\n"
        "policy through AUDIT_ROLE_NAME and says whether it lets the source account replicate\n"
        "(ecr:ReplicateImage, and ecr:CreateRepository unless the repositories exist there).\n"
        "Exit 0 when every pair can, 1 when one cannot or cannot be checked, 2 on bad usage.\n\n"
        "example:\n  AUDIT_ROLE_NAME=ecr-replication-auditor-read python -m chalicelib.cli doctor",
    )
    doc.add_argument("--json", action="store_true", help="print the JSON report")
    doc.add_argument("--env-file", metavar="F", help="JSON object of environment variables")
    doc.set_defaults(func=cmd_doctor)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    # Local runs have no CloudWatch agent to read EMF metric lines from stdout.
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except CliError as error:
        return _fail(error)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `status | head`: the reader left; nothing more to say
        return 0
    except Exception as error:
        from chalicelib.local import aws_errors

        if args.debug:
            traceback.print_exc()
        described = aws_errors.describe(error, table=os.environ.get("AUDIT_TABLE"))
        if described is None:
            first = (str(error).strip().splitlines() or [""])[0]
            described = CliError(
                f"unexpected {type(error).__name__}: {first}; run again with --debug for the "
                "traceback and report it",
                FAILED,
            )
        return _fail(described)


def _fail(error: CliError) -> int:
    print(f"error: {error}", file=sys.stderr)
    return error.code


if __name__ == "__main__":
    sys.exit(main())
