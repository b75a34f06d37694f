"""One line, and an exit code, for each AWS SDK failure the command line can meet.

The command line promises a one-line error naming the problem and the fix, exit 2 for bad
usage or input (what the person must change before trying again: arguments, files, settings,
credentials, a table that does not exist) and 1 for a failed check or a service that cannot be
reached or refuses (trying again later may work). Tracebacks are for `--debug`.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

# How long the command line waits for an endpoint: a refused or silent endpoint must fail in
# seconds, not after botocore's default 60 s timeout and its retries (26 s seen for `provision`).
CONNECT_TIMEOUT = 3
READ_TIMEOUT = 30
MAX_ATTEMPTS = 2

USAGE = 2
FAILED = 1

CREDENTIAL_CODES = {
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "ExpiredTokenException",
    "MissingAuthenticationToken",
}
DENIED_CODES = {"AccessDenied", "AccessDeniedException", "AuthorizationError"}
NOT_FOUND_CODES = {"ResourceNotFoundException", "NotFound", "NotFoundException"}
EXISTS_CODES = {"ResourceInUseException", "TableAlreadyExistsException"}
BUSY_CODES = {
    "ThrottlingException",
    "Throttling",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
}


@dataclass
class CliError(Exception):
    """A failure the command line reports as `error: <message>` and exits with `code`."""

    message: str
    code: int = FAILED

    def __str__(self) -> str:
        return self.message


def endpoint() -> str | None:
    return os.environ.get("AWS_ENDPOINT_URL", "").strip() or None


def where() -> str:
    """Where requests go, for messages: the emulator's URL or "AWS <region>"."""
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "?"
    return endpoint() or f"AWS ({region})"


def client_config() -> object:
    """botocore Config for command-line clients: short timeouts, one retry."""
    from botocore.config import Config

    return Config(
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS},
    )


def check_endpoint_reachable() -> None:
    """With AWS_ENDPOINT_URL set, one TCP connect first: a stopped emulator fails at once."""
    url = endpoint()
    if not url:
        return
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CliError(
            f"AWS_ENDPOINT_URL={url!r} is not an http(s) URL; set it to the emulator's address, "
            "e.g. http://127.0.0.1:5005",
            USAGE,
        )
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise CliError(f"AWS_ENDPOINT_URL={url!r} has an invalid port", USAGE) from None
    try:
        with socket.create_connection((parts.hostname, port), timeout=CONNECT_TIMEOUT):
            pass
    except OSError as error:
        reason = error.strerror or type(error).__name__
        if isinstance(error, TimeoutError | socket.timeout):
            reason = f"no answer within {CONNECT_TIMEOUT} s"
        raise CliError(
            f"cannot reach the AWS endpoint {url} ({reason.lower()}); start the emulator "
            "(e.g. `python -m moto.server -H 127.0.0.1 -p 5005`) or fix AWS_ENDPOINT_URL",
            FAILED,
        ) from None


def describe(
    error: BaseException, table: str | None = None, missing_hint: str | None = None
) -> CliError | None:
    """The CliError for an AWS SDK exception, or None when `error` is not one.

    `table`: the ledger the command reads (a missing one gets the `provision` advice);
    `missing_hint`: what to do about anything else that does not exist.
    """
    from botocore import exceptions as bx

    if isinstance(error, bx.NoCredentialsError | bx.PartialCredentialsError):
        return CliError(
            "no AWS credentials found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
            "(any values for an emulator) or AWS_PROFILE",
            USAGE,
        )
    if isinstance(error, bx.NoRegionError):
        return CliError("no AWS region configured; set AWS_DEFAULT_REGION, e.g. us-east-1", USAGE)
    if isinstance(error, bx.ProfileNotFound):
        return CliError(f"{error}; fix AWS_PROFILE or ~/.aws/config", USAGE)
    if isinstance(error, bx.ConnectTimeoutError | bx.EndpointConnectionError):
        return CliError(
            f"cannot reach {where()}: {_first_line(error)}; start the emulator or check "
            "AWS_ENDPOINT_URL and the network",
            FAILED,
        )
    if isinstance(error, bx.ReadTimeoutError | bx.ConnectionClosedError):
        return CliError(
            f"{where()} did not answer in time ({type(error).__name__}); try again, or check "
            "that the endpoint is an AWS API or emulator",
            FAILED,
        )
    if isinstance(error, bx.ClientError):
        return _client_error(error, table, missing_hint)
    if isinstance(error, bx.BotoCoreError):
        return CliError(f"AWS SDK error: {_first_line(error)}", FAILED)
    return None


def _client_error(error: object, table: str | None, missing_hint: str | None) -> CliError:
    response = getattr(error, "response", {}) or {}
    detail = response.get("Error", {})
    code = str(detail.get("Code", "?"))
    message = _first_line(detail.get("Message") or code)
    operation = getattr(error, "operation_name", "call")
    if code in EXISTS_CODES:
        return CliError(f"{operation} at {where()}: {message}; pick another --suffix", USAGE)
    if code in NOT_FOUND_CODES and table and operation != "GenerateMac":
        return CliError(
            f"DynamoDB table {table!r} does not exist at {where()} ({operation}: {message}); "
            "run `provision` and use its output (an emulator forgets everything when it stops), "
            "or fix AUDIT_TABLE",
            USAGE,
        )
    if code in NOT_FOUND_CODES:
        hint = missing_hint or "check the name or ARN"
        return CliError(f"not found at {where()}: {operation}: {message}; {hint}", USAGE)
    if code in CREDENTIAL_CODES:
        return CliError(
            f"{where()} refused the credentials ({code}: {message}); refresh them or point "
            "AWS_PROFILE at the right account",
            USAGE,
        )
    if code in DENIED_CODES:
        return CliError(
            f"access denied for {operation} at {where()} ({message}); use credentials allowed "
            "to call it",
            USAGE,
        )
    if code in BUSY_CODES:
        return CliError(f"{where()} is throttling {operation} ({code}); try again shortly")
    return CliError(f"{operation} failed at {where()}: {code}: {message}")


def _first_line(value: object) -> str:
    lines = str(value).strip().splitlines()
    return lines[0] if lines else type(value).__name__
