"""STS role cache: the audit role's credentials per monitored account, and clients built on them.

The auditor assumes `arn:<partition>:iam::<account>:role/<AUDIT_ROLE_NAME>` once per account and
keeps the credentials until shortly before they expire, so a warm Lambda container pays one
AssumeRole per account per credential lifetime (an hour for a Lambda role, which role chaining
caps at one hour), however many registries and calls it makes. Clients are built lazily per
(account, region, service) and rebuilt only when their account's credentials are renewed.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.core.errors import RegistryUnavailable
from chalicelib.core.lifecycle import partition_of

ROLE_NAME_RE = re.compile(r"^[\w+=,.@-]{1,64}$")
SESSION_NAME = "ecr-replication-auditor"
REFRESH_BEFORE = timedelta(minutes=5)
DURATION_SECONDS = 3600  # the most role chaining allows

THROTTLING = {
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
}
DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}
OWN_CREDENTIALS = {
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
}


def role_arn(role_name: str, account: str, region: str) -> str:
    return f"arn:{partition_of(region)}:iam::{account}:role/{role_name}"


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str
    expires_at: datetime


def client_config() -> Any:
    # The same retry and timeout policy as bootstrap's clients: standard mode backs off on
    # throttling by itself; short timeouts keep one slow registry from eating a sweep.
    from botocore.config import Config

    return Config(retries={"mode": "standard"}, connect_timeout=5, read_timeout=10)


def sdk_failure(error: Exception) -> tuple[str, str] | None:
    """(reason, detail) for an SDK error an adapter should report as RegistryUnavailable, or
    None when it is not an availability problem (the caller decides what it means)."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectionError,
        HTTPClientError,
        NoCredentialsError,
    )

    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        message = str(error.response.get("Error", {}).get("Message", "")) or code
        if code in THROTTLING:
            return "throttled", message
        if code in DENIED:
            return "access denied", message
        if code in OWN_CREDENTIALS:
            return "the auditor's credentials were refused", message
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in {"ServerException", "ServiceUnavailable", "InternalFailure"} or status >= 500:
            return "server error", message
        return None
    if isinstance(error, NoCredentialsError):
        return "no AWS credentials for the auditor", str(error)
    if isinstance(error, ConnectionError | HTTPClientError):
        return "unreachable", str(error)
    if isinstance(error, BotoCoreError):
        return "SDK error", str(error)
    return None


def _assume_failure(error: Exception, account: str, region: str, arn: str) -> Exception:
    from botocore.exceptions import ClientError

    failure = sdk_failure(error)
    if failure is None and isinstance(error, ClientError):  # e.g. RegionDisabledException
        details = error.response.get("Error", {})
        failure = str(details.get("Code", "error")), str(details.get("Message", ""))
    if failure is None:
        return error  # not an SDK error: a bug, let it surface
    reason, detail = failure
    if reason == "access denied":
        reason = "access denied: the role may not exist there, or may not trust this principal"
    return RegistryUnavailable(account, region, f"cannot assume {arn} ({reason})", detail)


class AuditRoles:
    """Assumes the audit role per account, caches its credentials, builds clients from them."""

    def __init__(
        self,
        role_name: str,
        *,
        session: Any = None,
        sts_client: Any = None,
        clock: Callable[[], datetime] | None = None,
        refresh_before: timedelta = REFRESH_BEFORE,
        session_name: str = SESSION_NAME,
    ) -> None:
        if not ROLE_NAME_RE.match(role_name):
            raise ValueError(f"not an IAM role name: {role_name!r}")
        self.role_name = role_name
        self._session = session
        self._sts_override = sts_client  # tests hand in a stubbed client
        self._sts: dict[str, Any] = {}
        self._clock = clock or (lambda: datetime.now(UTC))
        self._refresh_before = refresh_before
        self._session_name = session_name
        self._credentials: dict[tuple[str, str], Credentials] = {}
        self._clients: dict[tuple[str, str, str], tuple[Credentials, Any]] = {}
        self.assume_calls = 0  # how many AssumeRole calls this cache made (for cost reports)
        # The sweep's lanes ask from several threads; a boto3 session is not thread-safe, and
        # one AssumeRole per account is enough: creating credentials and clients is serialised.
        self._lock = threading.RLock()

    def _boto_session(self) -> Any:
        if self._session is None:
            import boto3

            self._session = boto3.session.Session()
        return self._session

    def _sts_client(self, region: str) -> Any:
        if self._sts_override is not None:
            return self._sts_override
        if region not in self._sts:
            # A regional STS endpoint in the target's partition; AWS_ENDPOINT_URL still wins.
            self._sts[region] = self._boto_session().client(
                "sts", region_name=region, config=client_config()
            )
        return self._sts[region]

    def role_arn(self, account: str, region: str) -> str:
        return role_arn(self.role_name, account, region)

    def credentials(self, account: str, region: str) -> Credentials:
        """The audit role's credentials in `account`, assumed anew only near their expiry."""
        with self._lock:
            return self._credentials_of(account, region)

    def _credentials_of(self, account: str, region: str) -> Credentials:
        key = (partition_of(region), account)
        cached = self._credentials.get(key)
        if cached is not None and self._clock() < cached.expires_at - self._refresh_before:
            return cached
        arn = self.role_arn(account, region)
        self.assume_calls += 1
        try:
            response = self._sts_client(region).assume_role(
                RoleArn=arn, RoleSessionName=self._session_name, DurationSeconds=DURATION_SECONDS
            )
        except Exception as error:
            raise _assume_failure(error, account, region, arn) from None
        raw = response["Credentials"]
        expires = raw["Expiration"]
        if isinstance(expires, str):
            expires = datetime.fromisoformat(expires.replace("Z", "+00:00"))
        fresh = Credentials(
            access_key_id=raw["AccessKeyId"],
            secret_access_key=raw["SecretAccessKey"],
            session_token=raw["SessionToken"],
            expires_at=expires.astimezone(UTC),
        )
        self._credentials[key] = fresh
        return fresh

    def forget(self, account: str, region: str) -> None:
        """Drop an account's credentials (e.g. after the service called them expired)."""
        with self._lock:
            self._credentials.pop((partition_of(region), account), None)

    def client(self, service: str, account: str, region: str) -> Any:
        """A client for `service` in `account`/`region` acting as the audit role."""
        with self._lock:
            return self._client_of(service, account, region)

    def _client_of(self, service: str, account: str, region: str) -> Any:
        credentials = self.credentials(account, region)
        key = (account, region, service)
        cached = self._clients.get(key)
        if cached is not None and cached[0] is credentials:
            return cached[1]
        client = self._boto_session().client(
            service,
            region_name=region,
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            aws_session_token=credentials.session_token,
            config=client_config(),
        )
        self._clients[key] = (credentials, client)
        return client
