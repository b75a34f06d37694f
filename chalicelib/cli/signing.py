"""What `dashboard-link` and `gate-token` share: the stage's KMS HMAC key (from a deployed
stack's outputs or given), who is minting (their ARN, for the API's logs), and AWS failures as
one-line errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.cli.common import USAGE, CliError

KEY_HINT = "pass the KMS key of the stage's DashboardLinkKeyArn output, or use --stack"


def stack_outputs(session: Any, stack: str, config: Any) -> tuple[str, str]:
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


def with_stage_key[T](key_of: Callable[[Any, Any], str], mint: Callable[[Any, str], T]) -> T:
    """`mint(mac, subject)` with the KMS HMAC key that `key_of(session, client_config)` names;
    `subject` is the caller's ARN ("unknown" if STS will not say: the token still works)."""
    from chalicelib.local import aws_errors

    aws_errors.check_endpoint_reachable()
    import boto3

    from chalicelib.adapters.kms import KmsMac

    session = boto3.session.Session()
    config = aws_errors.client_config()
    try:
        key = key_of(session, config)
        try:
            subject = session.client("sts", config=config).get_caller_identity()["Arn"]
        except Exception:
            subject = "unknown"
        return mint(KmsMac(session.client("kms", config=config), key), subject)
    except CliError:
        raise
    except Exception as error:
        described = aws_errors.describe(error, missing_hint=KEY_HINT)
        if described is None:
            raise
        raise described from error
