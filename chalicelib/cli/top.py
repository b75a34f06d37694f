"""The top-level parser and `main`: the commands, in the order `--help` lists them, and the
one-line error every unexpected failure becomes."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from chalicelib.cli import (
    dashboard_link,
    demo,
    doctor,
    gate_token,
    migrate,
    provision,
    reconcile,
    replay,
    status,
    wait,
)
from chalicelib.cli.common import FAILED, USAGE, CliError, Commands, Formatter, Parser, fail

# Each module's `register` adds its subcommand; a new command is a module and a line here.
COMMANDS = (
    demo,
    provision,
    replay,
    status,
    dashboard_link,
    doctor,
    wait,
    gate_token,
    reconcile,
    migrate,
)

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
  ecr-audit gate-token --env-file env.json --repository-prefix team/ --days 30
  AUDIT_ROLE_NAME=ecr-replication-auditor-read ecr-audit reconcile --repository team/api
  ecr-audit migrate --env-file env.json
"""


def parser(prog: str | None = None) -> argparse.ArgumentParser:
    """`prog` names the command in usage lines; by default, as it was invoked."""
    common = Parser(add_help=False)
    common.add_argument(
        "--debug", action="store_true", help="print the traceback of an unexpected error"
    )
    alias = Path(sys.argv[0]).name == "ecr-audit"
    top = Parser(
        prog=prog or ("ecr-audit" if alias else "python -m chalicelib.cli"),
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=Formatter,
        parents=[common],
    )
    subparsers = top.add_subparsers(
        dest="command", title="commands", metavar="COMMAND", required=True
    )
    commands = Commands(subparsers, common)
    for module in COMMANDS:
        module.register(commands)
    return top


def _app_logs_to_stderr() -> None:
    """The app's JSON log lines go to stderr: stdout carries only what a command prints (a
    status, a JSON document, an environment), so that it can be piped."""
    import logging

    from chalicelib.observability import logger

    handler = logger.registered_handler
    if isinstance(handler, logging.StreamHandler) and not isinstance(handler.stream, _Stderr):
        handler.setStream(_Stderr())


class _Stderr:
    """Whatever sys.stderr is when a line is written (a test harness may swap it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def main(argv: Sequence[str] | None = None) -> int:
    # Local runs have no CloudWatch agent to read EMF metric lines from stdout.
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    args = parser().parse_args(argv)
    _app_logs_to_stderr()
    try:
        return int(args.func(args))
    except CliError as error:
        return fail(error)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `status | head`: the reader left; nothing more to say
        return 0
    except Exception as error:
        from chalicelib.core.errors import LedgerLayoutError

        if isinstance(error, LedgerLayoutError):  # the table first: migrate it, or upgrade
            return fail(CliError(str(error), USAGE))
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
        return fail(described)
