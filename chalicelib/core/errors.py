"""The project's own exceptions, so adapters never leak SDK error types upward."""

from __future__ import annotations


class AuditorError(Exception):
    """Base class for errors the auditor raises on purpose."""


class ConfigError(AuditorError, ValueError):
    """A setting (REPLICATION_CONFIG, ...) is not valid; the message says where."""


class InvalidEvent(AuditorError):
    """An inbound event is not what its EventBridge pattern promised."""


class InvalidRequest(AuditorError):
    """An HTTP request has a bad or missing parameter (becomes a 400)."""


class NotFound(AuditorError):
    """The requested resource does not exist (becomes a 404)."""


class Forbidden(AuditorError):
    """The caller's token does not cover what it asked for (becomes a 403)."""


class DeliveryFailed(AuditorError):
    """An alert channel (SNS, Slack) did not accept a message; it will be retried."""


class SweepIncomplete(AuditorError):
    """Some sweep steps failed (and stay queued) after every other step was done."""


class IgnoredEvent(AuditorError):
    """A well-formed event the auditor does not act on (unmonitored, untrusted, not a change)."""


class RegistryUnavailable(AuditorError):
    """A registry could not be asked (role not assumable, access denied, throttled, unreachable).

    The message is one line naming the account, the Region and the problem, fit for a log line
    or a CLI error; `reason` is a short machine-readable code.
    """

    def __init__(self, account: str, region: str, reason: str, detail: str = "") -> None:
        self.account = account
        self.region = region
        self.reason = reason
        self.detail = " ".join(detail.split())  # one line, whatever the SDK said
        text = f"ECR registry {account}/{region}: {reason}"
        super().__init__(f"{text}: {self.detail}" if self.detail else text)


class RepositoryNotFound(AuditorError):
    """The repository does not exist in that registry (for a replica: it is missing there)."""

    def __init__(self, account: str, region: str, repository: str) -> None:
        self.account = account
        self.region = region
        self.repository = repository
        super().__init__(f"ECR registry {account}/{region} has no repository {repository}")


class LedgerLayoutError(AuditorError):
    """The ledger's table is in a layout this release does not read or write (an older one to
    migrate, or a newer one written by a later release); the message says which and what to do.
    Raised before anything is written, so the event stays with Lambda's retries."""
