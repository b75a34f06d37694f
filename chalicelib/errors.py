"""The project's own exceptions, so adapters never leak SDK error types upward."""

from __future__ import annotations


class AuditorError(Exception):
    """Base class for errors the auditor raises on purpose."""


class InvalidEvent(AuditorError):
    """An inbound event is not what its EventBridge pattern promised."""


class InvalidRequest(AuditorError):
    """An HTTP request has a bad or missing parameter (becomes a 400)."""


class NotFound(AuditorError):
    """The requested resource does not exist (becomes a 404)."""


class DeliveryFailed(AuditorError):
    """An alert channel (SNS, Slack) did not accept a message; it will be retried."""


class IgnoredEvent(AuditorError):
    """A well-formed event the auditor does not act on (unmonitored, untrusted, not a change)."""
