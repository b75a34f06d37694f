"""Injected AWS failures for the emulator: throttling and access denied, on request, per account.

Tests and the demo need an audit role that is throttled or lacks a permission; moto enforces no
IAM and never throttles. A fault is posted to the emulator's control path and answers matching
requests, before moto or the other emulated APIs see them, with the error the service's protocol
gives for it (botocore parses it as it parses AWS's):

    POST   /_emulator/faults  {"service": "ecs", "operation": "DescribeServices",
                               "account": "111122223333", "region": "eu-west-1",
                               "error": "ThrottlingException", "times": 2}
    GET    /_emulator/faults  -> {"faults": [... with "hits"]}
    DELETE /_emulator/faults  -> every fault removed

`service` is the signing name of the credential scope (ecs, lambda, ecr, ...), `operation` the
API's name (`*`: any); `account` and `region` are optional (any); `times` is how many requests
it fails (absent: until removed). `error` is one of ERRORS.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

PATH = "/_emulator/faults"
SCOPE_RE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/")

DENIED = "User is not authorized to perform: {action}"
# error code -> (status, message) on JSON-1.1 services; REST-JSON services (Lambda) use theirs
ERRORS = {
    "ThrottlingException": (400, "Rate exceeded"),
    "AccessDeniedException": (400, DENIED),
}
REST_ERRORS = {
    "ThrottlingException": ("TooManyRequestsException", 429, "Rate exceeded"),
    "AccessDeniedException": ("AccessDeniedException", 403, DENIED),
}

# REST-JSON operations by (method, path pattern): what a fault can name for those services.
LAMBDA_ROUTES = (
    ("GET", re.compile(r"/2015-03-31/functions/?"), "ListFunctions"),
    ("POST", re.compile(r"/2015-03-31/functions/?"), "CreateFunction"),
    ("GET", re.compile(r"/2015-03-31/functions/[^/]+/?"), "GetFunction"),
    ("DELETE", re.compile(r"/2015-03-31/functions/[^/]+/?"), "DeleteFunction"),
    ("GET", re.compile(r"/2015-03-31/functions/[^/]+/configuration/?"), "GetFunctionConfiguration"),
    ("PUT", re.compile(r"/2015-03-31/functions/[^/]+/code/?"), "UpdateFunctionCode"),
)


@dataclass
class Fault:
    service: str
    operation: str
    error: str
    account: str | None = None
    region: str | None = None
    times: int | None = None
    hits: int = 0

    def matches(self, service: str, operation: str, account: str, region: str) -> bool:
        return (
            self.service == service
            and self.operation in ("*", operation)
            and self.account in (None, account)
            and self.region in (None, region)
            and (self.times is None or self.hits < self.times)
        )


def operation_of(environ: dict[str, Any], service: str) -> str:
    """The API operation a request calls: its X-Amz-Target, or Lambda's route."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return target.rpartition(".")[2]
    if service == "lambda":
        method, path = environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")
        for verb, pattern, name in LAMBDA_ROUTES:
            if verb == method and pattern.fullmatch(path):
                return name
    return ""


def caller(environ: dict[str, Any]) -> tuple[str, str, str] | None:
    """(account, region, signing service) of a signed request, else None."""
    match = SCOPE_RE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if match is None:
        return None
    from moto.iam.models import get_account_id_from

    access_key, region, service = match.groups()
    return get_account_id_from(access_key), region, service


def wrap(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """`app` behind the fault switchboard."""
    faults: list[Fault] = []

    def application(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == PATH:
            return _control(faults, environ, start_response)
        if faults:
            who = caller(environ)
            if who is not None:
                account, region, service = who
                operation = operation_of(environ, service)
                for fault in faults:
                    if fault.matches(service, operation, account, region):
                        fault.hits += 1
                        return _fail(fault, service, operation, start_response)
        return app(environ, start_response)

    return application


def _control(faults: list[Fault], environ: dict[str, Any], start_response: Any) -> list[bytes]:
    method = environ.get("REQUEST_METHOD")
    status, body = 200, dict[str, Any]()
    if method == "POST":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        try:
            spec = json.loads(environ["wsgi.input"].read(length) or b"{}")
            fault = Fault(**{k: v for k, v in spec.items() if k != "hits"})
            if fault.error not in ERRORS or not fault.service or not fault.operation:
                raise ValueError(f"error must be one of {sorted(ERRORS)}")
        except (ValueError, TypeError, AttributeError) as error:
            status, body = 400, {"error": f"bad fault: {error}"}
        else:
            faults.append(fault)
            body = asdict(fault)
    elif method == "DELETE":
        faults.clear()
    body = body or {"faults": [asdict(f) for f in faults]}
    return _json(start_response, status, body, [])


def _fail(fault: Fault, service: str, operation: str, start_response: Any) -> list[bytes]:
    action = f"{service}:{operation}"
    if fault.error == "AccessDeniedException":
        action += f" because no identity-based policy allows the {service}:{operation} action"
    if service == "lambda":
        code, status, message = REST_ERRORS[fault.error]
        headers = [("x-amzn-ErrorType", code)]
        if status == 429:
            headers.append(("Retry-After", "1"))
        body = {"Type": "User", "message": message.format(action=action)}
        if code == "TooManyRequestsException":
            body["Reason"] = "CallerRateLimitExceeded"
        return _json(start_response, status, body, headers)
    status, message = ERRORS[fault.error]
    return _json(
        start_response,
        status,
        {"__type": fault.error, "message": message.format(action=action)},
        [],
    )


def _json(
    start_response: Any, status: int, body: Any, headers: list[tuple[str, str]]
) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(
        f"{status} {'OK' if status == 200 else 'Error'}",
        [
            ("Content-Type", "application/x-amz-json-1.1"),
            ("Content-Length", str(len(data))),
            *headers,
        ],
    )
    return [data]
