"""Deliver EventBridge events to the app's handlers whose patterns match, as EventBridge would.

Matching uses moto's implementation of EventBridge patterns against the patterns the Chalice
app itself registers, so the routing table is never written twice.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEDULE_PATTERN = {"source": ["aws.events"], "detail-type": ["Scheduled Event"]}

# Every EventBridge event carries these top-level keys, with these JSON types.
ENVELOPE = {
    "version": str,
    "id": str,
    "detail-type": str,
    "source": str,
    "account": str,
    "time": str,
    "region": str,
    "resources": list,
    "detail": dict,
}


def envelope_problem(event: Any) -> str | None:
    """Why `event` is not an EventBridge event at all (None when its envelope is whole)."""
    if not isinstance(event, dict):
        return f"not an EventBridge event: a JSON {type(event).__name__}, not an object"
    missing = [key for key in ENVELOPE if key not in event]
    if missing:
        return f"not an EventBridge event: missing {', '.join(missing)}"
    wrong = [key for key, kind in ENVELOPE.items() if not isinstance(event[key], kind)]
    if wrong:
        return "; ".join(f"{key}: must be a JSON {ENVELOPE[key].__name__}" for key in wrong)
    return None


@dataclass
class Delivery:
    """Which handlers received an event and what each did with it."""

    handlers: list[str] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)
    problem: str | None = None  # set when the envelope was refused before any handler

    @property
    def outcome(self) -> str:
        """delivered | ignored | rejected | unmatched"""
        outcomes = {r.get("outcome") for r in self.results}
        if self.problem or "rejected" in outcomes:
            return "rejected"
        if not self.handlers:
            return "unmatched"
        return "ignored" if outcomes == {"ignored"} else "delivered"

    @property
    def reason(self) -> str | None:
        reasons = [r["reason"] for r in self.results if r.get("reason")]
        return self.problem or ("; ".join(reasons) if reasons else None)


def handler_patterns(app: Any) -> list[tuple[str, dict[str, Any]]]:
    """(function name, event pattern) for every event-driven handler of a Chalice app."""
    from chalice.app import CloudWatchEventConfig, ScheduledEventConfig

    found = []
    for source in app.event_sources:
        if isinstance(source, CloudWatchEventConfig):
            found.append((source.name, source.event_pattern))
        elif isinstance(source, ScheduledEventConfig):
            found.append((source.name, SCHEDULE_PATTERN))
    return found


def matching_handlers(app: Any, event: dict[str, Any]) -> list[str]:
    from moto.events.models import EventPattern

    return [
        name
        for name, pattern in handler_patterns(app)
        if EventPattern.load(json.dumps(pattern)).matches_event(event)  # type: ignore[arg-type]
    ]


def read_events(paths: Iterable[str | Path]) -> Iterator[Any]:
    """Events from files holding JSON lines, a JSON array, or one JSON object."""
    for path in paths:
        text = Path(path).read_text()
        stripped = text.strip()
        if not stripped:
            raise ValueError(f"{path}: holds no events (the file is empty)")
        try:
            loaded = json.loads(stripped)
        except json.JSONDecodeError:
            for number, line in enumerate(text.splitlines(), 1):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError as error:
                        raise ValueError(
                            f"{path}:{number}:{error.colno}: not JSON: {error.msg}"
                        ) from None
            continue
        if isinstance(loaded, list):
            yield from loaded
        else:
            yield loaded


def _import_chalice_test_quietly() -> None:
    """Import chalice.test without its terminal probe.

    chalice.test pulls in `inquirer`, whose import builds a `blessed.Terminal`, which writes
    capability queries to a TTY and waits for answers: garbage on screen and up to 10 s lost
    where the terminal does not answer. blessed skips the probe when NO_COLOR is set.
    """
    if "chalice.test" in sys.modules:
        return
    previous = os.environ.get("NO_COLOR")
    os.environ["NO_COLOR"] = "1"
    try:
        import chalice.test  # noqa: F401
    finally:
        if previous is None:
            os.environ.pop("NO_COLOR", None)
        else:
            os.environ["NO_COLOR"] = previous


class _StageEnvironment:
    """The stage's environment variables (.chalice/config.json) in the real environment while
    any invocation runs, restored after the last one.

    chalice.test replaces `os.environ` by a copy around each invocation and puts the original
    back afterwards. Two threads interleave that into a lasting swap: `os.environ` stays a
    plain dict holding one invocation's copy, which the process's later settings, children and
    tests then read. Invocations from several threads (the concurrency tests, the bench) share
    this instead; they all run the same app, so they ask for the same variables.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._saved: dict[str, str | None] = {}

    @contextmanager
    def __call__(self, variables: dict[str, str]) -> Iterator[None]:
        with self._lock:
            if self._running == 0:
                self._saved = {name: os.environ.get(name) for name in variables}
                os.environ.update(variables)
            self._running += 1
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
                if self._running == 0:
                    for name, value in self._saved.items():
                        if value is None:
                            os.environ.pop(name, None)
                        else:
                            os.environ[name] = value


_STAGE_ENVIRONMENT = _StageEnvironment()


class Replayer:
    """Invokes handlers through chalice.test.Client, the way Lambda would receive the event;
    from any number of threads at once."""

    def __init__(self, app: Any, project_dir: str | Path) -> None:
        _import_chalice_test_quietly()
        from chalice.test import Client

        self._app = app
        self._client = Client(app, project_dir=str(project_dir))
        self._client.lambda_._patched_env_vars = _STAGE_ENVIRONMENT  # type: ignore[method-assign,assignment]

    def deliver(self, event: Any) -> Delivery:
        """Check the envelope, then invoke every handler whose pattern matches."""
        problem = envelope_problem(event)
        if problem:
            return Delivery(problem=problem)
        delivery = Delivery(handlers=matching_handlers(self._app, event))
        for name in delivery.handlers:
            payload = self._client.lambda_.invoke(name, event).payload
            delivery.results.append(payload if isinstance(payload, dict) else {})
        return delivery

    def close(self) -> None:
        self._client.__exit__(None, None, None)

    def __enter__(self) -> Replayer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
