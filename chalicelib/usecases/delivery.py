"""Delivering notifications from the outbox to the alert channels, each exactly once per
channel except for one window: a publish that took effect but whose acknowledgement was lost
is sent again (with the same incident id and `dedup_id` attribute).

A channel that fails keeps the notification in the outbox for the next sweep; a channel with
`max_tries` is given up after that many failures (Slack), others are retried until they work.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import timedelta
from typing import NamedTuple

from chalicelib.core import decisions, documents
from chalicelib.core.errors import DeliveryFailed
from chalicelib.core.lifecycle import Location
from chalicelib.observability import count, logger
from chalicelib.ports import Deps, Notification

LEASE = timedelta(minutes=2)
SHOWN = {"sns": "SNS", "slack": "Slack"}  # channel names as people write them


class Note(NamedTuple):
    incident_id: str
    note: str  # OPEN or RECOVERED


def notes_for(incidents: Iterable[decisions.NewIncident]) -> list[Note]:
    """The OPEN notifications of just-opened incidents that may go out now (not held)."""
    return [Note(i.alert["incident_id"], "OPEN") for i in incidents if not i.held]


def deliver(notes: Iterable[Note], deps: Deps) -> None:
    """Deliver the notifications a use case just queued; failures stay in the outbox."""
    for note in notes:
        deliver_pending(note.incident_id, note.note, deps)


def deliver_pending(incident_id: str, note: str, deps: Deps) -> None:
    notification = deps.outbox.notification(incident_id, note)
    if notification is None or not notification.pending:
        return
    notification = _completed(notification, deps)
    _deliver_one(notification, deps)


def _completed(notification: Notification, deps: Deps) -> Notification:
    """A failure held for its push: complete its document from the replica before it goes out,
    so that what is published (and kept) does not depend on the delivery order."""
    alert = notification.alert
    if alert["kind"] != "REPLICATION_FAILED" or alert["pushed_at"] is not None:
        return notification
    facts = deps.images.load(alert["repository"], alert["digest"]).facts
    replica = decisions.find(facts, Location(**alert["source"]), Location(**alert["destination"]))
    if replica is None or replica.failed_at is None:
        return notification
    completed = decisions.failure_alert(replica)
    if completed == alert:
        return notification
    deps.outbox.replace_alert(notification, completed)
    return replace(notification, alert=completed)


def _deliver_one(notification: Notification, deps: Deps) -> None:
    now = deps.clock()
    if not deps.outbox.claim(notification, now, LEASE):
        return  # another invocation holds it
    remaining = set(notification.pending) & {c.name for c in deps.channels}
    tries = dict(notification.tries)
    alert = documents.with_runbook_base(notification.alert, deps.settings.runbook_base_url)
    for channel in deps.channels:
        if channel.name not in remaining:
            continue
        try:
            channel.send(alert)
        except DeliveryFailed as error:
            tries[channel.name] = tries.get(channel.name, 0) + 1
            count(f"{channel.name.capitalize()}DeliveryFailures")
            limit = getattr(channel, "max_tries", None)
            shown = SHOWN.get(channel.name, channel.name)
            details = {
                "channel": channel.name,
                "incident_id": alert["incident_id"],
                "tries": tries[channel.name],
                "error": str(error),
            }
            if limit is not None and tries[channel.name] >= limit:
                remaining.discard(channel.name)
                count(f"{channel.name.capitalize()}DeliveryAbandoned")
                logger.error(f"giving up on {shown} delivery", extra=details)
            else:
                logger.warning(
                    f"{shown} delivery failed; will retry on the next sweep", extra=details
                )
            continue
        remaining.discard(channel.name)
        count("AlertsDelivered")
        logger.info(
            "alert delivered",
            extra={
                "channel": channel.name,
                "incident_id": alert["incident_id"],
                "kind": alert["kind"],
            },
        )
    deps.outbox.settle(notification, frozenset(remaining), tries, now)
