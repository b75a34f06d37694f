"""AWS clients for the deployed app: one boto3 session, standard retries, short timeouts, and
clients made on first use. The composition root (bootstrap.py) asks here, so that nothing above
the adapters imports boto3."""

from __future__ import annotations

import threading
from typing import Any


def session() -> Any:
    import boto3

    return boto3.session.Session()


def client(session: Any, service: str) -> Any:
    # botocore honours AWS_ENDPOINT_URL and AWS_MAX_ATTEMPTS itself; standard retry mode
    # gives throttling back-off without hand-written loops.
    from botocore.config import Config

    return session.client(
        service, config=Config(retries={"mode": "standard"}, connect_timeout=5, read_timeout=10)
    )


class LazyClient:
    """A client made on first use: an invocation that publishes nothing (most events, an idle
    sweep, every API call) never pays the SNS client's creation (tens of ms of cold start)."""

    def __init__(self, session: Any, service: str) -> None:
        self._session, self._service, self._client = session, service, None
        self._lock = threading.Lock()  # the sweep's lanes publish from several threads

    def __getattr__(self, name: str) -> Any:
        with self._lock:
            if self._client is None:
                self._client = client(self._session, self._service)
        return getattr(self._client, name)
