"""`reconcile`: what the registries hold, recorded in the ledger; --all walks, backfills."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from chalicelib.cli.common import (
    USAGE,
    CliError,
    Commands,
    check_image_arguments,
    ledger_settings,
    load_env_file,
)


def run(args: argparse.Namespace) -> int:
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
        check_image_arguments(args)
    load_env_file(args.env_file)
    settings = ledger_settings()
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

    from chalicelib import bootstrap
    from chalicelib.adapters.ecr import EcrRegistry
    from chalicelib.adapters.roles import AuditRoles
    from chalicelib.adapters.throttle import RateLimit, RoleClient
    from chalicelib.usecases import reconcile

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
    from chalicelib.cli import reconcile_text
    from chalicelib.usecases import reconcile

    if not reconcile.roles_of(config, args.repository):
        raise CliError(
            f"no replication rule sends {args.repository} anywhere: nothing to reconcile "
            "(check the name, or REPLICATION_CONFIG / REPLICATION_SOURCES)",
            USAGE,
        )
    selection = reconcile.Selection(tag=args.tag, digest=args.digest)
    report = reconcile.reconcile_repository(args.repository, deps, registry_of, config, selection)
    if args.json:
        print(json.dumps(reconcile_text.render_json(report), indent=2))
    else:
        print(reconcile_text.render_text(report, names))
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

    from chalicelib import bootstrap
    from chalicelib.usecases import backfill, inventory

    store = bootstrap.build_checkpoint_store(deps.settings, dynamodb)
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
    from chalicelib.usecases import backfill

    sources = [registry.location for registry in config.sources]
    followed, errors = backfill.follow(sources, backfills_of, deps)
    if args.json:
        print(json.dumps(backfill.render_json(followed, errors), indent=2))
    else:
        print(backfill.render_followed(followed, errors))
    return 1 if errors or any(f.error for f in followed) else 0


def register(commands: Commands) -> None:
    rec = commands.add(
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
    rec.set_defaults(func=run)
