"""DynamoWriter: applies a Commit (an event's or a sweep step's writes) as one transaction."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from chalicelib.adapters.ledger import items, keys
from chalicelib.adapters.ledger.table import Cancelled, Table
from chalicelib.core.decisions import Counts, ImageChange, NewIncident
from chalicelib.core.judgement import TagEntry
from chalicelib.core.lifecycle import iso, parse_time
from chalicelib.ports import Commit, Incident, LedgerConflict

NEW = "attribute_not_exists(pk)"


class DynamoWriter:
    def __init__(self, table: Table, channels: frozenset[str]) -> None:
        self._table = table
        self._channels = channels

    def commit(self, commit: Commit) -> None:
        operations, head = self._operations(commit)
        try:
            self._table.transact(operations)
        except Cancelled as cancelled:
            if head is None or cancelled.failed != [head]:
                raise LedgerConflict(str(cancelled)) from None
            # Only the tag head refused: the event is older than what the head shows (an
            # older event never moves a tag back). Everything else still applies.
            del operations[head]
            try:
                self._table.transact(operations)
            except Cancelled as again:
                raise LedgerConflict(str(again)) from None

    # ------------------------------------------------------------------ building

    def _operations(self, commit: Commit) -> tuple[list[dict[str, Any]], int | None]:
        ops: list[dict[str, Any]] = []
        head: int | None = None
        if commit.event_id and commit.event_image:
            pk, sk = keys.event_key(*commit.event_image, commit.event_id)
            marker: dict[str, Any] = {"pk": pk, "sk": sk, "type": "event"}
            if commit.event_time is not None:
                marker["expires_at"] = keys.ttl(commit.event_time, keys.HISTORY_TTL)
            ops.append(self._put(marker, NEW))
        if commit.tag_entry is not None:
            ops.append(self._put(items.tag_entry_item(commit.tag_entry, commit.judge_entry), NEW))
            head = len(ops)
            ops.append(self._head(commit.tag_entry))
        opened = list(commit.opened)
        closed: list[tuple[str, Any]] = []
        counts = commit.counts
        for change in commit.images:
            ops.extend(self._image(change))
            ops.extend(self._restate(alert) for alert in change.restated)
            opened.extend(change.opened)
            closed.extend(change.closed)
            counts = counts + change.counts
        for new in opened:
            ops.extend(self._open(new))
        for incident, recovery in commit.resolved:
            ops.extend(self._resolve(incident, recovery))
        closed.extend(commit.recheck)
        for incident_id, at in dict(closed).items():
            ops.append(self._put(_close_item(incident_id, iso(at)), None))
        for incident_id in commit.closing_done:
            ops.append(
                {"Delete": {"Key": self._table.key(*keys.incident_key(incident_id, "CLOSE"))}}
            )
        for entry in commit.judged:
            ops.append(_judged(self._table, entry))
        if commit.register:
            ops.append(
                self._put({"pk": "REPOS", "sk": commit.register, "type": "repository"}, None)
            )
        ops.extend(self._counts(counts))
        return ops, head

    def _put(self, values: dict[str, Any], condition: str | None) -> dict[str, Any]:
        put: dict[str, Any] = {"Item": self._table.item(values)}
        if condition:
            put["ConditionExpression"] = condition
        return {"Put": put}

    def _versioned(self, values: dict[str, Any], rev: int) -> dict[str, Any]:
        """A full item written only over the revision it was decided on (or as a new item)."""
        if rev == 0:
            return self._put(values, NEW)
        operation = self._put(values, "#rev = :rev")
        operation["Put"]["ExpressionAttributeNames"] = {"#rev": "rev"}
        operation["Put"]["ExpressionAttributeValues"] = self._table.values({":rev": rev})
        return operation

    def _head(self, entry: TagEntry) -> dict[str, Any]:
        values: dict[str, Any] = {":k": entry.sort_key, ":t": iso(entry.time), ":e": entry.event_id}
        if entry.digest is None:
            update = "SET head_key = :k, #t = :t, event_id = :e REMOVE digest"
        else:
            update = "SET head_key = :k, #t = :t, event_id = :e, digest = :d"
            values[":d"] = entry.digest
        return {
            "Update": {
                "Key": self._table.key(*keys.head_key(entry)),
                "UpdateExpression": update,
                "ConditionExpression": "attribute_not_exists(head_key) OR head_key < :k",
                "ExpressionAttributeNames": {"#t": "time"},
                "ExpressionAttributeValues": self._table.values(values),
            }
        }

    def _image(self, change: ImageChange) -> Iterable[dict[str, Any]]:
        before = change.before
        for location, presence in change.after.presence.items():
            if before.presence.get(location) != presence:
                item = items.presence_item(change.repository, change.digest, location, presence)
                yield self._versioned(item, presence.rev)
        old = {(r.source, r.destination): r for r in before.replicas}
        for replica in change.after.replicas:
            if old.get((replica.source, replica.destination)) != replica:
                yield self._versioned(items.replica_item(replica), replica.rev)

    def _open(self, incident: NewIncident) -> list[dict[str, Any]]:
        alert = incident.alert
        incident_id, detected = alert["incident_id"], alert["detected_at"]
        state = "resolved" if incident.resolved_at_once else "open"
        item: dict[str, Any] = {
            **dict(zip(("pk", "sk"), keys.incident_key(incident_id), strict=True)),
            "type": "incident",
            "kind": alert["kind"],
            "state": state,
            "alert": alert,
            "detected_at": detected,
            "resolved_at": detected if incident.resolved_at_once else None,
            "gsi1pk": f"INCIDENT#{state}",
            "gsi1sk": f"{detected}#{incident_id}",
            "gsi2pk": "INCIDENT",
            "gsi2sk": f"{detected}#{incident_id}",
        }
        if incident.resolved_at_once:
            item["expires_at"] = keys.ttl(parse_time(detected), keys.HISTORY_TTL)
        note = self._note(incident_id, "OPEN", alert, iso(incident.deliver_at))
        return [self._put(item, NEW), self._put(note, NEW)]

    def _restate(self, alert: dict[str, Any]) -> dict[str, Any]:
        """An incident's document moved to an earlier fact: its time and its place in the
        listings follow (its notifications, if sent, stay as they were sent)."""
        incident_id, detected = alert["incident_id"], alert["detected_at"]
        listed = f"{detected}#{incident_id}"
        return {
            "Update": {
                "Key": self._table.key(*keys.incident_key(incident_id)),
                "UpdateExpression": "SET alert = :a, detected_at = :d, gsi1sk = :l, gsi2sk = :l",
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeValues": self._table.values(
                    {":a": alert, ":d": detected, ":l": listed}
                ),
            }
        }

    def _note(self, incident_id: str, note: str, alert: dict[str, Any], at: str) -> dict[str, Any]:
        pk, sk = keys.incident_key(incident_id, f"NOTE#{note}")
        item: dict[str, Any] = {"pk": pk, "sk": sk, "type": "notification", "alert": alert}
        if self._channels:
            item.update(
                pending=set(self._channels),
                tries={},
                gsi1pk=keys.WORK,
                gsi1sk=keys.work_sk(at, "deliver", incident_id, note),
            )
        return item

    def _resolve(self, incident: Incident, recovery: dict[str, Any]) -> list[dict[str, Any]]:
        resolved = recovery["detected_at"]
        update = {
            "Update": {
                "Key": self._table.key(*keys.incident_key(incident.incident_id)),
                "UpdateExpression": (
                    "SET #s = :resolved, resolved_at = :at, gsi1pk = :g, expires_at = :x"
                ),
                "ConditionExpression": "#s = :open",
                "ExpressionAttributeNames": {"#s": "state"},
                "ExpressionAttributeValues": self._table.values(
                    {
                        ":resolved": "resolved",
                        ":open": "open",
                        ":at": resolved,
                        ":g": "INCIDENT#resolved",
                        ":x": keys.ttl(parse_time(resolved), keys.HISTORY_TTL),
                    }
                ),
            }
        }
        note = self._note(incident.incident_id, "RECOVERED", recovery, resolved)
        return [update, self._put(note, NEW)]

    def _counts(self, counts: Counts) -> list[dict[str, Any]]:
        ops = []
        status = {
            "pending": counts.pending,
            "missing": counts.missing,
            "failed": counts.failed,
            "drifted": counts.drifted,
            "undeleted": counts.undeleted,
        }
        status = {k: v for k, v in status.items() if v}
        if status:
            ops.append(_add(self._table, keys.STATUS_KEY, status, None))
        buckets: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for name, moments in (("ARRIVED", counts.arrivals), ("OVERWRITTEN", counts.overwrites)):
            for moment, delta in moments:
                pk, sk, attribute = keys.bucket_key(name, moment)
                buckets[(pk, sk)][attribute] += delta
        for key, deltas in buckets.items():
            day = parse_time(key[0].rsplit("#", 1)[1][:10] + "T00:00:00Z")
            expiry = keys.ttl(day, keys.COUNTER_TTL)
            nonzero = {k: v for k, v in deltas.items() if v}
            if nonzero:
                ops.append(_add(self._table, key, nonzero, expiry))
        return ops


def _add(table: Table, key: tuple[str, str], deltas: dict[str, int], expiry: int | None) -> dict:
    names = {f"#a{i}": name for i, name in enumerate(deltas)}
    values: dict[str, Any] = {f":v{i}": delta for i, delta in enumerate(deltas.values())}
    update = "ADD " + ", ".join(f"#a{i} :v{i}" for i in range(len(deltas)))
    if expiry is not None:
        update += " SET expires_at = :x"
        values[":x"] = expiry
    return {
        "Update": {
            "Key": table.key(*key),
            "UpdateExpression": update,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": table.values(values),
        }
    }


def _close_item(incident_id: str, at: str) -> dict[str, Any]:
    pk, sk = keys.incident_key(incident_id, "CLOSE")
    return {
        "pk": pk,
        "sk": sk,
        "type": "closing",
        "gsi1pk": keys.WORK,
        "gsi1sk": keys.work_sk(at, "close", incident_id),
    }


def _judged(table: Table, entry: TagEntry) -> dict[str, Any]:
    return {
        "Update": {
            "Key": table.key(*keys.entry_key(entry)),
            "UpdateExpression": "REMOVE gsi1pk, gsi1sk",
        }
    }
