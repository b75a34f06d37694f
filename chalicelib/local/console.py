"""The demo's terminal: colour and an in-place progress bar only on a terminal, and each alert as
one line readable at a glance (when, kind, image, where, why)."""

from __future__ import annotations

import os
from typing import Any, TextIO

from chalicelib.local import scenario as day

MARKS = {
    "REPLICA_MISSING": "✖",
    "REPLICATION_FAILED": "✖",
    "TAG_OVERWRITTEN": "⚠",
    "TAG_DRIFT": "⚠",
    "DELETE_NOT_REPLICATED": "⚠",
    "PINNED_DIGEST_MISSING": "✖",
    "RECOVERED": "✔",
}
ASCII_MARKS = {
    "REPLICA_MISSING": "X",
    "REPLICATION_FAILED": "X",
    "TAG_OVERWRITTEN": "!",
    "TAG_DRIFT": "!",
    "DELETE_NOT_REPLICATED": "!",
    "PINNED_DIGEST_MISSING": "X",
    "RECOVERED": "+",
}
COLOURS = {
    "REPLICA_MISSING": "31",
    "REPLICATION_FAILED": "31",
    "TAG_OVERWRITTEN": "33",
    "TAG_DRIFT": "33",
    "DELETE_NOT_REPLICATED": "33",
    "PINNED_DIGEST_MISSING": "31",
    "RECOVERED": "32",
}


class Console:
    """Readable output: colour and an in-place progress bar only on a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.colour = self.tty and not os.environ.get("NO_COLOR")
        try:
            "✖⚠✔█░→".encode(stream.encoding or "ascii")
            self.unicode = True
        except (UnicodeEncodeError, LookupError):
            self.unicode = False
        self._bar_shown = False
        self._last_percent = 0

    def paint(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.colour else text

    def line(self, text: str = "") -> None:
        self._clear_bar()
        self.stream.write(text + "\n")
        self.stream.flush()

    def arrow(self) -> str:
        return "→" if self.unicode else "->"

    def progress(self, done: int, total: int, clock: str) -> None:
        if self.tty:
            width = 30
            filled = width * done // total
            full, empty = ("█", "░") if self.unicode else ("#", ".")
            bar = full * filled + empty * (width - filled)
            self.stream.write(f"\r  {bar} {done}/{total} events  simulated {clock} UTC\033[K")
            self.stream.flush()
            self._bar_shown = True
            return
        # In a log or a pipe: a line per quarter, so the output stays short and diffable.
        percent = 100 * done // total
        if percent // 25 > self._last_percent // 25 or done == total:
            self._last_percent = percent
            self.line(f"  [{percent:3d}%] {done}/{total} events replayed, simulated {clock} UTC")

    def _clear_bar(self) -> None:
        if self._bar_shown:
            self.stream.write("\r\033[K")
            self._bar_shown = False


def place(where: dict[str, str] | None) -> str:
    if not where:
        return "?"
    key = f"{where['account']}/{where['region']}"
    name = day.LOCATION_NAMES.get(key)
    return f"{name} {key}" if name else key


def _clock(value: str | None) -> str:
    return value[11:16] if value else "--:--"


def _short(digest: str | None) -> str:
    """The first 12 hex digits, as `docker images` shows them."""
    if not digest:
        return "-"
    return digest.partition(":")[2][:12] or digest


def alert_reason(alert: dict[str, Any], arrow: str = "→") -> str:
    """The "why" of an alert in a few words."""
    kind = alert["kind"]
    if kind == "REPLICA_MISSING":
        return f"not there by {_clock(alert['due_at'])} (pushed {_clock(alert['pushed_at'])})"
    if kind == "REPLICATION_FAILED":
        reason = alert.get("failure_reason")
        return "ECR reported the replication FAILED" + (f": {reason}" if reason else "")
    if kind == "TAG_DRIFT":
        return (
            f"the tag names {_short(alert['previous_digest'])} there, "
            f"{_short(alert['digest'])} at the source"
        )
    if kind == "DELETE_NOT_REPLICATED":
        what = "tag removed" if alert.get("cause") == "tag_removed" else "deleted"
        return f"{what} at the source, still there at {_clock(alert['due_at'])}"
    if kind == "PINNED_DIGEST_MISSING":
        users = len(alert.get("workloads") or ())
        pinned = f"pinned by {users} workload{'s' if users != 1 else ''}" if users else "pinned"
        return f"{_short(alert['digest'])} {pinned}, gone from the registry"
    if kind == "TAG_OVERWRITTEN":
        from chalicelib.core.documents import CAUSE_TEXT

        cause = CAUSE_TEXT.get(alert.get("cause") or "", alert.get("cause") or "")
        moved = f"{_short(alert['previous_digest'])} {arrow} {_short(alert['digest'])}"
        return f"{cause} ({moved})"
    lag = alert.get("lag_seconds")
    after = f", arrived {lag // 60} min after the push" if isinstance(lag, int) else ""
    return f"{alert.get('resolves')} closed{after}"


def alert_line(alert: dict[str, Any], console: Console) -> str:
    """One alert, readable at a glance: when, kind, image, where, why."""
    kind = alert["kind"]
    marks = MARKS if console.unicode else ASCII_MARKS
    image = f"{alert['repository']}:{alert['tag']}" if alert["tag"] else alert["repository"]
    head = console.paint(f"{marks.get(kind, '*')} {kind:<21}", COLOURS.get(kind, "0"))
    where = f"in {place(alert['destination'])}"
    return (
        f"  {_clock(alert['detected_at'])}  {head} {image:<24} {where:<32} "
        f"{alert_reason(alert, console.arrow())}"
    )
