"""DynamoIncidents and DynamoOutbox: incidents by state and time, and the notifications each
incident still has to deliver (leased, so that one invocation at a time delivers one)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from chalicelib.adapters.ledger import items, keys
from chalicelib.adapters.ledger.table import Table
from chalicelib.core.lifecycle import iso
from chalicelib.ports import Incident, Notification, Page

SETTLE_ATTEMPTS = 5  # a settle lost after a publish would send the alert again


class DynamoIncidents:
    def __init__(self, table: Table) -> None:
        self._table = table

    def incident(self, incident_id: str) -> Incident | None:
        found = self._table.get(*keys.incident_key(incident_id))
        return next(items.readable([found], items.incident), None) if found else None

    def incidents_page(self, state: str, limit: int, cursor: str | None) -> Page:
        if state == "all":
            index, partition, attribute = "catalog", "INCIDENT", "gsi2pk"
        else:
            index, partition, attribute = "work", f"INCIDENT#{state}", "gsi1pk"
        page = self._table.page(
            limit,
            cursor,
            IndexName=index,
            KeyConditionExpression=f"{attribute} = :p",
            ExpressionAttributeValues=self._table.values({":p": partition}),
            ScanIndexForward=False,
        )
        return Page(list(items.readable(page.items, items.incident)), page.next_cursor)


class DynamoOutbox:
    def __init__(self, table: Table) -> None:
        self._table = table

    def notification(self, incident_id: str, note: str) -> Notification | None:
        found = self._table.get(*keys.incident_key(incident_id, f"NOTE#{note}"))
        return next(items.readable([found], items.notification), None) if found else None

    def claim(self, notification: Notification, now: datetime, lease: timedelta) -> bool:
        """Take a short lease so that only one invocation delivers a notification at a time."""
        return self._table.update(
            *keys.incident_key(notification.incident_id, f"NOTE#{notification.note}"),
            UpdateExpression="SET claimed_until = :until",
            ConditionExpression=(
                "attribute_exists(pending) AND "
                "(attribute_not_exists(claimed_until) OR claimed_until < :now)"
            ),
            ExpressionAttributeValues=self._table.values(
                {":until": int((now + lease).timestamp()), ":now": int(now.timestamp())}
            ),
        )

    def replace_alert(self, notification: Notification, alert: dict[str, Any]) -> None:
        """Complete a held document before it is sent: the stored copy is the published one."""
        self._table.transact(
            [
                {
                    "Update": {
                        "Key": self._table.key(
                            *keys.incident_key(
                                notification.incident_id, f"NOTE#{notification.note}"
                            )
                        ),
                        "UpdateExpression": "SET alert = :a",
                        "ConditionExpression": "attribute_exists(pending)",
                        "ExpressionAttributeValues": self._table.values({":a": alert}),
                    }
                },
                {
                    "Update": {
                        "Key": self._table.key(*keys.incident_key(notification.incident_id)),
                        "UpdateExpression": "SET alert = :a",
                        "ConditionExpression": "attribute_exists(pk)",
                        "ExpressionAttributeValues": self._table.values({":a": alert}),
                    }
                },
            ]
        )

    def settle(
        self,
        notification: Notification,
        remaining: frozenset[str],
        tries: Mapping[str, int],
        now: datetime,
    ) -> None:
        """Record what was delivered and release the lease; leaves the outbox when done.

        Retried a few times on its own: after a publish, losing this write would send the
        alert again once the lease ran out.
        """
        values: dict[str, Any] = {":tries": dict(tries)}
        if remaining:
            update = "SET pending = :pending, tries = :tries REMOVE claimed_until"
            values[":pending"] = set(remaining)
        else:
            update = (
                "SET tries = :tries, delivered_at = :now, expires_at = :x "
                "REMOVE pending, claimed_until, gsi1pk, gsi1sk"
            )
            values[":now"] = iso(now)
            values[":x"] = keys.ttl(now, keys.NOTIFICATION_TTL)
        key = keys.incident_key(notification.incident_id, f"NOTE#{notification.note}")
        for attempt in range(SETTLE_ATTEMPTS):
            try:
                self._table.update(
                    *key,
                    UpdateExpression=update,
                    ExpressionAttributeValues=self._table.values(values),
                )
                return
            except Exception:
                if attempt == SETTLE_ATTEMPTS - 1:
                    raise
                time.sleep(0.05 * 2**attempt)
