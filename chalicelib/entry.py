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


def scheduled_sweep(raw: dict[str, Any]) -> services.SweepReport | None:
    from chalicelib import ecr_events

    with invocation(raw, "sweep"):
        now = ecr_events.parse_schedule_time(raw)
        report = services.sweep(now, bootstrap.deps())
        logger.info(
            "sweep completed",
            extra={"as_of": now.isoformat(), "checked": report.checked, "judged": report.judged},
        )
        metrics.add_metric(name="SweepCompleted", unit="Count", value=1)
        return report
    return None
