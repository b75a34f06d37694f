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
  ecr-audit wait --env-file env.json --repository team/api --tag v1.4.2 --timeout 1800
  AUDIT_ROLE_NAME=ecr-replication-auditor-read ecr-audit reconcile --repository team/api
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


def _ledger_settings() -> Any:
    """Settings for commands that use the ledger but publish nothing: AUDIT_TABLE is needed,
    ALERT_TOPIC_ARN is not."""
    from chalicelib.errors import ConfigError
    from chalicelib.settings import Settings

    try:
        settings = Settings.from_env(ledger=False)
    except ConfigError as error:
        raise CliError(f"{error}; fix it in the --env-file or the environment", USAGE) from None
    if not settings.audit_table:
        raise CliError(
            "AUDIT_TABLE is required: the DynamoDB table holding the ledger; pass provision's "
            "output with --env-file, or the deployed stack's table name",
            USAGE,
        )
    return settings


def _check_image_arguments(args: argparse.Namespace) -> None:
    from chalicelib.domain import DIGEST_RE, REPOSITORY_RE, TAG_RE

    if not REPOSITORY_RE.match(args.repository) or len(args.repository) > 256:
        raise CliError(
            f"--repository {args.repository!r} is not an ECR repository name (e.g. team/api)",
            USAGE,
        )
    if args.digest is not None and not DIGEST_RE.match(args.digest):
        raise CliError(f"--digest {args.digest!r} is not a digest like sha256:<hex>", USAGE)
    if args.tag is not None and not TAG_RE.match(args.tag):
        raise CliError(f"--tag {args.tag!r} is not an image tag", USAGE)


def _stored_rules(settings: Any, client: Any) -> Any:
    """REPLICATION_CONFIG plus the rules REPLICATION_SOURCES keeps in the ledger (no role)."""
    from chalicelib.adapters.rules_store import DynamoRulesStore
    from chalicelib.registry_rules import merge

    if not settings.replication_sources:
        return settings.replication
    stored = DynamoRulesStore(client, settings.audit_table).load_all()
    items = [stored[s].registry for s in settings.replication_sources if s in stored]
    return merge(settings.replication, items)


def cmd_wait(args: argparse.Namespace) -> int:
    from chalicelib.local import aws_errors

    if args.timeout < 0 or args.timeout > 86400:
        raise CliError("--timeout must be from 0 to 86400 seconds", USAGE)
    if not 0 < args.interval <= 3600:
        raise CliError("--interval must be more than 0 and at most 3600 seconds", USAGE)
    _check_image_arguments(args)
    _load_env_file(args.env_file)
    settings = _ledger_settings()
    aws_errors.check_endpoint_reachable()
    import boto3

    from chalicelib import bootstrap, gate

    client = boto3.session.Session().client("dynamodb", config=aws_errors.client_config())
    deps = bootstrap.build_ledger_only(settings, client)
    names = settings.location_names
    config = _stored_rules(settings, client)

    def look() -> Any:
        return gate.image_state(
            args.repository, deps, digest=args.digest, tag=args.tag, config=config
        )

    def progress(verdict: Any, elapsed: float) -> None:
        print(gate.progress_line(verdict, elapsed, names), file=sys.stderr, flush=True)

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
        print(json.dumps(gate.document(result, args.timeout), indent=2))
    else:
        print(gate.outcome_line(result, names, args.timeout))
    return 0 if result.verdict.ok and not result.timed_out else 1


def cmd_reconcile(args: argparse.Namespace) -> int:
    from chalicelib.local import aws_errors
    from chalicelib.settings import ROLE_NAME_RE

    modes = [args.repository is not None, args.all, args.backfill_status]
    if sum(modes) != 1:
        raise CliError("pass one of --repository R, --all or --backfill-status", USAGE)
    if args.repository is None and (args.tag is not None or args.digest is not None):
        raise CliError("--tag and --digest go with --repository", USAGE)
    if not args.all and (args.resume or args.backfill or args.rate is not None):
        raise CliError("--rate, --resume and --backfill go with --all", USAGE)
    rate = 5.0 if args.rate is None else args.rate
    if not 0 < rate <= 1000:
        raise CliError("--rate must be more than 0 and at most 1000 calls per second", USAGE)
    if args.repository is not None:
        _check_image_arguments(args)
    _load_env_file(args.env_file)
    settings = _ledger_settings()
    if not settings.audit_role_name:
        raise CliError(
            "reconcile asks the registries through the audit role: set AUDIT_ROLE_NAME "
            "(the role infra/forwarder.json creates in every monitored account)",
            USAGE,
        )
    backfill_role = args.backfill_role or settings.audit_role_name
    if not ROLE_NAME_RE.match(backfill_role):
        raise CliError(f"--backfill-role {backfill_role!r} is not an IAM role name", USAGE)
    aws_errors.check_endpoint_reachable()
    import boto3

    from chalicelib import bootstrap, reconcile
    from chalicelib.adapters.ecr import EcrRegistry
    from chalicelib.adapters.roles import AuditRoles
    from chalicelib.adapters.throttle import RateLimit, RoleClient

    session = boto3.session.Session()
    dynamodb = session.client("dynamodb", config=aws_errors.client_config())
    deps = bootstrap.build_ledger_only(settings, dynamodb)
    roles = AuditRoles(settings.audit_role_name, session=session)
    limit = RateLimit(rate) if args.all else None
    registries: dict[Any, Any] = {}

    def registry_of(location: Any) -> Any:
        if location not in registries:
            client = RoleClient(
                lambda: roles.client("ecr", location.account, location.region), limit
            )
            registries[location] = EcrRegistry(client, location)
        return registries[location]

    config, rule_errors = reconcile.live_rules(
        settings.replication, settings.replication_sources, registry_of
    )
    for error in rule_errors:
        print(f"warning: {error}", file=sys.stderr)
    if not config.sources:
        raise CliError(
            "no replication rules to reconcile with: set REPLICATION_CONFIG or REPLICATION_SOURCES",
            USAGE,
        )
    if args.repository is not None:
        return _reconcile_one(args, deps, registry_of, config, settings.location_names)
    backfill_roles = (
        roles if backfill_role == roles.role_name else AuditRoles(backfill_role, session=session)
    )

    def backfills_of(location: Any) -> Any:
        from chalicelib.local.backfills import EcrBackfills

        client = RoleClient(lambda: backfill_roles.client("ecr", location.account, location.region))
        return EcrBackfills(client, location)

    if args.backfill_status:
        return _backfill_status(args, deps, config, backfills_of)
    return _reconcile_all(args, deps, registry_of, config, dynamodb, backfills_of)


def _reconcile_one(
    args: argparse.Namespace, deps: Any, registry_of: Any, config: Any, names: Any
) -> int:
    from chalicelib import reconcile

    if not reconcile.roles_of(config, args.repository):
        raise CliError(
            f"no replication rule sends {args.repository} anywhere: nothing to reconcile "
            "(check the name, or REPLICATION_CONFIG / REPLICATION_SOURCES)",
            USAGE,
        )
    selection = reconcile.Selection(tag=args.tag, digest=args.digest)
    report = reconcile.reconcile_repository(args.repository, deps, registry_of, config, selection)
    if args.json:
        print(json.dumps(reconcile.render_json(report), indent=2))
    else:
        print(reconcile.render_text(report, names))
    return 1 if report.errors else 0


def _reconcile_all(
    args: argparse.Namespace,
    deps: Any,
    registry_of: Any,
    config: Any,
    dynamodb: Any,
    backfills_of: Any,
) -> int:
    import time

    from chalicelib import backfill, inventory
    from chalicelib.adapters.checkpoint import DynamoCheckpointStore

    store = DynamoCheckpointStore(dynamodb, deps.settings.audit_table)
    tty = sys.stderr.isatty()
    shown: list[Any] = [float("-inf"), None, None]  # when, what was printed, the latest

    def progress(p: Any) -> None:
        text = inventory.progress_text(p)
        shown[2] = text
        if tty:
            print("\r" + text, end="", file=sys.stderr, flush=True)
        elif p.done == p.total or time.monotonic() - shown[0] >= 10:
            # a log, not a terminal: a line every 10 s at most
            print(text, file=sys.stderr, flush=True)
            shown[0], shown[1] = time.monotonic(), text

    result = inventory.walk(deps, registry_of, config, store, resume=args.resume, progress=progress)
    if tty:
        print(file=sys.stderr)
    elif shown[2] != shown[1]:
        print(shown[2], file=sys.stderr)  # where it stopped
    if args.resume and not result.resumed:
        print("note: no unfinished walk to resume: walked from the start", file=sys.stderr)
    started: list[Any] = []
    if args.backfill and result.interrupted:
        print("note: --backfill waits for a finished walk: resume it first", file=sys.stderr)
    elif args.backfill:
        started = backfill.start_backfills(result.checkpoint.backfill_pairs(), backfills_of)
    if args.json:
        document = inventory.render_json(result)
        if args.backfill:
            document["backfills_started"] = backfill.started_json(started)
        print(json.dumps(document, indent=2))
    else:
        print(inventory.render_text(result))
        if args.backfill and not result.interrupted:
            print(backfill.render_started(started))
    if result.interrupted:
        print(
            "interrupted: what was done is recorded; go on with "
            "`python -m chalicelib.cli reconcile --all --resume`",
            file=sys.stderr,
        )
        return 130
    failed = result.planning_errors or result.checkpoint.errors
    return 1 if failed or any(s.outcome == "error" for s in started) else 0


def _backfill_status(args: argparse.Namespace, deps: Any, config: Any, backfills_of: Any) -> int:
    from chalicelib import backfill

    sources = [registry.location for registry in config.sources]
    followed, errors = backfill.follow(sources, backfills_of, deps)
    if args.json:
        print(json.dumps(backfill.render_json(followed, errors), indent=2))
    else:
        print(backfill.render_followed(followed, errors))
    return 1 if errors or any(f.error for f in followed) else 0


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

    wait = command(
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
    wait.set_defaults(func=cmd_wait)

    rec = command(
        "reconcile",
        "ask every registry what it holds and record it: arrivals, tags, images older than the "
        "auditor",
        "--repository R: asks each location the rules involve for R (sources and their\n"
        "destinations, through AUDIT_ROLE_NAME) and prints, per location, the digest each tag\n"
        "names there and each replica's state, in the registry, in the ledger and in ECR's own\n"
        "replication status; `!` marks where the registry and the ledger disagree. What the\n"
        "registries show is recorded, one ledger commit per image and no alert: a replica found\n"
        "present counts as arrived, a tag head that differs is corrected, an image the ledger\n"
        "never heard of is recorded as pushed.\n"
        "--all: the same for every repository the rules cover in every source registry, with a\n"
        "progress bar (stderr), at most --rate registry calls per second, and a checkpoint in\n"
        "the ledger after each repository: after Ctrl-C or a crash, --resume goes on from it.\n"
        "It lists the images that never reached a destination (ECR replicates only what is\n"
        "pushed after a rule exists); --backfill then starts ECR's replication backfill for\n"
        "those destinations (one in progress per destination Region), and --backfill-status\n"
        "follows the backfills and records the images they replicated. Backfill needs a role\n"
        "allowed ecr:StartReplicationBackfill (--backfill-role; the audit role is read-only).\n"
        "Exit 0 done, 1 when a registry could not be asked, 2 on bad usage, 130 interrupted.\n\n"
        "examples:\n"
        "  python -m chalicelib.cli reconcile --env-file env.json --repository team/api --tag v1\n"
        "  python -m chalicelib.cli reconcile --repository team/api --digest sha256:… --json\n"
        "  python -m chalicelib.cli reconcile --all --rate 5\n"
        "  python -m chalicelib.cli reconcile --all --resume --backfill --backfill-role backfill\n"
        "  python -m chalicelib.cli reconcile --backfill-status --backfill-role backfill",
    )
    what = rec.add_argument_group("what to reconcile (one of)")
    what.add_argument("--repository", metavar="R", help="one repository (every image of it)")
    what.add_argument("--all", action="store_true", help="every repository the rules cover")
    what.add_argument(
        "--backfill-status", action="store_true", help="follow ECR's replication backfills"
    )
    one = rec.add_argument_group("with --repository")
    image = one.add_mutually_exclusive_group()
    image.add_argument("--tag", metavar="T", help="only the image(s) this tag names anywhere")
    image.add_argument("--digest", metavar="D", help="only this image")
    walk = rec.add_argument_group("with --all")
    walk.add_argument(
        "--rate",
        type=float,
        metavar="N",
        help="at most N registry API calls per second, over all registries (default 5)",
    )
    walk.add_argument(
        "--resume", action="store_true", help="go on from the checkpoint of an unfinished walk"
    )
    walk.add_argument(
        "--backfill",
        action="store_true",
        help="start ECR replication backfills for the destinations some image never reached",
    )
    rec.add_argument(
        "--backfill-role",
        metavar="NAME",
        help="role to assume in the source accounts for backfills (default AUDIT_ROLE_NAME)",
    )
    rec.add_argument("--json", action="store_true", help="print the report as JSON")
    rec.add_argument("--env-file", metavar="F", help="JSON object of environment variables")
    rec.set_defaults(func=cmd_reconcile)
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
