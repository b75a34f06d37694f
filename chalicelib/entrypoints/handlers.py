"""Glue shared by app.py's event entry points: logging context, bad input, delivery, metrics."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from chalicelib import bootstrap
from chalicelib.core.errors import IgnoredEvent, InvalidEvent
from chalicelib.core.lifecycle import Fact
from chalicelib.entrypoints import event_envelope
from chalicelib.observability import logger, metrics
from chalicelib.ports import Deps
from chalicelib.usecases import commits, delivery, recording


@dataclass
class Handled:
    """What an invocation did with its event; the handler's return value (EventBridge ignores
    it; `replay` reports it)."""

    outcome: str = "recorded"  # recorded | ignored | rejected
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "reason": self.reason}


@contextmanager
def invocation(raw: Any, handler: str) -> Iterator[Handled]:
    """Per-invocation log keys; one log line for a rejected or ignored event; metrics flushed.

    Infrastructure errors propagate, so that Lambda and EventBridge retry and the dead-letter
    queue keeps the event.
    """
    handled = Handled()
    event_id = event_envelope.event_id_of(raw)
    logger.clear_state()
    logger.append_keys(event_id=event_id, handler=handler)
    try:
        yield handled
    except InvalidEvent as problem:
        # Nothing was written for it. Retrying cannot fix a malformed event, so it is not
        # raised; the metric makes it visible and the log line names the event and the problem.
        handled.outcome, handled.reason = "rejected", str(problem)
        logger.error(f"rejected event {event_id}: {problem}")
        metrics.add_metric(name="RejectedEvents", unit="Count", value=1)
    except IgnoredEvent as reason:
        handled.outcome, handled.reason = "ignored", str(reason)
        logger.warning(f"ignored event {event_id}: {reason}")
        metrics.add_metric(name="IgnoredEvents", unit="Count", value=1)
    finally:
        if metrics.metric_set:
            metrics.flush_metrics()
        # Powertools keeps (and later prints) the set when metrics are disabled: drop it.
        metrics.clear_metrics()


def record(fact: Fact, use_case: Callable[[Any, Deps], commits.Outcome]) -> None:
    """Apply the allowlist and the trust rule, run one use case, then deliver what it queued."""
    deps = bootstrap.deps()
    untrusted = recording.untrusted(fact, deps)
    if untrusted:
        raise IgnoredEvent(untrusted)
    outcome = use_case(fact, deps)
    delivery.deliver(outcome.notes, deps)


def image_action(raw: Any) -> dict[str, Any]:
    from chalicelib.entrypoints import ecr_events

    with invocation(raw, "on_image_action") as handled:
        fact = ecr_events.parse_image_action(raw, bootstrap.deps().clock())
        record(fact, recording.record_image_action)
    return handled.as_dict()


def replication_action(raw: Any) -> dict[str, Any]:
    from chalicelib.entrypoints import ecr_events

    with invocation(raw, "on_replication_action") as handled:
        report = ecr_events.parse_replication_action(raw, bootstrap.deps().clock())
        record(report, recording.record_replication)
    return handled.as_dict()


SWEEP_RESERVE_MS = 15_000  # stop this long before the Lambda timeout


def scheduled_sweep(raw: Any, context: Any = None) -> dict[str, Any]:
    from chalicelib.usecases import sweep as sweeping  # only the sweep's cold start pays for it

    remaining: Callable[[], float] | None = getattr(context, "get_remaining_time_in_millis", None)

    def has_time() -> bool:
        # Local and test contexts report a few seconds in all; only a real budget is rationed.
        if remaining is None or not rationed:
            return True
        return remaining() > SWEEP_RESERVE_MS

    rationed = remaining is not None and remaining() > 2 * SWEEP_RESERVE_MS

    with invocation(raw, "sweep") as handled:
        deps = bootstrap.deps()
        now = event_envelope.parse_schedule_time(raw, deps.clock())
        report = sweeping.sweep(now, deps, has_time)
        logger.info(
            "sweep completed",
            extra={
                "as_of": now.isoformat(),
                "checked": report.checked,
                "judged": report.judged,
            },
        )
        metrics.add_metric(name="SweepCompleted", unit="Count", value=1)
    return handled.as_dict()
