"""Glue shared by app.py's event entry points: logging context, bad input, delivery, metrics."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from chalicelib import bootstrap, services
from chalicelib.domain import Fact
from chalicelib.errors import InvalidEvent
from chalicelib.observability import logger, metrics


@contextmanager
def invocation(raw: dict[str, Any], handler: str) -> Iterator[None]:
    """Per-invocation log keys; one log line for a rejected event; metrics always flushed."""
    from chalicelib import ecr_events  # pydantic: only event handlers pay for it

    logger.clear_state()
    logger.append_keys(event_id=ecr_events.event_id_of(raw), handler=handler)
    try:
        yield
    except InvalidEvent as problem:
        # Nothing was written for it. Retrying cannot fix a malformed event, so it is not
        # raised; the metric makes it visible and the log line names the event and the problem.
        logger.error(f"rejected event {ecr_events.event_id_of(raw)}: {problem}")
        metrics.add_metric(name="RejectedEvents", unit="Count", value=1)
    finally:
        if metrics.metric_set:
            metrics.flush_metrics()
        # Powertools keeps (and later prints) the set when metrics are disabled: drop it.
        metrics.clear_metrics()


def record(fact: Fact, use_case: Callable[[Any, services.Deps], services.Outcome]) -> None:
    """Apply the allowlist, run one use case, then deliver what it queued."""
    deps = bootstrap.deps()
    if not services.accepts(fact.location, deps):
        logger.warning(
            f"ignored event {fact.event_id} from unmonitored account {fact.location.account}"
        )
        metrics.add_metric(name="IgnoredEvents", unit="Count", value=1)
        return
    outcome = use_case(fact, deps)
    services.deliver(outcome.notes, deps)


def image_action(raw: dict[str, Any]) -> None:
    from chalicelib import ecr_events

    with invocation(raw, "on_image_action"):
        record(ecr_events.parse_image_action(raw), services.record_image_action)


def replication_action(raw: dict[str, Any]) -> None:
    from chalicelib import ecr_events

    with invocation(raw, "on_replication_action"):
        record(ecr_events.parse_replication_action(raw), services.record_replication)


SWEEP_RESERVE_MS = 15_000  # stop this long before the Lambda timeout


def scheduled_sweep(raw: dict[str, Any], context: Any = None) -> services.SweepReport | None:
    from chalicelib import ecr_events

    remaining: Callable[[], float] | None = getattr(context, "get_remaining_time_in_millis", None)

    def has_time() -> bool:
        # Local and test contexts report a few seconds in all; only a real budget is rationed.
        if remaining is None or not rationed:
            return True
        return remaining() > SWEEP_RESERVE_MS

    rationed = remaining is not None and remaining() > 2 * SWEEP_RESERVE_MS

    with invocation(raw, "sweep"):
        now = ecr_events.parse_schedule_time(raw)
        report = services.sweep(now, bootstrap.deps(), has_time)
        logger.info(
            "sweep completed",
            extra={"as_of": now.isoformat(), "checked": report.checked, "judged": report.judged},
        )
        metrics.add_metric(name="SweepCompleted", unit="Count", value=1)
        return report
    return None
