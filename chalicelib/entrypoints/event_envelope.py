"""What every handler reads from an EventBridge event before any model: its id for log lines
and, for the sweep, its time. No schema validator here, so the sweep never loads one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.core.errors import InvalidEvent
from chalicelib.core.lifecycle import event_time_problem, parse_time

# Every key part stays far inside DynamoDB's limits (2048-byte partition, 1024-byte sort key):
# ids are printable ASCII of at most 128 characters, names and digests bounded as ECR does.
MAX_EVENT_ID = 128


def timestamp(value: Any) -> datetime:
    # EventBridge times are ISO-8601 strings; a lax parser would take a number too.
    if not isinstance(value, str):
        raise ValueError("must be an ISO-8601 timestamp string")
    try:
        return parse_time(value)
    except OverflowError:  # an offset that carries the time past datetime's range
        raise ValueError("out of range once converted to UTC") from None


def checked_time(moment: datetime, now: datetime) -> datetime:
    problem = event_time_problem(moment, now)  # parse_time gave an aware UTC time
    if problem:
        raise InvalidEvent(problem)
    return moment


def event_id_of(raw: Any) -> str:
    """The event's id for a log line: printable, bounded, whatever the event holds."""
    if not isinstance(raw, dict):
        return "<not an object>"
    text = str(raw.get("id", "<no id>"))
    shown = "".join(c if c.isprintable() else "?" for c in text[:MAX_EVENT_ID])
    return shown + ("..." if len(text) > MAX_EVENT_ID else "")


def parse_schedule_time(raw: Any, now: datetime) -> datetime:
    """The sweep's `now` is its own event's time, so a replayed schedule audits as of then."""
    if not isinstance(raw, dict):
        raise InvalidEvent("event: not a JSON object")
    try:
        moment = timestamp(raw.get("time"))
    except (ValueError, OverflowError) as error:
        raise InvalidEvent(f"time: not an ISO-8601 timestamp ({error})") from None
    return checked_time(moment, now)
