"""What every command shares: the parser classes, --env-file, settings or a usage error, and
the validation of image arguments; CliError and the exit codes come from local/aws_errors.py."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from chalicelib.local.aws_errors import FAILED, USAGE, CliError

__all__ = [
    "FAILED",
    "ROOT",
    "USAGE",
    "CliError",
    "Commands",
    "Formatter",
    "Parser",
    "check_image_arguments",
    "fail",
    "ledger_settings",
    "load_env_file",
    "settings_or_exit",
]

ROOT = Path(__file__).resolve().parents[2]
# An image digest of these algorithms is exactly this many lowercase hex digits (OCI image
# spec); one typed by hand that is not can name no image, and waiting for it never ends.
DIGEST_HEX_DIGITS = {"sha256": 64, "sha512": 128}


class Parser(argparse.ArgumentParser):
    """argparse, with its usage errors on one line that says where help is."""

    def error(self, message: str) -> Any:
        self.exit(USAGE, f"error: {message}; see `{self.prog} --help`\n")


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the examples' line breaks; wider option column than the default."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32)


class Commands:
    """The top parser's subcommands: each command module's `register` adds itself here."""

    def __init__(self, subparsers: Any, common: argparse.ArgumentParser) -> None:
        self._subparsers = subparsers
        self._common = common

    def add(self, name: str, summary: str, epilog: str = "") -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = self._subparsers.add_parser(
            name,
            help=summary,
            description=summary[0].upper() + summary[1:] + ".",
            epilog=epilog,
            formatter_class=Formatter,
            parents=[self._common],
        )
        return parser


def fail(error: CliError) -> int:
    print(f"error: {error}", file=sys.stderr)
    return error.code


def load_env_file(path: str | None) -> None:
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


def settings_or_exit() -> Any:
    from chalicelib.core.errors import ConfigError
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


def ledger_settings() -> Any:
    """Settings for commands that use the ledger but publish nothing: AUDIT_TABLE is needed,
    ALERT_TOPIC_ARN is not."""
    from chalicelib.core.errors import ConfigError
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


def check_image_arguments(args: argparse.Namespace) -> None:
    from chalicelib.core.lifecycle import DIGEST_RE, REPOSITORY_RE, TAG_RE

    if not REPOSITORY_RE.match(args.repository) or len(args.repository) > 256:
        raise CliError(
            f"--repository {args.repository!r} is not an ECR repository name (e.g. team/api)",
            USAGE,
        )
    if args.digest is not None and not DIGEST_RE.match(args.digest):
        raise CliError(f"--digest {args.digest!r} is not a digest like sha256:<hex>", USAGE)
    if args.digest is not None:
        algorithm, _, value = args.digest.partition(":")
        size = DIGEST_HEX_DIGITS.get(algorithm)
        if size is not None and not re.fullmatch(f"[0-9a-f]{{{size}}}", value):
            raise CliError(
                f"--digest {args.digest!r} is not a {algorithm} digest: {algorithm}: and "
                f"{size} lowercase hex digits, as `docker inspect` or ECR show it",
                USAGE,
            )
    if args.tag is not None and not TAG_RE.match(args.tag):
        raise CliError(f"--tag {args.tag!r} is not an image tag", USAGE)
